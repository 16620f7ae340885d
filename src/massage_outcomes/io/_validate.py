"""``massage_outcomes.validate``: every problem of a file or frame, as a report, without raising for bad data.

It lives on the readers' side because a path must be read first; the rules it applies are those of
:mod:`massage_outcomes.validation`, which imports nothing from here (no import cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import DataValidationError
from massage_outcomes.io._mapping import apply_mapping, canonical_names
from massage_outcomes.io._read import read
from massage_outcomes.io._wide import wide_to_long
from massage_outcomes.schema import Problem, ValidationReport
from massage_outcomes.validation import check_long


def validate(data: pd.DataFrame | str | Path, *, mapping: Mapping[str, Any] | None = None,
             layout: str = "auto", wide: Any = None, encoding: str | None = None, sheet: Any = None,
             study: str | None = None) -> ValidationReport:
    """Check a file or a long DataFrame against every rule and return all problems (never raises for bad data).

    Parameters
    ----------
    data : DataFrame or path
        A long frame with canonical column names, or anything :func:`massage_outcomes.read` accepts.
    mapping, layout, wide, encoding, sheet, study
        As for :func:`massage_outcomes.read`.

    Returns
    -------
    ValidationReport
        Empty (``report.ok``) when the data are clean.

    Examples
    --------
    >>> import pandas as pd
    >>> import massage_outcomes as mo
    >>> frame = pd.DataFrame({"subject": ["a", "a"], "instrument": ["rmdq", "rmdq"], "day": [0, 70],
    ...                       "value": [14, 31]})
    >>> print(mo.validate(frame))
    1 problem:
      - row 1, column 'value': rmdq value 31 is outside its range 0-24 (wrong instrument, or a different scoring? register it with instruments.with_range)
    """
    if isinstance(data, pd.DataFrame):
        frame = apply_mapping(data, mapping) if mapping else data
        frame = canonical_names(frame)
        if layout == "wide" or wide is not None:
            frame, rows = wide_to_long(frame, wide=wide, rows=np.arange(len(frame)))
            return check_long(frame, rows=rows, study=study).report
        return check_long(frame, study=study).report
    try:
        ds = read(data, mapping=mapping, layout=layout, wide=wide, encoding=encoding, sheet=sheet,  # type: ignore[arg-type]
                  on_error="quarantine", study=study)
    except DataValidationError as err:
        if isinstance(err.report, ValidationReport):
            return err.report
        return ValidationReport([Problem(str(data), None, None, None, "unreadable", str(err))], file=str(data))
    report = ds.source.get("report") if isinstance(ds.source, dict) else None
    return report if isinstance(report, ValidationReport) else ValidationReport(file=str(data))

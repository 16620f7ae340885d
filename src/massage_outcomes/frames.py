"""The analysis frame of one instrument, got one way by every analysis and every presentation.

Analyses (:mod:`massage_outcomes.effects`) and presentation (:mod:`~massage_outcomes.tables`,
:mod:`~massage_outcomes.plot`) accept a :class:`~massage_outcomes.Dataset`, any object with an
``analysis_frame(instrument)`` method (a lazy scan), or a long DataFrame; :func:`analysis_frame` turns each into
the long frame of :meth:`Dataset.analysis_frame`, and :class:`AnalysisFrames` builds it once per instrument for
code that runs several analyses on one dataset.

The rule for a DataFrame: one that already has the ``needed`` columns (by default the derived ones,
``value``/``baseline``/``change``/``improvement``) is used as it is, filtered to ``instrument`` when it has an
``instrument`` column (an error names the instruments it holds when none of its rows is that instrument); any
other long frame is first split into a Dataset with :meth:`Dataset.from_long` (and validated there).

Examples
--------
>>> import pandas as pd
>>> from massage_outcomes.frames import analysis_frame
>>> long = pd.DataFrame({"subject": ["a", "a"], "instrument": "pain_nrs", "day": [0, 28], "value": [6, 3]})
>>> frame = analysis_frame(long, "pain_nrs")
>>> frame["improvement"].tolist()
[0.0, 3.0]
>>> analysis_frame(frame, "pain_nrs").equals(frame)  # already an analysis frame: used as it is (a copy)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes.dataset import Dataset
from massage_outcomes.errors import ArgumentError, ArgumentTypeError, DataValidationError, option

__all__ = ["ANALYSIS_COLUMNS", "AnalysisFrames", "analysis_frame"]

#: the columns that make a DataFrame an analysis frame already (the derived ones :meth:`Dataset.analysis_frame`
#: adds, and the value)
ANALYSIS_COLUMNS: tuple[str, ...] = ("value", "baseline", "change", "improvement")


def analysis_frame(data: Any, instrument: str | None = None, *,
                   needed: Sequence[str] = ANALYSIS_COLUMNS) -> pd.DataFrame:
    """The long analysis frame of ``instrument`` from a Dataset, a lazy dataset or a long DataFrame.

    Parameters
    ----------
    data : Dataset, an object with ``analysis_frame(instrument)``, or DataFrame
    instrument : str, optional
        A registered instrument key; needed when the data hold several instruments.
    needed : the columns that let a DataFrame be used as it is (see the module's rule).

    Returns
    -------
    DataFrame
        A new frame (never ``data`` itself), indexed 0..n−1.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.load_sample("trial")
    >>> analysis_frame(ds, "rmdq")["instrument"].unique().tolist()
    ['rmdq']
    """
    if isinstance(data, pd.DataFrame):
        if not set(needed) <= set(data.columns):
            return Dataset.from_long(data).analysis_frame(instrument)
        return _one_instrument(data, instrument).reset_index(drop=True).copy()
    if hasattr(data, "analysis_frame"):  # a Dataset, or a lazy dataset that builds its frame itself
        return data.analysis_frame(instrument)
    raise ArgumentTypeError(f"expected a massage_outcomes.Dataset or a pandas DataFrame; got {type(data).__name__}")


def _one_instrument(frame: pd.DataFrame, instrument: str | None) -> pd.DataFrame:
    if "instrument" not in frame.columns:
        return frame
    if instrument is None:
        keys = pd.unique(frame["instrument"].dropna())
        if len(keys) > 1:
            raise ArgumentError(f"the frame holds several instruments ({', '.join(map(str, keys))}); pass "
                                f"{option('instrument')}<one of them>")
        return frame
    key = _instruments.get(instrument).key
    rows = frame.loc[(frame["instrument"] == key).to_numpy(dtype=bool, na_value=False)]
    if rows.empty and len(frame):
        found = sorted(map(str, pd.unique(frame["instrument"].dropna())))
        raise DataValidationError(f"{option('instrument', instrument)} has no rows in the data; instruments found: "
                                  f"{', '.join(found) or 'none'}.")
    return rows


class AnalysisFrames:
    """The analysis frame of each instrument of one dataset, built on first use and then shared.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> frames = AnalysisFrames(mo.load_sample("trial"))
    >>> frames("rmdq") is frames("rmdq")
    True
    """

    def __init__(self, data: Any) -> None:
        self.data = data
        self._cache: dict[str, pd.DataFrame] = {}

    def __call__(self, instrument: str) -> pd.DataFrame:
        if instrument not in self._cache:
            self._cache[instrument] = analysis_frame(self.data, instrument)
        return self._cache[instrument]

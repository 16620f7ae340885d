"""Visit labels to days since baseline ("week 4" -> 28, "month 6" -> 182.625)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from massage_outcomes.coerce import as_category

__all__ = ["day_from_visit", "visit_label_day"]


_VISIT_DAY = re.compile(
    r"^\s*(?P<unit>baseline|screening|bl|day|d|week|wk|w|month|mo|m|year|yr|y)[\s_\-]*(?P<num>-?\d+(?:\.\d+)?)?\s*$",
    re.IGNORECASE,
)
_UNIT_DAYS = {"day": 1.0, "d": 1.0, "week": 7.0, "wk": 7.0, "w": 7.0, "month": 30.4375, "mo": 30.4375, "m": 30.4375,
              "year": 365.25, "yr": 365.25, "y": 365.25}


def visit_label_day(label: str) -> float:
    m = _VISIT_DAY.match(label)
    if not m:
        return np.nan
    unit = m.group("unit").lower()
    if unit in ("baseline", "screening", "bl"):
        return 0.0
    if m.group("num") is None:
        return np.nan
    return float(m.group("num")) * _UNIT_DAYS[unit]


def day_from_visit(visit: pd.Series) -> pd.Series:
    """Days since baseline read from visit labels such as "baseline", "week 4", "week_10", "month 6", "day 3".

    Labels it cannot read give NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> day_from_visit(pd.Series(["baseline", "week 4", "Week_10", "month 6", "end"])).tolist()
    [0.0, 28.0, 70.0, 182.625, nan]
    """
    cat = as_category(pd.Series(visit))
    per_cat = np.array([visit_label_day(str(c)) for c in cat.cat.categories], dtype=float)
    codes = cat.cat.codes.to_numpy()
    out = np.where(codes >= 0, per_cat[np.maximum(codes, 0)] if len(per_cat) else np.nan, np.nan)
    return pd.Series(out, index=cat.index, dtype=float)

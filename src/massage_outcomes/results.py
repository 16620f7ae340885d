"""The result-table convention, in code: a compact display, the ``reliable`` column, and ``favours`` in words.

Every estimator returns a pandas DataFrame (DESIGN.md, "Result tables: one convention"). The wide ones are
:class:`ResultFrame` s: a ``DataFrame`` subclass whose ``repr`` and notebook display show the compact view
(the keys, estimate, interval, p, n, reliable, note) with the number of further columns named beneath; ``.full``
is the whole frame and ``.compact`` the compact one. Every pandas operation on a ResultFrame (selecting
columns, filtering rows, ``copy``, ``concat``) returns a plain ``DataFrame`` that displays as pandas always does.

Examples
--------
>>> import pandas as pd
>>> from massage_outcomes.results import ResultFrame
>>> t = ResultFrame(pd.DataFrame({"group": ["a"], "estimate": [1.5], "ci_low": [0.2], "ci_high": [2.8],
...                               "p_value": [0.03], "n": [40], "se": [0.66], "df": [38.0], "reliable": [True],
...                               "note": [""]}), keys=["group"])
>>> print(t)
  group  estimate  ci_low  ci_high  p_value   n  reliable note
0     a       1.5     0.2      2.8     0.03  40      True
[2 more columns: se, df. `.full` shows every column.]
>>> type(t[["estimate"]]).__name__, t.full.shape
('DataFrame', (1, 10))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ResultFrame", "COMPACT_VALUES", "favours_between", "favours_within", "integer_counts"]

#: the value columns of the compact view, in this order, where a table has them
COMPACT_VALUES: tuple[str, ...] = (
    "estimate", "ci_low", "ci_high", "sci_low", "sci_high", "p_value", "p_adjusted",
    "n", "n_1", "n_2", "k", "favours", "reliable", "note",
)


class ResultFrame(pd.DataFrame):
    """A result table: a DataFrame whose default display is the compact view.

    Parameters
    ----------
    data : the full result table (any DataFrame).
    keys : the columns that say which row is which (groups, contrast, visit, threshold), shown first.
    values : the value columns of the compact view (default :data:`COMPACT_VALUES`, those present).
    """

    _metadata = ["_compact_columns"]

    def __init__(self, data: Any = None, *args: Any, keys: Sequence[str] = (),
                 values: Sequence[str] = COMPACT_VALUES, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        present = [str(c) for c in self.columns]
        shown = [c for c in keys if c in present] + [c for c in values if c in present and c not in keys]
        object.__setattr__(self, "_compact_columns", shown)

    @property
    def full(self) -> pd.DataFrame:
        """Every column, as a plain DataFrame."""
        return pd.DataFrame(self)

    @property
    def compact(self) -> pd.DataFrame:
        """The compact view (keys, estimate, interval, p, n, reliable, note) as a plain DataFrame."""
        cols = [c for c in getattr(self, "_compact_columns", []) if c in self.columns]
        return pd.DataFrame(self)[cols] if cols else pd.DataFrame(self)

    def _hidden(self) -> list[str]:
        shown = set(self.compact.columns)
        return [str(c) for c in self.columns if c not in shown]

    def _footer(self) -> str:
        hidden = self._hidden()
        if not hidden:
            return ""
        names = ", ".join(hidden[:10]) + (", …" if len(hidden) > 10 else "")
        return f"[{len(hidden)} more column{'s' if len(hidden) != 1 else ''}: {names}. `.full` shows every column.]"

    def __repr__(self) -> str:
        # the compact view in full width (no "..." column elision: it is already narrow), long notes cut at 48
        compact = self.compact
        max_rows = pd.get_option("display.max_rows")
        body = compact.to_string(max_rows=max_rows, min_rows=pd.get_option("display.min_rows"), max_colwidth=48,
                                 show_dimensions=max_rows is not None and len(compact) > max_rows)
        body = "\n".join(line.rstrip() for line in body.splitlines())
        footer = self._footer()
        return f"{body}\n{footer}" if footer else body

    def _repr_html_(self) -> str | None:
        html = self.compact._repr_html_()
        footer = self._footer()
        if html is None or not footer:
            return html
        return f"{html}<p style='font-size:smaller;color:#555'>{footer}</p>"


# ------------------------------------------------------------------------------------------------ favours
def favours_between(
    estimate: object, ci_low: object, ci_high: object, *, higher_is_better: bool, a: str, b: str
) -> tuple[np.ndarray, np.ndarray]:
    """``favours`` and ``direction`` for differences ``a − b`` with their intervals.

    ``favours`` is "favours a" or "favours b" only when the interval excludes 0 (no effect), else "no clear
    difference" ("undefined" where the estimate or interval is missing); ``direction`` is the side of the point
    estimate alone: "toward a", "toward b" or "none".

    Examples
    --------
    >>> f, d = favours_between([-0.12, -0.5], [-0.43, -0.9], [0.18, -0.1], higher_is_better=False,
    ...                        a="therapeutic", b="relaxation")
    >>> f.tolist(), d.tolist()
    (['no clear difference', 'favours therapeutic'], ['toward therapeutic', 'toward therapeutic'])
    """
    est, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (estimate, ci_low, ci_high))
    sign = np.sign(est) * (1 if higher_is_better else -1)  # > 0: a is better
    direction = np.where(~np.isfinite(est), "undefined",
                         np.where(sign > 0, f"toward {a}", np.where(sign < 0, f"toward {b}", "none")))
    defined = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    clear = defined & ((lo > 0) | (hi < 0))
    favours = np.where(~defined, "undefined",
                       np.where(clear & (sign > 0), f"favours {a}",
                                np.where(clear & (sign < 0), f"favours {b}", "no clear difference")))
    return favours.astype(object), direction.astype(object)


def favours_within(
    estimate: object, ci_low: object, ci_high: object, *, higher_is_better: bool, start: str, end: str
) -> tuple[np.ndarray, np.ndarray]:
    """``favours`` and ``direction`` for within-subject changes ``end − start``: "improvement from start to end"
    or "worsening …" only when the interval excludes 0, else "no clear change"; ``direction`` is "improvement",
    "worsening" or "none" from the point estimate alone.

    Examples
    --------
    >>> favours_within([-1.0], [-1.5], [-0.5], higher_is_better=False, start="baseline", end="week_10")[0].tolist()
    ['improvement from baseline to week_10']
    """
    est, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (estimate, ci_low, ci_high))
    sign = np.sign(est) * (1 if higher_is_better else -1)
    direction = np.where(~np.isfinite(est), "undefined",
                         np.where(sign > 0, "improvement", np.where(sign < 0, "worsening", "none")))
    defined = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    clear = defined & ((lo > 0) | (hi < 0))
    favours = np.where(~defined, "undefined",
                       np.where(clear & (sign > 0), f"improvement from {start} to {end}",
                                np.where(clear & (sign < 0), f"worsening from {start} to {end}", "no clear change")))
    return favours.astype(object), direction.astype(object)


def integer_counts(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Cast count columns to integers in place (``int64``; nullable ``Int64`` where a count is missing)."""
    for c in columns:
        if c in frame.columns:
            v = pd.to_numeric(frame[c], errors="coerce")
            frame[c] = v.astype("int64") if v.notna().all() else v.round().astype("Int64")
    return frame

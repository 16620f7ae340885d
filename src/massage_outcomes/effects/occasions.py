"""Occasions: which rows of an analysis frame stand for a subject at ``start`` and at ``end``.

One rule, used by :func:`~massage_outcomes.effects.effect_sizes`, :func:`~massage_outcomes.effects.responders`
and :func:`~massage_outcomes.effects.clinical.reliable_change`:

1. **What an occasion names**, tried in this order: ``"last"`` (``end`` only): the last visit, in visit order,
   at which any row has a value: one occasion for everybody, so earlier dropouts are *missing* there (data
   without visits: ``"last_observed"``); ``"last_observed"`` (``end`` only): each subject's own last follow-up
   row (timing ``followup``, else any row not at baseline) after its ``start`` row: an LOCF-like mix of
   occasions, to opt in deliberately; a visit label of the data (``"week_10"``: the study's own names come
   first, so a visit called "post" means that visit); a timing (``baseline``, ``pre``, ``post``,
   ``followup``). Anything else is an error that lists the choices.
2. **Several rows of one subject at an occasion** (a timing that spans visits, a repeated visit): ``start`` takes
   the subject's first row by day, ``end`` its last. (Before this module, effect_sizes averaged such rows and
   responders took first/last for timings but the first for visit labels.)
3. **Pre and post within sessions**: when ``start`` and ``end`` are both ``pre``/``post`` and the rows carry a
   ``session``, the unit is the session: its pre rating is paired with its post rating. Ratings without a
   session are not paired. (effect_sizes then averages each subject's complete pairs, so its unit stays the
   subject; responders keeps the session as its unit and says so.)
4. **Who is kept**: every unit with a row at ``start`` or at ``end``; the other value is missing (NaN), so that
   callers can count subjects with a start value but none at the end. Attributes (the ``by`` and ``compare``
   columns) come from the end row, else the start row.

Rows keep the frame's order (units in order of their end row, then the units seen only at the start), so
sums and bootstrap resamples do not depend on how the occasion was found.

Examples
--------
>>> import pandas as pd
>>> f = pd.DataFrame({"subject": ["a", "a", "a", "b"], "timing": ["baseline", "followup", "followup", "baseline"],
...                   "visit": ["baseline", "week_4", "week_10", "baseline"], "day": [0, 28, 70, 0],
...                   "value": [8.0, 6.0, 5.0, 7.0], "arm": ["x", "x", "x", "y"]})
>>> pairs = pair_occasions(f, "baseline", "followup", attrs=["arm"])
>>> pairs.frame[["subject", "value_start", "value_end", "arm"]]
  subject  value_start  value_end arm
0       a          8.0        5.0   x
1       b          7.0        NaN   y
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.coerce import equals_label
from massage_outcomes.errors import DataValidationError, option
from massage_outcomes.visits import visit_label_day

__all__ = ["TIMINGS", "SESSION_TIMINGS", "Pairs", "unit_keys", "last_visit", "resolve_end", "occasion_kind",
           "occasion_rows", "pair_occasions"]

TIMINGS = ("baseline", "pre", "post", "followup")
SESSION_TIMINGS = ("pre", "post")


def unit_keys(frame: pd.DataFrame) -> list[str]:
    """The columns that identify a subject: ``study`` (when present) and ``subject``."""
    if "subject" not in frame.columns:
        raise DataValidationError("the analysis frame has no 'subject' column: occasions are paired per subject. "
                                  "Pass a Dataset or its analysis_frame(...), which have one.")
    return ["study", "subject"] if "study" in frame.columns else ["subject"]


def last_visit(frame: pd.DataFrame) -> Any:
    """The last visit, in visit order, at which any row of ``frame`` has a value (None when there are no visits).

    This is what ``end="last"`` means: one occasion for everybody, so subjects who dropped out earlier are
    *missing* there (and counted), not represented by an earlier visit.
    """
    if "visit" not in frame.columns:
        return None
    has = frame["visit"].notna().to_numpy(dtype=bool, na_value=False).copy()
    if "value" in frame.columns:
        has &= frame["value"].notna().to_numpy(dtype=bool, na_value=False)
    if not has.any():
        return None
    vis = frame.loc[has]
    if "visit_order" in vis.columns and vis["visit_order"].notna().any():
        order = pd.to_numeric(vis["visit_order"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return vis["visit"].to_numpy()[np.nanargmax(order)]
    if isinstance(vis["visit"].dtype, pd.CategoricalDtype) and vis["visit"].cat.ordered:
        return vis["visit"].max()
    return vis.groupby("visit", observed=True)["day"].mean().idxmax()


def resolve_end(frame: pd.DataFrame, end: str) -> tuple[str, Any]:
    """``end`` as a concrete occasion, and the last visit it stands for (None unless ``end="last"`` found one):
    ``"last"`` becomes the last visit with data, or ``"last_observed"`` for data without visits."""
    if str(end) == "last":
        lv = last_visit(frame)
        return ("last_observed", None) if lv is None else (str(lv), lv)
    return str(end), None


def occasion_kind(frame: pd.DataFrame, spec: str) -> str:
    """How the rule reads a concrete ``spec`` in these data: "last_observed", "visit" or "timing"."""
    if spec == "last_observed":
        return spec
    if "visit" in frame.columns and equals_label(frame["visit"], spec).any():
        return "visit"
    return "timing"


def _occasion_mask(frame: pd.DataFrame, spec: str, role: str) -> np.ndarray:
    has_timing = "timing" in frame.columns
    if spec == "last_observed":
        if not has_timing:
            return np.ones(len(frame), dtype=bool)
        fu = equals_label(frame["timing"], "followup")
        return fu if fu.any() else ~equals_label(frame["timing"], "baseline")
    if "visit" in frame.columns:
        hit = equals_label(frame["visit"], spec)
        if hit.any():
            return hit
    if spec in TIMINGS:
        return equals_label(frame["timing"], spec) if has_timing else np.zeros(len(frame), dtype=bool)
    visits = [str(v) for v in pd.unique(frame["visit"].dropna())] if "visit" in frame.columns else []
    raise unknown_occasion(role, spec, visits)


def unknown_occasion(role: str, spec: str, visits: Sequence[str]) -> DataValidationError:
    """The error for an occasion (``start``/``end``) that is neither a timing nor one of ``visits``: the same words
    in memory and on a scan (:mod:`massage_outcomes.scale`), the visits in study-day order."""
    ordered = sorted(dict.fromkeys(map(str, visits)), key=lambda v: (np.nan_to_num(visit_label_day(v), nan=np.inf), v))
    choices = ["'last' (end only)", "'last_observed' (end only)", *map(repr, TIMINGS), *map(repr, ordered)]
    return DataValidationError(f"{option(role, spec)} is neither a timing nor a visit label of these data; use one "
                               f"of {', '.join(choices)}.")


def occasion_rows(frame: pd.DataFrame, spec: str, *, role: str, keys: Sequence[str]) -> pd.DataFrame:
    """The rows of ``frame`` at occasion ``spec`` (a concrete one: see :func:`resolve_end`), one per unit of
    ``keys``: the first by day for ``role="start"``, the last for ``role="end"``; in the frame's order."""
    rows = frame.iloc[np.flatnonzero(_occasion_mask(frame, str(spec), role))]
    return _one_per_unit(rows, keys, last=role != "start")


@dataclass(frozen=True)
class Pairs:
    """Occasions paired per unit: ``frame`` has the unit keys, ``value_start``, ``day_start``, ``value_end``,
    ``day_end`` and the attributes; ``unit`` is "subject" or "session"; ``keys`` the unit's columns."""

    frame: pd.DataFrame
    unit: str
    keys: list[str]


def pair_occasions(frame: pd.DataFrame, start: str, end: str, *, attrs: Sequence[str] = ()) -> Pairs:
    """One row per unit with its ``start`` and ``end`` values (the module's rule); ``end`` may be "last" or
    "last_observed", ``start`` neither."""
    keys = unit_keys(frame)
    end_spec, _ = resolve_end(frame, end)
    by_session = (str(start) in SESSION_TIMINGS and end_spec in SESSION_TIMINGS and "session" in frame.columns
                  and frame["session"].notna().any())
    unit = "session" if by_session else "subject"
    ukeys = [*keys, "session"] if by_session else keys
    attr_cols = [a for a in dict.fromkeys(attrs) if a not in ukeys and a in frame.columns]
    # only the columns the pairing reads or returns: taking rows of every column costs more than all the rest
    used = [c for c in dict.fromkeys([*ukeys, "value", "day", "timing", "visit", "visit_order", *attr_cols])
            if c in frame.columns]
    data = frame[used]
    if by_session:
        data = data[data["session"].notna().to_numpy()]
    s = occasion_rows(data, str(start), role="start", keys=ukeys)
    if end_spec == "last_observed":  # each unit's last follow-up after its start row
        rows = data.iloc[np.flatnonzero(_occasion_mask(data, end_spec, "end"))]
        start_day = rows.join(s.set_index(ukeys)["day"].rename("_start_day"), on=ukeys)["_start_day"]
        day = pd.to_numeric(rows["day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        e = _one_per_unit(rows[~(start_day.to_numpy(dtype=float, na_value=np.nan) >= day)], ukeys, last=True)
    else:
        e = occasion_rows(data, end_spec, role="end", keys=ukeys)
    ends = e[[*ukeys, "value", "day", *attr_cols]].rename(columns={"value": "value_end", "day": "day_end"})
    starts = s[[*ukeys, "value", "day", *attr_cols]].rename(columns={"value": "value_start", "day": "day_start"})
    only_start = ~starts.set_index(ukeys).index.isin(ends.set_index(ukeys).index)
    units = pd.concat([ends, starts.loc[only_start, [*ukeys, *attr_cols]]], ignore_index=True)
    units = units.merge(starts[[*ukeys, "value_start", "day_start"]], on=ukeys, how="left", sort=False)
    cols = [*ukeys, "value_start", "day_start", "value_end", "day_end", *attr_cols]
    return Pairs(units[cols], unit, ukeys)


def _one_per_unit(rows: pd.DataFrame, keys: Sequence[str], *, last: bool) -> pd.DataFrame:
    """One row per unit of ``keys``: its first (or ``last``) by day, in the rows' order."""
    dup = rows.duplicated(list(keys), keep=False).to_numpy()
    if not dup.any():
        return rows
    day = pd.to_numeric(rows["day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    order = np.argsort(day, kind="stable")
    keep = ~rows.iloc[order].duplicated(list(keys), keep="last" if last else "first").to_numpy()
    return rows.iloc[np.sort(order[keep])]

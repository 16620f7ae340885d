"""Wide layouts: one column per visit (``rmdq_baseline``, ``rmdq_week10``) or per session and pre/post
(``pain_nrs_pre_3``), turned into the long frame by a small mapping or by column-name patterns.

A wide spec is one of

* a dict ``{column: (instrument, visit, timing)}`` (optionally ``(instrument, visit, timing, day)`` or
  ``(instrument, visit, timing, day, session)``), or ``{column: {"instrument": ..., "visit": ..., "timing": ...,
  "day": ..., "session": ...}}``; missing parts are derived (day from a visit label such as "week 10", timing
  ``baseline`` at day 0 else ``followup``);
* a pattern string with placeholders, e.g. ``"{instrument}_{visit}"`` or ``"{instrument}_{timing}_s{session}"``
  (``{instrument}`` matches registered keys, ``{visit}`` any text, ``{timing}`` pre/post/baseline/followup,
  ``{session}`` and ``{day}`` numbers);
* ``None`` with ``layout="auto"``/``"wide"``: the patterns ``{instrument}_{timing}_{session}``,
  ``{instrument}_s{session}_{timing}`` and ``{instrument}_{visit}`` are tried on every column.

Columns that match no spec are subject-level (``subject``, ``arm``, covariates) and are repeated on every record,
except per-session day columns (``day_1``, ``session_2_day``), which give the day of each session's ratings.

Examples
--------
>>> import pandas as pd
>>> wide = pd.DataFrame({"subject": ["a", "b"], "rmdq_baseline": [12, 15], "rmdq_week10": [7, None]})
>>> long, rows = wide_to_long(wide, wide=None, rows=[2, 3])
>>> long[["subject", "instrument", "visit", "value"]]
  subject instrument     visit  value
0       a       rmdq  baseline   12.0
1       a       rmdq    week10    7.0
2       b       rmdq  baseline   15.0
>>> rows.tolist()
[2, 2, 3]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes.errors import ArgumentError, ArgumentTypeError, DataValidationError
from massage_outcomes.io._mapping import fold, resolve_column, unknown_column
from massage_outcomes.schema import MISSING_TOKENS, Problem, ValidationReport

_SESSION_DAY = re.compile(r"^(?:day_s?|session_?|s)(?P<n>\d+)(?:_day)?$")
SPEC_FIELDS = ("instrument", "visit", "timing", "day", "session")
AUTO_PATTERNS = ("{instrument}_{timing}_s{session}", "{instrument}_{timing}_{session}",
                 "{instrument}_s{session}_{timing}", "{instrument}_session_{session}_{timing}",
                 "{instrument}_{visit}")


def _key_alternation() -> str:
    keys = sorted((i.key for i in _instruments.all_instruments()), key=len, reverse=True)
    return "|".join(re.escape(k) for k in keys)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile a ``{placeholder}`` pattern to an anchored, case-insensitive regex."""
    groups = {"instrument": f"(?P<instrument>{_key_alternation()})", "visit": r"(?P<visit>.+?)",
              "timing": r"(?P<timing>pre|post|baseline|followup)", "session": r"(?P<session>\d+)",
              "day": r"(?P<day>-?\d+(?:\.\d+)?)"}
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        name = m.group(1)
        if name not in groups:
            raise ArgumentError(f"wide pattern {pattern!r}: unknown placeholder {{{name}}}; use "
                             f"{', '.join('{' + g + '}' for g in groups)}")
        out.append(groups[name])
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE)


def _spec_from_value(column: str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"instrument": spec}
    if isinstance(spec, Mapping):
        unknown = set(spec) - set(SPEC_FIELDS)
        if unknown:
            raise ArgumentError(f"wide[{column!r}] has unknown keys {sorted(unknown)}; allowed: {SPEC_FIELDS}")
        return dict(spec)
    if isinstance(spec, Sequence):
        if not 1 <= len(spec) <= 5:
            raise ArgumentError(f"wide[{column!r}] must be (instrument, visit, timing[, day[, session]]); got {spec!r}")
        return dict(zip(SPEC_FIELDS, spec, strict=False))
    raise ArgumentTypeError(f"wide[{column!r}] must be a tuple or dict; got {type(spec).__name__}")


def detect_measure_columns(columns: Sequence[str], wide: Any = None) -> dict[str, dict[str, Any]]:
    """Which columns hold measurements, and what each one is (instrument, visit, timing, day, session)."""
    specs: dict[str, dict[str, Any]] = {}
    if isinstance(wide, Mapping):
        for key, spec in wide.items():
            col = resolve_column(key, columns)
            if col is None:
                raise DataValidationError(unknown_column(key, columns, what="wide mapping")
                                          .replace("not in the data", "not in the file"))
            specs[col] = _spec_from_value(col, spec)
        return specs
    patterns = [wide] if isinstance(wide, str) else list(AUTO_PATTERNS)
    regexes = [pattern_regex(p) for p in patterns]
    for c in columns:
        name = fold(c)
        for rx in regexes:
            m = rx.match(name)
            if m:
                specs[c] = {k: v for k, v in m.groupdict().items() if v is not None}
                break
    return specs


def wide_to_long(frame: pd.DataFrame, *, wide: Any = None, rows: Sequence[int] | np.ndarray | None = None
                 ) -> tuple[pd.DataFrame, np.ndarray]:
    """Melt a wide frame to the canonical long frame (vectorized). Empty measurement cells are not records.

    Returns the long frame (rows ordered by source row, then column order) and each record's source row number.
    The number of empty cells skipped is stored in ``long.attrs["empty_cells"]``.
    """
    rows_arr = np.arange(len(frame)) if rows is None else np.asarray(rows)
    specs = detect_measure_columns([str(c) for c in frame.columns], wide)
    if not specs:
        report = ValidationReport([Problem(None, None, None, None, "required_column",
                                           "no measurement columns found: a long file needs a 'value' column, a "
                                           "wide one columns such as 'rmdq_baseline' or a wide= mapping")])
        raise DataValidationError(str(report) + "\nPass layout='wide' with wide={column: (instrument, visit, "
                                  "timing)} or a pattern such as wide='{instrument}_{visit}', or let "
                                  "massage_outcomes.describe propose a read plan (massage-outcomes describe FILE).",
                                  report=report)
    measure = list(specs)
    ids = [c for c in frame.columns if c not in specs]
    n, k = len(frame), len(measure)
    numeric = all(pd.api.types.is_numeric_dtype(frame[c].dtype) and not pd.api.types.is_bool_dtype(frame[c].dtype)
                  for c in measure)
    if n and k:
        values = pd.concat([frame[c].astype(float if numeric else object) for c in measure], ignore_index=True)
    else:
        values = pd.Series([], dtype=float if numeric else object)
    col_idx = np.repeat(np.arange(k), n)
    row_pos = np.tile(np.arange(n), k)
    present = np.array(values.notna().to_numpy(), dtype=bool)
    if present.any():
        text = values[present].astype(str).str.strip().str.lower()
        present[np.flatnonzero(present)[text.isin(MISSING_TOKENS).to_numpy()]] = False
    order = np.lexsort((col_idx[present], row_pos[present]))
    keep_rows = row_pos[present][order]
    keep_cols = col_idx[present][order]
    long = frame[ids].iloc[keep_rows].reset_index(drop=True) if ids else pd.DataFrame(index=range(len(keep_rows)))
    spec_frame = pd.DataFrame([specs[c] for c in measure]).reindex(columns=list(SPEC_FIELDS))
    for f in SPEC_FIELDS:
        if spec_frame[f].notna().any():
            col = spec_frame[f].to_numpy(dtype=object)[keep_cols]
            if f in long.columns:
                base = long[f].astype(object).to_numpy()
                col = np.where(pd.isna(col), base, col)
            long[f] = col
    # per-session days in their own columns ("day_1", "session_2_day") for pre/post layouts
    if "day" not in long.columns and "session" in long.columns:
        day_cols = {}
        for c in ids:
            m = _SESSION_DAY.match(fold(c))
            if m:
                day_cols[int(m.group("n"))] = c
        if day_cols:
            sess = pd.to_numeric(pd.Series(long["session"]), errors="coerce").to_numpy()
            day = np.full(len(long), np.nan)
            for k, c in day_cols.items():
                hit = sess == k
                day[hit] = pd.to_numeric(frame[c].iloc[keep_rows[hit]], errors="coerce").to_numpy()
            long["day"] = day
            long = long.drop(columns=list(day_cols.values()))
    long["value"] = values.to_numpy()[present][order]
    long["_column"] = np.asarray(measure, dtype=object)[keep_cols]
    long.attrs["empty_cells"] = int((~present).sum())
    long.attrs["measure_columns"] = measure
    long.attrs["measure_specs"] = specs
    return long, rows_arr[keep_rows]

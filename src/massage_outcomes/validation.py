"""Validation rules for outcome data: every problem found at once, with the row the user sees in the file.

A reader turns a source into one *long* frame (one row per measurement, canonical column names), and
:func:`check_long` applies every rule to it, vectorized: it returns the frame with canonical types, a
:class:`ValidationReport` and a boolean mask of the rejected rows. :class:`massage_outcomes.Dataset` is built
only from rows that passed. With ``on_error="raise"`` (the default everywhere) any problem raises
:class:`~massage_outcomes.errors.DataValidationError`, which carries the report; with ``on_error="quarantine"``
the bad rows go to ``ds.rejected`` with their reasons, and ``rows read == rows kept + rows rejected``.

Each rule is one small function of the frame being checked (:data:`ROW_RULES`, then :data:`CROSS_ROW_RULES`).
The report types and canonical column names live in :mod:`massage_outcomes.schema`, the typed-column helpers in
:mod:`massage_outcomes.coerce`; this module imports nothing from the readers, and
:func:`massage_outcomes.validate` (which reads a path first) lives on the readers' side.

Rules
-----
=====================  ==========================================================================
rule                   what it catches
=====================  ==========================================================================
``required_column``    a required column is absent (the closest present name is suggested)
``empty``              an empty file, or a header with no data rows
``missing_value``      a required cell is empty (``subject``, ``instrument``, ``value``, ``day``)
``not_a_number``       text where a number belongs ("7/10", "seven")
``out_of_range``       a value outside the instrument's range; a non-finite number
``unknown_term``       an unknown instrument, condition, technique, intent or timing (closest suggested)
``duplicate_key``      two rows with the same (study, subject, instrument, day, timing, session)
``subject_conflict``   a subject-level attribute (arm, condition, clinic, covariates) that changes between rows
``session_conflict``   a session-level attribute (technique, therapist, ...) that changes within a session
``negative_day``       a day before baseline on a non-baseline row
``impossible_day``     a day more than ten years after baseline (or a year before it)
``session_missing``    a pre/post-session rating with no session, or a session that does not exist
``bad_date``           a date that cannot be parsed
``encoding``           a line whose bytes are not in the file's encoding (mixed encodings)
=====================  ==========================================================================

Examples
--------
>>> import pandas as pd
>>> import massage_outcomes as mo
>>> frame = pd.DataFrame({"subject": ["s1", "s1"], "instrument": ["pain_nrs", "pain_nrs"],
...                       "day": [0, 28], "timing": ["baseline", "followup"], "value": ["7", "7/10"]})
>>> report = mo.validate(frame)
>>> report.ok
False
>>> report.to_frame()[["row", "column", "value", "rule"]]
   row column value          rule
0    1  value  7/10  not_a_number
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import groups as _groups
from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.coerce import (
    as_category,
    equals_label,
    take_display,
    to_dates,
    to_number,
)
from massage_outcomes.errors import DataValidationError
from massage_outcomes.groups import take_or_missing
from massage_outcomes.schema import (
    CANONICAL_LONG,
    DEFAULT_STUDY,
    DERIVED_COLUMNS,
    REQUIRED_LONG,
    OnError,
    Problem,
    ValidationReport,
    check_option,
    closest,
    error_message,
)
from massage_outcomes.visits import day_from_visit

MAX_DAY = 3650.0  # ten years after baseline
MIN_BASELINE_DAY = -365.0


# ---------------------------------------------------------------------------------------------------------------
# vectorized helpers
# ---------------------------------------------------------------------------------------------------------------
class _Collector:
    """Accumulates problems as small frames (vectorized) and the rows they reject.

    Messages may be a string, an array aligned with the frame, or a callable taking the positions of the
    offending rows (so that text is only built for the few bad rows, never for millions of good ones).
    """

    def __init__(self, n: int, rows: np.ndarray, file: str | None) -> None:
        self.n = n
        self.rows = rows
        self.file = file
        self.bad = np.zeros(n, dtype=bool)
        self.frames: list[pd.DataFrame] = []
        self.value_columns: np.ndarray | None = None

    def add(self, mask: np.ndarray | pd.Series, column: str | None, values: Any, rule: str,
            messages: Any, *, reject: bool = True) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        idx = np.flatnonzero(mask)
        if values is None or np.isscalar(values):
            vals = np.full(len(idx), values, dtype=object)
        else:
            vals = take_display(values, idx)
        if callable(messages):
            msgs = np.asarray(messages(idx), dtype=object)
        elif isinstance(messages, str):
            msgs = np.full(len(idx), messages, dtype=object)
        else:
            msgs = np.asarray(pd.Series(messages).to_numpy(dtype=object))
            msgs = msgs[idx] if len(msgs) == self.n else msgs
        self.frames.append(pd.DataFrame({
            "file": self.file, "row": self.rows[idx], "column": column, "value": vals, "rule": rule,
            "message": msgs, "_pos": idx,
        }))
        if reject:
            self.bad |= mask

    def fatal(self, column: str | None, rule: str, message: str, value: Any = None) -> None:
        self.frames.append(pd.DataFrame({"file": [self.file], "row": [None], "column": [column], "value": [value],
                                         "rule": [rule], "message": [message], "_pos": [-1]}))

    def report(self, rows_read: int | None = None) -> ValidationReport:
        if not self.frames:
            return ValidationReport(file=self.file, rows_read=rows_read)
        frame = pd.concat(self.frames, ignore_index=True).sort_values("_pos", kind="stable")
        if self.value_columns is not None:
            hit = (frame["column"] == "value").to_numpy() & (frame["_pos"].to_numpy() >= 0)
            if hit.any():
                frame.loc[hit, "column"] = self.value_columns[frame.loc[hit, "_pos"].to_numpy()]
        return ValidationReport(frame.drop(columns="_pos"), file=self.file, rows_read=rows_read)

    def reasons(self) -> pd.Series:
        """Per rejected position: the reasons joined with '; '."""
        if not self.frames:
            return pd.Series(dtype=object)
        frame = pd.concat(self.frames, ignore_index=True)
        frame = frame[frame["_pos"] >= 0]
        text = frame["rule"].astype(str) + ": " + frame["message"].astype(str)
        return text.groupby(frame["_pos"].to_numpy()).agg("; ".join)




# ---------------------------------------------------------------------------------------------------------------
# text columns: cleaned once per distinct value (categoricals), never once per row
# ---------------------------------------------------------------------------------------------------------------
def _number_messages(raw: pd.Series, column: str) -> Any:
    """A lazy message builder: plain words for text that is not a number."""
    def build(idx: np.ndarray) -> list[str]:
        out = []
        for v in take_display(raw, idx):
            text = str(v).strip()
            base = f"{column} must be a number; got {text!r}"
            if re.fullmatch(r"-?\d+(\.\d+)?\s*/\s*\d+(\.\d+)?", text):
                out.append(base + " (looks like a fraction: write the score alone, e.g. 7 for 7/10)")
            elif re.fullmatch(r"-?\d+,\d+", text):
                out.append(base + " (a decimal comma: pass decimal=',' or use a point)")
            elif re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
                out.append(base + " (hexadecimal: write the decimal number)")
            elif re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE]-\d+", text):
                out.append(base + " (too small to be held: it would be read as 0; write 0 if that is meant)")
            elif re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?", text):
                out.append(base + " (a point in a file read with decimal commas: a thousands separator? write "
                                  "the number without it, or pass decimal='.')")
            else:
                out.append(base + " (write the number alone)")
        return out
    return build


def suggest_name(name: str, options: Iterable[str]) -> str | None:
    """The closest of ``options`` to ``name`` when it is a likely typo (:func:`massage_outcomes.schema.closest`),
    or None."""
    opts = [str(o) for o in options]
    match = closest(str(name).lower(), [o.lower() for o in opts])
    if match is None:
        return None
    lowered = {o.lower(): o for o in opts}
    return lowered[match]


def _instrument_lookup() -> dict[str, str]:
    return {vocab._key(inst.key): inst.key for inst in _instruments.all_instruments()}


def _map_categories(cat: pd.Series, mapper: Any, categories: Sequence[str]) -> tuple[pd.Series, np.ndarray, list]:
    """Map a cleaned Categorical's categories through ``mapper`` (value -> canonical or None).

    Returns the Categorical over ``categories``, a mask of rows whose value is unknown, and the unknown values.
    """
    src = list(cat.cat.categories)
    mapped = [mapper(v) for v in src]
    target = pd.Index(list(categories))
    tcode = np.array([target.get_loc(m) if m is not None and m in target else -1 for m in mapped], dtype=np.int64)
    unknown_cat = np.array([m is None for m in mapped], dtype=bool)
    codes = cat.cat.codes.to_numpy()
    safe = np.maximum(codes, 0)
    new = np.where(codes >= 0, tcode[safe] if len(tcode) else -1, -1)
    unknown = (codes >= 0) & (unknown_cat[safe] if len(unknown_cat) else False)
    unknown_values = [v for v, u in zip(src, unknown_cat, strict=False) if u]
    return (pd.Series(pd.Categorical.from_codes(new, categories=target), index=cat.index),
            np.asarray(unknown, dtype=bool), unknown_values)


def normalize_instrument(values: pd.Series) -> tuple[pd.Series, np.ndarray, Any]:
    """Map instrument names to registered keys (case/punctuation-insensitive), per distinct value.

    Returns a Categorical of keys, a mask of unknown names and a lazy message builder.
    """
    cat = as_category(values)
    lookup = _instrument_lookup()
    keys = sorted(set(lookup.values()))
    mapped, unknown, unknown_values = _map_categories(cat, lambda v: lookup.get(vocab._key(v)), keys)
    msg_for = {}
    for u in unknown_values:
        hint = closest(vocab._key(u), list(lookup))  # only a likely typo, never a distant guess
        did = f" Did you mean {lookup[hint]!r}?" if hint else f" Known: {', '.join(keys)}."
        msg_for[u] = (f"unknown instrument {u!r}.{did} Declare it as a study instrument in the read plan, "
                      "register it with massage_outcomes.instruments.register(...), or recode it with mapping=.")

    def build(idx: np.ndarray) -> list[str]:
        return [msg_for.get(v, "unknown instrument") for v in cat.iloc[idx].astype(object)]
    mapped = mapped.cat.remove_unused_categories()
    return mapped, unknown, build


def _normalize_vocab(values: pd.Series, vocabulary: vocab.Vocabulary) -> tuple[pd.Series, np.ndarray, Any]:
    cat = as_category(values)
    mapped, unknown, unknown_values = _map_categories(cat, vocabulary.lookup, vocabulary.terms)
    msg_for = {u: vocab.unknown_term_message(vocabulary, u) for u in unknown_values}

    def build(idx: np.ndarray) -> list[str]:
        return [msg_for.get(v, f"unknown {vocabulary.name}") for v in cat.iloc[idx].astype(object)]
    return pd.Series(pd.Categorical(mapped, dtype=vocabulary.dtype()), index=values.index), unknown, build


def first_positions(codes: np.ndarray, values: pd.Series, n_groups: int) -> np.ndarray:
    """Per group (codes 0..n_groups-1): the position of its first row with a non-missing value (-1: none)."""
    return _groups.first_positions(codes, n_groups, values.notna().to_numpy())


def _first_in_group(codes: np.ndarray, values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """For each row: the group's first non-missing value and the position of the row that holds it (-1: none)."""
    n = len(codes)
    ngroups = int(codes.max()) + 1 if n and codes.max() >= 0 else 0
    first_pos_by_group = _groups.first_positions(codes, max(ngroups, 1), values.notna().to_numpy())
    fp = np.where(codes >= 0, first_pos_by_group[np.maximum(codes, 0)], -1)
    if n == 0:
        return values, fp
    if isinstance(values.dtype, pd.CategoricalDtype):
        vcodes = values.cat.codes.to_numpy()
        taken_codes = np.where(fp >= 0, vcodes[np.maximum(fp, 0)], -1)
        return pd.Series(pd.Categorical.from_codes(taken_codes, dtype=values.dtype), index=values.index), fp
    fv = values.iloc[np.maximum(fp, 0)].set_axis(values.index)
    if (fp < 0).any():
        fv = fv.where(fp >= 0)
    return fv, fp


def _first_positions_by_row(codes: np.ndarray, present: np.ndarray,
                            cache: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """For each row: the position of its group's first row where ``present`` (-1: none, or no group).

    ``cache`` (one dict per ``codes``) keeps the answer for columns with no missing value, which is the same
    for all of them: computed once, not once per column.
    """
    if cache is not None and present.all():
        if "all" not in cache:
            cache["all"] = _first_positions_by_row(codes, present)
        return cache["all"]
    ngroups = int(codes.max()) + 1 if len(codes) and codes.max() >= 0 else 0
    pos = np.flatnonzero(present & (codes >= 0))
    first_pos_by_group = np.full(max(ngroups, 1), -1, dtype=np.int64)
    if len(pos):
        first_pos_by_group[codes[pos][::-1]] = pos[::-1]  # reversed assignment leaves the first position
    del pos
    fp = first_pos_by_group[np.maximum(codes, 0)]
    fp[codes < 0] = -1
    return fp


def _conflicts(col: pd.Series, codes: np.ndarray, cache: dict[str, np.ndarray] | None = None
               ) -> tuple[np.ndarray, pd.Series | None, np.ndarray]:
    """Rows whose non-missing value differs from the first non-missing value of their group (vectorized).

    Returns ``(differ, first, first_pos)``; ``first`` (the group's first value per row) is None on the
    numpy paths, where ``col.iloc[first_pos]`` gives it for the few rows that differ. ``cache``: see
    :func:`_first_positions_by_row` (one dict per ``codes``).
    """
    n = len(col)
    if isinstance(col.dtype, pd.CategoricalDtype):
        cc = col.cat.codes.to_numpy()
        present = cc[cc >= 0]
        if len(present) == 0 or present.min() == present.max():  # one value (or none) in the whole column
            return np.zeros(n, dtype=bool), None, np.full(n, -1)
        del present
        fp = _first_positions_by_row(codes, cc >= 0, cache)
        differ = (cc >= 0) & (fp >= 0)
        differ &= cc != cc[np.maximum(fp, 0)]
        return differ, None, fp
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "fiuM":  # numbers and datetimes: plain arrays, no full-length Series temporaries
        vals = col.to_numpy()
        present = col.notna().to_numpy()
        fp = _first_positions_by_row(codes, present, cache)
        differ = present & (fp >= 0)
        differ &= vals != vals[np.maximum(fp, 0)]
        return differ, None, fp
    first, first_pos = _first_in_group(codes, col)
    has = col.notna().to_numpy() & first.notna().to_numpy()
    differ = np.zeros(n, dtype=bool)
    if has.any():
        differ[has] = (col[has].to_numpy() != first[has].to_numpy())
    return differ, first, first_pos


def _fmt(v: Any) -> str:
    try:
        return f"{float(v):g}"
    except (TypeError, ValueError):
        return str(v)


# ---------------------------------------------------------------------------------------------------------------
# the long-frame rules
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class CheckResult:
    """What :func:`check_long` returns: the typed frame, the report, and which rows were rejected."""

    frame: pd.DataFrame
    report: ValidationReport
    bad: np.ndarray
    reasons: pd.Series

    @property
    def kept(self) -> pd.DataFrame:
        if not self.bad.any():
            return self.frame
        return self.frame.loc[~self.bad].reset_index(drop=True)


def _empty_cat(n: int, categories: Sequence[str], index: pd.Index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(np.full(n, -1), categories=pd.Index(list(categories))), index=index)


def _no_term(n: int, vocabulary: vocab.Vocabulary, index: pd.Index) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(np.full(n, -1), dtype=vocabulary.dtype()), index=index)


PARALLEL_MIN_ROWS = 200_000  # below this, threads cost more than they save

#: the lazy findings of a cross-row check: (mask, column, values, rule, messages), added in a fixed order
Finding = tuple[np.ndarray, str, Any, str, Any]


class _Check:
    """What the rules share while they check one long frame: the raw columns, the typed columns built so far
    (``out``), the problem collector, and the per-row facts one rule leaves for the next (``sess_na``,
    ``dayv``, ``tcodes``...). Each rule is a function of this object, run in :data:`RULES` order (which is
    also the order of a row's problems in the report)."""

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray, *, file: str | None, study: str | None,
                 decimal_comma: bool) -> None:
        self.frame = frame
        self.n = len(frame)
        self.index = frame.index
        self.rows = rows
        self.study = study or DEFAULT_STUDY
        self.decimal_comma = decimal_comma
        self.col = _Collector(self.n, rows, file)
        self.out: dict[str, Any] = {}
        self.extra: list[str] = []
        self.sess_na = np.zeros(self.n, dtype=bool)
        self.sess_invalid = np.zeros(self.n, dtype=bool)
        self.stated = np.zeros(self.n, dtype=bool)
        self.bad_day = np.zeros(self.n, dtype=bool)
        self.dayv = np.zeros(0)
        self.day = pd.Series(dtype=float)
        self.tcodes = np.zeros(0, dtype=np.int8)
        self.timing = pd.Series(dtype=object)

    def has(self, c: str) -> bool:
        return c in self.frame.columns

    def raw(self, c: str) -> Any:
        return self.frame[c] if c in self.frame.columns else None

    def number(self, c: str) -> tuple[pd.Series, np.ndarray]:
        """Column ``c`` parsed to float; its text that is not a number is reported (``not_a_number``)."""
        num, bad = to_number(self.frame[c], decimal_comma=self.decimal_comma)
        self.col.add(bad, c, self.frame[c], "not_a_number", _number_messages(self.frame[c], c))
        return num, bad

    def term(self, c: str, vocabulary: vocab.Vocabulary) -> None:
        """Column ``c`` as a vocabulary Categorical (``out[c]``); unknown terms are reported."""
        if c in self.frame.columns:
            self.out[c], unknown, msgs = _normalize_vocab(self.frame[c], vocabulary)
            self.col.add(unknown, c, self.frame[c], "unknown_term", msgs)
        else:
            self.out[c] = _no_term(self.n, vocabulary, self.index)

    def text(self, c: str) -> None:
        self.out[c] = as_category(self.frame[c]) if c in self.frame.columns else _empty_cat(self.n, [], self.index)


def _add_reader_problems(s: _Check, extra_problems: ValidationReport | None) -> None:
    """Problems a reader already found (encoding, a ragged line): reported first, and their rows rejected."""
    if extra_problems is None or not len(extra_problems):
        return
    ex = extra_problems._frame.copy()
    pos_of_row = pd.Series(np.arange(s.n), index=s.rows)
    pos_of_row = pos_of_row[~pos_of_row.index.duplicated()]
    ex["_pos"] = ex["row"].map(pos_of_row).fillna(-1).astype(int)
    foreign = ex["file"].notna().to_numpy() & (ex["file"] != s.col.file).to_numpy()
    ex.loc[foreign, "_pos"] = -1
    s.col.frames.append(ex)
    hit = ex["_pos"].to_numpy()
    s.col.bad[hit[hit >= 0]] = True
    # a wide row's problem (e.g. encoding) rejects every record made from it
    rows_hit = ex.loc[ex["_pos"] >= 0, "row"].to_numpy()
    if len(rows_hit):
        s.col.bad |= np.isin(s.rows, rows_hit)


def _required_columns(s: _Check) -> bool:
    """``empty`` and ``required_column``: True when the frame can be checked row by row at all."""
    frame, col = s.frame, s.col
    if s.n == 0:
        col.fatal(None, "empty", "the file has a header but no data rows" if len(frame.columns) else
                  "the file is empty (no header, no rows)")
        return False
    missing_cols = [c for c in REQUIRED_LONG if c not in frame.columns]
    if "day" not in frame.columns and "visit" not in frame.columns and "date" not in frame.columns:
        missing_cols.append("day")
    present = [str(c) for c in frame.columns]
    for c in missing_cols:
        hint = suggest_name(c, [p for p in present if p not in CANONICAL_LONG])
        did = f" Did you mean {hint!r}? Pass mapping={{{hint!r}: {c!r}}}." if hint else \
            f" Columns found: {', '.join(present[:12])}{' ...' if len(present) > 12 else ''}."
        if c == "day":
            msg = ("required column 'day' (days since baseline) is missing, and there is no 'visit' or 'date' "
                   "to derive it from." + did)
        else:
            msg = f"required column {c!r} is missing." + did
        if len(present) == 1:
            msg += (" The header has a single column: is the delimiter right? Pass delimiter=';' (or ',', "
                    "'\\t', '|') to read().")
        col.fatal(c, "required_column", msg)
    return not missing_cols


def _keys(s: _Check) -> None:
    """``study`` (the column, else the study name) and ``subject`` (``missing_value`` when empty)."""
    if s.has("study"):
        st = as_category(s.frame["study"])
        if st.isna().any():
            st = st.cat.add_categories([s.study]) if s.study not in st.cat.categories else st
            st = st.fillna(s.study)
        s.out["study"] = st
    else:
        s.out["study"] = pd.Series(pd.Categorical.from_codes(np.zeros(s.n, dtype=np.int8),
                                                             categories=pd.Index([s.study], dtype="str")),
                                   index=s.index)
    s.out["subject"] = as_category(s.frame["subject"])
    s.col.add(s.out["subject"].isna(), "subject", s.frame["subject"], "missing_value", "subject is empty")


def _subject_level(s: _Check) -> None:
    """``arm`` and ``clinic`` as text; ``condition`` from the vocabulary (``unknown_term``)."""
    s.text("arm")
    s.term("condition", vocab.CONDITION)
    s.text("clinic")


def _session_number(s: _Check) -> None:
    """``session``: a whole number, 0 or more (``not_a_number``)."""
    if not s.has("session"):
        s.out["session"] = pd.array(np.full(s.n, pd.NA), dtype="Int64")
        s.sess_na = np.ones(s.n, dtype=bool)
        return
    num, bad = s.number("session")
    arr = num.to_numpy()
    with np.errstate(invalid="ignore"):
        nonint = ~np.isnan(arr) & ((arr != np.round(arr)) | (arr < 0) | ~np.isfinite(arr))
    s.col.add(nonint, "session", s.frame["session"], "not_a_number", "session must be a whole number, 0 or more")
    arr = np.where(nonint, np.nan, arr)
    s.out["session"] = pd.array(np.round(arr), dtype="Int64")
    s.sess_invalid = bad | nonint
    s.sess_na = np.asarray(pd.isna(s.out["session"]), dtype=bool)


def _session_level(s: _Check) -> None:
    """``technique`` and ``intent`` from the vocabulary; therapist, pressure, body region as text."""
    s.term("technique", vocab.TECHNIQUE)
    s.term("intent", vocab.INTENT)
    for c in ("therapist", "pressure", "body_region"):
        s.text(c)


def _duration(s: _Check) -> None:
    """``duration_min``: a number of minutes, 0 to 1440 (``not_a_number``, ``out_of_range``)."""
    if not s.has("duration_min"):
        s.out["duration_min"] = pd.Series(np.full(s.n, np.nan), index=s.index, copy=False)
        return
    num, _ = s.number("duration_min")
    with np.errstate(invalid="ignore"):
        wrong = ((num < 0) | (num > 24 * 60)).to_numpy() | np.isinf(num.to_numpy())
    s.col.add(wrong, "duration_min", s.frame["duration_min"], "out_of_range",
              "duration_min must be between 0 and 1440 minutes")
    s.out["duration_min"] = num.where(~wrong) if wrong.any() else num


def _date(s: _Check) -> None:
    """``date``: parseable (``bad_date``)."""
    if not s.has("date"):
        s.out["date"] = pd.Series(np.full(s.n, np.datetime64("NaT"), dtype="datetime64[ns]"), index=s.index,
                                  copy=False)
        return
    s.out["date"], bad = to_dates(s.frame["date"])
    raw = s.frame["date"]
    s.col.add(bad, "date", raw, "bad_date",
              lambda idx: [f"date {v!r} cannot be parsed (write dates as YYYY-MM-DD)" for v in take_display(raw, idx)])


def _instrument(s: _Check) -> None:
    """``instrument``: a registered key (``unknown_term``), present (``missing_value``); ``visit`` as text."""
    raw = s.frame["instrument"]
    s.out["instrument"], unknown, msgs = normalize_instrument(raw)
    s.col.add(unknown, "instrument", raw, "unknown_term", msgs)
    s.col.add(s.out["instrument"].isna().to_numpy() & ~unknown, "instrument", raw, "missing_value",
              "instrument is empty")
    s.text("visit")


def _stated_timing(s: _Check) -> None:
    """``timing`` as stated: a vocabulary term (``unknown_term``)."""
    if s.has("timing"):
        s.timing, unknown, msgs = _normalize_vocab(s.frame["timing"], vocab.TIMING)
        s.col.add(unknown, "timing", s.frame["timing"], "unknown_term", msgs)
        s.stated = s.timing.notna().to_numpy() | unknown
    else:
        s.timing = _no_term(s.n, vocab.TIMING, s.index)


def _day(s: _Check) -> None:
    """``day``: stated (``not_a_number``), else from the visit label, else from dates (the subject's first date
    is day 0); present (``missing_value``) and finite (``impossible_day``)."""
    if s.has("day"):
        day, s.bad_day = s.number("day")
        if not _CONTINUOUS_DAYS.get():
            _fractional_days(s, day)
    else:
        day = pd.Series(np.full(s.n, np.nan), index=s.index, copy=False)
    # no copy unless a day must be filled in or blanked: a float column as read is shared, not duplicated
    dayv = day.to_numpy(dtype=float)  # a read-only view: copied before any change
    if s.has("visit") and np.isnan(dayv).any():
        dayv = dayv.copy()
        fill = np.isnan(dayv) & ~s.bad_day
        dayv[fill] = day_from_visit(s.out["visit"]).to_numpy()[fill]
    if s.has("date") and np.isnan(dayv).any():
        subj_codes = combine_codes([s.out["study"], s.out["subject"]])
        dates = s.out["date"]
        first_date = dates.groupby(subj_codes).transform("min")
        from_date = ((dates - first_date).dt.total_seconds() / 86400.0).to_numpy()
        fill = np.isnan(dayv) & ~s.bad_day
        dayv = dayv.copy()
        dayv[fill] = from_date[fill]
    day_raw = s.raw("day") if s.has("day") else pd.Series(dayv, index=s.index)
    s.col.add(np.isnan(dayv) & ~s.bad_day, "day", s.raw("day"), "missing_value",
              "day is empty and cannot be derived from visit or date")
    with np.errstate(invalid="ignore"):
        inf_day = np.isinf(dayv)
    s.col.add(inf_day, "day", day_raw, "impossible_day", "day is not finite")
    if inf_day.any():
        dayv = dayv.copy()
        dayv[inf_day] = np.nan
    s.dayv, s.day = dayv, day


#: True inside :func:`continuous_days`: a stated day may be fractional (days from hours or times of day)
_CONTINUOUS_DAYS: ContextVar[bool] = ContextVar("massage_outcomes_continuous_days", default=False)


@contextlib.contextmanager
def continuous_days() -> Iterator[None]:
    """Within this block, a stated ``day`` may be fractional (28.5): for studies whose days are continuous.

    By default a study day is a whole number of days since baseline, and ``28.5`` is refused
    (``fractional_day``): it is more often a visit number, a week or a typing slip than half a day.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.validation import check_long, continuous_days
    >>> frame = pd.DataFrame({"subject": ["1", "1"], "instrument": "rmdq", "day": [0, 28.5], "value": [12, 7]})
    >>> check_long(frame).report.to_frame()["rule"].tolist()
    ['fractional_day']
    >>> with continuous_days():
    ...     len(check_long(frame).report)
    0
    """
    token = _CONTINUOUS_DAYS.set(True)
    try:
        yield
    finally:
        _CONTINUOUS_DAYS.reset(token)


def _fractional_days(s: _Check, day: pd.Series) -> None:
    """``fractional_day``: a stated day that is not a whole number (unless :func:`continuous_days`)."""
    dv = day.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        frac = np.isfinite(dv) & (dv != np.round(dv))
    s.col.add(frac, "day", s.frame["day"], "fractional_day",
              lambda idx: [f"day {_fmt(v)} is not a whole number of days since baseline: a week, a visit number or a "
                           "slip? Fix it, or if this study's days are continuous read inside "
                           "`with massage_outcomes.validation.continuous_days(): ...`" for v in dv[idx]])


def _timing(s: _Check) -> None:
    """Timing where not stated: baseline at day <= 0 without a session, followup later; a session row must say
    pre or post (``missing_value``)."""
    tcodes = s.timing.cat.codes.to_numpy().copy()
    cats = list(vocab.TIMING.dtype().categories)
    derived = np.where(np.nan_to_num(s.dayv, nan=1.0) <= 0, cats.index("baseline"), cats.index("followup"))
    fill = ~s.stated & s.sess_na
    tcodes[fill] = derived[fill]
    s.col.add(~s.stated & ~s.sess_na, "timing", s.raw("timing"), "missing_value",
              "timing is empty on a session row: say 'pre' or 'post'")
    s.out["timing"] = pd.Series(pd.Categorical.from_codes(tcodes, dtype=vocab.TIMING.dtype()), index=s.index)
    s.tcodes = tcodes


def _day_range(s: _Check) -> None:
    """``negative_day`` (before baseline on a non-baseline row) and ``impossible_day`` (beyond the limits)."""
    cats = list(vocab.TIMING.dtype().categories)
    dayv = s.dayv
    day_raw = s.raw("day") if s.has("day") else pd.Series(dayv, index=s.index)
    is_base = s.tcodes == cats.index("baseline")
    with np.errstate(invalid="ignore"):
        neg = (dayv < 0) & ~is_base
        impossible = (dayv > MAX_DAY) | (is_base & (dayv < MIN_BASELINE_DAY))
    s.col.add(neg, "day", day_raw, "negative_day",
              lambda idx: [f"day {_fmt(v)} is before baseline on a non-baseline row" for v in dayv[idx]])
    s.col.add(impossible, "day", day_raw, "impossible_day",
              lambda idx: [f"day {_fmt(v)} is impossible (allowed {MIN_BASELINE_DAY:g} to {MAX_DAY:g})"
                           for v in dayv[idx]])
    day = s.day
    s.out["day"] = day if np.may_share_memory(dayv, day.to_numpy()) else pd.Series(dayv, index=s.index, copy=False)
    s.day = pd.Series(dtype=float)


def _session_link(s: _Check) -> None:
    """``session_missing``: a pre/post rating without a session number."""
    cats = list(vocab.TIMING.dtype().categories)
    prepost = (s.tcodes == cats.index("pre")) | (s.tcodes == cats.index("post"))
    s.col.add(prepost & s.sess_na & ~s.sess_invalid, "session", s.raw("session"), "session_missing",
              "a pre/post-session rating has no session number: which session does it belong to?")


def _value(s: _Check) -> None:
    """``value``: a number (``not_a_number``), present (``missing_value``), finite and within the instrument's
    range (``out_of_range``)."""
    raw = s.frame["value"]
    value, bad_val = s.number("value")
    vv = value.to_numpy(dtype=float)  # a read-only view: copied only if a value must be blanked (below)
    s.col.add(np.isnan(vv) & ~bad_val, "value", raw, "missing_value",
              "value is empty (a missing measurement is a row you leave out, not an empty cell)")
    with np.errstate(invalid="ignore"):
        nonfinite = np.isinf(vv)
    s.col.add(nonfinite, "value", raw, "out_of_range", "value is not finite")
    inst_cat = s.out["instrument"]
    keys = list(inst_cat.cat.categories)
    if keys:
        lo_k = np.array([_instruments.get(k).min for k in keys] + [np.nan])
        hi_k = np.array([_instruments.get(k).max for k in keys] + [np.nan])
        icodes = inst_cat.cat.codes.to_numpy()
        lo, hi = lo_k[icodes], hi_k[icodes]  # code -1 picks the trailing NaN
        with np.errstate(invalid="ignore"):
            outside = np.isfinite(vv) & ((vv < lo) | (vv > hi))
        s.col.add(outside, "value", raw, "out_of_range",
                  lambda idx: [f"{keys[icodes[i]]} value {_fmt(vv[i])} is outside its range {_fmt(lo[i])}-"
                               f"{_fmt(hi[i])} (wrong instrument, or a different scoring? register it with "
                               "instruments.with_range)" for i in idx])
    if nonfinite.any():
        vv = vv.copy()
        vv[nonfinite] = np.nan
    s.out["value"] = value if np.may_share_memory(vv, value.to_numpy()) else pd.Series(vv, index=s.index, copy=False)


def _covariates(s: _Check, covariates: Sequence[str] | None) -> None:
    """Extra columns are subject-level covariates: text as Categoricals, numbers as float64."""
    known_cols = set(CANONICAL_LONG) | set(DERIVED_COLUMNS) | {"week"}
    extra = [c for c in s.frame.columns if c not in known_cols and not str(c).startswith("_")]
    if covariates is not None:
        extra = [c for c in extra if c in set(covariates)]
    for c in extra:
        v = s.frame[c]
        if isinstance(v.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(v.dtype) or v.dtype == object:
            v = as_category(v)
        elif pd.api.types.is_numeric_dtype(v.dtype) and not pd.api.types.is_bool_dtype(v.dtype):
            # numeric covariates are float64 whatever the format stored (SPSS has no integers; NA needs float)
            if v.dtype != np.float64:
                v = pd.Series(v.to_numpy(dtype=float, na_value=np.nan), index=v.index)
        s.out[c] = v
    s.extra = extra


#: the per-row rules, in the order their problems appear for a row
ROW_RULES = (_keys, _subject_level, _session_number, _session_level, _duration, _date, _instrument, _stated_timing,
             _day, _timing, _day_range, _session_link, _value)


# -- cross-row rules (only among rows with usable keys) ------------------------------------------------------
def _subject_conflicts(s: _Check, result: pd.DataFrame, subj_codes: np.ndarray) -> list[Finding]:
    """``subject_conflict``: a subject-level attribute that changes between a subject's rows."""
    found: list[Finding] = []
    cache: dict[str, np.ndarray] = {}
    for c in ("arm", "condition", "clinic", *s.extra):
        differ, first, first_pos = _conflicts(result[c], subj_codes, cache)
        if differ.any():
            found.append((differ, c, s.frame[c] if c in s.frame.columns else result[c], "subject_conflict",
                          _conflict_messages("subject-level", c, result, first, first_pos, s.rows, subject=True)))
    return found


def _session_conflicts(s: _Check, result: pd.DataFrame, subj_codes: np.ndarray) -> list[Finding]:
    """``session_conflict``: a session-level attribute that changes within one session."""
    found: list[Finding] = []
    sess_ok = result["subject"].notna().to_numpy() & ~s.sess_na
    if not sess_ok.any():
        return found
    sess_codes = combine_codes([subj_codes, result["session"]], ok=sess_ok)
    cache: dict[str, np.ndarray] = {}
    for c in ("technique", "intent", "therapist", "duration_min", "pressure", "body_region", "date"):
        if c not in s.frame.columns:
            continue
        differ, first, first_pos = _conflicts(result[c], sess_codes, cache)
        if differ.any():
            found.append((differ, c, s.frame[c], "session_conflict",
                          _conflict_messages("session-level", c, result, first, first_pos, s.rows, subject=False)))
    return found


def _duplicate_keys(s: _Check, result: pd.DataFrame, subj_codes: np.ndarray) -> list[Finding]:
    """``duplicate_key``: two rows with one (study, subject, instrument, day, timing, session); all rows of a
    duplicated key are rejected (we cannot tell which is right), each naming another."""
    okk = result["subject"].notna().to_numpy() & result["instrument"].notna().to_numpy() & ~np.isnan(s.dayv)
    if not okk.any():
        return []
    # group ids need not be dense here: duplicates are found by sorting, which needs far less memory
    # than a hash table over millions of (nearly all distinct) keys
    key_codes = combine_codes([subj_codes, result["instrument"], result["day"], result["timing"],
                               result["session"]], ok=okk, dense=False)
    dup = _duplicated_ids(key_codes)
    if not dup.any():
        return []
    pos = np.flatnonzero(dup)
    g = key_codes[pos]
    order = np.lexsort((pos, g))
    first_of: dict[Any, Any] = {}
    second_of: dict[Any, Any] = {}
    for gg, pp in zip(g[order], pos[order], strict=False):
        if gg not in first_of:
            first_of[gg] = pp
        elif gg not in second_of:
            second_of[gg] = pp
    other = {p: (second_of[gg] if p == first_of[gg] else first_of[gg]) for gg, p in zip(g, pos, strict=False)}
    rows = s.rows
    return [(dup, "subject", s.frame["subject"], "duplicate_key",
             lambda idx: [f"duplicate key (study, subject, instrument, day, timing, session): the same "
                          f"measurement as row {rows[other[i]]}" for i in idx])]


def _first_followup(codes: np.ndarray, when: np.ndarray, followup: np.ndarray) -> np.ndarray:
    """Per row, the earliest follow-up time of its subject (NaN: none). One ``minimum.at`` pass, no sort
    (a lexsort of the follow-up rows took 2.2 s of 5M rows)."""
    n_groups = int(codes.max()) + 1 if len(codes) and codes.max() >= 0 else 0
    earliest = np.full(n_groups + 1, np.inf)
    ok = followup & (codes >= 0) & ~np.isnan(when)
    np.minimum.at(earliest, codes[ok], when[ok])
    earliest[~np.isfinite(earliest)] = np.nan
    return earliest[np.where(codes >= 0, codes, n_groups)]


def _followup_rows(codes: np.ndarray, when: np.ndarray, followup: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For the rows ``rows`` (of late baselines): the position of their subject's earliest follow-up."""
    wanted = np.isin(codes, codes[rows]) & followup & ~np.isnan(when)
    pos = np.flatnonzero(wanted)
    order = pos[np.lexsort((when[pos], codes[pos]))]  # few rows: only the subjects of late baselines
    first = order[np.r_[True, codes[order][1:] != codes[order][:-1]]] if len(order) else order
    by_code = dict(zip(codes[first].tolist(), first.tolist(), strict=True))
    return np.asarray([by_code.get(int(c), -1) for c in codes[rows]], dtype=np.int64)


def _baseline_order(s: _Check, result: pd.DataFrame, subj_codes: np.ndarray) -> list[Finding]:
    """``baseline_after_followup``: a subject's baseline dated (or, when stated, at a day) after one of its
    follow-ups; the baseline row is named, with the follow-up's row in the message."""
    base = equals_label(result["timing"], "baseline")
    followup = equals_label(result["timing"], "followup") & ~s.col.bad  # against follow-ups already refused there is no order to check
    if not base.any() or not followup.any():
        return []
    dates = result["date"]
    if dates.notna().any():
        when = (dates.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 8.64e13).astype(float)
        when[dates.isna().to_numpy()] = np.nan
        return _after(s, subj_codes, when, base, followup, "date", dates)  # days come from these dates
    return _after(s, subj_codes, result["day"].to_numpy(dtype=float), base, followup, "day", result["day"])


def _after(s: _Check, codes: np.ndarray, when: np.ndarray, base: np.ndarray, followup: np.ndarray, column: str,
           shown: pd.Series) -> list[Finding]:
    earliest = _first_followup(codes, when, followup)
    with np.errstate(invalid="ignore"):
        late = base & (when > earliest)
    if not late.any():
        return []
    rows_arr = s.rows

    def build(idx: np.ndarray) -> list[str]:
        where_idx = _followup_rows(codes, when, followup, idx)
        here, there = take_display(shown, idx), take_display(shown, where_idx)
        return [f"the baseline ({column} {_fmt_when(h)}) is after this subject's follow-up at row "
                f"{int(rows_arr[w])} ({column} {_fmt_when(t)}): is a {column} or the timing wrong?"
                for h, t, w in zip(here, there, where_idx, strict=True)]
    return [(late, column, shown, "baseline_after_followup", build)]


def _fmt_when(v: Any) -> str:
    return v.date().isoformat() if hasattr(v, "date") and callable(v.date) else _fmt(v)


CROSS_ROW_RULES = (_subject_conflicts, _session_conflicts, _duplicate_keys, _baseline_order)


def _cross_row(s: _Check, result: pd.DataFrame) -> None:
    # Three independent checks on integer group codes, run side by side: numpy and pandas release the GIL in
    # their array passes (on 5M rows and 2 cores, the whole of check_long: best of 4, 1.44 s against 1.74 s).
    # Each check returns its findings; they are added to the report in a fixed order (same report whatever
    # the timing).
    subj_codes = combine_codes([result["study"], result["subject"]], ok=result["subject"].notna().to_numpy())
    if s.n >= PARALLEL_MIN_ROWS:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(CROSS_ROW_RULES)) as pool:
            futures = [pool.submit(rule, s, result, subj_codes) for rule in CROSS_ROW_RULES]
            findings = [f.result() for f in futures]
    else:
        findings = [rule(s, result, subj_codes) for rule in CROSS_ROW_RULES]
    for found in findings:
        for mask, c, values, rule_name, messages in found:
            s.col.add(mask, c, values, rule_name, messages)


def check_long(frame: pd.DataFrame, *, file: str | None = None, rows: Sequence[int] | np.ndarray | None = None,
               study: str | None = None, covariates: Sequence[str] | None = None,
               decimal_comma: bool = False, extra_problems: ValidationReport | None = None,
               value_columns: Sequence[str] | np.ndarray | None = None) -> CheckResult:
    """Apply every rule to a long frame with canonical column names, vectorized.

    Parameters
    ----------
    frame : DataFrame
        One row per measurement. Columns with canonical names (``study, subject, arm, condition, clinic,
        session, technique, intent, therapist, duration_min, pressure, body_region, date, instrument, visit,
        day, timing, value``); ``subject``, ``instrument`` and ``value`` are required, ``day`` may instead
        come from ``visit`` labels ("week 4") or ``date``. Any other column is a subject-level covariate.
    file : str, optional
        Name of the source, used in messages.
    rows : array of int, optional
        Row number of each frame row as the user sees it (default: the frame's index).
    study : str, optional
        Study name used when there is no ``study`` column (default ``"study"``).
    covariates : list of str, optional
        Which extra columns are subject covariates (default: all extra columns).
    decimal_comma : bool
        Parse "3,5" as 3.5 in numeric columns.
    extra_problems : ValidationReport, optional
        Problems a reader already found (e.g. encoding); their rows are rejected too.
    value_columns : array of str, optional
        For wide sources: the source column each record's value came from (used in messages instead of
        ``value``).

    Returns
    -------
    CheckResult
        ``frame`` (canonical types, same rows and order; ``study``, ``subject`` and ``instrument`` as
        Categoricals), ``report``, ``bad`` (rejected-row mask) and ``reasons`` (per rejected position).

    Notes
    -----
    The rules are small functions run in order (:data:`ROW_RULES`, then :data:`CROSS_ROW_RULES` among rows
    whose keys are usable); the module docstring lists what each catches.
    """
    if rows is None:
        idx = frame.index
        rows_arr = idx.to_numpy() if pd.api.types.is_integer_dtype(idx.dtype) else np.arange(len(frame))
    else:
        rows_arr = np.asarray(rows)
    s = _Check(frame.reset_index(drop=True), rows_arr, file=file, study=study, decimal_comma=decimal_comma)
    if value_columns is not None:
        s.col.value_columns = np.asarray(value_columns, dtype=object)
    _add_reader_problems(s, extra_problems)
    if not _required_columns(s):  # fatal: nothing can be read without them
        return CheckResult(s.frame, s.col.report(s.n), s.col.bad, s.col.reasons())
    for rule in ROW_RULES:
        rule(s)
    _covariates(s, covariates)
    # no copy: the columns stay the arrays built above (one copy of each, not the dict's and the frame's)
    result = pd.DataFrame(s.out, index=s.index, copy=False)
    s.out = {}
    _cross_row(s, result)
    return CheckResult(result, s.col.report(s.n), s.col.bad, s.col.reasons())


def _conflict_messages(level: str, c: str, result: pd.DataFrame, first: pd.Series | None, first_pos: np.ndarray,
                       rows_arr: np.ndarray, *, subject: bool) -> Any:
    def build(idx: np.ndarray) -> list[str]:
        here = take_display(result[c], idx)
        there = take_display(result[c], first_pos[idx]) if first is None else take_display(first, idx)
        subj = take_display(result["subject"], idx)
        where = "for the same subject" if subject else "for the same session of subject"
        return [f"{level} {c!r} is {h!r} here but {t!r} in row {rows_arr[first_pos[i]]} {where} {s!r}"
                for h, t, s, i in zip(here, there, subj, idx, strict=False)]
    return build


def _duplicated_ids(ids: np.ndarray) -> np.ndarray:
    """Mask of positions whose id (>= 0) occurs more than once (all of them, not just the later ones)."""
    pos = np.flatnonzero(ids >= 0)
    vals = ids[pos]
    order = np.argsort(vals, kind="stable")
    vals = vals[order]
    same = vals[1:] == vals[:-1]
    del vals
    hit = np.zeros(len(order), dtype=bool)
    hit[1:] |= same
    hit[:-1] |= same
    dup = np.zeros(len(ids), dtype=bool)
    dup[pos[order[hit]]] = True
    return dup


def combine_codes(columns: Sequence[pd.Series | np.ndarray], ok: np.ndarray | None = None, *,
                   dense: bool = True) -> np.ndarray:
    """Dense integer group codes for several key columns (-1 where ``ok`` is False; missing is a value).

    Columns may be Categoricals (their codes are used), integer code arrays (as returned by this function),
    or anything :func:`pandas.factorize` accepts. Codes are non-negative and at most a few times the number
    of rows (dense, in order of first appearance, unless the keys' own codes already were that small).
    """
    n = len(columns[0])
    combined = np.zeros(n, dtype=np.int64)
    bound = 1  # every id so far is below this (a Python int: exact, so no pass over the rows to find the max)
    for s in columns:
        if isinstance(s, np.ndarray) and s.dtype.kind in "iu":
            codes = s
            size = int(codes.max(initial=-1)) + 1
        elif not isinstance(s, pd.Series):
            codes, uniques = pd.factorize(np.asarray(s), use_na_sentinel=False)
            size = len(uniques)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()  # small ints: added below without an int64 copy
            size = len(s.cat.categories)
        elif str(s.dtype) == "Int64" and (s.dropna() >= 0).all():
            codes = s.to_numpy(dtype=np.int64, na_value=-1)  # missing stays -1 (a value of its own)
            size = int(codes.max(initial=-1)) + 1
        else:
            codes, uniques = pd.factorize(s, use_na_sentinel=False)  # missing is a value of its own
            size = len(uniques)
        if bound * (size + 1) > 2**62:  # keep the product in range: re-densify first
            combined = pd.factorize(combined)[0].astype(np.int64)
            bound = int(combined.max(initial=0)) + 1
        # in place: one pass per operation, no temporaries the size of the frame
        combined *= size + 1
        combined += codes
        combined += 1
        bound *= size + 1
    if bound <= 4 * n + 16 or combined.max(initial=0) < 4 * n + 16:
        # already small non-negative integers: usable as group ids without hashing (not dense, but bounded)
        combined -= 1  # (codes + 1) > 0 for the first key, so ids start at 0
        if ok is not None:
            combined[~ok] = -1
        return combined
    if not dense:  # unique ids per key, not dense: enough for sorting and equality
        if ok is not None:
            combined[~ok] = -1
        return combined
    out = np.full(n, -1, dtype=np.int64)
    if ok is None:
        return pd.factorize(combined)[0].astype(np.int64)
    if ok.any():
        out[ok] = pd.factorize(combined[ok])[0]
    return out


def raise_or_quarantine(result: CheckResult, *, on_error: OnError, what: str) -> None:
    """Raise DataValidationError for ``on_error="raise"`` when the report has problems, or for fatal problems."""
    check_option("on_error", on_error, ("raise", "quarantine"))
    report = result.report
    if report.ok:
        return
    if on_error == "raise" or report.fatal:
        raise DataValidationError(error_message(report, what=what, quarantine_hint=not report.fatal), report=report)


def rejected_frame(raw: pd.DataFrame, result: CheckResult, rows: np.ndarray | Sequence[int] | None = None
                   ) -> pd.DataFrame:
    """The rejected rows as read (all columns as text), with their row number and the reasons."""
    bad = result.bad
    if rows is None:
        rows = np.arange(len(raw))
    rows = np.asarray(rows)
    if not bad.any():
        out = pd.DataFrame(columns=["row", *[str(c) for c in raw.columns], "reason"])
        return out
    sub = raw.reset_index(drop=True).loc[bad].copy()
    sub = sub.astype(object).where(sub.notna(), None)
    reasons = result.reasons
    sub.insert(0, "row", rows[bad])
    sub["reason"] = pd.Series(np.flatnonzero(bad)).map(reasons).fillna("rejected").to_numpy()
    return sub.reset_index(drop=True)


__all__ = ["check_long", "CheckResult", "ROW_RULES", "CROSS_ROW_RULES", "raise_or_quarantine", "rejected_frame",
           "continuous_days",
           "normalize_instrument", "combine_codes", "first_positions", "take_or_missing", "suggest_name",
           # the report types live in massage_outcomes.schema; re-exported here for the rules' users
           "Problem", "ValidationReport", "error_message"]

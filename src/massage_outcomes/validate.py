"""Validation rules for outcome data: every problem found at once, with the row the user sees in the file.

A reader turns a source into one *long* frame (one row per measurement, canonical column names), and
:func:`check_long` applies every rule to it, vectorized: it returns the frame with canonical types, a
:class:`ValidationReport` and a boolean mask of the rejected rows. :class:`massage_outcomes.Dataset` is built
only from rows that passed. With ``on_error="raise"`` (the default everywhere) any problem raises
:class:`~massage_outcomes.errors.DataValidationError`, which carries the report; with ``on_error="quarantine"``
the bad rows go to ``ds.rejected`` with their reasons, and ``rows read == rows kept + rows rejected``.

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

import difflib
import re
import sys
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.errors import DataValidationError

if TYPE_CHECKING:  # pragma: no cover
    from massage_outcomes.dataset import Dataset

OnError = Literal["raise", "quarantine"]

#: text that means "missing" in a cell (compared after stripping, case-insensitively)
MISSING_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", "none", ".", "#n/a", "missing"})

DEFAULT_STUDY = "study"

#: canonical columns of a long frame, by level
SUBJECT_COLUMNS: tuple[str, ...] = ("arm", "condition", "clinic")
SESSION_COLUMNS: tuple[str, ...] = ("technique", "intent", "therapist", "duration_min", "pressure", "body_region", "date")
OUTCOME_COLUMNS: tuple[str, ...] = ("instrument", "visit", "day", "timing", "session", "value")
KEY_COLUMNS: tuple[str, ...] = ("study", "subject")
#: columns analysis_frame() derives; dropped when a long frame is split again
DERIVED_COLUMNS: tuple[str, ...] = (
    "visit_order", "week", "baseline", "change", "improvement", "pct_improvement",
)
CANONICAL_LONG: tuple[str, ...] = (
    "study", "subject", *SUBJECT_COLUMNS, "session", *SESSION_COLUMNS, *OUTCOME_COLUMNS,
)
REQUIRED_LONG: tuple[str, ...] = ("subject", "instrument", "value")

PROBLEM_COLUMNS: tuple[str, ...] = ("file", "row", "column", "value", "rule", "message")

MAX_DAY = 3650.0  # ten years after baseline
MIN_BASELINE_DAY = -365.0


# ---------------------------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, row as the user sees it, column), what (value) and why (rule, message).

    ``row`` is ``None`` for problems of the whole file or of a whole column (a missing column, an empty file).
    """

    file: str | None
    row: int | None
    column: str | None
    value: Any
    rule: str
    message: str

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class ValidationReport:
    """Every problem found in a source, as a list of :class:`Problem` (file, row, column, value, rule, message).

    Rows are numbered as the user sees them: in a CSV the header is line 1, so the first data row is 2; in an
    Excel sheet the sheet's row number; in a DataFrame the index label.

    Examples
    --------
    >>> from massage_outcomes.validate import Problem, ValidationReport
    >>> report = ValidationReport([Problem("trial.csv", 7, "value", "11", "out_of_range",
    ...                                    "pain_nrs value 11 is outside 0-10")])
    >>> report.ok, len(report)
    (False, 1)
    >>> print(report)
    1 problem in trial.csv:
      - trial.csv, row 7, column 'value': pain_nrs value 11 is outside 0-10
    """

    def __init__(self, problems: Iterable[Problem] | pd.DataFrame = (), *, file: str | None = None,
                 rows_read: int | None = None) -> None:
        if isinstance(problems, pd.DataFrame):
            frame = problems.reindex(columns=list(PROBLEM_COLUMNS))
        else:
            frame = pd.DataFrame([p.__dict__ for p in problems], columns=list(PROBLEM_COLUMNS))
        if file is not None:
            frame["file"] = frame["file"].astype(object).where(frame["file"].notna(), file)
        self._frame = frame.reset_index(drop=True)
        self.file = file
        self.rows_read = rows_read

    # -- views ----------------------------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True when no rule was broken."""
        return len(self._frame) == 0

    @property
    def problems(self) -> list[Problem]:
        """The problems as :class:`Problem` objects (file order, then rule)."""
        return [Problem(*(_none_if_na(v) for v in rec)) for rec in self._frame.itertuples(index=False, name=None)]

    def __len__(self) -> int:
        return len(self._frame)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.problems)

    def __bool__(self) -> bool:  # a report is truthy when it holds problems
        return not self.ok

    def to_frame(self) -> pd.DataFrame:
        """One row per problem: file, row, column, value, rule, message (row is a nullable integer)."""
        out = self._frame.copy()
        out["row"] = pd.array(out["row"], dtype="Int64")
        for col in ("file", "column", "rule", "message"):
            out[col] = out[col].astype(object)
        out["value"] = out["value"].map(lambda v: None if _isna(v) else str(v)).astype(object)
        return out

    @property
    def rows(self) -> list[int]:
        """Sorted row numbers that have at least one problem."""
        rows = pd.to_numeric(self._frame["row"], errors="coerce").dropna().astype(int)
        return sorted(set(rows.tolist()))

    def rules(self) -> pd.Series:
        """Number of problems per rule."""
        return self._frame["rule"].value_counts()

    def extend(self, other: ValidationReport | Iterable[Problem]) -> ValidationReport:
        """A new report with the problems of both."""
        other_frame = other._frame if isinstance(other, ValidationReport) else ValidationReport(other)._frame
        frames = [f for f in (self._frame, other_frame) if len(f)]
        merged = pd.concat(frames, ignore_index=True) if frames else self._frame
        return ValidationReport(merged, file=self.file, rows_read=self.rows_read)

    def summary(self, *, limit: int = 10) -> str:
        """The first ``limit`` problems in plain words, one a line."""
        n = len(self._frame)
        if n == 0:
            where = f" in {self.file}" if self.file else ""
            return f"no problems found{where}"
        where = f" in {self.file}" if self.file else ""
        files = self._frame["file"].dropna().unique()
        if not where and len(files) == 1:
            where = f" in {files[0]}"
        lines = [f"{n} problem{'s' if n != 1 else ''}{where}:"]
        for p in ValidationReport(self._frame.head(limit)).problems:
            lines.append(f"  - {p}")
        if n > limit:
            counts = ", ".join(f"{rule}: {k}" for rule, k in self.rules().items())
            lines.append(f"  ... and {n - limit} more ({counts}); see err.report.to_frame() for all")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<ValidationReport: {len(self)} problem{'s' if len(self) != 1 else ''}>"

    def _repr_html_(self) -> str:
        if self.ok:
            return "<p>ValidationReport: no problems</p>"
        return f"<p>ValidationReport: {len(self)} problems</p>" + self.to_frame().head(50).to_html(index=False)

    def raise_if_problems(self, *, what: str = "the data") -> None:
        """Raise :class:`DataValidationError` (carrying this report) when there is any problem."""
        if not self.ok:
            raise DataValidationError(error_message(self, what=what), report=self)


def error_message(report: ValidationReport, *, what: str = "the data", quarantine_hint: bool = True) -> str:
    """The message of a DataValidationError: what is wrong, where, and what to do."""
    hint = ("Fix the export (or map the columns/values with mapping=...) and read again, or pass "
            "on_error='quarantine' to keep the good rows and inspect ds.rejected.")
    fatal = report._frame["row"].isna().all() and len(report) > 0
    if fatal or not quarantine_hint:
        hint = "Fix the file (or rename/recode with mapping=...) and read again."
    return f"{what} failed validation: {report.summary(limit=8)}\n{hint}"


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _none_if_na(v: Any) -> Any:
    if _isna(v):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


# ---------------------------------------------------------------------------------------------------------------
# vectorized helpers
# ---------------------------------------------------------------------------------------------------------------
class _Collector:
    """Accumulates problems as small frames (vectorized) and the rows they reject."""

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
        vals = pd.Series(values).to_numpy(dtype=object)[idx] if not np.isscalar(values) and values is not None \
            else np.full(len(idx), values, dtype=object)
        if isinstance(messages, str):
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


def _as_text(values: pd.Series) -> pd.Series:
    """A column as the pandas string dtype, with missing tokens ("", "NA", "N/A"...) as missing.

    Whole-number floats print without ".0" (subject 12.0 -> "12").
    """
    s = values
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if pd.api.types.is_string_dtype(cats) or cats.dtype == object:
            s = s.astype(object)
    if pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(arr)
        if finite.any() and np.all(arr[finite] == np.round(arr[finite])):
            s = pd.Series(pd.array(np.where(finite, arr, np.nan)).astype("Int64"), index=s.index)
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype(object)
    out = s.astype("str") if not isinstance(s.dtype, pd.StringDtype) else s
    if out.dtype != "str":
        out = out.astype("str")
    stripped = out.str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS)
    return stripped.where(~missing)


def _missing_text(values: pd.Series) -> np.ndarray:
    """True where a raw cell counts as missing (NA or a missing token)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.isna().to_numpy()
    return _as_text(values).isna().to_numpy()


def _to_number(values: pd.Series, *, decimal_comma: bool = False) -> tuple[pd.Series, np.ndarray]:
    """Parse a column to float. Returns the numbers and a mask of cells that were text but not numbers."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index), \
            np.zeros(len(values), dtype=bool)
    text = _as_text(values)
    if decimal_comma:
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    numbers = pd.Series(np.asarray(numbers, dtype=float), index=values.index)
    bad = (text.notna() & numbers.isna()).to_numpy()
    return numbers, bad


def _number_message(raw: pd.Series, column: str) -> pd.Series:
    """Plain words for text that is not a number."""
    text = raw.astype("str")
    frac = text.str.fullmatch(r"\s*-?\d+(\.\d+)?\s*/\s*\d+(\.\d+)?\s*", na=False)
    comma = text.str.fullmatch(r"\s*-?\d+,\d+\s*", na=False)
    base = f"{column} must be a number; got " + text.map(repr)
    msg = base + " (write the number alone)"
    msg = msg.where(~frac, base + " (looks like a fraction: write the score alone, e.g. 7 for 7/10)")
    msg = msg.where(~comma, base + " (a decimal comma: pass decimal=',' or use a point)")
    return msg


def suggest_name(name: str, options: Iterable[str]) -> str | None:
    """The closest of ``options`` to ``name`` (difflib), or None."""
    opts = [str(o) for o in options]
    match = difflib.get_close_matches(str(name).lower(), [o.lower() for o in opts], n=1, cutoff=0.6)
    if not match:
        return None
    lowered = {o.lower(): o for o in opts}
    return lowered[match[0]]


def _instrument_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for inst in _instruments.all_instruments():
        lookup[vocab._key(inst.key)] = inst.key
    return lookup


def normalize_instrument(values: pd.Series) -> tuple[pd.Series, np.ndarray, pd.Series]:
    """Map instrument names to registered keys (case/punctuation-insensitive), vectorized over distinct values.

    Returns the keys, a mask of unknown names and a message per row (empty where known).
    """
    text = _as_text(values)
    lookup = _instrument_lookup()
    uniques = pd.unique(text.dropna())
    mapping = {u: lookup.get(vocab._key(u)) for u in uniques}
    mapped = text.map(mapping)
    unknown = (text.notna() & mapped.isna()).to_numpy()
    messages = pd.Series("", index=values.index, dtype=object)
    if unknown.any():
        msg_for = {}
        for u in pd.unique(text[unknown]):
            hint = difflib.get_close_matches(vocab._key(u), list(lookup), n=1, cutoff=0.5)
            did = f" Did you mean {lookup[hint[0]]!r}?" if hint else ""
            msg_for[u] = (f"unknown instrument {u!r}.{did} Register it with "
                          "massage_outcomes.instruments.register(...) or recode it with mapping=.")
        messages = text.map(msg_for).astype(object).fillna("")
    return mapped.astype("str"), unknown, messages


def _normalize_vocab(values: pd.Series, vocabulary: vocab.Vocabulary) -> tuple[pd.Series, np.ndarray, pd.Series]:
    text = _as_text(values)
    mapped, unknown = vocabulary.normalize_series(text)
    unknown = np.asarray(unknown, dtype=bool)
    messages = pd.Series("", index=values.index, dtype=object)
    if unknown.any():
        msg_for = {u: vocab.unknown_term_message(vocabulary, u) for u in pd.unique(text[unknown])}
        messages = text.map(msg_for).astype(object).fillna("")
    cat = pd.Series(pd.Categorical(mapped, categories=vocabulary.dtype().categories), index=values.index)
    return cat, unknown, messages


_VISIT_DAY = re.compile(
    r"^\s*(?P<unit>baseline|screening|bl|day|d|week|wk|w|month|mo|m|year|yr|y)[\s_\-]*(?P<num>-?\d+(?:\.\d+)?)?\s*$",
    re.IGNORECASE,
)
_UNIT_DAYS = {"day": 1.0, "d": 1.0, "week": 7.0, "wk": 7.0, "w": 7.0, "month": 30.4375, "mo": 30.4375, "m": 30.4375,
              "year": 365.25, "yr": 365.25, "y": 365.25}


def day_from_visit(visit: pd.Series) -> pd.Series:
    """Days since baseline read from visit labels such as "baseline", "week 4", "week_10", "month 6", "day 3".

    Labels it cannot read give NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> day_from_visit(pd.Series(["baseline", "week 4", "Week_10", "month 6", "end"])).tolist()
    [0.0, 28.0, 70.0, 182.625, nan]
    """
    text = _as_text(pd.Series(visit))
    uniques = pd.unique(text.dropna())
    mapping: dict[str, float] = {}
    for u in uniques:
        m = _VISIT_DAY.match(u)
        if not m:
            continue
        unit = m.group("unit").lower()
        if unit in ("baseline", "screening", "bl"):
            mapping[u] = 0.0
        elif m.group("num") is not None:
            mapping[u] = float(m.group("num")) * _UNIT_DAYS[unit]
    return pd.Series(text.map(mapping), dtype=float, index=text.index)


def _first_in_group(codes: np.ndarray, values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """For each row: the group's first non-missing value and the position of the row that holds it."""
    frame = pd.DataFrame({"g": codes, "v": values.to_numpy(), "pos": np.arange(len(codes))})
    present = frame[frame["v"].notna() & (frame["g"] >= 0)]
    firsts = present.drop_duplicates("g")
    first_value = pd.Series(firsts["v"].to_numpy(), index=firsts["g"].to_numpy())
    first_pos = pd.Series(firsts["pos"].to_numpy(), index=firsts["g"].to_numpy())
    fv = pd.Series(codes).map(first_value)
    fp = pd.Series(codes).map(first_pos).to_numpy()
    return fv.set_axis(values.index), fp


def _conflicts(col: pd.Series, codes: np.ndarray) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """Rows whose non-missing value differs from the first non-missing value of their group."""
    first, first_pos = _first_in_group(codes, col)
    has = col.notna().to_numpy() & first.notna().to_numpy()
    if isinstance(col.dtype, pd.CategoricalDtype):
        a = col.astype(object)
        b = first.astype(object)
    else:
        a, b = col, first
    differ = np.zeros(len(col), dtype=bool)
    if has.any():
        differ[has] = (a[has].to_numpy() != b[has].to_numpy())
    return differ, first, first_pos


def _dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]"), np.zeros(len(values), dtype=bool)
    text = _as_text(values)
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    retry = text.notna() & parsed.isna()
    if retry.any():
        again = pd.to_datetime(text[retry], errors="coerce", format="mixed", dayfirst=False)
        parsed = parsed.where(~retry, again)
    parsed = pd.Series(parsed, index=values.index).astype("datetime64[ns]")
    bad = (text.notna() & parsed.isna()).to_numpy()
    return parsed, bad


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
        return self.frame.loc[~self.bad].reset_index(drop=True)


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
        ``frame`` (canonical types, same rows and order), ``report``, ``bad`` (rejected-row mask) and
        ``reasons`` (per rejected position).
    """
    frame = frame.reset_index(drop=False) if rows is None else frame.reset_index(drop=True)
    if rows is None:
        index_col = frame.columns[0]
        rows_arr = frame[index_col].to_numpy()
        frame = frame.drop(columns=index_col)
        if not pd.api.types.is_integer_dtype(rows_arr.dtype):
            rows_arr = np.arange(len(frame))
    else:
        rows_arr = np.asarray(rows)
    n = len(frame)
    col = _Collector(n, rows_arr, file)
    if value_columns is not None:
        col.value_columns = np.asarray(value_columns, dtype=object)
    if extra_problems is not None and len(extra_problems):
        ex = extra_problems._frame.copy()
        pos_of_row = pd.Series(np.arange(n), index=rows_arr)
        pos_of_row = pos_of_row[~pos_of_row.index.duplicated()]
        ex["_pos"] = ex["row"].map(pos_of_row).fillna(-1).astype(int)
        foreign = ex["file"].notna().to_numpy() & (ex["file"] != file).to_numpy()
        ex.loc[foreign, "_pos"] = -1
        col.frames.append(ex)
        hit = ex["_pos"].to_numpy()
        col.bad[hit[hit >= 0]] = True

    # -- required columns (fatal: nothing can be read without them) -----------------------------------------
    if n == 0:
        col.fatal(None, "empty", "the file has a header but no data rows" if len(frame.columns) else
                  "the file is empty (no header, no rows)")
        return CheckResult(frame, col.report(0), col.bad, col.reasons())
    missing_cols = [c for c in REQUIRED_LONG if c not in frame.columns]
    if "day" not in frame.columns and "visit" not in frame.columns and "date" not in frame.columns:
        missing_cols.append("day")
    present = [str(c) for c in frame.columns]
    for c in missing_cols:
        hint = suggest_name(c, [p for p in present if p not in CANONICAL_LONG])
        did = f" Did you mean {hint!r}? Pass mapping={{{hint!r}: {c!r}}}." if hint else \
            f" Columns found: {', '.join(present[:12])}{' ...' if len(present) > 12 else ''}."
        if c == "day":
            msg = "required column 'day' (days since baseline) is missing, and there is no 'visit' or 'date' to derive it from." + did
        else:
            msg = f"required column {c!r} is missing." + did
        if len(present) == 1 and any(d in present[0] for d in (";", "\t", "|", ",")):
            msg += " The header looks like one column: is the delimiter right?"
        col.fatal(c, "required_column", msg)
    if missing_cols:
        return CheckResult(frame, col.report(n), col.bad, col.reasons())

    out = pd.DataFrame(index=frame.index)

    # -- keys ----------------------------------------------------------------------------------------------
    if "study" in frame.columns:
        out["study"] = _as_text(frame["study"]).fillna(study or DEFAULT_STUDY)
    else:
        out["study"] = pd.Series(study or DEFAULT_STUDY, index=frame.index, dtype="str")
    out["subject"] = _as_text(frame["subject"])
    col.add(out["subject"].isna(), "subject", frame["subject"], "missing_value", "subject is empty")

    # -- subject-level vocabularies / text -----------------------------------------------------------------
    out["arm"] = _as_text(frame["arm"]) if "arm" in frame.columns else pd.Series(np.nan, index=frame.index, dtype="str")
    if "condition" in frame.columns:
        out["condition"], unknown, msgs = _normalize_vocab(frame["condition"], vocab.CONDITION)
        col.add(unknown, "condition", frame["condition"], "unknown_term", msgs)
    else:
        out["condition"] = pd.Categorical([None] * n, categories=vocab.CONDITION.dtype().categories)
    out["clinic"] = _as_text(frame["clinic"]) if "clinic" in frame.columns else pd.Series(np.nan, index=frame.index, dtype="str")

    # -- session --------------------------------------------------------------------------------------------
    if "session" in frame.columns:
        num, bad = _to_number(frame["session"], decimal_comma=decimal_comma)
        col.add(bad, "session", frame["session"], "not_a_number", _number_message(frame["session"], "session"))
        nonint = num.notna().to_numpy() & ~np.isclose(num.fillna(0).to_numpy(), np.round(num.fillna(0).to_numpy()))
        col.add(nonint, "session", frame["session"], "not_a_number", "session must be a whole number")
        num = num.where(~nonint)
        out["session"] = pd.array(np.round(num.to_numpy()), dtype="Int64")
    else:
        out["session"] = pd.array([pd.NA] * n, dtype="Int64")
    for c, vocabulary in (("technique", vocab.TECHNIQUE), ("intent", vocab.INTENT)):
        if c in frame.columns:
            out[c], unknown, msgs = _normalize_vocab(frame[c], vocabulary)
            col.add(unknown, c, frame[c], "unknown_term", msgs)
        else:
            out[c] = pd.Categorical([None] * n, categories=vocabulary.dtype().categories)
    for c in ("therapist", "pressure", "body_region"):
        out[c] = _as_text(frame[c]) if c in frame.columns else pd.Series(np.nan, index=frame.index, dtype="str")
    if "duration_min" in frame.columns:
        num, bad = _to_number(frame["duration_min"], decimal_comma=decimal_comma)
        col.add(bad, "duration_min", frame["duration_min"], "not_a_number",
                _number_message(frame["duration_min"], "duration_min"))
        neg = (num < 0).to_numpy() | (num > 24 * 60).to_numpy()
        col.add(neg, "duration_min", frame["duration_min"], "out_of_range",
                "duration_min must be between 0 and 1440 minutes")
        out["duration_min"] = num.where(~neg)
    else:
        out["duration_min"] = np.nan
    if "date" in frame.columns:
        out["date"], bad = _dates(frame["date"])
        col.add(bad, "date", frame["date"], "bad_date",
                "date " + _as_text(frame["date"]).astype(object).map(repr) +
                " cannot be parsed (write dates as YYYY-MM-DD)")
    else:
        out["date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")

    # -- outcome columns -----------------------------------------------------------------------------------
    out["instrument"], unknown, msgs = normalize_instrument(frame["instrument"])
    col.add(unknown, "instrument", frame["instrument"], "unknown_term", msgs)
    col.add(_as_text(frame["instrument"]).isna().to_numpy(), "instrument", frame["instrument"], "missing_value",
            "instrument is empty")
    out["visit"] = _as_text(frame["visit"]) if "visit" in frame.columns else pd.Series(np.nan, index=frame.index, dtype="str")

    # timing: stated, else derived (baseline at day <= 0 without session, followup otherwise)
    if "timing" in frame.columns:
        timing, unknown, msgs = _normalize_vocab(frame["timing"], vocab.TIMING)
        col.add(unknown, "timing", frame["timing"], "unknown_term", msgs)
        stated = ~timing.isna()
    else:
        timing = pd.Series(pd.Categorical([None] * n, categories=vocab.TIMING.dtype().categories), index=frame.index)
        stated = pd.Series(False, index=frame.index)

    # day: stated, else from the visit label, else from dates
    if "day" in frame.columns:
        day, bad = _to_number(frame["day"], decimal_comma=decimal_comma)
        col.add(bad, "day", frame["day"], "not_a_number", _number_message(frame["day"], "day"))
    else:
        day = pd.Series(np.nan, index=frame.index)
        bad = np.zeros(n, dtype=bool)
    if "visit" in frame.columns:
        day = day.where(day.notna() | pd.Series(bad, index=frame.index), day_from_visit(out["visit"]))
    if "date" in frame.columns and day.isna().any():
        subj = out["study"].astype(object) + "\x1f" + out["subject"].astype(object)
        first_date = out["date"].groupby(subj).transform("min")
        from_date = (out["date"] - first_date).dt.total_seconds() / 86400.0
        day = day.where(day.notna() | pd.Series(bad, index=frame.index), from_date)
    missing_day = day.isna().to_numpy() & ~bad
    col.add(missing_day, "day", frame["day"] if "day" in frame.columns else None, "missing_value",
            "day is empty and cannot be derived from visit or date")
    finite = np.isfinite(day.fillna(0).to_numpy())
    col.add(~finite, "day", frame["day"] if "day" in frame.columns else day, "impossible_day", "day is not finite")
    day = day.where(finite)

    # derive timing where not stated
    sess_na = out["session"].isna().to_numpy()
    derived = np.where(day.fillna(1).to_numpy() <= 0, "baseline", "followup")
    derived_t = pd.Series(pd.Categorical(derived, categories=timing.cat.categories), index=frame.index)
    no_timing = (~stated.to_numpy()) & ~np.asarray(unknown if "timing" in frame.columns else np.zeros(n, bool))
    timing = timing.where(~pd.Series(no_timing & sess_na, index=frame.index), derived_t)
    col.add(no_timing & ~sess_na, "timing", frame["timing"] if "timing" in frame.columns else None,
            "missing_value", "timing is empty on a session row: say 'pre' or 'post'")
    out["timing"] = timing
    tim = timing.astype(object).to_numpy()

    is_base = tim == "baseline"
    dayv = day.to_numpy()
    neg = (dayv < 0) & ~is_base
    col.add(neg, "day", frame["day"] if "day" in frame.columns else day, "negative_day",
            "day " + day.map(lambda v: f"{v:g}") + " is before baseline on a non-baseline row")
    impossible = (dayv > MAX_DAY) | (is_base & (dayv < MIN_BASELINE_DAY))
    col.add(impossible, "day", frame["day"] if "day" in frame.columns else day, "impossible_day",
            "day " + day.map(lambda v: f"{v:g}") + f" is impossible (allowed {MIN_BASELINE_DAY:g} to {MAX_DAY:g})")
    out["day"] = day.astype(float)

    # pre/post without a session
    prepost = (tim == "pre") | (tim == "post")
    col.add(prepost & sess_na, "session", frame["session"] if "session" in frame.columns else None,
            "session_missing", "a pre/post-session rating has no session number: which session does it belong to?")

    # value: a number, present, finite and in the instrument's range
    value, bad = _to_number(frame["value"], decimal_comma=decimal_comma)
    col.add(bad, "value", frame["value"], "not_a_number", _number_message(frame["value"], "value"))
    col.add(value.isna().to_numpy() & ~bad, "value", frame["value"], "missing_value",
            "value is empty (a missing measurement is a row you leave out, not an empty cell)")
    vv = value.to_numpy()
    with np.errstate(invalid="ignore"):
        nonfinite = np.isinf(vv)
    col.add(nonfinite, "value", frame["value"], "out_of_range", "value is not finite")
    inst = out["instrument"]
    known = inst.notna().to_numpy()
    if known.any():
        keys = pd.unique(inst[known])
        lo = inst.map({k: _instruments.get(k).min for k in keys}).to_numpy(dtype=float, na_value=np.nan)
        hi = inst.map({k: _instruments.get(k).max for k in keys}).to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            outside = np.isfinite(vv) & ((vv < lo) | (vv > hi))
        if outside.any():
            msgs = (inst.astype(object) + " value " + value.map(lambda v: f"{v:g}") + " is outside its range " +
                    pd.Series(lo, index=inst.index).map(lambda v: f"{v:g}") + "-" +
                    pd.Series(hi, index=inst.index).map(lambda v: f"{v:g}") +
                    " (wrong instrument, or a different scoring? register it with instruments.with_range)")
            col.add(outside, "value", frame["value"], "out_of_range", msgs)
    out["value"] = value.where(~nonfinite)

    # -- covariates (subject-level extra columns) ----------------------------------------------------------
    known_cols = set(CANONICAL_LONG) | set(DERIVED_COLUMNS) | {"week"}
    extra = [c for c in frame.columns if c not in known_cols]
    if covariates is not None:
        extra = [c for c in extra if c in set(covariates)]
    for c in extra:
        s = frame[c]
        if pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
            s = _as_text(s)
        out[c] = s

    # -- cross-row rules (only among rows with usable keys) ------------------------------------------------
    key_ok = out["subject"].notna().to_numpy()
    subj_codes = _group_codes(out, ["study", "subject"], key_ok)
    for c in ("arm", "condition", "clinic", *extra):
        differ, first, first_pos = _conflicts(out[c], subj_codes)
        if differ.any():
            first_rows = pd.Series(rows_arr[np.where(differ, first_pos, 0).astype(int)], index=out.index)
            msgs = (f"subject-level {c!r} is " + out[c].astype(object).map(repr) + " here but " +
                    first.astype(object).map(repr) + " in row " + first_rows.astype(str) + " for the same subject " +
                    out["subject"].astype(object).map(repr))
            col.add(differ, c, frame[c] if c in frame.columns else out[c], "subject_conflict", msgs)
    sess_ok = key_ok & ~sess_na
    sess_codes = _group_codes(out, ["study", "subject", "session"], sess_ok)
    for c in ("technique", "intent", "therapist", "duration_min", "pressure", "body_region", "date"):
        if c not in frame.columns:
            continue
        differ, first, first_pos = _conflicts(out[c], sess_codes)
        if differ.any():
            first_rows = pd.Series(rows_arr[np.where(differ, first_pos, 0).astype(int)], index=out.index)
            msgs = (f"session-level {c!r} is " + out[c].astype(object).map(repr) + " here but " +
                    first.astype(object).map(repr) + " in row " + first_rows.astype(str) + " for the same session")
            col.add(differ, c, frame[c], "session_conflict", msgs)

    # duplicate keys (name both rows); all rows of a duplicated key are rejected: we cannot tell which is right
    okk = key_ok & known & out["day"].notna().to_numpy() & out["timing"].notna().to_numpy()
    key_cols = ["study", "subject", "instrument", "day", "timing", "session"]
    dup_codes = _group_codes(out, key_cols, okk)
    if okk.any():
        counts = np.bincount(dup_codes[dup_codes >= 0], minlength=dup_codes.max() + 1)
        dup = (dup_codes >= 0) & (counts[np.maximum(dup_codes, 0)] > 1)
        if dup.any():
            pos = np.arange(n)
            firsts = pd.Series(pos[dup]).groupby(dup_codes[dup]).transform("min").to_numpy()
            seconds = pd.Series(pos[dup]).groupby(dup_codes[dup]).transform(
                lambda s: s.iloc[1] if len(s) > 1 else s.iloc[0]).to_numpy()
            other = np.where(pos[dup] == firsts, seconds, firsts)
            msgs_arr = np.empty(n, dtype=object)
            msgs_arr[dup] = [f"duplicate key (study, subject, instrument, day, timing, session): same as row "
                             f"{rows_arr[o]}" for o in other]
            col.add(dup, "subject", out["subject"], "duplicate_key", pd.Series(msgs_arr))

    return CheckResult(out, col.report(n), col.bad, col.reasons())


def _group_codes(frame: pd.DataFrame, cols: list[str], ok: np.ndarray) -> np.ndarray:
    """Integer group codes for the key columns (-1 where ``ok`` is False), vectorized."""
    codes = np.full(len(frame), -1, dtype=np.int64)
    if not ok.any():
        return codes
    sub = frame.loc[ok, cols]
    codes[ok] = sub.groupby(cols, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    return codes


# ---------------------------------------------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------------------------------------------
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
        frame = data
        if mapping:
            from massage_outcomes.io._mapping import apply_mapping

            frame = apply_mapping(frame, mapping)
        from massage_outcomes.io._mapping import canonical_names

        frame = canonical_names(frame)
        if layout == "wide" or wide is not None:
            from massage_outcomes.io._wide import wide_to_long

            frame, rows = wide_to_long(frame, wide=wide, rows=np.arange(len(frame)))
            return check_long(frame, rows=rows, study=study).report
        return check_long(frame, study=study).report
    from massage_outcomes.io import read

    try:
        ds = read(data, mapping=mapping, layout=layout, wide=wide, encoding=encoding, sheet=sheet,  # type: ignore[arg-type]
                  on_error="quarantine", study=study)
    except DataValidationError as err:
        if isinstance(err.report, ValidationReport):
            return err.report
        return ValidationReport([Problem(str(data), None, None, None, "unreadable", str(err))], file=str(data))
    report = ds.source.get("report") if isinstance(ds.source, dict) else None
    return report if isinstance(report, ValidationReport) else ValidationReport(file=str(data))


def raise_or_quarantine(result: CheckResult, *, on_error: OnError, what: str) -> None:
    """Raise DataValidationError for ``on_error="raise"`` when the report has problems, or for fatal problems."""
    if on_error not in ("raise", "quarantine"):
        raise ValueError(f"on_error must be 'raise' or 'quarantine'; got {on_error!r}")
    report = result.report
    if report.ok:
        return
    fatal = report._frame["row"].isna()
    if on_error == "raise" or fatal.any():
        raise DataValidationError(error_message(report, what=what, quarantine_hint=not fatal.any()), report=report)


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


class _CallableModule(types.ModuleType):
    """``massage_outcomes.validate`` is both this module and the function: importing the submodule makes the
    package attribute the module, so the module itself forwards calls to :func:`validate`."""

    def __call__(self, data: Any, **kwargs: Any) -> ValidationReport:
        return validate(data, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["Problem", "ValidationReport", "validate", "check_long", "CheckResult", "DataValidationError",
           "day_from_visit", "MISSING_TOKENS", "error_message", "suggest_name"]

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.errors import DataValidationError

if TYPE_CHECKING:  # pragma: no cover
    pass

OnError = Literal["raise", "quarantine"]

#: text that means "missing" in a cell (compared after stripping, case-insensitively)
#: ("none" is not one of them: it is the technique of usual care and wait-list arms)
MISSING_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", ".", "#n/a", "missing"})

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
    >>> from massage_outcomes.validation import Problem, ValidationReport
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
        frame["row"] = pd.array(pd.to_numeric(frame["row"].astype(object), errors="coerce"), dtype="Int64")
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

    def __iter__(self) -> Iterator[Problem]:
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
            vals = _take_display(values, idx)
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


def release_memory(n_rows: int = 0) -> None:
    """Give freed memory back to the operating system after a large step (big reads only).

    The Arrow memory pool keeps freed buffers and glibc keeps freed medium-sized blocks on its heap (its mmap
    threshold grows after large frees), so without this the resident size of a big read stays at its
    high-water mark. Costs a few milliseconds; does nothing on small inputs or other platforms.
    """
    if n_rows < 200_000:
        return
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - pyarrow missing or too old
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def _take_display(values: Any, idx: np.ndarray) -> np.ndarray:
    """The cells at positions ``idx`` as plain Python objects (for the report)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    sub = s.iloc[idx]
    if isinstance(sub.dtype, pd.CategoricalDtype):
        sub = sub.astype(object)
    out = sub.to_numpy(dtype=object)
    return np.array([None if _isna(v) else (v.item() if isinstance(v, np.generic) else v) for v in out],
                    dtype=object)


# ---------------------------------------------------------------------------------------------------------------
# text columns: cleaned once per distinct value (categoricals), never once per row
# ---------------------------------------------------------------------------------------------------------------
def _clean_scalar_strings(values: pd.Series) -> pd.Series:
    """Strip and blank out missing tokens on a (small) string Series."""
    stripped = values.astype("str").str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS)
    return stripped.where(~missing)


def _format_category_values(cats: pd.Index) -> pd.Series:
    """Category values as text; whole-number floats lose their '.0'."""
    if pd.api.types.is_float_dtype(cats.dtype):
        arr = np.asarray(cats, dtype=float)
        fin = np.isfinite(arr)
        if fin.all() and np.all(arr == np.round(arr)):
            return pd.Series(arr.astype(np.int64).astype(str), dtype="str")
    if pd.api.types.is_datetime64_any_dtype(cats.dtype):
        return pd.Series(cats.astype(str), dtype="str")
    return pd.Series(np.asarray(cats, dtype=object).astype(str) if cats.dtype == object else cats.astype("str"),
                     dtype="str")


def as_category(values: pd.Series) -> pd.Series:
    """A text column as a Categorical with cleaned categories (stripped; "", "NA", "N/A"... are missing).

    Categoricals are cleaned through their categories only; other columns are factorized first.
    """
    s = values
    if not isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_float_dtype(s.dtype):
            arr = s.to_numpy(dtype=float, na_value=np.nan)
            fin = np.isfinite(arr)
            if fin.any() and np.all(arr[fin] == np.round(arr[fin])):
                s = pd.Series(pd.array(np.where(fin, arr, np.nan)).astype("Int64"), index=s.index)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        s = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object)
                                                if len(uniques) else pd.Index([], dtype=object)), index=values.index)
    cats = s.cat.categories
    cleaned = _clean_scalar_strings(_format_category_values(cats))
    uniq = pd.unique(cleaned.dropna().to_numpy())
    lookup = pd.Index(uniq)
    remap = lookup.get_indexer(cleaned.to_numpy())  # -1 for missing
    remap = np.where(cleaned.isna().to_numpy(), -1, remap)
    codes = s.cat.codes.to_numpy()
    if not np.array_equal(remap, np.arange(len(remap))):
        # one gather over the rows; the trailing -1 is where missing codes (-1) land
        codes = np.append(remap, -1).astype(_code_dtype(len(uniq)))[codes]
    # (already clean and distinct categories, the usual case, keep the codes as they are: no pass over the rows)
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(uniq, dtype="str"), validate=False)
    return pd.Series(cat, index=values.index)


def _code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps for Categorical codes over ``n_categories`` (so it makes no copy)."""
    for t in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(t).max:
            return t
    return np.int64


def category_to_str(values: pd.Series) -> pd.Series:
    """A Categorical of strings as the pandas string dtype, without building Python objects per row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values if values.dtype == "str" else values.astype("str")
    import pyarrow as pa

    cats = values.cat.categories
    codes = values.cat.codes.to_numpy()
    # large_string: the type pandas' string arrays hold, so the result is not cast (copied) once more
    dictionary = pa.array(np.asarray(cats.astype("str"), dtype=object) if len(cats) else [], type=pa.large_string())
    taken = dictionary.take(pa.array(codes, mask=codes < 0)) if len(codes) else pa.array([], type=pa.large_string())
    return pd.Series(pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan)), index=values.index)


def _as_text(values: pd.Series) -> pd.Series:
    """A column as the pandas string dtype, with missing tokens ("", "NA", "N/A"...) as missing."""
    return category_to_str(as_category(values))


def _missing_text(values: pd.Series) -> np.ndarray:
    """True where a raw cell counts as missing (NA or a missing token)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.isna().to_numpy()
    return as_category(values).isna().to_numpy()


def _parse_numbers(text: pd.Series, decimal_comma: bool) -> np.ndarray:
    if decimal_comma:
        text = text.str.replace(",", ".", regex=False)
    return np.asarray(pd.to_numeric(text, errors="coerce"), dtype=float)


def _to_number(values: pd.Series, *, decimal_comma: bool = False) -> tuple[pd.Series, np.ndarray]:
    """Parse a column to float. Returns the numbers and a mask of cells that were text but not numbers."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        if values.dtype == np.float64:  # as read: shared (copy-on-write), not duplicated
            return values, np.zeros(len(values), dtype=bool)
        return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index), \
            np.zeros(len(values), dtype=bool)
    cat = as_category(values)
    cats = pd.Series(cat.cat.categories, dtype="str")
    parsed = _parse_numbers(cats, decimal_comma)
    codes = cat.cat.codes.to_numpy()
    numbers = np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan)
    bad = (codes >= 0) & np.isnan(numbers)
    return pd.Series(numbers, index=values.index, copy=False), bad


def _number_messages(raw: pd.Series, column: str) -> Any:
    """A lazy message builder: plain words for text that is not a number."""
    def build(idx: np.ndarray) -> list[str]:
        out = []
        for v in _take_display(raw, idx):
            text = str(v).strip()
            base = f"{column} must be a number; got {text!r}"
            if re.fullmatch(r"-?\d+(\.\d+)?\s*/\s*\d+(\.\d+)?", text):
                out.append(base + " (looks like a fraction: write the score alone, e.g. 7 for 7/10)")
            elif re.fullmatch(r"-?\d+,\d+", text):
                out.append(base + " (a decimal comma: pass decimal=',' or use a point)")
            else:
                out.append(base + " (write the number alone)")
        return out
    return build


def suggest_name(name: str, options: Iterable[str]) -> str | None:
    """The closest of ``options`` to ``name`` (difflib), or None."""
    opts = [str(o) for o in options]
    match = difflib.get_close_matches(str(name).lower(), [o.lower() for o in opts], n=1, cutoff=0.6)
    if not match:
        return None
    lowered = {o.lower(): o for o in opts}
    return lowered[match[0]]


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
        hint = difflib.get_close_matches(vocab._key(u), list(lookup), n=1, cutoff=0.5)
        did = f" Did you mean {lookup[hint[0]]!r}?" if hint else ""
        msg_for[u] = (f"unknown instrument {u!r}.{did} Register it with "
                      "massage_outcomes.instruments.register(...) or recode it with mapping=.")

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


_VISIT_DAY = re.compile(
    r"^\s*(?P<unit>baseline|screening|bl|day|d|week|wk|w|month|mo|m|year|yr|y)[\s_\-]*(?P<num>-?\d+(?:\.\d+)?)?\s*$",
    re.IGNORECASE,
)
_UNIT_DAYS = {"day": 1.0, "d": 1.0, "week": 7.0, "wk": 7.0, "w": 7.0, "month": 30.4375, "mo": 30.4375, "m": 30.4375,
              "year": 365.25, "yr": 365.25, "y": 365.25}


def _visit_label_day(label: str) -> float:
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
    per_cat = np.array([_visit_label_day(str(c)) for c in cat.cat.categories], dtype=float)
    codes = cat.cat.codes.to_numpy()
    out = np.where(codes >= 0, per_cat[np.maximum(codes, 0)] if len(per_cat) else np.nan, np.nan)
    return pd.Series(out, index=cat.index, dtype=float)


def first_positions(codes: np.ndarray, values: pd.Series, n_groups: int) -> np.ndarray:
    """Per group (codes 0..n_groups-1): the position of its first row with a non-missing value (-1: none)."""
    present = values.notna().to_numpy() & (codes >= 0)
    pos = np.flatnonzero(present)
    first = np.full(n_groups, -1, dtype=np.int64)
    if len(pos):
        first[codes[pos][::-1]] = pos[::-1]
    return first


def take_or_missing(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """``values`` at ``positions``; missing where the position is -1 (Categoricals stay Categoricals)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.append(values.cat.codes.to_numpy(), -1)[positions]
        return pd.Series(pd.Categorical.from_codes(codes, dtype=values.dtype))
    out = values.iloc[np.maximum(positions, 0)].reset_index(drop=True) if len(values) else \
        values.reset_index(drop=True)
    if (positions < 0).any():
        out = out.where(positions >= 0)
    return out


def _first_in_group(codes: np.ndarray, values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """For each row: the group's first non-missing value and the position of the row that holds it (-1: none)."""
    n = len(codes)
    ngroups = int(codes.max()) + 1 if n and codes.max() >= 0 else 0
    present = values.notna().to_numpy() & (codes >= 0)
    pos = np.flatnonzero(present)
    first_pos_by_group = np.full(max(ngroups, 1), -1, dtype=np.int64)
    if len(pos):
        g = codes[pos]
        first_pos_by_group[g[::-1]] = pos[::-1]  # reversed assignment leaves the first position per group
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


def _dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]"), np.zeros(len(values), dtype=bool)
    cat = as_category(values)
    cats = pd.Series(cat.cat.categories, dtype="str")
    parsed = pd.to_datetime(cats, errors="coerce", format="ISO8601")
    retry = cats.notna() & parsed.isna()
    if retry.any():
        again = pd.to_datetime(cats[retry], errors="coerce", format="mixed")
        parsed = parsed.where(~retry, again)
    parsed_arr = np.asarray(parsed, dtype="datetime64[ns]")
    codes = cat.cat.codes.to_numpy()
    out = np.where(codes >= 0, parsed_arr[np.maximum(codes, 0)] if len(parsed_arr) else np.datetime64("NaT"),
                   np.datetime64("NaT"))
    out = pd.Series(out.astype("datetime64[ns]"), index=values.index)
    bad = (codes >= 0) & out.isna().to_numpy()
    return out, bad


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


PARALLEL_MIN_ROWS = 200_000  # below this, threads cost more than they save


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
    """
    if rows is None:
        idx = frame.index
        rows_arr = idx.to_numpy() if pd.api.types.is_integer_dtype(idx.dtype) else np.arange(len(frame))
    else:
        rows_arr = np.asarray(rows)
    frame = frame.reset_index(drop=True)
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
        # a wide row's problem (e.g. encoding) rejects every record made from it
        rows_hit = ex.loc[ex["_pos"] >= 0, "row"].to_numpy()
        if len(rows_hit):
            col.bad |= np.isin(rows_arr, rows_hit)

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
            msg = ("required column 'day' (days since baseline) is missing, and there is no 'visit' or 'date' "
                   "to derive it from." + did)
        else:
            msg = f"required column {c!r} is missing." + did
        if len(present) == 1:
            msg += (" The header has a single column: is the delimiter right? Pass delimiter=';' (or ',', "
                    "'\\t', '|') to read().")
        col.fatal(c, "required_column", msg)
    if missing_cols:
        return CheckResult(frame, col.report(n), col.bad, col.reasons())

    out: dict[str, Any] = {}
    index = frame.index

    def raw(c: str) -> Any:
        return frame[c] if c in frame.columns else None

    # -- keys ----------------------------------------------------------------------------------------------
    if "study" in frame.columns:
        st = as_category(frame["study"])
        if st.isna().any():
            st = st.cat.add_categories([study or DEFAULT_STUDY]) if (study or DEFAULT_STUDY) not in \
                st.cat.categories else st
            st = st.fillna(study or DEFAULT_STUDY)
        out["study"] = st
    else:
        out["study"] = pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                           categories=pd.Index([study or DEFAULT_STUDY], dtype="str")),
                                 index=index)
    out["subject"] = as_category(frame["subject"])
    col.add(out["subject"].isna(), "subject", frame["subject"], "missing_value", "subject is empty")

    # -- subject-level -------------------------------------------------------------------------------------
    out["arm"] = as_category(frame["arm"]) if "arm" in frame.columns else _empty_cat(n, [], index)
    if "condition" in frame.columns:
        out["condition"], unknown, msgs = _normalize_vocab(frame["condition"], vocab.CONDITION)
        col.add(unknown, "condition", frame["condition"], "unknown_term", msgs)
    else:
        out["condition"] = pd.Series(pd.Categorical.from_codes(np.full(n, -1), dtype=vocab.CONDITION.dtype()),
                                     index=index)
    out["clinic"] = as_category(frame["clinic"]) if "clinic" in frame.columns else _empty_cat(n, [], index)

    # -- session-level -------------------------------------------------------------------------------------
    if "session" in frame.columns:
        num, bad = _to_number(frame["session"], decimal_comma=decimal_comma)
        col.add(bad, "session", frame["session"], "not_a_number", _number_messages(frame["session"], "session"))
        arr = num.to_numpy()
        with np.errstate(invalid="ignore"):
            nonint = ~np.isnan(arr) & ((arr != np.round(arr)) | (arr < 0) | ~np.isfinite(arr))
        col.add(nonint, "session", frame["session"], "not_a_number", "session must be a whole number, 0 or more")
        arr = np.where(nonint, np.nan, arr)
        out["session"] = pd.array(np.round(arr), dtype="Int64")
        sess_invalid = bad | nonint
    else:
        out["session"] = pd.array(np.full(n, pd.NA), dtype="Int64")
        sess_invalid = np.zeros(n, dtype=bool)
    sess_na = np.asarray(pd.isna(out["session"]), dtype=bool)
    for c, vocabulary in (("technique", vocab.TECHNIQUE), ("intent", vocab.INTENT)):
        if c in frame.columns:
            out[c], unknown, msgs = _normalize_vocab(frame[c], vocabulary)
            col.add(unknown, c, frame[c], "unknown_term", msgs)
        else:
            out[c] = pd.Series(pd.Categorical.from_codes(np.full(n, -1), dtype=vocabulary.dtype()), index=index)
    for c in ("therapist", "pressure", "body_region"):
        out[c] = as_category(frame[c]) if c in frame.columns else _empty_cat(n, [], index)
    if "duration_min" in frame.columns:
        num, bad = _to_number(frame["duration_min"], decimal_comma=decimal_comma)
        col.add(bad, "duration_min", frame["duration_min"], "not_a_number",
                _number_messages(frame["duration_min"], "duration_min"))
        with np.errstate(invalid="ignore"):
            wrong = ((num < 0) | (num > 24 * 60)).to_numpy() | np.isinf(num.to_numpy())
        col.add(wrong, "duration_min", frame["duration_min"], "out_of_range",
                "duration_min must be between 0 and 1440 minutes")
        out["duration_min"] = num.where(~wrong) if wrong.any() else num
        del num
    else:
        out["duration_min"] = pd.Series(np.full(n, np.nan), index=index, copy=False)
    if "date" in frame.columns:
        out["date"], bad = _dates(frame["date"])
        col.add(bad, "date", frame["date"], "bad_date",
                lambda idx: [f"date {v!r} cannot be parsed (write dates as YYYY-MM-DD)"
                             for v in _take_display(frame["date"], idx)])
    else:
        out["date"] = pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"), index=index, copy=False)

    # -- outcome columns -----------------------------------------------------------------------------------
    out["instrument"], unknown_inst, msgs = normalize_instrument(frame["instrument"])
    col.add(unknown_inst, "instrument", frame["instrument"], "unknown_term", msgs)
    col.add(out["instrument"].isna().to_numpy() & ~unknown_inst, "instrument", frame["instrument"],
            "missing_value", "instrument is empty")
    out["visit"] = as_category(frame["visit"]) if "visit" in frame.columns else _empty_cat(n, [], index)

    if "timing" in frame.columns:
        timing, unknown_t, msgs = _normalize_vocab(frame["timing"], vocab.TIMING)
        col.add(unknown_t, "timing", frame["timing"], "unknown_term", msgs)
        stated = timing.notna().to_numpy() | unknown_t
    else:
        timing = pd.Series(pd.Categorical.from_codes(np.full(n, -1), dtype=vocab.TIMING.dtype()), index=index)
        stated = np.zeros(n, dtype=bool)

    # day: stated, else from the visit label, else from dates
    if "day" in frame.columns:
        day, bad_day = _to_number(frame["day"], decimal_comma=decimal_comma)
        col.add(bad_day, "day", frame["day"], "not_a_number", _number_messages(frame["day"], "day"))
    else:
        day = pd.Series(np.full(n, np.nan), index=index, copy=False)
        bad_day = np.zeros(n, dtype=bool)
    # no copy unless a day must be filled in or blanked: a float column as read is shared, not duplicated
    dayv = day.to_numpy(dtype=float)  # a read-only view: copied before any change
    if "visit" in frame.columns and np.isnan(dayv).any():
        dayv = dayv.copy()
        fill = np.isnan(dayv) & ~bad_day
        dayv[fill] = day_from_visit(out["visit"]).to_numpy()[fill]
    if "date" in frame.columns and np.isnan(dayv).any():
        subj_codes_tmp = _combine_codes([out["study"], out["subject"]])
        dates = out["date"]
        first_date = dates.groupby(subj_codes_tmp).transform("min")
        from_date = ((dates - first_date).dt.total_seconds() / 86400.0).to_numpy()
        fill = np.isnan(dayv) & ~bad_day
        dayv = dayv.copy()
        dayv[fill] = from_date[fill]
    day_raw = raw("day") if "day" in frame.columns else pd.Series(dayv, index=index)
    col.add(np.isnan(dayv) & ~bad_day, "day", raw("day"), "missing_value",
            "day is empty and cannot be derived from visit or date")
    with np.errstate(invalid="ignore"):
        inf_day = np.isinf(dayv)
    col.add(inf_day, "day", day_raw, "impossible_day", "day is not finite")
    if inf_day.any():
        dayv = dayv.copy()
        dayv[inf_day] = np.nan

    # derive timing where not stated: baseline at day <= 0 without a session, followup later
    tcodes = timing.cat.codes.to_numpy().copy()
    cats = list(vocab.TIMING.dtype().categories)
    derived = np.where(np.nan_to_num(dayv, nan=1.0) <= 0, cats.index("baseline"), cats.index("followup"))
    fill = ~stated & sess_na
    tcodes[fill] = derived[fill]
    col.add(~stated & ~sess_na, "timing", raw("timing"), "missing_value",
            "timing is empty on a session row: say 'pre' or 'post'")
    out["timing"] = pd.Series(pd.Categorical.from_codes(tcodes, dtype=vocab.TIMING.dtype()), index=index)

    is_base = tcodes == cats.index("baseline")
    with np.errstate(invalid="ignore"):
        neg = (dayv < 0) & ~is_base
        impossible = (dayv > MAX_DAY) | (is_base & (dayv < MIN_BASELINE_DAY))
    col.add(neg, "day", day_raw, "negative_day",
            lambda idx: [f"day {_fmt(v)} is before baseline on a non-baseline row" for v in dayv[idx]])
    col.add(impossible, "day", day_raw, "impossible_day",
            lambda idx: [f"day {_fmt(v)} is impossible (allowed {MIN_BASELINE_DAY:g} to {MAX_DAY:g})"
                         for v in dayv[idx]])
    out["day"] = day if np.may_share_memory(dayv, day.to_numpy()) else pd.Series(dayv, index=index, copy=False)
    del day

    prepost = (tcodes == cats.index("pre")) | (tcodes == cats.index("post"))
    col.add(prepost & sess_na & ~sess_invalid, "session", raw("session"), "session_missing",
            "a pre/post-session rating has no session number: which session does it belong to?")

    # value: a number, present, finite and in the instrument's range
    value, bad_val = _to_number(frame["value"], decimal_comma=decimal_comma)
    col.add(bad_val, "value", frame["value"], "not_a_number", _number_messages(frame["value"], "value"))
    vv = value.to_numpy(dtype=float)  # a read-only view: copied only if a value must be blanked (below)
    col.add(np.isnan(vv) & ~bad_val, "value", frame["value"], "missing_value",
            "value is empty (a missing measurement is a row you leave out, not an empty cell)")
    with np.errstate(invalid="ignore"):
        nonfinite = np.isinf(vv)
    col.add(nonfinite, "value", frame["value"], "out_of_range", "value is not finite")
    inst_cat = out["instrument"]
    keys = list(inst_cat.cat.categories)
    if keys:
        lo_k = np.array([_instruments.get(k).min for k in keys] + [np.nan])
        hi_k = np.array([_instruments.get(k).max for k in keys] + [np.nan])
        icodes = inst_cat.cat.codes.to_numpy()
        lo, hi = lo_k[icodes], hi_k[icodes]  # code -1 picks the trailing NaN
        with np.errstate(invalid="ignore"):
            outside = np.isfinite(vv) & ((vv < lo) | (vv > hi))
        col.add(outside, "value", frame["value"], "out_of_range",
                lambda idx: [f"{keys[icodes[i]]} value {_fmt(vv[i])} is outside its range {_fmt(lo[i])}-"
                             f"{_fmt(hi[i])} (wrong instrument, or a different scoring? register it with "
                             "instruments.with_range)" for i in idx])
    if nonfinite.any():
        vv = vv.copy()
        vv[nonfinite] = np.nan
    out["value"] = value if np.may_share_memory(vv, value.to_numpy()) else pd.Series(vv, index=index, copy=False)
    del value

    # -- covariates (subject-level extra columns) ----------------------------------------------------------
    known_cols = set(CANONICAL_LONG) | set(DERIVED_COLUMNS) | {"week"}
    extra = [c for c in frame.columns if c not in known_cols and not str(c).startswith("_")]
    if covariates is not None:
        extra = [c for c in extra if c in set(covariates)]
    for c in extra:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
            s = as_category(s)
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            # numeric covariates are float64 whatever the format stored (SPSS has no integers; NA needs float)
            if s.dtype != np.float64:
                s = pd.Series(s.to_numpy(dtype=float, na_value=np.nan), index=s.index)
        out[c] = s
    # no copy: the columns stay the arrays built above (one copy of each, not the dict's and the frame's)
    result = pd.DataFrame(out, index=index, copy=False)
    del out

    # -- cross-row rules (only among rows with usable keys) ------------------------------------------------
    # Three independent checks on integer group codes, run side by side: numpy and pandas release the GIL in
    # their array passes (on 5M rows and 2 cores, the whole of check_long: best of 4, 1.44 s against 1.74 s).
    # Each check returns its findings; they are added to the report below in a fixed order (same report
    # whatever the timing).
    key_ok = result["subject"].notna().to_numpy()
    subj_codes = _combine_codes([result["study"], result["subject"]], ok=key_ok)
    sess_ok = key_ok & ~sess_na
    Finding = tuple[np.ndarray, str, Any, str, Any]

    def subject_conflicts() -> list[Finding]:
        found: list[Finding] = []
        cache: dict[str, np.ndarray] = {}
        for c in ("arm", "condition", "clinic", *extra):
            differ, first, first_pos = _conflicts(result[c], subj_codes, cache)
            if differ.any():
                found.append((differ, c, frame[c] if c in frame.columns else result[c], "subject_conflict",
                              _conflict_messages("subject-level", c, result, first, first_pos, rows_arr,
                                                 subject=True)))
        return found

    def session_conflicts() -> list[Finding]:
        found: list[Finding] = []
        if not sess_ok.any():
            return found
        sess_codes = _combine_codes([subj_codes, result["session"]], ok=sess_ok)
        cache: dict[str, np.ndarray] = {}
        for c in ("technique", "intent", "therapist", "duration_min", "pressure", "body_region", "date"):
            if c not in frame.columns:
                continue
            differ, first, first_pos = _conflicts(result[c], sess_codes, cache)
            if differ.any():
                found.append((differ, c, frame[c], "session_conflict",
                              _conflict_messages("session-level", c, result, first, first_pos, rows_arr,
                                                 subject=False)))
        return found

    def duplicate_keys() -> list[Finding]:
        # duplicate keys (name both rows); all rows of a duplicated key are rejected: we cannot tell which is right
        okk = key_ok & result["instrument"].notna().to_numpy() & ~np.isnan(dayv)
        if not okk.any():
            return []
        # group ids need not be dense here: duplicates are found by sorting, which needs far less memory
        # than a hash table over millions of (nearly all distinct) keys
        key_codes = _combine_codes([subj_codes, result["instrument"], result["day"], result["timing"],
                                    result["session"]], ok=okk, dense=False)
        dup = _duplicated_ids(key_codes)
        if not dup.any():
            return []
        pos = np.flatnonzero(dup)
        g = key_codes[pos]
        order = np.lexsort((pos, g))
        gs, ps = g[order], pos[order]
        first_of = {}
        second_of = {}
        for gg, pp in zip(gs, ps, strict=False):
            if gg not in first_of:
                first_of[gg] = pp
            elif gg not in second_of:
                second_of[gg] = pp
        other = {p: (second_of[gg] if p == first_of[gg] else first_of[gg]) for gg, p in zip(g, pos, strict=False)}
        return [(dup, "subject", frame["subject"], "duplicate_key",
                 lambda idx: [f"duplicate key (study, subject, instrument, day, timing, session): the same "
                              f"measurement as row {rows_arr[other[i]]}" for i in idx])]

    checks = (subject_conflicts, session_conflicts, duplicate_keys)
    if n >= PARALLEL_MIN_ROWS:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(checks)) as pool:
            futures = [pool.submit(check) for check in checks]
            findings = [f.result() for f in futures]
    else:
        findings = [check() for check in checks]
    for found in findings:
        for mask, c, values, rule, messages in found:
            col.add(mask, c, values, rule, messages)
    return CheckResult(result, col.report(n), col.bad, col.reasons())


def _conflict_messages(level: str, c: str, result: pd.DataFrame, first: pd.Series | None, first_pos: np.ndarray,
                       rows_arr: np.ndarray, *, subject: bool) -> Any:
    def build(idx: np.ndarray) -> list[str]:
        here = _take_display(result[c], idx)
        there = _take_display(result[c], first_pos[idx]) if first is None else _take_display(first, idx)
        subj = _take_display(result["subject"], idx)
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


def _combine_codes(columns: Sequence[pd.Series | np.ndarray], ok: np.ndarray | None = None, *,
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


__all__ = ["Problem", "ValidationReport", "validate", "check_long", "CheckResult", "DataValidationError",
           "day_from_visit", "MISSING_TOKENS", "error_message", "suggest_name"]

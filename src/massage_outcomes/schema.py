"""The long frame's canonical columns, the tokens that mean "missing", and the problem report.

This is the lowest layer that both the readers (:mod:`massage_outcomes.io`) and the rules
(:mod:`massage_outcomes.validation`) use, so that neither imports the other's internals: a reader finds
problems (an empty file, a ragged line) and reports them as :class:`Problem` rows of the same
:class:`ValidationReport` the rules fill. It imports nothing from the package but the error tree.

Examples
--------
>>> from massage_outcomes.schema import CANONICAL_LONG, Problem, ValidationReport
>>> "value" in CANONICAL_LONG
True
>>> print(ValidationReport([Problem("trial.csv", 3, "value", "7/10", "not_a_number", "value must be a number")]))
1 problem in trial.csv:
  - trial.csv, row 3, column 'value': value must be a number
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from massage_outcomes.errors import ArgumentError, DataValidationError

__all__ = [
    "OnError", "MISSING_TOKENS", "DEFAULT_STUDY", "SUBJECT_COLUMNS", "SESSION_COLUMNS", "OUTCOME_COLUMNS",
    "KEY_COLUMNS", "DERIVED_COLUMNS", "CANONICAL_LONG", "REQUIRED_LONG", "PROBLEM_COLUMNS", "Problem",
    "ValidationReport", "error_message", "fatal_error", "closest", "is_missing", "check_option",
]

OnError = Literal["raise", "quarantine"]

#: text that means "missing" in a cell (compared after stripping, case-insensitively)
#: ("none" is not one of them: it is the technique of usual care and wait-list arms)
MISSING_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "null", ".", "#n/a", "missing",
                                           "-", "\u2013", "\u2014"})  # hyphen, en and em dashes

DEFAULT_STUDY = "study"

#: canonical columns of a long frame, by level
SUBJECT_COLUMNS: tuple[str, ...] = ("arm", "condition", "clinic")
SESSION_COLUMNS: tuple[str, ...] = ("technique", "intent", "therapist", "duration_min", "pressure", "body_region", "date")
OUTCOME_COLUMNS: tuple[str, ...] = ("instrument", "visit", "day", "timing", "session", "value")
KEY_COLUMNS: tuple[str, ...] = ("study", "subject")
#: columns analysis_frame() derives; dropped when a long frame that came from analysis_frame() is split again
DERIVED_COLUMNS: tuple[str, ...] = (
    "visit_order", "week", "baseline", "change", "improvement", "pct_improvement",
)
CANONICAL_LONG: tuple[str, ...] = (
    "study", "subject", *SUBJECT_COLUMNS, "session", *SESSION_COLUMNS, *OUTCOME_COLUMNS,
)
REQUIRED_LONG: tuple[str, ...] = ("subject", "instrument", "value")

PROBLEM_COLUMNS: tuple[str, ...] = ("file", "row", "column", "value", "rule", "message")


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise :class:`~massage_outcomes.errors.ArgumentError` unless ``value`` is one of ``allowed``.

    Examples
    --------
    >>> check_option("on_error", "skip", ("raise", "quarantine"))
    Traceback (most recent call last):
    ...
    massage_outcomes.errors.ArgumentError: on_error must be 'raise' or 'quarantine'; got 'skip'
    """
    options = list(allowed)
    if value not in options:
        words = " or ".join(repr(o) for o in options) if len(options) <= 2 else \
            ", ".join(repr(o) for o in options[:-1]) + f" or {options[-1]!r}"
        raise ArgumentError(f"{name} must be {words}; got {value!r}")


def is_missing(v: Any) -> bool:
    """``pd.isna`` for one value that never raises (lists and other containers are not missing)."""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    if is_missing(v):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


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
    >>> from massage_outcomes.schema import Problem, ValidationReport
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
    def fatal(self) -> bool:
        """True when a problem concerns the whole file or column (no row): nothing can be kept."""
        return len(self._frame) > 0 and bool(self._frame["row"].isna().any())

    @property
    def problems(self) -> list[Problem]:
        """The problems as :class:`Problem` objects (file order, then rule)."""
        return [Problem(*(_plain(v) for v in rec)) for rec in self._frame.itertuples(index=False, name=None)]

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
        out["value"] = out["value"].map(lambda v: None if is_missing(v) else str(v)).astype(object)
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

    def renamed(self, columns: dict[str, str]) -> ValidationReport:
        """The same report with column names translated (internal canonical names -> the user's own names)."""
        if not columns or self.ok:
            return self
        frame = self._frame.copy()
        frame["column"] = frame["column"].map(lambda c: columns.get(c, c) if isinstance(c, str) else c)
        return ValidationReport(frame, file=self.file, rows_read=self.rows_read)

    def summary(self, *, limit: int = 10) -> str:
        """The first ``limit`` problems in plain words, one a line."""
        n = len(self._frame)
        where = f" in {self.file}" if self.file else ""
        if n == 0:
            return f"no problems found{where}"
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


def error_message(report: ValidationReport, *, what: str = "the data", quarantine_hint: bool = True,
                  hint: str | None = None) -> str:
    """The message of a DataValidationError: what is wrong, where, and what to do (``hint`` overrides the last)."""
    if hint is None:
        hint = ("Fix the export (or map the columns/values with mapping=...) and read again, or pass "
                "on_error='quarantine' to keep the good rows and inspect ds.rejected.")
        if report.fatal or not quarantine_hint:
            hint = "Fix the file (or rename/recode with mapping=...) and read again."
    return f"{what} failed validation: {report.summary(limit=8)}\n{hint}"


def fatal_error(file: str | None, rule: str, message: str, *, column: str | None = None, row: int | None = None,
                value: Any = None, hint: str | None = None) -> DataValidationError:
    """The error for a problem of a whole file or column (nothing can be read past it), carrying its report.

    Every reader builds these one way: ``raise fatal_error("trial.csv", "empty", "the file is empty")``.

    Examples
    --------
    >>> err = fatal_error("adsl.xpt", "required_column", "ADSL has no USUBJID variable", column="USUBJID")
    >>> err.report.to_frame()[["file", "column", "rule"]].to_dict("records")
    [{'file': 'adsl.xpt', 'column': 'USUBJID', 'rule': 'required_column'}]
    """
    report = ValidationReport([Problem(file, row, column, value, rule, message)], file=file)
    return DataValidationError(error_message(report, what=file or "the data", quarantine_hint=False, hint=hint),
                               report=report)


# ---------------------------------------------------------------------------------------------------------------
# "did you mean": only when the names are really close
# ---------------------------------------------------------------------------------------------------------------
#: a suggestion needs at least this difflib ratio, unless one name contains the other or one edit separates them
CLOSE_RATIO = 0.8


def _one_edit(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or swap of neighbours turns ``a`` into ``b``."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def similarity(a: str, b: str) -> float:
    """How alike two folded names are, 0-1: difflib's ratio, raised to 0.9 for one-edit typos (4+ letters)
    and to 0.85 when one name contains the other (3+ letters)."""
    a, b = str(a).lower(), str(b).lower()
    score = difflib.SequenceMatcher(None, a, b).ratio()
    if min(len(a), len(b)) >= 4 and _one_edit(a, b):
        score = max(score, 0.9)
    if min(len(a), len(b)) >= 3 and (a in b or b in a):
        score = max(score, 0.85)
    return score


def closest(name: str, options: Iterable[str], *, cutoff: float = CLOSE_RATIO) -> str | None:
    """The option most like ``name`` when it is close enough to be a likely typo (see :func:`similarity`),
    else None, so that callers list what is known instead of guessing.

    Examples
    --------
    >>> closest("vlaue", ["value", "visit"]), closest("subjet", ["subject"]), closest("pain", ["pain_nrs"])
    ('value', 'subject', 'pain_nrs')
    >>> closest("bmi", ["sbi", "rmdq"]) is None, closest("pmq2", ["rmdq23", "pain_nrs"]) is None
    (True, True)
    """
    best, best_score = None, cutoff
    for o in options:
        s = similarity(name, str(o))
        if s >= best_score and (best is None or s > best_score):
            best, best_score = str(o), s
    return best

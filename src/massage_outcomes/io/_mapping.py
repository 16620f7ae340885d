"""Column names and user mappings: rename source columns to canonical names and recode values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from massage_outcomes.errors import ArgumentTypeError
from massage_outcomes.schema import CANONICAL_LONG, DERIVED_COLUMNS, closest
from massage_outcomes.vocab import fold_key

#: common source spellings of canonical columns (after folding case and punctuation)
ALIASES: dict[str, str] = {
    "id": "subject", "subject_id": "subject", "subjectid": "subject", "participant": "subject",
    "participant_id": "subject", "patient": "subject", "patient_id": "subject", "record_id": "subject",
    "usubjid": "subject", "subjid": "subject", "pid": "subject",
    "study_id": "study", "studyid": "study", "trial": "study",
    "group": "arm", "treatment": "arm", "allocation": "arm", "trt01p": "arm", "randomized_arm": "arm",
    "session_number": "session", "session_no": "session", "visit_session": "session",
    "instrument_key": "instrument", "measure": "instrument", "outcome": "instrument", "paramcd": "instrument",
    "score": "value", "aval": "value", "result": "value",
    "days": "day", "study_day": "day", "ady": "day", "day_since_baseline": "day",
    "duration": "duration_min", "minutes": "duration_min", "session_minutes": "duration_min",
    "site": "clinic", "clinic_id": "clinic", "siteid": "clinic",
    "time_point": "timing", "timepoint": "timing",
}


def fold(name: object) -> str:
    """'Subject ID ' -> 'subject_id' (case, spaces and punctuation folded)."""
    return fold_key(name)  # NFKC first: full-width headers of East Asian exports (issue 18)


#: the long columns a wide layout makes itself (from the measurement columns), never taken from an alias
WIDE_DERIVED = frozenset({"value", "instrument", "timing"})


def record_renames(record: dict[str, str] | None, renames: Mapping[Any, str]) -> None:
    """Add ``renames`` (current name -> new name) to ``record`` ({user's column: name now}), composing chains."""
    if record is None:
        return
    by_current = {v: k for k, v in record.items()}
    for old, new in renames.items():
        if str(old) == new:
            continue
        original = by_current.get(str(old), str(old))
        record[original] = new


def canonical_names(frame: pd.DataFrame, *, record: dict[str, str] | None = None,
                    keep: Iterable[Any] = (), wide: bool = False, derived: bool = False) -> pd.DataFrame:
    """Rename columns whose folded name is canonical (``"Subject"``, ``"INSTRUMENT"``) or a known alias.

    Other columns get their folded name (``"Pain (0-10)"`` -> ``pain_0_10``). A rename that would collide with a
    column already present is skipped; columns in ``keep`` (those a ``wide=`` mapping names) keep their names.
    With ``derived=True`` (a source, not an analysis frame), a column named like a column that analyses derive
    (``week``, ``baseline``, ``change``...) is kept as ``<name>_source``, so it is neither dropped nor mistaken for the derived one. Every rename is added to
    ``record`` (``{user's column: new name}``), so a reader can say what it did and name the user's own
    columns in its errors.

    Examples
    --------
    >>> import pandas as pd
    >>> seen = {}
    >>> list(canonical_names(pd.DataFrame(columns=["Treatment", "Pain (0-10)", "day"]), record=seen).columns)
    ['arm', 'pain_0_10', 'day']
    >>> seen
    {'Treatment': 'arm', 'Pain (0-10)': 'pain_0_10'}
    """
    canon = set(CANONICAL_LONG)
    kept = set(keep)
    rename: dict[Any, str] = {}
    taken = {c for c in frame.columns if c in canon} | {str(c) for c in kept}
    for c in frame.columns:
        if c in canon or c in kept:
            continue
        f = fold(c)
        if derived and f in DERIVED_COLUMNS:
            new = f"{f}_source"
            if new not in taken and new not in frame.columns:
                rename[c] = new
                taken.add(new)
            continue
        target = f if f in canon else ALIASES.get(f)
        if target is None and f.lstrip("\ufeff") in canon:
            target = f.lstrip("\ufeff")
        if wide and target in WIDE_DERIVED:
            target = None
        if target and target not in taken:
            rename[c] = target
            taken.add(target)
        elif f != c and f not in taken and f not in frame.columns and not target:
            rename[c] = f
    record_renames(record, rename)
    return frame.rename(columns=rename) if rename else frame


def resolve_column(key: Any, columns: Sequence[Any], *, aliases: bool = False) -> Any:
    """The column ``key`` names, matched one way everywhere: exactly, else the only column with the same folded
    name (case, spaces and punctuation ignored), else (``aliases=True``) the only column a known alias turns
    into ``key`` (``"arm"`` finds ``"Group"``). None when nothing matches.

    Examples
    --------
    >>> resolve_column("patient id", ["Patient ID", "Group"]), resolve_column("arm", ["Group"], aliases=True)
    ('Patient ID', 'Group')
    """
    if key in columns:
        return key
    k = fold(key)
    same = [c for c in columns if fold(c) == k]
    if len(same) == 1:
        return same[0]
    if aliases:
        via = [c for c in columns if ALIASES.get(fold(c)) == k]
        if len(via) == 1:
            return via[0]
    return None


def unknown_column(key: Any, columns: Sequence[Any], *, what: str = "mapping") -> str:
    """The message for a key that names no column: the closest column when it is a likely typo, else them all."""
    names = [str(c) for c in columns]
    near = closest(fold(key), [fold(c) for c in names])
    hint = ""
    if near is not None:
        hint = f" Did you mean {next(c for c in names if fold(c) == near)!r}?"
    shown = ", ".join(names[:30]) + (" ..." if len(names) > 30 else "")
    return f"{what} names column {key!r}, which is not in the data.{hint} Columns: {shown}"


def rename_note(record: Mapping[str, str]) -> list[str]:
    """One line per rename, for ``ds.source["assumed"]``: ``"column 'Treatment' read as 'arm'"``."""
    return [f"column {old!r} read as {new!r}" for old, new in record.items()]


def apply_mapping(frame: pd.DataFrame, mapping: Mapping[str, Any], *,
                  record: dict[str, str] | None = None) -> pd.DataFrame:
    """Apply a user mapping: ``{"source column": "canonical name"}`` renames a column;
    ``{"canonical name": {"source value": "canonical value", ...}}`` recodes the values of a column
    (after renaming); ``{"source column": ("canonical name", {value recodes})}`` does both.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"pid": [1], "grp": ["A"], "score": [3]})
    >>> apply_mapping(f, {"pid": "subject", "grp": ("arm", {"A": "therapeutic"})}).to_dict("records")
    [{'subject': 1, 'arm': 'therapeutic', 'score': 3}]
    """
    renames: dict[str, str] = {}
    recodes: dict[str, Mapping[Any, Any]] = {}
    columns = list(frame.columns)
    for key, spec in mapping.items():
        is_rename = isinstance(spec, str) or (isinstance(spec, tuple) and len(spec) == 2
                                               and isinstance(spec[0], str))
        col = resolve_column(key, columns, aliases=not is_rename)
        if col is None:
            raise KeyError(unknown_column(key, columns))
        if isinstance(spec, str):
            renames[col] = spec
        elif is_rename:
            renames[col] = spec[0]
            recodes[spec[0]] = spec[1]
        elif isinstance(spec, Mapping):
            if col != key and fold(col) != fold(key):  # the alias's column: rename it now, as aliases would
                renames[col] = str(key)
            recodes[str(key) if col not in renames else renames[col]] = spec
        else:
            raise ArgumentTypeError(
                f"mapping[{key!r}] must be a column name (rename), a dict (recode values) or (name, dict); "
                f"got {type(spec).__name__}")
    record_renames(record, renames)
    out = frame.rename(columns=renames) if renames else frame
    if recodes:
        out = out.copy()
        for col, codes in recodes.items():
            if col not in out.columns:
                col = resolve_column(col, list(out.columns))
            s = out[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype(object)
            keyed = {str(k): v for k, v in codes.items()}
            as_text = s.map(lambda v: None if pd.isna(v) else (str(int(v)) if isinstance(v, float) and v == int(v)
                                                               else str(v)))
            mapped = as_text.map(keyed)
            out[col] = mapped.where(as_text.isin(list(keyed)), s).astype(object)
    return out

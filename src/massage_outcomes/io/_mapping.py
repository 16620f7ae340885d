"""Column names and user mappings: rename source columns to canonical names and recode values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from massage_outcomes.errors import ArgumentTypeError
from massage_outcomes.schema import CANONICAL_LONG
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


def canonical_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename columns whose folded name is canonical (``"Subject"``, ``"INSTRUMENT"``) or a known alias.

    A rename that would collide with a column already present is skipped.
    """
    canon = set(CANONICAL_LONG)
    rename: dict[Any, str] = {}
    taken = {c for c in frame.columns if c in canon}
    for c in frame.columns:
        if c in canon:
            continue
        f = fold(c)
        target = f if f in canon else ALIASES.get(f)
        if target is None and f.lstrip("\ufeff") in canon:
            target = f.lstrip("\ufeff")
        if target and target not in taken:
            rename[c] = target
            taken.add(target)
        elif f != c and f not in taken and f not in frame.columns and not target:
            rename[c] = f
    return frame.rename(columns=rename) if rename else frame


def apply_mapping(frame: pd.DataFrame, mapping: Mapping[str, Any]) -> pd.DataFrame:
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
    for key, spec in mapping.items():
        if isinstance(spec, str):
            renames[key] = spec
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
            renames[key] = spec[0]
            recodes[spec[0]] = spec[1]
        elif isinstance(spec, Mapping):
            recodes[key] = spec
        else:
            raise ArgumentTypeError(
                f"mapping[{key!r}] must be a column name (rename), a dict (recode values) or (name, dict); "
                f"got {type(spec).__name__}")
    out = frame.rename(columns=renames) if renames else frame
    if recodes:
        out = out.copy()
        for col, codes in recodes.items():
            if col not in out.columns:
                raise KeyError(f"mapping recodes column {col!r}, which is not in the data "
                               f"(columns: {', '.join(map(str, out.columns))})")
            s = out[col]
            if isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype(object)
            keyed = {str(k): v for k, v in codes.items()}
            as_text = s.map(lambda v: None if pd.isna(v) else (str(int(v)) if isinstance(v, float) and v == int(v)
                                                               else str(v)))
            mapped = as_text.map(keyed)
            out[col] = mapped.where(as_text.isin(list(keyed)), s).astype(object)
    return out

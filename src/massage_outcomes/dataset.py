"""The tidy Dataset: subjects, sessions and outcomes, typed, keyed and validated once.

``Dataset(subjects, sessions, outcomes)`` canonicalises the three tables (vocabulary columns become
Categoricals with the vocabulary's categories, keys are checked for uniqueness, sessions and outcomes must
belong to known subjects) and derives what every analysis needs with :meth:`Dataset.analysis_frame`: one
long frame per instrument with the baseline, the change and the direction-aware improvement.

Examples
--------
>>> import pandas as pd
>>> import massage_outcomes as mo
>>> long = pd.DataFrame({
...     "subject": ["a", "a", "b", "b"], "arm": ["therapeutic", "therapeutic", "relaxation", "relaxation"],
...     "instrument": "rmdq", "visit": ["baseline", "week 10"] * 2, "day": [0, 70, 0, 70],
...     "value": [14, 8, 12, 11]})
>>> ds = mo.Dataset.from_long(long)
>>> ds
Dataset: 2 subjects, 0 sessions, 4 outcome rows (study 'study')
  arms: relaxation 1, therapeutic 1
  instruments: rmdq 4
  visits: baseline, week 10
>>> ds.analysis_frame("rmdq")[["subject", "visit", "value", "baseline", "change", "improvement"]]
  subject     visit  value  baseline  change  improvement
0       a  baseline   14.0      14.0     0.0          0.0
1       a   week 10    8.0      14.0    -6.0          6.0
2       b  baseline   12.0      12.0     0.0          0.0
3       b   week 10   11.0      12.0    -1.0          1.0
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.coerce import category_to_str, release_memory
from massage_outcomes.errors import ArgumentError, ArgumentTypeError, DataValidationError
from massage_outcomes.schema import (
    DEFAULT_STUDY,
    DERIVED_COLUMNS,
    MISSING_TOKENS,
    REQUIRED_LONG,
    ValidationReport,
)
from massage_outcomes.validation import (
    check_long,
    combine_codes,
    first_positions,
    raise_or_quarantine,
    rejected_frame,
    take_or_missing,
)

SUBJECT_KEY = ["study", "subject"]
SESSION_KEY = ["study", "subject", "session"]
OUTCOME_KEY = ["study", "subject", "instrument", "day", "timing", "session"]

SUBJECT_BASE = ["study", "subject", "arm", "condition", "clinic", "technique", "intent"]
SESSION_COLUMNS = ["study", "subject", "session", "day", "date", "technique", "intent", "therapist", "duration_min",
                   "pressure", "body_region"]
OUTCOME_COLUMNS = ["study", "subject", "instrument", "visit", "day", "timing", "session", "value"]

_STR = "str"
_FORMAT_VERSION = 1


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _text(s: pd.Series) -> pd.Series:
    """To the pandas string dtype, leaving missing as missing (whole floats lose their '.0')."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.na_value is np.nan:
        return s
    if isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_string_dtype(s.cat.categories.dtype) or s.cat.categories.dtype == object:
            return category_to_str(s)
        s = s.astype(object)
    if pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        fin = np.isfinite(arr)
        if fin.any() and np.all(arr[fin] == np.round(arr[fin])):
            s = pd.Series(pd.array(np.where(fin, arr, np.nan)).astype("Int64"), index=s.index)
    return s.astype(_STR)


def _vocab_cat(s: pd.Series, vocabulary: vocab.Vocabulary, table: str, column: str) -> pd.Series:
    dtype = vocabulary.dtype()
    if isinstance(s.dtype, pd.CategoricalDtype) and list(s.cat.categories) == list(dtype.categories):
        return s
    text = s.astype(object).where(s.notna(), None)
    mapped, unknown = vocabulary.normalize_series(text)
    if np.asarray(unknown).any():
        bad = text[np.asarray(unknown)]
        rows = bad.index[:5].tolist()
        raise DataValidationError(
            f"{table}.{column}: {vocab.unknown_term_message(vocabulary, bad.iloc[0])} "
            f"({int(np.asarray(unknown).sum())} rows, first at positions {rows})")
    return pd.Series(pd.Categorical(mapped, dtype=dtype), index=s.index)


def _numeric(s: pd.Series, table: str, column: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        if s.dtype == np.float64:
            return s  # shared copy-on-write, not duplicated
        return pd.Series(s.to_numpy(dtype=float, na_value=np.nan), index=s.index)
    out = pd.to_numeric(s, errors="coerce")
    bad = s.notna() & pd.Series(out, index=s.index).isna()
    if bad.any():
        raise DataValidationError(
            f"{table}.{column} must be numeric; position {bad.idxmax()} holds {s[bad].iloc[0]!r}. "
            "Read files with massage_outcomes.read (which reports every bad cell) or fix the column.")
    return pd.Series(np.asarray(out, dtype=float), index=s.index)


def _map_cat(cat: pd.Series, mapping: Mapping[Any, Any], dtype: pd.CategoricalDtype) -> pd.Series:
    """Map a Categorical through ``mapping`` per category (values outside ``dtype`` become missing)."""
    cats = cat.cat.categories
    target = pd.Index(dtype.categories)
    tcode = np.array([target.get_loc(mapping[c]) if mapping.get(c) in target else -1 for c in cats] + [-1],
                     dtype=np.int64)
    codes = cat.cat.codes.to_numpy()
    return pd.Series(pd.Categorical.from_codes(tcode[codes], dtype=dtype), index=cat.index)


def _fill_cat(cat: pd.Series, fallback: pd.Series) -> pd.Series:
    """Where ``cat`` is missing take ``fallback`` (same categories), on codes."""
    a = cat.cat.codes.to_numpy()
    b = fallback.cat.codes.to_numpy()
    return pd.Series(pd.Categorical.from_codes(np.where(a >= 0, a, b), dtype=cat.dtype), index=cat.index)


def _dense(codes: np.ndarray) -> np.ndarray:
    """Renumber bounded non-negative group ids densely, in order of first appearance (no hashing)."""
    if len(codes) == 0:
        return codes
    first = _first_rows(codes)
    used = np.flatnonzero(first >= 0)
    order = used[np.argsort(first[used], kind="stable")]
    remap = np.full(len(first), -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[codes]


def _first_present(codes: np.ndarray, values: pd.Series, first_row: np.ndarray) -> np.ndarray:
    """Per group: the position of its first row with a value; ``first_row`` itself when nothing is missing."""
    if not values.hasnans:
        return first_row
    return first_positions(codes, values, len(first_row))


def _only_code(groups: np.ndarray, values: pd.Series, first_row: np.ndarray) -> np.ndarray:
    """Per group: the Categorical's one code when all the group's non-missing values agree, else -1."""
    codes = values.cat.codes.to_numpy()
    first = _first_present(groups, values, first_row)
    value = np.append(codes, -1)[first]  # first -1 (no value in the group) picks the trailing -1
    differ = (codes >= 0) & (codes != value[groups])
    mixed = np.zeros(len(first_row), dtype=bool)
    mixed[groups[differ]] = True
    return np.where(mixed, -1, value).astype(np.int64)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Position of the first row of each group (codes dense from 0)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first


def _duplicates(frame: pd.DataFrame, key: list[str], table: str) -> None:
    dup = frame.duplicated(key, keep=False)
    if dup.any():
        groups = frame[dup].groupby(key, dropna=False, sort=False, observed=True)
        first = next(iter(groups.indices.values()))
        k = frame.loc[frame.index[first[0]], key].to_dict()
        raise DataValidationError(
            f"{table} has {int(dup.sum())} rows with a duplicated key ({', '.join(key)}); e.g. rows "
            f"{int(first[0])} and {int(first[1])} are both {k}. Keys must be unique: drop or fix the duplicates.")


class Dataset:
    """Three typed, keyed tables: ``subjects``, ``sessions`` and ``outcomes``.

    Parameters
    ----------
    subjects : DataFrame
        One row per subject; key (study, subject). Columns ``arm`` (str), ``condition`` (vocabulary),
        ``clinic`` (str), ``technique`` and ``intent`` (vocabularies) plus any covariates. ``study`` may be
        absent (one study called ``"study"``). Missing canonical columns are added as all-missing.
    sessions : DataFrame or None
        One row per treatment session; key (study, subject, session). Columns ``day``, ``date``,
        ``technique``, ``intent``, ``therapist``, ``duration_min``, ``pressure``, ``body_region``.
    outcomes : DataFrame
        One row per measurement; key (study, subject, instrument, day, timing, session). Columns ``instrument``
        (a registered key), ``visit`` (ordered by day), ``day``, ``timing`` (baseline/pre/post/followup),
        ``session`` (nullable), ``value``.
    rejected : DataFrame, optional
        Rows a reader quarantined, with their row numbers and reasons.
    source : dict, optional
        Where the data came from and what the reader assumed (file, format, encoding, delimiter, rows read...).
    truth : dict, optional
        Generating parameters when the data were simulated.

    Notes
    -----
    Intent per subject is the stated one, else the allocated technique's default intent, else the arm's when
    the arm names an intent ("relaxation", "usual_care", "sham"). Per session: stated, else the technique's,
    else the subject's. Vocabulary synonyms ("MFR", "LBP") are mapped to canonical terms; unknown terms raise
    :class:`~massage_outcomes.errors.DataValidationError` naming the closest term.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes import Dataset
    >>> subjects = pd.DataFrame({"subject": ["s1"], "arm": ["therapeutic"], "condition": ["LBP"]})
    >>> sessions = pd.DataFrame({"subject": ["s1"], "session": [1], "day": [7.0], "technique": ["MFR"]})
    >>> outcomes = pd.DataFrame({"subject": ["s1"] * 3, "instrument": "pain_nrs", "day": [0, 7, 7],
    ...                          "timing": ["baseline", "pre", "post"], "session": [None, 1, 1],
    ...                          "value": [6, 5, 3]})
    >>> ds = Dataset(subjects, sessions, outcomes)
    >>> ds.subjects.condition.iloc[0], ds.sessions.intent.iloc[0]
    ('low_back_pain', 'therapeutic')
    """

    def __init__(self, subjects: pd.DataFrame, sessions: pd.DataFrame | None, outcomes: pd.DataFrame, *,
                 rejected: pd.DataFrame | None = None, source: Mapping[str, Any] | None = None,
                 truth: Any = None, _trusted: bool = False) -> None:
        # _trusted: the tables come from check_long (keys unique, references hold); skip re-checking them
        self._trusted = _trusted
        self.subjects = self._canon_subjects(subjects)
        self.sessions = self._canon_sessions(sessions if sessions is not None else _empty(SESSION_COLUMNS))
        self.outcomes = self._canon_outcomes(outcomes)
        if not _trusted:
            self._check_references()
        self._trusted = False
        self.rejected = rejected if rejected is not None else pd.DataFrame(columns=["row", "reason"])
        self.source: dict[str, Any] = dict(source) if source else {}
        self.truth = truth

    # ------------------------------------------------------------------------------------------------------
    # canonicalisation
    # ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _keys(frame: pd.DataFrame, table: str) -> pd.DataFrame:
        frame = frame.reset_index(drop=True)  # copy-on-write: no deep copy needed
        if "subject" not in frame.columns:
            raise DataValidationError(f"{table} has no 'subject' column (columns: {list(frame.columns)})")
        if "study" not in frame.columns:
            frame.insert(0, "study", DEFAULT_STUDY)
        frame["study"] = _text(frame["study"])
        frame["subject"] = _text(frame["subject"])
        for c in ("study", "subject"):
            if frame[c].isna().any():
                raise DataValidationError(f"{table}.{c} is missing at position {int(frame[c].isna().idxmax())}")
        return frame

    def _canon_subjects(self, subjects: pd.DataFrame) -> pd.DataFrame:
        s = self._keys(subjects, "subjects")
        for c in ("arm", "clinic"):
            s[c] = _text(s[c]) if c in s.columns else pd.Series(np.nan, index=s.index, dtype=_STR)
        for c, voc in (("condition", vocab.CONDITION), ("technique", vocab.TECHNIQUE), ("intent", vocab.INTENT)):
            s[c] = _vocab_cat(s[c], voc, "subjects", c) if c in s.columns else \
                pd.Series(pd.Categorical([None] * len(s), dtype=voc.dtype()), index=s.index)
        # intent: stated, else from the allocated technique, else from an arm that names an intent
        if s["intent"].isna().any():
            derived = _map_cat(s["technique"], vocab.DEFAULT_INTENT, vocab.INTENT.dtype())
            arms = pd.Series(s["arm"], dtype="category")
            from_arm = _map_cat(arms, {a: vocab.INTENT.lookup(a) for a in arms.cat.categories}, vocab.INTENT.dtype())
            s["intent"] = _fill_cat(_fill_cat(s["intent"], derived), from_arm)
        if not self._trusted:  # built one row per key from check_long's output: unique by construction
            _duplicates(s, SUBJECT_KEY, "subjects")
        extra = [c for c in s.columns if c not in SUBJECT_BASE]
        return s[SUBJECT_BASE + extra]

    def _subject_positions(self, table: pd.DataFrame) -> np.ndarray:
        """Row position in ``self.subjects`` of each row's subject (-1 when unknown)."""
        keys = pd.MultiIndex.from_frame(self.subjects[SUBJECT_KEY])
        return keys.get_indexer(pd.MultiIndex.from_frame(table[SUBJECT_KEY]))

    def _canon_sessions(self, sessions: pd.DataFrame) -> pd.DataFrame:
        if len(sessions) == 0 and "subject" not in sessions.columns:
            sessions = _empty(SESSION_COLUMNS)
        s = self._keys(sessions, "sessions")
        if "session" not in s.columns:
            raise DataValidationError("sessions has no 'session' column")
        sess = _numeric(s["session"], "sessions", "session")
        if sess.isna().any() or not np.all(sess == np.round(sess)):
            raise DataValidationError("sessions.session must be a whole number on every row")
        s["session"] = sess.astype("int64")
        s["day"] = _numeric(s["day"], "sessions", "day") if "day" in s.columns else np.nan
        if "date" in s.columns:
            s["date"] = pd.to_datetime(s["date"], errors="raise").astype("datetime64[ns]")
        else:
            s["date"] = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        for c, voc in (("technique", vocab.TECHNIQUE), ("intent", vocab.INTENT)):
            s[c] = _vocab_cat(s[c], voc, "sessions", c) if c in s.columns else \
                pd.Series(pd.Categorical([None] * len(s), dtype=voc.dtype()), index=s.index)
        # session technique/intent default to the subject's allocation
        if len(s) and (s["technique"].isna().any() or s["intent"].isna().any()):
            pos = self._subject_positions(s)
            if s["technique"].isna().any():
                s["technique"] = _fill_cat(s["technique"], take_or_missing(self.subjects["technique"], pos))
            if s["intent"].isna().any():
                derived = _map_cat(s["technique"], vocab.DEFAULT_INTENT, vocab.INTENT.dtype())
                s["intent"] = _fill_cat(_fill_cat(s["intent"], derived), take_or_missing(self.subjects["intent"], pos))
        for c in ("therapist", "pressure", "body_region"):
            s[c] = _text(s[c]) if c in s.columns else pd.Series(np.nan, index=s.index, dtype=_STR)
        s["duration_min"] = _numeric(s["duration_min"], "sessions", "duration_min") if "duration_min" in s.columns \
            else np.nan
        if not self._trusted:  # built one row per key from check_long's output: unique by construction
            _duplicates(s, SESSION_KEY, "sessions")
        extra = [c for c in s.columns if c not in SESSION_COLUMNS]
        return s[SESSION_COLUMNS + extra]

    def _canon_outcomes(self, outcomes: pd.DataFrame) -> pd.DataFrame:
        o = self._keys(outcomes, "outcomes")
        for c in ("instrument", "value"):
            if c not in o.columns:
                raise DataValidationError(f"outcomes has no {c!r} column")
        inst = _text(o["instrument"])
        unknown = [k for k in pd.unique(inst.dropna()) if not _instruments.is_registered(k)]
        if unknown:
            _instruments.get(unknown[0])  # raises with the closest key
        if inst.isna().any():
            raise DataValidationError("outcomes.instrument is missing on some rows")
        o["instrument"] = inst
        o["value"] = _numeric(o["value"], "outcomes", "value")
        o["day"] = _numeric(o["day"], "outcomes", "day") if "day" in o.columns else np.nan
        if "session" in o.columns and str(o["session"].dtype) == "Int64":
            pass
        elif "session" in o.columns:
            sess = _numeric(o["session"], "outcomes", "session")
            o["session"] = pd.array(sess.round().to_numpy(), dtype="Int64") if len(sess) else \
                pd.array([], dtype="Int64")
        else:
            o["session"] = pd.array([pd.NA] * len(o), dtype="Int64")
        if "timing" in o.columns:
            o["timing"] = _vocab_cat(o["timing"], vocab.TIMING, "outcomes", "timing")
        else:
            derived = np.where(o["day"].fillna(1) <= 0, "baseline", "followup").astype(object)
            derived[o["session"].notna().to_numpy()] = None
            o["timing"] = pd.Categorical(derived, dtype=vocab.TIMING.dtype())
        if o["timing"].isna().any():
            raise DataValidationError("outcomes.timing is missing on session rows: state 'pre' or 'post'")
        o["visit"] = order_visits(o["visit"], o["day"]) if "visit" in o.columns else \
            pd.Categorical([None] * len(o), categories=pd.Index([], dtype=_STR), ordered=True)
        if not self._trusted:
            _duplicates(o, OUTCOME_KEY, "outcomes")
        extra = [c for c in o.columns if c not in OUTCOME_COLUMNS]
        return o[OUTCOME_COLUMNS + extra]

    def _check_references(self) -> None:
        known = pd.MultiIndex.from_frame(self.subjects[SUBJECT_KEY])
        for name, table in (("sessions", self.sessions), ("outcomes", self.outcomes)):
            if len(table) == 0:
                continue
            idx = pd.MultiIndex.from_frame(table[SUBJECT_KEY])
            missing = ~idx.isin(known)
            if missing.any():
                first = table.loc[missing, SUBJECT_KEY].iloc[0].to_dict()
                raise DataValidationError(
                    f"{name} has {int(missing.sum())} rows for subjects not in the subjects table, e.g. {first}. "
                    "Add them to subjects or drop those rows.")
        o = self.outcomes
        has = o["session"].notna().to_numpy()
        if has.any():
            sess = pd.MultiIndex.from_frame(self.sessions[SESSION_KEY])
            idx = pd.MultiIndex.from_arrays([o["study"][has], o["subject"][has],
                                             o["session"][has].astype("int64")])
            missing = ~idx.isin(sess)
            if missing.any():
                pos = np.flatnonzero(has)[np.flatnonzero(missing)[0]]
                raise DataValidationError(
                    f"outcomes row {pos} is a rating for session {o['session'].iloc[pos]} of subject "
                    f"{o['subject'].iloc[pos]!r}, which is not in the sessions table "
                    f"({int(missing.sum())} such rows). Add the session or fix the session number.")
        bad_prepost = o["timing"].isin(["pre", "post"]).to_numpy() & ~has
        if bad_prepost.any():
            raise DataValidationError(
                f"outcomes row {int(np.flatnonzero(bad_prepost)[0])} is a pre/post-session rating without a session "
                f"({int(bad_prepost.sum())} such rows).")

    # ------------------------------------------------------------------------------------------------------
    # construction from one long frame
    # ------------------------------------------------------------------------------------------------------
    @classmethod
    def from_long(cls, frame: pd.DataFrame, *, on_error: str = "raise", study: str | None = None,
                  covariates: Sequence[str] | None = None, source: Mapping[str, Any] | None = None,
                  rows: Sequence[int] | np.ndarray | None = None, raw: pd.DataFrame | None = None,
                  extra_problems: ValidationReport | None = None, decimal_comma: bool = False,
                  file: str | None = None, value_columns: Sequence[str] | np.ndarray | None = None,
                  time_varying: Sequence[str] = (), _consume: bool = False) -> Dataset:
        """Split one long frame (one row per measurement, canonical names) into the three tables.

        Every rule of :mod:`massage_outcomes.validation` is applied first; subject-level attributes (arm,
        condition, clinic, covariates) that disagree between rows are an error naming both rows.

        Parameters
        ----------
        frame : DataFrame
            Canonical long frame (``subject``, ``instrument``, ``value`` and ``day``/``visit`` at least).
            The columns :meth:`analysis_frame` derives (``baseline``, ``change``, ``week``...) are ignored, so
            an analysis frame splits back into the tables it came from.
        on_error : {"raise", "quarantine"}
            Raise :class:`DataValidationError` on any problem, or keep the good rows and put the bad ones in
            ``ds.rejected`` with their reasons.
        study : str, optional
            Study name when there is no ``study`` column.
        covariates : list of str, optional
            Extra columns to keep as subject covariates (default: every non-canonical column).
        source : dict, optional
            Stored as ``ds.source`` (readers put what they assumed here).
        rows, raw, extra_problems, decimal_comma, file, value_columns
            Used by the readers: the file row number of each frame row, the frame as read (for
            ``ds.rejected``), problems found while reading, decimal commas, the file name for messages, the
            source column of each value (wide layouts).
        time_varying : list of str, optional
            Extra columns whose values belong to each measurement (age at visit, another item of the
            questionnaire): kept as columns of ``outcomes``, never checked for agreement within a subject.

        Returns
        -------
        Dataset

        Examples
        --------
        >>> import pandas as pd
        >>> from massage_outcomes import Dataset
        >>> long = pd.DataFrame({"subject": ["a", "a"], "arm": ["x", "y"], "instrument": "rmdq",
        ...                      "day": [0, 70], "value": [10, 5]})
        >>> Dataset.from_long(long)
        Traceback (most recent call last):
        ...
        massage_outcomes.errors.DataValidationError: the data failed validation: 1 problem:
          - row 1, column 'arm': subject-level 'arm' is 'y' here but 'x' in row 0 for the same subject 'a'
        Fix the export (or map the columns/values with mapping=...) and read again, or pass on_error='quarantine' to keep the good rows and inspect ds.rejected.
        >>> ds = Dataset.from_long(long, on_error="quarantine")
        >>> len(ds.outcomes), ds.rejected[["row", "reason"]].to_dict("records")
        (1, [{'row': 1, 'reason': "subject_conflict: subject-level 'arm' is 'y' here but 'x' in row 0 for the same subject 'a'"}])
        """
        given = frame
        derived = [c for c in DERIVED_COLUMNS if c in frame.columns]
        if derived:
            frame = frame.drop(columns=derived)
        varying = measurement_columns(frame, time_varying)
        # with a required column missing the read fails, and the column the user misspelled ('valeu', which
        # varies within a subject) must stay in view for the "Did you mean" of that error
        if len(varying.columns) and all(c in frame.columns for c in REQUIRED_LONG):
            frame = frame.drop(columns=list(varying.columns))
        result = check_long(frame, file=file, rows=rows, study=study, covariates=covariates,
                            decimal_comma=decimal_comma, extra_problems=extra_problems,
                            value_columns=value_columns)
        release_memory(len(frame))
        raise_or_quarantine(result, on_error=on_error, what=file or "the data")  # type: ignore[arg-type]
        rows_arr = np.asarray(rows) if rows is not None else (
            frame.index.to_numpy() if pd.api.types.is_integer_dtype(frame.index.dtype) else np.arange(len(frame)))
        rejected = rejected_frame(raw if raw is not None else frame, result, rows_arr)
        src = dict(source or {})
        src.setdefault("rows_read", len(frame))
        if _consume:
            # mo.read hands its frame over: with the rejected rows' raw cells kept above, the columns as read
            # are freed now, before the tables are built (peak memory), in the caller's objects too
            for f in {id(x): x for x in (given, raw, frame) if x is not None}.values():
                for c in dict.fromkeys(f.columns):
                    if c in f.columns:
                        del f[c]
            del given, raw, frame
            release_memory(len(result.frame))
        src["rows_kept"] = int((~result.bad).sum())
        src["rows_rejected"] = int(result.bad.sum())
        src["report"] = result.report
        kept = result.kept
        if len(varying.columns):
            kept = kept.assign(**{c: varying[c].to_numpy()[~result.bad] for c in varying.columns})
            src["time_varying"] = list(varying.columns)
        ds = cls._from_checked(kept, source=src, rejected=rejected, time_varying=list(varying.columns))
        return ds

    @classmethod
    def _from_checked(cls, long: pd.DataFrame, *, source: dict[str, Any] | None = None,
                      rejected: pd.DataFrame | None = None, time_varying: Sequence[str] = ()) -> Dataset:
        """Split a frame that passed :func:`check_long` (canonical types, no conflicts) into the three tables.

        Vectorized on integer group codes: per subject (and per session) the first non-missing value of each
        attribute; the allocated technique/intent is the subject's only one, if it has exactly one.
        """
        n = len(long)
        canonical = {"study", "subject", "arm", "condition", "clinic", "session", "technique", "intent",
                     "therapist", "duration_min", "pressure", "body_region", "date", "instrument", "visit",
                     "day", "timing", "value"}
        covs = [c for c in long.columns if c not in canonical and c not in set(time_varying)]
        subj_cols = ["arm", "condition", "clinic", *covs]
        codes = _dense(combine_codes([long["study"], long["subject"]])) if n else np.zeros(0, dtype=np.int64)
        first_row = _first_rows(codes)
        subjects = long.iloc[first_row][SUBJECT_KEY].reset_index(drop=True)
        for c in subj_cols:
            per = take_or_missing(long[c], _first_present(codes, long[c], first_row))
            if isinstance(per.dtype, pd.CategoricalDtype) and c != "condition":
                per = category_to_str(per)  # arm, clinic and text covariates are plain strings
            subjects[c] = per
        for c in ("technique", "intent"):
            subjects[c] = pd.Categorical.from_codes(_only_code(codes, long[c], first_row), dtype=long[c].dtype)

        has_sess = long["session"].notna().to_numpy() if n else np.zeros(0, dtype=bool)
        if has_sess.any():
            needed = [*SESSION_KEY, "day", "date", "technique", "intent", "therapist", "duration_min", "pressure",
                      "body_region"]
            srows = long.loc[has_sess, needed].reset_index(drop=True)  # only the session columns
            scodes = _dense(combine_codes([srows["study"], srows["subject"], srows["session"]]))
            sfirst = _first_rows(scodes)
            sessions = srows.iloc[sfirst][SESSION_KEY].reset_index(drop=True)
            sessions["session"] = sessions["session"].astype("int64")
            # the earliest day per session, NaN ignored (as groupby().min() does; ~10x faster on 3M rows)
            day = np.full(len(sfirst), np.nan)
            np.fmin.at(day, scodes, srows["day"].to_numpy(dtype=float))
            sessions["day"] = day
            for c in ("date", "technique", "intent", "therapist", "duration_min", "pressure", "body_region"):
                sessions[c] = take_or_missing(srows[c], _first_present(scodes, srows[c], sfirst))
        else:
            sessions = _empty(SESSION_COLUMNS)
        outcomes = long[[*OUTCOME_COLUMNS, *time_varying]]
        outcomes = outcomes.assign(visit=order_visits(outcomes["visit"], outcomes["day"]))
        return cls(subjects, sessions, outcomes, source=source, rejected=rejected, _trusted=True)

    # ------------------------------------------------------------------------------------------------------
    # derived views
    # ------------------------------------------------------------------------------------------------------
    @property
    def instruments(self) -> list[str]:
        """Instrument keys present in ``outcomes``, sorted."""
        return sorted(pd.unique(self.outcomes["instrument"].dropna()).tolist())

    @property
    def covariates(self) -> list[str]:
        """Subject-level columns beyond the canonical ones (age, sex, ...)."""
        return [c for c in self.subjects.columns if c not in SUBJECT_BASE]

    def analysis_frame(self, instrument: str | None = None) -> pd.DataFrame:
        """One row per measurement of ``instrument`` with subject and session attributes and derived change.

        Parameters
        ----------
        instrument : str, optional
            A registered instrument key; may be omitted when the Dataset holds a single instrument.

        Returns
        -------
        DataFrame
            Columns: ``study, subject, arm, condition, clinic, <covariates>, session, technique, intent,
            therapist, duration_min, visit, visit_order, day, week, timing, instrument, value, baseline, change,
            improvement, pct_improvement``. ``technique``/``intent`` come from the session when the row has
            one, else from the subject's allocation; ``therapist`` from the session, else the subject's most
            frequent therapist. ``baseline`` is the subject's value at ``timing == "baseline"`` (the earliest
            if several; NaN if none); ``change = value - baseline``; ``improvement = sign * change`` (positive
            is better whatever the scale's direction); ``pct_improvement = 100 * improvement / |baseline|``
            (NaN at baseline 0).

        Examples
        --------
        >>> import pandas as pd
        >>> from massage_outcomes import Dataset
        >>> long = pd.DataFrame({"subject": ["a", "a"], "instrument": "mouth_opening", "day": [0, 42],
        ...                      "value": [30.0, 36.0]})
        >>> Dataset.from_long(long).analysis_frame()[["value", "change", "improvement", "pct_improvement"]]
           value  change  improvement  pct_improvement
        0   30.0     0.0          0.0              0.0
        1   36.0     6.0          6.0             20.0
        """
        if instrument is None:
            keys = self.instruments
            if len(keys) != 1:
                raise ArgumentError(f"this Dataset holds several instruments ({', '.join(keys)}); pass instrument=")
            instrument = keys[0]
        inst = _instruments.get(instrument)
        o = self.outcomes
        o = o.loc[(o["instrument"] == inst.key).to_numpy()].reset_index(drop=True)
        if len(o) == 0 and inst.key not in self.instruments:
            raise DataValidationError(
                f"no {inst.key!r} measurements in this Dataset; instruments present: {', '.join(self.instruments)}")
        subj = self.subjects.rename(columns={"technique": "_s_technique", "intent": "_s_intent"})
        frame = o.merge(subj, on=SUBJECT_KEY, how="left", sort=False)
        sess = self.sessions[["study", "subject", "session", "technique", "intent", "therapist", "duration_min"]]
        sess = sess.assign(session=sess["session"].astype("Int64"))
        frame = frame.merge(sess, on=SESSION_KEY, how="left", sort=False)
        for c in ("technique", "intent"):
            merged = frame[c].astype(object)
            fallback = frame[f"_s_{c}"].astype(object)
            dtype = self.subjects[c].dtype
            frame[c] = pd.Categorical(merged.where(merged.notna(), fallback).where(lambda x: x.notna(), None),
                                      dtype=dtype)
        # therapist: the session's, else the subject's most frequent therapist
        if self.sessions["therapist"].notna().any() and frame["therapist"].isna().any():
            t = self.sessions.dropna(subset=["therapist"])
            counts = t.groupby(["study", "subject", "therapist"], observed=True, sort=True).size() \
                .reset_index(name="_n").sort_values(["study", "subject", "_n"], ascending=[True, True, False],
                                                    kind="stable")
            modal = counts.drop_duplicates(SUBJECT_KEY)[["study", "subject", "therapist"]] \
                .rename(columns={"therapist": "_modal"})
            frame = frame.merge(modal, on=SUBJECT_KEY, how="left", sort=False)
            frame["therapist"] = frame["therapist"].where(frame["therapist"].notna(), frame["_modal"])
            frame = frame.drop(columns="_modal")
        frame["therapist"] = frame["therapist"].astype(_STR)
        frame["visit_order"] = pd.array(np.where(frame["visit"].cat.codes >= 0, frame["visit"].cat.codes, -1),
                                        dtype="Int64")
        frame.loc[frame["visit"].isna(), "visit_order"] = pd.NA
        frame["week"] = frame["day"] / 7.0
        # baseline: the earliest timing == "baseline" value per subject (vectorized merge)
        base = o.loc[(o["timing"] == "baseline").to_numpy(), ["study", "subject", "day", "value"]]
        base = base.sort_values(["study", "subject", "day"], kind="stable").drop_duplicates(SUBJECT_KEY)
        base = base.rename(columns={"value": "baseline"}).drop(columns="day")
        frame = frame.merge(base, on=SUBJECT_KEY, how="left", sort=False)
        frame["change"] = inst.change(frame["baseline"], frame["value"])
        frame["improvement"] = inst.improvement(frame["baseline"], frame["value"]) + 0.0  # no -0.0
        frame["pct_improvement"] = inst.percent_improvement(frame["baseline"], frame["value"]) + 0.0
        covs = self.covariates
        cols = ["study", "subject", "arm", "condition", "clinic", *covs, "session", "technique", "intent",
                "therapist", "duration_min", "visit", "visit_order", "day", "week", "timing", "instrument",
                "value", "baseline", "change", "improvement", "pct_improvement"]
        extra = [c for c in o.columns if c not in OUTCOME_COLUMNS and c not in cols]
        return frame[cols + extra].reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Measurements per instrument, arm, timing and visit: subjects, rows, mean, SD, min and max.

        Printed, the table is headed by what the reader did to the source: every column it renamed
        (``'Treatment' -> arm``) and every other assumption it recorded in ``ds.source["assumed"]``.

        Returns
        -------
        DataFrame
            Columns ``study, instrument, arm, timing, visit, n_subjects, n, mean, sd, min, max``;
            ``.attrs["read_notes"]`` holds the header lines.

        Examples
        --------
        >>> import pandas as pd
        >>> from massage_outcomes import Dataset
        >>> long = pd.DataFrame({"subject": ["a", "a", "b", "b"], "instrument": "rmdq",
        ...                      "day": [0, 70, 0, 70], "value": [10, 6, 12, 9]})
        >>> Dataset.from_long(long).summary()[["instrument", "timing", "n", "mean"]]
          instrument    timing  n  mean
        0       rmdq  baseline  2  11.0
        1       rmdq  followup  2   7.5
        """
        o = self.outcomes.merge(self.subjects[["study", "subject", "arm"]], on=SUBJECT_KEY, how="left")
        o = o.assign(arm=o["arm"].astype(object).fillna("(none)"),
                     visit=o["visit"].astype(object).fillna("(none)"))
        keys = ["study", "instrument", "arm", "timing", "visit"]
        g = o.groupby(keys, observed=True, sort=False, dropna=False)
        out = g.agg(n_subjects=("subject", "nunique"), n=("value", "size"), mean=("value", "mean"),
                    sd=("value", "std"), min=("value", "min"), max=("value", "max")).reset_index()
        vis_order = {v: i for i, v in enumerate(self.outcomes["visit"].cat.categories)}
        out["_v"] = out["visit"].map(vis_order).fillna(-1)
        out["_t"] = out["timing"].cat.codes
        out = out.sort_values(["study", "instrument", "arm", "_v", "_t"], kind="stable")
        out = out.drop(columns=["_v", "_t"]).reset_index(drop=True)
        out["visit"] = out["visit"].where(out["visit"] != "(none)", None)
        out["arm"] = out["arm"].where(out["arm"] != "(none)", None)
        return SummaryFrame(out, notes=self.read_notes())

    def read_notes(self) -> list[str]:
        """What the reader did to the source, in words: renamed columns, then its other assumptions.

        Examples
        --------
        >>> import pandas as pd
        >>> from massage_outcomes import Dataset
        >>> long = pd.DataFrame({"subject": ["a"], "instrument": "rmdq", "day": [0], "value": [10]})
        >>> Dataset.from_long(long, source={"renamed": {"Treatment": "arm"}}).read_notes()
        ["columns renamed: 'Treatment' -> arm"]
        """
        renamed = self.source.get("renamed") or {}
        lines = []
        if renamed:
            lines.append("columns renamed: " + ", ".join(f"{old!r} -> {new}" for old, new in renamed.items()))
        lines += [f"assumed: {a}" for a in self.source.get("assumed") or []
                  if not str(a).startswith("column ")]
        return lines

    def _describe_lines(self) -> list[str]:
        studies = pd.unique(self.subjects["study"]).tolist()
        study = f"study {studies[0]!r}" if len(studies) == 1 else f"{len(studies)} studies"
        lines = [f"Dataset: {len(self.subjects)} subjects, {len(self.sessions)} sessions, "
                 f"{len(self.outcomes)} outcome rows ({study})"]
        arms = self.subjects["arm"].value_counts(sort=False).sort_index()
        if len(arms):
            lines.append("  arms: " + ", ".join(f"{a} {n}" for a, n in arms.items()))
        cond = self.subjects["condition"].value_counts(sort=False)
        cond = cond[cond > 0]
        if len(cond):
            lines.append("  conditions: " + ", ".join(f"{a} {n}" for a, n in cond.items()))
        inst = self.outcomes["instrument"].value_counts(sort=False).sort_index()
        if len(inst):
            lines.append("  instruments: " + ", ".join(f"{a} {n}" for a, n in inst.items()))
        visits = list(self.outcomes["visit"].cat.categories)
        if visits:
            shown = visits if len(visits) <= 8 else visits[:7] + ["..."]
            lines.append("  visits: " + ", ".join(str(v) for v in shown))
        if len(self.rejected):
            lines.append(f"  rejected: {len(self.rejected)} rows (see ds.rejected)")
        if self.source.get("file"):
            lines.append(f"  source: {self.source['file']}")
        lines += [f"  {line}" for line in self.read_notes()]
        return lines

    def __repr__(self) -> str:
        return "\n".join(self._describe_lines())

    def _repr_html_(self) -> str:
        lines = self._describe_lines()
        head = f"<strong>{html.escape(lines[0])}</strong>"
        items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in lines[1:])
        return f"<div>{head}<ul>{items}</ul></div>"

    def __len__(self) -> int:
        return len(self.outcomes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        try:
            for a, b in ((self.subjects, other.subjects), (self.sessions, other.sessions),
                         (self.outcomes, other.outcomes)):
                pd.testing.assert_frame_equal(a, b)
        except AssertionError:
            return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Dataset:
        return Dataset(self.subjects.copy(), self.sessions.copy(), self.outcomes.copy(),
                       rejected=self.rejected.copy(), source=dict(self.source), truth=self.truth)

    # ------------------------------------------------------------------------------------------------------
    # Parquet directory round trip
    # ------------------------------------------------------------------------------------------------------
    def to_parquet(self, path: str | Path) -> Path:
        """Write the tables to a directory (``subjects``, ``sessions``, ``outcomes``, ``rejected`` .parquet and
        ``dataset.json`` holding dtypes, categories and the JSON-able part of ``source``/``truth``).

        :meth:`from_parquet` reads it back with nothing changed: dtypes, categories and their order, row order.
        Nothing is pickled.

        Examples
        --------
        >>> import tempfile, pandas as pd
        >>> from massage_outcomes import Dataset
        >>> ds = Dataset.from_long(pd.DataFrame({"subject": ["a"], "instrument": "rmdq", "day": [0],
        ...                                      "value": [3]}))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = ds.to_parquet(d)
        ...     Dataset.from_parquet(d) == ds
        True
        """
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"format": "massage_outcomes.Dataset", "version": _FORMAT_VERSION, "tables": {}}
        tables = {"subjects": self.subjects, "sessions": self.sessions, "outcomes": self.outcomes,
                  "rejected": self.rejected}
        for name, table in tables.items():
            table = table.reset_index(drop=True)
            meta["tables"][name] = _schema(table)
            if name == "rejected":
                table = table.astype(object).where(table.notna(), None).astype("str")
            table.to_parquet(out / f"{name}.parquet", index=False)
        meta["source"] = _jsonable({k: v for k, v in self.source.items() if k != "report"})
        truth_tables: list[str] = []
        if isinstance(self.truth, Mapping):
            plain = {}
            for k, v in self.truth.items():
                if isinstance(v, pd.DataFrame):
                    v.reset_index(drop=True).to_parquet(out / f"truth_{k}.parquet", index=False)
                    truth_tables.append(str(k))
                else:
                    plain[str(k)] = v
            meta["truth"] = _jsonable(plain)
        elif self.truth is not None:
            meta["truth"] = _jsonable(self.truth)
        meta["truth_tables"] = truth_tables
        (out / "dataset.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        return out

    def to_duckdb(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the study to a DuckDB database file: the embedded store for :func:`massage_outcomes.scan`.

        Tables ``subjects``, ``sessions``, ``outcomes`` (vocabularies and visits as ENUM types), ``instruments``
        (the registry entries used) and the view ``long`` (the canonical long format, which ``mo.scan(path)``
        reads); see :mod:`massage_outcomes.scale.store`.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import massage_outcomes as mo
        >>> ds = mo.load_sample("trial")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = ds.to_duckdb(pathlib.Path(d) / "trial.duckdb")
        ...     mo.scan(path).count() == len(ds.outcomes)
        True
        """
        from massage_outcomes.scale.store import write_duckdb

        return write_duckdb(self, path, overwrite=overwrite)

    @classmethod
    def from_parquet(cls, path: str | Path) -> Dataset:
        """Read a directory written by :meth:`to_parquet` (see there)."""
        d = Path(path)
        meta_path = d / "dataset.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {"tables": {}}
        tables: dict[str, pd.DataFrame | None] = {}
        for name in ("subjects", "sessions", "outcomes", "rejected"):
            p = d / f"{name}.parquet"
            if not p.exists():
                if name == "rejected":
                    tables[name] = None
                    continue
                raise DataValidationError(f"{d} has no {name}.parquet: not a Dataset directory")
            frame = pd.read_parquet(p)
            tables[name] = _apply_schema(frame, meta["tables"].get(name))
        truth: Any = meta.get("truth")
        for k in meta.get("truth_tables", []):
            truth = dict(truth or {})
            truth[k] = pd.read_parquet(d / f"truth_{k}.parquet")
        ds = cls(tables["subjects"], tables["sessions"], tables["outcomes"], rejected=tables["rejected"],
                 source=meta.get("source"), truth=truth)
        # restore exact visit categories (unused ones too)
        return ds


def measurement_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The time-varying columns ``names`` of a long frame, typed: numbers as float64 when every present value is
    a number, else text. A name that is not a column raises, naming the columns."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataValidationError(f"time_varying names {missing}, which are not columns of the data "
                                  f"(columns: {', '.join(map(str, frame.columns))})")
    out = pd.DataFrame(index=frame.index)
    for c in names:
        s = frame[c]
        if not pd.api.types.is_numeric_dtype(s.dtype):
            token = s.astype(str).str.strip().str.lower().isin(MISSING_TOKENS)
            s = s.where(~token.to_numpy(), None)
        num = pd.to_numeric(s, errors="coerce")
        out[c] = num.astype(float) if (num.notna() == s.notna()).all() else _text(s)
    return out


class SummaryFrame(pd.DataFrame):
    """The table of :meth:`Dataset.summary`: a DataFrame printed under the reader's notes (renames, assumptions).

    Any operation on it gives a plain DataFrame; the notes are in ``.attrs["read_notes"]``.
    """

    def __init__(self, data: Any = None, *args: Any, notes: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        self.attrs["read_notes"] = list(notes)

    @property
    def _constructor(self) -> Any:
        return pd.DataFrame

    def _header(self) -> str:
        notes = self.attrs.get("read_notes") or []
        return "".join(f"# {n}\n" for n in notes)

    def __repr__(self) -> str:
        return self._header() + super().__repr__()

    def _repr_html_(self) -> str | None:
        notes = self.attrs.get("read_notes") or []
        head = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        return head + (super()._repr_html_() or "")


def _schema(frame: pd.DataFrame) -> dict[str, Any]:
    cols = {}
    for c in frame.columns:
        dt = frame[c].dtype
        if isinstance(dt, pd.CategoricalDtype):
            cols[str(c)] = {"dtype": "category", "categories": [_plain(x) for x in dt.categories],
                            "ordered": bool(dt.ordered), "categories_dtype": str(dt.categories.dtype)}
        else:
            cols[str(c)] = {"dtype": str(dt)}
    return {"columns": cols, "order": [str(c) for c in frame.columns]}


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    return x


def _apply_schema(frame: pd.DataFrame, schema: Mapping[str, Any] | None) -> pd.DataFrame:
    if not schema:
        return frame
    cols = schema["columns"]
    for c, spec in cols.items():
        if c not in frame.columns:
            continue
        if spec["dtype"] == "category":
            cats = pd.Index(spec["categories"])
            if spec.get("categories_dtype") in ("str", "string", "object") or cats.dtype == object:
                cats = cats.astype(spec.get("categories_dtype", "str")) if len(cats) else \
                    pd.Index([], dtype=spec.get("categories_dtype", "str"))
            dtype = pd.CategoricalDtype(cats, ordered=spec["ordered"])
            values = frame[c]
            if isinstance(values.dtype, pd.CategoricalDtype):
                values = values.astype(object)
            frame[c] = pd.Categorical(values.where(values.notna(), None), dtype=dtype)
        else:
            try:
                if str(frame[c].dtype) != spec["dtype"]:
                    frame[c] = frame[c].astype(spec["dtype"])
            except (TypeError, ValueError):
                pass
    return frame[[c for c in schema["order"] if c in frame.columns]]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def order_visits(visit: pd.Series, day: pd.Series) -> pd.Categorical:
    """Visit labels as an ordered Categorical, ordered by the earliest day each visit is seen.

    An already-categorical visit keeps its categories (made ordered).

    Examples
    --------
    >>> import pandas as pd
    >>> order_visits(pd.Series(["week 10", "baseline", "week 4"]), pd.Series([70, 0, 28])).categories.tolist()
    ['baseline', 'week 4', 'week 10']
    """
    if isinstance(visit.dtype, pd.CategoricalDtype) and visit.cat.ordered and \
            pd.api.types.is_string_dtype(visit.cat.categories.dtype) and visit.cat.categories.dtype != object:
        return visit.array
    if isinstance(visit.dtype, pd.CategoricalDtype) and not visit.cat.ordered:
        codes = visit.cat.codes.to_numpy()
        ncat = len(visit.cat.categories)
        present = codes >= 0
        mins = pd.Series(np.asarray(day, dtype=float)[present]).groupby(codes[present]).min()
        first_seen = pd.Series(np.arange(int(present.sum()))).groupby(codes[present]).min()
        key = pd.DataFrame({"d": mins.reindex(range(ncat)).to_numpy(),
                            "f": first_seen.reindex(range(ncat)).fillna(np.inf).to_numpy()})
        order = key.sort_values(["d", "f"], kind="stable", na_position="last").index.to_numpy()
        cats = visit.cat.categories[order]
        if not pd.api.types.is_string_dtype(cats.dtype):
            cats = pd.Index([str(c) for c in cats], dtype=_STR)
        remap = np.empty(ncat, dtype=np.int64)
        remap[order] = np.arange(ncat)
        new_codes = np.where(present, remap[np.maximum(codes, 0)] if ncat else -1, -1)
        return pd.Categorical.from_codes(new_codes, categories=pd.Index(cats, dtype=_STR), ordered=True)
    if isinstance(visit.dtype, pd.CategoricalDtype):
        cats = visit.cat.categories
        if not pd.api.types.is_string_dtype(cats.dtype):
            cats = cats.astype(_STR)
            values = visit.astype(object).map(lambda v: None if pd.isna(v) else str(v))
        else:
            values = visit.astype(object)
            cats = cats.astype(_STR)
        return pd.Categorical(values.where(values.notna(), None), categories=cats, ordered=True)
    text = _text(visit)
    frame = pd.DataFrame({"v": text.to_numpy(), "d": np.asarray(day, dtype=float)})
    frame = frame[frame["v"].notna()]
    order = frame.groupby("v", sort=False)["d"].min().reset_index()
    order["first"] = np.arange(len(order))
    order = order.sort_values(["d", "first"], kind="stable", na_position="last")
    cats = pd.Index(order["v"].tolist(), dtype=_STR)
    return pd.Categorical(text.astype(object).where(text.notna(), None), categories=cats, ordered=True)


def as_analysis_frame(data: Dataset | pd.DataFrame, instrument: str | None = None) -> pd.DataFrame:
    """The analysis frame of ``data``: a Dataset, or a long DataFrame.

    A long frame that already has the derived columns (``baseline``, ``change``, ``improvement``) is
    returned filtered to ``instrument`` (a copy); one without them is first split into a Dataset with
    :meth:`Dataset.from_long` (and validated).

    Parameters
    ----------
    data : Dataset or DataFrame
    instrument : str, optional
        Needed when the data hold several instruments.

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.dataset import as_analysis_frame
    >>> long = pd.DataFrame({"subject": ["a", "a"], "instrument": "pain_nrs", "day": [0, 28], "value": [6, 3]})
    >>> as_analysis_frame(long, "pain_nrs")["improvement"].tolist()
    [0.0, 3.0]
    """
    if isinstance(data, Dataset):
        return data.analysis_frame(instrument)
    if not isinstance(data, pd.DataFrame):
        raise ArgumentTypeError(f"expected a massage_outcomes.Dataset or a pandas DataFrame; got {type(data).__name__}")
    derived = {"baseline", "change", "improvement", "value"}
    if derived <= set(data.columns):
        frame = data
        if "instrument" in frame.columns:
            if instrument is None:
                keys = pd.unique(frame["instrument"].dropna())
                if len(keys) > 1:
                    raise ArgumentError(f"the frame holds several instruments ({', '.join(map(str, keys))}); "
                                     "pass instrument=")
            else:
                key = _instruments.get(instrument).key
                frame = frame.loc[(frame["instrument"] == key).to_numpy()]
        return frame.reset_index(drop=True).copy()
    return Dataset.from_long(data).analysis_frame(instrument)


__all__ = ["Dataset", "as_analysis_frame", "order_visits"]

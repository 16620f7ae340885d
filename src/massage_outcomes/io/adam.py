"""CDISC ADaM (ADSL + a BDS dataset such as ADQS) to a validated Dataset.

How the variables map:

==========================  ====================================================================================
ADaM                        massage_outcomes
==========================  ====================================================================================
``STUDYID``                 ``study``
``USUBJID``                 ``subject`` (BDS rows are joined to ADSL on it)
``TRT01P`` (else TRT01A)    ``arm`` (recode with ``mapping={"arms": {"STRUCTURAL MASSAGE": "therapeutic"}}``)
``SITEID``                  ``clinic``
``AGE``, ``SEX``, ``*FL``   covariates ``age``, ``sex`` and the population flags (``ittfl``, ``saffl``...)
``PARAMCD``                 ``instrument``: ``RMDQ`` → rmdq, ``PAINNRS`` → pain_nrs (a registered key with the
                            underscores removed, any case); others through ``mapping={"paramcd": {"NRS":
                            "pain_nrs"}}``
``AVAL``                    ``value`` (``AVALC`` when AVAL is missing, so that text is reported, not lost)
``AVISIT``                  ``visit`` ("WEEK 10" → ``week_10``); ``SESSION n`` marks session ``n``
``ADY``                     ``day``: ADaM has no day 0 (day 1 is the reference date), so ``day = ADY − 1`` for
                            ADY ≥ 1 and ``day = ADY`` for ADY ≤ −1 (our day 0 is the reference date itself);
                            ADY = 0 is reported as impossible. Without ADY the day comes from AVISIT.
``ABLFL = "Y"``             ``timing = "baseline"``; other visit records are ``followup``
``ATPT``                    ``PRE-SESSION`` / ``POST-SESSION`` (anything containing PRE/POST) → ``pre``/``post``
``DTYPE`` non-empty         derived records (LOCF, AVERAGE...) are not observations: skipped with a warning and
                            counted in ``ds.source["derived_skipped"]``
==========================  ====================================================================================

Files: SAS transport (``.xpt``, via pyreadstat or pandas), SAS7BDAT, CSV or Parquet, or DataFrames. Row numbers in
problems are observation numbers (1 = first record) for SAS and Parquet files and the line number for CSV.

Examples
--------
>>> import pandas as pd
>>> import massage_outcomes as mo
>>> adsl = pd.DataFrame({"STUDYID": ["MT-01"] * 2, "USUBJID": ["MT-01-001", "MT-01-002"],
...                      "TRT01P": ["therapeutic", "usual_care"], "AGE": [51, 44], "SEX": ["F", "M"]})
>>> adqs = pd.DataFrame({
...     "USUBJID": ["MT-01-001"] * 4 + ["MT-01-002"] * 2,
...     "PARAMCD": ["RMDQ", "RMDQ", "PAINNRS", "PAINNRS", "RMDQ", "RMDQ"],
...     "AVAL": [14, 9, 6, 4, 12, 11],
...     "AVISIT": ["BASELINE", "WEEK 10", "SESSION 1", "SESSION 1", "BASELINE", "WEEK 10"],
...     "ADY": [1, 71, 8, 8, 1, 71], "ABLFL": ["Y", "", "", "", "Y", ""],
...     "ATPT": ["", "", "PRE-SESSION", "POST-SESSION", "", ""]})
>>> ds = mo.read_adam(adsl, adqs)
>>> ds.outcomes[["subject", "instrument", "visit", "day", "timing", "session", "value"]]
     subject instrument     visit   day    timing  session  value
0  MT-01-001       rmdq  baseline   0.0  baseline     <NA>   14.0
1  MT-01-001       rmdq   week_10  70.0  followup     <NA>    9.0
2  MT-01-001   pain_nrs       NaN   7.0       pre        1    6.0
3  MT-01-001   pain_nrs       NaN   7.0      post        1    4.0
4  MT-01-002       rmdq  baseline   0.0  baseline     <NA>   12.0
5  MT-01-002       rmdq   week_10  70.0  followup     <NA>   11.0
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes.errors import ArgumentTypeError, DataValidationError
from massage_outcomes.io._mapping import apply_mapping, fold
from massage_outcomes.io.plan import adam_arguments, is_plan, load_plan, register_study_instruments
from massage_outcomes.schema import Problem, ValidationReport, check_option, error_message, fatal_error

__all__ = ["read_adam", "adam_day", "paramcd_to_instrument"]

OnError = Literal["raise", "quarantine"]

# canonical long-frame column -> the ADaM variable to name in problems
_ADAM_NAME = {"value": "AVAL", "day": "ADY", "instrument": "PARAMCD", "visit": "AVISIT", "timing": "ATPT",
              "subject": "USUBJID", "session": "AVISIT", "study": "STUDYID", "arm": "TRT01P", "clinic": "SITEID"}
_SESSION_VISIT = re.compile(r"^\s*(?:treatment\s+)?session\s*[#_\-]?\s*(\d+)\s*$", re.IGNORECASE)


def adam_day(ady: Any) -> np.ndarray:
    """ADaM study day (no day 0; day 1 = reference date) → days since the reference date.

    ``ADY − 1`` for ADY ≥ 1, ``ADY`` for ADY ≤ −1; 0 and missing give NaN.

    Examples
    --------
    >>> adam_day([1, 2, 71, -1, -7, 0]).tolist()
    [0.0, 1.0, 70.0, -1.0, -7.0, nan]
    """
    a = np.asarray(pd.to_numeric(pd.Series(ady), errors="coerce"), dtype=float)
    return np.where(a >= 1, a - 1.0, np.where(a <= -1, a, np.nan))


def paramcd_to_instrument(codes: pd.Series, mapping: Mapping[str, str] | None = None) -> pd.Series:
    """PARAMCD → instrument key: the user's mapping first, else a registered key matched without underscores
    and case (``PAINNRS`` → ``pain_nrs``); unknown codes are returned lower-cased (validation names them).

    Examples
    --------
    >>> paramcd_to_instrument(pd.Series(["RMDQ", "PAINNRS", "HIT6", "BOTHER"]), {"BOTHER": "bothersomeness"}).tolist()
    ['rmdq', 'pain_nrs', 'hit6', 'bothersomeness']
    """
    user = {str(k).strip().upper(): v for k, v in (mapping or {}).items()}
    squeezed = {re.sub(r"[^A-Z0-9]", "", i.key.upper()): i.key for i in _instruments.all_instruments()}
    out: dict[Any, Any] = {}
    for code in pd.unique(codes.dropna()):
        c = str(code).strip().upper()
        out[code] = user.get(c) or squeezed.get(re.sub(r"[^A-Z0-9]", "", c)) or str(code).strip().lower()
    return codes.map(out)


def _read(source: Any, what: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """A dataset as a DataFrame with upper-case variable names, its row numbers as the user sees them, a name."""
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        rows = np.arange(len(frame)) + 1
        name = f"the {what} frame"
    else:
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no such {what} file: {path}")
        name = path.name
        suffix = path.suffix.lower()
        try:
            if suffix == ".xpt":
                try:
                    import pyreadstat

                    frame, _ = pyreadstat.read_xport(str(path))
                except ImportError:  # pragma: no cover - pyreadstat is a dependency
                    frame = pd.read_sas(path, format="xport", encoding="latin-1")
                rows = np.arange(len(frame)) + 1
            elif suffix == ".sas7bdat":
                try:
                    import pyreadstat

                    frame, _ = pyreadstat.read_sas7bdat(str(path))
                except ImportError:  # pragma: no cover
                    frame = pd.read_sas(path, format="sas7bdat", encoding="latin-1")
                rows = np.arange(len(frame)) + 1
            elif suffix in (".parquet", ".pq"):
                frame = pd.read_parquet(path)
                rows = np.arange(len(frame)) + 1
            elif suffix in (".csv", ".txt", ".tsv"):
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                                    sep="\t" if suffix == ".tsv" else ",")
                rows = np.arange(len(frame)) + 2
            else:
                raise fatal_error(name, "unreadable",
                                  f"unsupported ADaM file type {suffix!r}; use .xpt, .sas7bdat, .csv or .parquet")
        except DataValidationError:
            raise
        except Exception as err:  # any parser failure is a problem of the whole file
            raise fatal_error(name, "unreadable",
                              f"cannot read the {what} dataset ({type(err).__name__}: {err})") from None
    frame = frame.copy()
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    for c in frame.columns:  # SAS character variables: blank means missing
        if pd.api.types.is_string_dtype(frame[c]) or frame[c].dtype == object:
            s = frame[c].astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
            frame[c] = s.where(~s.isin(["", None]), None)
    return frame, np.asarray(rows), name


def read_adam(adsl: Any, bds: Any = None, *, mapping: Mapping[str, Any] | None = None,
              on_error: OnError = "raise", study: str | None = None, params: Sequence[str] | None = None,
              derived: Literal["skip", "prefer"] = "skip", replicates: Literal["error", "first"] = "error",
              screening: Literal["skip", "reject"] = "skip") -> Any:
    """Read CDISC ADaM subject-level (ADSL) and BDS datasets into a validated :class:`~massage_outcomes.Dataset`.

    Parameters
    ----------
    adsl : path or DataFrame
        Subject-level dataset (one record per ``USUBJID``): arm ``TRT01P``, site, age, sex, population flags.
    bds : path, DataFrame or list of them
        Basic Data Structure dataset(s) such as ADQS: one record per subject × parameter × timepoint.
    mapping : ReadPlan, plan file (.yaml/.json) or dict, optional
        A read plan from :func:`massage_outcomes.describe` (``describe(adsl, bds=...)``): its ``paramcd``,
        ``arms``, ``params``, ``derived``, ``replicates``, ``screening`` and study ``instruments`` are used.
        Or, as a dict: ``"paramcd"``: {PARAMCD: instrument key}; ``"arms"``: {TRT01P value: arm label}; ``"condition"``: the
        condition of every subject (e.g. ``"low_back_pain"``) or the ADSL variable holding it;
        ``"technique"``: the ADSL variable with each subject's allocated technique; ``"covariates"``: more ADSL
        variables to keep; ``"subject"``: the ADSL variable to use as the subject id (e.g. ``"SUBJID"``; records
        are still joined on USUBJID); any other key is applied to the long frame as in :func:`massage_outcomes.read`.
    on_error : {"raise", "quarantine"}
        Raise :class:`~massage_outcomes.errors.DataValidationError` listing every problem, or keep the good
        records and put the bad ones in ``ds.rejected``.
    study : str, optional
        Study name when there is no ``STUDYID``.
    params : list of str, optional
        The PARAMCDs to read (default: all). Records of other parameters are skipped and counted.
    derived : {"skip", "prefer"}
        Records with ``DTYPE`` set (AVERAGE, LOCF...) are not observations: ``"skip"`` them (default), or
        ``"prefer"`` them, so that a derived record replaces the observed records of its subject, parameter and
        visit (e.g. the AVERAGE of replicate readings) and LOCF records fill missed visits.
    replicates : {"error", "first"}
        Observed records that differ only by ``ATPT`` (replicate readings, positions) cannot all be one
        measurement: ``"error"`` names them; ``"first"`` keeps the first (by ``ATPTN``, else file order).
    screening : {"skip", "reject"}
        Records before the reference date (negative ``ADY``) that are not the baseline (``ABLFL``) are screening
        assessments: ``"skip"`` them (counted and warned) or ``"reject"`` them as ``negative_day`` problems.

    Returns
    -------
    Dataset
        ``ds.source`` records the files, the PARAMCD → instrument map used, the validation report, and every
        BDS record: ``bds_records == rows_read + sum(skipped.values())`` with ``skipped`` counting the
        ``derived``, ``replaced`` (by a preferred derived record), ``replicates``, ``params`` and ``screening``
        records not read.

    Notes
    -----
    Day convention: ADaM study days skip 0 (the reference date is day 1, the day before it day −1), while our
    ``day`` counts days since the reference date (0 on it). So ``day = ADY − 1`` for ADY ≥ 1 and ``day = ADY``
    for negative ADY; e.g. a week-10 visit on study day 71 has ``day = 70`` (``week = 10``).

    References
    ----------
    CDISC Analysis Data Model Implementation Guide v1.3 (ADaMIG), 2021; ADaM Structure for Occurrence Data.

    Examples
    --------
    >>> import pandas as pd
    >>> import massage_outcomes as mo
    >>> adsl = pd.DataFrame({"USUBJID": ["1"], "TRT01P": ["Swedish massage group"], "AGE": [40]})
    >>> adqs = pd.DataFrame({"USUBJID": ["1", "1"], "PARAMCD": ["NRS", "NRS"], "AVAL": [7, 4],
    ...                      "AVISIT": ["BASELINE", "WEEK 4"], "ADY": [1, 29], "ABLFL": ["Y", None]})
    >>> ds = mo.read_adam(adsl, adqs, mapping={"paramcd": {"NRS": "pain_nrs"},
    ...                                        "arms": {"Swedish massage group": "relaxation"}})
    >>> ds.subjects[["subject", "arm", "intent"]].astype(str).to_dict("records")
    [{'subject': '1', 'arm': 'relaxation', 'intent': 'relaxation'}]
    >>> ds.outcomes["day"].tolist()
    [0.0, 28.0]

    The bundled trial as ADaM (``mo.load_sample("trial_adam")`` does the same):

    >>> from massage_outcomes.io.sample import ADAM_MAPPING, sample_dir
    >>> d = sample_dir() / "trial" / "adam"
    >>> ds = mo.read_adam(d / "adsl.csv", d / "adqs.csv", mapping=ADAM_MAPPING)
    >>> ds.subjects["arm"].value_counts().sort_index().to_dict()
    {'relaxation': 60, 'therapeutic': 60, 'usual_care': 60}
    >>> ds.source["paramcd"]
    {'PAINNRS': 'pain_nrs', 'RMDQ': 'rmdq'}
    """
    check_option("on_error", on_error, ("raise", "quarantine"))
    opts = _options(mapping, bds, study=study, params=params, derived=derived, replicates=replicates,
                    screening=screening)
    sl, sl_rows, sl_name = _read(adsl, "ADSL")
    _check_adsl(sl, sl_rows, sl_name)
    bds_list: Sequence[Any] = bds if isinstance(bds, (list, tuple)) else [bds]
    subj = _subject_frame(sl, sl_name, opts)

    pieces: list[pd.DataFrame] = []
    problems: list[Problem] = []
    skipped = dict.fromkeys(("derived", "replaced", "replicates", "params", "screening"), 0)
    bds_records = 0
    param_used: dict[str, str] = {}
    names = []
    for item in bds_list:
        bd, rows, name = _read(item, "BDS")
        names.append(name)
        _check_bds(bd, name)
        bds_records += len(bd)
        keep = select_records(bd, name=name, params=opts.params, derived=opts.derived, replicates=opts.replicates,
                              screening=opts.screening, counts=skipped)
        bd, rows = bd.loc[keep].reset_index(drop=True), rows[keep]
        pieces.append(_bds_piece(bd, rows, name, subj, opts.param_map, problems, param_used))
    long, without = _long_frame(pieces, subj, opts)
    _warn_skipped(without, skipped)
    file = names[0] if len(names) == 1 else ", ".join(names)
    source = {"file": file, "adsl": sl_name, "format": "adam", "paramcd": param_used,
              "derived_skipped": skipped["derived"], "subjects_without_records": without, "rows_read": len(long),
              "bds_records": bds_records, "skipped": dict(skipped)}
    return _finish(long, problems, source=source, file=file, study=opts.study, on_error=on_error)


@dataclass(frozen=True)
class _AdamOptions:
    """read_adam's choices once a read plan is resolved, and the ADaM-specific keys taken out of ``mapping``."""

    study: str | None
    params: Sequence[str] | None
    derived: str
    replicates: str
    screening: str
    param_map: Mapping[str, str]
    arms_map: Mapping[Any, Any]
    condition: Any
    technique_var: Any
    extra_covs: tuple[str, ...]
    subject_var: Any
    rest: Mapping[str, Any]  # the other mapping keys, applied to the long frame


def _options(mapping: Mapping[str, Any] | None, bds: Any, *, study: str | None, params: Sequence[str] | None,
             derived: str, replicates: str, screening: str) -> _AdamOptions:
    """The read plan (if ``mapping`` is one) resolved, the options checked, the ADaM keys split from ``mapping``."""
    if mapping is not None and is_plan(mapping):  # a read plan (ReadPlan, .yaml/.json file)
        plan = load_plan(mapping)
        plan.check()
        register_study_instruments(plan)
        mapping, opts = adam_arguments(plan)
        params, study = opts.get("params", params), opts.get("study", study)
        derived, replicates = opts.get("derived", derived), opts.get("replicates", replicates)
        screening = opts.get("screening", screening)
    check_option("derived", derived, ("skip", "prefer"))
    check_option("replicates", replicates, ("error", "first"))
    check_option("screening", screening, ("skip", "reject"))
    if bds is None:
        raise ArgumentTypeError("read_adam needs a BDS dataset (e.g. ADQS) besides ADSL: read_adam(adsl, bds)")
    rest = dict(mapping or {})
    param_map = rest.pop("paramcd", {}) or {}
    arms_map = rest.pop("arms", {}) or {}
    condition = rest.pop("condition", None)
    technique_var = rest.pop("technique", None)
    extra_covs = tuple(str(c).upper() for c in rest.pop("covariates", []) or [])
    subject_var = rest.pop("subject", None)
    return _AdamOptions(study=study, params=params, derived=derived, replicates=replicates, screening=screening,
                        param_map=param_map, arms_map=arms_map, condition=condition, technique_var=technique_var,
                        extra_covs=extra_covs, subject_var=subject_var, rest=rest)


def _check_adsl(sl: pd.DataFrame, sl_rows: np.ndarray, sl_name: str) -> None:
    """ADSL has USUBJID, one record per subject (a loud error naming the repeated rows otherwise)."""
    if "USUBJID" not in sl.columns:
        raise fatal_error(sl_name, "required_column", "ADSL has no USUBJID variable", column="USUBJID")
    dup = sl["USUBJID"].duplicated(keep=False) & sl["USUBJID"].notna()
    if dup.any():
        first = np.flatnonzero(dup.to_numpy())[:2]
        raise DataValidationError(
            f"{sl_name}: ADSL must have one record per subject; USUBJID {sl['USUBJID'].iloc[first[0]]!r} is on "
            f"rows {sl_rows[first[0]]} and {sl_rows[first[1]]}",
            report=ValidationReport([Problem(sl_name, int(sl_rows[i]), "USUBJID", sl["USUBJID"].iloc[i],
                                             "duplicate_key", "USUBJID repeated in ADSL")
                                     for i in np.flatnonzero(dup.to_numpy())], file=sl_name))


def _subject_frame(sl: pd.DataFrame, sl_name: str, opts: _AdamOptions) -> pd.DataFrame:
    """Subject-level columns from ADSL: arm, clinic, condition, technique, covariates, label and study."""
    subj = pd.DataFrame({"USUBJID": sl["USUBJID"].astype(object).map(lambda v: None if v is None else str(v))})
    arm_var = "TRT01P" if "TRT01P" in sl.columns else ("TRT01A" if "TRT01A" in sl.columns else None)
    if arm_var:
        arm = sl[arm_var].astype(object)
        named = {str(k): v for k, v in opts.arms_map.items()}
        subj["arm"] = arm.map(lambda v: named.get(str(v), v) if v is not None and not pd.isna(v) else None)
    if "SITEID" in sl.columns:
        subj["clinic"] = sl["SITEID"].astype(object).map(lambda v: None if v is None or pd.isna(v) else str(v))
    condition, technique_var, subject_var = opts.condition, opts.technique_var, opts.subject_var
    if isinstance(condition, str) and condition.upper() in sl.columns:
        subj["condition"] = sl[condition.upper()].to_numpy()
    elif condition is not None:
        subj["condition"] = condition
    if technique_var is not None:
        if str(technique_var).upper() not in sl.columns:
            raise fatal_error(sl_name, "required_column",
                              f"mapping['technique'] names {technique_var!r}, which is not an ADSL variable",
                              column=str(technique_var))
        subj["_technique"] = sl[str(technique_var).upper()].to_numpy()
    _add_covariates(subj, sl, sl_name, opts.extra_covs)
    if subject_var is not None:
        if str(subject_var).upper() not in sl.columns:
            raise fatal_error(sl_name, "required_column",
                              f"mapping['subject'] names {subject_var!r}, which is not an ADSL variable",
                              column=str(subject_var))
        subj["_label"] = sl[str(subject_var).upper()].astype(object).map(
            lambda v: None if v is None or pd.isna(v) else str(v)).to_numpy()
    sl_study = sl["STUDYID"].astype(object) if "STUDYID" in sl.columns else None
    if sl_study is not None:
        subj["_study"] = sl_study.to_numpy()
    return subj


def _add_covariates(subj: pd.DataFrame, sl: pd.DataFrame, sl_name: str, extra_covs: Sequence[str]) -> None:
    """AGE, SEX, RACE, the population flags (``*FL``) and the mapping's covariates, lower-cased, into ``subj``."""
    covs = [c for c in ("AGE", "SEX", "RACE") if c in sl.columns]
    covs += [c for c in sl.columns if c.endswith("FL") and c not in covs]
    missing_cov = [c for c in extra_covs if c not in sl.columns]
    if missing_cov:
        raise fatal_error(sl_name, "required_column",
                          f"mapping['covariates'] names {', '.join(missing_cov)}, not in ADSL", column=missing_cov[0])
    covs += [c for c in extra_covs if c not in covs]
    for c in covs:
        col = sl[c]
        if not pd.api.types.is_numeric_dtype(col) and not c.endswith("FL"):  # CSV: "46" -> 46 when all parse
            num = pd.to_numeric(col, errors="coerce")
            if num[col.notna()].notna().all() and col.notna().any():
                col = num
        subj[c.lower()] = col.to_numpy()


def _check_bds(bd: pd.DataFrame, name: str) -> None:
    """A BDS dataset has USUBJID, PARAMCD and AVAL (or AVALC)."""
    for req in ("USUBJID", "PARAMCD"):
        if req not in bd.columns:
            raise fatal_error(name, "required_column", f"the BDS dataset has no {req} variable", column=req)
    if "AVAL" not in bd.columns and "AVALC" not in bd.columns:
        raise fatal_error(name, "required_column", "the BDS dataset has no AVAL (or AVALC) variable",
                          column="AVAL")


def _bds_piece(bd: pd.DataFrame, rows: np.ndarray, name: str, subj: pd.DataFrame, param_map: Mapping[str, str],
               problems: list[Problem], param_used: dict[str, str]) -> pd.DataFrame:
    """The selected records of one BDS dataset as long-frame rows (``_bad`` marks those with a problem)."""
    n = len(bd)
    usubjid = bd["USUBJID"].astype(object).map(lambda v: None if v is None or pd.isna(v) else str(v))
    instrument = paramcd_to_instrument(bd["PARAMCD"].astype(object), param_map)
    param_used.update({str(k): str(v) for k, v in zip(bd["PARAMCD"], instrument, strict=True)
                       if k is not None and not pd.isna(k)})
    value = bd["AVAL"] if "AVAL" in bd.columns else pd.Series([None] * n)
    if "AVALC" in bd.columns:
        value = value.astype(object).where(pd.Series(value).notna(), bd["AVALC"])
    avisit = bd["AVISIT"].astype(object) if "AVISIT" in bd.columns else pd.Series([None] * n, dtype=object)
    session = avisit.map(lambda v: int(m.group(1)) if isinstance(v, str) and (m := _SESSION_VISIT.match(v))
                         else None)
    for c in ("SESSION", "ASESSNO", "SESSNUM"):
        if c in bd.columns:
            session = pd.Series(bd[c], dtype=object).where(pd.Series(bd[c]).notna(), session)
            break
    visit = avisit.map(lambda v: fold(v) if isinstance(v, str) else None).where(session.isna(), None)
    atpt = bd["ATPT"].astype(object) if "ATPT" in bd.columns else pd.Series([None] * n, dtype=object)
    atpt_u = atpt.map(lambda v: str(v).upper() if v is not None and not pd.isna(v) else "")
    is_pre = atpt_u.str.contains("PRE").to_numpy()
    is_post = atpt_u.str.contains("POST").to_numpy() & ~is_pre
    if "ABLFL" in bd.columns:
        is_base = bd["ABLFL"].astype(object).map(lambda v: str(v).upper() == "Y" if v is not None else False)
    else:
        is_base = visit.isin(["baseline", "screening", "week_0", "day_1"])
    is_base = is_base.to_numpy(dtype=bool)
    timing = np.where(is_pre, "pre", np.where(is_post, "post", np.where(is_base, "baseline", "followup")))
    day, bad_row = _days(bd, rows, name, problems)
    day = np.where(is_base & np.isnan(day) & ~bad_row, 0.0, day)
    known = usubjid.isin(set(subj["USUBJID"].dropna())).to_numpy()
    for i in np.flatnonzero(~known & usubjid.notna().to_numpy()):
        problems.append(Problem(name, int(rows[i]), "USUBJID", usubjid.iloc[i], "unknown_subject",
                                f"USUBJID {usubjid.iloc[i]!r} has no ADSL record"))
    bad_row |= ~known & usubjid.notna().to_numpy()
    piece = pd.DataFrame({"subject": usubjid.to_numpy(), "instrument": instrument.to_numpy(),
                          "visit": visit.to_numpy(), "day": day, "timing": timing,
                          "session": session.to_numpy(), "value": pd.Series(value).to_numpy()})
    if "STUDYID" in bd.columns:
        piece["_bstudy"] = bd["STUDYID"].to_numpy()
    piece["_row"], piece["_file"], piece["_bad"] = rows, name, bad_row
    return piece


def _days(bd: pd.DataFrame, rows: np.ndarray, name: str, problems: list[Problem]) -> tuple[np.ndarray, np.ndarray]:
    """Our ``day`` from ADY (NaN without it), and which records have an ADY that is not a number or is 0."""
    n = len(bd)
    if "ADY" not in bd.columns:
        return np.full(n, np.nan), np.zeros(n, dtype=bool)
    ady_num = pd.to_numeric(bd["ADY"], errors="coerce")
    bad_ady = pd.Series(bd["ADY"]).notna().to_numpy() & ady_num.isna().to_numpy()
    zero = (ady_num == 0).to_numpy()
    for i in np.flatnonzero(bad_ady):
        problems.append(Problem(name, int(rows[i]), "ADY", bd["ADY"].iloc[i], "not_a_number",
                                f"ADY {bd['ADY'].iloc[i]!r} is not a number"))
    for i in np.flatnonzero(zero):
        problems.append(Problem(name, int(rows[i]), "ADY", 0, "impossible_day",
                                "ADY is 0, which ADaM study days never are (day 1 is the reference date, "
                                "the day before it -1)"))
    return adam_day(ady_num), bad_ady | zero


def _long_frame(pieces: list[pd.DataFrame], subj: pd.DataFrame, opts: _AdamOptions) -> tuple[pd.DataFrame, list]:
    """The BDS rows joined to their subjects (study, label, technique, the rest of the mapping), and the ADSL
    subjects without any BDS record."""
    long = pd.concat(pieces, ignore_index=True)
    long = long.merge(subj.rename(columns={"USUBJID": "subject"}), on="subject", how="left", validate="many_to_one")
    study = opts.study
    st = long.pop("_bstudy") if "_bstudy" in long.columns else pd.Series([None] * len(long))
    if "_study" in long.columns:
        st = st.where(st.notna(), long.pop("_study"))
    if study is not None or st.notna().any():
        long.insert(0, "study", st.where(st.notna(), study).to_numpy() if study is not None else st.to_numpy())
    without = sorted(set(subj["USUBJID"].dropna()) - set(long["subject"].dropna()))
    if "_label" in long.columns:  # the subject id users know (e.g. SUBJID) instead of USUBJID
        label = long.pop("_label")
        long["subject"] = label.where(label.notna(), long["subject"])
    if "_technique" in long.columns:
        tech = long.pop("_technique")
        long["technique"] = tech  # the allocated technique on every record of the subject
    if opts.rest:
        long = apply_mapping(long, dict(opts.rest))
    return long, without


def _warn_skipped(without: list, skipped: dict[str, int]) -> None:
    """One warning per kind of record not read (ADSL subjects without records, derived, replicates...)."""
    if without:
        warnings.warn(f"{len(without)} ADSL subject(s) have no BDS records and are not in the Dataset: "
                      f"{', '.join(without[:5])}{' ...' if len(without) > 5 else ''}", UserWarning, stacklevel=3)
    derived_skipped = skipped["derived"]
    if derived_skipped:
        warnings.warn(f"skipped {derived_skipped} derived BDS record(s) (DTYPE set: LOCF, AVERAGE...); they are "
                      "not observations (pass derived='prefer' to use them)", UserWarning, stacklevel=3)
    for what, why in (("replicates", "replicate ATPT readings after the first"),
                      ("replaced", "observed records replaced by their derived (DTYPE) record"),
                      ("screening", "screening records before the reference date (negative ADY, not ABLFL)")):
        if skipped[what]:
            warnings.warn(f"skipped {skipped[what]} BDS record(s): {why}", UserWarning, stacklevel=3)


def _finish(long: pd.DataFrame, problems: list[Problem], *, source: dict[str, Any], file: str, study: str | None,
            on_error: str) -> Any:
    """The Dataset of the good records, with the reader's and the generic validation's problems in one report."""
    from massage_outcomes.dataset import Dataset

    bad = long.pop("_bad").to_numpy(dtype=bool)
    rows_all = long.pop("_row").to_numpy()
    files_all = long.pop("_file").to_numpy()
    kept = long.loc[~bad]
    try:
        ds = Dataset.from_long(kept, on_error="quarantine", study=study, rows=rows_all[~bad], file=file,
                               source=source)
    except DataValidationError as err:
        if isinstance(err.report, ValidationReport):
            rep = ValidationReport(problems + _rename(err.report, file), file=file)
            raise DataValidationError(error_message(rep, what=file, quarantine_hint=False), report=rep) from None
        raise
    generic = ds.source.get("report")
    report = ValidationReport(problems + (_rename(generic, file) if isinstance(generic, ValidationReport) else []),
                              file=file, rows_read=len(long))
    if on_error == "raise" and len(report):
        raise DataValidationError(error_message(report, what=file), report=report)
    if bad.any():
        reasons = {(p.file, p.row): f"{p.rule}: {p.message}" for p in problems}
        extra = long.loc[bad].copy()
        extra.insert(0, "row", rows_all[bad])
        extra["reason"] = [reasons.get((f, r), "rejected") for f, r in zip(files_all[bad], rows_all[bad],
                                                                             strict=True)]
        ds.rejected = pd.concat([ds.rejected, extra], ignore_index=True) if len(ds.rejected) else extra
    ds.source.update(rows_read=len(long), rows_kept=len(ds.outcomes),
                     rows_rejected=int(bad.sum()) + int(ds.source.get("rows_rejected", 0)), report=report)
    return ds


def _text_of(bd: pd.DataFrame, column: str) -> pd.Series:
    if column not in bd.columns:
        return pd.Series([""] * len(bd), index=bd.index, dtype=object)
    return bd[column].astype(object).map(lambda v: "" if v is None or pd.isna(v) else str(v).strip().upper())


def select_records(bd: pd.DataFrame, *, name: str, params: Sequence[str] | None, derived: str, replicates: str,
                   screening: str, counts: dict[str, int]) -> np.ndarray:
    """Which BDS records to read (a boolean mask), counting each one left out in ``counts`` by reason.

    Parameters are selected first, then derived records (``DTYPE``), then screening records, then replicate
    ``ATPT`` readings; see :func:`read_adam` for the choices.
    """
    keep = np.ones(len(bd), dtype=bool)
    if params is not None:
        wanted = {str(p).strip().upper() for p in params}
        hit = _text_of(bd, "PARAMCD").isin(wanted).to_numpy()
        unknown = sorted(wanted - set(_text_of(bd, "PARAMCD")))
        if unknown:
            raise fatal_error(name, "params", f"params names {', '.join(unknown)}, not a PARAMCD of this "
                              f"dataset (PARAMCDs: {', '.join(sorted(set(_text_of(bd, 'PARAMCD')) - {''}))})",
                              column="PARAMCD")
        counts["params"] += int((~hit).sum())
        keep &= hit
    is_derived = (_text_of(bd, "DTYPE") != "").to_numpy()
    if derived == "skip":
        counts["derived"] += int((keep & is_derived).sum())
        keep &= ~is_derived
    elif is_derived.any():
        group = _text_of(bd, "USUBJID") + "|" + _text_of(bd, "PARAMCD") + "|" + _text_of(bd, "AVISIT")
        has_derived = group.isin(set(group[keep & is_derived])).to_numpy()
        replaced = keep & has_derived & ~is_derived
        counts["replaced"] += int(replaced.sum())
        keep &= ~replaced
    if screening == "skip" and "ADY" in bd.columns:
        ady = pd.to_numeric(bd["ADY"], errors="coerce").to_numpy()
        base = (_text_of(bd, "ABLFL") == "Y").to_numpy()
        with np.errstate(invalid="ignore"):
            early = keep & (ady < 0) & ~base
        counts["screening"] += int(early.sum())
        keep &= ~early
    return keep & _replicates(bd, keep, name=name, policy=replicates, counts=counts)


def _replicates(bd: pd.DataFrame, keep: np.ndarray, *, name: str, policy: str, counts: dict[str, int]) -> np.ndarray:
    """Records that differ only by a non pre/post ``ATPT``: all but the first are dropped ("first"), or an error."""
    atpt = _text_of(bd, "ATPT")
    plain = (atpt != "") & ~atpt.str.contains("PRE|POST", regex=True)
    if not (plain.to_numpy() & keep).any():
        return np.ones(len(bd), dtype=bool)
    key = pd.DataFrame({c: _text_of(bd, c) for c in ("USUBJID", "PARAMCD", "AVISIT", "ADY")})
    key["_t"] = np.where(plain, "", atpt)
    sub = key[keep]
    order = pd.to_numeric(bd["ATPTN"], errors="coerce") if "ATPTN" in bd.columns else pd.Series(
        np.arange(len(bd)), index=bd.index, dtype=float)
    ranked = sub.assign(_o=order[keep].to_numpy(), _i=np.flatnonzero(keep)).sort_values(["_o", "_i"], kind="stable")
    later = ranked.duplicated(subset=list(key.columns), keep="first")
    if not later.any():
        return np.ones(len(bd), dtype=bool)
    if policy == "error":
        first = int(ranked.loc[later, "_i"].iloc[0])
        raise fatal_error(name, "duplicate_key",
                          f"{int(later.sum())} record(s) repeat a subject, PARAMCD and visit with another ATPT "
                          f"(e.g. USUBJID {key['USUBJID'].iloc[first]!r}, {key['PARAMCD'].iloc[first]} at "
                          f"{key['AVISIT'].iloc[first] or 'ADY ' + key['ADY'].iloc[first]}, ATPT {atpt.iloc[first]!r}): "
                          "replicate readings are not separate measurements. Pass replicates='first' to keep the "
                          "first reading, or derived='prefer' to use the dataset's DTYPE=AVERAGE records",
                          column="ATPT")
    out = np.ones(len(bd), dtype=bool)
    out[ranked.loc[later, "_i"].to_numpy()] = False
    counts["replicates"] += int(later.sum())
    return out


def _rename(report: ValidationReport, file: str) -> list[Problem]:
    """Problems found on the long frame, with the ADaM variable names users know (AVAL, ADY, PARAMCD...)."""
    return [Problem(file, p.row, _ADAM_NAME.get(p.column or "", p.column), p.value, p.rule, p.message)
            for p in report.problems]

"""``mo.describe``: inspect a study's export and propose the :class:`~massage_outcomes.io.plan.ReadPlan` that
reads it. Whatever it cannot decide is a ``todo`` with the candidates it saw; what it assumed is in ``notes``.

It reads the file as :func:`massage_outcomes.read` would (same formats, same sniffing) and decides, column by
column: identifiers to drop, the subject key, the arm and its intent, long or wide, each measurement column's
instrument and visit day (:mod:`massage_outcomes.io.visit_labels`), study instruments with their range, and
time-varying columns. It computes no statistic and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.io._mapping import ALIASES, fold
from massage_outcomes.io.plan import ReadPlan, shared_instrument
from massage_outcomes.io.visit_labels import VisitLabel, split_visit_suffix

__all__ = ["describe", "describe_redcap", "describe_adam"]

#: column names that identify a person: proposed for ``drop``
IDENTIFYING = re.compile(r"(^|_)(dob|birth\w*|date_of_birth|name|first_name|last_name|surname|email|e_mail|phone|"
                         r"telephone|mobile|address|street|zip|postcode|postal_code|mrn|ssn|initials)($|_)")
_ARM_NAMES = re.compile(r"(^|_)(arm|group|grp|treatment|trt|allocation|randomi[sz]ed|randomi[sz]ation|condition_"
                        r"assigned|intervention)($|_)")
_SITE_NAMES = re.compile(r"(^|_)(site|centre|center|clinic|siteid|site_id)($|_)")
_SUBJECT_NAMES = {"id", "subject", "subject_id", "subjid", "participant", "participant_id", "patient",
                  "patient_id", "pid", "record_id", "usubjid", "study_id_number", "case", "case_id",
                  "participant_no", "participant_number", "subject_no", "subject_number", "patient_no",
                  "patient_number", "id_no", "study_no", "study_number", "case_no"}
DIRECTION_TODO = "TODO: is a lower or a higher score better? (lower | higher)"


def describe(source: Any, *, dictionary: Any = None, bds: Any = None, sheet: str | int | None = None,
             encoding: str | None = None, subject: str | Sequence[str] | None = None, arm: str | None = None,
             layout: str | None = None) -> ReadPlan:
    """Propose the read plan for a study's file or DataFrame (review it, answer its TODOs, then read with it).

    Parameters
    ----------
    source : path or DataFrame
        Anything :func:`massage_outcomes.read` reads as one table (CSV/TSV, Excel, Parquet, SPSS, Stata, SAS);
        with ``dictionary``, a REDCap records export; with ``bds``, an ADaM ADSL.
    dictionary : path or DataFrame, optional
        The REDCap data dictionary: the plan is for :func:`massage_outcomes.read_redcap` (see
        :func:`describe_redcap`).
    bds : path or DataFrame, optional
        The ADaM BDS dataset: the plan is for :func:`massage_outcomes.read_adam` (see :func:`describe_adam`).
    sheet, encoding : optional
        As for :func:`massage_outcomes.read`.
    subject, arm, layout : optional
        Hints that settle what describe would otherwise guess or ask: the subject column(s), the arm column,
        ``"long"`` or ``"wide"``.

    Returns
    -------
    ReadPlan
        ``plan.todos()`` lists what is left to answer; ``plan.to_yaml("plan.yaml")`` writes it for review.

    Examples
    --------
    >>> import pandas as pd
    >>> import massage_outcomes as mo
    >>> f = pd.DataFrame({"pid": [1, 2], "group": ["Massage", "Usual care"], "rmdq_bl": [12, 15],
    ...                   "rmdq_6wk": [7, 14], "dob": ["1970-02-01", "1981-05-05"]})
    >>> plan = mo.describe(f)
    >>> plan["subject"], plan["layout"], plan["drop"], plan["measurements"]["rmdq_6wk"]
    ('pid', 'wide', ['dob'], {'instrument': 'rmdq', 'visit': 'week_6', 'day': 42, 'timing': 'followup'})
    >>> plan["arm"]["intent"]
    {'Massage': 'TODO: therapeutic, relaxation or control?', 'Usual care': 'control'}
    >>> plan["arm"]["intent"]["Massage"] = "therapeutic"
    >>> mo.read(f, mapping=plan).outcomes["day"].tolist()
    [0.0, 42.0, 0.0, 42.0]
    """
    if dictionary is not None:
        return describe_redcap(source, dictionary)
    if bds is not None:
        return describe_adam(source, bds)
    table, name = _raw(source, sheet=sheet, encoding=encoding)
    frame = table.frame
    labels = table.info.get("value_label_sets") or {}
    var_labels = table.info.get("variable_labels") or {}
    plan = ReadPlan({"source": name})
    todo: list[dict[str, Any]] = []
    notes: list[str] = []
    columns = [str(c) for c in frame.columns]
    drop = [c for c in columns if IDENTIFYING.search(fold(c)) and fold(c) not in _SUBJECT_NAMES]
    rest = [c for c in columns if c not in drop]
    is_long = layout == "long" or (layout is None and any(
        fold(c) == "value" or ALIASES.get(fold(c)) == "value" for c in rest))
    measures = {} if is_long else _measurements(frame, rest, labels, var_labels, plan, todo, notes)
    others = [c for c in rest if c not in measures]
    subj = _subject(frame, others, subject, is_long, todo, notes)
    if subj is not None:
        plan["subject"] = subj
    used = set(subj if isinstance(subj, list) else [subj])
    arm_col = arm or _arm_column(others, used, todo)
    if arm_col is not None:
        plan["arm"] = _arm(frame[arm_col], arm_col, labels.get(arm_col))
    plan["layout"] = "long" if is_long else "wide"
    if measures:
        plan["measurements"] = measures
    if is_long:
        _long_columns(frame, others, plan, todo, notes)
    if drop:
        plan["drop"] = drop
        notes.append(f"identifying columns proposed for drop (never read): {', '.join(drop)}")
    if notes:
        plan["notes"] = notes
    if todo:
        plan["todo"] = todo
    return plan


def _raw(source: Any, *, sheet: str | int | None, encoding: str | None) -> tuple[Any, str]:
    from massage_outcomes.io._read import frame_table, read_table

    if isinstance(source, pd.DataFrame):
        return frame_table(source), "the DataFrame"
    p = Path(source)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {p} (describe reads one table: a file or a DataFrame)")
    return read_table(p, encoding=encoding, sheet=sheet), p.name


def _numeric(s: pd.Series) -> pd.Series | None:
    """The column as numbers when every present value is one, else None."""
    num = pd.to_numeric(s, errors="coerce")
    present = s.notna() & ~s.astype(str).str.strip().str.lower().isin(["", "na", "n/a", "nan", ".", "missing"])
    if not present.any() or not num[present].notna().all():
        return None
    return num


def _instrument_key(stem: str, label: str | None) -> str | None:
    """A registry key named by the column stem (``RMDQ``, ``pain_nrs``) or its variable label."""
    shared = [i for i in _instruments.all_instruments() if shared_instrument(i.key)]
    squeezed = {re.sub(r"[^a-z0-9]", "", i.key): i.key for i in shared}
    for text in (stem, re.sub(r"(_|\s)(total|score|sum|sc)$", "", str(stem), flags=re.IGNORECASE), label or ""):
        key = squeezed.get(re.sub(r"[^a-z0-9]", "", fold(text)))
        if key:
            return key
    names = {fold(i.name.split("(")[0]): i.key for i in shared if len(i.name) > 8}
    text = fold(label or "")
    hits = {k for n, k in names.items() if n and n in text}
    return hits.pop() if len(hits) == 1 else None


def _measurements(frame: pd.DataFrame, columns: list[str], labels: Mapping[str, Any],
                  var_labels: Mapping[str, str], plan: ReadPlan, todo: list[dict[str, Any]],
                  notes: list[str]) -> dict[str, dict[str, Any]]:
    """Wide columns ``<stem><visit>`` with numbers: {column: {instrument, visit, day, timing}}; study
    instruments for the stems the registry does not know."""
    found: dict[str, tuple[str, VisitLabel, pd.Series]] = {}
    for c in columns:
        split = split_visit_suffix(c)
        num = _numeric(frame[c]) if split else None
        if split is not None and num is not None:
            found[c] = (split[0], split[1], num)
    out: dict[str, dict[str, Any]] = {}
    study_instruments: dict[str, dict[str, Any]] = {}
    by_stem: dict[str, list[str]] = {}
    for c, (stem, _, _) in found.items():
        by_stem.setdefault(stem, []).append(c)
    for stem, cols in by_stem.items():
        key = _instrument_key(stem, var_labels.get(cols[0]))
        if key is None:
            key = fold(stem)
            values = pd.concat([found[c][2] for c in cols])
            study_instruments[key] = _study_instrument(stem, values, [labels.get(c) for c in cols],
                                                       var_labels.get(cols[0]))
        has_baseline = any(found[c][1].name == "baseline" for c in cols)
        for c in cols:
            visit = found[c][1]
            spec: dict[str, Any] = {"instrument": key, "visit": visit.name}
            if visit.name == "screening" and has_baseline:
                spec["day"] = f"TODO: {c!r} is a screening visit beside a baseline one: its day (negative)?"
            elif visit.day is None:
                spec["day"] = f"TODO: {visit.todo}"
            else:
                spec["day"] = int(visit.day)
            spec["timing"] = visit.timing
            out[c] = spec
    if study_instruments:
        plan["instruments"] = study_instruments
        notes.append("study instruments (not in the registry): " + ", ".join(study_instruments) +
                     "; their range is the observed or labelled one: confirm it")
    if not out:
        todo.append({"key": "measurements", "question": "no column name ends in a visit (e.g. pain_week_4): "
                     "which columns are measurements, of what, at which day?", "candidates": columns[:20]})
    return out


def _study_instrument(stem: str, values: pd.Series, label_sets: list[Any], label: str | None) -> dict[str, Any]:
    codes = [float(k) for ls in label_sets if ls for k in ls if isinstance(k, (int, float))]
    v = values.dropna().to_numpy(dtype=float)
    if len(codes) >= 2:
        lo, hi, source = min(codes + list(v)), max(codes + list(v)), "value labels (to confirm)"
    else:
        lo, hi, source = float(v.min()), float(v.max()), "observed values (to confirm)"
    integer = bool(len(v)) and bool(np.all(v == np.round(v)))
    return {"label": label or stem, "range": [_num(lo), _num(hi)], "range_from": source,
            "direction": DIRECTION_TODO, "integer": integer}


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def _subject(frame: pd.DataFrame, columns: list[str], hint: Any, is_long: bool, todo: list[dict[str, Any]],
             notes: list[str]) -> Any:
    if hint is not None:
        return list(hint) if isinstance(hint, (list, tuple)) else hint
    named = [c for c in columns if fold(c) in _SUBJECT_NAMES or ALIASES.get(fold(c)) == "subject"]
    if not named:
        if is_long:
            todo.append({"key": "subject", "question": "which column identifies the subject?",
                         "candidates": columns[:10]})
            return None
        notes.append("no subject column: each row is one subject, numbered from 1 (subject: row)")
        return "row"
    col = named[0]
    sites = [c for c in columns if _SITE_NAMES.search(fold(c)) and c != col]
    ids = frame[col].astype(str)
    if sites:
        site = sites[0]
        if is_long:
            repeats = bool((frame.groupby(ids)[site].nunique() > 1).any())
        else:
            repeats = bool(ids.duplicated().any() and not frame[[site, col]].astype(str).duplicated().any())
        if repeats:
            notes.append(f"ids in {col!r} repeat across {site!r}: the subject is site and id together")
            return [site, col]
    if not is_long and ids.duplicated().any():
        todo.append({"key": "subject", "question": f"ids in {col!r} repeat in a wide file (one row per "
                     "subject): which columns identify a subject?", "candidates": [col, *sites]})
    return col


def _arm_column(columns: list[str], used: set[Any], todo: list[dict[str, Any]]) -> str | None:
    candidates = [c for c in columns if c not in used and (_ARM_NAMES.search(fold(c))
                                                           or ALIASES.get(fold(c)) == "arm")]
    if len(candidates) > 1:
        todo.append({"key": "arm", "question": "which column is the randomised arm? (set arm: {column: ...})",
                     "candidates": candidates})
        return None
    return candidates[0] if candidates else None


def _code_text(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _arm(s: pd.Series, column: str, labels: Mapping[Any, str] | None) -> dict[str, Any]:
    """The arm column, its values → labels (value labels kept; codes without labels kept as they are), and a
    proposed intent per arm (from the technique and intent vocabularies) or a TODO."""
    present = [v for v in pd.unique(s.dropna())]
    values: dict[Any, str] = {}
    for v in present:
        code = _code_text(v)
        label = None
        if labels:
            label = labels.get(v, labels.get(float(v) if isinstance(v, (int, float)) else v))
        values[int(code) if code.lstrip("-").isdigit() else code] = str(label if label is not None else code)
    intent: dict[str, str] = {}
    for label in values.values():
        proposed = vocab.INTENT.lookup(label) if hasattr(vocab, "INTENT") else None
        if proposed is None:
            tech = vocab.TECHNIQUE.lookup(label)
            proposed = vocab.DEFAULT_INTENT.get(tech) if tech else None
        intent[label] = proposed or "TODO: therapeutic, relaxation or control?"
    out: dict[str, Any] = {"column": column}
    if any(str(k) != v for k, v in values.items()):
        out["values"] = values
    out["intent"] = intent
    return out


def _long_columns(frame: pd.DataFrame, columns: list[str], plan: ReadPlan, todo: list[dict[str, Any]],
                  notes: list[str]) -> None:
    """Long layout: the instrument and visit columns, visit days, time-varying columns."""
    from massage_outcomes.io._read import varying_columns
    from massage_outcomes.io.visit_labels import parse_visit

    inst = [c for c in columns if fold(c) == "instrument" or ALIASES.get(fold(c)) == "instrument"]
    if not inst:
        todo.append({"key": "instrument", "question": "which instrument are the values? (a registered key, or "
                     "declare a study instrument under instruments:)",
                     "candidates": sorted(i.key for i in _instruments.all_instruments())[:8]})
    visit = [c for c in columns if fold(c) in ("visit", "visit_name", "avisit", "timepoint_label", "time")]
    day = [c for c in columns if fold(c) == "day" or ALIASES.get(fold(c)) == "day"]
    if visit and not day:
        plan["visit"] = visit[0]
        days: dict[str, Any] = {}
        for label in pd.unique(frame[visit[0]].dropna().astype(str)):
            parsed = parse_visit(label)
            days[label] = int(parsed.day) if parsed.day is not None else f"TODO: {parsed.todo}"
        plan["visits"] = days
    renamed = frame.rename(columns={c: "subject" for c in [plan.get("subject")] if isinstance(c, str)})
    if isinstance(plan.get("subject"), list):
        renamed = renamed.assign(subject=frame[plan["subject"]].astype(str).agg("-".join, axis=1))
    skip = set(inst) | set(visit) | set(day) | {plan.get("subject")} if isinstance(plan.get("subject"), str) \
        else set(inst) | set(visit) | set(day)
    varying = [c for c in varying_columns(renamed[[c for c in renamed.columns if c not in skip or c == "subject"]])
               if ALIASES.get(fold(c)) is None and fold(c) not in ("value",)]
    if varying:
        plan["time_varying"] = varying
        notes.append(f"columns whose values change within a subject, kept with each measurement: "
                     f"{', '.join(varying)}")


# ---------------------------------------------------------------------------------------------------------------
# REDCap records + dictionary; ADaM ADSL + BDS
# ---------------------------------------------------------------------------------------------------------------
def describe_redcap(records: Any, dictionary: Any) -> ReadPlan:
    """The read plan of a REDCap export (records + data dictionary), for :func:`massage_outcomes.read_redcap`.

    Arms come from the ``_arm_N`` event suffixes (named ``arm_N`` until you name them); a numeric field that
    is not a registry instrument and holds values on more than one event of a record (or on a repeating form) is
    a measurement: a study instrument with its range from the dictionary's validation min/max (sliders 0-100),
    else the observed values; fields with values on one event only (age, sex) stay covariates; identifier,
    file-upload and descriptive fields are listed as not read.
    """
    from massage_outcomes.io.redcap import _IDENTIFYING, _read_text, read_dictionary

    rec, _, name = _read_text(records, "records")
    dic = read_dictionary(dictionary).set_index("field_name", drop=False)
    plan = ReadPlan({"source": name})
    todo: list[dict[str, Any]] = []
    notes: list[str] = []
    events = rec["redcap_event_name"] if "redcap_event_name" in rec.columns else pd.Series([""] * len(rec))
    arms = sorted({int(m.group(1)) for e in pd.unique(events) if (m := re.search(r"_arm_(\d+)$", str(e)))})
    if arms:
        plan["arms"] = {a: f"arm_{a}" for a in arms}
        notes.append("arms are named arm_N: give each its label under arms: (the export does not carry them)")
    subject = "record_id" if "record_id" in rec.columns else str(dic["field_name"].iloc[0])
    plan["subject"] = subject
    ftype = dic["field_type"].to_dict()
    validation = dic["text_validation_type_or_show_slider_number"].str.lower().to_dict()
    flagged = {f for f, v in dic["identifier"].to_dict().items() if str(v).strip().lower() in ("y", "yes", "1")}
    not_read = sorted(c for c in rec.columns if c in flagged or ftype.get(c) in ("file", "descriptive")
                      or (_IDENTIFYING.search(c) and not c.startswith("redcap_") and c != subject))
    fields: dict[str, Any] = {}
    instruments: dict[str, Any] = {}
    key = rec[subject].astype(str) if subject in rec.columns else pd.Series(range(len(rec)))
    repeat = rec["redcap_repeat_instrument"] if "redcap_repeat_instrument" in rec.columns else \
        pd.Series([""] * len(rec))
    for c in rec.columns:
        numeric = ftype.get(c) in ("slider", "calc") or str(validation.get(c, "")).startswith(("integer", "number"))
        if c in not_read or c == subject or not numeric or shared_instrument(c):
            continue
        if re.match(r"^(?P<i>.+)_(pre|post)$", c) and shared_instrument(c.rsplit("_", 1)[0]):
            continue
        text = rec[c].astype(str).str.strip()
        filled = text != ""
        if not filled.any():
            continue
        repeated = bool((events[filled].groupby(key[filled]).nunique() > 1).any()) or bool((repeat[filled] != "").any())
        if not repeated:
            continue  # one value per record: a covariate
        values = pd.to_numeric(text[filled].str.replace(",", "."), errors="coerce").dropna()
        lo = pd.to_numeric(dic["text_validation_min"].get(c, ""), errors="coerce")
        hi = pd.to_numeric(dic["text_validation_max"].get(c, ""), errors="coerce")
        if ftype.get(c) == "slider":
            lo, hi = (0.0 if pd.isna(lo) else lo), (100.0 if pd.isna(hi) else hi)
        source = "the data dictionary's validation min/max"
        if pd.isna(lo) or pd.isna(hi):
            lo, hi, source = float(values.min()), float(values.max()), "observed values (to confirm)"
        label = str(dic["field_label"].get(c, c)) or c
        match = _instrument_key(c, label)
        if match is not None:
            fields[c] = match
            continue
        fields[c] = fold(c)
        instruments[fold(c)] = {"label": label, "range": [_num(lo), _num(hi)], "range_from": source,
                                "direction": DIRECTION_TODO,
                                "integer": bool(len(values)) and bool((values == values.round()).all())}
    if fields:
        plan["fields"] = fields
    if instruments:
        plan["instruments"] = instruments
    if not_read:
        notes.append(f"fields never read (identifiers, uploads, descriptive): {', '.join(not_read)}")
    if notes:
        plan["notes"] = notes
    if todo:
        plan["todo"] = todo
    return plan


def describe_adam(adsl: Any, bds: Any) -> ReadPlan:
    """The read plan of an ADaM pair (ADSL + one BDS), for :func:`massage_outcomes.read_adam`: the PARAMCDs and
    their instruments (a TODO for a PARAMCD no registry key matches, with the option of leaving it out of
    ``params``), the arms (TRT01P values kept, intent to confirm in the arms' labels), and the replicate,
    derived-record and screening choices the records call for."""
    from massage_outcomes.io.adam import _read, paramcd_to_instrument

    sl, _, sl_name = _read(adsl, "ADSL")
    bd, _, name = _read(bds, "BDS")
    plan = ReadPlan({"source": f"{sl_name} + {name}"})
    todo: list[dict[str, Any]] = []
    notes: list[str] = []
    codes = sorted(str(c) for c in pd.unique(bd["PARAMCD"].dropna()))
    mapped = paramcd_to_instrument(pd.Series(codes, dtype=object))
    known = {c: k for c, k in zip(codes, mapped, strict=True) if shared_instrument(str(k))}
    unknown = [c for c in codes if c not in known]
    plan["params"] = [c for c in codes if c in known]
    if unknown:
        labels = (bd.drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAM"].to_dict()
                  if "PARAM" in bd.columns else {})
        notes.append("PARAMCDs without a registry instrument, not read: " + ", ".join(
            f"{c} ({labels.get(c, '')})" for c in unknown) + "; to read one, add it to params and paramcd "
            "(and declare it under instruments)")
    arm_var = "TRT01P" if "TRT01P" in sl.columns else ("TRT01A" if "TRT01A" in sl.columns else None)
    if arm_var:
        plan["arms"] = {str(v): str(v) for v in pd.unique(sl[arm_var].dropna())}
    sel = bd[bd["PARAMCD"].isin(plan["params"])]
    if "DTYPE" in sel.columns and sel["DTYPE"].notna().any():
        averages = sel["DTYPE"].astype(str).str.upper().eq("AVERAGE").any()
        plan["derived"] = "prefer" if averages else "skip"
        notes.append(f"derived records (DTYPE: {', '.join(sorted(set(sel['DTYPE'].dropna().astype(str))))}): "
                     f"derived={plan['derived']}" + (" (the AVERAGE of replicate readings replaces them)"
                                                     if averages else ""))
    if "ATPT" in sel.columns:
        plain = sel["ATPT"].notna() & ~sel["ATPT"].astype(str).str.upper().str.contains("PRE|POST")
        if plain.any() and plan.get("derived") != "prefer":
            plan["replicates"] = "TODO: records differ only by ATPT: keep the first reading (first) or stop (error)?"
    if "ADY" in sel.columns and (pd.to_numeric(sel["ADY"], errors="coerce") < 0).any():
        plan["screening"] = "skip"
        notes.append("records before the reference date (negative ADY, not ABLFL) are screening: skipped")
    if notes:
        plan["notes"] = notes
    if todo:
        plan["todo"] = todo
    return plan

"""REDCap exports (flat record export + data dictionary) to a validated Dataset.

How an export becomes the three tables:

- ``record_id`` (or the dictionary's first field) is the subject; ``redcap_data_access_group`` the clinic.
- Events are visits: ``week_4_arm_1`` is visit ``week_4`` of arm 1 (label exports: ``"Week 4 (Arm 1: Name)"``).
  The first event (``baseline``/``screening``/the earliest) is the baseline visit, later ones follow-ups.
- The arm comes from the event suffix ``_arm_N``, named through ``mapping={"arms": {N: "label"}}``
  (label exports carry the arm's name; without either the arm is ``"arm_N"``).
- Rows of a repeating instrument (``redcap_repeat_instrument`` filled) or of a repeating event (only
  ``redcap_repeat_instance`` filled) are treatment sessions, numbered by ``redcap_repeat_instance``, when their
  form holds session fields or pre/post ratings; a repeating form of measurements only (a pain diary) gives
  visits ``<form>_<instance>`` dated by the row's date.
- Fields validated ``number_comma_decimal`` (``number_1dp_comma_decimal``...) are read with the comma as the
  decimal mark. File-upload and descriptive fields, fields flagged ``identifier = y`` and fields named like
  identifying data (dob, name, email, phone, address...) are never data; a date of birth is never a visit date.
- Outcome fields: a field whose name is a registered instrument key (``rmdq``, ``pain_nrs``) is that instrument
  at the row's visit; ``<instrument>_pre`` / ``<instrument>_post`` on a session row are the ratings before and
  after that session. Other names: ``mapping={"instruments": {"roland_total": "rmdq",
  "nrs_before": ("pain_nrs", "pre")}}``.
- Checkbox columns ``technique___<code>`` (0/1 or Checked/Unchecked) give the session's technique through the
  dictionary's choice labels (several ticked: ``other``); a dropdown/radio ``technique`` works too.
- Days: from the first date field on each row (validation ``date_*``/``datetime_*``) minus the subject's
  baseline date; rows without a date take the day from the visit label (``week_4`` → 28).
- Dropdown, radio and yes/no codes are replaced by their labels (raw exports); label exports are used as they
  are. Fields marked ``identifier = y`` never become covariates; other fields on visit events (age, sex,
  condition...) are subject-level covariates, so a field whose value changes between events is reported as a
  ``subject_conflict``: map it as an instrument (``mapping={"instruments": {...}}``) or drop the column.
- The dictionary's ``text_validation_min``/``max`` of each outcome field are range rules (sliders: 0–100 unless
  stated), checked on top of the instrument's own range.
- Both dictionary header styles are accepted: API names (``field_name``, ``form_name``...) and the CSV
  download's human headers (``Variable / Field Name``, ``Form Name``...).

Problems go to the same :class:`~massage_outcomes.schema.ValidationReport` as every reader, with the row number
as seen in the records file (header = row 1) and the REDCap field name as the column.

Examples
--------
>>> import massage_outcomes as mo
>>> from massage_outcomes.io.sample import sample_dir
>>> d = sample_dir() / "trial" / "redcap"
>>> ds = mo.read_redcap(d / "records.csv", d / "dictionary.csv",
...                     mapping={"arms": {1: "therapeutic", 2: "relaxation", 3: "usual_care"}}, study="SIM-TRIAL")
>>> ds.subjects["arm"].value_counts().sort_index().to_dict()
{'relaxation': 60, 'therapeutic': 60, 'usual_care': 60}
>>> sorted(ds.outcomes["timing"].astype(str).unique())
['baseline', 'followup', 'post', 'pre']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.errors import DataValidationError
from massage_outcomes.io._mapping import apply_mapping, fold
from massage_outcomes.io.plan import is_plan, load_plan, redcap_arguments, register_study_instruments
from massage_outcomes.schema import (
    MISSING_TOKENS,
    Problem,
    ValidationReport,
    check_option,
    error_message,
    fatal_error,
)
from massage_outcomes.visits import day_from_visit

__all__ = ["read_redcap", "read_dictionary", "parse_choices", "DICTIONARY_COLUMNS"]

DICTIONARY_COLUMNS: tuple[str, ...] = (
    "field_name", "form_name", "section_header", "field_type", "field_label", "select_choices_or_calculations",
    "field_note", "text_validation_type_or_show_slider_number", "text_validation_min", "text_validation_max",
    "identifier", "branching_logic", "required_field", "custom_alignment", "question_number",
    "matrix_group_name", "matrix_ranking", "field_annotation",
)
# folded human headers of the dictionary's CSV download -> API names
_HUMAN_HEADERS: dict[str, str] = {
    "variable_field_name": "field_name", "form_name": "form_name", "section_header": "section_header",
    "field_type": "field_type", "field_label": "field_label",
    "choices_calculations_or_slider_labels": "select_choices_or_calculations", "field_note": "field_note",
    "text_validation_type_or_show_slider_number": "text_validation_type_or_show_slider_number",
    "text_validation_min": "text_validation_min", "text_validation_max": "text_validation_max",
    "identifier": "identifier", "branching_logic_show_field_only_if": "branching_logic",
    "required_field": "required_field", "custom_alignment": "custom_alignment",
    "question_number_surveys_only": "question_number", "matrix_group_name": "matrix_group_name",
    "matrix_ranking": "matrix_ranking", "field_annotation": "field_annotation",
}
# headers of a records export with "labels for headers"
_LABEL_HEADERS = {"event_name": "redcap_event_name", "repeat_instrument": "redcap_repeat_instrument",
                  "repeat_instance": "redcap_repeat_instance", "data_access_group": "redcap_data_access_group",
                  "survey_identifier": "redcap_survey_identifier"}
_SESSION_FIELDS = ("technique", "intent", "therapist", "duration_min", "pressure", "body_region")
_ARM_SUFFIX = re.compile(r"^(?P<event>.*?)_arm_(?P<arm>\d+)$", re.IGNORECASE)
_ARM_LABEL = re.compile(r"^(?P<event>.*?)\s*\(\s*arm\s*(?P<arm>\d+)\s*:?\s*(?P<name>[^)]*)\)\s*$", re.IGNORECASE)
_CHECKED = {"1", "checked", "yes", "true"}
_UNCHECKED = {"0", "unchecked", "no", "false", ""}
_BASELINE_EVENTS = {"baseline", "screening", "enrollment", "enrolment", "bl", "week_0", "day_0", "intake"}

OnError = Literal["raise", "quarantine"]


# ---------------------------------------------------------------------------------------------------------------
# reading the two files
# ---------------------------------------------------------------------------------------------------------------
def _read_text(source: Any, what: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """All cells as text ("" for empty), the row number of each row as the user sees it, and a name."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        rows = frame.index.to_numpy() if pd.api.types.is_integer_dtype(frame.index.dtype) else np.arange(len(frame))
        frame = frame.reset_index(drop=True).astype(object).where(frame.notna().to_numpy(), "")
        frame = frame.map(lambda v: v if isinstance(v, str) else (str(int(v)) if isinstance(v, float) and v == int(v)
                                                                   else str(v)))
        frame.columns = [str(c) for c in frame.columns]
        return frame, np.asarray(rows), f"the {what} frame"
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such {what} file: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise fatal_error(path.name, "empty", f"the REDCap {what} file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
        warnings.warn(f"{path.name} is not UTF-8; read it as Windows-1252", UserWarning, stacklevel=3)
    from io import StringIO

    try:
        frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as err:
        raise fatal_error(path.name, "unreadable", f"cannot parse the REDCap {what} export as CSV ({err})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, np.arange(len(frame)) + 2, path.name


def read_dictionary(dictionary: Any) -> pd.DataFrame:
    """A REDCap data dictionary (path or DataFrame, either header style) with the API column names.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"Variable / Field Name": ["record_id", "rmdq"], "Form Name": ["f", "f"],
    ...                   "Field Type": ["text", "text"], "Text Validation Min": ["", "0"],
    ...                   "Text Validation Max": ["", "24"]})
    >>> read_dictionary(d)[["field_name", "text_validation_max"]].to_dict("records")
    [{'field_name': 'record_id', 'text_validation_max': ''}, {'field_name': 'rmdq', 'text_validation_max': '24'}]
    """
    frame, _, name = _read_text(dictionary, "dictionary")
    rename = {}
    for c in frame.columns:
        f = fold(c)
        if c in DICTIONARY_COLUMNS:
            continue
        target = _HUMAN_HEADERS.get(f) or (f if f in DICTIONARY_COLUMNS else None)
        if target:
            rename[c] = target
    frame = frame.rename(columns=rename)
    if "field_name" not in frame.columns:
        raise fatal_error(name, "required_column",
                          "not a REDCap data dictionary (no 'field_name' / 'Variable / Field Name' column; columns: "
                          f"{', '.join(frame.columns[:8])})", column="field_name")
    for c in DICTIONARY_COLUMNS:
        if c not in frame.columns:
            frame[c] = ""
    frame["field_name"] = frame["field_name"].str.strip()
    return frame[list(DICTIONARY_COLUMNS)].reset_index(drop=True)


def parse_choices(text: str) -> dict[str, str]:
    """``"1, Female | 2, Male"`` → ``{"1": "Female", "2": "Male"}`` (REDCap's choice syntax).

    Examples
    --------
    >>> parse_choices("1, Deep tissue | 2, Swedish massage")
    {'1': 'Deep tissue', '2': 'Swedish massage'}
    """
    out: dict[str, str] = {}
    for part in str(text or "").split("|"):
        if "," not in part:
            continue
        code, label = part.split(",", 1)
        if code.strip():
            out[code.strip()] = label.strip()
    return out


# ---------------------------------------------------------------------------------------------------------------
# the reader
# ---------------------------------------------------------------------------------------------------------------
def _event_parts(events: pd.Series, arms_map: Mapping[Any, str]) -> tuple[pd.Series, pd.Series]:
    """Visit label and arm name per row, from unique event names (vectorized over distinct events)."""
    visit_of: dict[str, str] = {}
    arm_of: dict[str, Any] = {}
    named = {str(k): str(v) for k, v in arms_map.items()}
    for ev in pd.unique(events):
        ev = str(ev)
        m = _ARM_SUFFIX.match(ev.strip())
        lm = _ARM_LABEL.match(ev.strip())
        if m:
            label, num, name = m.group("event"), m.group("arm"), ""
        elif lm:
            label, num, name = lm.group("event"), lm.group("arm"), lm.group("name").strip()
        else:
            label, num, name = ev, None, ""
        visit_of[ev] = fold(label)
        if num is None:
            arm_of[ev] = None
        else:
            arm_of[ev] = named.get(num) or (fold(name) if name else f"arm_{num}")
    return events.map(visit_of), events.map(arm_of)


#: field names that identify a person (never data, never a visit date)
_IDENTIFYING = re.compile(r"(^|_)(dob|birth\w*|date_of_birth|name|first_name|last_name|surname|email|e_mail|phone|"
                          r"telephone|mobile|address|street|zip|postcode|postal_code|mrn|ssn)($|_)", re.IGNORECASE)


_BIRTH = re.compile(r"(^|_)(dob|birth\w*|date_of_birth|birthdate)($|_)", re.IGNORECASE)


def fold_series(s: pd.Series) -> pd.Series:
    """:func:`fold` of each distinct value."""
    return s.map({v: fold(v) for v in pd.unique(s)})


def _comma_decimals(rec: pd.DataFrame, validation: Mapping[str, str]) -> pd.DataFrame:
    """Fields validated as ``number_comma_decimal`` (or ``number_Ndp_comma_decimal``) with a point for the comma."""
    fields = [c for c in rec.columns if "comma_decimal" in str(validation.get(c, ""))]
    if not fields:
        return rec
    rec = rec.copy()
    for c in fields:
        rec[c] = rec[c].str.replace(",", ".", regex=False)
    return rec


def _measurement_repeats(rec: pd.DataFrame, rep_inst: pd.Series, session_cols: list[str]) -> pd.Series:
    """Rows of a repeating instrument that has no session field or pre/post rating filled on any of its rows."""
    named = rep_inst != ""
    if not named.any():
        return pd.Series(False, index=rec.index)
    filled = (rec[session_cols].apply(lambda s: s.str.strip() != "").any(axis=1) if session_cols
              else pd.Series(False, index=rec.index))
    session_forms = set(rep_inst[named & filled])
    return named & ~rep_inst.isin(session_forms)


def _relabel(report: ValidationReport, long_meta: pd.DataFrame, file: str) -> list[Problem]:
    """Name the REDCap field (not the internal 'value'/'day' column) in problems found on the long frame."""
    out = []
    fields = long_meta.groupby("row")["field"].agg(list).to_dict() if len(long_meta) else {}
    values = long_meta.set_index(["row", "value_text"])["field"].to_dict() if len(long_meta) else {}
    for p in report.problems:
        column = p.column
        if p.row is not None and p.column == "value":
            column = values.get((p.row, "" if p.value is None else str(p.value)), column)
        elif p.row is not None and p.column in ("day",) and len(fields.get(p.row, [])) == 1:
            column = fields[p.row][0]
        message = p.message.replace("pass decimal=',' or use a point",
                                    "give the field the validation type number_comma_decimal in the data "
                                    "dictionary, or export it with a point")
        out.append(Problem(file, p.row, column, p.value, p.rule, message))
    return out


def read_redcap(records: Any, dictionary: Any = None, *, mapping: Mapping[str, Any] | None = None,
                on_error: OnError = "raise", study: str | None = None) -> Any:
    """Read a REDCap flat export and its data dictionary into a validated :class:`~massage_outcomes.Dataset`.

    Parameters
    ----------
    records : path or DataFrame
        The flat record export (CSV, raw or label values; "raw" or "label" headers).
    dictionary : path or DataFrame, optional
        The project's data dictionary (API or CSV-download headers). Without it, choice codes stay codes, no
        dictionary range rules apply and identifier fields cannot be recognised (a warning says so).
    mapping : ReadPlan, plan file (.yaml/.json) or dict, optional
        A read plan from :func:`massage_outcomes.describe` (``describe(records, dictionary=...)``): its
        ``arms``, ``fields``, ``events``, ``subject`` and study ``instruments`` are used. Or, as a dict:
        ``"arms"``: {arm number: arm label}; ``"instruments"``: {field: instrument key, or (instrument,
        "pre"/"post")}; ``"events"``: {event name or visit label: visit label, or None to treat the event as a
        session event}; ``"subject"``: the record-id field when it is not the first field; any other key is
        applied to the long frame as in :func:`massage_outcomes.read` (rename ``{"site": "clinic"}`` or recode
        ``{"technique": {"Structural": "deep_tissue"}}``).
    on_error : {"raise", "quarantine"}
        Raise :class:`~massage_outcomes.errors.DataValidationError` listing every problem, or keep the good
        measurements and put the bad ones in ``ds.rejected``.
    study : str, optional
        Study name (REDCap exports carry none; default ``"study"``).

    Returns
    -------
    Dataset
        ``ds.source`` records the files, the events and arms found, the fields used as outcomes, covariates,
        session attributes, the fields ignored, and the validation report.

    Raises
    ------
    DataValidationError
        Any broken rule (``on_error="raise"``), or a problem of the whole export (no record id, not a dictionary).

    Examples
    --------
    >>> import pandas as pd
    >>> import massage_outcomes as mo
    >>> records = pd.DataFrame({
    ...     "record_id": ["1", "1", "1"],
    ...     "redcap_event_name": ["baseline_arm_2", "week_10_arm_2", "treatment_arm_2"],
    ...     "redcap_repeat_instrument": ["", "", "session"], "redcap_repeat_instance": ["", "", "1"],
    ...     "visit_date": ["2024-01-01", "2024-03-11", ""], "session_date": ["", "", "2024-01-08"],
    ...     "rmdq": ["12", "7", ""], "pain_nrs_pre": ["", "", "6"], "pain_nrs_post": ["", "", "4"],
    ...     "technique___1": ["", "", "0"], "technique___2": ["", "", "1"]})
    >>> dictionary = pd.DataFrame({
    ...     "field_name": ["record_id", "rmdq", "technique", "pain_nrs_pre", "pain_nrs_post"],
    ...     "form_name": ["visit", "visit", "session", "session", "session"],
    ...     "field_type": ["text", "text", "checkbox", "text", "text"],
    ...     "select_choices_or_calculations": ["", "", "1, Deep tissue | 2, Swedish massage", "", ""],
    ...     "text_validation_min": ["", "0", "", "0", "0"], "text_validation_max": ["", "24", "", "10", "10"]})
    >>> ds = mo.read_redcap(records, dictionary, mapping={"arms": {2: "relaxation"}})
    >>> ds.outcomes[["instrument", "visit", "day", "timing", "session", "value"]]
      instrument     visit   day    timing  session  value
    0       rmdq  baseline   0.0  baseline     <NA>   12.0
    1       rmdq   week_10  70.0  followup     <NA>    7.0
    2   pain_nrs       NaN   7.0       pre        1    6.0
    3   pain_nrs       NaN   7.0      post        1    4.0
    >>> ds.sessions[["session", "day", "technique", "intent"]].astype(str).to_dict("records")
    [{'session': '1', 'day': '7.0', 'technique': 'swedish', 'intent': 'relaxation'}]
    """
    check_option("on_error", on_error, ("raise", "quarantine"))
    opts = _options(mapping, study)
    rec, rows, file = _read_text(records, "records")  # here, so that its warnings point at the caller
    ex = _load(rec, rows, file, dictionary, opts)
    roles = _field_roles(ex, opts)
    ex = replace(ex, rec=_comma_decimals(ex.rec, roles.validation))
    roles = _date_fields(ex, roles)
    visit, is_session = _sessions(ex, roles)
    problems: list[Problem] = []
    sess_vals = _session_values(ex, roles, problems)
    day, timing_visit = _days(ex, roles, visit, is_session, problems)
    subj_vals, arm_full, clinic = _subject_values(ex, roles)
    pieces = _outcome_pieces(ex, roles, opts, problems, visit=visit, is_session=is_session, day=day,
                             timing_visit=timing_visit, sess_vals=sess_vals, subj_vals=subj_vals,
                             arm_full=arm_full, clinic=clinic)
    long = _long_frame(pieces, ex, opts)
    source = {"file": ex.file, "format": "redcap", "dictionary": None if dictionary is None else
              ("the dictionary frame" if isinstance(dictionary, pd.DataFrame) else str(dictionary)),
              "events": sorted(pd.unique(ex.event[ex.event != ""]).tolist()),
              "arms": sorted({a for a in ex.arm.dropna().unique()}), "outcome_fields": dict(roles.outcome_fields),
              "session_fields": roles.session_attr, "covariates": roles.other, "ignored_fields": roles.ignored,
              "records_rows": len(ex.rec), "rows_read": len(long)}
    return _finish(long, problems, ex, roles, source=source, study=opts.study, on_error=on_error)


@dataclass(frozen=True)
class _RedcapOptions:
    """read_redcap's choices once a read plan is resolved, and the REDCap keys taken out of ``mapping``."""

    study: str | None
    arms_map: Mapping[Any, str]
    inst_map: Mapping[str, Any]
    events_map: Mapping[str, Any]
    subject_field: str | None
    rest: Mapping[str, Any]  # the other mapping keys, applied to the long frame


@dataclass(frozen=True)
class _Export:
    """A records export with its headers resolved: the records, their file rows, the dictionary and the keys."""

    rec: pd.DataFrame
    rows: np.ndarray
    file: str
    dic_by: pd.DataFrame
    id_field: str
    subject: pd.Series
    event: pd.Series
    rep_inst: pd.Series
    rep_no: pd.Series
    visit: pd.Series
    arm: pd.Series


@dataclass(frozen=True)
class _Roles:
    """What each field of the export is: outcome, date, session attribute, checkbox, covariate or ignored."""

    field_type: dict[str, Any]
    validation: dict[str, Any]
    identifier: set[str]
    outcome_fields: dict[str, tuple[str, str | None]]
    checkbox_groups: dict[str, list[str]]
    checkbox_cols: set[str]
    session_attr: list[str]
    other: list[str]
    ignored: list[str]
    not_data: set[str]
    date_fields: list[str]


def _options(mapping: Mapping[str, Any] | None, study: str | None) -> _RedcapOptions:
    """The read plan (if ``mapping`` is one) resolved and the REDCap keys split from ``mapping``."""
    if mapping is not None and is_plan(mapping):  # a read plan (ReadPlan, .yaml/.json file)
        plan = load_plan(mapping)
        plan.check()
        register_study_instruments(plan)
        study = plan.get("study", study)
        mapping = redcap_arguments(plan)
    rest = dict(mapping or {})
    arms_map = rest.pop("arms", {}) or {}
    inst_map = rest.pop("instruments", {}) or {}
    events_map = rest.pop("events", {}) or {}
    subject_field = rest.pop("subject", None)
    return _RedcapOptions(study=study, arms_map=arms_map, inst_map=inst_map, events_map=events_map,
                          subject_field=subject_field, rest=rest)


def _load(rec: pd.DataFrame, rows: np.ndarray, file: str, dictionary: Any, opts: _RedcapOptions) -> _Export:
    """The dictionary read, the records' label headers renamed to field names, the record id, events and arms."""
    if len(rec) == 0:
        raise fatal_error(file, "empty", "the REDCap export has a header but no records")
    if dictionary is not None:
        dic = read_dictionary(dictionary)
    else:
        dic = pd.DataFrame({c: pd.Series(dtype=object) for c in DICTIONARY_COLUMNS})
        warnings.warn("read_redcap without a data dictionary: choice codes stay codes, no dictionary range rules, "
                      "identifier fields not recognised", UserWarning, stacklevel=3)
    dic_by = dic.set_index("field_name", drop=False)
    dic_by = dic_by[~dic_by.index.duplicated()]
    rec = rec.rename(columns=_header_names(rec, dic, dic_by))

    # the record id
    id_field = opts.subject_field or ("record_id" if "record_id" in rec.columns else
                                      (dic["field_name"].iloc[0] if len(dic) else rec.columns[0]))
    if id_field not in rec.columns:
        raise fatal_error(file, "required_column",
                          f"no record-id column {id_field!r} (columns: {', '.join(rec.columns[:8])}); pass "
                          "mapping={'subject': '<field>'}", column=id_field)
    n = len(rec)
    subject = rec[id_field].str.strip()
    event = rec["redcap_event_name"].str.strip() if "redcap_event_name" in rec.columns else pd.Series([""] * n)
    rep_inst = rec["redcap_repeat_instrument"].str.strip() if "redcap_repeat_instrument" in rec.columns \
        else pd.Series([""] * n)
    rep_no = rec["redcap_repeat_instance"].str.strip() if "redcap_repeat_instance" in rec.columns \
        else pd.Series([""] * n)
    events_map = opts.events_map
    visit, arm = _event_parts(event, opts.arms_map)
    visit = visit.map(lambda v: events_map.get(v, v) if v is not None else v)
    visit = pd.Series(np.where(event.map(lambda e: e in events_map).to_numpy(),
                               event.map(lambda e: events_map.get(e)), visit), index=rec.index)
    return _Export(rec=rec, rows=rows, file=file, dic_by=dic_by, id_field=id_field, subject=subject, event=event,
                   rep_inst=rep_inst, rep_no=rep_no, visit=visit, arm=arm)


def _header_names(rec: pd.DataFrame, dic: pd.DataFrame, dic_by: pd.DataFrame) -> dict[str, str]:
    """Label headers ("labels for headers" exports) -> field names."""
    rename: dict[str, str] = {}
    label_to_field = {str(r.field_label).strip(): str(r.field_name) for r in dic.itertuples() if str(r.field_label)}
    for c in rec.columns:
        if c in dic_by.index or c.startswith("redcap_"):
            continue
        f = fold(c)
        if f in _LABEL_HEADERS:
            rename[c] = _LABEL_HEADERS[f]
            continue
        m = re.match(r"^(?P<label>.*)\(choice=(?P<choice>.*)\)\s*$", c)
        if m and m.group("label").strip() in label_to_field:
            fld = label_to_field[m.group("label").strip()]
            codes = {v: k for k, v in parse_choices(dic_by.loc[fld, "select_choices_or_calculations"]).items()}
            if m.group("choice").strip() in codes:
                rename[c] = f"{fld}___{codes[m.group('choice').strip()]}"
                continue
        if c in label_to_field:
            rename[c] = label_to_field[c]
    return rename


def _field_roles(ex: _Export, opts: _RedcapOptions) -> _Roles:
    """Each field's role from the dictionary and the field names (dates are found later, by :func:`_date_fields`)."""
    rec, dic_by, inst_map = ex.rec, ex.dic_by, opts.inst_map
    field_type = dic_by["field_type"].to_dict()
    validation = dic_by["text_validation_type_or_show_slider_number"].str.lower().to_dict()
    identifier = {k for k, v in dic_by["identifier"].to_dict().items() if str(v).strip().lower() in ("y", "yes", "1")}
    identifier |= {c for c in rec.columns if _IDENTIFYING.search(c) and c not in (opts.subject_field, "record_id")
                   and not c.startswith("redcap_") and c not in inst_map}
    not_data = {c for c in rec.columns if field_type.get(c) in ("file", "descriptive")}
    outcome_fields = _outcome_fields(rec, inst_map)
    checkbox_groups: dict[str, list[str]] = {}
    for c in rec.columns:
        m = re.match(r"^(?P<field>.+?)___(?P<code>[^_].*)$", c)
        if m:
            checkbox_groups.setdefault(m.group("field"), []).append(c)
    checkbox_cols = {c for cols in checkbox_groups.values() for c in cols}
    session_attr = [c for c in _SESSION_FIELDS if c in rec.columns or c in checkbox_groups]
    return _Roles(field_type=field_type, validation=validation, identifier=identifier,
                  outcome_fields=outcome_fields, checkbox_groups=checkbox_groups, checkbox_cols=checkbox_cols,
                  session_attr=session_attr, other=[], ignored=[], not_data=not_data, date_fields=[])


def _outcome_fields(rec: pd.DataFrame, inst_map: Mapping[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Outcome fields -> (instrument, "pre"/"post" or None): mapped, named after an instrument, or <inst>_pre/_post."""
    outcome_fields: dict[str, tuple[str, str | None]] = {}
    for c in rec.columns:
        spec = inst_map.get(c)
        if spec is not None:
            outcome_fields[c] = (spec, None) if isinstance(spec, str) else (str(spec[0]), str(spec[1]))
        elif _instruments.is_registered(c):
            outcome_fields[c] = (c, None)
        else:
            m = re.match(r"^(?P<inst>.+)_(?P<t>pre|post)$", c)
            if m and _instruments.is_registered(m.group("inst")):
                outcome_fields[c] = (m.group("inst"), m.group("t"))
    return outcome_fields


def _date_fields(ex: _Export, roles: _Roles) -> _Roles:
    """The visit-date fields, and with them the covariates (the other fields) and the fields ignored."""
    rec, validation, identifier = ex.rec, roles.validation, roles.identifier
    # visit dates: dated fields, those not flagged identifier first (many projects flag every date); a date of
    # birth is never one
    dated = [c for c in rec.columns if str(validation.get(c, "")).startswith(("date", "datetime"))
             and not _BIRTH.search(c)]
    date_fields = [c for c in dated if c not in identifier] + [c for c in dated if c in identifier]
    # fields the dictionary does not describe: dates are recognised by their Y-M-D values
    for c in rec.columns:
        if c not in ex.dic_by.index and c not in date_fields and not c.startswith("redcap_") and not _BIRTH.search(c):
            vals = rec[c].str.strip()
            vals = vals[vals != ""]
            if len(vals) and vals.str.match(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$").all():
                date_fields.append(c)
    admin = {ex.id_field, "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
             "redcap_survey_identifier", "redcap_data_access_group"}
    complete = {c for c in rec.columns if c.endswith("_complete")}
    other = [c for c in rec.columns if c not in admin | complete | roles.checkbox_cols | set(roles.outcome_fields)
             | set(date_fields) | set(roles.session_attr) | identifier | roles.not_data]
    ignored = sorted((set(identifier) | roles.not_data) & set(rec.columns) - set(date_fields) - {ex.id_field})
    ignored += sorted(c for g, cols in roles.checkbox_groups.items() if g not in roles.session_attr for c in cols)
    return replace(roles, date_fields=date_fields, other=other, ignored=ignored)


def _sessions(ex: _Export, roles: _Roles) -> tuple[pd.Series, np.ndarray]:
    """The visit of each row (None on session rows) and which rows are sessions.

    Repeating rows are sessions when their form holds session fields or pre/post ratings; a repeating form of
    measurements only (a pain diary) gives visits "<form>_<instance>" instead.
    """
    rec, rep_inst, rep_no = ex.rec, ex.rep_inst, ex.rep_no
    session_cols = [c for c in rec.columns if c in roles.session_attr or c in roles.checkbox_cols
                    or (c in roles.outcome_fields and roles.outcome_fields[c][1] is not None)]
    repeated_measure = _measurement_repeats(rec, rep_inst, session_cols)
    visit = ex.visit.where(~repeated_measure, fold_series(rep_inst) + "_" + rep_no)
    is_session = ((rep_no != "").to_numpy() | (rep_inst != "").to_numpy() | visit.isna().to_numpy()) \
        & ~repeated_measure.to_numpy()
    return visit.where(~is_session, None), is_session


def _labels(col: str, values: pd.Series, roles: _Roles, dic_by: pd.DataFrame) -> pd.Series:
    """Code -> label for choice fields (raw exports); label exports already hold labels."""
    field_type = roles.field_type
    if field_type.get(col) not in ("radio", "dropdown", "yesno", "truefalse"):
        return values
    choices = parse_choices(dic_by.loc[col, "select_choices_or_calculations"])
    if field_type.get(col) == "yesno":
        choices = {"1": "yes", "0": "no"}
    elif field_type.get(col) == "truefalse":
        choices = {"1": "true", "0": "false"}
    return values.map(lambda v: choices.get(v, v))


def _checkbox(field: str, ex: _Export, roles: _Roles) -> tuple[pd.Series, list[Problem]]:
    """A checkbox -> one label per row ("other" when several are ticked), and its cells that are not 0/1."""
    rec, rows, file, dic_by = ex.rec, ex.rows, ex.file, ex.dic_by
    cols = roles.checkbox_groups[field]
    choices = parse_choices(dic_by.loc[field, "select_choices_or_calculations"]) if field in dic_by.index else {}
    cells = rec[cols].apply(lambda s: s.str.strip().str.lower())
    ticked = cells.isin(list(_CHECKED)).to_numpy()
    bad = ~(cells.isin(list(_CHECKED | _UNCHECKED))).to_numpy()
    probs = [Problem(file, int(rows[i]), cols[j], rec[cols[j]].iloc[i], "unknown_term",
                     f"checkbox {cols[j]!r} holds {rec[cols[j]].iloc[i]!r}; expected 0/1 or Checked/Unchecked")
             for i, j in zip(*np.nonzero(bad), strict=True)]
    codes = np.array([c.split("___", 1)[1] for c in cols], dtype=object)
    names = np.array([choices.get(c, c) for c in codes], dtype=object)
    count = ticked.sum(axis=1)
    first = names[np.argmax(ticked, axis=1)] if len(cols) else np.array([None] * len(rec))
    none = np.asarray(None, dtype=object)
    out = np.where(count == 1, first, np.where(count > 1, np.asarray("other", dtype=object), none))
    return pd.Series(out, index=rec.index, dtype=object), probs


def _session_values(ex: _Export, roles: _Roles, problems: list[Problem]) -> dict[str, pd.Series]:
    """Each session attribute's value per row (labels, checkboxes as one label)."""
    sess_vals: dict[str, pd.Series] = {}
    for c in roles.session_attr:
        if c in roles.checkbox_groups:
            sess_vals[c], probs = _checkbox(c, ex, roles)
            problems += probs
        else:
            sess_vals[c] = _labels(c, ex.rec[c].str.strip(), roles, ex.dic_by).replace("", None)
    return sess_vals


def _days(ex: _Export, roles: _Roles, visit: pd.Series, is_session: np.ndarray,
          problems: list[Problem]) -> tuple[pd.Series, np.ndarray]:
    """Days since the subject's baseline (from the dates, else the visit label), and baseline/followup timing."""
    rec, rows, file, event, subject = ex.rec, ex.rows, ex.file, ex.event, ex.subject
    row_date = pd.Series(pd.NaT, index=rec.index, dtype="datetime64[ns]")
    for c in roles.date_fields:
        text = rec[c].str.strip()
        parsed = pd.to_datetime(text, errors="coerce", format="mixed",
                                dayfirst=roles.validation.get(c, "").endswith("dmy"))
        bad = (text != "") & parsed.isna()
        for i in np.flatnonzero(bad.to_numpy()):
            problems.append(Problem(file, int(rows[i]), c, text.iloc[i], "bad_date",
                                    f"{c} {text.iloc[i]!r} is not a date (REDCap exports Y-M-D)"))
        row_date = row_date.where(row_date.notna(), parsed)
    baseline_like = visit.map(lambda v: v is not None and (v in _BASELINE_EVENTS or fold(v).startswith("baseline")))
    if not baseline_like.any():  # no event called baseline: the first event in file order is the baseline visit
        first_event = event[~pd.Series(is_session)].iloc[0] if (~is_session).any() else None
        baseline_like = (event == first_event) & pd.Series(~is_session)
    ref = row_date.where(baseline_like).groupby(subject).transform("min")
    ref = ref.where(ref.notna(), row_date.groupby(subject).transform("min"))
    day = (row_date - ref).dt.days.astype(float)
    from_label = day_from_visit(visit.where(visit.notna(), "").astype(str))
    from_label = from_label.where(~baseline_like, 0.0)
    day = day.where(day.notna(), from_label)
    return day, np.where(baseline_like, "baseline", "followup")


def _subject_values(ex: _Export, roles: _Roles) -> tuple[dict[str, pd.Series], pd.Series, pd.Series | None]:
    """Subject-level values (the row's own value, or the record's first non-empty one), the arm and the clinic."""
    rec, subject, validation, field_type = ex.rec, ex.subject, roles.validation, roles.field_type
    subj_vals: dict[str, pd.Series] = {}
    for c in roles.other:
        v = _labels(c, rec[c].str.strip(), roles, ex.dic_by).replace("", None)
        if str(validation.get(c, "")).startswith(("integer", "number")) or field_type.get(c) == "calc":
            v = pd.to_numeric(v, errors="coerce").where(v.notna(), np.nan) if pd.to_numeric(
                v.dropna(), errors="coerce").notna().all() else v  # keep text if any cell is not a number
        first = v.groupby(subject).transform("first")
        subj_vals[c] = v.where(v.notna(), first)
    arm_full = ex.arm.groupby(subject).transform("first")
    clinic = rec["redcap_data_access_group"].str.strip().replace("", None) if "redcap_data_access_group" in rec \
        else None
    return subj_vals, arm_full, clinic


def _outcome_pieces(ex: _Export, roles: _Roles, opts: _RedcapOptions, problems: list[Problem], *,
                    visit: pd.Series, is_session: np.ndarray, day: pd.Series, timing_visit: np.ndarray,
                    sess_vals: dict[str, pd.Series], subj_vals: dict[str, pd.Series], arm_full: pd.Series,
                    clinic: pd.Series | None) -> list[pd.DataFrame]:
    """One long-frame piece per outcome field, with the dictionary range rules and stray-cell problems."""
    rec, rows, file, subject = ex.rec, ex.rows, ex.file, ex.subject
    pieces = []
    for c, (inst, t) in roles.outcome_fields.items():
        text = rec[c].str.strip()
        present = (text != "") & ~text.str.lower().isin(MISSING_TOKENS - {""})
        on_session = pd.Series(is_session, index=rec.index)
        if t is None:
            keep = present & ~on_session
            timing = pd.Series(timing_visit, index=rec.index)
        else:
            keep = present & on_session
            timing = pd.Series(t, index=rec.index)
        stray = present & (on_session if t is None else ~on_session)
        for i in np.flatnonzero(stray.to_numpy()):
            where = "a session (repeating) row" if t is None else "a visit row (no repeat instance)"
            problems.append(Problem(file, int(rows[i]), c, text.iloc[i], "session_missing",
                                    f"{c} is on {where}; use <instrument>_pre/_post on the repeating session form "
                                    "and plain instrument fields on visit events"))
        idx = np.flatnonzero(keep.to_numpy())
        if not len(idx):
            continue
        outside = _outside_dictionary_range(ex, roles, c, inst, text, idx, problems)
        piece = pd.DataFrame({
            "_pos": idx, "_field": c, "study": opts.study, "subject": subject.iloc[idx].to_numpy(),
            "arm": arm_full.iloc[idx].to_numpy(),
            "instrument": inst, "visit": visit.iloc[idx].to_numpy(), "day": day.iloc[idx].to_numpy(),
            "timing": timing.iloc[idx].to_numpy(),
            "session": np.where(is_session[idx], ex.rep_no.iloc[idx].to_numpy(), None),
            "value": text.iloc[idx].to_numpy(),
        })
        piece["_dict_bad"] = outside
        for a in roles.session_attr:
            piece[a] = np.where(is_session[idx], sess_vals[a].iloc[idx].to_numpy(), None)
        if clinic is not None:
            piece["clinic"] = clinic.groupby(subject).transform("first").iloc[idx].to_numpy()
        for o in roles.other:
            piece[o] = subj_vals[o].iloc[idx].to_numpy()
        pieces.append(piece)
    if not pieces:
        known = ", ".join(sorted(i.key for i in _instruments.all_instruments())[:6])
        err = fatal_error(file, "required_column",
                          f"no outcome fields found (with values). Fields named after an instrument ({known}, ...) or "
                          "<instrument>_pre/_post are read; map others with mapping={'instruments': {'field': 'rmdq'}}")
        if problems:  # what was found on the way is the real problem: keep it
            rep = ValidationReport([*err.report.problems, *problems], file=file)
            raise DataValidationError(error_message(rep, what=file, quarantine_hint=False), report=rep)
        raise err
    return pieces


def _outside_dictionary_range(ex: _Export, roles: _Roles, c: str, inst: str, text: pd.Series, idx: np.ndarray,
                              problems: list[Problem]) -> np.ndarray:
    """Which kept values of field ``c`` (within the instrument's range) are outside the dictionary's min-max."""
    dic_by = ex.dic_by
    lo = pd.to_numeric(dic_by["text_validation_min"].get(c, ""), errors="coerce") if c in dic_by.index else np.nan
    hi = pd.to_numeric(dic_by["text_validation_max"].get(c, ""), errors="coerce") if c in dic_by.index else np.nan
    if roles.field_type.get(c) == "slider":  # REDCap sliders run 0-100 unless the dictionary says otherwise
        lo, hi = (0.0 if pd.isna(lo) else lo), (100.0 if pd.isna(hi) else hi)
    num = pd.to_numeric(text.iloc[idx], errors="coerce")
    spec = _instruments.get(inst) if _instruments.is_registered(inst) else None
    in_inst = spec.in_range(num.to_numpy()) if spec is not None else np.ones(len(idx), dtype=bool)
    outside = num.notna().to_numpy() & in_inst & (((num < lo) | (num > hi)).to_numpy())
    for i in idx[outside]:
        problems.append(Problem(ex.file, int(ex.rows[i]), c, text.iloc[i], "out_of_range",
                                f"{c} value {text.iloc[i]} is outside the data dictionary's range "
                                f"{lo:g}-{hi:g}"))
    return outside


def _long_frame(pieces: list[pd.DataFrame], ex: _Export, opts: _RedcapOptions) -> pd.DataFrame:
    """The pieces in file order (row, then field), control arms' technique filled, the rest of the mapping."""
    long = pd.concat(pieces, ignore_index=True)
    col_order = {c: i for i, c in enumerate(ex.rec.columns)}
    long = long.assign(_col=long["_field"].map(col_order)).sort_values(["_pos", "_col"], kind="stable")
    long = long.drop(columns="_col").reset_index(drop=True)
    # subjects without sessions whose arm names a control technique ("usual_care" -> none)
    if "technique" in long.columns:
        has_sess = long.groupby("subject")["session"].transform(lambda s: s.notna().any())
        arm_tech = long["arm"].map(lambda a: vocab.TECHNIQUE.lookup(a) if isinstance(a, str) else None)
        fill = ~has_sess & long["technique"].isna() & arm_tech.isin(["none", "sham"])
        long.loc[fill, "technique"] = arm_tech[fill]
    else:
        arm_tech = long["arm"].map(lambda a: vocab.TECHNIQUE.lookup(a) if isinstance(a, str) else None)
        long["technique"] = arm_tech.where(arm_tech.isin(["none", "sham"]), None)
    if opts.rest:
        long = apply_mapping(long, dict(opts.rest))
    return long


def _finish(long: pd.DataFrame, problems: list[Problem], ex: _Export, roles: _Roles, *, source: dict[str, Any],
            study: str | None, on_error: str) -> Any:
    """The Dataset of the good cells, with the reader's and the generic validation's problems in one report."""
    from massage_outcomes.dataset import Dataset

    file, ignored = ex.file, roles.ignored
    # rows with a problem found here are rejected before the generic rules run
    file_row = ex.rows[long["_pos"].to_numpy()]
    # only the cells named by a problem are rejected: match (row, field) for cell problems, whole row for dates
    cell_bad = {(p.row, p.column) for p in problems if p.row is not None}
    row_bad = {p.row for p in problems if p.row is not None and p.rule in ("bad_date", "unknown_term")}
    pre_bad = np.array([(r, f) in cell_bad or r in row_bad for r, f in zip(file_row, long["_field"], strict=True)], dtype=bool) \
        if problems else np.zeros(len(long), dtype=bool)
    meta = pd.DataFrame({"row": file_row, "field": long["_field"].to_numpy(),
                         "value_text": long["value"].astype(str).to_numpy()})
    keep_long = long.loc[~pre_bad].drop(columns=["_pos", "_field", "_dict_bad"])
    if study is None:
        keep_long = keep_long.drop(columns="study")
    try:
        ds = Dataset.from_long(keep_long, on_error="quarantine", study=study, rows=file_row[~pre_bad],
                               file=file, source=source)
    except DataValidationError as err:
        if isinstance(err.report, ValidationReport):
            rep = ValidationReport(problems + _relabel(err.report, meta, file), file=file)
            raise DataValidationError(error_message(rep, what=file, quarantine_hint=False), report=rep) from None
        raise
    generic = ds.source.get("report")
    all_problems = problems + (_relabel(generic, meta, file) if isinstance(generic, ValidationReport) else [])
    report = ValidationReport(all_problems, file=file, rows_read=len(long))
    if ignored:
        warnings.warn(f"{file}: fields not used (identifiers or unmapped checkboxes): {', '.join(ignored)}",
                      UserWarning, stacklevel=3)
    if on_error == "raise" and len(report):
        raise DataValidationError(error_message(report, what=file), report=report)
    if pre_bad.any():
        extra = pd.DataFrame({"row": file_row[pre_bad], "column": long.loc[pre_bad, "_field"].to_numpy(),
                              "value": long.loc[pre_bad, "value"].to_numpy(),
                              "reason": [next((f"{p.rule}: {p.message}" for p in problems
                                               if p.row == r and p.column in (f, *roles.date_fields,
                                                                              *roles.checkbox_cols)),
                                              "rejected") for r, f in zip(file_row[pre_bad], long.loc[pre_bad, "_field"], strict=True)]})
        ds.rejected = pd.concat([ds.rejected, extra], ignore_index=True) if len(ds.rejected) else extra
    ds.source.update(rows_read=len(long), rows_kept=len(ds.outcomes),
                     rows_rejected=int(pre_bad.sum()) + int(ds.source.get("rows_rejected", 0)), report=report)
    return ds

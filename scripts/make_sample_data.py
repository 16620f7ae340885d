"""Regenerate the bundled sample data (src/massage_outcomes/_sample, also reachable as data/sample) byte for byte.

Usage::

    python scripts/make_sample_data.py            # rewrite the bundled files
    python scripts/make_sample_data.py --out DIR  # write them somewhere else (the test compares the two)

Everything comes from the seeded simulators (fixed seeds), is written with fixed float formatting and "\\n" line
ends, and the Excel workbook is normalised (fixed document timestamps, fixed zip entry dates), so two runs give
identical bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import canonicalize

import numpy as np
import pandas as pd

import massage_outcomes as mo

TRIAL_SEED = 20110705  # Cherkin et al. 2011 was published 5 July 2011
#: the sample trial's design facts, read by massage_outcomes.tables.primary_visit (the one place that says which
#: visit is primary): the end of treatment at 10 weeks, as in Cherkin et al. 2011
TRIAL_STUDY = {
    "primary_visit": "week_10",
    "primary_instrument": "rmdq",
    "note": "primary endpoint: RMDQ at the end of treatment (week 10), as in Cherkin et al. 2011; week 26 is the "
            "follow-up",
}
CLINIC_SEED = 2015
TRIAL_N_PER_ARM = 60
CLINIC_N_SUBJECTS = 300
FLOAT_FORMAT = "%.10g"
ARM_NUMBERS = {"therapeutic": 1, "relaxation": 2, "usual_care": 3}
ENROLLMENT_START = pd.Timestamp("2024-01-08")

LONG_COLUMNS = ["study", "subject", "arm", "condition", "clinic", "age", "sex", "session", "technique", "intent",
                "therapist", "duration_min", "pressure", "body_region", "instrument", "visit", "day", "timing",
                "value"]

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "massage_outcomes" / "_sample"


# ---------------------------------------------------------------------------------------------------------------
# writing helpers
# ---------------------------------------------------------------------------------------------------------------
def _csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    path.write_bytes(text.encode("utf-8"))


def _json(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((json.dumps(obj, indent=2, sort_keys=False) + "\n").encode("utf-8"))


_FIXED_TIME = "2024-01-01T00:00:00Z"


def _normalise_xlsx(raw: bytes) -> bytes:
    """Rewrite an .xlsx so that it is byte-for-byte reproducible: fixed timestamps, canonical XML, fixed zip metadata."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            data = src.read(name)
            if name == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rf"\g<1>{_FIXED_TIME}\2", text)
                data = text.encode("utf-8")
            if name.endswith((".xml", ".rels")):  # C14N: the same bytes whether openpyxl writes with lxml or not
                data = canonicalize(data.decode("utf-8")).encode("utf-8")
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, data, compresslevel=6)
    return out.getvalue()


def _xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
        props = writer.book.properties
        fixed = pd.Timestamp("2024-01-01").to_pydatetime()
        props.created = fixed
        props.modified = fixed
        props.creator = "massage_outcomes scripts/make_sample_data.py"
        props.lastModifiedBy = None
    path.write_bytes(_normalise_xlsx(buf.getvalue()))


# ---------------------------------------------------------------------------------------------------------------
# long CSV
# ---------------------------------------------------------------------------------------------------------------
def long_frame(ds: object) -> pd.DataFrame:
    """One row per measurement with the canonical column names (what ``mo.read`` takes with no options).

    Visit rows carry the subject's allocated technique and intent; session rows carry the session's.
    """
    s, se, o = ds.subjects, ds.sessions, ds.outcomes  # type: ignore[attr-defined]
    subj_cols = ["study", "subject", "arm", "condition", "clinic", "age", "sex", "technique", "intent"]
    out = o.merge(s[subj_cols], on=["study", "subject"], how="left", validate="many_to_one")
    sess = se[["study", "subject", "session", "technique", "intent", "therapist", "duration_min", "pressure",
               "body_region"]].rename(columns={"technique": "s_technique", "intent": "s_intent"})
    sess["session"] = sess["session"].astype("Int64")
    out = out.merge(sess, on=["study", "subject", "session"], how="left", validate="many_to_one")
    has = out["session"].notna()
    for c in ("technique", "intent"):
        out[c] = out[c].astype(object).where(~has, out[f"s_{c}"].astype(object))
    out = out[LONG_COLUMNS].copy()
    for c in ("condition", "technique", "intent", "visit", "timing"):
        out[c] = out[c].astype(object)
    return out.reset_index(drop=True)


def _range_text(inst: str) -> str:
    spec = mo.instruments.get(inst)
    return f"{spec.min:g} to {spec.max:g} ({'lower' if spec.direction == 'lower' else 'higher'} is better)"


def data_dictionary(frame: pd.DataFrame, *, kind: str) -> pd.DataFrame:
    insts = sorted(frame["instrument"].unique())
    visits = [v for v in (mo.simulate.TRIAL_VISITS if kind == "trial" else mo.simulate.CLINIC_VISITS)]
    rows = [
        ("study", "text", "SIM-TRIAL" if kind == "trial" else "SIM-CLINIC", "study label"),
        ("subject", "text", "S001... / P0001...", "subject identifier; with study, the subject key"),
        ("arm", "text", "therapeutic; relaxation; usual_care" if kind == "trial" else "(empty: not randomized)",
         "randomized arm"),
        ("condition", "category", "; ".join(sorted(frame["condition"].unique())), "condition treated (vocab)"),
        ("clinic", "text", "(empty)" if kind == "trial" else "; ".join(sorted(frame["clinic"].dropna().unique())),
         "clinic (therapists are nested in clinics)"),
        ("age", "integer", f"{frame['age'].min()} to {frame['age'].max()}", "age at baseline, years"),
        ("sex", "text", "female; male", "sex"),
        ("session", "integer", f"1 to {int(frame['session'].max())} or empty",
         "treatment session number (in the order attended); set on pre/post-session ratings, empty on visit rows"),
        ("technique", "category", "; ".join(sorted(frame["technique"].unique())),
         "massage technique: the session's on session rows, the subject's allocated technique on visit rows"),
        ("intent", "category", "; ".join(sorted(frame["intent"].unique())),
         "therapeutic, relaxation or control"),
        ("therapist", "text", "; ".join(sorted(frame["therapist"].dropna().unique())),
         "therapist of the session (session rows only)"),
        ("duration_min", "number", "; ".join(f"{v:g}" for v in sorted(frame["duration_min"].dropna().unique())),
         "session length, minutes (session rows only)"),
        ("pressure", "text", "; ".join(sorted(frame["pressure"].dropna().unique())), "pressure used (session rows only)"),
        ("body_region", "text", "; ".join(sorted(frame["body_region"].dropna().unique())),
         "body region treated (session rows only)"),
        ("instrument", "text", "; ".join(insts), "outcome instrument (key in massage_outcomes.instruments)"),
        ("visit", "ordered category", "; ".join(visits) + " or empty",
         "scheduled visit (empty on pre/post-session ratings)"),
        ("day", "number", f"{frame['day'].min():g} to {frame['day'].max():g}", "days since the subject's baseline"),
        ("timing", "category", "baseline; pre; post; followup",
         "baseline visit, before or after a session, or a follow-up visit"),
        ("value", "number", "; ".join(f"{i}: {_range_text(i)}" for i in insts), "the score on the instrument's scale"),
    ]
    return pd.DataFrame(rows, columns=["column", "type", "allowed", "description"])


# ---------------------------------------------------------------------------------------------------------------
# REDCap export
# ---------------------------------------------------------------------------------------------------------------
REDCAP_TECHNIQUES = {1: ("deep_tissue", "Deep tissue"), 2: ("myofascial_release", "Myofascial release"),
                     3: ("trigger_point", "Trigger point"), 4: ("sports", "Sports massage"),
                     5: ("swedish", "Swedish massage")}
REDCAP_CONDITIONS = {1: "Low back pain", 2: "Sciatica", 3: "Tension-type headache", 4: "Migraine",
                     5: "Carpal tunnel syndrome", 6: "TMJ disorder", 7: "Post-surgical"}
REDCAP_SEX = {1: "female", 2: "male"}
REDCAP_PRESSURE = {1: "light", 2: "moderate", 3: "firm"}

DICTIONARY_COLUMNS = ["field_name", "form_name", "section_header", "field_type", "field_label",
                      "select_choices_or_calculations", "field_note", "text_validation_type_or_show_slider_number",
                      "text_validation_min", "text_validation_max", "identifier", "branching_logic",
                      "required_field", "custom_alignment", "question_number", "matrix_group_name",
                      "matrix_ranking", "field_annotation"]


def _choices(codes: dict[int, str]) -> str:
    return " | ".join(f"{k}, {v}" for k, v in codes.items())


def redcap_dictionary() -> pd.DataFrame:
    def f(name: str, form: str, ftype: str, label: str, choices: str = "", validation: str = "", lo: str = "",
          hi: str = "", identifier: str = "", required: str = "", note: str = "") -> dict[str, str]:
        row = dict.fromkeys(DICTIONARY_COLUMNS, "")
        row.update(field_name=name, form_name=form, field_type=ftype, field_label=label,
                   select_choices_or_calculations=choices, text_validation_type_or_show_slider_number=validation,
                   text_validation_min=lo, text_validation_max=hi, identifier=identifier, required_field=required,
                   field_note=note)
        return row

    rows = [
        f("record_id", "enrollment", "text", "Record ID"),
        f("enroll_date", "enrollment", "text", "Date of randomization (baseline)", validation="date_ymd",
          identifier="y", required="y"),
        f("age", "enrollment", "text", "Age (years)", validation="integer", lo="18", hi="90"),
        f("sex", "enrollment", "radio", "Sex", choices=_choices(REDCAP_SEX)),
        f("condition", "enrollment", "dropdown", "Condition", choices=_choices(REDCAP_CONDITIONS)),
        f("visit_date", "outcomes", "text", "Date of the visit", validation="date_ymd", identifier="y"),
        f("rmdq", "outcomes", "text", "Roland-Morris Disability Questionnaire (0-24)", validation="integer",
          lo="0", hi="24"),
        f("pain_nrs", "outcomes", "text", "Pain on average, last week (0-10)", validation="integer", lo="0", hi="10"),
        f("session_date", "session", "text", "Date of the session", validation="date_ymd", identifier="y"),
        f("therapist", "session", "text", "Therapist ID"),
        f("technique", "session", "checkbox", "Technique(s) used", choices=_choices(
            {k: v[1] for k, v in REDCAP_TECHNIQUES.items()})),
        f("duration_min", "session", "text", "Session length (minutes)", validation="integer", lo="0", hi="240"),
        f("pressure", "session", "radio", "Pressure", choices=_choices(REDCAP_PRESSURE)),
        f("body_region", "session", "text", "Body region treated"),
        f("pain_nrs_pre", "session", "text", "Pain now, before the session (0-10)", validation="integer",
          lo="0", hi="10"),
        f("pain_nrs_post", "session", "text", "Pain now, after the session (0-10)", validation="integer",
          lo="0", hi="10"),
    ]
    return pd.DataFrame(rows, columns=DICTIONARY_COLUMNS)


def redcap_records(ds: object, seed: int = TRIAL_SEED) -> pd.DataFrame:
    """The trial as a REDCap flat raw export (longitudinal, three arms, repeating 'session' instrument)."""
    s, se, o = ds.subjects, ds.sessions, ds.outcomes  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed + 1)
    enroll = pd.Series(ENROLLMENT_START + pd.to_timedelta(rng.integers(0, 365, len(s)), unit="D"),
                       index=s["subject"].to_numpy())
    arm_no = s.set_index("subject")["arm"].map(ARM_NUMBERS)
    cond_code = {mo.vocab.normalize_condition(v): k for k, v in REDCAP_CONDITIONS.items()}
    sex_code = {v.lower(): k for k, v in REDCAP_SEX.items()}
    tech_code = {v[0]: k for k, v in REDCAP_TECHNIQUES.items()}
    press_code = {v: k for k, v in REDCAP_PRESSURE.items()}
    fields = list(redcap_dictionary()["field_name"])
    columns = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
    for fld in fields[1:]:
        if fld == "technique":
            columns += [f"technique___{k}" for k in REDCAP_TECHNIQUES]
        else:
            columns.append(fld)
        if fld in ("condition", "pain_nrs", "pain_nrs_post"):
            columns.append({"condition": "enrollment_complete", "pain_nrs": "outcomes_complete",
                            "pain_nrs_post": "session_complete"}[fld])

    def date_text(subject: pd.Series, day: pd.Series) -> np.ndarray:
        d = enroll[subject.to_numpy()].to_numpy() + pd.to_timedelta(day.to_numpy(), unit="D")
        return pd.DatetimeIndex(d).strftime("%Y-%m-%d").to_numpy()

    def ints(x: pd.Series) -> pd.Series:
        return x.map(lambda v: "" if pd.isna(v) else f"{int(v)}")

    event_order = {"baseline": 0, "treatment": 1, "week_4": 2, "week_10": 3, "week_26": 4}
    # enrollment + visit rows (non-repeating)
    vis = o[o["session"].isna()].pivot_table(index=["subject", "visit", "day"], columns="instrument",
                                             values="value", observed=True).reset_index()
    vis["visit"] = vis["visit"].astype(str)
    vrec = pd.DataFrame({
        "record_id": vis["subject"].to_numpy(),
        "redcap_event_name": vis["visit"] + "_arm_" + arm_no[vis["subject"]].astype(str).to_numpy(),
        "redcap_repeat_instrument": "", "redcap_repeat_instance": "",
        "visit_date": date_text(vis["subject"], vis["day"]), "rmdq": ints(vis["rmdq"]),
        "pain_nrs": ints(vis["pain_nrs"]), "outcomes_complete": "2",
        "_order": vis["visit"].map(event_order).to_numpy(), "_inst": 0,
    })
    subj = s.set_index("subject")
    is_base = vis["visit"].to_numpy() == "baseline"
    bsub = vis.loc[is_base, "subject"]
    vrec.loc[is_base, "enroll_date"] = enroll[bsub.to_numpy()].dt.strftime("%Y-%m-%d").to_numpy()
    vrec.loc[is_base, "age"] = subj.loc[bsub, "age"].astype(int).astype(str).to_numpy()
    vrec.loc[is_base, "sex"] = subj.loc[bsub, "sex"].map(sex_code).astype(str).to_numpy()
    vrec.loc[is_base, "condition"] = subj.loc[bsub, "condition"].astype(str).map(cond_code).astype(str).to_numpy()
    vrec.loc[is_base, "enrollment_complete"] = "2"
    # session rows (repeating instrument 'session' in the treatment event)
    pp = o[o["session"].notna()].pivot_table(index=["subject", "session"], columns="timing", values="value",
                                             observed=True)
    se2 = se.set_index(["subject", "session"])
    idx = pd.MultiIndex.from_arrays([se2.index.get_level_values(0), se2.index.get_level_values(1)])
    srec = pd.DataFrame({
        "record_id": se2.index.get_level_values(0),
        "redcap_event_name": "treatment_arm_" + arm_no[se2.index.get_level_values(0)].astype(str).to_numpy(),
        "redcap_repeat_instrument": "session",
        "redcap_repeat_instance": se2.index.get_level_values(1).astype(str),
        "session_date": date_text(pd.Series(se2.index.get_level_values(0)), se2["day"].reset_index(drop=True)),
        "therapist": se2["therapist"].to_numpy(),
        "duration_min": ints(se2["duration_min"].reset_index(drop=True)).to_numpy(),
        "pressure": se2["pressure"].map(press_code).astype(str).to_numpy(),
        "body_region": se2["body_region"].to_numpy(),
        "pain_nrs_pre": ints(pp.reindex(idx)["pre"].reset_index(drop=True)).to_numpy(),
        "pain_nrs_post": ints(pp.reindex(idx)["post"].reset_index(drop=True)).to_numpy(),
        "session_complete": "2",
        "_order": 1, "_inst": se2.index.get_level_values(1).to_numpy(),
    })
    tech = se2["technique"].astype(str).map(tech_code).to_numpy()
    for k in REDCAP_TECHNIQUES:
        srec[f"technique___{k}"] = np.where(tech == k, "1", "0")
    rec = pd.concat([vrec, srec], ignore_index=True)
    rec = rec.sort_values(["record_id", "_order", "_inst"], kind="stable").drop(columns=["_order", "_inst"])
    return rec.reindex(columns=columns).fillna("").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------------
# wide Excel
# ---------------------------------------------------------------------------------------------------------------
def wide_frame(ds: object) -> tuple[pd.DataFrame, dict[str, object]]:
    """One row per subject, one column per instrument × visit; and the mapping that reads it back."""
    s, o = ds.subjects, ds.outcomes  # type: ignore[attr-defined]
    vis = o[o["session"].isna()]
    visits = list(mo.simulate.TRIAL_VISITS)
    w = vis.pivot_table(index="subject", columns=["instrument", "visit"], values="value", observed=True)
    cols = {}
    for inst in ("rmdq", "pain_nrs"):
        for v in visits:
            cols[f"{inst}_{v}"] = w[(inst, v)] if (inst, v) in w.columns else np.nan
    wide = s[["study", "subject", "arm", "condition", "technique", "intent", "age", "sex"]].copy()
    for c in ("condition", "technique", "intent"):
        wide[c] = wide[c].astype(str)
    wide = wide.join(pd.DataFrame(cols), on="subject")
    measures = {f"{inst}_{v}": {"instrument": inst, "visit": v, "day": 7 * mo.simulate.TRIAL_VISITS[v],
                                "timing": "baseline" if v == "baseline" else "followup"}
                for inst in ("rmdq", "pain_nrs") for v in visits}
    mapping = {
        "sheet": "trial",
        "layout": "wide",
        "id_columns": ["study", "subject", "arm", "condition", "technique", "intent", "age", "sex"],
        "measures": measures,
        "how_to_read": "mo.read(path, layout='wide', wide=mapping['measures'], sheet=mapping['sheet'])",
        "note": "One row per subject, one column per instrument and visit (column name '<instrument>_<visit>'). "
                "Empty cells are missed visits (dropout). Session-level pre/post ratings are not in this workbook; "
                "they are in trial.csv and the REDCap export.",
    }
    return wide, mapping


# ---------------------------------------------------------------------------------------------------------------
# CDISC ADaM (ADSL + ADQS) as CSV
# ---------------------------------------------------------------------------------------------------------------
ADAM_ARMS = {"therapeutic": "Therapeutic massage", "relaxation": "Relaxation massage", "usual_care": "Usual care"}
ADAM_TECHNIQUES = {"deep_tissue": "Deep tissue massage", "myofascial_release": "Myofascial release",
                   "trigger_point": "Trigger point therapy", "sports": "Sports massage",
                   "swedish": "Swedish massage", "none": "Usual care"}
ADAM_PARAMS = {"rmdq": ("RMDQ", "Roland-Morris Disability Questionnaire (0-24)"),
               "pain_nrs": ("PAINNRS", "Pain Numeric Rating Scale (0-10)")}


def adam_frames(ds: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trial as ADSL and ADQS the way a CDISC programmer writes them (ADY has no day 0)."""
    s, o = ds.subjects, ds.outcomes  # type: ignore[attr-defined]
    adsl = pd.DataFrame({
        "STUDYID": s["study"].astype(str), "USUBJID": s["study"].astype(str) + "-" + s["subject"].astype(str),
        "SUBJID": s["subject"].astype(str), "TRT01P": s["arm"].map(ADAM_ARMS),
        "TECHNIQ": s["technique"].astype(str).map(ADAM_TECHNIQUES), "CONDIT": "Chronic low back pain",
        "AGE": s["age"].astype(int), "SEX": s["sex"].map({"female": "F", "male": "M"}), "ITTFL": "Y"})
    sess = o["session"].notna().to_numpy()
    visit = o["visit"].astype(str).str.upper().str.replace("_", " ")
    avisit = np.where(sess, "SESSION " + o["session"].astype("Int64").astype(str), visit)
    avisitn = np.where(sess, 100 + o["session"].fillna(0).astype(int),
                       o["visit"].astype(str).map(mo.simulate.TRIAL_VISITS).fillna(-1).astype(int))
    day = o["day"].to_numpy()
    base = (o["timing"].astype(str) == "baseline").to_numpy()
    inst = o["instrument"].astype(str)
    aval = o["value"].to_numpy()
    bl = pd.Series(np.where(base, aval, np.nan)).groupby([o["subject"].astype(str).to_numpy(), inst.to_numpy()]
                                                         ).transform("max").to_numpy()
    bl = np.where(sess, np.nan, bl)
    adqs = pd.DataFrame({
        "STUDYID": o["study"].astype(str), "USUBJID": o["study"].astype(str) + "-" + o["subject"].astype(str),
        "PARAMCD": inst.map(lambda k: ADAM_PARAMS[k][0]), "PARAM": inst.map(lambda k: ADAM_PARAMS[k][1]),
        "AVAL": aval, "BASE": bl, "CHG": np.where(base | sess, np.nan, aval - bl),
        "AVISIT": avisit, "AVISITN": avisitn, "ADY": np.where(day >= 0, day + 1, day).astype(int),
        "ATPT": o["timing"].astype(str).map({"pre": "PRE-SESSION", "post": "POST-SESSION"}).fillna(""),
        "ABLFL": np.where(base, "Y", ""),
    })
    return adsl, adqs


# ---------------------------------------------------------------------------------------------------------------
# everything
# ---------------------------------------------------------------------------------------------------------------
README = """# Bundled sample data

Generated by `scripts/make_sample_data.py` (fixed seeds; regenerated byte for byte, checked by
`tests/test_sample_data.py`). Load any of them with `massage_outcomes.load_sample(name)`.

| name | files | what |
|---|---|---|
| `trial` | `trial/trial.csv`, `trial/data_dictionary.csv`, `trial/study.json` | `simulate_trial(n_per_arm=60, seed=20110705)`: three-arm RCT in chronic low back pain (therapeutic / relaxation / usual_care), RMDQ and pain NRS at baseline, week 4, 10, 26; weekly sessions with pre/post pain; MAR dropout. Long CSV with canonical column names: `mo.read("trial/trial.csv")` needs no options. `study.json` states the design: primary endpoint RMDQ at week 10 (end of treatment, as Cherkin 2011), read by `massage_outcomes.tables.primary_visit`. |
| `trial_redcap` | `trial/redcap/records.csv`, `trial/redcap/dictionary.csv` | the same trial as a REDCap raw flat export: events `baseline_arm_N`, `treatment_arm_N` (repeating instrument `session`), `week_4_arm_N`, `week_10_arm_N`, `week_26_arm_N`; arms 1 therapeutic, 2 relaxation, 3 usual_care; checkbox `technique___1..5`; dates instead of days. Read with `mo.read_redcap(records, dictionary, mapping={"arms": {1: "therapeutic", 2: "relaxation", 3: "usual_care"}}, study="SIM-TRIAL")`. |
| `trial_wide` | `trial/wide/trial_wide.xlsx`, `trial/wide/mapping.json` | the same trial's visits as a wide workbook (sheet `trial`): one row per subject, one column per instrument and visit, named `<instrument>_<visit>` (e.g. `rmdq_week_10`); `mapping.json` gives each measure column's instrument, visit, day and timing. Session ratings are not in the workbook. |
| `trial_adam` | `trial/adam/adsl.csv`, `trial/adam/adqs.csv` | the same trial as CDISC ADaM: ADSL (TRT01P "Therapeutic massage" / "Relaxation massage" / "Usual care", allocated technique in `TECHNIQ`, condition in `CONDIT`, AGE, SEX, ITTFL) and ADQS (PARAMCD `RMDQ`/`PAINNRS`, AVAL, BASE, CHG, AVISIT/AVISITN, ADY without day 0, ABLFL, ATPT `PRE-SESSION`/`POST-SESSION` with AVISIT `SESSION n`). Read with `mo.read_adam(adsl, adqs, mapping={"arms": {...}, "technique": "TECHNIQ", "condition": "CONDIT"}, study=...)` (see `massage_outcomes.io.sample.ADAM_MAPPING`). |
| `clinic` | `clinic/clinic.csv`, `clinic/data_dictionary.csv` | `simulate_clinic(n_subjects=300, seed=2015)`: practice data over seven conditions and five techniques, 4 clinics x 4 therapists, condition-specific instruments, pain NRS before/after every session. |

`truth_*.csv` beside each dataset hold the simulator's true effects (see the docstrings of
`massage_outcomes.simulate_trial` / `simulate_clinic`); `load_sample` attaches them as `ds.truth`.
"""


def write_all(out: Path) -> list[Path]:
    out = Path(out)
    written: list[Path] = []
    trial = mo.simulate_trial(TRIAL_N_PER_ARM, seed=TRIAL_SEED)
    clinic = mo.simulate_clinic(CLINIC_N_SUBJECTS, seed=CLINIC_SEED)

    tl = long_frame(trial)
    _csv(tl, out / "trial" / "trial.csv")
    _csv(data_dictionary(tl, kind="trial"), out / "trial" / "data_dictionary.csv")
    _csv(trial.truth["effects"], out / "trial" / "truth_effects.csv")
    _csv(trial.truth["visit_means"], out / "trial" / "truth_visit_means.csv")
    _json(TRIAL_STUDY, out / "trial" / "study.json")
    written += [out / "trial" / n for n in ("trial.csv", "data_dictionary.csv", "truth_effects.csv",
                                            "truth_visit_means.csv", "study.json")]

    _csv(redcap_records(trial), out / "trial" / "redcap" / "records.csv")
    _csv(redcap_dictionary(), out / "trial" / "redcap" / "dictionary.csv")
    written += [out / "trial" / "redcap" / "records.csv", out / "trial" / "redcap" / "dictionary.csv"]

    wide, mapping = wide_frame(trial)
    _xlsx({"trial": wide}, out / "trial" / "wide" / "trial_wide.xlsx")
    _json(mapping, out / "trial" / "wide" / "mapping.json")
    written += [out / "trial" / "wide" / "trial_wide.xlsx", out / "trial" / "wide" / "mapping.json"]

    adsl, adqs = adam_frames(trial)
    _csv(adsl, out / "trial" / "adam" / "adsl.csv")
    _csv(adqs, out / "trial" / "adam" / "adqs.csv")
    written += [out / "trial" / "adam" / "adsl.csv", out / "trial" / "adam" / "adqs.csv"]

    cl = long_frame(clinic)
    _csv(cl, out / "clinic" / "clinic.csv")
    _csv(data_dictionary(cl, kind="clinic"), out / "clinic" / "data_dictionary.csv")
    _csv(clinic.truth["effects"], out / "clinic" / "truth_effects.csv")
    written += [out / "clinic" / n for n in ("clinic.csv", "data_dictionary.csv", "truth_effects.csv")]

    (out / "README.md").write_bytes(README.encode("utf-8"))
    written.append(out / "README.md")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: the bundled one)")
    args = parser.parse_args(argv)
    files = write_all(args.out)
    total = sum(p.stat().st_size for p in files)
    print(f"wrote {len(files)} files, {total / 1e6:.2f} MB, to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

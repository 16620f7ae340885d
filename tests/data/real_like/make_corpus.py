"""Write the realistic export corpus of tests/data/real_like/ (run: ``python tests/data/real_like/make_corpus.py``).

Every file is generated here from the formats' documented structure (REDCap's record export and data-dictionary
columns, CDISC ADaM ADSL/BDS variables, SPSS value labels, a wide trial spreadsheet); nothing is copied from a
public example. Values are drawn with a fixed seed, so the files are the same on every run; the tests read them
and compare spot values with an independent pandas read.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20261204

# ---------------------------------------------------------------------------------------------------------------
# REDCap: a longitudinal project with two arms, a repeating session form, a repeating pain diary and checkboxes
# ---------------------------------------------------------------------------------------------------------------
DICT_HEADER = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
               "Choices, Calculations, OR Slider Labels", "Field Note",
               "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
               "Identifier?", "Branching Logic (Show field only if...)", "Required Field?", "Custom Alignment",
               "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?", "Field Annotation"]


def _dict_row(name, form, ftype, label, choices="", validation="", lo="", hi="", identifier=""):
    row = dict.fromkeys(DICT_HEADER, "")
    row.update({"Variable / Field Name": name, "Form Name": form, "Field Type": ftype, "Field Label": label,
                "Choices, Calculations, OR Slider Labels": choices, "Text Validation Type OR Show Slider Number":
                validation, "Text Validation Min": lo, "Text Validation Max": hi, "Identifier?": identifier})
    return row


REDCAP_DICTIONARY = [
    _dict_row("record_id", "enrolment", "text", "Record ID"),
    _dict_row("dob", "enrolment", "text", "Date of birth", validation="date_ymd", identifier="y"),
    _dict_row("consent_form", "enrolment", "file", "Signed consent (upload)"),
    _dict_row("enrol_note", "enrolment", "descriptive", "Please check eligibility before continuing"),
    _dict_row("sex", "enrolment", "radio", "Sex", choices="1, Female | 2, Male"),
    _dict_row("visit_date", "outcomes", "text", "Visit date", validation="date_ymd"),
    _dict_row("ndi_total", "outcomes", "text", "Neck Disability Index (0-50)", validation="integer", lo="0", hi="50"),
    _dict_row("pain_now", "outcomes", "text", "Pain now (0-10)", validation="number", lo="0", hi="10"),
    _dict_row("session_date", "massage_session", "text", "Session date", validation="date_ymd"),
    _dict_row("technique", "massage_session", "checkbox", "Techniques used",
              choices="1, Swedish massage | 2, Deep tissue | 3, Trigger point"),
    _dict_row("pain_nrs_pre", "massage_session", "text", "Pain before the session", validation="integer",
              lo="0", hi="10"),
    _dict_row("pain_nrs_post", "massage_session", "text", "Pain after the session", validation="integer",
              lo="0", hi="10"),
    _dict_row("diary_date", "pain_diary", "text", "Diary date", validation="date_ymd"),
    _dict_row("diary_pain", "pain_diary", "slider", "Pain today", validation="", lo="0", hi="10"),
]
REDCAP_COLUMNS = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "dob",
                  "consent_form", "sex", "enrolment_complete", "visit_date", "ndi_total", "pain_now",
                  "outcomes_complete", "session_date", "technique___1", "technique___2", "technique___3",
                  "pain_nrs_pre", "pain_nrs_post", "massage_session_complete", "diary_date", "diary_pain",
                  "pain_diary_complete"]


def redcap_longitudinal(rng: np.random.Generator) -> list[dict[str, str]]:
    """8 records, arms 1 (massage) and 2 (usual care), events enrolment/baseline/week 6/month 3."""
    rows: list[dict[str, str]] = []
    start = pd.Timestamp("2025-01-06")
    for rec in range(1, 9):
        arm = 1 if rec <= 4 else 2
        t0 = start + pd.Timedelta(days=int(7 * rec))
        dob = pd.Timestamp("1960-01-01") + pd.Timedelta(days=int(rng.integers(0, 15000)))

        def row(rec: int = rec, **kw: str) -> None:
            r = dict.fromkeys(REDCAP_COLUMNS, "")
            r.update(record_id=str(rec), **kw)
            rows.append(r)

        row(redcap_event_name=f"enrolment_arm_{arm}", dob=dob.strftime("%Y-%m-%d"),
            consent_form=f"consent_{rec}.pdf", sex=str(1 + rec % 2), enrolment_complete="2")
        base = int(rng.integers(12, 30))
        row(redcap_event_name=f"baseline_arm_{arm}", visit_date=t0.strftime("%Y-%m-%d"), ndi_total=str(base),
            pain_now=str(int(rng.integers(4, 9))), outcomes_complete="2")
        if arm == 1:
            for k in range(1, 4):
                pre = int(rng.integers(4, 8))
                ticks = ["1", "0", "0"] if k != 2 else ["1", "1", "0"]
                row(redcap_event_name="treatment_arm_1", redcap_repeat_instrument="massage_session",
                    redcap_repeat_instance=str(k), session_date=(t0 + pd.Timedelta(days=7 * k)).strftime("%Y-%m-%d"),
                    technique___1=ticks[0], technique___2=ticks[1], technique___3=ticks[2],
                    pain_nrs_pre=str(pre), pain_nrs_post=str(max(pre - 2, 0)), massage_session_complete="2")
        for k in range(1, 3):  # a repeating diary on the baseline event: measurements, not sessions
            row(redcap_event_name=f"baseline_arm_{arm}", redcap_repeat_instrument="pain_diary",
                redcap_repeat_instance=str(k), diary_date=(t0 + pd.Timedelta(days=3 * k)).strftime("%Y-%m-%d"),
                diary_pain=str(int(rng.integers(2, 9))), pain_diary_complete="2")
        for event, days in (("week_6", 42), ("month_3", 91)):
            if rec == 8 and event == "month_3":
                continue  # lost to follow-up
            row(redcap_event_name=f"{event}_arm_{arm}",
                visit_date=(t0 + pd.Timedelta(days=days)).strftime("%Y-%m-%d"),
                ndi_total=str(max(base - int(rng.integers(0, 10)) - (4 if arm == 1 else 0), 0)),
                pain_now=str(int(rng.integers(1, 8))), outcomes_complete="2")
    return rows


def redcap_comma(rng: np.random.Generator) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """A classic (non-longitudinal) project whose pain VAS (mm) is validated as number_comma_decimal."""
    dic = [_dict_row("record_id", "visit", "text", "Record ID"),
           _dict_row("group", "visit", "dropdown", "Group", choices="1, Massage | 2, Wait list"),
           _dict_row("visit_date", "visit", "text", "Date", validation="date_dmy"),
           _dict_row("pain_vas", "visit", "text", "Pain VAS (mm)", validation="number_comma_decimal", lo="0",
                     hi="100"),
           _dict_row("hours_sleep", "visit", "text", "Sleep (h)", validation="number_1dp_comma_decimal")]
    recs = [{"record_id": str(i), "group": str(1 + i % 2), "visit_date": f"2025-03-{i + 1:02d}",
             "pain_vas": f"{rng.integers(100, 950) / 10:.1f}".replace(".", ","),
             "hours_sleep": f"{rng.integers(40, 90) / 10:.1f}".replace(".", ",")} for i in range(1, 7)]
    return recs, dic


def _write_csv(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def write_redcap(folder: Path, rng: np.random.Generator) -> None:
    _write_csv(folder / "redcap_longitudinal_records.csv", redcap_longitudinal(rng), REDCAP_COLUMNS)
    _write_csv(folder / "redcap_longitudinal_dictionary.csv", REDCAP_DICTIONARY, DICT_HEADER)
    recs, dic = redcap_comma(rng)
    _write_csv(folder / "redcap_comma_records.csv", recs, list(recs[0]))
    _write_csv(folder / "redcap_comma_dictionary.csv", dic, DICT_HEADER)


# ---------------------------------------------------------------------------------------------------------------
# CDISC ADaM: ADSL + a BDS (ADQS-like pain, ADVS-like range of motion with replicate readings and averages)
# ---------------------------------------------------------------------------------------------------------------
def adam_pair(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """6 subjects at 2 sites; BDS with screening (ADY < 0), baseline (ABLFL), weeks 4 and 8, a LOCF record,
    three ATPT replicate readings of ROM per visit with their DTYPE=AVERAGE record, and an unmapped PARAMCD."""
    subj = [f"MT-{site}-{k:03d}" for site in ("101", "102") for k in (1, 2, 3)]
    adsl = pd.DataFrame({"STUDYID": "MT-NECK-01", "USUBJID": subj, "SUBJID": [s[-3:] for s in subj],
                         "SITEID": [s[3:6] for s in subj],
                         "TRT01P": ["MASSAGE", "USUAL CARE", "MASSAGE", "USUAL CARE", "MASSAGE", "USUAL CARE"],
                         "AGE": rng.integers(25, 70, len(subj)).astype(float), "SEX": ["F", "M", "F", "F", "M", "F"],
                         "ITTFL": "Y"})
    recs = []
    for s in subj:
        for avisit, ady, abl in (("SCREENING", -10, ""), ("BASELINE", 1, "Y"), ("WEEK 4", 29, ""),
                                 ("WEEK 8", 57, "")):
            if not (s.endswith("103") and avisit == "WEEK 8"):
                recs.append({"USUBJID": s, "PARAMCD": "PAINNRS", "PARAM": "Neck pain NRS", "AVISIT": avisit,
                             "ADY": ady, "ABLFL": abl, "ATPT": "", "ATPTN": np.nan,
                             "AVAL": float(rng.integers(1, 9)), "DTYPE": ""})
            if avisit == "SCREENING":
                continue
            readings = rng.integers(30, 80, 3).astype(float)
            for k, r in enumerate(readings, start=1):
                recs.append({"USUBJID": s, "PARAMCD": "ROM", "PARAM": "Cervical rotation (deg)", "AVISIT": avisit,
                             "ADY": ady, "ABLFL": "", "ATPT": f"READING {k}", "ATPTN": float(k), "AVAL": r,
                             "DTYPE": ""})
            recs.append({"USUBJID": s, "PARAMCD": "ROM", "PARAM": "Cervical rotation (deg)", "AVISIT": avisit,
                         "ADY": ady, "ABLFL": abl, "ATPT": "", "ATPTN": np.nan, "AVAL": float(readings.mean()),
                         "DTYPE": "AVERAGE"})
            recs.append({"USUBJID": s, "PARAMCD": "SLEEPQ", "PARAM": "Sleep quality", "AVISIT": avisit,
                         "ADY": ady, "ABLFL": abl, "ATPT": "", "ATPTN": np.nan, "AVAL": float(rng.integers(0, 5)),
                         "DTYPE": ""})
        if s.endswith("103"):  # week 8 carried forward
            recs.append({"USUBJID": s, "PARAMCD": "PAINNRS", "PARAM": "Neck pain NRS", "AVISIT": "WEEK 8",
                         "ADY": 57, "ABLFL": "", "ATPT": "", "ATPTN": np.nan, "AVAL": recs[-6]["AVAL"],
                         "DTYPE": "LOCF"})
    return adsl, pd.DataFrame(recs)


def write_adam(folder: Path, rng: np.random.Generator) -> None:
    adsl, bds = adam_pair(rng)
    adsl.to_csv(folder / "adam_adsl.csv", index=False)
    bds.to_csv(folder / "adam_bds.csv", index=False)


# ---------------------------------------------------------------------------------------------------------------
# SPSS: a wide file with value labels on the arm, on sex, and on the anchors of a 0-10 pain scale
# ---------------------------------------------------------------------------------------------------------------
def spss_wide(rng: np.random.Generator) -> pd.DataFrame:
    n = 10
    frame = pd.DataFrame({"id": np.arange(1, n + 1, dtype=float), "group": np.tile([1.0, 2.0], n // 2),
                          "sex": rng.integers(1, 3, n).astype(float),
                          "pain_nrs_baseline": rng.integers(3, 11, n).astype(float),
                          "pain_nrs_week_6": rng.integers(0, 8, n).astype(float)})
    frame.loc[0, "pain_nrs_baseline"], frame.loc[1, "pain_nrs_week_6"] = 10.0, 0.0  # the labelled anchors
    frame.loc[2, "pain_nrs_week_6"] = np.nan
    return frame


SPSS_LABELS = {"group": {1.0: "Massage", 2.0: "Wait list"}, "sex": {1.0: "female", 2.0: "male"},
               "pain_nrs_baseline": {0.0: "no pain", 10.0: "worst pain imaginable"},
               "pain_nrs_week_6": {0.0: "no pain", 10.0: "worst pain imaginable"}}


def write_spss(folder: Path, rng: np.random.Generator) -> None:
    import pyreadstat

    pyreadstat.write_sav(spss_wide(rng), str(folder / "spss_wide.sav"), variable_value_labels=SPSS_LABELS,
                         column_labels=["Participant", "Group", "Sex", "Pain at baseline (0-10)",
                                        "Pain at week 6 (0-10)"])


# ---------------------------------------------------------------------------------------------------------------
# a published trial's spreadsheet: one row per participant, visit columns named in words, no registry names
# ---------------------------------------------------------------------------------------------------------------
def wide_trial(rng: np.random.Generator) -> pd.DataFrame:
    n = 12
    frame = pd.DataFrame({
        "Participant No.": [f"P{k:02d}" for k in range(1, n + 1)],
        "Allocation": np.tile(["Massage", "Usual care"], n // 2),
        "Age": rng.integers(22, 70, n), "Sex": rng.choice(["F", "M"], n),
        "Date of birth": [f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}" for _ in range(n)],
        "NDI Baseline": rng.integers(10, 35, n).astype(float),
        "NDI 6 weeks": rng.integers(5, 30, n).astype(float),
        "NDI 3 months": rng.integers(3, 30, n).astype(float),
        "Neck pain baseline": rng.integers(3, 10, n).astype(float),
        "Neck pain 6 weeks": rng.integers(0, 8, n).astype(float),
        "Neck pain end of treatment": rng.integers(0, 8, n).astype(float),
    })
    frame.loc[[3, 7], "NDI 3 months"] = np.nan  # lost to follow-up
    frame.loc[5, "Neck pain 6 weeks"] = np.nan
    return frame


# ---------------------------------------------------------------------------------------------------------------
# a long multi-site file whose ids restart at every site, with a time-varying column
# ---------------------------------------------------------------------------------------------------------------
def long_sites(rng: np.random.Generator) -> pd.DataFrame:
    recs = []
    for site in ("North", "South"):
        for pid in range(1, 5):
            group = "Swedish massage" if pid % 2 else "Wait list"
            age = int(rng.integers(30, 60))
            for visit, extra in (("Baseline", 0), ("Week 4", 0), ("Month 3", 1)):
                recs.append({"Site": site, "ID": pid, "Group": group, "Visit": visit, "Measure": "pain_nrs",
                             "Score": int(rng.integers(0, 11)), "Age at visit": age + extra})
    return pd.DataFrame(recs)


def main(folder: Path = HERE) -> None:
    rng = np.random.default_rng(SEED)
    write_redcap(folder, rng)
    write_adam(folder, rng)
    write_spss(folder, rng)
    trial = wide_trial(rng)
    trial.to_csv(folder / "wide_trial.csv", index=False)
    trial.to_excel(folder / "wide_trial.xlsx", index=False)
    long_sites(rng).to_csv(folder / "long_sites.csv", index=False)


if __name__ == "__main__":
    main()

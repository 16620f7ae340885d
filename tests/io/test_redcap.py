"""read_redcap: events, arms, repeating sessions, checkboxes, both dictionary styles, label exports, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io.redcap import DICTIONARY_COLUMNS, parse_choices, read_dictionary

ARMS = {"arms": {1: "therapeutic", 2: "relaxation", 3: "usual_care"}}

HUMAN = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
         "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
         "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
         "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
         "Matrix Ranking?", "Field Annotation"]


def dictionary() -> pd.DataFrame:
    rows = [
        ("record_id", "enrollment", "text", "Record ID", "", "", "", ""),
        ("enroll_date", "enrollment", "text", "Randomization date", "", "date_ymd", "", ""),
        ("age", "enrollment", "text", "Age", "", "integer", "18", "90"),
        ("sex", "enrollment", "radio", "Sex", "1, Female | 2, Male", "", "", ""),
        ("condition", "enrollment", "dropdown", "Condition", "1, Low back pain | 2, Sciatica", "", "", ""),
        ("visit_date", "outcomes", "text", "Visit date", "", "date_ymd", "", ""),
        ("rmdq", "outcomes", "text", "RMDQ", "", "integer", "0", "23"),
        ("pain_nrs", "outcomes", "text", "Pain", "", "integer", "0", "10"),
        ("session_date", "session", "text", "Session date", "", "date_ymd", "", ""),
        ("therapist", "session", "text", "Therapist", "", "", "", ""),
        ("technique", "session", "checkbox", "Technique(s) used",
         "1, Deep tissue | 2, Myofascial release | 5, Swedish massage", "", "", ""),
        ("pain_nrs_pre", "session", "text", "Pain before", "", "integer", "0", "10"),
        ("pain_nrs_post", "session", "text", "Pain after", "", "integer", "0", "10"),
    ]
    out = pd.DataFrame("", index=range(len(rows)), columns=list(DICTIONARY_COLUMNS))
    for i, (name, form, ftype, label, choices, val, lo, hi) in enumerate(rows):
        out.loc[i, ["field_name", "form_name", "field_type", "field_label", "select_choices_or_calculations",
                    "text_validation_type_or_show_slider_number", "text_validation_min", "text_validation_max"]] = [
            name, form, ftype, label, choices, val, lo, hi]
    out.loc[out["field_name"].isin(["enroll_date", "visit_date", "session_date"]), "identifier"] = "y"
    return out


COLS = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "enroll_date",
        "age", "sex", "condition", "enrollment_complete", "visit_date", "rmdq", "pain_nrs", "outcomes_complete",
        "session_date", "therapist", "technique___1", "technique___2", "technique___5", "pain_nrs_pre",
        "pain_nrs_post", "session_complete"]


def records() -> pd.DataFrame:
    r = []

    def row(**kw):
        r.append({c: kw.get(c, "") for c in COLS})

    # subject 1: arm 1, two sessions (myofascial release), baseline + week 10
    row(record_id="1", redcap_event_name="baseline_arm_1", enroll_date="2024-03-01", age="50", sex="1",
        condition="1", enrollment_complete="2", visit_date="2024-03-01", rmdq="12", pain_nrs="6", outcomes_complete="2")
    row(record_id="1", redcap_event_name="treatment_arm_1", redcap_repeat_instrument="session",
        redcap_repeat_instance="1", session_date="2024-03-08", therapist="TH1", technique___1="0", technique___2="1",
        technique___5="0", pain_nrs_pre="6", pain_nrs_post="4", session_complete="2")
    row(record_id="1", redcap_event_name="treatment_arm_1", redcap_repeat_instrument="session",
        redcap_repeat_instance="2", session_date="2024-03-15", therapist="TH1", technique___1="0", technique___2="1",
        technique___5="0", pain_nrs_pre="5", pain_nrs_post="3", session_complete="2")
    row(record_id="1", redcap_event_name="week_10_arm_1", visit_date="2024-05-12", rmdq="7", pain_nrs="3",
        outcomes_complete="2")
    # subject 2: arm 3 (usual care), no sessions
    row(record_id="2", redcap_event_name="baseline_arm_3", enroll_date="2024-04-02", age="41", sex="2",
        condition="1", enrollment_complete="2", visit_date="2024-04-02", rmdq="15", pain_nrs="7", outcomes_complete="2")
    row(record_id="2", redcap_event_name="week_10_arm_3", visit_date="2024-06-11", rmdq="13", pain_nrs="6",
        outcomes_complete="2")
    return pd.DataFrame(r, columns=COLS)


def write(tmp_path, rec: pd.DataFrame, dic: pd.DataFrame, *, human: bool = False):
    rp, dp = tmp_path / "records.csv", tmp_path / "dictionary.csv"
    rec.to_csv(rp, index=False)
    if human:
        dic = dic.set_axis(HUMAN, axis=1)
    dic.to_csv(dp, index=False)
    return rp, dp


# ---------------------------------------------------------------------------------------------------------------
def test_basic_export(tmp_path):
    ds = mo.read_redcap(*write(tmp_path, records(), dictionary()), mapping=ARMS, study="T")
    s = ds.subjects.set_index("subject")
    assert s.loc["1", "arm"] == "therapeutic" and s.loc["2", "arm"] == "usual_care"
    assert s.loc["1", "sex"] == "Female" and s.loc["1", "age"] == 50
    assert str(s.loc["1", "condition"]) == "low_back_pain"
    assert str(s.loc["1", "technique"]) == "myofascial_release" and str(s.loc["2", "technique"]) == "none" or \
        pd.isna(s.loc["2", "technique"])  # 'none' depends on the generic reader keeping the term
    assert "enroll_date" not in ds.subjects.columns  # identifiers never become covariates
    o = ds.outcomes
    one = o[o["subject"] == "1"]
    # days from dates relative to the baseline date: 2024-03-01 -> 2024-05-12 is 72 days
    assert one.loc[(one["instrument"] == "rmdq") & (one["timing"] == "followup"), "day"].tolist() == [72.0]
    assert one.loc[(one["instrument"] == "rmdq") & (one["timing"] == "baseline"), "visit"].astype(str).tolist() == [
        "baseline"]
    assert one.loc[(one["timing"] == "pre") & (one["session"] == 2), "day"].tolist() == [14.0]
    se = ds.sessions
    assert se["session"].tolist() == [1, 2] and se["therapist"].tolist() == ["TH1", "TH1"]
    assert se["day"].tolist() == [7.0, 14.0] and se["intent"].astype(str).tolist() == ["therapeutic"] * 2
    assert ds.source["format"] == "redcap" and ds.source["rows_rejected"] == 0


def test_both_dictionary_header_styles_give_the_same_dataset(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    a = mo.read_redcap(*write(tmp_path / "a", records(), dictionary()), mapping=ARMS)
    b = mo.read_redcap(*write(tmp_path / "b", records(), dictionary(), human=True), mapping=ARMS)
    for t in ("subjects", "sessions", "outcomes"):
        pd.testing.assert_frame_equal(getattr(a, t), getattr(b, t))
    assert read_dictionary(tmp_path / "b" / "dictionary.csv").columns.tolist() == list(DICTIONARY_COLUMNS)


def test_label_export_with_label_headers(tmp_path):
    raw = records()
    lab = raw.copy()
    lab["redcap_event_name"] = lab["redcap_event_name"].map({
        "baseline_arm_1": "Baseline (Arm 1: Therapeutic)", "treatment_arm_1": "Treatment (Arm 1: Therapeutic)",
        "week_10_arm_1": "Week 10 (Arm 1: Therapeutic)", "baseline_arm_3": "Baseline (Arm 3: Usual care)",
        "week_10_arm_3": "Week 10 (Arm 3: Usual care)"})
    lab["redcap_repeat_instrument"] = lab["redcap_repeat_instrument"].replace("session", "Session")
    lab["sex"] = lab["sex"].map({"1": "Female", "2": "Male", "": ""})
    lab["condition"] = lab["condition"].map({"1": "Low back pain", "": ""})
    for c in ("technique___1", "technique___2", "technique___5"):
        lab[c] = lab[c].map({"1": "Checked", "0": "Unchecked", "": ""})
    lab = lab.rename(columns={"record_id": "Record ID", "redcap_event_name": "Event Name",
                              "redcap_repeat_instrument": "Repeat Instrument",
                              "redcap_repeat_instance": "Repeat Instance", "age": "Age", "sex": "Sex",
                              "technique___2": "Technique(s) used (choice=Myofascial release)"})
    ds = mo.read_redcap(*write(tmp_path, lab, dictionary()))  # arm names come from the labels
    ref = mo.read_redcap(*write(tmp_path, raw, dictionary()), mapping={"arms": {1: "therapeutic", 3: "usual_care"}})
    assert sorted(ds.subjects["arm"]) == ["therapeutic", "usual_care"]
    for t in ("sessions", "outcomes"):
        pd.testing.assert_frame_equal(getattr(ds, t), getattr(ref, t))
    assert ds.subjects["age"].tolist() == ref.subjects["age"].tolist()


def test_arm_without_mapping_is_named_by_number(tmp_path):
    ds = mo.read_redcap(*write(tmp_path, records(), dictionary()))
    assert sorted(ds.subjects["arm"]) == ["arm_1", "arm_3"]


def test_repeating_event_gives_sessions(tmp_path):
    rec = records()
    rec["redcap_repeat_instrument"] = ""  # repeating event: instance only
    ds = mo.read_redcap(*write(tmp_path, rec, dictionary()), mapping=ARMS)
    assert ds.sessions["session"].tolist() == [1, 2] and ds.sessions["day"].tolist() == [7.0, 14.0]


def test_without_dates_days_come_from_event_names(tmp_path):
    rec = records()
    rec = rec[rec["redcap_repeat_instance"] == ""].drop(columns=["enroll_date", "visit_date", "session_date"])
    dic = dictionary()
    dic = dic[~dic["field_name"].isin(["enroll_date", "visit_date", "session_date"])]
    ds = mo.read_redcap(*write(tmp_path, rec, dic), mapping=ARMS)
    o = ds.outcomes
    assert o.loc[o["timing"] == "followup", "day"].unique().tolist() == [70.0]  # week_10


def test_several_techniques_ticked_is_other_and_dag_is_clinic(tmp_path):
    rec = records()
    rec.loc[1, "technique___5"] = "1"
    rec.insert(4, "redcap_data_access_group", np.where(rec["record_id"] == "1", "north", "south"))
    ds = mo.read_redcap(*write(tmp_path, rec, dictionary()), mapping=ARMS)
    assert ds.sessions["technique"].astype(str).tolist() == ["other", "myofascial_release"]
    assert ds.subjects.set_index("subject")["clinic"].to_dict() == {"1": "north", "2": "south"}


def test_custom_field_names_through_mapping(tmp_path):
    rec = records().rename(columns={"rmdq": "roland", "pain_nrs_pre": "nrs_before"})
    dic = dictionary()
    dic["field_name"] = dic["field_name"].replace({"rmdq": "roland", "pain_nrs_pre": "nrs_before"})
    ds = mo.read_redcap(*write(tmp_path, rec, dic),
                        mapping={**ARMS, "instruments": {"roland": "rmdq", "nrs_before": ("pain_nrs", "pre")}})
    assert ds.outcomes.groupby(["instrument", "timing"], observed=True).size().to_dict() == {
        ("pain_nrs", "baseline"): 2, ("pain_nrs", "pre"): 2, ("pain_nrs", "post"): 2, ("pain_nrs", "followup"): 2,
        ("rmdq", "baseline"): 2, ("rmdq", "followup"): 2}


# ---------------------------------------------------------------------------------------------------------------
# problems: named by file row and REDCap field, raised or quarantined, nothing lost
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("row, field, value, rule", [
    (2, "rmdq", "24", "out_of_range"),             # inside RMDQ-24 but outside the dictionary's 0-23
    (4, "pain_nrs_post", "11", "out_of_range"),    # outside the instrument's 0-10
    (5, "pain_nrs", "7/10", "not_a_number"),
    (2, "visit_date", "2024-13-45", "bad_date"),
    (3, "technique___2", "maybe", "unknown_term"),
])
def test_problems_name_row_and_field(tmp_path, row, field, value, rule):
    rec = records()
    rec.loc[row - 2, field] = value  # file row = position + 2 (header is row 1)
    paths = write(tmp_path, rec, dictionary())
    with pytest.raises(mo.DataValidationError) as err:
        mo.read_redcap(*paths, mapping=ARMS)
    prob = err.value.report.to_frame()
    hit = prob[(prob["row"] == row) & (prob["column"] == field) & (prob["rule"] == rule)]
    assert len(hit) == 1, prob
    assert f"row {row}" in str(err.value)
    ds = mo.read_redcap(*paths, mapping=ARMS, on_error="quarantine")
    clean = mo.read_redcap(*write(tmp_path, records(), dictionary()), mapping=ARMS)
    assert ds.source["rows_read"] == ds.source["rows_kept"] + ds.source["rows_rejected"]
    assert ds.source["rows_read"] == clean.source["rows_read"]
    assert len(ds.rejected) >= 1 and set(ds.rejected["row"]) == {row}


def test_whole_file_problems(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(mo.DataValidationError, match="empty"):
        mo.read_redcap(tmp_path / "empty.csv", dictionary())
    (tmp_path / "header.csv").write_text(",".join(COLS) + "\n")
    with pytest.raises(mo.DataValidationError, match="no records"):
        mo.read_redcap(tmp_path / "header.csv", dictionary())
    with pytest.raises(mo.DataValidationError, match="not a REDCap data dictionary"):
        mo.read_redcap(records(), pd.DataFrame({"name": ["x"]}))
    with pytest.raises(mo.DataValidationError, match="is on a session"):
        bad = records()
        bad.loc[1, "rmdq"] = "5"
        mo.read_redcap(bad, dictionary(), mapping=ARMS)
    with pytest.raises(mo.DataValidationError, match="no outcome fields"):
        mo.read_redcap(records()[["record_id", "redcap_event_name", "age"]], dictionary())
    with pytest.raises(ValueError, match="on_error"):
        mo.read_redcap(records(), dictionary(), on_error="ignore")


def test_without_dictionary_warns_and_keeps_codes():
    with pytest.warns(UserWarning, match="without a data dictionary"):
        ds = mo.read_redcap(records().drop(columns=["technique___1", "technique___2", "technique___5", "condition"]),
                            None,
                            mapping=ARMS)
    assert ds.subjects["sex"].tolist() == ["1", "2"]


def test_slider_defaults_to_0_100():
    dic = dictionary()
    dic.loc[dic["field_name"] == "pain_nrs", ["field_type", "text_validation_type_or_show_slider_number",
                                               "text_validation_min", "text_validation_max"]] = ["slider", "", "", ""]
    dic.loc[dic["field_name"] == "pain_nrs", "field_name"] = "pain_vas"
    rec = records().rename(columns={"pain_nrs": "pain_vas"})
    rec.loc[0, "pain_vas"] = "64"
    ds = mo.read_redcap(rec, dic, mapping=ARMS)
    assert 64.0 in ds.outcomes.loc[ds.outcomes["instrument"] == "pain_vas", "value"].tolist()


def test_parse_choices_edge_cases():
    assert parse_choices("") == {}
    assert parse_choices("0, No | 1, Yes, definitely") == {"0": "No", "1": "Yes, definitely"}


# ---------------------------------------------------------------------------------------------------------------
# property: any simulated trial, exported the way the bundled sample is, reads back unchanged
# ---------------------------------------------------------------------------------------------------------------
def _sample_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "make_sample_data.py"
    spec = importlib.util.spec_from_file_location("make_sample_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 2), corrupt=st.integers(0, 10**6))
def test_any_simulated_trial_round_trips_through_a_redcap_export(seed, n, corrupt):
    script = _sample_script()
    sim = mo.simulate_trial(n, seed=seed)
    rec, dic = script.redcap_records(sim, seed=seed), script.redcap_dictionary()
    ds = mo.read_redcap(rec, dic, mapping=ARMS, study=sim.truth["design"]["study"])
    key = ["study", "subject", "instrument", "day", "timing", "session"]

    def norm(f):
        out = f.sort_values(key).reset_index(drop=True)
        return out.astype(object).where(out.notna(), None)

    pd.testing.assert_frame_equal(norm(ds.outcomes), norm(sim.outcomes), check_dtype=False)
    assert len(ds.sessions) == len(sim.sessions)
    # one corrupted outcome cell is reported with its file row and field, and quarantined alone
    cells = [(i, c) for c in ("rmdq", "pain_nrs", "pain_nrs_pre") for i in np.flatnonzero(rec[c].to_numpy() != "")]
    i, c = cells[corrupt % len(cells)]
    bad = rec.copy()
    bad.loc[i, c] = "n/k"
    with pytest.raises(mo.DataValidationError) as err:
        mo.read_redcap(bad, dic, mapping=ARMS)
    prob = err.value.report.to_frame()
    assert prob[["row", "column"]].drop_duplicates().values.tolist() == [[i, c]]  # frame rows are index labels
    q = mo.read_redcap(bad, dic, mapping=ARMS, on_error="quarantine")
    assert len(q.outcomes) == len(ds.outcomes) - 1 and q.rejected["row"].tolist() == [i]

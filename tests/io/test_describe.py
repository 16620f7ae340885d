"""describe -> reviewed plan -> read (issue 10 items 1-4) on the realistic corpus: each file loads with the plan
unedited or with only its TODOs answered; rows and cells accounted for; spot values against pandas/pyreadstat."""

from __future__ import annotations

import json

import pandas as pd
import pyreadstat
import pytest
from real_like import write_corpus

import massage_outcomes as mo
from massage_outcomes.errors import ArgumentError
from massage_outcomes.io.plan import ReadPlan


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("real_like"))


def _answer(plan, **answers):
    """Answer the plan's TODOs as a researcher would, by the dotted keys todos() names."""
    for where, value in answers.items():
        node = plan
        *path, last = where.split("/")
        for key in path:
            node = node[key]
        node[last] = value
    assert plan.todos() == []
    return plan


def test_wide_trial_csv_and_excel(corpus, tmp_path):
    plan = mo.describe(corpus / "wide_trial.csv")
    assert plan["subject"] == "Participant No." and plan["drop"] == ["Date of birth"]
    assert plan["measurements"]["NDI 3 months"] == {"instrument": "ndi", "visit": "month_3", "day": 91,
                                                    "timing": "followup"}
    assert plan["instruments"]["neck_pain"]["range"] == [0, 9]
    todos = plan.todos()
    assert len(todos) == 3 and any("end of treatment" in t for t in todos)
    with pytest.raises(ArgumentError, match="3 unanswered questions"):
        mo.read(corpus / "wide_trial.csv", mapping=plan)
    _answer(plan, **{"instruments/neck_pain/direction": "lower", "instruments/neck_pain/range": [0, 10],
                     "arm/intent/Massage": "therapeutic",
                     "measurements/Neck pain end of treatment/day": 70})
    path = tmp_path / "plan.yaml"
    plan.to_yaml(path)
    raw = pd.read_csv(corpus / "wide_trial.csv")
    cols = list(plan["measurements"])
    for source in (corpus / "wide_trial.csv", corpus / "wide_trial.xlsx"):
        ds = mo.read(source, mapping=str(path))
        cells = raw[cols].size
        assert ds.source["rows_read"] + ds.source["empty_cells"] == cells
        assert ds.source["rows_read"] == ds.source["rows_kept"] == int(raw[cols].notna().sum().sum())
        assert "Date of birth" not in ds.subjects.columns and "date_of_birth" not in ds.subjects.columns
        ndi = ds.outcomes[(ds.outcomes["instrument"] == "ndi") & (ds.outcomes["visit"] == "month_3")]
        assert ndi["value"].tolist() == raw["NDI 3 months"].dropna().tolist()
        assert set(ds.subjects["intent"].astype(str)) == {"therapeutic", "control"}
        assert ds.source["study_instruments"] == ["neck_pain"]
    assert mo.instruments.get("neck_pain").direction == "lower"


def test_long_file_with_ids_repeating_across_sites(corpus):
    plan = mo.describe(corpus / "long_sites.csv")
    assert plan["subject"] == ["Site", "ID"] and plan["time_varying"] == ["Age at visit"]
    assert plan["visits"] == {"Baseline": 0, "Week 4": 28, "Month 3": 91} and plan.todos() == []
    ds = mo.read(corpus / "long_sites.csv", mapping=plan)  # unedited
    raw = pd.read_csv(corpus / "long_sites.csv")
    assert ds.source["rows_read"] == len(raw) == ds.source["rows_kept"]
    assert len(ds.subjects) == 8 and "North-1" in set(ds.subjects["subject"])
    got = ds.outcomes.loc[(ds.outcomes["subject"] == "South-3") & (ds.outcomes["day"] == 91), "value"]
    want = raw.loc[(raw["Site"] == "South") & (raw["ID"] == 3) & (raw["Visit"] == "Month 3"), "Score"]
    assert got.tolist() == want.astype(float).tolist()
    assert ds.outcomes["Age at visit"].notna().all() if "Age at visit" in ds.outcomes else \
        ds.outcomes["age_at_visit"].notna().all()
    assert set(ds.subjects["intent"].astype(str)) == {"relaxation", "control"}


def test_spss_file_with_labelled_arm_and_anchors(corpus):
    plan = mo.describe(corpus / "spss_wide.sav")
    assert plan["arm"]["values"] == {1: "Massage", 2: "Wait list"}
    _answer(plan, **{"arm/intent/Massage": "therapeutic"})
    ds = mo.read(corpus / "spss_wide.sav", mapping=plan)
    raw, _ = pyreadstat.read_sav(str(corpus / "spss_wide.sav"))
    assert ds.outcomes.loc[ds.outcomes["visit"] == "baseline", "value"].tolist() == raw["pain_nrs_baseline"].tolist()
    assert set(ds.subjects["arm"]) == {"Massage", "Wait list"}


def test_a_plan_round_trips_through_yaml_and_json(corpus, tmp_path):
    plan = mo.describe(corpus / "wide_trial.csv")
    for name in ("p.yaml", "p.json"):
        path = tmp_path / name
        (plan.to_yaml if name.endswith("yaml") else plan.to_json)(path)
        assert ReadPlan.from_file(path) == plan
    assert json.loads(plan.to_json())["subject"] == "row" or plan["subject"]
    assert "# measurements: wide layout" in plan.to_yaml()


def test_plan_errors_name_the_key(corpus):
    with pytest.raises(ArgumentError, match="did you mean 'measurements'"):
        ReadPlan({"measurments": {}})
    plan = ReadPlan({"subject": "Participant", "layout": "wide"})
    with pytest.raises(ArgumentError, match="Did you mean 'Participant No.'"):
        mo.read(corpus / "wide_trial.csv", mapping=plan)


def test_readers_take_dataframes():
    f = pd.DataFrame({"pid": [1, 1], "Group": ["A", "A"], "instrument": "rmdq", "day": [0, 70], "score": [12, 30]},
                     index=[10, 11])
    ds = mo.read(f, mapping={"pid": "subject"}, on_error="quarantine")
    assert ds.source["rows_read"] == 2 and ds.rejected["row"].tolist() == [11]
    assert ds.source["file"] == "the DataFrame"


def test_a_first_read_of_a_wide_export_names_the_describe_command(corpus):
    with pytest.raises(mo.DataValidationError) as info:
        mo.read(corpus / "wide_trial.csv")
    text = str(info.value)
    assert f"massage-outcomes describe {corpus / 'wide_trial.csv'} > plan.yaml" in text
    assert "layout='wide'" in text and "wide=" in text


def test_cli_describe_prints_a_plan_that_reads(corpus, tmp_path, capsys):
    from massage_outcomes.cli import main

    assert main(["describe", str(corpus / "long_sites.csv")]) == 0
    out = capsys.readouterr().out
    (tmp_path / "plan.yaml").write_text(out, encoding="utf-8")
    assert main(["validate", str(corpus / "long_sites.csv"), "--mapping", str(tmp_path / "plan.yaml")]) == 0
    assert "no problems" in capsys.readouterr().out
    assert main(["describe", str(corpus / "wide_trial.csv"), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["layout"] == "wide" and "TODOs to answer" in captured.err
    assert main(["describe", str(tmp_path / "nope.csv")]) == 2


def test_redcap_pair_describe_then_read(corpus, tmp_path):
    import warnings

    records, dictionary = corpus / "redcap_longitudinal_records.csv", corpus / "redcap_longitudinal_dictionary.csv"
    plan = mo.describe(records, dictionary=dictionary)
    assert plan["fields"]["ndi_total"] == "ndi" and plan["arms"] == {1: "arm_1", 2: "arm_2"}
    assert plan["instruments"]["pain_now"]["range"] == [0, 10]  # the dictionary's validation min/max
    assert any("dob" in n and "consent_form" in n for n in plan["notes"])
    with pytest.raises(ArgumentError, match="unanswered"):
        mo.read_redcap(records, dictionary, mapping=plan)
    for key in plan["instruments"]:
        plan["instruments"][key]["direction"] = "lower"
    plan["arms"] = {1: "massage", 2: "usual_care"}
    plan.to_yaml(tmp_path / "redcap.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = mo.read_redcap(records, dictionary, mapping=str(tmp_path / "redcap.yaml"))
    raw = pd.read_csv(records, dtype=str)
    cells = int(raw[["ndi_total", "pain_now", "pain_nrs_pre", "pain_nrs_post", "diary_pain"]].notna().sum().sum())
    assert ds.source["rows_read"] == cells == ds.source["rows_kept"]
    assert set(ds.instruments) == {"ndi", "pain_now", "diary_pain", "pain_nrs"}
    assert set(ds.subjects["arm"]) == {"massage", "usual_care"}


def test_adam_pair_describe_then_read(corpus):
    import warnings

    plan = mo.describe(corpus / "adam_adsl.csv", bds=corpus / "adam_bds.csv")
    assert plan["params"] == ["PAINNRS", "ROM"] and plan["derived"] == "prefer" and plan.todos() == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = mo.read_adam(corpus / "adam_adsl.csv", corpus / "adam_bds.csv", mapping=plan)  # unedited
    src = ds.source
    assert src["bds_records"] == src["rows_read"] + sum(src["skipped"].values())
    assert src["skipped"]["params"] == int((pd.read_csv(corpus / "adam_bds.csv")["PARAMCD"] == "SLEEPQ").sum())
    assert set(ds.instruments) == {"pain_nrs", "rom"} and src["rows_rejected"] == 0


def test_cli_describe_takes_a_redcap_dictionary(corpus, capsys):
    from massage_outcomes.cli import main

    code = main(["describe", str(corpus / "redcap_longitudinal_records.csv"), "--dictionary",
                 str(corpus / "redcap_longitudinal_dictionary.csv")])
    captured = capsys.readouterr()
    assert code == 0 and "fields:" in captured.out and "ndi_total: ndi" in captured.out
    assert "TODO" in captured.err
    assert main(["describe", str(corpus / "adam_adsl.csv"), "--bds", str(corpus / "nope.csv")]) == 2

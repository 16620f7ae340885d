"""Tables for the paper (paper.py): tableone's standardized differences, the outcomes and sensitivity tables."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError
from massage_outcomes.paper import (
    format_interval,
    outcomes_table,
    sensitivity_table,
    standardized_differences,
)

sys.path.insert(0, str(Path(__file__).parent / "reference" / "paper"))
from tableone_smd import frame as tableone_frame  # noqa: E402

# tests/reference/paper/tableone_smd.out (Python tableone 0.9.6, absolute values), pairs in tableone's order
TABLEONE = {  # variable: (relaxation vs therapeutic, usual_care vs therapeutic, usual_care vs relaxation)
    "age": (0.189350385784, 0.678290068406, 0.779279149349),
    "sex": (0.138675049056, 0.068599434057, 0.069928360128),
    "site_complete": (0.112154430818, 0.029934217004, 0.134030891444),
    "site_missing_level": (0.394771016976, 0.156173761889, 0.295321101449),
}
PAIRS = ["smd_relaxation_vs_therapeutic", "smd_usual_care_vs_therapeutic", "smd_usual_care_vs_relaxation"]


def _dataset(f: pd.DataFrame) -> mo.Dataset:
    f = f.assign(subject=[f"s{i}" for i in range(len(f))])
    out = pd.DataFrame({"subject": f["subject"], "instrument": "rmdq", "day": 0.0, "timing": "baseline",
                        "value": np.linspace(4, 20, len(f))})
    return mo.Dataset(f.drop(columns=[]), None, out)


def test_smd_matches_tableone():
    f = tableone_frame()
    got = standardized_differences(_dataset(f), instruments=[]).set_index("variable")
    for var in ("age", "sex"):
        assert got.loc[var, PAIRS].to_numpy(dtype=float) == pytest.approx(TABLEONE[var], abs=1e-11)
    # missing values left out (R tableone's includeNA = FALSE) ...
    assert got.loc["site", PAIRS].to_numpy(dtype=float) == pytest.approx(TABLEONE["site_complete"], abs=1e-11)
    # ... and, with missing as a level, Python tableone's default
    g = standardized_differences(_dataset(f.assign(site=f["site"].fillna("MISSING"))), instruments=[])
    assert g.set_index("variable").loc["site", PAIRS].to_numpy(dtype=float) == \
        pytest.approx(TABLEONE["site_missing_level"], abs=1e-11)
    assert got.loc["age", "smd"] == pytest.approx(np.mean(TABLEONE["age"]), abs=1e-11)  # the average of pairs


def test_smd_by_hand_on_the_sample_trial():
    ds = mo.load_sample("trial")
    smd = standardized_differences(ds).set_index("variable")
    s = ds.subjects
    t, r = s[s["arm"] == "therapeutic"], s[s["arm"] == "relaxation"]
    hand = abs(r["age"].mean() - t["age"].mean()) / np.sqrt((r["age"].var() + t["age"].var()) / 2)
    assert smd.loc["age", "smd_relaxation_vs_therapeutic"] == pytest.approx(hand, rel=1e-12)
    p1, p2 = (r["sex"] == "male").mean(), (t["sex"] == "male").mean()
    hand = abs(p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert smd.loc["sex", "smd_relaxation_vs_therapeutic"] == pytest.approx(hand, rel=1e-12)
    assert smd.loc["rmdq", "kind"] == "numeric"
    with pytest.raises(ValueError, match="by="):
        standardized_differences(ds, by="nope")


@pytest.fixture(scope="module")
def mmrm_contrasts():
    ds = mo.load_sample("trial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mo.fit_mmrm(ds, instrument="rmdq", visit="visit", group="arm", adjust_baseline=True)
    spec = ["therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"]
    return ds, fit.contrasts(spec)


def test_outcomes_table_shows_the_models_numbers(mmrm_contrasts):
    ds, c = mmrm_contrasts
    resp = pd.concat([mo.responders(ds, instrument="rmdq", threshold="mcid", compare=("arm", a, b))
                      .assign(instrument="rmdq", threshold_spec="mcid")
                      for a, b in [("therapeutic", "relaxation"), ("therapeutic", "usual_care"),
                                   ("relaxation", "usual_care")]], ignore_index=True)
    t = outcomes_table(ds, contrasts=c, responders=resp, instrument="rmdq")
    assert t.columns.nlevels == 2
    assert list(t[("", "visit")]) == ["baseline", "week 4", "week 10", "week 26", "responders ≥5 points (MCID)"]
    summ = ds.summary()
    row = summ[(summ["instrument"] == "rmdq") & (summ["arm"] == "usual_care") & (summ["visit"] == "week_26")].iloc[0]
    w26 = t[t[("", "visit")] == "week 26"].iloc[0]
    assert w26[("usual care", "mean (SD)")] == f"{row['mean']:.1f} ({row['sd']:.1f})"
    assert w26[("usual care", "n")] == str(int(row["n_subjects"]))
    got = c[(c["contrast"] == "therapeutic - usual_care") & (c["visit"] == "week_26")].iloc[0]
    assert w26[("difference [95% CI]", "therapeutic − usual care")] == \
        format_interval(got["estimate"], got["ci_low"], got["ci_high"])
    assert t.iloc[0][("difference [95% CI]", "therapeutic − usual care")] == ""  # none at baseline
    last = t.iloc[-1]
    q = resp[(resp["arm_1"] == "therapeutic") & (resp["arm_2"] == "usual_care")].iloc[0]
    assert last[("therapeutic", "mean (SD)")].startswith(f"{int(q['responders_1'])}/{int(q['n_1'])} ")
    assert last[("difference [95% CI]", "therapeutic − usual care")] == (
        f"RR {format_interval(q['risk_ratio'], q['risk_ratio_ci_low'], q['risk_ratio_ci_high'])}; {q['nnt_label']}")


def test_sensitivity_table_takes_the_tidy_shape(mmrm_contrasts):
    _ds, c = mmrm_contrasts
    res = c.assign(analysis="jump to reference (J2R)", estimate=c["estimate"] + 0.3)
    t = sensitivity_table(res, primary=c)
    assert len(t) == 2 * len(c)
    first = t.iloc[:2]
    assert first["analysis"].tolist() == ["primary analysis", "jump to reference (J2R)"]
    assert first["contrast"].nunique() == 1 and first["visit"].nunique() == 1
    row = c.iloc[0]
    assert first.iloc[0]["difference [95% CI]"] == format_interval(row["estimate"], row["ci_low"], row["ci_high"])
    with pytest.raises(DataValidationError, match="missing \\['se'"):
        sensitivity_table(res.drop(columns="se"))


def test_table1_smd_column_labels_and_units():
    from massage_outcomes.tables import baseline_table

    ds = mo.load_sample("trial")
    t1 = baseline_table(ds, smd=True, units={"age": "years"}, labels={"sex": "sex at birth"})
    smd = standardized_differences(ds).set_index("variable")["smd"]
    first = t1.drop_duplicates("characteristic").set_index("characteristic")["SMD"]
    assert first["age, years"] == f"{smd['age']:.2f}"
    assert first["sex at birth"] == f"{smd['sex']:.2f}"
    rmdq = [c for c in first.index if c.startswith("Roland-Morris")][0]
    assert first[rmdq] == f"{smd['rmdq']:.2f}" and "0–24 points, lower is better" in rmdq
    assert (t1.loc[t1["characteristic"] == "sex at birth", "SMD"].tolist() == [f"{smd['sex']:.2f}", ""])
    assert first["allocated technique"] == "" and first["intent"] == ""  # fixed by the allocation
    ds.source["units"] = {"age": "y"}  # a reader's plan can carry them
    assert (baseline_table(ds)["characteristic"] == "age, y").any()

"""The report says what its tables say: key results tested for content, intervals named, titles true to the data."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import narrative, report, tables


@pytest.fixture(scope="module")
def trial_tables():
    ds = mo.simulate_trial(n_per_arm=30, seed=7)  # smaller than the sample: the same sections, faster fits
    return ds, tables.summary_tables(ds, instruments=["rmdq"], primary_visit="week_10")


def test_the_sample_declares_its_primary_visit():
    """issue 17.5: one primary visit (the report used week_26, notebook 01 week_10), read from study.json."""
    assert tables.primary_visit_info(mo.load_sample("trial")) == ("week_10", "study.json beside the data")
    sim = mo.simulate_trial(n_per_arm=5, seed=1)  # no file, no plan: the default, and it says so
    visit, source = tables.primary_visit_info(sim)
    assert visit == "week_26" and source.startswith("the last follow-up visit")


def _numbers(text: str) -> list[float]:
    return [float(x.replace("−", "-")) for x in re.findall(r"[−+-]?\d+\.\d+", text)]


def test_key_results_state_the_numbers_of_their_tables(trial_tables):
    """issue 17.1: the report's conclusions are checked for content, not only for running."""
    ds, tabs = trial_tables
    visit = "week_10"
    lines = report.key_results(tabs, primary_visit=visit)
    assert lines and not any("nan" in line.lower() or "0 of 0" in line for line in lines)
    mm = tabs["mmrm"][tabs["mmrm"]["visit"].astype(str) == visit]
    mm_lines = [line for line in lines if "MMRM" in line]
    assert len(mm_lines) == len(mm) == 3
    for (_, row), line in zip(mm.iterrows(), mm_lines, strict=True):
        assert row["contrast"].replace(" - ", " − ") in line and f"at {visit}" in line
        est, lo, hi = _numbers(line)[:3]
        assert (est, lo, hi) == tuple(round(float(row[c]), 1) for c in ("estimate", "ci_low", "ci_high"))
        assert "95% CI, unadjusted" in line and "Holm-adjusted p" in line
        assert narrative.p_text(row["p_value"]) in line
    g = tabs["effects_between_arms"]
    g = g[(g["on"] == "ancova") & (g["measure"] == "ancova_hedges_g")]
    g_lines = [line for line in lines if "Hedges' g" in line]
    assert len(g_lines) == len(g)
    for (_, row), line in zip(g.iterrows(), g_lines, strict=True):
        assert _numbers(line)[:3] == [round(float(row[c]), 2) for c in ("estimate", "ci_low", "ci_high")]
        assert line.endswith(row["favours"])
    r = tabs["responders"]
    r = r[r["threshold_spec"] == "mcid"]
    r_lines = [line for line in lines if "Responders" in line]
    assert len(r_lines) == len(r)
    for (_, row), line in zip(r.iterrows(), r_lines, strict=True):
        assert f"{row['rate_1']:.0%} versus {row['rate_2']:.0%}" in line and row["nnt_label"] in line


def test_unreliable_rows_are_named_not_stated(trial_tables):
    _, tabs = trial_tables
    broken = {k: v.copy() for k, v in tabs.items()}
    broken["mmrm"].loc[:, "reliable"] = False
    broken["mmrm"].loc[:, "note"] = "model did not converge"
    lines = report.key_results(broken, primary_visit="week_10")
    mm = [line for line in lines if "MMRM" in line]
    assert mm and all("not reported as a result (model did not converge)" in line for line in mm)


def test_html_names_the_intervals_and_the_split_of_table_1(trial_tables):
    ds, tabs = trial_tables
    page = report.render_html(ds, tabs, {}, key_results=report.key_results(tabs, primary_visit="week_10"))
    assert "Key results" in page and "Table 1. Baseline characteristics by arm" in page
    assert "Unadjusted 95% confidence intervals and p-values, with Holm-adjusted p-values" in page
    clinic = mo.load_sample("clinic")
    t1 = tables.baseline_table(clinic)
    assert report.table_title("table1_baseline", t1) == "Table 1. Baseline characteristics by intent"  # 17.11


def test_captions_say_which_interval_a_table_shows():
    frame = pd.DataFrame({"estimate": [1.0], "ci_low": [0.0], "ci_high": [2.0], "level": [0.95], "adjust": ["tukey"],
                          "sci_low": [-0.5], "sci_high": [2.5], "reliable": [True], "note": [""]})
    cap = report.table_caption("mmrm", frame)
    assert "Tukey simultaneous 95% intervals (sci_low, sci_high)" in cap and cap.startswith("Unadjusted 95%")

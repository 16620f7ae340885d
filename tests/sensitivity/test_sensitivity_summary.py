"""Dropout events, the stacked sensitivity analyses, and the report's sensitivity section and estimand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import report, tables
from massage_outcomes.paper import sensitivity_table
from massage_outcomes.sensitivity import Estimand, dropout_events, sensitivity_analyses


@pytest.fixture(scope="module")
def small():
    ds = mo.simulate_trial(n_per_arm=30, seed=7)
    return ds, ds.analysis_frame("rmdq")


def test_dropout_events_follow_the_last_observed_visit(small):
    _, af = small
    ev = dropout_events(af, strategy="CIR")
    post = af[af["timing"].astype(str) != "baseline"]
    levels = [v for v in post["visit"].cat.categories if v in set(post["visit"].astype(str))]
    for subject, visit in ev.table[["subject", "visit"]].itertuples(index=False):
        seen = post[(post["subject"] == subject) & post["value"].notna()]["visit"].astype(str)
        last = max((levels.index(v) for v in seen), default=-1)
        assert levels.index(visit) == last + 1
    complete = post.groupby("subject")["value"].apply(lambda v: v.notna().sum() == len(levels))
    assert set(ev.table["subject"]).isdisjoint(complete[complete].index)


def test_analyses_stack_into_the_report_shape(small):
    ds, af = small
    out = sensitivity_analyses(ds, instrument="rmdq", reference="usual_care", strategies=["MAR", "JR"],
                               deltas=[{"therapeutic": 2.0}], method="approxbayes", n_imputations=4, rng=2)
    assert out["analysis"].nunique() == 3
    contrasts = out["contrast"].nunique()
    assert len(out) == 3 * contrasts * 3  # analyses x contrasts x visits
    shown = sensitivity_table(out)
    assert {"contrast", "visit", "analysis", "p"} <= set(shown.columns)
    delta = out[out["analysis"].str.contains("delta")]
    mar = out[out["analysis"] == "MAR, approximate Bayesian MI"]
    th = (delta["contrast"] == "therapeutic - usual_care").to_numpy()
    # imputing 2 points worse for the therapeutic arm's dropouts moves its (negative) difference up
    assert np.all(delta["estimate"].to_numpy()[th] >= mar["estimate"].to_numpy()[th] - 1e-12)


def test_report_prints_estimand_and_sensitivity(small, tmp_path):
    ds, _ = small
    tabs = tables.summary_tables(ds, instruments=["rmdq"], primary_visit="week_10")
    sens = sensitivity_analyses(ds, instrument="rmdq", reference="usual_care", strategies=["JR"],
                                method="approxbayes", n_imputations=3, rng=1)
    est = Estimand(treatment="therapeutic massage vs usual care", population="adults with low back pain",
                   variable="RMDQ at week 10", intercurrent_events={"dropout": "jump to reference"})
    out = report.write_report(ds, tmp_path, tables=tabs, sensitivity=sens, estimand=est, primary_visit="week_10")
    page = out["html"].read_text(encoding="utf-8")
    assert 'id="estimand"' in page and "adults with low back pain" in page
    assert "JR, approximate Bayesian MI" in page
    assert (tmp_path / "tables" / "sensitivity.csv").exists()
    written = pd.read_csv(tmp_path / "tables" / "sensitivity.csv")
    assert set(written["analysis"]) == {"JR, approximate Bayesian MI"}


def test_cli_sensitivity_option(small):
    """``report --sensitivity ARM`` is parsed and runs the four strategies per instrument (the report itself is
    covered by test_report_prints_estimand_and_sensitivity and tests/test_cli.py)."""
    import argparse

    from massage_outcomes import cli

    ds, _ = small
    args = cli.build_parser().parse_args(["report", "sample:trial", "--out", "x", "--instrument", "rmdq",
                                          "--sensitivity", "usual_care"])
    assert args.sensitivity == "usual_care"
    problems: dict[str, str] = {}
    methods: dict[str, str] = {}
    out = cli._sensitivity(ds, args, problems, methods)
    assert not problems
    assert {"MAR, conditional mean (jackknife)", "JR, conditional mean (jackknife)",
            "CR, conditional mean (jackknife)", "CIR, conditional mean (jackknife)"} == set(out["analysis"])
    assert "copy increments in reference" in methods["sensitivity"]
    bad = cli._sensitivity(ds, argparse.Namespace(instrument=["rmdq"], sensitivity="placebo"), problems, methods)
    assert bad is None and "placebo" in problems["sensitivity rmdq"]

"""Participant disposition (flow.py) and the CONSORT flow diagram (consort.py): every number drawn is the
Dataset's count, checked against the simulator's truth and against the analyses' own n."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import consort
from massage_outcomes.errors import DataValidationError

NBSP = "\u00a0"
ARMS = ["therapeutic", "relaxation", "usual_care"]
VISITS = ["week_4", "week_10", "week_26"]


@pytest.fixture(scope="module")
def trial():
    return mo.simulate_trial(n_per_arm=40, seed=5)  # MAR monotone dropout: truth["dropout"] has each last visit


@pytest.fixture(scope="module")
def disp(trial):
    return mo.disposition(trial)


def _n(k: int) -> str:
    return f"(n{NBSP}={NBSP}{k})"


def test_counts_equal_the_simulated_truth(trial, disp):
    truth = trial.truth["dropout"].assign(last=lambda t: t["last_visit"].astype(str))
    order = ["baseline", *VISITS]
    assert disp.arms == ARMS
    assert disp.count("randomized") == 120
    for arm in ARMS:
        t = truth[truth["arm"] == arm]
        rank = t["last"].map(order.index)
        assert disp.count("allocated", arm=arm) == 40
        for j, v in enumerate(VISITS, start=1):
            assert disp.count("assessed", arm=arm, visit=v) == int((rank >= j).sum()), (arm, v)
        assert disp.count("lost", arm=arm) == int((rank < 3).sum())
        for v in order[:-1]:
            assert disp.count("lost_after", arm=arm, visit=v) == int((t["last"] == v).sum()), (arm, v)
        assert disp.count("missed", arm=arm) == 0  # monotone dropout: nobody comes back
    # every lost subject has a reason row, "reason not recorded" without an events table
    assert disp.reasons("lost") == {"reason not recorded": disp.count("lost")}
    assert disp.count("lost") == int((truth["last"] != "week_26").sum()) > 0


def test_analysed_sets_equal_the_fits_own_n(trial, disp):
    """The analysed counts are what the estimators use: ANCOVA's n per arm and MMRM's number of subjects."""
    fx = mo.effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ancova",
                         end="week_26", measure="mean_diff")
    assert int(fx["n_1"].iloc[0]) == disp.count("analysed", arm="therapeutic", analysis="ancova", instrument="rmdq")
    assert int(fx["n_2"].iloc[0]) == disp.count("analysed", arm="usual_care", analysis="ancova", instrument="rmdq")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mo.fit_mmrm(trial, instrument="rmdq", visit="visit", group="arm", adjust_baseline=True)
    assert fit.n_subjects == disp.count("analysed", analysis="mmrm", instrument="rmdq")
    assert disp.count("analysed", analysis="lmm", instrument="rmdq") == 120
    excluded = disp.reasons("excluded_from_analysis", analysis="mmrm", instrument="rmdq")
    assert sum(excluded.values()) == 120 - fit.n_subjects
    assert set(excluded) <= {"no baseline measurement (derived)", "no post-baseline measurement (derived)"}


def test_events_give_reasons_and_win_over_derivations(trial):
    subj = trial.subjects
    lost_ids = trial.truth["dropout"].query("last_visit == 'week_4'")["subject"].tolist()[:2]
    ther = subj.loc[subj["arm"] == "therapeutic", "subject"].tolist()
    events = pd.DataFrame({
        "subject": [lost_ids[0], lost_ids[1], ther[0], ther[1], ther[2]],
        "event": ["withdrew", "lost to follow-up", "did not receive", "discontinued", "excluded"],
        "reason": ["moved away", None, "could not attend", "adverse event: soreness", "consent withdrawn for data"],
    })
    d = mo.disposition(trial, events=events, screened=200, excluded={"not meeting inclusion criteria": 60,
                                                                     "declined to participate": 20})
    assert d.reasons("lost")["moved away"] == 1
    assert d.reasons("lost")["reason not recorded"] == d.count("lost") - 1
    arm0 = str(subj.loc[subj["subject"] == ther[0], "arm"].iloc[0])
    assert d.reasons("not_received", arm=arm0) == {"could not attend": 1}
    assert d.count("received", arm="therapeutic") == 39
    assert d.reasons("discontinued", arm="therapeutic").get("adverse event: soreness") == 1
    ex = d.reasons("excluded_from_analysis", arm="therapeutic", analysis="lmm", instrument="rmdq")
    assert ex == {"consent withdrawn for data": 1}
    assert d.count("assessed_for_eligibility") == 200 and d.count("excluded") == 80
    assert d.reasons("excluded") == {"not meeting inclusion criteria": 60, "declined to participate": 20}


def test_received_is_derived_from_sessions(trial):
    subj, sess = trial.subjects, trial.sessions
    ther = subj.loc[subj["arm"] == "therapeutic", "subject"].iloc[0]
    uc = subj.loc[subj["arm"] == "usual_care", "subject"].iloc[0]
    extra = sess[sess["subject"] == ther].head(2).assign(subject=uc, technique="swedish", intent="relaxation")
    sessions = pd.concat([sess[sess["subject"] != ther], extra], ignore_index=True)
    out = trial.outcomes
    ds = mo.Dataset(subj, sessions, out[~((out["subject"] == ther) & out["session"].notna())])
    d = mo.disposition(ds)
    assert d.reasons("not_received", arm="therapeutic") == {"attended no session (derived)": 1}
    assert d.reasons("not_received", arm="usual_care") == {"received massage sessions in a control arm (derived)": 1}
    assert d.count("received", arm="relaxation") == 40


def test_bad_events_fail_loudly(trial):
    with pytest.raises(DataValidationError, match="unknown event kinds"):
        mo.disposition(trial, events=pd.DataFrame({"subject": ["S001"], "event": ["abducted"]}))
    with pytest.raises(DataValidationError, match="not in the Dataset"):
        mo.disposition(trial, events=pd.DataFrame({"subject": ["X9"], "event": ["lost"]}))
    with pytest.raises(DataValidationError, match="'subject' and 'event'"):
        mo.disposition(trial, events=pd.DataFrame({"id": ["S001"]}))
    assessed = trial.truth["dropout"].query("last_visit == 'week_26'")["subject"].iloc[0]
    with pytest.warns(UserWarning, match="counted as followed up"):
        d = mo.disposition(trial, events=pd.DataFrame({"subject": [assessed], "event": ["lost"]}))
    assert d.count("lost") == mo.disposition(trial).count("lost")
    with pytest.warns(UserWarning, match="check the enrolment numbers"):
        mo.disposition(trial, screened=100, excluded={"declined": 10})


def test_diagram_prints_the_disposition_counts(trial, disp, tmp_path):
    fig = mo.plot.consort(disp)
    text = "\n".join(t.get_text() for t in fig.axes[0].texts)
    for arm in ARMS:
        assert f"Allocated to {arm.replace('_', ' ')} {_n(disp.count('allocated', arm=arm))}" in text
        assert f"Lost to follow-up by week 26 {_n(disp.count('lost', arm=arm))}" in text.replace("\n", " ")
    lost_total = sum(int(s.split("=")[-1].rstrip(")").strip(NBSP)) for s in text.replace("\n", " ").split("Lost to")[1:]
                     for s in [s.split(")")[0] + ")"])
    assert lost_total == disp.count("lost")
    assert f"Randomised {_n(120)}" in text
    assert "Assessed for eligibility" not in text  # enrolment numbers were not given
    assert fig.get_figwidth() == pytest.approx(consort.WIDTHS["double"])
    paths = consort.save(fig, tmp_path / "consort")
    assert paths["png"].stat().st_size > 10_000
    svg = paths["svg"].read_text(encoding="utf-8")
    assert "Randomised" in svg  # text stays editable text in the SVG


def test_diagram_with_enrolment_and_two_arms(trial):
    keep = trial.subjects[trial.subjects["arm"] != "usual_care"]
    ds = mo.Dataset(keep, trial.sessions, trial.outcomes.merge(keep[["study", "subject"]]))
    fig = mo.plot.consort(ds, screened=120, excluded={"declined to participate": 40})
    # a wrapped line continues after a newline and an indent of (no-break) spaces
    text = re.sub(r"[ \u00a0]*\n[ \u00a0]*|  +", " ", "\n".join(t.get_text() for t in fig.axes[0].texts))
    assert f"Assessed for eligibility {_n(120)}" in text and f"declined to participate {_n(40)}" in text
    assert "usual care" not in text
    assert fig.get_figwidth() == pytest.approx(consort.WIDTHS["single"])
    with pytest.raises(ValueError, match="width="):
        mo.plot.consort(ds, width="poster")


def test_sample_trial_disposition():
    d = mo.disposition(mo.load_sample("trial"))
    s = d.summary()
    assert list(s["arm"]) == ARMS and s["allocated"].tolist() == [60, 60, 60]
    assert np.all(s["lost"] >= 0) and d.primary_visit == "week_26"


def test_the_diagram_labels_derived_reasons_and_prints_stated_ones_as_stated(trial):
    """A box lists reasons the data state (events) beside reasons the library derived (sessions, measurements):
    only the derived ones carry "(derived)"; a stated event without a reason is "reason not recorded"."""
    from massage_outcomes.flow import NOT_RECORDED, is_derived

    subj = trial.subjects
    ther = subj.loc[subj["arm"] == "therapeutic", "subject"].tolist()
    lost_w4 = trial.truth["dropout"].query("last_visit == 'week_4' and arm == 'therapeutic'")["subject"].tolist()
    sessions = trial.sessions[trial.sessions["subject"] != ther[0]]  # ther[0] attended no session: derived
    out = trial.outcomes
    ds = mo.Dataset(subj, sessions, out[~((out["subject"] == ther[0]) & out["session"].notna())])
    events = pd.DataFrame({"subject": [ther[1], ther[2], lost_w4[0]],
                           "event": ["did not receive", "did not receive", "withdrew"],
                           "reason": ["could not attend", None, "moved away"]})
    d = mo.disposition(ds, events=events, primary_visit="week_10", primary_analysis="ancova")
    nr = d.reasons("not_received", arm="therapeutic")
    assert nr == {"could not attend": 1, NOT_RECORDED: 1, "attended no session (derived)": 1}
    ex = d.reasons("excluded_from_analysis", arm="therapeutic", analysis="ancova", instrument="rmdq")
    assert ex and all(is_derived(r) for r in ex)
    assert "no week-10 measurement (derived)" in ex
    assert not is_derived("moved away") and "moved away" in d.reasons("lost", arm="therapeutic")

    lines = consort.flow_lines(d, "therapeutic")
    alloc = [ln.strip() for ln in lines["allocation"]]
    assert f"– could not attend {_n(1)}" in alloc and f"– {NOT_RECORDED} {_n(1)}" in alloc
    assert f"– attended no session (derived) {_n(1)}" in alloc
    analysis = " ".join(lines["analysis"])
    assert f"no week-10 measurement (derived) {_n(ex['no week-10 measurement (derived)'])}" in analysis
    fig = mo.plot.consort(d)
    text = re.sub(r"[ \u00a0]*\n[ \u00a0]*|  +", " ", "\n".join(t.get_text() for t in fig.axes[0].texts))
    assert "attended no session (derived)" in text and "could not attend" in text
    assert "could not attend (derived)" not in text and "moved away (derived)" not in text
    stated = {"could not attend", "moved away", NOT_RECORDED}  # every other reason in the counts is derived
    assert all(is_derived(r) != (r in stated) for r in d.counts["reason"].dropna().unique())


def test_a_derived_discontinuation_is_labelled(trial):
    subj, sess = trial.subjects, trial.sessions
    ther = subj.loc[subj["arm"] == "therapeutic", "subject"].iloc[3]
    early = sess[(sess["subject"] != ther) | (sess["day"] <= sess.loc[sess["subject"] == ther, "day"].min())]
    out = trial.outcomes
    kept = pd.MultiIndex.from_frame(early[["subject", "session"]])
    rated = pd.MultiIndex.from_arrays([out["subject"], out["session"].fillna(-1).astype("int64")])
    ds = mo.Dataset(subj, early, out[out["session"].isna().to_numpy() | rated.isin(kept)])
    d = mo.disposition(ds)
    assert d.subjects.set_index("subject").loc[ther, "discontinued_reason"] == "stopped attending sessions early (derived)"
    stated = mo.disposition(ds, events=pd.DataFrame({"subject": [ther], "event": ["discontinued"], "reason": [None]}))
    assert stated.subjects.set_index("subject").loc[ther, "discontinued_reason"] == "reason not recorded"

"""Simulators: structure, reproducibility, explicit randomness, and truth recovered by simple means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import instruments
from massage_outcomes.errors import ArgumentError, ArgumentTypeError


def _tables(ds):
    return ds.subjects, ds.sessions, ds.outcomes


# ---------------------------------------------------------------------------------------------------------------
# randomness is explicit
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sim, kw", [(mo.simulate_trial, {"n_per_arm": 20}), (mo.simulate_clinic, {"n_subjects": 80})])
def test_same_seed_same_data_and_rng_equals_seed(sim, kw):
    a, b = sim(**kw, seed=11), sim(**kw, seed=11)
    c = sim(**kw, rng=np.random.default_rng(11))
    d = sim(**kw, seed=12)
    for x, y, z in zip(_tables(a), _tables(b), _tables(c), strict=True):
        pd.testing.assert_frame_equal(x, y)
        pd.testing.assert_frame_equal(x, z)
    assert not a.outcomes["value"].equals(d.outcomes["value"])


def test_rng_is_advanced_and_global_state_untouched():
    np.random.seed(123)  # noqa: NPY002 - checking that the legacy global state is left alone
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    gen = np.random.default_rng(5)
    first = mo.simulate_trial(10, rng=gen)
    second = mo.simulate_trial(10, rng=gen)  # the same generator continues: different data
    assert not first.outcomes["value"].equals(second.outcomes["value"])
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


@pytest.mark.parametrize("sim", [mo.simulate_trial, mo.simulate_clinic])
def test_seed_and_rng_together_or_wrong_rng_type_is_an_error(sim):
    with pytest.raises(ArgumentError, match="either seed or rng"):  # a ValueError
        sim(10, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(ArgumentTypeError, match="Generator"):  # a TypeError
        sim(10, rng=np.random.RandomState(1))


def test_unknown_override_is_named():
    with pytest.raises(ArgumentError, match="unknown parameter 'baseline_mena'"):
        mo.simulate_trial(10, seed=1, rmdq={"baseline_mena": 12})


# ---------------------------------------------------------------------------------------------------------------
# trial structure
# ---------------------------------------------------------------------------------------------------------------
def test_trial_structure():
    ds = mo.simulate_trial(40, seed=3)
    s, se, o = _tables(ds)
    assert s["arm"].value_counts().to_dict() == {"therapeutic": 40, "relaxation": 40, "usual_care": 40}
    assert set(s["condition"]) == {"low_back_pain"}
    tech = s.groupby("arm")["technique"].agg(lambda x: set(x.astype(str)))
    assert tech["therapeutic"] <= {"deep_tissue", "myofascial_release", "trigger_point"}
    assert tech["relaxation"] == {"swedish"} and tech["usual_care"] == {"none"}
    # sessions: massage arms only, weeks 1-10, numbered 1.. in order, several therapists per arm, none shared
    arm_of = s.set_index("subject")["arm"]
    assert set(arm_of[se["subject"]]) == {"therapeutic", "relaxation"}
    assert se["day"].between(6, 71).all()
    assert (se.groupby("subject")["session"].agg(lambda x: list(x) == list(range(1, len(x) + 1)))).all()
    th = se.assign(arm=arm_of[se["subject"]].to_numpy()).groupby("therapist")["arm"].nunique()
    assert (th == 1).all() and len(th) == 8
    # outcomes: visits with their timing, pre/post pairs with session set
    vis = o[o["session"].isna()]
    assert set(vis["instrument"]) == {"rmdq", "pain_nrs"}
    assert list(o["visit"].cat.categories) == ["baseline", "week_4", "week_10", "week_26"] and o["visit"].cat.ordered
    assert vis.groupby("visit", observed=True)["day"].unique().map(lambda d: d.tolist()).to_dict() == {
        "baseline": [0.0], "week_4": [28.0], "week_10": [70.0], "week_26": [182.0]}
    assert (vis["timing"].astype(str) == np.where(vis["visit"].astype(str) == "baseline", "baseline", "followup")).all()
    ses = o[o["session"].notna()]
    assert set(ses["timing"].astype(str)) == {"pre", "post"} and set(ses["instrument"]) == {"pain_nrs"}
    assert (ses.groupby(["subject", "session"])["timing"].count() == 2).all()
    # recorded scores are integers inside the instrument's range
    for inst in ("rmdq", "pain_nrs"):
        v = o.loc[o["instrument"] == inst, "value"]
        assert instruments.get(inst).in_range(v).all() and (v == v.round()).all()


def test_trial_dropout_is_monotone_and_missing_at_random():
    ds = mo.simulate_trial(300, seed=8, dropout={"log_odds_per_sd": 2.0})
    o = ds.outcomes
    rm = o[o["instrument"] == "rmdq"].pivot(index="subject", columns="visit", values="value")
    present = rm.notna().to_numpy()
    assert present[:, 0].all()
    assert (np.diff(present.astype(int), axis=1) <= 0).all()  # once gone, gone
    lost = 1 - present[:, -1].mean()
    assert 0.05 < lost < 0.6
    # MAR: who leaves before week 10 depends on the observed week-4 score (higher = worse = more dropout)
    w4 = rm["week_4"]
    left = rm["week_10"].isna() & w4.notna()
    assert w4[left].mean() > w4[~left & w4.notna()].mean() + 1
    # the truth records each subject's last visit, matching the data
    last = ds.truth["dropout"].set_index("subject")["last_visit"].astype(str)
    observed_last = rm.notna().iloc[:, ::-1].idxmax(axis=1).astype(str)
    assert (last[observed_last.index] == observed_last).all()
    # sessions stop at dropout: nobody lost before week 4 has sessions after day 28
    gone_early = rm.index[rm["week_4"].isna()]
    assert (ds.sessions.loc[ds.sessions["subject"].isin(gone_early), "day"] <= 29).all()


def test_no_dropout_no_rounding_gives_complete_latent_data():
    ds = mo.simulate_trial(15, seed=2, dropout=False, round_scores=False)
    o = ds.outcomes
    assert (o[o["session"].isna()].groupby("subject").size() == 8).all()
    assert not (o["value"] == o["value"].round()).all()
    vm = ds.truth["visit_means"]
    assert np.allclose(vm["latent_mean"], vm["observed_mean"])


# ---------------------------------------------------------------------------------------------------------------
# trial truth recovered by simple means
# ---------------------------------------------------------------------------------------------------------------
def test_trial_truth_defaults_follow_cherkin_2011():
    eff = mo.simulate_trial(5, seed=1).truth["effects"].set_index(["instrument", "visit", "contrast"])
    assert eff.loc[("rmdq", "week_10", "therapeutic - usual_care"), "latent_difference"] == pytest.approx(-2.5)
    assert eff.loc[("rmdq", "week_10", "relaxation - usual_care"), "latent_difference"] == pytest.approx(-2.9)
    assert abs(eff.loc[("rmdq", "week_10", "therapeutic - relaxation"), "latent_difference"]) < 1
    # rounding and clipping at 0 attenuate the observed difference a little, never reverse it
    obs = eff.loc[("rmdq", "week_10", "therapeutic - usual_care"), "observed_difference"]
    assert -2.5 < obs < -2.0


@pytest.mark.parametrize("round_scores", [False, True])
def test_trial_truth_recovered_by_arm_means(round_scores):
    # with 4 therapists per arm the realized therapist effects shift arm means (clustering): switch them off
    no_th = {"sd_therapist": 0.0}
    ds = mo.simulate_trial(400, seed=21, dropout=False, round_scores=round_scores, rmdq=no_th, pain_nrs=no_th)
    o = ds.outcomes[ds.outcomes["session"].isna()]
    arm = ds.subjects.set_index("subject")["arm"]
    o = o.assign(arm=arm[o["subject"]].to_numpy())
    means = o.groupby(["instrument", "arm", "visit"], observed=True)["value"].agg(["mean", "std", "count"])
    truth = ds.truth["visit_means"].set_index(["instrument", "arm", "visit"])
    col = "observed_mean" if round_scores else "latent_mean"
    z = (means["mean"] - truth.loc[means.index, col]) / (means["std"] / np.sqrt(means["count"]))
    assert (z.abs() < 4).all(), z[z.abs() >= 4]
    # the truth's SDs are the population SDs
    assert np.allclose(means["std"], truth.loc[means.index, "latent_sd"], rtol=0.15) or round_scores
    # between-arm difference in change at week 10
    wide = o[o["instrument"] == "rmdq"].pivot(index="subject", columns="visit", values="value")
    change = (wide["week_10"] - wide["baseline"]).groupby(arm[wide.index].to_numpy()).mean()
    diff = change["therapeutic"] - change["usual_care"]
    eff = ds.truth["effects"].set_index(["instrument", "visit", "contrast"])
    target = eff.loc[("rmdq", "week_10", "therapeutic - usual_care"),
                     "observed_difference" if round_scores else "latent_difference"]
    assert diff == pytest.approx(target, abs=0.9)  # SE of a difference of mean changes ≈ 0.3


def test_trial_within_session_drop_recovered():
    ds = mo.simulate_trial(150, seed=4, round_scores=False, dropout=False)
    o = ds.outcomes[ds.outcomes["session"].notna()]
    w = o.pivot_table(index=["subject", "session"], columns="timing", values="value", observed=True)
    arm = ds.subjects.set_index("subject")["arm"]
    drop = (w["pre"] - w["post"]).groupby(arm[w.index.get_level_values("subject")].to_numpy()).mean()
    truth = ds.truth["session_effects"].set_index("arm")["immediate_drop"]
    assert drop["therapeutic"] == pytest.approx(truth["therapeutic"], abs=0.35)
    assert drop["relaxation"] == pytest.approx(truth["relaxation"], abs=0.35)


def test_trial_truth_random_effects_match_their_covariance():
    ds = mo.simulate_trial(700, seed=9)
    re = ds.truth["random_effects"][["rmdq_intercept", "rmdq_slope", "pain_nrs_intercept", "pain_nrs_slope"]]
    cov = ds.truth["parameters"]["random_effect_cov"]
    assert np.allclose(np.cov(re.to_numpy().T), cov, atol=0.1 * np.sqrt(np.outer(np.diag(cov), np.diag(cov))).max() / 4
                       + 0.2 * np.abs(cov))


def test_linear_shape_truth_is_the_mixed_model_recovered_by_subject_slopes():
    no_th = {"sd_therapist": 0.0}
    ds = mo.simulate_trial(300, seed=17, time_shape="linear", round_scores=False, dropout=False, rmdq=no_th,
                           pain_nrs=no_th)
    truth = ds.truth["lmm"]["rmdq"]
    assert truth["time"] == "week" and np.isnan(truth["fixed"]["slope_after_week10"]).all()
    af = ds.analysis_frame("rmdq")
    week = af["day"] / 7.0
    # per-subject OLS slope and intercept, averaged by arm: unbiased for the fixed effects
    g = af.assign(week=week).groupby("subject")
    slope = g.apply(lambda d: np.polyfit(d["week"], d["value"], 1)[0], include_groups=False)
    arm = ds.subjects.set_index("subject")["arm"]
    by_arm = slope.groupby(arm[slope.index].to_numpy()).agg(["mean", "std", "count"])
    fixed = truth["fixed"].set_index("arm")["slope_per_week"]
    z = (by_arm["mean"] - fixed[by_arm.index]) / (by_arm["std"] / np.sqrt(by_arm["count"]))
    assert (z.abs() < 4).all(), by_arm
    # the variance of subject slopes is G[1, 1] plus the OLS sampling variance; it is at least G[1, 1]-ish
    assert slope.groupby(arm[slope.index].to_numpy()).var().min() > 0.5 * truth["G"][1, 1]
    with pytest.raises(ArgumentError, match="time_shape"):
        mo.simulate_trial(5, seed=1, time_shape="cubic")


def test_overrides_change_the_truth():
    ds = mo.simulate_trial(5, seed=1, rmdq={"change_week10": {"therapeutic": -8.0}})
    eff = ds.truth["effects"].set_index(["instrument", "visit", "contrast"])
    assert eff.loc[("rmdq", "week_10", "therapeutic - usual_care"), "latent_difference"] == pytest.approx(-5.0)


# ---------------------------------------------------------------------------------------------------------------
# clinic
# ---------------------------------------------------------------------------------------------------------------
def test_clinic_structure():
    ds = mo.simulate_clinic(600, seed=5)
    s, se, o = _tables(ds)
    assert set(s["condition"].astype(str)) == {"low_back_pain", "sciatica", "tension_headache", "migraine",
                                               "carpal_tunnel", "tmj", "post_surgical_rehab"}
    assert set(s["technique"].astype(str)) == {"deep_tissue", "myofascial_release", "trigger_point", "sports", "swedish"}
    # therapists nested in clinics
    clinic_of = s.set_index("subject")["clinic"]
    nest = se.assign(clinic=clinic_of[se["subject"]].to_numpy()).groupby("therapist")["clinic"].nunique()
    assert (nest == 1).all() and len(nest) == 16
    # condition-specific instruments, pain_nrs for everyone
    cond_of = s.set_index("subject")["condition"].astype(str)
    by_cond = o.assign(condition=cond_of[o["subject"]].to_numpy()).groupby("condition")["instrument"].agg(set)
    assert by_cond["low_back_pain"] == {"pain_nrs", "rmdq", "odi"}
    assert by_cond["sciatica"] == {"pain_nrs", "sbi", "odi"}
    assert by_cond["tension_headache"] == by_cond["migraine"] == {"pain_nrs", "hit6", "headache_days"}
    assert by_cond["carpal_tunnel"] == {"pain_nrs", "bctq_sss"}
    assert by_cond["tmj"] == {"pain_nrs", "jfls", "mouth_opening"}
    assert by_cond["post_surgical_rehab"] == {"pain_nrs", "rom", "psfs"}
    for inst, v in o.groupby("instrument")["value"]:
        assert instruments.get(inst).in_range(v).all(), inst
    # every session has a pre and a post rating
    ses = o[o["session"].notna()]
    assert len(ses) == 2 * len(se)


def test_clinic_truth_recovered_by_cell_means():
    ds = mo.simulate_clinic(3000, seed=13, dropout=False, round_scores=False)
    af = ds.analysis_frame("pain_nrs")
    fu = af[af["visit"].astype(str) == "week_6"]
    cell = fu.groupby(["condition", "technique"], observed=True)["change"].agg(["mean", "std", "count"])
    cell = cell[cell["count"] >= 40]
    truth = ds.truth["effects"].query("instrument == 'pain_nrs' and visit == 'week_6'").set_index(
        ["condition", "technique"])["true_change"]
    z = (cell["mean"] - truth.loc[cell.index]) / (cell["std"] / np.sqrt(cell["count"]))
    assert len(z) > 15 and (z.abs() < 4).all(), z[z.abs() >= 4]
    # direction-aware: higher-is-better instruments improve upwards
    rom = ds.truth["effects"].query("instrument == 'rom' and visit == 'week_6'")
    assert (rom["true_change"] > 0).all() and (rom["true_improvement"] > 0).all()


def test_simulators_are_fast():
    import time

    t = time.perf_counter()
    mo.simulate_trial(1000, seed=1)
    mo.simulate_clinic(5000, seed=1)
    assert time.perf_counter() - t < 5


def test_expected_observed_is_the_mean_of_rounded_clipped_normals():
    from massage_outcomes.simulate import _expected_observed

    gen = np.random.default_rng(0)
    mu, sd = np.array([0.7, 5.2, 23.4]), np.array([2.0, 4.0, 3.0])
    exact = _expected_observed(mu, sd, 0.0, 24.0, 1.0)
    draws = np.clip(np.round(gen.normal(mu, sd, (400_000, 3))), 0, 24).mean(axis=0)
    np.testing.assert_allclose(exact, draws, atol=0.02)
    assert exact[0] > mu[0] and exact[2] < mu[2]  # the floor pulls up, the ceiling pulls down


def test_clinic_within_session_drop_by_technique():
    ds = mo.simulate_clinic(1500, seed=31, round_scores=False, dropout=False)
    o = ds.outcomes[ds.outcomes["session"].notna()]
    w = o.pivot_table(index=["subject", "session"], columns="timing", values="value", observed=True)
    tech = ds.subjects.set_index("subject")["technique"].astype(str)
    drop = (w["pre"] - w["post"]).groupby(tech[w.index.get_level_values("subject")].to_numpy()).mean()
    truth = ds.truth["session_effects"].set_index("technique")["immediate_drop"]
    np.testing.assert_allclose(drop[truth.index], truth, atol=0.15)

"""fit_trajectories: engine invariants, interface, predictions, likelihood-ratio tests, convergence honesty.

The agreement with lme4/lmerTest is in test_lmm_reference.py; the slow coverage study is at the bottom
(runs only with MO_SLOW=1).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.errors import ArgumentError, ConvergenceWarning
from massage_outcomes.trajectories import TrajectoryFit, fit_trajectories
from massage_outcomes.trajectories.design import natural_spline_basis
from massage_outcomes.trajectories.lmm import LMMCore

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"


@pytest.fixture(scope="module")
def levels_frame() -> pd.DataFrame:
    return pd.read_csv(REF / "levels.csv")


@pytest.fixture(scope="module")
def slope_fit(levels_frame: pd.DataFrame) -> TrajectoryFit:
    return fit_trajectories(levels_frame, timing=None)


def _dense_deviance(y, X, Zfull, G, reml: bool) -> float:
    """-2 log-likelihood by brute force: V = sigma^2 (I + Z G Z'), profiled over beta and sigma^2."""
    n, p = X.shape
    V = np.eye(n) + Zfull @ G @ Zfull.T
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    beta = np.linalg.solve(XtViX, X.T @ Vi @ y)
    r = y - X @ beta
    rss = float(r @ Vi @ r)
    ld = np.linalg.slogdet(V)[1]
    if reml:
        return ld + np.linalg.slogdet(XtViX)[1] + (n - p) * (1 + np.log(2 * np.pi * rss / (n - p)))
    return ld + n * (1 + np.log(2 * np.pi * rss / n))


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("correlated", [True, False])
def test_engine_matches_dense_likelihood(reml: bool, correlated: bool) -> None:
    rng = np.random.default_rng(5)
    g, per = 12, 5
    codes = np.repeat(np.arange(g), per)
    t = np.tile(np.arange(per, dtype=float), g) + rng.normal(0, 0.1, g * per)
    X = np.column_stack([np.ones(g * per), t, rng.normal(size=g * per)])
    Z = np.column_stack([np.ones(g * per), t])
    ther = rng.integers(0, 4, g * per)
    clin = rng.integers(0, 3, g * per)
    y = rng.normal(size=g * per) + 0.5 * t
    core = LMMCore(y, X, Z, codes, g, correlated=correlated, extra_codes=[ther, clin], extra_nlev=[4, 3], reml=reml)
    theta = np.array([0.8, 0.3, 0.4, 0.6, 0.2]) if correlated else np.array([0.8, 0.4, 0.6, 0.2])
    T = core.T_of(theta)
    Zs = np.zeros((g * per, 2 * g))
    Zs[np.arange(g * per), 2 * codes] = 1.0
    Zs[np.arange(g * per), 2 * codes + 1] = t
    Zt = np.eye(4)[ther]
    Zc = np.eye(3)[clin]
    Zfull = np.hstack([Zs, Zt, Zc])
    G = np.zeros((2 * g + 7, 2 * g + 7))
    for i in range(g):
        G[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = T @ T.T
    G[2 * g : 2 * g + 4, 2 * g : 2 * g + 4] = np.eye(4) * theta[-2] ** 2
    G[2 * g + 4 :, 2 * g + 4 :] = np.eye(3) * theta[-1] ** 2
    assert core.deviance(theta) == pytest.approx(_dense_deviance(y, X, Zfull, G, reml), rel=1e-10)
    # analytic and numerical gradients agree where the analytic one applies (subject level only)
    core1 = LMMCore(y, X, Z, codes, g, correlated=correlated, reml=reml)
    th1 = theta[: core1.n_theta]
    np.testing.assert_allclose(core1.dev_grad(th1)[1], core1._grad(th1), rtol=1e-5, atol=1e-6)


def test_fit_reports_tidy_tables(slope_fit: TrajectoryFit) -> None:
    fe = slope_fit.fixed_effects
    assert list(fe.columns) == ["term", "estimate", "se", "df", "t", "p_value", "ci_low", "ci_high"]
    assert list(fe["term"]) == slope_fit.fe_names_
    vc = slope_fit.variance_components
    assert list(vc.columns) == ["group", "term", "variance", "sd", "corr"]
    assert vc["group"].iloc[-1] == "Residual"
    np.testing.assert_allclose(vc["sd"] ** 2, vc["variance"])
    assert slope_fit.converged and not slope_fit.singular
    assert slope_fit.n_obs == 1327 and slope_fit.n_subjects == 240
    assert slope_fit.aic == pytest.approx(-2 * slope_fit.loglik + 2 * slope_fit.n_params)
    np.testing.assert_allclose(slope_fit.vcov_beta_, slope_fit.vcov_beta_.T)
    text = slope_fit.summary()
    assert "Fixed effects" in text and "REML" in text
    assert "<table" in slope_fit._repr_html_()
    assert "TrajectoryFit" in repr(slope_fit)


def test_random_effects_and_subject_predictions(slope_fit: TrajectoryFit, levels_frame: pd.DataFrame) -> None:
    re = slope_fit.random_effects
    assert set(re["group"]) == {"subject"}
    assert re.shape == (240, 4)
    # BLUPs are shrunken towards zero and average about zero
    assert abs(re["(Intercept)"].mean()) < 0.05
    pop = slope_fit.predict(levels_frame)
    subj = slope_fit.predict(levels_frame, level="subject")
    resid_pop = levels_frame["value"] - pop
    resid_subj = levels_frame["value"] - subj
    assert resid_subj.var() < resid_pop.var()
    # unknown subjects get the population curve
    new = levels_frame.head(3).assign(subject="nobody")
    np.testing.assert_allclose(slope_fit.predict(new, level="subject"), slope_fit.predict(new))


def test_extra_levels_blups(levels_frame: pd.DataFrame) -> None:
    fit = fit_trajectories(levels_frame, timing=None, levels=("subject", "therapist", "clinic"))
    re = fit.random_effects
    assert set(re["group"]) == {"subject", "therapist", "clinic"}
    assert (re["group"] == "therapist").sum() == 9
    assert list(fit.variance_components["group"]) == ["subject", "subject", "therapist", "clinic", "Residual"]
    pred = fit.predict(levels_frame, level="subject")
    assert np.corrcoef(pred, levels_frame["value"])[0, 1] > 0.9


def test_population_curves_are_tidy(slope_fit: TrajectoryFit) -> None:
    cur = slope_fit.population_curves(times=[0, 10, 26])
    assert list(cur.columns) == ["group", "time", "estimate", "se", "df", "ci_low", "ci_high"]
    assert len(cur) == 9
    assert (cur["ci_low"] < cur["estimate"]).all() and (cur["estimate"] < cur["ci_high"]).all()
    row = cur[(cur["group"] == "therapeutic") & (cur["time"] == 26)].iloc[0]
    b = dict(zip(slope_fit.fe_names_, slope_fit.beta_, strict=True))
    expected = b["Intercept"] + b["arm[T.therapeutic]"] + 26 * (b["week"] + b["arm[T.therapeutic]:week"])
    assert row["estimate"] == pytest.approx(expected)
    sc = slope_fit.subject_curves(subjects=["P000", "P001"], times=[0, 26])
    assert list(sc.columns) == ["subject", "group", "time", "estimate"] and len(sc) == 4


def test_marginal_means_protocol(slope_fit: TrajectoryFit) -> None:
    ref = slope_fit.reference_values()
    assert ref["arm"] == ["relaxation", "therapeutic", "usual_care"]
    grid = pd.DataFrame({"arm": ["therapeutic", "usual_care"], "week": [10.0, 10.0]})
    X = slope_fit.design_rows(grid)
    assert X.shape == (2, len(slope_fit.beta_))
    df = slope_fit.df_for(X)
    assert df.shape == (2,) and np.all(df > 1)
    sigma, edf = slope_fit.sigma_total()
    vc = slope_fit.variance_components
    assert sigma == pytest.approx(np.sqrt(vc["variance"].iloc[0] + vc["variance"].iloc[-1]))
    assert edf == slope_fit.n_obs - slope_fit.n_params
    if hasattr(slope_fit, "emmeans"):
        em = slope_fit.emmeans(at={"week": [10.0]})
        assert len(em) == 3


def test_lrt_refits_with_ml_when_fixed_effects_differ(levels_frame: pd.DataFrame) -> None:
    big = fit_trajectories(levels_frame, timing=None)
    small = fit_trajectories(levels_frame, timing=None, group="arm", random="intercept")
    out = big.lrt(small)  # same fixed effects: REML comparison of the random part
    assert out["method"].iloc[0] == "REML"
    assert out["chisq"].iloc[1] == pytest.approx(2 * (big.loglik - small.loglik))
    assert out["df"].iloc[1] == 2
    one = levels_frame.assign(one="all")
    nogroup = fit_trajectories(one, timing=None, group="one")
    out2 = big.lrt(nogroup)
    assert out2["method"].iloc[0] == "ML"
    ml_big = big.refit(method="ML")
    assert out2["loglik"].iloc[1] == pytest.approx(ml_big.loglik)
    assert out2["df"].iloc[1] == 4


def test_time_bases(levels_frame: pd.DataFrame) -> None:
    pw = fit_trajectories(levels_frame, timing=None, time_basis=("piecewise", 10))
    assert "week_after10" in pw.fe_names_
    sp = fit_trajectories(levels_frame, timing=None, time_basis="spline")
    assert any(n.startswith("week_ns") for n in sp.fe_names_)
    assert sp.loglik == pytest.approx(sp.loglik)
    vf = fit_trajectories(levels_frame, timing=None, visit_as_factor=True, random="intercept")
    assert vf.time_kind == "categorical"
    assert len(vf.beta_) == 3 * 6
    # natural spline: linear beyond the outer knots
    x = np.array([30.0, 40.0, 50.0])
    b = natural_spline_basis(x, np.array([0.0, 5.0, 10.0, 26.0]))
    np.testing.assert_allclose(np.diff(b, n=2, axis=0), 0.0, atol=1e-9)


def test_dataset_input_and_timing_filter() -> None:
    ds = mo.simulate_trial(n_per_arm=20, seed=4)
    fit = mo.fit_trajectories(ds, instrument="pain_nrs", random="intercept")
    frame = ds.analysis_frame("pain_nrs")
    kept = frame["timing"].astype(str).isin(["baseline", "followup"]).sum()
    assert fit.n_obs == kept


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"random": "banana"}, "random"),
        ({"method": "OLS"}, "method"),
        ({"covariates": ["nope"]}, "nope"),
        ({"time_basis": ("piecewise", 99)}, "knot"),
        ({"ddf": "kenward-roger", "method": "ML"}, "kenward-roger"),
        ({"ddf": "containment"}, "ddf"),
    ],
)
def test_bad_arguments_say_what_to_do(levels_frame: pd.DataFrame, kwargs: dict, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        fit_trajectories(levels_frame, timing=None, **kwargs)


def test_failed_checks_warn_and_flag(levels_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LMMCore, "_check", lambda self, theta: (False, "forced failure", False))
    with pytest.warns(ConvergenceWarning, match="forced failure"):
        fit = fit_trajectories(levels_frame.head(300), timing=None, random="intercept")
    assert fit.converged is False
    assert any("forced failure" in m for m in fit.messages)


# ----------------------------------------------------------------------------------------------------------------
# coverage study (slow): arm x visit effects on simulate_trial data
# ----------------------------------------------------------------------------------------------------------------
def coverage_study(
    n_rep: int, *, n_per_arm: int = 100, seed0: int = 1000, rmdq: dict | None = None
) -> pd.DataFrame:
    """Fit arm x visit LMMs to ``n_rep`` simulated trials; return estimate, CI and truth per contrast.

    The model (arm x visit fixed effects, correlated subject intercept + slope) ignores the simulator's therapist
    clustering (``sd_therapist``, a therapist effect on the change that peaks at week 10), so intervals at week
    10 run a little narrow unless ``rmdq={"sd_therapist": 0.0}``.
    """
    rows = []
    for rep in range(n_rep):
        ds = mo.simulate_trial(n_per_arm=n_per_arm, seed=seed0 + rep, round_scores=False, rmdq=rmdq)
        truth = ds.truth["effects"]
        truth = truth[(truth["instrument"] == "rmdq") & (truth["week"] > 0)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = mo.fit_trajectories(ds, instrument="rmdq", visit_as_factor=True, random="slope")
        res = fit.contrasts(list(pd.unique(truth["contrast"])), at={"week": [4.0, 10.0, 26.0]}, adjust="none")
        res = res.merge(truth[["contrast", "week", "latent_difference"]], on=["contrast", "week"])
        res["rep"] = rep
        res["converged"] = fit.converged
        rows.append(res[["rep", "contrast", "week", "estimate", "ci_low", "ci_high", "latent_difference",
                         "converged"]])
    out = pd.concat(rows, ignore_index=True)
    out["covered"] = (out["ci_low"] <= out["latent_difference"]) & (out["latent_difference"] <= out["ci_high"])
    return out


def test_coverage_quick() -> None:
    out = coverage_study(3, n_per_arm=40)
    assert len(out) == 27
    assert out["converged"].all()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MO_SLOW") != "1", reason="coverage study: set MO_SLOW=1")
def test_coverage_500_replications() -> None:
    out = coverage_study(500)
    cov = out["covered"].mean()
    assert 0.93 <= cov <= 0.97, cov
    per = out.groupby(["contrast", "week"])["covered"].mean()
    assert per.between(0.89, 0.985).all(), per
    bias = out.assign(err=out["estimate"] - out["latent_difference"]).groupby(["contrast", "week"])["err"]
    se_mean = bias.std() / np.sqrt(500)
    assert (bias.mean().abs() < 3 * se_mean + 0.02).all(), bias.mean()

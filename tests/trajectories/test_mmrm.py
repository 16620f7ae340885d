"""fit_mmrm against nlme::gls (tests/reference/mmrm/gls_reference.R) and emmeans on the gls fit.

Tolerances: log-likelihood 1e-8 relative, fixed effects / SEs / covariance 1e-4 relative (measured: about 1e-6);
Satterthwaite df within 0.5% of emmeans on the gls fit: emmeans 1.8.4 has no analytical Satterthwaite for gls and
falls back to "appx-satterthwaite" (numerical derivatives around nlme's finite-difference apVar) whatever mode is
asked; ours uses the observed REML information as R's mmrm does, is checked against brute-force finite differences
(1e-4) and is exact (N - 3) for complete data; measured difference from emmeans 0.2-0.4%, while emmeans' own
numbers moved by up to 0.6% between two regenerations of the reference (tolerance 1%).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from massage_outcomes.errors import ArgumentError, ConvergenceWarning, DataValidationError, ModelFitError
from massage_outcomes.trajectories import mmrm as mmrm_mod
from massage_outcomes.trajectories.mmrm import MMRMFit, _example_frame, fit_mmrm

HERE = Path(__file__).parents[1] / "reference"
GLS = json.loads((HERE / "mmrm" / "gls_reference.json").read_text())
EMM = json.loads((HERE / "emmeans" / "emmeans_reference.json").read_text())["gls"]
VISITS = ["week_4", "week_10", "week_26"]

CASES = {
    "us": {"covariance": "unstructured"},
    "us_ml": {"covariance": "unstructured", "method": "ML"},
    "cs": {"covariance": "cs"},
    "cs_hom": {"covariance": "cs", "heterogeneous": False},
    "ar1": {"covariance": "ar1"},
    "toep": {"covariance": "toeplitz"},
    "ar1_hom": {"covariance": "ar1", "heterogeneous": False},
    "toep_hom": {"covariance": "toeplitz", "heterogeneous": False},
    "toep_ml": {"covariance": "toeplitz", "method": "ML"},
    "us_cov": {"covariance": "unstructured", "baseline_by_visit": True, "covariates": ["sex"]},
}


def trial() -> pd.DataFrame:
    d = pd.read_csv(HERE / "mmrm" / "trial.csv")
    d["visit"] = pd.Categorical(d["visit"], categories=VISITS, ordered=True)
    d["arm"] = pd.Categorical(d["arm"], categories=["relaxation", "therapeutic", "usual_care"])
    return d


def _norm(name: str) -> str:
    name = "(Intercept)" if name == "Intercept" else name
    name = re.sub(r"(\w+)\[T\.([^\]]+)\]", r"\1\2", name)
    return ":".join(sorted(name.split(":")))


@pytest.fixture(scope="module")
def fits() -> dict[str, MMRMFit]:
    d = trial()
    return {k: fit_mmrm(d, **kw) for k, kw in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_nlme_gls(fits, case):
    fit, ref = fits[case], GLS[case]
    assert fit.converged
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-8)
    assert fit.aic == pytest.approx(ref["aic"], rel=1e-8)
    assert fit.bic == pytest.approx(ref["bic"], rel=1e-8)
    ours = pd.DataFrame({"est": fit.beta_, "se": np.sqrt(np.diag(fit.vcov_beta_))},
                        index=[_norm(n) for n in fit.fe_names_])
    theirs = pd.DataFrame({"est": ref["coef"], "se": ref["se"]}, index=[_norm(n) for n in ref["names"]])
    ours = ours.loc[theirs.index]
    if case.endswith("_ml"):
        # nlme::gls reports ML standard errors with sigma² scaled by N/(N - p); ours (as SAS and R mmrm) do not
        theirs["se"] *= np.sqrt((ref["n"] - len(ref["coef"])) / ref["n"])
    np.testing.assert_allclose(ours["est"], theirs["est"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours["se"], theirs["se"], rtol=1e-4)
    np.testing.assert_allclose(fit.covariance_, np.array(ref["sigma_matrix"]), rtol=1e-4)
    assert fit.n_obs == ref["n"]


def test_emmeans_match_emmeans_on_gls(fits):
    fit = fits["us_cov"]
    e = fit.emmeans()
    r = pd.DataFrame(EMM["emmeans_satterthwaite"])
    assert e["arm"].astype(str).tolist() == r["arm"].tolist()
    assert e["visit"].astype(str).tolist() == r["visit"].tolist()
    np.testing.assert_allclose(e["estimate"], r["emmean"], rtol=1e-6)
    np.testing.assert_allclose(e["se"], r["SE"], rtol=1e-5)
    np.testing.assert_allclose(e["df"], r["df"], rtol=1e-2)  # emmeans' own gls df moved 0.6% between two runs


def test_contrasts_and_eff_size_match_emmeans_on_gls(fits):
    fit = fits["us_cov"]
    c = fit.contrasts("pairwise", adjust="tukey")
    r = pd.DataFrame(EMM["pairs_tukey"])
    assert c["contrast"].tolist() == r["contrast"].tolist()
    np.testing.assert_allclose(c["estimate"], r["estimate"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(c["se"], r["SE"], rtol=1e-5)
    np.testing.assert_allclose(c["df"], r["df"], rtol=1e-2)
    np.testing.assert_allclose(c["p_adjusted"], r["p.value"], rtol=2e-3, atol=1e-6)
    t = fit.contrasts("each vs usual_care", adjust="holm")
    r2 = pd.DataFrame(EMM["trt_vs_uc"])
    assert t["contrast"].tolist() == r2["contrast"].tolist()
    np.testing.assert_allclose(t["estimate"], r2["estimate"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(t["p_adjusted"], r2["p.value"], rtol=2e-3, atol=1e-6)
    es = fit.eff_size("pairwise", sigma=EMM["sigma"], edf=EMM["df_residual"])
    r3 = pd.DataFrame(EMM["eff"])
    np.testing.assert_allclose(es["effect_size"], r3["effect.size"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(es["se"], r3["SE"], rtol=1e-5)
    np.testing.assert_allclose(es["ci_low"], r3["lower.CL"], rtol=1e-3, atol=1e-4)


def test_pattern_likelihood_equals_per_subject_loop(fits):
    """The per-pattern sufficient statistics give the textbook per-subject REML likelihood and gradient."""
    d = trial()
    fit = fits["us"]
    X = np.asarray(fit._model_spec.get_model_matrix(d), dtype=float)
    y = d["value"].to_numpy(float)
    vidx = d["visit"].cat.codes.to_numpy()
    rng = np.random.default_rng(0)
    theta = fit.theta_ + rng.normal(scale=0.1, size=fit.n_theta)
    S = mmrm_mod._sigma_from_theta(theta, "unstructured", 3, True)
    A = np.zeros((X.shape[1], X.shape[1]))
    c = np.zeros(X.shape[1])
    logdet = 0.0
    blocks = []
    for _, rows in d.groupby("subject", sort=False).indices.items():
        v = vidx[rows]
        Si = np.linalg.inv(S[np.ix_(v, v)])
        A += X[rows].T @ Si @ X[rows]
        c += X[rows].T @ Si @ y[rows]
        logdet += np.linalg.slogdet(S[np.ix_(v, v)])[1]
        blocks.append((rows, Si))
    beta = np.linalg.solve(A, c)
    quad = sum(float((y[r] - X[r] @ beta) @ Si @ (y[r] - X[r] @ beta)) for r, Si in blocks)
    n, p = len(y), X.shape[1]
    m2ll = logdet + np.linalg.slogdet(A)[1] + quad + (n - p) * np.log(2 * np.pi)
    prob = _problem(d)
    val, grad = prob.m2ll(theta)
    assert val == pytest.approx(m2ll, rel=1e-10)
    h = 1e-6
    fd = [(prob.m2ll(theta + h * e, False)[0] - prob.m2ll(theta - h * e, False)[0]) / (2 * h)
          for e in np.eye(len(theta))]
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)


def _problem(d: pd.DataFrame) -> mmrm_mod._REML:
    """Rebuild the internal REML problem for the unstructured reference model (white-box test helper)."""
    captured = {}
    real = mmrm_mod._optimize

    def spy(prob, theta0):
        captured["prob"] = prob
        return real(prob, theta0)

    mmrm_mod._optimize = spy
    try:
        fit_mmrm(d)
    finally:
        mmrm_mod._optimize = real
    return captured["prob"]


def test_satterthwaite_df_is_exact_for_complete_balanced_cs_model():
    """Complete data, one covariate-free model: df of a visit-1 arm contrast close to the between-subject df."""
    d = _example_frame(n_per_arm=20, seed=5)
    keep = d.groupby("subject")["visit"].transform("size") == 4
    fit = fit_mmrm(d[keep], covariance="unstructured", adjust_baseline=False)
    c = fit.contrasts("therapeutic - usual_care", adjust="none")
    n_sub = fit.n_subjects
    # with complete data and an unstructured covariance the per-visit contrast is a two-sample comparison
    np.testing.assert_allclose(c["df"], n_sub - 3, rtol=1e-6)


def test_dataset_input_and_interface():
    import massage_outcomes as mo

    ds = mo.simulate_trial(n_per_arm=25, seed=2)
    fit = fit_mmrm(ds, instrument="rmdq")
    assert isinstance(fit, MMRMFit) and fit.converged
    assert fit.group == "arm" and fit.time == "visit" and fit.time_kind == "categorical"
    assert list(fit.covariance.columns) == fit.visits and "baseline" not in fit.visits
    e = fit.emmeans()
    assert len(e) == 3 * len(fit.visits)
    assert {"arm", "visit", "estimate", "se", "df", "ci_low", "ci_high", "t", "p_value"} <= set(e.columns)
    c = fit.contrasts("each vs usual_care")
    assert (c["df"] > 10).all() and (c["p_adjusted"] >= c["p_value"]).all()
    assert {"effect_size", "effect_size_ci_low", "effect_size_ci_high"} <= set(c.columns)
    text = fit.summary()
    assert "Satterthwaite" in text and "logLik" in text
    assert "<table" in fit._repr_html_()
    assert "MMRMFit" in repr(fit)
    np.testing.assert_allclose(np.diag(fit.correlation), 1.0)
    with pytest.raises(Exception, match="continuous"):
        fit.slopes()


def test_change_outcome_and_no_group():
    d = _example_frame()
    fit = fit_mmrm(d, outcome="change", group=None, covariance="cs")
    e = fit.emmeans()
    assert list(e.columns[:1]) == ["visit"] and len(e) == 3


def test_input_errors():
    d = _example_frame()
    with pytest.raises(ArgumentError, match="covariance"):
        fit_mmrm(d, covariance="banded")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="heterogeneous"):
        fit_mmrm(d, heterogeneous=False)
    with pytest.raises(ArgumentError, match="columns"):
        fit_mmrm(d, covariates=["weight"])
    dup = pd.concat([d, d.iloc[[5]]])
    with pytest.raises(DataValidationError, match="repeat"):
        fit_mmrm(dup)
    empty_cell = d[~((d["arm"] == "relaxation") & (d["visit"] == "week 26"))]
    with pytest.raises(ModelFitError, match="rank deficient"):
        fit_mmrm(empty_cell)
    nob = d.copy()
    nob.loc[nob["subject"] == "th000", "baseline"] = np.nan
    with pytest.warns(UserWarning, match="no baseline"):
        fit = fit_mmrm(nob)
    assert fit.n_subjects == 89


def test_convergence_failure_is_loud(monkeypatch):
    real = mmrm_mod._optimize

    def failing(prob, theta0):
        theta, _, msgs, g, h = real(prob, theta0)
        return theta, False, [*msgs, "stopped: simulated failure"], g, h

    monkeypatch.setattr(mmrm_mod, "_optimize", failing)
    with pytest.warns(ConvergenceWarning, match="simulated failure"):
        fit = fit_mmrm(_example_frame())
    assert not fit.converged and "simulated failure" in fit.summary()


@settings(max_examples=4, deadline=None)
@given(shift=st.floats(-20, 20), scale=st.floats(0.2, 5))
def test_location_scale_invariance(shift, scale):
    d = _example_frame(n_per_arm=15, seed=3)
    base = fit_mmrm(d, covariance="cs")
    d2 = d.assign(value=d["value"] * scale + shift, baseline=d["baseline"] * scale + shift)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        moved = fit_mmrm(d2, covariance="cs")
    a = base.contrasts("pairwise", adjust="none")
    b = moved.contrasts("pairwise", adjust="none")
    np.testing.assert_allclose(b["estimate"], a["estimate"] * scale, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b["effect_size"], a["effect_size"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(b["df"], a["df"], rtol=1e-4)
    ea, eb = base.emmeans(), moved.emmeans()
    np.testing.assert_allclose(eb["estimate"], ea["estimate"] * scale + shift, rtol=1e-6)


def test_visit_contrasts_within_arm(fits):
    fit = fits["us"]
    c = fit.contrasts("week_26 - week_4", over="visit", adjust="none", effect_size=False)
    e = fit.emmeans().assign(arm=lambda x: x["arm"].astype(str), visit=lambda x: x["visit"].astype(str))
    wide = e.pivot(index="arm", columns="visit", values="estimate")
    expected = (wide["week_26"] - wide["week_4"]).loc[c["arm"].astype(str)].to_numpy()
    np.testing.assert_allclose(c["estimate"], expected, rtol=1e-10)
    assert (c["df"] > 20).all()


def test_plain_long_frame_without_timing_or_baseline_column():
    d = _example_frame()
    ref = fit_mmrm(d)
    plain = d[["subject", "arm", "visit", "value"]].copy()
    plain["visit"] = plain["visit"].astype(str).str.upper().str.replace("WEEK", "week")  # "BASELINE", "week 4"
    fit = fit_mmrm(plain, instrument=None)
    assert fit.visits == ["week 4", "week 10", "week 26"]
    np.testing.assert_allclose(fit.beta_, ref.beta_, rtol=1e-8)
    with pytest.raises(ArgumentError, match="baseline_visit"):
        fit_mmrm(plain, baseline_visit="screening")


def test_variance_components_and_by_factor(fits):
    fit = fits["us_cov"]
    vc = fit.variance_components
    assert vc["visit"].tolist() == VISITS
    with pytest.warns(DeprecationWarning, match="n_obs"):
        assert fit.nobs == fit.n_obs
    with pytest.warns(DeprecationWarning, match="covariance_"):
        np.testing.assert_array_equal(fit.sigma_, fit.covariance_)
    np.testing.assert_allclose(vc["variance"], np.diag(np.array(GLS["us_cov"]["sigma_matrix"])), rtol=1e-4)
    e = fit.emmeans(by="sex")
    assert len(e) == 18 and {"arm", "visit", "sex"} <= set(e.columns)
    # sex is additive: the arm contrasts are the same for both sexes and equal the averaged ones
    c_by = fit.contrasts("pairwise", by="sex", adjust="none")
    c = fit.contrasts("pairwise", adjust="none")
    for sex in ("female", "male"):
        part = c_by[c_by["sex"].astype(str) == sex]
        np.testing.assert_allclose(part["estimate"].to_numpy(), c["estimate"].to_numpy(), rtol=1e-9, atol=1e-12)


def test_satterthwaite_df_equals_brute_force_finite_differences(fits):
    """Analytic dC/dθ and gradient-based Hessian agree with plain finite differences of C(θ) and -2l(θ)."""
    fit = fits["us"]
    prob = _problem(trial())
    theta = fit.theta_
    k = len(theta)

    def C(th):
        return prob.pieces(prob.sigma(th))["Ainv"]

    def f(th):
        return prob.m2ll(th, want_grad=False)[0]

    h = 1e-4
    E = np.eye(k) * h
    H = np.array([[(f(theta + E[i] + E[j]) - f(theta + E[i] - E[j]) - f(theta - E[i] + E[j])
                    + f(theta - E[i] - E[j])) / (4 * h * h) for j in range(k)] for i in range(k)])
    W = np.linalg.inv(0.5 * H)
    dC = np.array([(C(theta + E[j]) - C(theta - E[j])) / (2 * h) for j in range(k)])
    L = fit.reference_grid()[1]
    var = np.einsum("kp,pq,kq->k", L, C(theta), L)
    g = np.einsum("kp,jpq,kq->kj", L, dC, L)
    brute = 2 * var**2 / np.einsum("kj,jl,kl->k", g, W, g)
    np.testing.assert_allclose(fit.df_for(L), brute, rtol=1e-4)


def test_rows_without_group_or_covariate_are_dropped_loudly():
    d = _example_frame()
    d["age"] = 40.0
    d.loc[d["subject"] == "re001", "age"] = np.nan
    d["arm"] = d["arm"].astype(object)
    d.loc[d["subject"] == "us002", "arm"] = None
    with pytest.warns(UserWarning, match="left out"):
        fit = fit_mmrm(d.assign(age=d["age"] + np.arange(len(d)) % 7), covariates=["age"])
    assert fit.n_subjects == 88


def test_instrument_without_rows_is_named():
    """The one analysis-frame helper (massage_outcomes.frames): an instrument the frame does not hold is an error
    naming the ones it does (mmrm's own copy used to return an empty frame), for fit_mmrm and fit_trajectories."""
    from massage_outcomes.trajectories.lmm import fit_trajectories

    d = _example_frame()
    with pytest.raises(DataValidationError, match="instruments found: rmdq"):
        fit_mmrm(d, instrument="pain_nrs")
    with pytest.raises(DataValidationError, match="instruments found: rmdq"):
        fit_trajectories(d, instrument="pain_nrs")
    with pytest.raises(DataValidationError, match="unknown instrument"):
        fit_mmrm(d, instrument="rmdqq")
    assert fit_mmrm(d, instrument="rmdq").n_subjects == fit_mmrm(d).n_subjects

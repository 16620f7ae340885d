"""impute(): the steps (strategies, conditional imputation, pooling), user strategies, delta, errors, tipping."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from massage_outcomes.errors import ArgumentError, DataValidationError
from massage_outcomes.sensitivity import (
    impute,
    intercurrent_events,
    plot_tipping_point,
    tipping_deltas,
    tipping_point,
)
from massage_outcomes.sensitivity.steps import conditional_impute, pool_jackknife, strategy_means

matplotlib.use("Agg")
VISITS = ["v1", "v2", "v3"]


@pytest.fixture(scope="module")
def trial():
    rng = np.random.default_rng(8)
    n = 60
    arm = np.repeat(["ctl", "trt"], n // 2)
    base = rng.normal(10, 2, n)
    S = np.array([[4, 2, 1.5], [2, 4, 2], [1.5, 2, 4]])
    y = 0.5 * base[:, None] + np.array([5.0, 4.0, 3.0]) - (arm == "trt")[:, None] * np.array([0.5, 1.0, 2.0])
    y = y + rng.standard_normal((n, 3)) @ np.linalg.cholesky(S).T
    drop = np.where(rng.random(n) < 0.3, rng.integers(1, 3, n), 3)
    val = np.where(np.arange(3)[None, :] < drop[:, None], y, np.nan)
    long = pd.DataFrame({"subject": np.repeat([f"s{i}" for i in range(n)], 3), "arm": np.repeat(arm, 3),
                         "visit": pd.Categorical(np.tile(VISITS, n), categories=VISITS, ordered=True),
                         "baseline": np.repeat(base, 3), "value": val.ravel()})
    ev = pd.DataFrame({"subject": [f"s{i}" for i in np.flatnonzero(drop < 3)],
                       "visit": [VISITS[d] for d in drop[drop < 3]]})
    return long, ev


def test_strategy_edge_cases():
    own, ref = np.array([[1.0, 2.0, 3.0]] * 3), np.array([[0.5, 1.0, 1.5]] * 3)
    ice = np.array([0, 3, 0])
    mu = strategy_means(own, ref, ice, np.array(["CIR", "CR", "JR"], dtype=object))
    # CIR from the first visit is the reference; CR without an event keeps the own arm; JR from the first: ref
    np.testing.assert_array_equal(mu, [[0.5, 1.0, 1.5], [1.0, 2.0, 3.0], [0.5, 1.0, 1.5]])


def test_conditional_mean_and_draws():
    S = np.array([[2.0, 0.8, 0.3], [0.8, 1.5, 0.6], [0.3, 0.6, 1.0]])
    mu = np.array([[1.0, 2.0, 3.0]])
    Y = np.array([[1.5, np.nan, np.nan]])
    cm = conditional_impute(Y, mu, S)
    expect = mu[0, 1:] + S[1:, :1] @ np.linalg.solve(S[:1, :1], [0.5])
    np.testing.assert_allclose(cm[0, 1:], expect)
    rng = np.random.default_rng(1)
    draws = conditional_impute(np.repeat(Y, 20000, axis=0), np.repeat(mu, 20000, axis=0), S, rng=rng)
    np.testing.assert_allclose(draws[:, 1:].mean(axis=0), expect, atol=0.03)
    cv = S[1:, 1:] - S[1:, :1] @ S[:1, 1:] / S[0, 0]
    np.testing.assert_allclose(np.cov(draws[:, 1:].T), cv, atol=0.04)


def test_jackknife_se_formula():
    jack = np.array([[1.0], [2.0], [3.0]])
    r = pool_jackknife(np.array([2.0]), jack, 0.95)
    assert r["se"][0] == pytest.approx(np.sqrt(2 / 3 * 2))


def test_user_strategy_equals_builtin(trial):
    long, ev = trial
    def my_jr(own, ref, is_mar):
        return np.where(is_mar, own, ref)
    a = impute(long, reference="ctl", events=intercurrent_events(long, events=ev, strategy="JR"))
    b = impute(long, reference="ctl", strategies={"mine": my_jr},
               events=intercurrent_events(long, events=ev, strategy="mine", custom_strategies=["mine"]))
    np.testing.assert_allclose(a.results["estimate"], b.results["estimate"], rtol=1e-12)
    assert b.results["analysis"].iloc[0].startswith("mine")


def test_reference_based_moves_towards_reference(trial):
    long, ev = trial
    mar = impute(long, reference="ctl").results
    jr = impute(long, reference="ctl", events=intercurrent_events(long, events=ev, strategy="JR")).results
    # the effect is negative; JR imputes the dropouts of trt from ctl, so it shrinks towards 0 at the last visit
    assert mar["estimate"].iloc[-1] < jr["estimate"].iloc[-1] < 0


def test_delta_forms_agree(trial):
    long, ev = trial
    res = impute(long, reference="ctl", events=intercurrent_events(long, events=ev, strategy="JR"))
    zero = res.pool(delta=0.0)
    np.testing.assert_allclose(zero["estimate"], res.results["estimate"])
    by_arm = res.pool(delta={"trt": 1.0})
    table = res.pool(delta=pd.DataFrame({"arm": "trt", "visit": VISITS, "delta": 1.0}))
    np.testing.assert_allclose(by_arm["estimate"], table["estimate"])
    # worse values imputed for trt's dropouts: the (negative) effect moves up
    assert np.all(by_arm["estimate"].to_numpy()[1:] > res.results["estimate"].to_numpy()[1:])
    with pytest.raises(ArgumentError, match="arms are"):
        res.pool(delta={"placebo": 1.0})


def test_approxbayes_is_deterministic_given_rng(trial):
    long, _ = trial
    a = impute(long, reference="ctl", method="approxbayes", n_imputations=5, rng=3).results
    b = impute(long, reference="ctl", method="approxbayes", n_imputations=5, rng=np.random.default_rng(3)).results
    pd.testing.assert_frame_equal(a, b)
    assert np.all(np.isfinite(a["df"])) and a["method"].iloc[0] == "approxbayes"


@pytest.mark.parametrize("kwargs, error, message", [
    ({"reference": "placebo"}, ArgumentError, "arms are"),
    ({"reference": "ctl", "method": "approxbayes"}, ArgumentError, "rng="),
    ({"reference": "ctl", "method": "approxbayes", "rng": 1, "n_imputations": 1}, ArgumentError, "at least 2"),
    ({"reference": "ctl", "method": "mice"}, ArgumentError, "condmean"),
    ({"reference": "ctl", "covariates": ["age"]}, DataValidationError, "age"),
])
def test_argument_errors(trial, kwargs, error, message):
    with pytest.raises(error, match=message):
        impute(trial[0], **kwargs)


def test_lmcf_from_first_visit_is_refused(trial):
    long, _ = trial
    ev = intercurrent_events(long, events=pd.DataFrame({"subject": ["s0"], "visit": ["v1"]}), strategy="LMCF")
    with pytest.raises(DataValidationError, match="no earlier mean"):
        impute(long, reference="ctl", events=ev)


def test_custom_strategy_must_be_registered(trial):
    long, ev = trial
    events = intercurrent_events(long, events=ev, strategy="mine", custom_strategies=["mine"])
    with pytest.raises(ArgumentError, match="strategies="):
        impute(long, reference="ctl", events=events)


def test_tipping_grid_and_plot(trial):
    long, ev = trial
    res = impute(long, reference="ctl", events=intercurrent_events(long, events=ev, strategy="MAR"))
    grid = tipping_point(res, deltas={"ctl": [-1.0, 0.0], "trt": np.linspace(0, 6, 7)})
    assert len(grid) == 14 and set(grid["visit"]) == {"v3"}
    tips = tipping_deltas(grid)
    assert np.isfinite(tips["tipping_trt"]).all()  # this grid tips for both control deltas
    for _, row in tips.iterrows():
        g = grid[grid["delta_ctl"] == row["delta_ctl"]].sort_values("delta_trt")
        if np.isfinite(row["tipping_trt"]):
            # the tipping delta lies between the last grid point that excludes zero and the first that does not
            flip = np.flatnonzero(np.diff(g["excludes_zero"].astype(int)) != 0)[0]
            assert g["delta_trt"].iloc[flip] <= row["tipping_trt"] <= g["delta_trt"].iloc[flip + 1]
    ax = plot_tipping_point(grid)
    assert ax.get_xlabel().endswith("ctl")
    with pytest.raises(ArgumentError, match="two arms"):
        plot_tipping_point(tipping_point(res, deltas={"trt": [0.0, 1.0]}))


def test_user_analysis_reproduces_the_default(trial):
    """A user analysis (here the same ANCOVA by statsmodels) on each completed data set pools like the built-in."""
    import statsmodels.formula.api as smf

    long, ev = trial

    def ancova(frame):
        rows = []
        for visit, g in frame.groupby("visit", observed=True):  # visits
            fit = smf.ols("value ~ C(arm, Treatment('ctl')) + baseline", g).fit()
            term = "C(arm, Treatment('ctl'))[T.trt]"
            rows.append({"contrast": "trt - ctl", "visit": str(visit), "estimate": fit.params[term],
                         "se": fit.bse[term], "df": fit.df_resid})
        return pd.DataFrame(rows)

    events = intercurrent_events(long, events=ev, strategy="CIR")
    for kw in ({}, {"method": "approxbayes", "n_imputations": 4, "rng": 5}):
        seen = []
        a = impute(long, reference="ctl", events=events, progress=lambda d, t, s=seen: s.append((d, t)), **kw)
        b = impute(long, reference="ctl", events=events, analysis=ancova, **kw)
        cols = ["estimate", "se", "ci_low", "ci_high", "df", "p_value"]
        np.testing.assert_allclose(a.results[cols].to_numpy(), b.results[cols].to_numpy(), rtol=1e-9)
        assert seen[-1][0] == seen[-1][1] == (4 if kw else 60)
    with pytest.raises(ArgumentError, match="contrast, visit"):
        impute(long, reference="ctl", analysis=lambda f: pd.DataFrame({"x": [1]})).results  # noqa: B018


def test_progress_bar_runs(trial, capsys):
    impute(trial[0], reference="ctl", method="approxbayes", n_imputations=3, rng=1, progress=True)


def test_percentile_p_matches_the_quantile_inverse():
    from massage_outcomes.sensitivity.steps import _percentile_p

    x = np.array([-1.0, 0.5, 1.0, 2.0, 3.0])  # type-6 positions h = 6q; zero lies 2/3 of the way from -1 to 0.5
    assert _percentile_p(x) == pytest.approx(2 * (1 + 2 / 3) / 6)
    assert _percentile_p(np.array([1.0, 2.0])) == 0.0 and _percentile_p(np.zeros(3)) == 1.0


def test_bootstrap_needs_rng(trial):
    with pytest.raises(ArgumentError, match="rng="):
        impute(trial[0], reference="ctl", inference="bootstrap")

"""The imputation model (REML, unstructured) against the library's fit_mmrm on the same data."""

from __future__ import annotations

import formulaic
import numpy as np
import pandas as pd

import massage_outcomes as mo
from massage_outcomes.sensitivity.model import fit_us_reml


def test_matches_fit_mmrm():
    rng = np.random.default_rng(3)
    N, T = 120, 3
    arm = np.repeat(["a", "b"], N // 2)
    base = rng.normal(10, 2, N)
    S = np.array([[4, 2, 1.5], [2, 5, 2.5], [1.5, 2.5, 6]])
    y = 0.5 * base[:, None] + np.array([1, 2, 3]) + (arm == "b")[:, None] * 1.5 + rng.multivariate_normal(
        np.zeros(T), S, N)
    long = pd.DataFrame({"subject": np.repeat(np.arange(N).astype(str), T), "arm": np.repeat(arm, T),
                         "visit": pd.Categorical(np.tile(["v1", "v2", "v3"], N), categories=["v1", "v2", "v3"]),
                         "value": y.ravel(), "baseline": np.repeat(base, T)})
    long.loc[rng.random(len(long)) < 0.2, "value"] = np.nan
    ref = mo.fit_mmrm(long, visit="visit", group="arm")
    X = np.asarray(formulaic.model_matrix("arm * visit + baseline", long)).reshape(N, T, -1)
    Y = long["value"].to_numpy().reshape(N, T)
    fit = fit_us_reml(X, np.nan_to_num(Y), ~np.isnan(Y))
    assert fit.converged
    np.testing.assert_allclose(fit.beta, ref.beta_, atol=1e-6)
    # lane C1 renamed the visit covariance `covariance_` (`sigma_` is its deprecated alias)
    cov = ref.covariance_ if hasattr(ref, "covariance_") else ref.sigma_
    np.testing.assert_allclose(fit.sigma, cov, rtol=1e-5)

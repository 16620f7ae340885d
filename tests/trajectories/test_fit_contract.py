"""One fit contract (issue 14, item 2): both fits are ModelFit dataclasses meeting MarginalModel."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.trajectories import MarginalModel, ModelFit
from massage_outcomes.trajectories.marginal import MarginalMeansMixin
from massage_outcomes.trajectories.mmrm import _example_frame


@pytest.fixture(scope="module")
def fits() -> dict[str, ModelFit]:
    frame = _example_frame()
    return {
        "mmrm": mo.fit_mmrm(frame, covariance="cs"),
        "lmm": mo.fit_trajectories(frame, time="week", random="intercept", timing=None),
    }


SHARED = ["instrument", "group", "time", "time_kind", "method", "formula", "reference", "beta_", "vcov_beta_",
          "fe_names_", "theta_", "loglik", "n_obs", "n_subjects", "converged", "messages"]


@pytest.mark.parametrize("kind", ["mmrm", "lmm"])
def test_both_fits_are_the_same_kind_of_object(fits: dict[str, ModelFit], kind: str) -> None:
    fit = fits[kind]
    assert dataclasses.is_dataclass(fit) and isinstance(fit, ModelFit)
    assert isinstance(fit, MarginalModel)
    names = {f.name for f in dataclasses.fields(fit)}
    assert set(SHARED) <= names
    assert isinstance(fit.n_obs, int) and fit.n_obs > 0
    assert fit.method == "REML" and fit.formula.startswith("value ~")
    assert fit.beta_.shape == (len(fit.fe_names_),) and fit.vcov_beta_.shape == (len(fit.beta_),) * 2
    with pytest.warns(DeprecationWarning, match="n_obs"):
        assert fit.nobs == fit.n_obs


def test_sigma_means_one_thing(fits: dict[str, ModelFit]) -> None:
    lmm, mmrm = fits["lmm"], fits["mmrm"]
    assert isinstance(lmm.sigma_, float)  # type: ignore[attr-defined]
    cov = mmrm.covariance_  # type: ignore[attr-defined]
    assert cov.shape == (3, 3)
    np.testing.assert_allclose(mmrm.covariance.to_numpy(), cov)  # type: ignore[attr-defined]


def test_a_fit_without_the_contract_cannot_be_made() -> None:
    class Half(MarginalMeansMixin):
        def design_rows(self, grid: pd.DataFrame) -> np.ndarray:
            return np.zeros((len(grid), 1))

    with pytest.raises(TypeError, match="abstract"):
        Half()  # type: ignore[abstract]
    assert not isinstance(object(), MarginalModel)

"""fit_mmrm(cluster="therapist"): a therapist random intercept with a residual covariance over visits (issue 12
item 4; R's mmrm declines it), against nlme::lme and lmerTest (tests/reference/mmrm/therapist_reference.R on
therapist.csv, simulated by make_therapist.py: 24 therapists nested in two arms, 240 subjects, 4 visits, dropout).

Tolerances (measured in brackets): log-likelihood at least nlme's - 1e-6 and within 1e-4 [1e-7];
coefficients within 1e-3 of their SE [2e-5]; SEs, τ² and the visit covariance 1e-3 relative [7e-5].
Satterthwaite df: no R package fits this model with them, but compound symmetry (ρ ≥ 0) plus a therapist intercept
is lmer's ``(1 | therapist) + (1 | subject)``, so lmerTest's df are the reference there (1e-3 relative; both sides
differentiate numerically [measured 7e-6]).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from massage_outcomes.errors import ArgumentError, DataValidationError
from massage_outcomes.trajectories.mmrm import MMRMFit, fit_mmrm

HERE = Path(__file__).parents[1] / "reference" / "mmrm"
R = json.loads((HERE / "therapist_reference.json").read_text())
CASES = {"us": {"covariance": "unstructured"}, "cs": {"covariance": "cs", "heterogeneous": False},
         "ar1h": {"covariance": "ar1"}}


def _data() -> pd.DataFrame:
    d = pd.read_csv(HERE / "therapist.csv")
    d["visit"] = pd.Categorical(d["visit"], categories=[f"week_{w}" for w in (2, 4, 8, 12)])
    d["arm"] = pd.Categorical(d["arm"], categories=["usual_care", "massage"])
    return d


def _norm(name: str) -> str:
    name = "(Intercept)" if name == "Intercept" else name
    name = re.sub(r"(\w+)\[T\.([^\]]+)\]", r"\1\2", name)
    return ":".join(sorted(name.split(":")))


@pytest.fixture(scope="module")
def fits() -> dict[str, MMRMFit]:
    d = _data()
    return {k: fit_mmrm(d, cluster="therapist", **kw) for k, kw in CASES.items()}  # type: ignore[arg-type]


def _fe(fit: MMRMFit, names: list[str]) -> pd.DataFrame:
    fe = fit.fixed_effects
    fe.index = [_norm(t) for t in fe["term"]]
    return fe.loc[[_norm(t) for t in names]]


@pytest.mark.parametrize("case", list(CASES))
def test_matches_nlme_lme(fits: dict[str, MMRMFit], case: str) -> None:
    fit, ref = fits[case], R[case]
    assert fit.converged and fit.cluster == "therapist"
    assert fit.loglik >= ref["loglik"] - 1e-6
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-4)
    fe = _fe(fit, ref["names"])
    se = np.asarray(ref["se"])
    np.testing.assert_array_less(np.abs(fe["estimate"].to_numpy() - ref["coef"]) / se, 1e-3)
    np.testing.assert_allclose(fe["se"], se, rtol=1e-3)
    assert fit.cluster_variance_ == pytest.approx(ref["tau2"], rel=1e-3)
    np.testing.assert_allclose(fit.covariance_, np.asarray(ref["residual_cov"]), rtol=1e-3)


def test_satterthwaite_df_match_lmertest(fits: dict[str, MMRMFit]) -> None:
    fit, ref = fits["cs"], R["cs_lmer"]
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-4)
    fe = _fe(fit, ref["names"])
    np.testing.assert_allclose(fe["se"], ref["se"], rtol=1e-3)
    np.testing.assert_allclose(fe["df"], ref["df"], rtol=1e-3)
    # the arm effect is judged against the 24 therapists, not the 240 subjects
    arm_df = float(fe.loc[_norm("arm[T.massage]"), "df"])
    assert 20 < arm_df < 60


def test_the_cluster_matters(fits: dict[str, MMRMFit]) -> None:
    plain = fit_mmrm(_data(), covariance="ar1")
    with_t = fits["ar1h"]
    assert with_t.loglik > plain.loglik + 1.0  # the therapist variance is real in these data
    arm = "arm[T.massage]"
    se = dict(zip(with_t.fixed_effects["term"], with_t.fixed_effects["se"], strict=True))
    se0 = dict(zip(plain.fixed_effects["term"], plain.fixed_effects["se"], strict=True))
    assert se[arm] > se0[arm]
    assert "random intercept per therapist: variance" in with_t.summary()
    assert plain.cluster is None and "random intercept" not in plain.summary()


def test_cluster_errors() -> None:
    d = _data()
    with pytest.raises(ArgumentError, match="Satterthwaite"):
        fit_mmrm(d, cluster="therapist", ddf="kenward-roger")
    crossed = d.copy()
    crossed.loc[crossed.index[1], "therapist"] = "T99"  # one subject seen by two therapists
    with pytest.raises(DataValidationError, match="nested"):
        fit_mmrm(crossed, cluster="therapist")
    few = d[d["therapist"].isin(["T00", "T01"])]
    with pytest.raises(DataValidationError, match="at least 3"):
        fit_mmrm(few, cluster="therapist")

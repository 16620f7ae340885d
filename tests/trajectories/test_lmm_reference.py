"""fit_trajectories against lme4 + lmerTest (numbers in tests/reference/lmm/*_ref.json, scripts beside them).

Tolerances (issue 4): log-likelihood 1e-6 relative, fixed effects 1e-5 relative, SEs and variance components
1e-4, Satterthwaite df 0.5 %. R fits used bobyqa, Nelder_Mead and nlminb and kept the best optimum.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from massage_outcomes.trajectories import fit_trajectories

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"


def _load(name: str) -> dict:
    return json.loads((REF / name).read_text())


SLEEP = _load("sleepstudy_ref.json")
SIM = _load("sim_ref.json")


def _sleep() -> pd.DataFrame:
    d = pd.read_csv(REF / "sleepstudy.csv")
    d["arm"] = "all"
    return d.rename(columns={"Reaction": "value", "Days": "week", "Subject": "subject"})


CASES: dict[str, tuple[dict, str, dict]] = {}
for _r in ("intercept", "slope", "uncorrelated"):
    for _m in ("REML", "ML"):
        CASES[f"sleep_{_r}_{_m}"] = (SLEEP[f"{_r}_{_m}"], "sleep", {"random": _r, "method": _m})
for _m in ("REML", "ML"):
    CASES[f"trial_intercept_{_m}"] = (SIM[f"trial_intercept_{_m}"], "trial.csv", {"random": "intercept", "method": _m})
    CASES[f"trial_slope_{_m}"] = (SIM[f"trial_slope_{_m}"], "trial.csv", {"random": "slope", "method": _m})
    CASES[f"levels_slope_{_m}"] = (
        SIM[f"levels_slope_{_m}"],
        "levels.csv",
        {"random": "slope", "method": _m, "levels": ("subject", "therapist", "clinic")},
    )
CASES["trial_factor_REML"] = (
    SIM["trial_factor_REML"],
    "trial.csv",
    {"random": "intercept", "visit_as_factor": True},
)
CASES["trial_piecewise_REML"] = (SIM["trial_piecewise_REML"], "trial.csv", {"time_basis": ("piecewise", 10)})
CASES["levels_uncorrelated_REML"] = (
    SIM["levels_uncorrelated_REML"],
    "levels.csv",
    {"random": "uncorrelated", "levels": ("subject", "therapist")},
)

_FITS: dict[str, object] = {}


def _fit(case: str):
    if case not in _FITS:
        _, data, kw = CASES[case]
        frame = _sleep() if data == "sleep" else pd.read_csv(REF / data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[case] = fit_trajectories(frame, time="week", group="arm", timing=None, **kw)
    return _FITS[case]


@pytest.mark.parametrize("case", list(CASES))
def test_likelihood_and_fixed_effects(case: str) -> None:
    ref = CASES[case][0]
    fit = _fit(case)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)
    assert fit.aic == pytest.approx(ref["aic"], rel=1e-6)
    assert fit.bic == pytest.approx(ref["bic"], rel=1e-6)
    fe = fit.fixed_effects
    assert len(fe) == len(ref["estimate"])
    scale = np.max(np.abs(ref["estimate"]))
    np.testing.assert_allclose(fe["estimate"], ref["estimate"], rtol=1e-5, atol=1e-7 * scale)
    np.testing.assert_allclose(fe["se"], ref["se"], rtol=1e-4)
    assert fit.sigma_ == pytest.approx(ref["sigma"], rel=1e-4)


@pytest.mark.parametrize("case", list(CASES))
def test_satterthwaite_df(case: str) -> None:
    ref = CASES[case][0]
    fit = _fit(case)
    np.testing.assert_allclose(fit.fixed_effects["df"], ref["df"], rtol=5e-3)
    if "L_df" in ref:
        L = np.asarray([[0, 1, -1, 0, 26, -26], [0, 1, 0, 0, 10, 0], [0, 0, 0, 1, 0.5, 0.5]], dtype=float)
        np.testing.assert_allclose(L @ fit.beta_, ref["L_estimate"], rtol=1e-5)
        np.testing.assert_allclose(fit.df_for(L), ref["L_df"], rtol=5e-3)


def _r_components(ref: dict) -> tuple[dict, dict]:
    var, cov = {}, {}
    for grp, v1, v2, vc in zip(ref["vc_grp"], ref["vc_var1"], ref["vc_var2"], ref["vc_vcov"], strict=True):
        grp = grp.split(".")[0]
        grp = "subject" if grp == "Subject" else grp
        v1 = "week" if v1 == "Days" else v1
        v2 = "week" if v2 == "Days" else v2
        if grp == "Residual":
            var[("Residual", "")] = vc
        elif v2 is None or v2 == "NA":
            var[(grp, "(Intercept)" if v1 == "(Intercept)" else v1)] = vc
        else:
            cov[(grp, v2)] = vc
    return var, cov


@pytest.mark.parametrize("case", list(CASES))
def test_variance_components(case: str) -> None:
    ref = CASES[case][0]
    fit = _fit(case)
    var, cov = _r_components(ref)
    vc = fit.variance_components
    total = vc["variance"].sum()
    got = {(g, t): v for g, t, v in zip(vc["group"], vc["term"], vc["variance"], strict=True)}
    assert set(got) == set(var)
    for key, value in var.items():
        assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-7 * total), key
    for (grp, term), value in cov.items():
        row = vc[(vc["group"] == grp) & (vc["term"] == term)].iloc[0]
        icpt = vc[(vc["group"] == grp) & (vc["term"] == "(Intercept)")].iloc[0]
        assert row["corr"] * row["sd"] * icpt["sd"] == pytest.approx(value, rel=1e-4, abs=1e-7 * total)


@pytest.mark.parametrize("case", ["sleep_slope_REML", "trial_slope_REML", "levels_slope_REML"])
def test_singular_flag_matches_lme4(case: str) -> None:
    ref = CASES[case][0]
    fit = _fit(case)
    lme4_singular = bool(np.any(np.isclose(ref["theta"], 0.0, atol=1e-4) & (np.arange(len(ref["theta"])) != 1)))
    assert fit.singular == lme4_singular


KR_CASES = [c for c in CASES if c.endswith("_REML") and not c.startswith("levels")]


@pytest.mark.parametrize("case", KR_CASES)
def test_kenward_roger_matches_pbkrtest(case: str) -> None:
    ref, data, kw = CASES[case]
    frame = _sleep() if data == "sleep" else pd.read_csv(REF / data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_trajectories(frame, time="week", group="arm", timing=None, ddf="kenward-roger", **kw)
    fe = fit.fixed_effects
    np.testing.assert_allclose(fe["df"], ref["kr_df"], rtol=5e-3)
    np.testing.assert_allclose(fe["se"], ref["kr_se"], rtol=1e-4)


def test_blups_match_lme4_ranef() -> None:
    ref = SLEEP["slope_REML"]
    fit = _fit("sleep_slope_REML")
    re = fit.random_effects.set_index("level").loc[[str(s) for s in ref["ranef_subject"]]]
    np.testing.assert_allclose(re["(Intercept)"], ref["ranef_intercept"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(re["week"], ref["ranef_slope"], rtol=1e-4, atol=1e-5)

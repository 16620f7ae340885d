"""The reference level of the group (issue 14, bug 3): ``reference=`` on both fits, the control arm by default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.errors import ArgumentError


@pytest.fixture(scope="module")
def trial() -> mo.Dataset:
    return mo.load_sample("trial")


@pytest.fixture(scope="module")
def mmrm_fits(trial: mo.Dataset) -> dict[str | None, object]:
    return {ref: mo.fit_mmrm(trial, instrument="rmdq", reference=ref) for ref in (None, "relaxation")}


@pytest.fixture(scope="module")
def lmm_fits(trial: mo.Dataset) -> dict[str | None, object]:
    return {ref: mo.fit_trajectories(trial, instrument="rmdq", time="week", random="intercept", reference=ref)
            for ref in (None, "relaxation")}


def _arm_terms(fit: object) -> list[str]:
    return [t for t in fit.fixed_effects["term"] if t.startswith("arm[T.") and ":" not in t]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["mmrm", "lmm"])
def test_default_reference_is_the_control_arm(kind: str, mmrm_fits: dict, lmm_fits: dict) -> None:
    fit = (mmrm_fits if kind == "mmrm" else lmm_fits)[None]
    assert fit.reference == "usual_care"
    assert _arm_terms(fit) == ["arm[T.relaxation]", "arm[T.therapeutic]"]
    assert "reference arm: usual_care (the control arm" in fit.summary()


@pytest.mark.parametrize("kind", ["mmrm", "lmm"])
def test_reference_argument(kind: str, mmrm_fits: dict, lmm_fits: dict) -> None:
    fit = (mmrm_fits if kind == "mmrm" else lmm_fits)["relaxation"]
    assert fit.reference == "relaxation"
    assert _arm_terms(fit) == ["arm[T.therapeutic]", "arm[T.usual_care]"]
    assert "reference arm: relaxation (reference='relaxation')" in fit.summary()


@pytest.mark.parametrize("kind", ["mmrm", "lmm"])
def test_reference_moves_no_marginal_mean(kind: str, mmrm_fits: dict, lmm_fits: dict) -> None:
    fits = mmrm_fits if kind == "mmrm" else lmm_fits
    a, b = fits[None].emmeans(), fits["relaxation"].emmeans()
    # same rows in the same (display) order, whatever the coefficients are measured against
    assert a.iloc[:, :2].astype(str).values.tolist() == b.iloc[:, :2].astype(str).values.tolist()
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-4)
    ca, cb = fits[None].contrasts("pairwise", adjust="none"), fits["relaxation"].contrasts("pairwise", adjust="none")
    assert ca["contrast"].tolist() == cb["contrast"].tolist()
    np.testing.assert_allclose(ca["estimate"], cb["estimate"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(ca["df"], cb["df"], rtol=1e-3)


def test_mmrm_coefficient_is_the_contrast_at_the_first_visit(mmrm_fits: dict) -> None:
    fit = mmrm_fits[None]
    fe = fit.fixed_effects.set_index("term")["estimate"]
    c = fit.contrasts("therapeutic - usual_care", adjust="none", effect_size=False)
    first = c[c["visit"].astype(str) == fit.visits[0]]
    assert fe["arm[T.therapeutic]"] == pytest.approx(float(first["estimate"].iloc[0]), abs=1e-8)


@pytest.mark.parametrize("kind", ["mmrm", "lmm"])
def test_trt_vs_ctrl_uses_the_fit_reference(kind: str, mmrm_fits: dict, lmm_fits: dict) -> None:
    fit = (mmrm_fits if kind == "mmrm" else lmm_fits)[None]
    c = fit.contrasts("trt.vs.ctrl", adjust="none", effect_size=False)
    assert sorted(set(c["contrast"])) == ["relaxation - usual_care", "therapeutic - usual_care"]


def test_no_intent_keeps_the_first_level() -> None:
    from massage_outcomes.trajectories.mmrm import _example_frame

    frame = _example_frame().drop(columns=["instrument"])
    frame["arm"] = frame["arm"].astype(str)  # no categorical order: sorted, as R does
    fit = mo.fit_mmrm(frame, covariance="cs")
    assert fit.reference == "relaxation"
    assert "first level" in fit.summary()
    frame["intent"] = np.where(frame["arm"] == "usual_care", "control", "therapeutic")
    assert mo.fit_mmrm(frame, covariance="cs").reference == "usual_care"


def test_two_control_arms_fall_back_with_the_reason() -> None:
    from massage_outcomes.trajectories.mmrm import _example_frame

    frame = _example_frame()
    frame["intent"] = np.where(frame["arm"] == "therapeutic", "therapeutic", "control")
    fit = mo.fit_mmrm(frame, covariance="cs")
    assert fit.reference == "therapeutic"  # the categorical's first level
    assert "2 arms have intent 'control'" in fit.summary()


@pytest.mark.parametrize("fitter", [mo.fit_mmrm, mo.fit_trajectories])
def test_unknown_reference_is_an_argument_error(trial: mo.Dataset, fitter: object) -> None:
    with pytest.raises(ArgumentError, match=r"reference='sham' is not a level of 'arm'.*usual_care"):
        fitter(trial, instrument="rmdq", reference="sham")  # type: ignore[operator]


def test_group_intent_prefers_control() -> None:
    from massage_outcomes.trajectories.mmrm import _example_frame

    frame = _example_frame()
    frame["intent"] = pd.Categorical(frame["arm"].map(
        {"therapeutic": "therapeutic", "relaxation": "relaxation", "usual_care": "control"}))
    fit = mo.fit_mmrm(frame, group="intent", covariance="cs")
    assert fit.reference == "control"

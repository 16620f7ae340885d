"""Moment bootstrap: reproducible, draws on request, O(n) jackknife equals refits, agrees with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from massage_outcomes.effects.bootstrap import bootstrap_moments
from massage_outcomes.effects.estimators import between_point, paired_point
from massage_outcomes.effects.summary import Moments, PairedMoments


def _stat_between(measure: str):  # type: ignore[no-untyped-def]
    return lambda m: between_point(m[0], m[1], measure=measure)


def _np_moments(x: np.ndarray, axis: int = -1) -> Moments:
    m = x.mean(axis)
    return Moments(np.full(m.shape, float(x.shape[axis])), m, ((x - np.expand_dims(m, axis)) ** 2).sum(axis))


def test_seeded_and_draws_returned() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.4, 1, 25), rng.normal(0, 1, 30)
    r1 = bootstrap_moments([[a, b]], _stat_between("hedges_g"), rng=11, return_draws=True, n_resamples=500)
    r2 = bootstrap_moments([[a, b]], _stat_between("hedges_g"), rng=11, n_resamples=500)
    assert r1.draws is not None and r1.draws.shape == (500, 1)
    assert r2.draws is None
    assert r1.ci_low[0] == r2.ci_low[0] and r1.ci_high[0] == r2.ci_high[0]


@pytest.mark.parametrize("integer", [False, True])
def test_acceleration_equals_jackknife_refits(integer: bool) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, 1, 40), rng.normal(0, 1.3, 35)
    if integer:
        a, b = np.round(a * 2), np.round(b * 2)
    res = bootstrap_moments([[a, b]], _stat_between("cohens_d"), n_resamples=200, rng=0)
    # brute-force jackknife (scipy's two-sample formula)
    nums, dens = 0.0, 0.0
    for j, s in enumerate((a, b)):
        th = []
        for i in range(s.size):
            loo = np.delete(s, i)
            xs = [a, b]
            xs[j] = loo
            th.append(float(between_point(Moments.from_values(xs[0]), Moments.from_values(xs[1]), measure="cohens_d")))
        th = np.array(th)
        U = (s.size - 1) * (th.mean() - th)
        nums += (U**3).sum() / s.size**3
        dens += (U**2).sum() / s.size**2
    assert res.accel[0] == pytest.approx(nums / (6 * dens**1.5), rel=1e-8)


@pytest.mark.parametrize("integer", [False, True])
def test_agrees_with_scipy_within_monte_carlo_error(integer: bool) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.6, 1, 60), rng.normal(0, 1, 50)
    if integer:
        a, b = np.round(a * 2), np.round(b * 2)
    ours = bootstrap_moments([[a, b]], _stat_between("hedges_g"), n_resamples=4000, rng=3)
    ref = stats.bootstrap(
        (a, b), lambda x, y, axis=-1: between_point(_np_moments(x, axis), _np_moments(y, axis), measure="hedges_g"),
        n_resamples=4000, method="BCa", rng=np.random.default_rng(4), vectorized=True,
    )
    se = ours.se[0]
    assert abs(ours.ci_low[0] - ref.confidence_interval.low) < 0.12 * se * 2
    assert abs(ours.ci_high[0] - ref.confidence_interval.high) < 0.12 * se * 2


def test_paired_bootstrap_many_groups() -> None:
    rng = np.random.default_rng(5)
    groups = []
    for _ in range(4):
        x = rng.normal(5, 1, 30)
        groups.append([np.column_stack([x, x - 1 + rng.normal(0, 1, 30)])])
    res = bootstrap_moments(groups, lambda m: paired_point(m[0], measure="g_z"), n_resamples=1000, rng=6)
    assert res.estimate.shape == (4,)
    assert np.all(res.ci_low < res.estimate) and np.all(res.estimate < res.ci_high)
    one = PairedMoments.from_values(groups[0][0][:, 0], groups[0][0][:, 1])
    assert res.estimate[0] == pytest.approx(float(paired_point(one, measure="g_z")))

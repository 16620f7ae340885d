"""Vectorized noncentral-t inversion and the BCa helper."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from massage_outcomes.effects.intervals import bca_interval, nct_ncp_interval, percentile_interval


@pytest.mark.parametrize(("t", "df"), [(0.0, 2.0), (1e-9, 5.0), (2.5, 18.0), (-4.0, 3.0), (12.0, 40.0),
                                       (45.0, 28000.0), (0.3, 1.0)])
def test_ncp_limits_solve_the_cdf_equations(t: float, df: float) -> None:
    lo, hi = nct_ncp_interval(t, df, 0.95)
    for target, root in ((0.975, lo), (0.025, hi)):
        ref = optimize.brentq(lambda x, p=target: stats.nct.cdf(t, df, x) - p, t - 10, t + 10, xtol=1e-14)
        assert float(root) == pytest.approx(ref, rel=1e-9, abs=1e-10)


def test_many_groups_at_once_and_invalid_inputs() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(1, 3, 3000)
    df = rng.integers(2, 5000, 3000).astype(float)
    lo, hi = nct_ncp_interval(t, df, 0.9)
    assert np.abs(stats.nct.cdf(t, df, lo) - 0.95).max() < 1e-10
    assert np.abs(stats.nct.cdf(t, df, hi) - 0.05).max() < 1e-10
    lo, hi = nct_ncp_interval(np.array([np.nan, 1.0]), np.array([5.0, 0.0]))
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_bca_reduces_to_percentile_without_bias_or_acceleration() -> None:
    draws = np.linspace(-1, 1, 2001)[:, None]
    lo, hi = bca_interval(draws, np.array([0.0]), np.array([0.0]))
    plo, phi = percentile_interval(draws)
    np.testing.assert_allclose([lo[0], hi[0]], [plo[0], phi[0]], atol=1e-3)

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


def test_p_values_from_the_interval_beta_match_stdtr_and_closed_forms() -> None:
    """p-values that come with the exact interval (from its incomplete beta where p ≥ 1e-3, else stdtr) agree
    with 2·stdtr; on df 1 and 2 they equal the closed forms 1 − 2·atan(t)/π and 1 − t/√(2 + t²)."""
    from massage_outcomes.effects.intervals import nct_ncp_interval_p, t_p_two_sided

    rng = np.random.default_rng(12)
    t = np.concatenate([rng.normal(0.0, 2.0, 3000), [0.0, 1e-9, 8.0, -40.0, np.inf, -np.inf, np.nan, 1.0, 2.0]])
    df = np.concatenate([rng.integers(1, 400, 3000).astype(float), [5.0, 5.0, 250.0, 30.0, 9.0, 9.0, 9.0, 0.0,
                                                                      -1.0]])
    lo, hi, p = nct_ncp_interval_p(t, df)
    ref = t_p_two_sided(t, df)
    lo2, hi2 = nct_ncp_interval(t, df)
    assert np.array_equal(lo, lo2, equal_nan=True) and np.array_equal(hi, hi2, equal_nan=True)
    assert np.array_equal(np.isnan(p), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(p[ok], ref[ok], rtol=2e-12, atol=0)
    small = ok & (ref < 1e-3)
    assert small.sum() > 20 and np.array_equal(p[small], ref[small])  # tiny p: stdtr itself
    for nu, exact in ((1.0, lambda x: 1 - 2 * np.arctan(x) / np.pi), (2.0, lambda x: 1 - x / np.sqrt(2 + x * x))):
        tt = np.array([1e-5, 1e-3, 0.1, 0.5, 1.0, 3.0])
        p1 = nct_ncp_interval_p(tt, nu)[2]
        np.testing.assert_allclose(p1, exact(tt), rtol=0, atol=3e-16)


def test_halves_on_two_threads_give_the_single_call_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large 1-d calls of a scipy special function are split over two threads: the same values as one call;
    after a fork (another pid) a fresh worker pool is made rather than the parent's dead one used."""
    import os

    from scipy import special

    from massage_outcomes.effects import intervals

    rng = np.random.default_rng(13)
    n = 3 * intervals._HALVES_MIN + 1
    b, x = rng.uniform(0.5, 200.0, n), rng.uniform(0.0, 1.0, n)
    a = np.full(n, 0.5)
    assert np.array_equal(intervals._halves(special.betainc, a, b, x), special.betainc(a, b, x))
    assert intervals._POOL is not None and intervals._POOL[0] == os.getpid()
    stale = intervals._POOL[1]
    monkeypatch.setattr(intervals, "_POOL", (-1, stale))  # as if inherited through fork
    df, t = rng.integers(1, 300, n).astype(float), rng.normal(0.0, 3.0, n)
    assert np.array_equal(intervals._halves(special.stdtr, df, t), special.stdtr(df, t))
    assert intervals._POOL[0] == os.getpid() and intervals._POOL[1] is not stale
    small = intervals._halves(special.stdtr, df[:10].reshape(2, 5), t[:10].reshape(2, 5))  # not split
    assert np.array_equal(small, special.stdtr(df[:10], t[:10]).reshape(2, 5))

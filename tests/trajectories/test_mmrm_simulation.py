"""Simulation checks of fit_mmrm under MAR dropout: unbiased arm x visit contrasts and 95% CI coverage.

The quick test runs 10 replications; the coverage study (500 replications, about 2 minutes) runs only with
MO_SLOW=1 (``MO_SLOW=1 pytest -m slow tests/trajectories/test_mmrm_simulation.py``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from massage_outcomes.trajectories.mmrm import _example_frame, fit_mmrm

# truth of _example_frame: therapeutic - usual_care at week 4, 10, 26 (dropout depends on the previous value: MAR)
TRUTH = np.array([-2.0, -3.5, -2.0])


def _replicate(seeds: range, n_per_arm: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    est, low, high = [], [], []
    for seed in seeds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_mmrm(_example_frame(n_per_arm=n_per_arm, seed=seed))
        c = fit.contrasts("therapeutic - usual_care", adjust="none", effect_size=False)
        est.append(c["estimate"].to_numpy())
        low.append(c["ci_low"].to_numpy())
        high.append(c["ci_high"].to_numpy())
    return np.array(est), np.array(low), np.array(high)


def test_contrasts_unbiased_under_mar_dropout_quick():
    est, low, high = _replicate(range(100, 110), n_per_arm=30)
    bias = est.mean(axis=0) - TRUTH
    se_mc = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert np.all(np.abs(bias) < 4 * se_mc), (bias, se_mc)
    cover = ((low <= TRUTH) & (TRUTH <= high)).mean()
    assert cover > 0.8


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("MO_SLOW") != "1", reason="coverage study: set MO_SLOW=1")
def test_coverage_500_replications():
    est, low, high = _replicate(range(1000, 1500), n_per_arm=40)
    cover = ((low <= TRUTH) & (TRUTH <= high)).mean(axis=0)
    bias = est.mean(axis=0) - TRUTH
    se_mc = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert np.all(np.abs(bias) < 3.5 * se_mc), (bias, se_mc)
    assert np.all((cover >= 0.93) & (cover <= 0.97)), cover

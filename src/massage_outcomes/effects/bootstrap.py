"""Nonparametric bootstrap of moment-based effect sizes, vectorized over resamples, with an O(n) BCa jackknife.

A resample of a sample changes only its moments, and the moments are linear in the resample counts: with counts
``w`` (how often each row is drawn), the resampled sums are ``w @ Z`` for the centred columns ``Z = [x − c,
(x − c)², ...]``. So each group's ``B`` resamples cost one matrix product. When a sample has few distinct rows
(integer rating scales such as the 0–10 pain NRS: at most 21 distinct change values) the counts are drawn from a
multinomial over the distinct rows, which is exactly the same distribution as drawing row indices, at a cost of
``B × k`` instead of ``B × n``. Otherwise each resample draws n row indices, exactly uniformly, in one
pass that adds the drawn rows' centred values into the resample's sums as it goes
(:func:`~massage_outcomes.effects._kernels.resampled_sums`: one xoshiro256** stream per resample, the same draws
and sums in numpy and, for large bootstraps where numba is installed, compiled and parallel over resamples),
reproducible for a seed whatever the path or the number of threads.

The BCa acceleration comes from the jackknife (Efron 1987), computed with leave-one-out *moment updates* for each
distinct row rather than n refits; for several samples the per-sample influence values are combined as in
Efron & Tibshirani (1993, ch. 14) and :func:`scipy.stats.bootstrap`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from massage_outcomes.effects import _kernels
from massage_outcomes.effects.intervals import bca_interval, percentile_interval
from massage_outcomes.effects.summary import Moments, PairedMoments
from massage_outcomes.errors import ArgumentError

__all__ = ["BootstrapResult", "bootstrap_moments", "sample_moments"]

AnyMoments = Moments | PairedMoments
Statistic = Callable[[Sequence[AnyMoments]], np.ndarray]



@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Bootstrap output for G groups: estimate (G,), ci_low/ci_high (G,), se (G,), accel (G,), draws (B, G) or None."""

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    se: np.ndarray
    accel: np.ndarray
    draws: np.ndarray | None
    method: str
    n_resamples: int


def sample_moments(rows: np.ndarray) -> AnyMoments:
    """Moments of one sample given as (n,) values or (n, 2) pairs."""
    rows = np.asarray(rows, dtype=float)
    if rows.ndim == 1:
        return Moments.from_values(rows)
    return PairedMoments.from_values(rows[:, 0], rows[:, 1])


def _centred(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows (sorted), their counts, the centre c (mean of the distinct rows) and the centred distinct rows."""
    paired = rows.ndim == 2
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    if not paired:
        uniq = uniq.reshape(-1)
    k = uniq.shape[0]
    if paired:
        c = uniq.mean(axis=0) if k else np.zeros(2)
    else:
        c = np.array([uniq.mean() if k else 0.0])
    return uniq, counts, c, uniq - (c if paired else c[0])


def _moments_from_sums(S: np.ndarray, n: int, c: np.ndarray, paired: bool) -> AnyMoments:
    """(B,) moments from resampled sums of centred rows: (Σx, Σx²) or (Σx, Σy, Σx², Σy², Σxy)."""
    nn = np.full(S.shape[0], float(n))
    if paired:
        sx, sy, sxx, syy, sxy = S.T
        return PairedMoments(
            nn, c[0] + sx / n, c[1] + sy / n,
            np.maximum(sxx - sx * sx / n, 0.0), np.maximum(syy - sy * sy / n, 0.0), sxy - sx * sy / n,
        )
    sx, sxx = S.T
    return Moments(nn, c[0] + sx / n, np.maximum(sxx - sx * sx / n, 0.0))


def _empty_moments(B: int, paired: bool) -> AnyMoments:
    nan = np.full(B, np.nan)
    return PairedMoments(np.zeros(B), nan, nan, nan, nan, nan) if paired else Moments(np.zeros(B), nan, nan)


def _multinomial_sums(dz: np.ndarray, counts: np.ndarray, n: int, B: int, rng: np.random.Generator) -> np.ndarray:
    """Resampled sums for a sample with few distinct rows: multinomial counts over them (same law as index draws)."""
    if dz.ndim == 1:
        Z = np.column_stack([dz, dz * dz])
    else:
        dx, dy = dz[:, 0], dz[:, 1]
        Z = np.column_stack([dx, dy, dx * dx, dy * dy, dx * dy])
    W = rng.multinomial(n, counts / n, size=B).astype(float)
    return W @ Z


def _resample_all(
    samples: list[list[np.ndarray]], B: int, rng: np.random.Generator, key: int
) -> tuple[list[list[AnyMoments]], list[list[np.ndarray]], list[list[np.ndarray]]]:
    """(B,) resampled moments of every sample of every group, plus the distinct rows and their counts.

    Samples with few distinct rows (k·4 ≤ n: rating scales) draw multinomial counts from ``rng``, in group
    order; the others are resampled by row index in one call of
    :func:`~massage_outcomes.effects._kernels.resampled_sums`, whose draws depend only on ``key`` and the
    sample's position among them.
    """
    S, G = len(samples), len(samples[0])
    boot: list[list[AnyMoments | None]] = [[None] * G for _ in range(S)]
    uniqs: list[list[np.ndarray]] = [[np.zeros(0)] * G for _ in range(S)]
    cnts: list[list[np.ndarray]] = [[np.zeros(0, dtype=np.int64)] * G for _ in range(S)]
    pending: dict[bool, list[tuple[int, int, np.ndarray, np.ndarray]]] = {False: [], True: []}
    for g in range(G):
        for s in range(S):
            rows = samples[s][g]
            paired = rows.ndim == 2
            n = rows.shape[0]
            uniq, counts, c, dz = _centred(rows)
            uniqs[s][g], cnts[s][g] = uniq, counts
            if n == 0:
                boot[s][g] = _empty_moments(B, paired)
            elif uniq.shape[0] * 4 <= n:
                boot[s][g] = _moments_from_sums(_multinomial_sums(dz, counts, n, B, rng), n, c, paired)
            else:
                pending[paired].append((s, g, np.repeat(dz, counts, axis=0), c))
    for paired, items in pending.items():
        if not items:
            continue
        rows_all = np.concatenate([it[2] for it in items], axis=0)
        offsets = np.concatenate([[0], np.cumsum([it[2].shape[0] for it in items])]).astype(np.int64)
        # paired and unpaired samples never share a call, so give them different keys
        k = (key + (0x9E3779B97F4A7C15 if paired else 0)) % 2**64
        sums = _kernels.resampled_sums(rows_all, offsets, B, k)
        for t, (s, g, z, c) in enumerate(items):
            boot[s][g] = _moments_from_sums(sums[t], z.shape[0], c, paired)
    return boot, uniqs, cnts  # type: ignore[return-value]


def _stack(ms: Sequence[AnyMoments], axis: int) -> AnyMoments:
    first = ms[0]
    if isinstance(first, PairedMoments):
        names = ("n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy")
        return PairedMoments(*(np.stack([getattr(m, k) for m in ms], axis=axis) for k in names))
    return Moments(*(np.stack([getattr(m, k) for m in ms], axis=axis) for k in ("n", "mean", "m2")))


def _take(m: AnyMoments, idx: np.ndarray) -> AnyMoments:
    return m[idx]


def bootstrap_moments(
    groups: Sequence[Sequence[np.ndarray]],
    statistic: Statistic,
    *,
    n_resamples: int = 2000,
    method: str = "bca",
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
    return_draws: bool = False,
) -> BootstrapResult:
    """Bootstrap a moment-based statistic for many groups at once.

    Parameters
    ----------
    groups : for each of G groups, the list of its samples (each resampled independently: e.g. the two arms of
        a between-group comparison; one (n, 2) array of pairs for a within-subject effect)
    statistic : maps a list of moments (one per sample, arrays of any common shape) to an array of that shape;
        e.g. ``lambda m: between_point(m[0], m[1], measure="hedges_g")``
    n_resamples : B
    method : "bca" or "percentile"
    level : confidence level
    rng : a numpy Generator or a seed (explicit randomness; None draws fresh entropy)
    return_draws : keep the (B, G) matrix of replicates

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> import numpy as np
    >>> from massage_outcomes.effects.estimators import between_point
    >>> rng = np.random.default_rng(1)
    >>> a, b = rng.normal(0.5, 1, 40), rng.normal(0, 1, 40)
    >>> res = bootstrap_moments([[a, b]], lambda m: between_point(m[0], m[1], measure="cohens_d"), rng=7)
    >>> bool(res.ci_low[0] < res.estimate[0] < res.ci_high[0])
    True
    """
    if method not in ("bca", "percentile"):
        raise ArgumentError(f"`method` must be 'bca' or 'percentile', got {method!r}.")
    if n_resamples < 100:
        raise ArgumentError(f"`n_resamples` must be at least 100 (got {n_resamples}); use 2000 or more for BCa.")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    G = len(groups)
    if G == 0:
        empty = np.zeros(0)
        return BootstrapResult(empty, empty, empty, empty, empty, np.zeros((n_resamples, 0)) if return_draws else None, method, n_resamples)
    S = len(groups[0])
    samples = [[np.asarray(g[s], dtype=float) for g in groups] for s in range(S)]
    # drop incomplete rows
    for s in range(S):
        for gi, arr in enumerate(samples[s]):
            samples[s][gi] = arr[~np.isnan(arr).any(axis=1)] if arr.ndim == 2 else arr[~np.isnan(arr)]
    full = [_stack([sample_moments(samples[s][g]) for g in range(G)], axis=0) for s in range(S)]
    estimate = np.asarray(statistic(full), dtype=float)
    # one draw from the caller's generator keys the index resampling (drawn first, as before: the multinomial
    # draws of rating-scale samples that follow are unchanged)
    key = int(gen.integers(0, 2**63 - 1))
    boot_ms, uniqs, cnts = _resample_all(samples, n_resamples, gen, key)
    stacked = [_stack(boot_ms[s], axis=1) for s in range(S)]  # (B, G)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        draws = np.asarray(statistic(stacked), dtype=float)
    with np.errstate(invalid="ignore"):
        se = np.nanstd(draws, axis=0, ddof=1) if n_resamples > 1 else np.full(G, np.nan)
    if method == "percentile":
        lo, hi = percentile_interval(draws, level)
        accel = np.full(G, np.nan)
    else:
        accel = _acceleration(full, samples, uniqs, cnts, statistic, G, S)
        lo, hi = bca_interval(draws, estimate, accel, level)
    return BootstrapResult(estimate, lo, hi, se, accel, draws if return_draws else None, method, n_resamples)


def _acceleration(
    full: list[AnyMoments],
    samples: list[list[np.ndarray]],
    uniqs: list[list[np.ndarray]],
    cnts: list[list[np.ndarray]],
    statistic: Statistic,
    G: int,
    S: int,
) -> np.ndarray:
    num = np.zeros(G)
    den = np.zeros(G)
    for s in range(S):
        gidx = np.concatenate([np.full(len(cnts[s][g]), g) for g in range(G)]).astype(np.int64)
        if gidx.size == 0:
            continue
        weights = np.concatenate(cnts[s]).astype(float)
        u = np.concatenate([np.atleast_1d(uniqs[s][g]) if uniqs[s][g].ndim == 1 else uniqs[s][g] for g in range(G)], axis=0)
        ms = [_take(full[j], gidx) for j in range(S)]
        cur = ms[s]
        ms[s] = cur.drop_one(u[:, 0], u[:, 1]) if isinstance(cur, PairedMoments) else cur.drop_one(u)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            theta = np.asarray(statistic(ms), dtype=float)
        n = np.bincount(gidx, weights=weights, minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            tbar = np.bincount(gidx, weights=weights * theta, minlength=G) / n
            U = (n[gidx] - 1) * (tbar[gidx] - theta)
            num += np.bincount(gidx, weights=weights * U**3, minlength=G) / n**3
            den += np.bincount(gidx, weights=weights * U**2, minlength=G) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / (6.0 * den**1.5)

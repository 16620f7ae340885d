"""Compiled (numba) kernels behind the effect-size engine, each with a tested numpy/scipy/pandas fallback.

Every kernel here replaced a library call that measured slower in ``benchmarks/bench_effects.py`` (numbers
there and at each kernel); with numba missing, ``HAVE_NUMBA`` is False and the callers use the library path.
All compile with ``cache=True`` (first use in a fresh environment compiles them all in ~10-15 s).

1. **Bootstrap sums** (:func:`resampled_sums`). A bootstrap of G two-arm groups with B resamples over N rows
   needs B × N uniformly drawn row indices (2,000 × 100k = 200M in benchmark (c) of issue 3). With numpy each
   index is drawn into an array, bounded, gathered with ``take`` and summed in separate passes: about 3.5 ns
   per index however the chunks were sized (0.75 s for benchmark (c)). The kernel draws each index, bounds it
   and adds the row's centred value and square into per-resample accumulators in one loop, without
   materializing anything, parallel over resamples: 0.29-0.34 s on one thread, 0.19-0.26 s on two.

   Random numbers: every (sample, resample) pair has its own xoshiro256** stream (Blackman & Vigna 2021),
   seeded with SplitMix64 from a 64-bit key and the pair's index, so the draws depend only on the key and never
   on the number of threads or on the order in which threads run. Row indices are drawn exactly uniformly with
   Lemire's (2019) multiply-shift *with rejection* on 32-bit halves of each 64-bit output (unbiased; samples
   must have fewer than 2**32 rows).
2. **Noncentral t** (:func:`solve_ncp`, :func:`nct_cdf`): the exact-interval iteration of
   :mod:`~massage_outcomes.effects.intervals` with the CDF from the AS 243 series (Lenth 1989, as R's ``pt``):
   6-8 ms instead of 39-44 ms for 5,005 groups (scipy's ``nctdtr`` costs ~1.4 µs per call), then ~2 ms on two
   threads once each group's series terms were shared by both limits and every secant step.
3. **Grouping** (:func:`factorize_strings`, :func:`match_two_strings`, :func:`combine_codes`,
   :func:`arm_group_codes`, :func:`grouped_moments`): hash factorization of Arrow string labels, branch-free
   matching of the two arm labels, combination of key codes and per-group moments, each one or two passes
   over the rows where pandas/numpy made several. The row passes over labels and codes run in parallel (the
   label look-up over fixed blocks after learning the labels on a prefix) and give the same integers on any
   number of threads; the moments are summed per fixed chunk of rows (see ``MOMENT_CHUNK``: thread-count
   independent, and no less accurate than the row-order sum). Benchmark (b) of issue 3, 1M rows and 5,005
   groups, string labels: 34 ms -> 20.6-29 ms with every result bit for bit the same, then 13.3-13.5 ms on a
   quiet machine after the second round (numbers in the benchmark's docstring).

References
----------
Lenth RV (1989) Algorithm AS 243: cumulative distribution function of the non-central t distribution. Applied
Statistics 38(1):185-189. doi:10.2307/2347693.
Lemire D (2019) Fast random integer generation in an interval. ACM TOMACS 29(1):3. doi:10.1145/3230636.
Blackman D, Vigna S (2021) Scrambled linear pseudorandom number generators. ACM TOMS 47(4):36.
doi:10.1145/3460772.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # numba is a declared dependency; the numpy path in bootstrap.py is the (tested) fallback
    import numba
    from numba import njit, prange

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised by forcing HAVE_NUMBA=False in the tests instead
    HAVE_NUMBA = False

__all__ = [
    "HAVE_NUMBA", "resampled_sums", "solve_ncp", "nct_cdf", "factorize_strings", "match_two_strings",
    "combine_codes", "arm_group_codes", "grouped_moments", "distinct",
]

_MAX_ROWS = 2**32 - 1

if HAVE_NUMBA:
    _U64 = numba.uint64
    _M32 = numba.uint64(0xFFFFFFFF)

    @njit(inline="always", cache=True)
    def _rotl(x, k):
        return (x << _U64(k)) | (x >> _U64(64 - k))

    @njit(inline="always", cache=True)
    def _splitmix(state):
        state = state + _U64(0x9E3779B97F4A7C15)
        z = state
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return state, z ^ (z >> _U64(31))

    @njit(inline="always", cache=True)
    def _seed(key, job):
        # the stream of one (sample, resample) job: xoshiro256** state from SplitMix64, as its authors advise
        sm = key ^ (_U64(job) * _U64(0xD1342543DE82EF95))
        sm, s0 = _splitmix(sm)
        sm, s1 = _splitmix(sm)
        sm, s2 = _splitmix(sm)
        sm, s3 = _splitmix(sm)
        return s0, s1, s2, s3

    @njit(inline="always", cache=True)
    def _xoshiro(s0, s1, s2, s3):
        r = _rotl(s1 * _U64(5), 7) * _U64(9)
        tt = s1 << _U64(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= tt
        s3 = _rotl(s3, 45)
        return r, s0, s1, s2, s3

    @njit(inline="always", cache=True)
    def _bounded(h, nn, threshold, s0, s1, s2, s3):
        """Index in 0..n-1 from the 32-bit draw ``h`` (Lemire 2019): ``h·n >> 32`` is accepted unless the low
        word of ``h·n`` is below 2**32 mod n (probability < n/2**32), else redrawn: exactly uniform."""
        m = h * nn
        while (m & _M32) < threshold:
            r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
            m = (r & _M32) * nn
        return np.int64(m >> _U64(32)), s0, s1, s2, s3

    @njit(inline="always", cache=True)
    def _job(offsets, n_resamples, key, job):
        """One (sample, resample) job: its sample t, the sample's rows (start, n), the bound n as uint64 with
        Lemire's rejection threshold 2**32 mod n, and the job's own xoshiro256** state."""
        t = job // n_resamples
        start = offsets[t]
        n = offsets[t + 1] - start
        s0, s1, s2, s3 = _seed(key, job)
        nn = _U64(max(n, 1))
        threshold = (_U64(0x100000000) - nn) % nn
        return t, start, n, nn, threshold, s0, s1, s2, s3

    @njit(cache=True, parallel=True, nogil=True)
    def _sums_values(v, offsets, n_resamples, key, out):  # pragma: no cover
        """out[t, b] = (Σx, Σx²) over n_t values drawn uniformly with replacement from sample t."""
        n_samples = offsets.size - 1
        for job in prange(n_samples * n_resamples):
            t, start, n, nn, threshold, s0, s1, s2, s3 = _job(offsets, n_resamples, key, job)
            # two draws per 64-bit output, into two sets of accumulators (shorter floating-point add chains)
            a0 = a1 = c0 = c1 = 0.0
            for _ in range(n // 2):
                r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                i1, s0, s1, s2, s3 = _bounded(r & _M32, nn, threshold, s0, s1, s2, s3)
                i2, s0, s1, s2, s3 = _bounded(r >> _U64(32), nn, threshold, s0, s1, s2, s3)
                x = v[start + i1]
                y = v[start + i2]
                a0 += x
                a1 += x * x
                c0 += y
                c1 += y * y
            if n % 2:
                r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                i1, s0, s1, s2, s3 = _bounded(r & _M32, nn, threshold, s0, s1, s2, s3)
                x = v[start + i1]
                a0 += x
                a1 += x * x
            b = job - t * n_resamples
            out[t, b, 0] = a0 + c0
            out[t, b, 1] = a1 + c1

    @njit(cache=True, parallel=True, nogil=True)
    def _sums_pairs(xy, offsets, n_resamples, key, out):  # pragma: no cover
        """out[t, b] = (Σx, Σy, Σx², Σy², Σxy) over n_t pairs drawn uniformly with replacement from sample t."""
        n_samples = offsets.size - 1
        for job in prange(n_samples * n_resamples):
            t, start, n, nn, threshold, s0, s1, s2, s3 = _job(offsets, n_resamples, key, job)
            a0 = a1 = a2 = a3 = a4 = 0.0
            for i in range(n):
                if i % 2 == 0:
                    r, s0, s1, s2, s3 = _xoshiro(s0, s1, s2, s3)
                    i1, s0, s1, s2, s3 = _bounded(r & _M32, nn, threshold, s0, s1, s2, s3)
                else:
                    i1, s0, s1, s2, s3 = _bounded(r >> _U64(32), nn, threshold, s0, s1, s2, s3)
                x = xy[start + i1, 0]
                y = xy[start + i1, 1]
                a0 += x
                a1 += y
                a2 += x * x
                a3 += y * y
                a4 += x * y
            b = job - t * n_resamples
            out[t, b, 0] = a0
            out[t, b, 1] = a1
            out[t, b, 2] = a2
            out[t, b, 3] = a3
            out[t, b, 4] = a4


def resampled_sums(Z: np.ndarray, offsets: np.ndarray, n_resamples: int, key: int) -> np.ndarray:
    """Sums and sums of squares (and cross-products) over uniform resamples of each sample's rows.

    Parameters
    ----------
    Z : (N,) values or (N, 2) pairs of all samples, sample ``t`` in rows ``offsets[t]:offsets[t + 1]``
    offsets : (T + 1,) int row offsets
    n_resamples : B
    key : 64-bit seed; the result depends only on it (not on the thread count)

    Returns
    -------
    (T, B, 2) array of Σx, Σx² for values, or (T, B, 5) of Σx, Σy, Σx², Σy², Σxy for pairs, per resample
    of each sample.
    """
    if not HAVE_NUMBA:
        raise RuntimeError("numba is not installed")
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if offsets.size > 1 and int(np.diff(offsets).max()) > _MAX_ROWS:
        raise ValueError("a bootstrap sample has 2**32 rows or more; the compiled kernel draws 32-bit indices")
    key_u = np.uint64(key % 2**64)
    if Z.ndim == 1:
        out = np.empty((offsets.size - 1, n_resamples, 2))
        _sums_values(Z, offsets, np.int64(n_resamples), key_u, out)
    else:
        out = np.empty((offsets.size - 1, n_resamples, 5))
        _sums_pairs(Z, offsets, np.int64(n_resamples), key_u, out)
    return out


# ------------------------------------------------------------------------------------------ noncentral t
if HAVE_NUMBA:
    import math

    _SQRT_2_PI = math.sqrt(2.0 / math.pi)

    @njit(inline="always", cache=True)
    def _nct_start(tt, df, xodd0, albeta, buf):
        """Fill term 0 of ``buf`` (rows: xodd, godd, xeven, geven of the AS 243 series) for |t| = ``tt``; return
        (x, b). These terms depend on |t| and df only, not on the noncentrality: every CDF evaluation of a
        group (both limits, all iterations) reads them from ``buf``, extended as far as any evaluation needed
        (:func:`_nct_extend`), instead of recomputing five transcendental calls and four divisions per term.
        Measured on the limits of 5,005 groups like benchmark (b)'s: 2.9 -> 2.0 ms, the same bits."""
        t2 = tt * tt
        x = t2 / (t2 + df)
        b = 0.5 * df
        log_rxb = -b * math.log1p(t2 / df)  # log (1 - x)^b
        rxb = math.exp(log_rxb)
        buf[0, 0] = xodd0
        buf[1, 0] = 2.0 * rxb * math.exp(0.5 * math.log(x) - albeta) if x > 0.0 else 0.0
        buf[2, 0] = -math.expm1(log_rxb)  # 1 - (1 - x)^b, accurately
        buf[3, 0] = b * x * rxb
        return x, b

    @njit(inline="always", cache=True)
    def _nct_extend(buf, filled, upto, x, b):
        """Terms ``filled + 1 .. upto`` of the series recursion into ``buf`` (a = 1/2 + term, exactly)."""
        for it in range(filled + 1, upto + 1):
            a = 0.5 + it
            buf[0, it] = buf[0, it - 1] - buf[1, it - 1]
            buf[2, it] = buf[2, it - 1] - buf[3, it - 1]
            buf[1, it] = buf[1, it - 1] * (x * (a + b - 1.0) / a)
            buf[3, it] = buf[3, it - 1] * (x * (a + b - 0.5) / (a + 0.5))

    @njit(inline="always", cache=True)
    def _nct_series(t, delta, x, b, buf, filled, itrmax, errmax):
        """(P(T ≤ t), terms now in ``buf``) for T noncentral t(df, delta), from the series terms of
        :func:`_nct_start` at |t|: the series of Lenth (1989, AS 243), as R's ``pnt``. NaN when the series
        does not reach ``errmax`` within ``itrmax`` terms or its first Poisson weight is not a normal float
        (|delta| > 37; the caller then falls back to scipy)."""
        if t < 0.0:
            neg = True
            d = -delta
        else:
            neg = False
            d = delta
        tnc = 0.0
        if t != 0.0:
            lam = d * d
            if lam > 1380.0:  # exp(-lam/2) below ~1e-300: subnormal weights lose their precision
                return np.nan, filled
            p = 0.5 * math.exp(-0.5 * lam)
            q = _SQRT_2_PI * p * d
            s = -0.5 * math.expm1(-0.5 * lam)  # = 0.5 - p, accurately
            tnc = p * buf[0, 0] + q * buf[2, 0]
            converged = False
            for it in range(1, itrmax + 1):
                if it > filled:
                    _nct_extend(buf, filled, min(2 * it, itrmax), x, b)  # a few terms ahead
                    filled = min(2 * it, itrmax)
                p *= lam / (2 * it)
                q *= lam / (2 * it + 1)
                tnc += p * buf[0, it] + q * buf[2, it]
                s -= p
                if s < -1e-10:
                    return np.nan, filled  # rounding trouble (R warns here): let scipy decide
                if s <= 0.0 and it > 1:
                    converged = True
                    break
                if abs(2.0 * s * (buf[0, it] - buf[1, it])) < errmax:
                    converged = True
                    break
            if not converged:
                return np.nan, filled
        tnc += 0.5 * math.erfc(d / math.sqrt(2.0))  # Φ(−d)
        if neg:
            return 1.0 - min(tnc, 1.0), filled
        return min(tnc, 1.0), filled

    @njit(cache=True)
    def _nct_cdf(t, df, delta, xodd0, albeta, itrmax, errmax):  # pragma: no cover
        """P(T ≤ t) for T noncentral t(df, delta) by the AS 243 series. ``xodd0`` is the regularized incomplete
        beta I_x(1/2, df/2) at x = t²/(t² + df) and ``albeta`` is log B(1/2, df/2); both depend on (t, df)
        only and are computed once per group outside with scipy (``betaln`` stays accurate for large df, where
        lgamma(b) − lgamma(b + 1/2) loses ~1e-11)."""
        buf = np.empty((4, itrmax + 1))
        x, b = _nct_start(abs(t), df, xodd0, albeta, buf)
        return _nct_series(t, delta, x, b, buf, 0, itrmax, errmax)[0]

    @njit(inline="always", cache=True)
    def _secant_ncp(tt, nu, x, b, buf, filled, p, z, tol, maxiter, itrmax, errmax):
        """(``ncp`` with F(t; df, ncp) = p, terms in ``buf``), by the safeguarded secant of
        ``intervals._solve_ncp`` (same start, steps, safeguards and stopping rules) on the AS 243 CDF of the
        group's terms ``buf``. NaN where the CDF gave up."""
        slope = -math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) / math.sqrt(1.0 + tt * tt / (2.0 * nu))
        scale = math.sqrt(1.0 + tt * tt / (2.0 * nu))
        x0 = tt * (1.0 - 1.0 / (4.0 * nu)) - z * scale  # Johnson-Welch approximation
        f0, filled = _nct_series(tt, x0, x, b, buf, filled, itrmax, errmax)
        f0 -= p
        x1 = x0 - f0 / slope
        f1, filled = _nct_series(tt, x1, x, b, buf, filled, itrmax, errmax)
        f1 -= p
        if not (math.isfinite(f0) and math.isfinite(f1)):
            return np.nan, filled
        lo = x0 if f0 > 0 else (x1 if f1 > 0 else -np.inf)
        hi = x0 if f0 < 0 else (x1 if f1 < 0 else np.inf)
        if f0 > 0 and f1 > 0:
            lo = max(x0, x1)
        if f0 < 0 and f1 < 0:
            hi = min(x0, x1)
        xa, fa, xb, fb = x0, f0, x1, f1
        result = x1
        active = not (abs(f1) < tol or abs(x1 - x0) < 1e-13 * (1 + abs(x1)))
        it = 0
        while active and it < maxiter:
            it += 1
            if fb != fa:
                sec = xb - fb * (xb - xa) / (fb - fa)
            else:
                sec = np.nan
            if not math.isfinite(sec):
                sec = xb - fb / slope
            if sec <= lo or sec >= hi:
                if math.isfinite(lo) and math.isfinite(hi):
                    sec = 0.5 * (lo + hi)
                elif math.isfinite(lo):
                    sec = lo + abs(xb - xa) * 2 + 1e-3
                elif math.isfinite(hi):
                    sec = hi - abs(xb - xa) * 2 - 1e-3
            fs, filled = _nct_series(tt, sec, x, b, buf, filled, itrmax, errmax)
            fs -= p
            if not math.isfinite(fs):
                return np.nan, filled
            if fs > 0:
                lo = max(lo, sec)
            elif fs < 0:
                hi = min(hi, sec)
            xa, fa, xb, fb = xb, fb, sec, fs
            result = sec
            if abs(fs) < tol or abs(sec - xa) < 1e-13 * (1 + abs(sec)):
                active = False
            elif math.isfinite(lo) and math.isfinite(hi) and (hi - lo) < 1e-13 * (1 + abs(sec)):
                active = False
        return result, filled

    _NCT_BLOCK = 64  # groups per parallel task (one term buffer each)

    @njit(cache=True, parallel=True, nogil=True)
    def _solve_ncp_kernel(t, df, xodd0, albeta, ps, zs, tol, maxiter, itrmax, errmax, out):  # pragma: no cover
        """``out[j, k]``: the ``ncp`` with F(t[k]; df[k], ncp) = ps[j]; all j of a group in the same task, so
        its series terms are computed once for all limits and iterations."""
        n = t.size
        for blk in prange((n + _NCT_BLOCK - 1) // _NCT_BLOCK):
            buf = np.empty((4, itrmax + 1))
            for k in range(blk * _NCT_BLOCK, min((blk + 1) * _NCT_BLOCK, n)):
                tt, nu = t[k], df[k]
                x, b = _nct_start(abs(tt), nu, xodd0[k], albeta[k], buf)
                filled = 0
                for j in range(ps.size):
                    out[j, k], filled = _secant_ncp(tt, nu, x, b, buf, filled, ps[j], zs[j], tol, maxiter, itrmax,
                                                    errmax)


def nct_cdf(t: np.ndarray, df: np.ndarray, ncp: np.ndarray) -> np.ndarray:
    """Noncentral t CDF by the AS 243 series (elementwise; NaN where the series gives up). For tests."""
    from scipy import special

    t, df, ncp = (np.asarray(a, dtype=float) for a in np.broadcast_arrays(t, df, ncp))
    out = np.empty(t.shape)
    tf, dff, nf, of = t.ravel(), df.ravel(), ncp.ravel(), out.reshape(-1)
    x = tf * tf / (tf * tf + dff)
    xodd0 = special.betainc(0.5, 0.5 * dff, x)
    albeta = special.betaln(0.5, 0.5 * dff)
    for k in range(tf.size):
        of[k] = _nct_cdf(tf[k], dff[k], nf[k], xodd0[k], albeta[k], NCT_ITRMAX, NCT_ERRMAX)
    return out


NCT_ITRMAX = 5000
NCT_ERRMAX = 1e-15
# above this df the series drifts from Boost's nctdtr (measured max |ΔF|: 1e-13 at df ≤ 300, 3e-13 at 500,
# 1e-12 at 2000, 1e-10 at 1e6), so larger df go to scipy
NCT_DF_MAX = 300.0


def distinct(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_inverse=True)`` for a 1-d float array; in one counting pass when the values are
    integers in a range under 2**20 (degrees of freedom, group sizes), where the sort took ~0.2 ms for 5,005."""
    if x.ndim == 1 and x.size > 256:
        lo, hi = np.min(x), np.max(x)  # NaN propagates: the sort then
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2**20:
            xi = (x - lo).astype(np.int64)
            if np.array_equal(xi, x - lo):
                present = np.bincount(xi) > 0
                rank = np.cumsum(present) - 1
                return np.flatnonzero(present) + lo, rank[xi]
    u, inv = np.unique(x, return_inverse=True)
    return u, inv.reshape(x.shape)


def solve_ncp(t: np.ndarray, df: np.ndarray, ps: tuple[float, ...], tol: float, maxiter: int,
              xodd0: np.ndarray | None = None) -> list[np.ndarray]:
    """For each p in ``ps``: ``ncp`` with ``P(T ≤ t | df, ncp) = p`` for 1-d float arrays t, df (finite, df > 0);
    NaN where the compiled CDF gave up (the caller solves those with scipy). The incomplete beta
    I_x(1/2, df/2) at x = t²/(t² + df) (``xodd0``, computed here unless given) and the log-beta per element
    serve all ``ps``."""
    from scipy import special

    if xodd0 is None:
        xodd0 = special.betainc(0.5, 0.5 * df, t * t / (t * t + df))
    # log B(1/2, df/2) once per distinct df (group sizes repeat: ~100 distinct df among 5,005 groups in
    # benchmark (b); 0.46 -> 0.13 ms, the same values)
    udf, inv = distinct(df)
    albeta = special.betaln(0.5, 0.5 * udf)[inv.reshape(df.shape)]
    p_arr = np.asarray(ps, dtype=np.float64)
    out = np.empty((p_arr.size, t.size))
    _solve_ncp_kernel(t, df, xodd0, albeta, p_arr, special.ndtri(p_arr), float(tol), int(maxiter),
                      NCT_ITRMAX, NCT_ERRMAX, out)
    return list(out)


# ------------------------------------------------------------------------------------ grouping on strings
# Why: pandas' factorize of an Arrow-backed "str" column (arrow's dictionary_encode plus a sort) took 26 ms for
# 1M short strings (benchmark (b)), and ``pyarrow.compute.index_in`` for the two arm labels 19 ms; one pass of
# a compiled open-addressing hash over the raw offsets/bytes does either in a few ms (numbers in the benchmark
# docstring).
if HAVE_NUMBA:
    from llvmlite import ir
    from numba.core import types as _nbtypes
    from numba.extending import intrinsic

    @intrinsic
    def _load_u64(typingctx, arr, idx):
        """The 8 bytes at ``arr[idx:idx + 8]`` (uint8 array) as a little-endian uint64: one unaligned load."""
        sig = _nbtypes.uint64(arr, _nbtypes.intp)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            ptr = builder.gep(ary.data, [args[1]])
            return builder.load(builder.bitcast(ptr, ir.IntType(64).as_pointer()), align=1)

        return sig, codegen

    @njit(inline="always", cache=True)
    def _low_bytes(w, k):
        """The k lowest bytes of w (k ≤ 0: none; k ≥ 8: all)."""
        if k >= 8:
            return w
        if k <= 0:
            return _U64(0)
        return w & ((_U64(1) << _U64(8 * k)) - _U64(1))

    @njit(inline="always", cache=True)
    def _load_clamped(data, s):
        """``_load_u64`` that never reads past the buffer (size ≥ 8): near the end it loads the last 8 bytes and
        shifts, so the bytes beyond the buffer come out as zeros."""
        pos = min(s, data.size - 8)
        sh = s - pos
        w = _load_u64(data, pos)
        return w >> _U64(8 * sh) if sh < 8 else _U64(0)

    @njit(inline="always", cache=True)
    def _words(data, s, ln):
        """The first 16 bytes of a string as two words, zero beyond its length."""
        return _low_bytes(_load_clamped(data, s), ln), _low_bytes(_load_clamped(data, s + 8), ln - 8)

    _TAG_LONG = numba.uint64(1) << numba.uint64(63)  # tags of strings over 7 bytes have the top bit set
    _EMPTY = numba.uint64(0xFFFFFFFFFFFFFFFF)  # the id word of an empty table slot

    @njit(inline="always", cache=True)
    def _key(data, s, ln):
        """A string's key words, hash and tag. Strings of at most 7 bytes: one load, and the tag is the key itself,
        the bytes with the length in the top byte (so the tag is the string: equal tags, equal strings, no other
        comparison) and the hash its product with an odd constant. Longer strings: the first 16 bytes and the
        last 16, zero-padded, a multiplicative hash of them and the length, and the tag that hash with the top
        bit set (so it never equals a short string's tag). Branch-free within each case: a byte loop here (for
        long strings) tripled the time of the whole pass."""
        if ln <= 7:  # labels are mostly short: a predictable branch
            w = _load_u64(data, np.intp(s)) if s + 8 <= data.size else _load_clamped(data, s)
            k = (w & ((_U64(1) << _U64(8 * ln)) - _U64(1))) | (_U64(ln) << _U64(56))
            return k, _U64(0), _U64(0), _U64(0), k * _U64(0x9E3779B97F4A7C15), k
        w0, w1 = _words(data, s, ln)
        tail = max(ln - 16, 0)
        w2, w3 = _words(data, s + tail, 16 if ln > 16 else 0)  # the last 16 bytes (none up to 16 bytes)
        h = (w0 ^ (w1 * _U64(0xC2B2AE3D27D4EB4F) + _U64(ln))) * _U64(0x9E3779B97F4A7C15)
        h = (h ^ w2 ^ (w3 * _U64(0x165667B19E3779F9))) * _U64(0x9E3779B97F4A7C15)
        return w0, w1, w2, w3, h, h | _TAG_LONG

    @njit(cache=True)
    def _same_long(offsets, data, s, ln, w0, w1, w2, w3, u, keys, klen, first):  # pragma: no cover
        """Whether the long string (s, ln) with key words w0..w3, whose tag matched id u's, is id u (a call, not
        inlined: only strings over 7 bytes get here)."""
        if not (klen[u] == ln and keys[u, 0] == w0 and keys[u, 1] == w1 and keys[u, 2] == w2 and keys[u, 3] == w3):
            return False
        if ln > 32:  # the middle bytes
            s2 = offsets[first[u]]
            for k in range(16, ln - 16):
                if data[s + k] != data[s2 + k]:
                    return False
        return True

    @njit(cache=True)
    def _factorize_rows(offsets, data, valid, codes, i0, i1, only_missing, table, shift, first, hashes, keys, klen,
                        nu):
        """The hot loop of :func:`_factorize_range` over rows ``i0:i1`` (with ``only_missing``, only the rows the
        parallel lookup marked −2): returns (next row, number of ids) when done or when the table or the id
        arrays must grow (no array is reallocated in here: no reference counting in the loop)."""
        cap = table.size // 2
        for i in range(i0, i1):
            if only_missing and codes[i] != -2:
                continue
            if not valid[i]:
                codes[i] = -1
                continue
            s = offsets[i]
            ln = offsets[i + 1] - s
            w0, w1, w2, w3, h, tag = _key(data, s, ln)
            # the slot of the string in the table (pairs of words: tag, id) or the empty slot where it would go.
            # Written out here and in _lookup_rows: as an inlined function it cost 39 instead of 5.6 ns a row
            # in this serial loop (reference counting on its array arguments, it seems)
            slot = np.int64(h >> shift)
            u = np.int64(-1)
            while True:
                idw = table[2 * slot + 1]
                if idw == _EMPTY:
                    break
                if table[2 * slot] == tag and (ln <= 7 or _same_long(offsets, data, s, ln, w0, w1, w2, w3,
                                                                       np.int64(idw), keys, klen, first)):
                    u = np.int64(idw)
                    break
                slot = (slot + 1) & (cap - 1)
            if u >= 0:
                codes[i] = u
                continue
            if nu == first.size or 4 * (nu + 1) > cap:
                return i, nu  # grow, then resume at this row
            first[nu] = i
            hashes[nu] = h
            keys[nu, 0] = w0
            keys[nu, 1] = w1
            keys[nu, 2] = w2
            keys[nu, 3] = w3
            klen[nu] = ln
            table[2 * slot] = tag
            table[2 * slot + 1] = _U64(nu)
            codes[i] = nu
            nu += 1
        return i1, nu

    @njit(cache=True)
    def _factorize_range(offsets, data, valid, codes, i0, i1, only_missing, table, first, hashes, keys, klen,
                         nu):  # pragma: no cover
        """codes[i] = id of string i in order of first appearance (−1 where not valid) for rows ``i0:i1``,
        continuing the dictionary (table, first, hashes, keys, klen, nu) built on the rows before. Open
        addressing with linear probing, load factor ≤ 1/4; strings are told apart by their tags (see
        :func:`_key`; for strings over 7 bytes also by length, key words and, past 32 bytes, the middle bytes).
        Returns the grown dictionary."""
        m = first.size
        bits = 0
        while (1 << bits) < table.size // 2:
            bits += 1
        i = i0
        while True:
            i, nu = _factorize_rows(offsets, data, valid, codes, i, i1, only_missing, table, _U64(64 - bits),
                                    first, hashes, keys, klen, nu)
            if i >= i1:
                break
            if nu == first.size:
                first = np.concatenate((first, np.empty(m, np.int64)))
                hashes = np.concatenate((hashes, np.empty(m, np.uint64)))
                keys = np.concatenate((keys, np.empty((m, 4), np.uint64)))
                klen = np.concatenate((klen, np.empty(m, np.int64)))
                m *= 2
            if 4 * (nu + 1) > table.size // 2:  # rebuild twice as large
                bits += 1
                cap = 1 << bits
                table = np.full(2 * cap, _EMPTY, np.uint64)
                shift = _U64(64 - bits)
                for v in range(nu):
                    sl = np.int64(hashes[v] >> shift)
                    while table[2 * sl + 1] != _EMPTY:
                        sl = (sl + 1) & (cap - 1)
                    # the tag again from the stored key words: the key itself for short strings
                    table[2 * sl] = keys[v, 0] if klen[v] <= 7 else hashes[v] | _TAG_LONG
                    table[2 * sl + 1] = _U64(v)
        return table, first, hashes, keys, klen, nu

    @njit(cache=True)
    def _find_long(offsets, data, s, ln, table, shift, keys, klen, first):  # pragma: no cover
        """The id of the long string (s, ln) in the table, −1 if absent (a call: see :func:`_lookup_rows`)."""
        cap = table.size // 2
        w0, w1, w2, w3, h, tag = _key(data, s, ln)
        slot = np.int64(h >> shift)
        while True:
            idw = table[2 * slot + 1]
            if idw == _EMPTY:
                return np.int64(-1)
            if table[2 * slot] == tag and _same_long(offsets, data, s, ln, w0, w1, w2, w3, np.int64(idw), keys,
                                                     klen, first):
                return np.int64(idw)
            slot = (slot + 1) & (cap - 1)

    @njit(cache=True, parallel=True, nogil=True)
    def _lookup_rows(offsets, data, valid, has_nulls, codes, i0, block, table, first, keys, klen,
                     misses):  # pragma: no cover
        """Read-only look-up of rows ``i0:`` in the dictionary, parallel over fixed blocks of rows: codes[i] =
        the id, −1 where not valid, −2 where the string is not (yet) in the dictionary; misses[b] counts the −2
        of block b. Nothing is written but codes and misses, so the result is the same on any number of threads.
        Strings of at most 7 bytes are looked up in the loop by their tag (as :func:`_key` makes it: the bytes
        and length) alone; longer ones in a function call. With both in the loop, 1M short labels took 4.4
        instead of 3.4 ms on one thread."""
        n = offsets.size - 1
        cap = table.size // 2
        bits = 0
        while (1 << bits) < cap:
            bits += 1
        shift = _U64(64 - bits)
        for bi in prange(misses.size):
            lo = i0 + bi * block
            hi = min(lo + block, n)
            m = 0
            for i in range(lo, hi):
                if has_nulls and not valid[i]:
                    codes[i] = -1
                    continue
                s = offsets[i]
                ln = offsets[i + 1] - s
                if ln <= 7:
                    w = _load_u64(data, np.intp(s)) if s + 8 <= data.size else _load_clamped(data, s)
                    tag = (w & ((_U64(1) << _U64(8 * ln)) - _U64(1))) | (_U64(ln) << _U64(56))  # as in _key
                    slot = np.int64((tag * _U64(0x9E3779B97F4A7C15)) >> shift)
                    u = np.int64(-1)
                    while True:
                        idw = table[2 * slot + 1]
                        if idw == _EMPTY:
                            break
                        if table[2 * slot] == tag:
                            u = np.int64(idw)
                            break
                        slot = (slot + 1) & (cap - 1)
                else:
                    u = _find_long(offsets, data, s, ln, table, shift, keys, klen, first)
                if u < 0:
                    codes[i] = -2
                    m += 1
                else:
                    codes[i] = u
            misses[bi] = m

    @njit(cache=True, parallel=True, nogil=True)
    def _match_two_utf8(offsets, data, valid, a0, a1, la, b0, b1, lb, out):  # pragma: no cover
        """out[i] = 0 where string i is a, 1 where it is b, −1 otherwise or not valid (a and b ≤ 16 bytes,
        given as words and lengths): branch-free, as random labels would defeat the branch predictor."""
        end = data.size - 16
        for i in prange(offsets.size - 1):
            s = offsets[i]
            ln = offsets[i + 1] - s
            if s <= end:  # all but the last few strings: two plain loads, masked to the length (benchmark (b),
                # 1M arm labels: 4.9 -> 3.8 ms on one thread, 2.55 -> 2.0 ms on two)
                w0 = _low_bytes(_load_u64(data, np.intp(s)), ln)
                w1 = _low_bytes(_load_u64(data, np.intp(s + 8)), ln - 8)
            else:
                w0, w1 = _words(data, s, ln)
            is_a = (ln == la) & (w0 == a0) & (w1 == a1)
            is_b = (ln == lb) & (w0 == b0) & (w1 == b1)
            out[i] = -1 if not valid[i] else (0 if is_a else (1 if is_b else -1))

    @njit(cache=True, parallel=True, nogil=True)
    def _combine_pass(c1, lut1, use_lut1, c2, lut2, use_lut2, s2, total, out, present):  # pragma: no cover
        """out[i] = c1·s2 + c2 (codes looked up in their luts when asked; ``total`` where either is −1) and
        present[out[i]] = 1, in parallel (threads only ever write 1 into ``present``: the same flags on any
        number of threads)."""
        for i in prange(c1.size):
            a = np.int64(c1[i])
            b = np.int64(c2[i])
            if a >= 0 and use_lut1:
                a = lut1[a]
            if b >= 0 and use_lut2:
                b = lut2[b]
            v = total if (a < 0 or b < 0) else a * s2 + b
            out[i] = v
            if present[v] == 0:  # read first: the cache lines stay shared between the threads
                present[v] = 1

    @njit(cache=True, parallel=True, nogil=True)
    def _remap_pass(out, remap):  # pragma: no cover
        for i in prange(out.size):
            out[i] = remap[out[i]]

    @njit(cache=True)
    def _combine_two(c1, lut1, use_lut1, c2, lut2, use_lut2, s2, total, out, dense):  # pragma: no cover
        """out = dense rank (0..G−1, in increasing order) of the combined code c1·s2 + c2 (each code first
        looked up in its lut when asked; −1 in either key gives −1); returns the observed combined codes.
        ``out`` (int32 when the combined codes fit: less memory traffic, fewer fresh pages) first holds the
        combined codes, then is renumbered in place. The two row passes run in parallel (integers: the same
        codes on any number of threads); measured on benchmark (b) with both threads free: 3.4 ms serial ->
        1.5-1.6 ms (4.8 ms while every row wrote its flag: the threads fought over the cache lines). Without
        ``dense``, ``out`` keeps the combined codes (``total`` where a key is missing): no renumbering pass."""
        present = np.zeros(total + 1, np.uint8)
        _combine_pass(c1, lut1, use_lut1, c2, lut2, use_lut2, s2, total, out, present)
        if not dense:
            return np.flatnonzero(present[:total])
        remap = np.full(total + 1, -1, out.dtype)
        g = 0
        for j in range(total):
            if present[j]:
                remap[j] = g
                g += 1
        observed = np.empty(g, np.int64)
        for j in range(total):
            if present[j]:
                observed[remap[j]] = j
        _remap_pass(out, remap)
        return observed

    @njit(cache=True, parallel=True, nogil=True)
    def _arm_group_codes(codes, arm, out):  # pragma: no cover
        for i in prange(codes.size):
            c = np.int64(codes[i])
            r = np.int64(arm[i])
            out[i] = c * 2 + r if (c >= 0 and r >= 0) else -1

    @njit(cache=True, parallel=True, nogil=True)
    def _chunked_moments(values, codes, nb, chunk):  # pragma: no cover
        """n, mean, Σ(x − mean)² per bin codes[i] (codes outside 0..nb−1 and NaN values skipped) in two passes
        over FIXED row chunks (``chunk`` rows each), in parallel over chunks, each chunk with its own accumulators; the
        chunk sums are then added in chunk order. The additions do not depend on the number of threads, so
        neither do the bits. With one chunk (≤ ``chunk`` rows) this is the row-order sum of ``np.bincount``,
        bit for bit; with more, the sums are regrouped by chunk (last-bit differences, ~1e-16 relative)."""
        N = values.size
        nchunks = max((N + chunk - 1) // chunk, 1)
        acc_n = np.zeros((nchunks, nb))
        acc_s = np.zeros((nchunks, nb))
        for k in prange(nchunks):
            for i in range(k * chunk, min((k + 1) * chunk, N)):
                b = np.int64(codes[i])
                v = values[i]
                if b >= 0 and b < nb and not np.isnan(v):
                    acc_n[k, b] += 1.0
                    acc_s[k, b] += v
        n = np.zeros(nb)
        mean = np.empty(nb)
        for b in prange(nb):
            nn = 0.0
            ss = 0.0
            for k in range(nchunks):
                nn += acc_n[k, b]
                ss += acc_s[k, b]
            n[b] = nn
            mean[b] = ss / nn if nn > 0 else np.nan
        for k in prange(nchunks):
            acc_s[k, :] = 0.0
            for i in range(k * chunk, min((k + 1) * chunk, N)):
                b = np.int64(codes[i])
                v = values[i]
                if b >= 0 and b < nb and not np.isnan(v):
                    dv = v - mean[b]
                    acc_s[k, b] += dv * dv
        m2 = np.zeros(nb)
        for b in prange(nb):
            ss = 0.0
            for k in range(nchunks):
                ss += acc_s[k, b]
            m2[b] = ss
        return n, mean, m2


def _arrow_array(values: object) -> Any:
    """The (single-chunk) pyarrow array behind an Arrow-backed pandas array, else None."""
    pa_array = getattr(values, "_pa_array", None)
    if pa_array is None:
        return None
    import pyarrow as pa

    if isinstance(pa_array, pa.ChunkedArray):
        return pa_array.chunk(0) if pa_array.num_chunks == 1 else pa_array.combine_chunks()
    return pa_array


def _utf8_buffers(values: object, arr: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(offsets int32/int64, bytes uint8, valid bool) of an Arrow-backed pandas string array (views of its
    buffers, no copy), else None."""
    import pyarrow as pa

    if arr is None:
        arr = _arrow_array(values)
    if arr is None:
        return None
    off_type: type[np.signedinteger[Any]]
    if pa.types.is_string(arr.type):
        off_type = np.int32
    elif pa.types.is_large_string(arr.type):
        off_type = np.int64
    else:
        return None
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=off_type, count=arr.offset + n + 1)[arr.offset:]  # no copy
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if data.size < 8:  # the word loads need 8 bytes
        data = np.concatenate([data, np.zeros(8, np.uint8)])
    if arr.null_count:
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
    else:
        valid = np.ones(n, dtype=bool)
    return offsets, data, valid


# Rows factorized serially to learn the dictionary before the parallel look-up, and the look-up's block size.
_LEARN_ROWS = 1 << 14
_LOOKUP_BLOCK = 1 << 16


def _factorize_utf8(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """codes[i] = id of string i in order of first appearance (−1 where not valid); returns the row of each id's
    first appearance.

    Three steps, whose codes are those of one serial pass whatever the number of threads: (1) the first
    ``_LEARN_ROWS`` rows serially, building the dictionary; (2) the other rows looked up read-only in parallel
    over fixed blocks (−2 where a string is new); (3) if any string was new, those rows serially in row order,
    which gives new ids in order of first appearance. Labels such as therapist ids (hundreds of distinct
    values over a million rows) are all seen in step 1, so step 3 is empty.
    Measured on benchmark (b) (1M labels "T0".."T714", 2026-11-27): one serial pass 12.7 ms; with the
    one-load key of short strings (``_key``) 9.0-9.5 ms on one thread, and with short strings matched by hash
    and length alone 6.7-7.3 ms; these steps on two threads 4.3-5.8 ms (both vCPUs free; no gain while another
    job holds one). Then short strings (≤ 7 bytes) tagged by their own bytes and length, with tag and id side
    by side in the table (no load through the id, no length compare): the parallel look-up 5.9 -> 4.4 ms on
    one thread, and the serial learning of the first 16k rows 0.12 ms.
    """
    n = offsets.size - 1
    m = 256
    table, first, hashes, keys, klen, nu = _factorize_range(
        offsets, data, valid, codes, 0, min(n, _LEARN_ROWS), False,
        np.full(2 << 10, np.iinfo(np.uint64).max, np.uint64),  # 1,024 empty slots (tag, id)
        np.empty(m, np.int64), np.empty(m, np.uint64), np.empty((m, 4), np.uint64), np.empty(m, np.int64), 0)
    if n > _LEARN_ROWS:
        misses = np.zeros(-(-(n - _LEARN_ROWS) // _LOOKUP_BLOCK), dtype=np.int64)
        _lookup_rows(offsets, data, valid, not bool(valid.all()), codes, _LEARN_ROWS, _LOOKUP_BLOCK, table, first,
                     keys, klen, misses)
        if misses.any():
            table, first, hashes, keys, klen, nu = _factorize_range(
                offsets, data, valid, codes, _LEARN_ROWS, n, True, table, first, hashes, keys, klen, nu)
    return first[:nu]


def factorize_strings(values: object) -> tuple[np.ndarray, list[str]] | None:
    """Sorted factorization of an Arrow-backed pandas string array: (codes, sorted uniques), NA → −1.

    The same as ``pd.factorize(values, sort=True)`` (uniques in code-point order); None when the array is not
    Arrow-backed UTF-8 or numba is missing (the caller then uses pandas).
    """
    res = factorize_strings_unsorted(values)
    if res is None:
        return None
    codes, rank, uniques = res
    return np.where(codes >= 0, rank[codes], -1), uniques.to_pylist()


def factorize_strings_unsorted(values: object) -> tuple[np.ndarray, np.ndarray, Any] | None:
    """(codes in order of first appearance, the sorted position of each code, sorted uniques as a pyarrow
    array); None when not applicable. :func:`combine_codes` applies the positions while it combines keys (one
    gather fewer)."""
    if not HAVE_NUMBA:
        return None
    arr = _arrow_array(values)
    bufs = _utf8_buffers(values, arr) if arr is not None else None
    if bufs is None:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets, data, valid = bufs
    small = offsets.size - 1 < 2**31  # int32 codes: half the memory traffic of int64
    codes = np.empty(offsets.size - 1, dtype=np.int32 if small else np.int64)
    first = _factorize_utf8(offsets, data, valid, codes)
    # the uniques taken and sorted by Arrow (bytewise order of UTF-8 = code-point order, as Python's sort):
    # 0.1 ms for 715 labels, where slicing, decoding and sorting them in Python took ~1 ms
    uarr = arr.take(pa.array(first))
    order = np.asarray(pc.array_sort_indices(uarr).to_numpy(), dtype=np.int64)
    rank = np.empty(len(first), dtype=codes.dtype)
    rank[order] = np.arange(len(first))
    return codes, rank, uarr.take(pa.array(order))


def combine_codes(
    codes_list: list[np.ndarray], luts: list[np.ndarray | None], sizes: list[int], *, dense: bool = True
) -> tuple[np.ndarray, np.ndarray] | None:
    """Group codes from per-key codes: mixed-radix combination (each key's codes looked up in its lut when
    given; −1 = missing in any key gives −1), renumbered 0..G−1 in increasing combined order. Returns (codes,
    observed combined codes), or None without numba. One compiled pass and a renumbering pass: for 1M rows and
    two keys ~2.5 ms, where numpy's gather, copy, compares, multiply-add, bincount and remap took ~7.5 ms.
    With ``dense=False`` the codes stay the combined codes (prod(sizes) where a key is missing), for callers
    that only bin rows and can pick the observed bins afterwards: the renumbering pass is skipped."""
    if not HAVE_NUMBA:
        return None
    dummy = np.zeros(1, dtype=np.int64)
    if len(codes_list) > 2:  # fold the leading keys with numpy (rare), then the last pair compiled
        head = [c if lut is None else np.where(c >= 0, lut[c], -1) for c, lut in zip(codes_list[:-1], luts[:-1],
                                                                                      strict=True)]
        folded = np.asarray(head[0], dtype=np.int64).copy()
        missing = folded < 0
        for c, s_ in zip(head[1:], sizes[1:-1], strict=True):
            missing |= c < 0
            folded = folded * s_ + c
        folded[missing] = -1
        codes_list = [folded, codes_list[-1]]
        luts = [None, luts[-1]]
        sizes = [int(np.prod(sizes[:-1], dtype=np.int64)), sizes[-1]]
    if len(codes_list) == 1:
        codes_list = [codes_list[0], np.zeros(codes_list[0].size, dtype=np.int8)]
        luts = [luts[0], None]
        sizes = [sizes[0], 1]
    (c1, c2), (l1, l2) = codes_list, luts
    total = int(sizes[0]) * int(sizes[1])
    out = np.empty(c1.size, dtype=np.int32 if total < 2**31 - 1 else np.int64)
    observed = _combine_two(np.ascontiguousarray(c1), dummy if l1 is None else l1, l1 is not None,
                            np.ascontiguousarray(c2), dummy if l2 is None else l2, l2 is not None,
                            np.int64(sizes[1]), np.int64(total), out, dense)
    return out, observed


def match_two_strings(values: object, a: str, b: str) -> np.ndarray | None:
    """0 where ``values == a``, 1 where ``values == b``, −1 elsewhere (NA too), for an Arrow-backed pandas string
    array; None when not applicable (the caller then compares with pandas)."""
    if not HAVE_NUMBA:
        return None
    bufs = _utf8_buffers(values)
    if bufs is None:
        return None
    offsets, data, valid = bufs
    ab = [x.encode("utf-8") for x in (a, b)]
    if max(len(x) for x in ab) > 16:
        return None
    words: list[Any] = []
    for x in ab:
        padded = np.zeros(16, dtype=np.uint8)
        padded[: len(x)] = np.frombuffer(x, dtype=np.uint8)
        w = padded.view("<u8")
        words += [np.uint64(w[0]), np.uint64(w[1]), np.int64(len(x))]
    out = np.empty(offsets.size - 1, dtype=np.int8)  # int8: an eighth of the memory traffic of int64
    a0, a1, la, b0, b1, lb = words
    _match_two_utf8(offsets, data, valid, a0, a1, la, b0, b1, lb, out)
    return out


def arm_group_codes(codes: np.ndarray, arm: np.ndarray, ngroups: int | None = None) -> np.ndarray:
    """``codes·2 + arm`` where both are ≥ 0, else −1 (the bins of the two arms of each group): one pass, where
    numpy's multiply, add, two compares, and and masked store took ~5 ms for 1M rows. With ``ngroups`` (codes
    are below it) the bins are int32 when they fit: half the memory traffic and fresh pages of int64."""
    if not HAVE_NUMBA:
        comb = codes * 2 + arm
        comb[(arm < 0) | (codes < 0)] = -1
        return np.asarray(comb, dtype=np.int64)
    if ngroups is not None and 2 * ngroups < 2**15 - 1:
        dtype: Any = np.int16  # what the moment passes read twice: half the bytes of int32
    elif ngroups is not None and 2 * ngroups < 2**31 - 1:
        dtype = np.int32
    else:
        dtype = np.int64
    out = np.empty(codes.size, dtype=dtype)
    _arm_group_codes(np.ascontiguousarray(codes), np.ascontiguousarray(arm), out)
    return out


# Rows per chunk of the parallel moment passes, or None for one chunk (the serial row-order sums of np.bincount,
# bit for bit). A chunk size is fixed, never derived from the thread count, so the additions, and hence the bits,
# are the same on any number of threads; data of at most one chunk (every sample data set and table of this
# package) get the row-order sums exactly. On benchmark (b) (1M rows, 10,010 bins) chunks of 2**18 rows took the
# moments from 4.2 to 2.4 ms on two threads (2**15: 2.9, 2**16: 3.1, 2**17: 2.5 ms) and are the more accurate
# sums: against exact (math.fsum) sums the worst mean was off by 8.9e-16 (5.5e-16 relative) where the row-order
# sums were off by 2.2e-15 (1.1e-15 relative); the centred sums of squares 5.3e-16 against 1.1e-15 relative. An
# effect that is a difference of two nearly equal means moves relatively by as much as the means move absolutely
# over its size (a Hedges' g of -5.9e-6 by 1.3e-10 of itself, 1.4e-15 absolute): the tests compare such effects
# with an absolute floor, not bit for bit with the row order.
MOMENT_CHUNK: int | None = 1 << 18


def grouped_moments(values: np.ndarray, codes: np.ndarray, ngroups: int) -> tuple[np.ndarray, ...] | None:
    """(n, mean, m2) per group code in two compiled passes, parallel over fixed row chunks (``MOMENT_CHUNK``;
    see there); None without numba."""
    if not HAVE_NUMBA:
        return None
    v = np.ascontiguousarray(values, dtype=np.float64)
    # chunk-local accumulators only while the bins are fewer than a chunk's rows (bounded memory); else one
    # chunk, i.e. the serial row-order pass. The choice depends on the sizes only.
    chunk = MOMENT_CHUNK if MOMENT_CHUNK is not None and ngroups <= MOMENT_CHUNK else max(v.size, 1)
    return _chunked_moments(v, np.ascontiguousarray(codes), np.int64(ngroups), np.int64(chunk))

"""The numba kernels behind :mod:`massage_outcomes.effects._kernels` (imported only from there, on first use).

Nothing else imports this module: :mod:`~massage_outcomes.effects._kernels` decides, by the sizes measured in
``benchmarks/bench_kernels.py``, whether a call is large enough for compiled code to pay, and imports this module
(and numba) the first time one is. Every function here has a numpy/scipy/pandas counterpart there or in its caller
that gives the same result (the same integers and bits, or, for the noncentral t, the same limits within the
stated tolerance). All compile with ``cache=True`` (the first use in a fresh environment compiles them, ~10-15 s).

1. **Bootstrap sums** (:func:`resampled_sums`): draws each row index (xoshiro256** per (sample, resample) job,
   seeded with SplitMix64 from a 64-bit key and the job's index; Lemire's multiply-shift with rejection on 32-bit
   halves of each output: exactly uniform) and adds the row into the resample's sums, parallel over jobs and
   without an index array. The draws depend only on the key, never on the number of threads.
2. **Noncentral t** (:func:`solve_ncp`, :func:`nct_cdf`): the exact-interval iteration of
   :mod:`~massage_outcomes.effects.intervals` with the CDF from the AS 243 series (Lenth 1989, as R's ``pt``),
   each group's series terms shared by both limits and every secant step.
3. **Grouping** (:func:`factorize_utf8`, :func:`match_two_utf8`, :func:`combine_two`, :func:`arm_group_codes`,
   :func:`chunked_moments`): an open-addressing hash over the raw Arrow offsets/bytes of string labels, the
   matching of the two arm labels, the combination of key codes and per-group moments summed over fixed row
   chunks; the same integers and bits on any number of threads.

References
----------
Lenth RV (1989) Algorithm AS 243: cumulative distribution function of the non-central t distribution. Applied
Statistics 38(1):185-189. doi:10.2307/2347693.
Lemire D (2019) Fast random integer generation in an interval. ACM TOMACS 29(1):3. doi:10.1145/3230636.
Blackman D, Vigna S (2021) Scrambled linear pseudorandom number generators. ACM TOMS 47(4):36.
doi:10.1145/3460772.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import types as _nbtypes
from numba.extending import intrinsic

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


def resampled_sums(Z: np.ndarray, offsets: np.ndarray, n_resamples: int, key: np.uint64) -> np.ndarray:
    """(T, B, 2) sums Σx, Σx² or (T, B, 5) Σx, Σy, Σx², Σy², Σxy over ``n_resamples`` uniform resamples of each
    sample's rows (contiguous float64 ``Z``, int64 ``offsets``; see ``_kernels.resampled_sums``)."""
    if Z.ndim == 1:
        out = np.empty((offsets.size - 1, n_resamples, 2))
        _sums_values(Z, offsets, np.int64(n_resamples), key, out)
    else:
        out = np.empty((offsets.size - 1, n_resamples, 5))
        _sums_pairs(Z, offsets, np.int64(n_resamples), key, out)
    return out


# ------------------------------------------------------------------------------------------ noncentral t

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


def nct_cdf(t: np.ndarray, df: np.ndarray, ncp: np.ndarray, xodd0: np.ndarray, albeta: np.ndarray, itrmax: int,
            errmax: float) -> np.ndarray:
    """Elementwise AS 243 CDF of 1-d float arrays (NaN where the series gives up), one call per element."""
    out = np.empty(t.size)
    for k in range(t.size):
        out[k] = _nct_cdf(t[k], df[k], ncp[k], xodd0[k], albeta[k], itrmax, errmax)
    return out


def solve_ncp(t: np.ndarray, df: np.ndarray, xodd0: np.ndarray, albeta: np.ndarray, ps: np.ndarray, zs: np.ndarray,
              tol: float, maxiter: int, itrmax: int, errmax: float) -> np.ndarray:
    """(len(ps), t.size): for each p the ``ncp`` with F(t; df, ncp) = p (NaN where the series gave up)."""
    out = np.empty((ps.size, t.size))
    _solve_ncp_kernel(t, df, xodd0, albeta, ps, zs, float(tol), int(maxiter), itrmax, errmax, out)
    return out


# ------------------------------------------------------------------------------------ grouping on strings
# Why: pandas' factorize of an Arrow-backed "str" column (arrow's dictionary_encode plus a sort) and
# ``pyarrow.compute.index_in`` for the two arm labels make several passes; one pass of a compiled
# open-addressing hash over the raw offsets/bytes does either (sizes where it pays: ``_kernels.THRESHOLDS``).


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
def match_two_utf8(offsets, data, valid, a0, a1, la, b0, b1, lb, out):  # pragma: no cover
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
def combine_two(c1, lut1, use_lut1, c2, lut2, use_lut2, s2, total, out, dense):  # pragma: no cover
    """out = dense rank (0..G−1, in increasing order) of the combined code c1·s2 + c2 (each code first
    looked up in its lut when asked; −1 in either key gives −1); returns the observed combined codes.
    ``out`` (int32 when the combined codes fit: less memory traffic, fewer fresh pages) first holds the
    combined codes, then is renumbered in place. The two row passes run in parallel (integers: the same
    codes on any number of threads; flags read before written: the threads do not fight over cache lines).
    Without
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
def arm_group_codes(codes, arm, out):  # pragma: no cover
    for i in prange(codes.size):
        c = np.int64(codes[i])
        r = np.int64(arm[i])
        out[i] = c * 2 + r if (c >= 0 and r >= 0) else -1


@njit(cache=True, parallel=True, nogil=True)
def chunked_moments(values, codes, nb, chunk):  # pragma: no cover
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



# Rows factorized serially to learn the dictionary before the parallel look-up, and the look-up's block size.
_LEARN_ROWS = 1 << 14
_LOOKUP_BLOCK = 1 << 16


def factorize_utf8(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """codes[i] = id of string i in order of first appearance (−1 where not valid); returns the row of each id's
    first appearance.

    Three steps, whose codes are those of one serial pass whatever the number of threads: (1) the first
    ``_LEARN_ROWS`` rows serially, building the dictionary; (2) the other rows looked up read-only in parallel
    over fixed blocks (−2 where a string is new); (3) if any string was new, those rows serially in row order,
    which gives new ids in order of first appearance. Labels such as therapist ids (hundreds of distinct
    values over a million rows) are all seen in step 1, so step 3 is empty.
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

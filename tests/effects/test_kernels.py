"""The compiled layer and its numpy/scipy/pandas paths: the same draws (against a pure-Python reference of the
published algorithms), integers and bits on both, uniformity, rejection, thread independence, and the dispatch.

``compiled`` tests force every call onto the numba kernels (``_kernels.MODE = "always"``, skipped without
numba); ``use_numba`` runs a test on both paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from massage_outcomes.effects import _kernels
from massage_outcomes.effects.bootstrap import bootstrap_moments
from massage_outcomes.effects.estimators import between_point, paired_point

needs_numba = pytest.mark.skipif(not _kernels.HAVE_NUMBA, reason="numba not installed (the [fast] extra)")
M64 = (1 << 64) - 1


def _force_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)


def _force_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_kernels, "MODE", "always")


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kernel call compiled, whatever its size (the test is skipped without numba)."""
    if not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed (the [fast] extra)")
    _force_compiled(monkeypatch)


@pytest.fixture(params=[True, False], ids=["numba", "numpy"])
def use_numba(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test twice: on the compiled kernels (skipped without numba) and on the numpy path."""
    if request.param and not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed (the [fast] extra)")
    if request.param:
        _force_compiled(monkeypatch)
    else:
        _force_numpy(monkeypatch)
    return bool(request.param)


def _reference_next(state: np.ndarray) -> int:
    """The next xoshiro256** output from a state of four words, in plain Python integers."""
    s = [int(w) for w in state]
    return (((((s[1] * 5) & M64) << 7 | ((s[1] * 5) & M64) >> 57) & M64) * 9) & M64


def _reference_indices(key: int, job: int, n: int) -> list[int]:
    """The kernel's draws for one (sample, resample) job, in plain Python integers (SplitMix64 → xoshiro256**,
    Lemire with rejection), from the published algorithms."""
    def splitmix(state: int) -> tuple[int, int]:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return state, z ^ (z >> 31)

    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & M64

    sm = key ^ ((job * 0xD1342543DE82EF95) & M64)
    s = []
    for _ in range(4):
        sm, out = splitmix(sm)
        s.append(out)

    def next64() -> int:
        r = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return r

    threshold = (2**32 - n) % n
    idx = []
    while len(idx) < n:
        r = next64()
        for h in ((r & 0xFFFFFFFF), (r >> 32)) if n - len(idx) >= 2 else ((r & 0xFFFFFFFF),):
            m = h * n
            while (m & 0xFFFFFFFF) < threshold:
                m = (next64() & 0xFFFFFFFF) * n
            idx.append(m >> 32)
    return idx


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_kernel_draws_match_reference(n: int, use_numba: bool) -> None:
    v = np.arange(1.0, n + 1) ** 2  # integers: sums are exact whatever the order of addition
    offsets = np.array([0, n])
    key = 0xDEADBEEF12345
    sums = _kernels.resampled_sums(v, offsets, 5, key)
    for b in range(5):
        idx = _reference_indices(key, b, n)
        assert sums[0, b, 0] == v[idx].sum()
        assert sums[0, b, 1] == (v[idx] ** 2).sum()


def test_paired_kernel_draws_match_reference(use_numba: bool) -> None:
    rows = np.column_stack([np.arange(6.0), np.arange(6.0) ** 2 - 3])
    offsets = np.array([0, 2, 6])  # two samples: jobs 0..B-1 are sample 0, B..2B-1 sample 1
    B, key = 4, 99
    sums = _kernels.resampled_sums(rows, offsets, B, key)
    for t, (lo, hi) in enumerate([(0, 2), (2, 6)]):
        z = rows[lo:hi]
        for b in range(B):
            idx = _reference_indices(key, t * B + b, hi - lo)
            x, y = z[idx, 0], z[idx, 1]
            assert list(sums[t, b]) == [x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()]


@needs_numba
def test_lemire_rejects_low_words_below_threshold() -> None:
    from massage_outcomes.effects import _compiled

    U = np.uint64
    state = (U(1), U(2), U(3), U(4))
    n = 3  # 2**32 mod 3 = 1: a draw h with (h * 3) mod 2**32 == 0 must be rejected and redrawn
    i, *after = _compiled._bounded(U(0), U(n), U(1), *state)
    assert tuple(after) != state and 0 <= i < n
    i, *after = _compiled._bounded(U(2**32 - 1), U(n), U(1), *state)  # accepted: floor((2**32 - 1)·3 / 2**32) = 2
    assert tuple(after) == state and i == 2


def test_numpy_lemire_rejects_like_the_kernel() -> None:
    """The numpy path's vectorized rejection: the rejected column redraws (its state moves), the others not."""
    U = np.uint64
    state = np.array([[1, 5], [2, 6], [3, 7], [4, 8]], dtype=U)
    s = state.copy()
    nn, thr = np.array([3, 3], dtype=U), np.array([1, 1], dtype=U)
    i = _kernels._bounded(np.array([0, 2**32 - 1], dtype=U), nn, thr, s)
    assert 0 <= i[0] < 3 and i[1] == 2
    assert not np.array_equal(s[:, 0], state[:, 0]) and np.array_equal(s[:, 1], state[:, 1])
    expect = _reference_next(state[:, 0])  # the redraw is the low half of the stream's next output
    assert i[0] == ((expect & 0xFFFFFFFF) * 3) >> 32


@pytest.mark.parametrize("n, hot", [(3, 2), (7, 0), (10, 9)])
def test_kernel_index_draws_are_uniform(n: int, hot: int, use_numba: bool) -> None:
    # one row is 1, the rest 0: its count in a resample of n is Binomial(n, 1/n)
    v = np.zeros(n)
    v[hot] = 1.0
    counts = _kernels.resampled_sums(v, np.array([0, n]), 40_000, 2024)[0, :, 0].astype(int)
    observed = np.bincount(counts, minlength=n + 1)
    expected = stats.binom.pmf(np.arange(n + 1), n, 1 / n) * counts.size
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4


def test_kernel_result_does_not_depend_on_thread_count(compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import numba

    rng = np.random.default_rng(3)
    v = rng.normal(size=5000)
    offsets = np.array([0, 1200, 1201, 3000, 3000, 5000])  # includes a one-row and an empty sample
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = _kernels.resampled_sums(v, offsets, 300, 5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = _kernels.resampled_sums(v, offsets, 300, 5)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, many)
    assert np.all(one[3] == 0.0)  # the empty sample
    assert np.all(one[1, :, 0] == v[1200])  # a one-row sample is always that row
    _force_numpy(monkeypatch)
    assert np.array_equal(_kernels.resampled_sums(v, offsets, 300, 5), one)  # and so is the numpy path


@pytest.mark.parametrize("paired", [False, True])
def test_resampled_sums_identical_on_both_paths(paired: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bit for bit the same sums compiled and in numpy: samples of odd, even, one and no rows, in any order."""
    if not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed (the [fast] extra)")
    rng = np.random.default_rng(6)
    sizes = [37, 0, 1, 250, 2, 91, 90]
    Z = rng.normal(size=(sum(sizes), 2) if paired else sum(sizes))
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    _force_compiled(monkeypatch)
    fast = _kernels.resampled_sums(Z, offsets, 257, 2**63 + 12345)
    _force_numpy(monkeypatch)
    slow = _kernels.resampled_sums(Z, offsets, 257, 2**63 + 12345)
    assert np.array_equal(fast, slow)


def test_index_sums_have_the_bootstrap_law(use_numba: bool) -> None:
    n = 37
    v = np.arange(float(n))
    offsets = np.array([0, n])
    B = 20_000
    S = _kernels.resampled_sums(v, offsets, B, 8)[0, :, 0]
    mean, var = n * (n - 1) / 2, n * (n * n - 1) / 12  # sum of n uniform draws from 0..n-1
    assert abs(S.mean() - mean) < 4 * np.sqrt(var / B)
    assert abs(S.var() / var - 1) < 4 * np.sqrt(2 / B)


def test_bootstrap_agrees_with_scipy_either_path(use_numba: bool) -> None:
    rng = np.random.default_rng(12)
    a, b = rng.normal(0.5, 1, 45), rng.normal(0, 1.2, 55)
    ours = bootstrap_moments([[a, b]], lambda m: between_point(m[0], m[1], measure="hedges_g"),
                             n_resamples=4000, rng=1)

    def g(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        from massage_outcomes.effects.summary import Moments

        def mom(z: np.ndarray) -> Moments:
            m = z.mean(axis)
            return Moments(np.full(m.shape, float(z.shape[axis])), m, ((z - np.expand_dims(m, axis)) ** 2).sum(axis))

        return between_point(mom(x), mom(y), measure="hedges_g")

    ref = stats.bootstrap((a, b), g, n_resamples=4000, method="BCa", rng=np.random.default_rng(2), vectorized=True)
    se = ours.se[0]
    # two independent 4000-resample BCa limits: their difference has sd of about 0.1 bootstrap SE
    assert abs(ours.ci_low[0] - ref.confidence_interval.low) < 0.4 * se
    assert abs(ours.ci_high[0] - ref.confidence_interval.high) < 0.4 * se
    assert abs(se / ref.standard_error - 1) < 0.06


def test_paired_bootstrap_numpy_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    _force_numpy(monkeypatch)
    rng = np.random.default_rng(4)
    x = rng.normal(5, 1, 40)
    pairs = np.column_stack([x, x - 0.8 + rng.normal(0, 1, 40)])
    r1 = bootstrap_moments([[pairs]], lambda m: paired_point(m[0], measure="g_z"), n_resamples=500, rng=3)
    r2 = bootstrap_moments([[pairs]], lambda m: paired_point(m[0], measure="g_z"), n_resamples=500, rng=3)
    assert r1.ci_low[0] == r2.ci_low[0] and r1.ci_low[0] < r1.estimate[0] < r1.ci_high[0]


# ------------------------------------------------------------------------------------------ noncentral t
@needs_numba
def test_as243_cdf_matches_scipy_boost(compiled: None) -> None:
    rng = np.random.default_rng(21)
    df = rng.uniform(1, _kernels.NCT_DF_MAX, 20_000)
    d = rng.uniform(-30, 30, df.size) * rng.uniform(0, 1, df.size)
    t = d + rng.normal(0, 3, df.size) * np.sqrt(1 + d**2 / (2 * df))
    ours = _kernels.nct_cdf(t, df, d)
    ref = stats.nct.cdf(t, df, d)
    both = np.isfinite(ours) & np.isfinite(ref)
    assert both.mean() > 0.98
    assert np.max(np.abs(ours - ref)[both]) < 2e-13
    # hand-checkable values: t = 0 gives Φ(−ncp); ncp = 0 gives Student's t
    assert _kernels.nct_cdf(0.0, 7.0, 1.3) == pytest.approx(stats.norm.cdf(-1.3), abs=1e-15)
    assert _kernels.nct_cdf(-1.7, 9.0, 0.0) == pytest.approx(stats.t.cdf(-1.7, 9.0), abs=1e-15)


@pytest.mark.parametrize("beyond", [False, True])  # within the compiled domain, and beyond it (scipy only)
def test_compiled_ncp_solve_matches_the_scipy_iteration(beyond: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from massage_outcomes.effects import intervals

    if _kernels.HAVE_NUMBA:
        _force_compiled(monkeypatch)
    rng = np.random.default_rng(22)
    df = rng.uniform(2, 290, 3000) + (_kernels.NCT_DF_MAX if beyond else 0.0)
    t = rng.normal(0, 1, df.size) * rng.choice([0.5, 2.0, 6.0], df.size)
    lo, hi = intervals.nct_ncp_interval(t, df, 0.95)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    lo_s, hi_s = intervals.nct_ncp_interval(t, df, 0.95)
    if beyond:  # df > NCT_DF_MAX: the very same scipy iteration, so identical numbers
        assert np.array_equal(lo, lo_s) and np.array_equal(hi, hi_s)
    assert np.allclose(lo, lo_s, rtol=1e-9, atol=1e-10) and np.allclose(hi, hi_s, rtol=1e-9, atol=1e-10)
    # the limits solve the defining equations on scipy's CDF
    assert np.max(np.abs(stats.nct.cdf(t, df, lo) - 0.975)) < 1e-11
    assert np.max(np.abs(stats.nct.cdf(t, df, hi) - 0.025)) < 1e-11


# ------------------------------------------------------------------------------------ grouping on strings
def _tricky_strings(rng: np.random.Generator, n: int) -> list[str | None]:
    pool = ["", "a", "b", "ab", "T1", "T10", "T100", "relaxation", "therapeutic", "x" * 16, "x" * 17,
            "clinic-north-therapist-0001", "clinic-north-therapist-0002", "clinic-north-" + "z" * 30 + "-1",
            "clinic-north-" + "z" * 30 + "-2", "clinic-north-" + "q" * 30 + "-1", "Zoë", "zoe", "Ω", "naïve",
            "12345678", "123456789", "1234567\x00", "1234567",
            # short strings are told apart by their bytes with the length in the top byte: NULs and a length
            # byte's value (7) as text must not merge labels
            "ab\x00", "ab\x00\x00", "\x00", "\x07", "abcdefg", "abcdefg\x00", "1234567\x07", "\x07234567"]
    pool += [f"T{i}" for i in range(3000)]  # enough distinct labels to grow the hash table several times
    out: list[str | None] = [pool[i] for i in rng.integers(0, len(pool), n)]
    for i in rng.integers(0, n, n // 20):
        out[i] = None
    return out


@pytest.mark.parametrize("storage", ["large_string", "string", "chunked", "sliced"])
def test_factorize_strings_equals_pandas(storage: str, compiled: None) -> None:
    import pandas as pd
    import pyarrow as pa

    rng = np.random.default_rng(31)
    values = _tricky_strings(rng, 20_000)
    if storage == "string":
        arr = pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(values, pa.string())]))
        ser = pd.Series(arr)
    elif storage == "chunked":
        parts = [pa.array(values[:7000], pa.large_string()), pa.array(values[7000:], pa.large_string())]
        ser = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(parts)))
    elif storage == "sliced":
        ser = pd.Series(pd.array(["pad"] * 5 + values, dtype="str")).iloc[5:].reset_index(drop=True)
    else:
        ser = pd.Series(pd.array(values, dtype="str"))
    got = _kernels.factorize_strings(ser.array)
    assert got is not None
    codes, uniques = got
    ref_codes, ref_uniques = pd.factorize(ser, sort=True, use_na_sentinel=True)
    assert uniques == list(ref_uniques)
    assert np.array_equal(codes, ref_codes)
    arms = _kernels.match_two_strings(ser.array, "T10", "1234567\x00")
    is_a = (ser == "T10").to_numpy(dtype=bool, na_value=False)
    is_b = (ser == "1234567\x00").to_numpy(dtype=bool, na_value=False)
    assert arms is not None and np.array_equal(arms, np.where(is_a, 0, np.where(is_b, 1, -1)))


def test_not_arrow_strings_are_left_to_pandas(compiled: None) -> None:
    import pandas as pd

    assert _kernels.factorize_strings(pd.array(["a", "b"], dtype=object)) is None
    assert _kernels.match_two_strings(pd.array([1, 2]), "a", "b") is None
    assert _kernels.match_two_strings(pd.array(["a"], dtype="str"), "a", "b" * 17) is None  # > 16 bytes


@pytest.mark.parametrize("by", [["therapist", "condition"], ["therapist"], ["condition"],
                                ["clinic", "therapist", "condition"], ["condition", "clinic", "therapist"]])
@pytest.mark.parametrize("dropna", [True, False])
def test_group_codes_and_moments_same_with_and_without_kernels(dropna: bool, by: list[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from massage_outcomes.effects.summary import group_codes, grouped_moments

    rng = np.random.default_rng(32)
    n = 30_000
    frame = pd.DataFrame({
        "therapist": pd.array(_tricky_strings(rng, n), dtype="str"),
        "condition": pd.Categorical.from_codes(rng.integers(-1, 3, n), categories=["lbp", "neck", "tmj"]),
        "clinic": pd.array(np.array(["north", "south", "east"])[rng.integers(0, 3, n)], dtype="str"),
        "value": np.where(rng.random(n) < 0.02, np.nan, rng.normal(size=n)),
    })
    if _kernels.HAVE_NUMBA:
        _force_compiled(monkeypatch)
    codes, keys = group_codes(frame, by, dropna=dropna)
    m = grouped_moments(frame["value"], codes, len(keys))
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    codes0, keys0 = group_codes(frame, by, dropna=dropna)
    m0 = grouped_moments(frame["value"], codes0, len(keys0))
    assert np.array_equal(codes, codes0)
    pd.testing.assert_frame_equal(keys, keys0)
    for name in ("n", "mean", "m2"):  # bit for bit
        assert np.array_equal(getattr(m, name), getattr(m0, name), equal_nan=True)


def test_arm_group_codes_compiled_and_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    if _kernels.HAVE_NUMBA:
        _force_compiled(monkeypatch)
    rng = np.random.default_rng(33)
    codes = rng.integers(-1, 50, 10_000)
    arm = rng.integers(-1, 2, 10_000)
    got = _kernels.arm_group_codes(codes, arm)
    expect = np.where((codes >= 0) & (arm >= 0), codes * 2 + arm, -1)
    assert np.array_equal(got, expect)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    assert np.array_equal(_kernels.arm_group_codes(codes, arm), expect)


# ------------------------------------------------------- parallel row passes: thread count and chunking
def _with_threads(n_threads: int, fn: Any) -> Any:
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
        return fn()
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("learn", [1, 100, 1 << 14])
def test_parallel_factorize_same_codes_any_threads(learn: int, compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dictionary learnt on a prefix (tiny here: most labels are new in the parallel look-up and fixed up
    serially) gives exactly the codes of pandas, on one thread or two."""
    import pandas as pd

    from massage_outcomes.effects import _compiled

    monkeypatch.setattr(_compiled, "_LEARN_ROWS", learn)
    monkeypatch.setattr(_compiled, "_LOOKUP_BLOCK", 997)
    rng = np.random.default_rng(41)
    ser = pd.Series(pd.array(_tricky_strings(rng, 25_000), dtype="str"))
    one = _with_threads(1, lambda: _kernels.factorize_strings_unsorted(ser.array))
    two = _with_threads(2, lambda: _kernels.factorize_strings_unsorted(ser.array))
    assert one is not None and two is not None
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1]) and one[2].equals(two[2])
    codes, rank, uniques = one[0], one[1], one[2].to_pylist()
    ref_codes, ref_uniques = pd.factorize(ser, sort=True)
    assert uniques == list(ref_uniques)
    assert np.array_equal(np.where(codes >= 0, rank[codes], -1), ref_codes)
    first_seen = pd.unique(ser.dropna())  # ids in order of first appearance, as the serial pass numbered them
    assert [uniques[r] for r in rank] == list(first_seen)


def _row_order_moments(v: np.ndarray, codes: np.ndarray, G: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n, mean, m2 by one np.bincount over all rows (the row-order sums)."""
    ok = (codes >= 0) & ~np.isnan(v)
    c, w = codes[ok], v[ok]
    n = np.bincount(c, minlength=G).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(c, weights=w, minlength=G) / n
    return n, mean, np.bincount(c, weights=(w - mean[c]) ** 2, minlength=G)


def test_chunked_moments_deterministic_and_thread_independent(compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moments summed per fixed chunk: the same bits on one and two threads, on every run and on the numpy path;
    within 1e-12 relative of the row-order (bincount) sums; bit for bit the row-order sums with one chunk."""
    monkeypatch.setattr(_kernels, "MOMENT_CHUNK", 4096)
    rng = np.random.default_rng(42)
    n, G = 100_000, 700
    v = np.where(rng.random(n) < 0.01, np.nan, rng.normal(50.0, 3.0, n))
    codes = rng.integers(-1, G, n)
    one = _with_threads(1, lambda: _kernels.grouped_moments(v, codes, G))
    two = _with_threads(2, lambda: _kernels.grouped_moments(v, codes, G))
    again = _with_threads(2, lambda: _kernels.grouped_moments(v, codes, G))
    assert one is not None and two is not None and again is not None
    for a, b, c in zip(one, two, again, strict=True):
        assert np.array_equal(a, b) and np.array_equal(b, c)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    for a, b in zip(one, _kernels.grouped_moments(v, codes, G), strict=True):  # the numpy path: the same bits
        assert np.array_equal(a, b, equal_nan=True)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", True)
    ref = _row_order_moments(v, codes, G)
    assert np.array_equal(one[0], ref[0])
    np.testing.assert_allclose(one[1], ref[1], rtol=1e-13)
    np.testing.assert_allclose(one[2], ref[2], rtol=1e-12)
    monkeypatch.setattr(_kernels, "MOMENT_CHUNK", n)  # one chunk: the row-order sums exactly
    single = _kernels.grouped_moments(v, codes, G)
    for a, b in zip(single, ref, strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_combine_codes_thread_independent(compiled: None) -> None:
    rng = np.random.default_rng(43)
    c1 = rng.integers(-1, 300, 50_000).astype(np.int32)
    c2 = rng.integers(-1, 7, 50_000).astype(np.int8)
    lut = rng.permutation(300).astype(np.int32)
    one = _with_threads(1, lambda: _kernels.combine_codes([c1, c2], [lut, None], [300, 7]))
    two = _with_threads(2, lambda: _kernels.combine_codes([c1, c2], [lut, None], [300, 7]))
    assert one is not None and two is not None
    assert np.array_equal(one[0], two[0]) and np.array_equal(one[1], two[1])
    comb = np.where((c1 >= 0) & (c2 >= 0), lut[np.maximum(c1, 0)].astype(np.int64) * 7 + c2, -1)
    observed = np.unique(comb[comb >= 0])
    assert np.array_equal(one[1], observed)
    assert np.array_equal(one[0], np.where(comb >= 0, np.searchsorted(observed, comb), -1))


def test_grouped_effects_identical_on_one_and_two_threads(compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end over several moment chunks and look-up blocks: every number bit for bit on 1 and 2 threads,
    and within 1e-12 relative of the numpy/pandas path (whose exact limits come from scipy's nctdtr)."""
    import pandas as pd

    from massage_outcomes.effects import _compiled
    from massage_outcomes.effects.api import grouped_effects

    monkeypatch.setattr(_kernels, "MOMENT_CHUNK", 2048)
    monkeypatch.setattr(_compiled, "_LEARN_ROWS", 256)
    monkeypatch.setattr(_compiled, "_LOOKUP_BLOCK", 1000)
    rng = np.random.default_rng(44)
    n = 40_000
    frame = pd.DataFrame({
        "therapist": pd.array(np.char.add("T", rng.integers(0, 150, n).astype(str)), dtype="str"),
        "condition": pd.Categorical.from_codes(rng.integers(0, 3, n), categories=["lbp", "neck", "tmj"]),
        "arm": pd.array(np.array(["therapeutic", "relaxation", "other"])[rng.integers(0, 3, n)], dtype="str"),
        "change": rng.normal(-1.0, 2.0, n),
    })

    def run() -> tuple[pd.DataFrame, Any]:
        tab, res, _ = grouped_effects(frame, value="change", by=["therapist", "condition"],
                                      compare=("arm", "therapeutic", "relaxation"), ci="exact")
        return tab, res

    tab1, res1 = _with_threads(1, run)
    tab2, res2 = _with_threads(2, run)
    pd.testing.assert_frame_equal(tab1, tab2, check_exact=True)
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert np.array_equal(getattr(res1, name), getattr(res2, name), equal_nan=True)
    monkeypatch.setattr(_kernels, "HAVE_NUMBA", False)
    tab0, res0 = run()
    pd.testing.assert_frame_equal(tab1, tab0, check_exact=False, rtol=1e-12)
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        np.testing.assert_allclose(getattr(res1, name), getattr(res0, name), rtol=1e-12)


def test_default_moments_row_order_up_to_one_chunk_and_accurate_beyond(use_numba: bool) -> None:
    """On either path the moments are those of one np.bincount bit for bit while the rows fit one chunk; beyond
    it (fixed chunks, so thread- and path-independent) they are no further from the exact sums than the
    row-order ones."""
    import math

    from massage_outcomes.effects.summary import grouped_moments

    chunk = _kernels.MOMENT_CHUNK
    rng = np.random.default_rng(45)
    G = 900
    for n in (150_000, 2 * chunk + 12_345):
        v = rng.normal(1000.0, 1.0, n)  # a large mean: rounding in the sums shows
        codes = rng.integers(-1, G, n)
        got = grouped_moments(v, codes, G)
        ref = _row_order_moments(v, codes, G)
        if n <= chunk:
            for name, r in zip(("n", "mean", "m2"), ref, strict=True):
                assert np.array_equal(getattr(got, name), r, equal_nan=True)
            continue
        assert np.array_equal(got.n, ref[0])
        assert not np.array_equal(got.mean, ref[1])  # several chunks: the sums really are regrouped
        exact = np.array([math.fsum(v[codes == g]) / np.sum(codes == g) for g in range(G)])
        err_got, err_ref = np.abs(got.mean - exact).max(), np.abs(ref[1] - exact).max()
        assert err_got <= err_ref
        np.testing.assert_allclose(got.m2, ref[2], rtol=1e-12)


def test_between_effects_on_raw_key_bins_equal_dense_codes(compiled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without bootstrap, between-group moments are binned on the raw combined key codes (no renumbering pass):
    every number bit for bit as with dense group codes, with missing keys, unused arms and unobserved key pairs."""
    import pandas as pd

    from massage_outcomes.effects import api, summary

    rng = np.random.default_rng(46)
    n = 40_000
    therapist = np.char.add("T", rng.integers(0, 150, n).astype(str)).astype(object)
    therapist[rng.integers(0, n, 300)] = None
    cond = rng.integers(0, 3, n)
    cond[(therapist == "T7") & (cond == 2)] = 1  # one key pair never observed
    frame = pd.DataFrame({
        "therapist": pd.array(therapist, dtype="str"),
        "condition": pd.Categorical.from_codes(cond, categories=["lbp", "neck", "tmj"]),
        "arm": pd.array(np.array(["therapeutic", "relaxation", "other"])[rng.choice(3, n, p=[0.45, 0.45, 0.1])],
                        dtype="str"),
        "change": np.where(rng.random(n) < 0.01, np.nan, rng.normal(-1.0, 2.0, n)),
    })
    by = ["therapist", "condition"]
    _, nbins, bins, _, n_groups = summary._group_codes(frame, by, dense=False)
    assert bins is not None and nbins == 150 * 3 and n_groups == 150 * 3 - 1  # the raw path is taken

    def run() -> tuple[pd.DataFrame, Any]:
        tab, res, _ = api.grouped_effects(frame, value="change", by=by, compare=("arm", "therapeutic", "relaxation"))
        return tab, res

    tab_raw, res_raw = run()
    orig = summary._group_codes
    monkeypatch.setattr(api, "_group_codes", lambda f, k, dropna=True, dense=True: orig(f, k, dropna=dropna))
    tab_dense, res_dense = run()
    pd.testing.assert_frame_equal(tab_raw, tab_dense, check_exact=True)
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert np.array_equal(getattr(res_raw, name), getattr(res_dense, name), equal_nan=True)


@pytest.mark.parametrize("case", ["dfs", "negative", "nan", "fractional", "small", "wide"])
def test_distinct_equals_numpy_unique(case: str) -> None:
    """The counting fast path for integer-valued arrays gives np.unique's values and inverse; others go to it."""
    rng = np.random.default_rng(47)
    x = {
        "dfs": rng.integers(140, 250, 5005).astype(float),
        "negative": rng.integers(-2, 250, 5005).astype(float),
        "nan": np.r_[rng.integers(0, 50, 3000).astype(float), np.nan, np.nan],
        "fractional": np.r_[rng.integers(0, 50, 3000).astype(float), 2.5],
        "small": rng.integers(0, 9, 200).astype(float),
        "wide": np.r_[rng.integers(0, 50, 3000).astype(float), 2.0**21],
    }[case]
    u, inv = _kernels.distinct(x)
    ref_u, ref_inv = np.unique(x, return_inverse=True)
    assert np.array_equal(u, ref_u, equal_nan=True) and np.array_equal(inv, ref_inv)


@pytest.mark.parametrize("ci", ["exact", "bca"])
def test_public_results_the_same_compiled_and_not(ci: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """effect_sizes on the sample trial with every call compiled and with none: the same numbers (estimates,
    SEs, p-values and bootstrap limits bit for bit; exact limits within 1e-12)."""
    import massage_outcomes as mo
    from massage_outcomes.effects.api import effect_sizes

    if not _kernels.HAVE_NUMBA:
        pytest.skip("numba not installed (the [fast] extra)")
    frame = mo.load_sample("trial").analysis_frame("pain_nrs").assign(
        change=lambda f: f["change"] + np.random.default_rng(9).normal(0, 0.3, len(f)))  # continuous: index draws
    kw = dict(instrument="pain_nrs", compare=("arm", "therapeutic", "relaxation"), ci=ci, n_resamples=400, rng=3) \
        if ci == "bca" else dict(instrument="pain_nrs", compare=("arm", "therapeutic", "relaxation"), ci=ci)
    _force_compiled(monkeypatch)
    fast = effect_sizes(frame, **kw)
    monkeypatch.setattr(_kernels, "MODE", "never")
    slow = effect_sizes(frame, **kw)
    for col in ("estimate", "se", "p_value"):
        assert np.array_equal(fast[col].to_numpy(float), slow[col].to_numpy(float), equal_nan=True), col
    for col in ("ci_low", "ci_high"):
        if ci == "bca":
            assert np.array_equal(fast[col].to_numpy(float), slow[col].to_numpy(float), equal_nan=True), col
        else:
            np.testing.assert_allclose(fast[col].to_numpy(float), slow[col].to_numpy(float), rtol=0, atol=1e-12)

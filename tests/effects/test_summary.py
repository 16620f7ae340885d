"""Moments: exact merging (Chan et al.), leave-one-out updates, grouped bincount passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from massage_outcomes.effects.summary import (
    Moments,
    PairedMoments,
    group_codes,
    grouped_moments,
    grouped_paired_moments,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(st.lists(finite, min_size=2, max_size=60), st.integers(1, 5), st.data())
def test_chunked_merge_equals_full(values: list[float], nchunks: int, data: st.DataObject) -> None:
    v = np.array(values)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(v)), min_size=nchunks - 1, max_size=nchunks - 1)))
    parts = np.split(v, cuts)
    merged = Moments.from_values(parts[0]) if parts[0].size else Moments(0.0, np.nan, np.nan)
    for p in parts[1:]:
        merged = merged.merge(Moments.from_values(p) if p.size else Moments(0.0, np.nan, np.nan))
    full = Moments.from_values(v)
    assert merged.n == full.n
    np.testing.assert_allclose(merged.mean, full.mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(merged.m2, full.m2, rtol=1e-8, atol=1e-6)


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=50), st.integers(1, 49))
def test_paired_merge_equals_full(pairs: list[tuple[float, float]], cut: int) -> None:
    arr = np.array(pairs)
    cut = min(cut, len(arr) - 1)
    a = PairedMoments.from_values(arr[:cut, 0], arr[:cut, 1])
    b = PairedMoments.from_values(arr[cut:, 0], arr[cut:, 1])
    full = PairedMoments.from_values(arr[:, 0], arr[:, 1])
    m = a.merge(b)
    for k in ("n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy"):
        np.testing.assert_allclose(getattr(m, k), getattr(full, k), rtol=1e-8, atol=1e-6)


def test_grouped_pass_equals_per_group_and_pandas() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(10, 3, 5000)
    g = rng.integers(0, 7, 5000)
    m = grouped_moments(v, g, 7)
    ref = pd.DataFrame({"v": v, "g": g}).groupby("g")["v"].agg(["count", "mean", "var"])
    np.testing.assert_allclose(m.n, ref["count"])
    np.testing.assert_allclose(m.mean, ref["mean"], rtol=1e-12)
    np.testing.assert_allclose(m.var, ref["var"], rtol=1e-10)


def test_grouped_paired_and_drop_one() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=40), rng.normal(size=40)
    codes = np.r_[np.zeros(25, int), np.ones(15, int)]
    p = grouped_paired_moments(x, y, codes, 2)
    ref = PairedMoments.from_values(x[:25], y[:25])
    np.testing.assert_allclose(p.cxy[0], ref.cxy)
    loo = ref.drop_one(x[3], y[3])
    direct = PairedMoments.from_values(np.delete(x[:25], 3), np.delete(y[:25], 3))
    for k in ("n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy"):
        np.testing.assert_allclose(getattr(loo, k), getattr(direct, k), rtol=1e-10)


def test_group_codes_skip_missing_and_keep_dtypes() -> None:
    df = pd.DataFrame({
        "c": pd.Categorical(["a", "b", "a", None], categories=["a", "b", "z"]),
        "t": ["x", "x", "y", "y"],
    })
    codes, keys = group_codes(df, ["c", "t"])
    assert codes.tolist() == [0, 2, 1, -1]
    assert keys["c"].tolist() == ["a", "a", "b"] and keys["t"].tolist() == ["x", "y", "x"]
    assert isinstance(keys["c"].dtype, pd.CategoricalDtype)


@given(st.lists(st.tuples(st.integers(0, 4), finite), min_size=1, max_size=80), st.integers(1, 79))
def test_grouped_chunks_merge_to_full_grouped_pass(rows: list[tuple[int, float]], cut: int) -> None:
    g = np.array([r[0] for r in rows])
    v = np.array([r[1] for r in rows])
    cut = min(cut, len(v))
    full = grouped_moments(v, g, 5)
    merged = grouped_moments(v[:cut], g[:cut], 5).merge(grouped_moments(v[cut:], g[cut:], 5))
    np.testing.assert_array_equal(merged.n, full.n)
    seen = full.n > 0
    np.testing.assert_allclose(merged.mean[seen], full.mean[seen], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(merged.m2[seen], full.m2[seen], rtol=1e-8, atol=1e-6)


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("dropna", [True, False])
def test_group_codes_match_pandas_groupby(categorical, dropna):
    frame = pd.DataFrame({
        "condition": ["tmj", None, "migraine", "tmj", "migraine", None, "sciatica"],
        "technique": ["swedish", "sports", None, "swedish", "sports", "sports", "swedish"],
    })
    if categorical:
        frame = frame.astype("category")
    codes, keys = group_codes(frame, ["condition", "technique"], dropna=dropna)
    grouped = frame.groupby(["condition", "technique"], sort=True, dropna=dropna, observed=True)
    expected = grouped.ngroup().fillna(-1).astype(int).to_numpy()
    np.testing.assert_array_equal(codes, expected)
    expected_keys = grouped.size().reset_index()[["condition", "technique"]]
    def rows(table):
        return [tuple(None if pd.isna(v) else str(v) for v in row) for row in table.itertuples(index=False)]

    assert rows(keys) == rows(expected_keys)


@pytest.mark.parametrize("series", [
    pd.Series(["t", "c", None, "x", "t"], dtype="category"),
    pd.Series(["t", "c", None, "x", "t"], dtype="str"),
    pd.Series(["t", "c", None, "x", "t"], dtype=object),
])
def test_arm_codes_are_one_rule_for_every_column_type(series: pd.Series) -> None:
    from massage_outcomes.effects.summary import arm_codes

    assert arm_codes(series, "t", "c").tolist() == [0, 1, -1, -1, 0]
    assert arm_codes(series, "c", "t").tolist() == [1, 0, -1, -1, 1]


def test_arm_codes_match_a_category_by_value_or_by_its_spelling() -> None:
    from massage_outcomes.effects.summary import arm_codes

    arms = pd.Series(pd.Categorical([1, 2, 1, None]))
    assert arm_codes(arms, 1, 2).tolist() == [0, 1, 0, -1]
    assert arm_codes(arms, "1", "2").tolist() == [0, 1, 0, -1]  # as responders compared labels: as text

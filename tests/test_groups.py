"""The shared per-group helpers (groups.py) against pandas' groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from massage_outcomes.groups import first_positions, first_values


@pytest.mark.parametrize("kind", ["float", "str", "category"])
def test_first_values_is_groupby_first(kind: str) -> None:
    rng = np.random.default_rng(5)
    n, G = 2_000, 60
    codes = rng.integers(-1, G - 3, n)  # the last three groups are empty
    raw = rng.integers(0, 9, n).astype(float)
    raw[rng.random(n) < 0.3] = np.nan
    values = {"float": pd.Series(raw), "str": pd.Series(raw).map(lambda x: None if np.isnan(x) else f"v{x:.0f}"),
              "category": pd.Series(raw).astype("category")}[kind]
    got = first_values(codes, values, G)
    ref = values[codes >= 0].groupby(codes[codes >= 0], observed=False).first().reindex(range(G))
    assert len(got) == G
    assert got.isna().tolist() == ref.isna().tolist()
    assert got.dropna().astype(str).tolist() == ref.dropna().astype(str).tolist()
    if kind == "category":
        assert isinstance(got.dtype, pd.CategoricalDtype) and got.dtype == values.dtype


def test_first_positions_with_and_without_a_mask() -> None:
    codes = np.array([2, 0, 2, 0, -1, 1])
    assert first_positions(codes, 4).tolist() == [1, 5, 0, -1]
    assert first_positions(codes, 4, np.array([0, 0, 1, 1, 1, 0], dtype=bool)).tolist() == [3, -1, 2, -1]
    assert first_positions(np.zeros(0, dtype=int), 2).tolist() == [-1, -1]

"""Helpers for the scale tests: compare a scan's table with the in-memory table column by column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame, *, rtol: float = 1e-10) -> None:
    """Same columns in the same order, same rows; numbers equal to ``rtol`` (relative, absolute below 1),
    NaN where the other is NaN; text and keys equal exactly."""
    got, want = pd.DataFrame(got), pd.DataFrame(want)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for c in want.columns:
        g, w = got[c], want[c]
        if pd.api.types.is_float_dtype(w.dtype):
            ga, wa = g.to_numpy(dtype=float), w.to_numpy(dtype=float)
            assert np.array_equal(np.isnan(ga), np.isnan(wa)), c
            assert np.array_equal(ga[np.isinf(wa)], wa[np.isinf(wa)]), c
            ok = np.isfinite(wa)
            err = np.abs(ga[ok] - wa[ok]) / np.maximum(1.0, np.abs(wa[ok]))
            assert err.size == 0 or err.max() <= rtol, (c, float(err.max()))
        else:
            assert g.astype(str).tolist() == w.astype(str).tolist(), c


@pytest.fixture
def same_table():
    """:func:`assert_same_table` as a fixture (test modules here are not a package)."""
    return assert_same_table

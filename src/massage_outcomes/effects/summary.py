"""Per-group summary statistics: the only thing the effect-size estimators ever look at.

Every estimator in :mod:`massage_outcomes.effects` is a vectorized function of per-group *moments*:

* :class:`Moments` -- ``n``, ``mean`` and ``m2`` (the centred sum of squares, Σ(x − x̄)²) per group;
* :class:`PairedMoments` -- the same for two paired occasions ``x`` (start) and ``y`` (end) plus the centred
  cross-product ``cxy`` = Σ(x − x̄)(y − ȳ).

Moments *merge* exactly (Chan, Golub & LeVeque 1979, the parallel form of Welford's update), so summaries computed
chunk by chunk -- on several machines, from a database, or from a file read in pieces -- give the full-data
answer. They also support leave-one-out updates, which the BCa bootstrap uses for its jackknife in O(n).

Examples
--------
>>> import numpy as np
>>> from massage_outcomes.effects.summary import Moments
>>> a = Moments.from_values(np.array([1.0, 2.0, 4.0]))
>>> b = Moments.from_values(np.array([3.0, 7.0]))
>>> full = Moments.from_values(np.array([1.0, 2.0, 4.0, 3.0, 7.0]))
>>> merged = a.merge(b)
>>> bool(np.allclose([merged.n, merged.mean, merged.m2], [full.n, full.mean, full.m2]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.effects import _kernels

__all__ = ["Moments", "PairedMoments", "arm_codes", "group_codes", "grouped_moments", "grouped_paired_moments"]


def _arr(x: object) -> np.ndarray:
    return np.asarray(x, dtype=float)


@dataclass(frozen=True, eq=False)
class Moments:
    """Per-group count, mean and centred sum of squares (arrays of one shape, one element per group).

    Attributes
    ----------
    n : number of observations
    mean : arithmetic mean
    m2 : Σ(x − mean)², the centred sum of squares
    """

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    def __post_init__(self) -> None:
        for name in ("n", "mean", "m2"):
            object.__setattr__(self, name, _arr(getattr(self, name)))

    @property
    def var(self) -> np.ndarray:
        """Sample variance (ddof = 1); NaN where n < 2."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n > 1, self.m2 / (self.n - 1), np.nan)

    @property
    def sd(self) -> np.ndarray:
        """Sample standard deviation (ddof = 1)."""
        return np.sqrt(self.var)

    @classmethod
    def from_values(cls, values: object) -> Moments:
        """Moments of one sample (NaN values are dropped)."""
        v = _arr(values).ravel()
        v = v[~np.isnan(v)]
        n = float(v.size)
        mean = float(v.mean()) if v.size else np.nan
        m2 = float(((v - mean) ** 2).sum()) if v.size else np.nan
        return cls(np.array(n), np.array(mean), np.array(m2))

    @classmethod
    def from_stats(cls, n: object, mean: object, sd: object) -> Moments:
        """Build from reported n, mean and SD (as in a published table)."""
        n_ = _arr(n)
        return cls(n_, _arr(mean), _arr(sd) ** 2 * (n_ - 1))

    def merge(self, other: Moments) -> Moments:
        """Exact combination of two sets of moments (Chan et al. 1979): the moments of the pooled data."""
        n = self.n + other.n
        delta = other.mean - self.mean
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(n > 0, other.n / n, 0.0)
            mean = np.where(self.n == 0, other.mean, np.where(other.n == 0, self.mean, self.mean + delta * w))
            m2 = np.where(
                self.n == 0, other.m2,
                np.where(other.n == 0, self.m2, self.m2 + other.m2 + delta**2 * self.n * w),
            )
        return Moments(n, mean, m2)

    def drop_one(self, x: np.ndarray) -> Moments:
        """Leave-one-out moments: the moments without the value ``x`` (broadcast against the groups)."""
        n1 = self.n - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = (self.n * self.mean - x) / n1
            m2 = self.m2 - (x - self.mean) ** 2 * self.n / n1
        return Moments(n1, mean, np.maximum(m2, 0.0))

    def __getitem__(self, idx: Any) -> Moments:
        return Moments(self.n[idx], self.mean[idx], self.m2[idx])


@dataclass(frozen=True, eq=False)
class PairedMoments:
    """Per-group moments of paired occasions: ``x`` (start, e.g. pre) and ``y`` (end, e.g. post).

    Attributes
    ----------
    n : number of complete pairs
    mean_x, mean_y : means at the two occasions
    m2_x, m2_y : centred sums of squares
    cxy : centred cross-product Σ(x − x̄)(y − ȳ)
    """

    n: np.ndarray
    mean_x: np.ndarray
    mean_y: np.ndarray
    m2_x: np.ndarray
    m2_y: np.ndarray
    cxy: np.ndarray

    def __post_init__(self) -> None:
        for name in ("n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy"):
            object.__setattr__(self, name, _arr(getattr(self, name)))

    @property
    def x(self) -> Moments:
        return Moments(self.n, self.mean_x, self.m2_x)

    @property
    def y(self) -> Moments:
        return Moments(self.n, self.mean_y, self.m2_y)

    @property
    def diff(self) -> Moments:
        """Moments of the differences y − x (change from start to end)."""
        return Moments(self.n, self.mean_y - self.mean_x, np.maximum(self.m2_x + self.m2_y - 2 * self.cxy, 0.0))

    @property
    def r(self) -> np.ndarray:
        """Pearson correlation between the occasions."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.cxy / np.sqrt(self.m2_x * self.m2_y)

    @classmethod
    def from_values(cls, x: object, y: object) -> PairedMoments:
        """Moments of one paired sample (pairs with a NaN are dropped)."""
        xa, ya = _arr(x).ravel(), _arr(y).ravel()
        ok = ~(np.isnan(xa) | np.isnan(ya))
        xa, ya = xa[ok], ya[ok]
        if xa.size == 0:
            nan = np.array(np.nan)
            return cls(np.array(0.0), nan, nan, nan, nan, nan)
        mx, my = xa.mean(), ya.mean()
        return cls(
            np.array(float(xa.size)), np.array(mx), np.array(my),
            np.array(((xa - mx) ** 2).sum()), np.array(((ya - my) ** 2).sum()), np.array(((xa - mx) * (ya - my)).sum()),
        )

    def merge(self, other: PairedMoments) -> PairedMoments:
        """Exact combination of two sets of paired moments (Chan et al. 1979, with the co-moment)."""
        mx = self.x.merge(other.x)
        my = self.y.merge(other.y)
        n = self.n + other.n
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = np.where(n > 0, (other.mean_x - self.mean_x) * (other.mean_y - self.mean_y) * self.n * other.n / n, 0.0)
        cxy = np.where(self.n == 0, other.cxy, np.where(other.n == 0, self.cxy, self.cxy + other.cxy + extra))
        return PairedMoments(n, mx.mean, my.mean, mx.m2, my.m2, cxy)

    def drop_one(self, x: np.ndarray, y: np.ndarray) -> PairedMoments:
        """Leave-one-out paired moments without the pair (x, y)."""
        n1 = self.n - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            f = self.n / n1
            dx, dy = x - self.mean_x, y - self.mean_y
            return PairedMoments(
                n1, (self.n * self.mean_x - x) / n1, (self.n * self.mean_y - y) / n1,
                np.maximum(self.m2_x - dx * dx * f, 0.0), np.maximum(self.m2_y - dy * dy * f, 0.0), self.cxy - dx * dy * f,
            )

    def __getitem__(self, idx: Any) -> PairedMoments:
        return PairedMoments(*(getattr(self, k)[idx] for k in ("n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy")))


def group_codes(
    frame: pd.DataFrame, keys: Sequence[str], *, dropna: bool = True
) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group codes for the rows of ``frame`` and the table of observed keys.

    Categorical keys use their codes directly; other keys are factorized once. The returned table has one row per
    observed combination, in sorted key order (missing last), with the key columns keeping their dtypes. With
    ``dropna=True`` a row with a missing key gets code −1 (callers count and report such rows); with
    ``dropna=False`` a missing key is a group of its own, like ``groupby(..., dropna=False)``.
    """
    codes, _, _, key_cols, n_groups = _group_codes(frame, keys, dropna=dropna)
    return codes, pd.DataFrame(key_cols, index=pd.RangeIndex(n_groups))


def _group_codes(
    frame: pd.DataFrame, keys: Sequence[str], *, dropna: bool = True, dense: bool = True
) -> tuple[np.ndarray, int, np.ndarray | None, dict[str, Any], int]:
    """:func:`group_codes` as (codes, nbins, bins, key columns, number of groups G); the key columns (arrays of
    length G, for a table the caller builds once with its own columns) in the order of ``keys``. With
    ``dense`` (or when the combination is not compiled), codes are 0..G−1 (−1 missing), ``nbins`` = G and ``bins`` None. With
    ``dense=False`` and the compiled combination, codes may instead be the raw mixed-radix codes: 0..nbins−1,
    ``nbins`` or −1 where a key is missing, and ``bins`` gives the raw code of each group (sorted). For callers
    that only bin rows (moments per group): one pass over the rows fewer (the renumbering; ~0.5 ms per 1M
    rows)."""
    keys = list(keys)
    if not keys:
        return np.zeros(len(frame), dtype=np.int64), 1, None, {}, 1
    columns = {k: frame[k] for k in keys}  # once: a column look-up costs ~0.1 ms in pandas 3
    codes_list: list[np.ndarray] = []
    luts: list[np.ndarray | None] = []  # sorted positions of first-seen codes (compiled string factorization)
    uniques_list: list[object] = []
    for k in keys:
        col = columns[k]
        lut = None
        if isinstance(col.dtype, pd.CategoricalDtype):
            c = np.asarray(col.array.codes)  # the Categorical's own codes: no Series built
            u = col.cat.categories
            if not dropna:  # missing becomes one more level, after the categories
                c = np.where(c < 0, len(u), c)
                u = pd.Index([*u, None], dtype=object)
        else:
            # Arrow-backed strings, many rows: one compiled hash pass (_kernels.THRESHOLDS["factorize"]) instead
            # of pandas' factorize; missing labels as a level of their own stay with pandas
            fast = _kernels.factorize_strings_unsorted(col.array) if dropna or not col.hasnans else None
            if fast is not None:
                c, lut, uniq = fast
                u = pd.array(uniq, dtype=col.dtype)  # from the Arrow array: no Python strings
            else:
                c, u = pd.factorize(col, sort=True, use_na_sentinel=dropna)
        codes_list.append(np.asarray(c))
        luts.append(lut)
        uniques_list.append(u)
    sizes = [max(len(u), 1) for u in uniques_list]  # type: ignore[arg-type]
    total = int(np.prod(sizes, dtype=np.int64))
    # raw codes only while the bins are few against the rows: the per-bin work of the moments (accumulators
    # zeroed and merged per chunk) must stay well below the row pass it saves
    raw = not dense and total <= len(frame) // 16
    compiled = _kernels.combine_codes(codes_list, luts, sizes, dense=not raw)
    bins: np.ndarray | None = None
    nbins = 0
    if compiled is not None:
        out_codes, observed = compiled
        nbins = total if raw else observed.size
        bins = observed if raw else None
    else:
        codes_list = [c if lut is None else np.where(c >= 0, lut[c], -1) for c, lut in zip(codes_list, luts, strict=True)]
        small = total < 2**31
        combined: np.ndarray = np.asarray(codes_list[0]).astype(np.int32 if small else np.int64, copy=True)
        missing = combined < 0
        for c, s_ in zip(codes_list[1:], sizes[1:], strict=True):
            missing |= c < 0
            combined *= s_
            combined += c
        any_missing = bool(missing.any())
        if any_missing:
            combined[missing] = total
        present = np.bincount(combined, minlength=total + 1)[:total] > 0
        observed = np.flatnonzero(present)
        remap = np.full(total + 1, -1, dtype=np.int64)
        remap[observed] = np.arange(observed.size)
        out_codes = remap[combined]
        nbins = observed.size
    # decode observed combined codes back to per-key positions
    table: dict[str, object] = {}
    rest = observed.copy()
    for k, u, s in zip(reversed(keys), reversed(uniques_list), reversed(sizes), strict=True):
        pos = rest % s
        rest = rest // s
        col = columns[k]
        if isinstance(col.dtype, pd.CategoricalDtype):
            n_levels = len(col.cat.categories)
            table[k] = pd.Categorical.from_codes(np.where(pos >= n_levels, -1, pos), dtype=col.dtype)
        else:
            table[k] = u.take(pos) if isinstance(u, pd.api.extensions.ExtensionArray) else pd.Index(u).take(pos).array
    return out_codes, nbins, bins, {k: table[k] for k in keys}, int(observed.size)


def arm_codes(arm: pd.Series, a: Any, b: Any) -> np.ndarray:
    """Two-arm codes: 0 where ``arm == a``, 1 where ``arm == b``, −1 elsewhere (missing included).

    The one helper for "which of the two compared arms is this row in" (effect_sizes, responders). A
    Categorical is matched on its categories (a category equal to ``a`` or spelled as ``str(a)``); Arrow-backed
    strings in one compiled or pyarrow pass.

    Examples
    --------
    >>> import pandas as pd
    >>> arm_codes(pd.Series(["t", "c", None, "x", "t"], dtype="category"), "t", "c").tolist()
    [0, 1, -1, -1, 0]
    """
    if isinstance(arm.dtype, pd.CategoricalDtype):
        cats = list(arm.cat.categories)
        # a lookup per category (its last slot serves code −1, missing): one gather, where two masked
        # assignments took 10 ms for 1M rows
        lut = np.full(len(cats) + 1, -1, dtype=np.int8)
        for code, label in ((0, a), (1, b)):
            hit = [i for i, c in enumerate(cats) if c == label or str(c) == str(label)]
            if hit:
                lut[hit[0]] = code
        return lut[np.asarray(arm.array.codes)]
    if isinstance(a, str) and isinstance(b, str):
        # Arrow-backed strings (pandas' default "str"): one branch-free compiled pass over the bytes (4-7 ms for
        # 1M labels, against 19 ms for pyarrow's index_in below)
        fast = _kernels.match_two_strings(arm.array, a, b)
        if fast is not None:
            return fast
    pa_array = getattr(arm.array, "_pa_array", None)  # Arrow-backed strings without numba: one hash pass
    if pa_array is not None and isinstance(a, str) and isinstance(b, str):
        import pyarrow as pa
        import pyarrow.compute as pc

        idx = pc.fill_null(pc.index_in(pa_array, value_set=pa.array([a, b])), -1)
        return np.asarray(idx.to_numpy(), dtype=np.int64)
    is_a = (arm == a).to_numpy(dtype=bool, na_value=False)
    is_b = (arm == b).to_numpy(dtype=bool, na_value=False)
    return is_b.view(np.int8) - (~(is_a | is_b)).view(np.int8)


def _valid_codes(codes: np.ndarray, ngroups: int, *values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Codes with invalid rows (code < 0 or a NaN value) sent to an extra bin ``ngroups``; None mask when all valid."""
    bad = codes < 0
    for v in values:
        bad |= np.isnan(v)
    if not bad.any():
        return codes, None
    return np.where(bad, ngroups, codes), bad


def grouped_moments(values: object, codes: np.ndarray, ngroups: int) -> Moments:
    """Moments of ``values`` per group code (codes < 0 and NaN values are ignored), two exact passes.

    The sums run in row order within fixed chunks of rows (``_kernels.MOMENT_CHUNK``; one ``np.bincount`` per
    chunk, or compiled for large data where numba is installed: the same bits), so data of up to one chunk
    get the row-order sums exactly and larger data sums at least as accurate.
    """
    return Moments(*_kernels.grouped_moments(_arr(values), np.asarray(codes), ngroups))


def grouped_paired_moments(x: object, y: object, codes: np.ndarray, ngroups: int) -> PairedMoments:
    """Paired moments per group code (pairs with a NaN, and codes < 0, are ignored)."""
    xa, ya = _arr(x), _arr(y)
    c, bad = _valid_codes(np.asarray(codes), ngroups, xa, ya)
    if bad is not None:
        xa, ya = np.where(bad, 0.0, xa), np.where(bad, 0.0, ya)
    m = ngroups + 1
    n = np.bincount(c, minlength=m)[:ngroups].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = np.where(n > 0, np.bincount(c, weights=xa, minlength=m)[:ngroups] / n, np.nan)
        my = np.where(n > 0, np.bincount(c, weights=ya, minlength=m)[:ngroups] / n, np.nan)
    dx, dy = xa - np.append(mx, 0.0)[c], ya - np.append(my, 0.0)[c]
    return PairedMoments(
        n, mx, my,
        np.bincount(c, weights=dx * dx, minlength=m)[:ngroups],
        np.bincount(c, weights=dy * dy, minlength=m)[:ngroups],
        np.bincount(c, weights=dx * dy, minlength=m)[:ngroups],
    )

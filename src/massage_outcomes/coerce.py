"""Typed columns from raw cells, per distinct value: text as Categoricals with missing tokens blanked, numbers
with or without a decimal comma, dates; shared by the readers and the rules (one implementation of each).

Every helper works on a column's distinct values (its categories), never once per row, so that cleaning a
column of millions of cells costs a pass over its codes.

Examples
--------
>>> import pandas as pd
>>> from massage_outcomes.coerce import as_text, to_number
>>> as_text(pd.Series([" a ", "NA", "b"])).tolist()
['a', nan, 'b']
>>> numbers, bad = to_number(pd.Series(["3,5", "x", None]), decimal_comma=True)
>>> numbers.tolist(), bad.tolist()
([3.5, nan, nan], [False, True, False])
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.schema import MISSING_TOKENS, is_missing

__all__ = ["equals_label", "as_category", "category_to_str", "as_text", "missing_text", "to_number", "to_dates", "take_display",
           "release_memory", "code_dtype"]


def _clean_scalar_strings(values: pd.Series) -> pd.Series:
    """Strip and blank out missing tokens on a (small) string Series."""
    stripped = values.astype("str").str.strip()
    missing = stripped.str.lower().isin(MISSING_TOKENS)
    return stripped.where(~missing)


def _format_category_values(cats: pd.Index) -> pd.Series:
    """Category values as text; whole-number floats lose their '.0'."""
    if pd.api.types.is_float_dtype(cats.dtype):
        arr = np.asarray(cats, dtype=float)
        fin = np.isfinite(arr)
        if fin.all() and np.all(arr == np.round(arr)):
            return pd.Series(arr.astype(np.int64).astype(str), dtype="str")
    if pd.api.types.is_datetime64_any_dtype(cats.dtype):
        return pd.Series(cats.astype(str), dtype="str")
    return pd.Series(np.asarray(cats, dtype=object).astype(str) if cats.dtype == object else cats.astype("str"),
                     dtype="str")


def as_category(values: pd.Series) -> pd.Series:
    """A text column as a Categorical with cleaned categories (stripped; "", "NA", "N/A"... are missing).

    Categoricals are cleaned through their categories only; other columns are factorized first.
    """
    s = values
    if not isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_float_dtype(s.dtype):
            arr = s.to_numpy(dtype=float, na_value=np.nan)
            fin = np.isfinite(arr)
            if fin.any() and np.all(arr[fin] == np.round(arr[fin])):
                s = pd.Series(pd.array(np.where(fin, arr, np.nan)).astype("Int64"), index=s.index)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        s = pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object)
                                                if len(uniques) else pd.Index([], dtype=object)), index=values.index)
    cats = s.cat.categories
    cleaned = _clean_scalar_strings(_format_category_values(cats))
    uniq = pd.unique(cleaned.dropna().to_numpy())
    lookup = pd.Index(uniq)
    remap = lookup.get_indexer(cleaned.to_numpy())  # -1 for missing
    remap = np.where(cleaned.isna().to_numpy(), -1, remap)
    codes = s.cat.codes.to_numpy()
    if not np.array_equal(remap, np.arange(len(remap))):
        # one gather over the rows; the trailing -1 is where missing codes (-1) land
        codes = np.append(remap, -1).astype(code_dtype(len(uniq)))[codes]
    # (already clean and distinct categories, the usual case, keep the codes as they are: no pass over the rows)
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(uniq, dtype="str"), validate=False)
    return pd.Series(cat, index=values.index)


def code_dtype(n_categories: int) -> type:
    """The integer type pandas keeps for Categorical codes over ``n_categories`` (so it makes no copy)."""
    for t in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(t).max:
            return t
    return np.int64


def category_to_str(values: pd.Series) -> pd.Series:
    """A Categorical of strings as the pandas string dtype, without building Python objects per row."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values if values.dtype == "str" else values.astype("str")
    import pyarrow as pa

    cats = values.cat.categories
    codes = values.cat.codes.to_numpy()
    # large_string: the type pandas' string arrays hold, so the result is not cast (copied) once more
    dictionary = pa.array(np.asarray(cats.astype("str"), dtype=object) if len(cats) else [], type=pa.large_string())
    taken = dictionary.take(pa.array(codes, mask=codes < 0)) if len(codes) else pa.array([], type=pa.large_string())
    return pd.Series(pd.array(taken, dtype=pd.StringDtype("pyarrow", na_value=np.nan)), index=values.index)


def as_text(values: pd.Series) -> pd.Series:
    """A column as the pandas string dtype, with missing tokens ("", "NA", "N/A"...) as missing."""
    return category_to_str(as_category(values))


def missing_text(values: pd.Series) -> np.ndarray:
    """True where a raw cell counts as missing (NA or a missing token)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.isna().to_numpy()
    return as_category(values).isna().to_numpy()


_TINY = np.finfo(float).tiny  # the smallest normal float: below it a nonzero cell has lost digits


def _parse_numbers(text: pd.Series, decimal_comma: bool) -> np.ndarray:
    """Distinct cells to float in the file's decimal notation only; NaN (refused) where the float is not the
    number a reader of the cell sees: a point in a decimal-comma file (a thousands separator: "1.000" is one
    thousand there) and a nonzero cell that underflows to zero or to a denormal ("1e-400")."""
    if decimal_comma:
        pointed = text.str.contains(".", regex=False).to_numpy(dtype=bool, na_value=False)
        text = text.str.replace(",", ".", regex=False)
    parsed = np.array(pd.to_numeric(text, errors="coerce"), dtype=float)
    with np.errstate(invalid="ignore"):
        tiny = np.abs(parsed) < _TINY
    if tiny.any():
        mantissa = text[tiny].str.replace(r"[eE].*$", "", regex=True)
        parsed[np.flatnonzero(tiny)[mantissa.str.contains("[1-9]").to_numpy(dtype=bool, na_value=False)]] = np.nan
    if decimal_comma:
        parsed[pointed] = np.nan
    return parsed


def to_number(values: pd.Series, *, decimal_comma: bool = False) -> tuple[pd.Series, np.ndarray]:
    """Parse a column to float. Returns the numbers and a mask of cells that were text but not numbers."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float), np.zeros(len(values), dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        if values.dtype == np.float64:  # as read: shared (copy-on-write), not duplicated
            return values, np.zeros(len(values), dtype=bool)
        return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index), \
            np.zeros(len(values), dtype=bool)
    cat = as_category(values)
    cats = pd.Series(cat.cat.categories, dtype="str")
    parsed = _parse_numbers(cats, decimal_comma)
    codes = cat.cat.codes.to_numpy()
    numbers = np.where(codes >= 0, parsed[np.maximum(codes, 0)] if len(parsed) else np.nan, np.nan)
    bad = (codes >= 0) & np.isnan(numbers)
    return pd.Series(numbers, index=values.index, copy=False), bad




def to_dates(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.astype("datetime64[ns]"), np.zeros(len(values), dtype=bool)
    cat = as_category(values)
    cats = pd.Series(cat.cat.categories, dtype="str")
    parsed = pd.to_datetime(cats, errors="coerce", format="ISO8601")
    retry = cats.notna() & parsed.isna()
    if retry.any():
        again = pd.to_datetime(cats[retry], errors="coerce", format="mixed")
        parsed = parsed.where(~retry, again)
    parsed_arr = np.asarray(parsed, dtype="datetime64[ns]")
    codes = cat.cat.codes.to_numpy()
    out = np.where(codes >= 0, parsed_arr[np.maximum(codes, 0)] if len(parsed_arr) else np.datetime64("NaT"),
                   np.datetime64("NaT"))
    out = pd.Series(out.astype("datetime64[ns]"), index=values.index)
    bad = (codes >= 0) & out.isna().to_numpy()
    return out, bad




def take_display(values: Any, idx: np.ndarray) -> np.ndarray:
    """The cells at positions ``idx`` as plain Python objects (for the report)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    sub = s.iloc[idx]
    if isinstance(sub.dtype, pd.CategoricalDtype):
        sub = sub.astype(object)
    out = sub.to_numpy(dtype=object)
    return np.array([None if is_missing(v) else (v.item() if isinstance(v, np.generic) else v) for v in out],
                    dtype=object)



def release_memory(n_rows: int = 0) -> None:
    """Give freed memory back to the operating system after a large step (big reads only).

    The Arrow memory pool keeps freed buffers and glibc keeps freed medium-sized blocks on its heap (its mmap
    threshold grows after large frees), so without this the resident size of a big read stays at its
    high-water mark. Costs a few milliseconds; does nothing on small inputs or other platforms.
    """
    if n_rows < 200_000:
        return
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - pyarrow missing or too old
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def equals_label(column: pd.Series, label: str) -> np.ndarray:
    """``column.astype(str) == label`` without a string per row (a Categorical compares its categories)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        hit = np.flatnonzero(np.asarray([str(c) == label for c in column.cat.categories]))
        return np.isin(column.cat.codes.to_numpy(), hit)
    return (column.astype(str) == label).to_numpy(dtype=bool, na_value=False) & column.notna().to_numpy()

"""Limits on what a reader will inflate or hold, checked from a file's own declarations before any parsing.

A research library is fed files from many hands; a workbook of 8 MB can inflate to gigabytes (a zip bomb), and
a Parquet, SPSS or Stata file declares how many rows and bytes it holds. Every reader checks those declarations
against the limits below *before* it parses a cell, and refuses what cannot be read within them with a
:class:`~massage_outcomes.errors.DataValidationError` that names the limit and how to raise it.

========================  ===============  ==========================================================================
limit                     default          what it bounds
========================  ===============  ==========================================================================
``max_bytes``             1 GiB            bytes after decompression: a zip container's entries (.xlsx/.xlsm), the
                                           uncompressed size a Parquet file declares
``max_ratio``             100              compression ratio of one zip entry (uncompressed / compressed), checked on
                                           entries larger than ``ratio_min_bytes``
``ratio_min_bytes``       8 MiB            entries smaller than this are never refused for their ratio
``max_entries``           10,000           entries in a zip container
``max_cells``             500,000,000      rows x columns a Parquet, SPSS, Stata or SAS file declares
========================  ===============  ==========================================================================

Raise a limit for one block of code with :func:`raised` (or for the whole session with :func:`set_limits`)::

    from massage_outcomes.io import limits
    with limits.raised(max_bytes=4 << 30):
        ds = mo.read("registry.xlsx")

A zip entry cannot inflate past the size the central directory declares: Python's :mod:`zipfile`, which
openpyxl reads through, stops there and checks the CRC, so a lying directory is an unreadable file, not a bomb.
Delimited text is streamed, so it has no size limit.

Examples
--------
>>> from massage_outcomes.io import limits
>>> limits.current().max_ratio
100.0
>>> with limits.raised(max_ratio=500):
...     limits.current().max_ratio
500.0
"""

from __future__ import annotations

import contextlib
import dataclasses
import zipfile
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from massage_outcomes.schema import fatal_error

__all__ = ["Limits", "current", "raised", "set_limits", "check_zip", "check_declared"]


@dataclass(frozen=True)
class Limits:
    """The reader limits (see the module docstring for each); all are positive."""

    max_bytes: int = 1 << 30
    max_ratio: float = 100.0
    ratio_min_bytes: int = 8 << 20
    max_entries: int = 10_000
    max_cells: int = 500_000_000


_DEFAULT = Limits()
_LIMITS: ContextVar[Limits | None] = ContextVar("massage_outcomes_read_limits", default=None)


def current() -> Limits:
    """The limits in force here (the defaults unless :func:`raised` or :func:`set_limits` changed them)."""
    return _LIMITS.get() or _DEFAULT


def _replaced(**changes: float) -> Limits:
    names = {f.name for f in dataclasses.fields(Limits)}
    unknown = sorted(set(changes) - names)
    if unknown:
        from massage_outcomes.errors import ArgumentError

        raise ArgumentError(f"unknown reader limit {unknown[0]!r}; the limits are {', '.join(sorted(names))}")
    bad = [k for k, v in changes.items() if not v > 0]
    if bad:
        from massage_outcomes.errors import ArgumentError

        raise ArgumentError(f"reader limit {bad[0]}= must be positive; got {changes[bad[0]]!r}")
    typed = {k: float(v) if k == "max_ratio" else int(v) for k, v in changes.items()}
    return dataclasses.replace(current(), **typed)  # type: ignore[arg-type]


@contextlib.contextmanager
def raised(**changes: float) -> Iterator[Limits]:
    """Within this block, read with the given limits changed (``max_bytes=4 << 30``, ``max_ratio=500``...)."""
    token = _LIMITS.set(_replaced(**changes))
    try:
        yield current()
    finally:
        _LIMITS.reset(token)


def set_limits(**changes: float) -> Limits:
    """Change the limits for the rest of this session (or context); returns the limits now in force."""
    _LIMITS.set(_replaced(**changes))
    return current()


def _how_to_raise(name: str, needed: float) -> str:
    return (f"if you trust this file, raise the limit: `with massage_outcomes.io.limits.raised({name}={needed:g}): "
            f"mo.read(...)` (default {getattr(_DEFAULT, name):g}; see massage_outcomes.io.limits)")


def _refuse(file: str, name: str, found: str, needed: float) -> None:
    raise fatal_error(file, "limit_exceeded",
                      f"{found}, over the reader limit {name}={getattr(current(), name):g}: refused before parsing "
                      f"(a decompression bomb, or a file larger than this machine should inflate); "
                      + _how_to_raise(name, needed))


def check_zip(path: Path) -> None:
    """Refuse a zip container (.xlsx) whose central directory declares more than the limits allow.

    Reads the directory only (no entry is inflated). An unreadable zip is left to the format's reader, which
    reports it in its own words.
    """
    lim = current()
    file = path.name
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    if len(infos) > lim.max_entries:
        _refuse(file, "max_entries", f"the zip container holds {len(infos):,} entries", len(infos))
    total = sum(i.file_size for i in infos)
    if total > lim.max_bytes:
        _refuse(file, "max_bytes", f"its entries inflate to {total:,} bytes", total)
    for i in infos:
        if i.file_size < lim.ratio_min_bytes:
            continue
        ratio = i.file_size / max(i.compress_size, 1)
        if ratio > lim.max_ratio:
            _refuse(file, "max_ratio", f"entry {i.filename!r} inflates {ratio:,.0f}-fold "
                                       f"({i.compress_size:,} to {i.file_size:,} bytes)", round(ratio) + 1)


def check_declared(file: str, *, rows: int | None, columns: int | None, nbytes: int | None = None) -> None:
    """Refuse a file whose header declares more cells (rows x columns) or uncompressed bytes than allowed."""
    lim = current()
    if rows is not None and columns is not None and rows >= 0 and columns >= 0:
        cells = rows * columns
        if cells > lim.max_cells:
            _refuse(file, "max_cells", f"the file declares {rows:,} rows x {columns:,} columns = {cells:,} cells",
                    cells)
    if nbytes is not None and nbytes > lim.max_bytes:
        _refuse(file, "max_bytes", f"the file declares {nbytes:,} bytes of uncompressed data", nbytes)

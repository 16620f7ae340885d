"""Readers: every source becomes a validated :class:`massage_outcomes.Dataset`.

``read`` handles CSV/TSV, Excel, Parquet, SPSS, Stata, SAS transport and folders of tables;
``read_redcap``, ``read_adam`` and ``load_sample`` live in their own modules and are imported when called.
"""

from __future__ import annotations

from typing import Any


def read(path: Any, **kwargs: Any) -> Any:
    from massage_outcomes.io._read import read as _read

    return _read(path, **kwargs)


def read_redcap(records: Any, dictionary: Any = None, **kwargs: Any) -> Any:
    """Read a REDCap export (records + data dictionary); see :mod:`massage_outcomes.io.redcap`."""
    from massage_outcomes.io import redcap

    return redcap.read_redcap(records, dictionary, **kwargs)


def read_adam(adsl: Any, bds: Any = None, **kwargs: Any) -> Any:
    """Read CDISC ADaM ADSL + BDS datasets; see :mod:`massage_outcomes.io.adam`."""
    from massage_outcomes.io import adam

    return adam.read_adam(adsl, bds, **kwargs)


def load_sample(name: str | None = None, **kwargs: Any) -> Any:
    """Load a bundled sample dataset by name; see :mod:`massage_outcomes.io.sample`."""
    from massage_outcomes.io import sample

    return sample.load_sample(name, **kwargs) if name is not None else sample.load_sample(**kwargs)


__all__ = ["read", "read_redcap", "read_adam", "load_sample"]

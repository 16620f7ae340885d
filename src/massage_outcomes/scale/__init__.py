"""Registry scale: lazy scans over DuckDB (embedded) or Dask (clusters), analysed from sufficient statistics.

A :class:`Scan` (:func:`scan`) names where the rows live and loads nothing. Its analyses ask the engine for
per-group (per condition × technique × arm) moments -- count, mean, centred sums of squares and cross-products --
in one aggregation and hand them to the same vectorized estimators the in-memory path uses
(:mod:`massage_outcomes.effects.estimators`), so the numbers equal ``mo.effect_sizes`` on the same rows while
only one small table per analysis ever comes into Python. The same moments tables are what a federated site
shares (:func:`site_summaries`, :func:`combine`): they merge exactly (Chan, Golub & LeVeque 1979).

Modules: ``scan.py`` (sources, canonical columns, validation by subject partitions), ``plan.py`` (the SQL of
the per-subject occasions and per-group moments), ``dask_engine.py`` (the same plan in dask.dataframe),
``effects.py`` (moments → the effect-size table), ``federated.py`` (site summaries).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["scan", "Scan", "site_summaries", "combine"]

_LAZY = {
    "scan": "massage_outcomes.scale.scan",
    "Scan": "massage_outcomes.scale.scan",
    "site_summaries": "massage_outcomes.scale.federated",
    "combine": "massage_outcomes.scale.federated",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'massage_outcomes.scale' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

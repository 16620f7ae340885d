"""Effect sizes per condition and technique, with exact, normal and bootstrap intervals; responders; pooling.

Public names: :func:`effect_size` (two arrays), :func:`effect_sizes` (one row per group from a Dataset or an
analysis frame), :class:`EffectSize`, :func:`responders` (``clinical.py``) and :func:`pool`
(``pooling.py``). Baseline-adjusted effects: ``effect_sizes(..., on="ancova")`` (or
:func:`massage_outcomes.effects.api.ancova`; the submodule name ``ancova`` is taken). The estimators work on
per-group summary statistics (``summary.py``) so one vectorized pass serves any number of groups.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["effect_size", "effect_sizes", "EffectSize", "responders", "pool"]

_LAZY = {
    "effect_size": "massage_outcomes.effects.api",
    "effect_sizes": "massage_outcomes.effects.api",
    "EffectSize": "massage_outcomes.effects.api",
    "responders": "massage_outcomes.effects.clinical",
    "pool": "massage_outcomes.effects.pooling",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'massage_outcomes.effects' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

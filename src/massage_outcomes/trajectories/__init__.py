"""Pain trajectories: linear mixed models (:func:`fit_trajectories`) and MMRM (:func:`fit_mmrm`), with marginal
means, contrasts and predictions."""

from __future__ import annotations

import importlib
from typing import Any

from massage_outcomes.trajectories.lmm import TrajectoryFit, fit_trajectories

__all__ = ["MMRMFit", "TrajectoryFit", "fit_mmrm", "fit_trajectories"]


def __getattr__(name: str) -> Any:
    # the MMRM module is written separately; import it lazily so a problem there never breaks the LMM
    if name in ("fit_mmrm", "MMRMFit"):
        value = getattr(importlib.import_module("massage_outcomes.trajectories.mmrm"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'massage_outcomes.trajectories' has no attribute {name!r}")

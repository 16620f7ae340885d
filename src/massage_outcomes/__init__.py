"""massage_outcomes: outcomes research for therapeutic massage.

Load session and outcome data into a validated, tidy :class:`Dataset`; estimate effect sizes per condition and
technique with exact and bootstrap intervals, responders and NNT, and random-effects pooling; model pain
trajectories with linear mixed models and MMRM; present the results as tables, plots and a report.

Public names are imported lazily (PEP 562) so that ``import massage_outcomes`` stays fast and a problem in one
layer never breaks another.
"""

from __future__ import annotations

import importlib
from typing import Any

from massage_outcomes._version import __version__
from massage_outcomes.errors import (
    ArgumentError,
    ArgumentTypeError,
    ConvergenceWarning,
    DataValidationError,
    MassageOutcomesError,
    ModelFitError,
    ReadAssumptionWarning,
    SmallSampleWarning,
)

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # data
    "Dataset": "massage_outcomes.dataset",
    "read": "massage_outcomes.io",
    "read_redcap": "massage_outcomes.io",
    "read_adam": "massage_outcomes.io",
    "load_sample": "massage_outcomes.io",
    "validate": "massage_outcomes.io",
    "describe": "massage_outcomes.io",
    "ReadPlan": "massage_outcomes.io",
    "ValidationReport": "massage_outcomes.schema",
    "simulate_trial": "massage_outcomes.simulate",
    "simulate_clinic": "massage_outcomes.simulate",
    "disposition": "massage_outcomes.flow",
    "Disposition": "massage_outcomes.flow",
    # effects
    "effect_size": "massage_outcomes.effects",
    "effect_sizes": "massage_outcomes.effects",
    "EffectSize": "massage_outcomes.effects",
    "responders": "massage_outcomes.effects",
    "pool": "massage_outcomes.effects",
    # trajectories
    "fit_trajectories": "massage_outcomes.trajectories",
    "fit_mmrm": "massage_outcomes.trajectories",
    "TrajectoryFit": "massage_outcomes.trajectories",
    "MMRMFit": "massage_outcomes.trajectories",
    # registry scale (lazy scans over DuckDB or Dask)
    "scan": "massage_outcomes.scale",
    "Scan": "massage_outcomes.scale",
    "site_summaries": "massage_outcomes.scale",
    "combine": "massage_outcomes.scale",
    # sensitivity analyses (estimands, reference-based imputation, tipping points)
    "impute": "massage_outcomes.sensitivity",
    "intercurrent_events": "massage_outcomes.sensitivity",
    "Estimand": "massage_outcomes.sensitivity",
    "tipping_point": "massage_outcomes.sensitivity",
    # result tables
    "ResultFrame": "massage_outcomes.results",
}
_SUBMODULES = {
    "vocab", "instruments", "dataset", "validation", "io", "simulate", "effects", "trajectories", "plot", "tables",
    "report", "cli", "multiplicity", "narrative", "results", "flow", "consort", "scale", "sensitivity",
}

__all__ = [
    "__version__",
    "ArgumentError",
    "ArgumentTypeError",
    "ConvergenceWarning",
    "DataValidationError",
    "MassageOutcomesError",
    "ModelFitError",
    "ReadAssumptionWarning",
    "SmallSampleWarning",
    *_LAZY,
    *sorted(_SUBMODULES),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"massage_outcomes.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'massage_outcomes' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names only: not the helpers this module imports (Any, importlib, annotations)
    return sorted(__all__)

"""Sensitivity analyses for a trial's estimand: intercurrent events and their strategies, reference-based and MAR
imputation (conditional mean with jackknife, approximate Bayesian multiple imputation with Rubin's rules), delta
adjustment and tipping points."""

from __future__ import annotations

from massage_outcomes.sensitivity.estimands import (
    STRATEGIES,
    Estimand,
    IntercurrentEvents,
    dropout_events,
    intercurrent_events,
    normalize_strategy,
)
from massage_outcomes.sensitivity.impute import ImputationResult, impute
from massage_outcomes.sensitivity.summary import sensitivity_analyses
from massage_outcomes.sensitivity.tipping import plot_tipping_point, tipping_deltas, tipping_point

__all__ = [
    "STRATEGIES",
    "Estimand",
    "ImputationResult",
    "IntercurrentEvents",
    "dropout_events",
    "impute",
    "intercurrent_events",
    "normalize_strategy",
    "plot_tipping_point",
    "sensitivity_analyses",
    "tipping_deltas",
    "tipping_point",
]

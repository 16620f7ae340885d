"""Sensitivity analyses for a trial's estimand: intercurrent events and their strategies, reference-based and MAR
imputation (conditional mean with jackknife, approximate Bayesian multiple imputation with Rubin's rules), delta
adjustment and tipping points."""

from __future__ import annotations

from massage_outcomes.sensitivity.estimands import (
    STRATEGIES,
    Estimand,
    IntercurrentEvents,
    intercurrent_events,
    normalize_strategy,
)

__all__ = ["STRATEGIES", "Estimand", "IntercurrentEvents", "intercurrent_events", "normalize_strategy"]

"""The one exception and warning tree of massage_outcomes."""

from __future__ import annotations

from typing import Any


class MassageOutcomesError(Exception):
    """Base class of every error this library raises on purpose."""


class DataValidationError(MassageOutcomesError, ValueError):
    """Input data broke one or more rules.

    ``report`` holds every problem found (a :class:`massage_outcomes.validation.ValidationReport`), not only the
    first; the message lists the first few in plain words.
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class ArgumentError(MassageOutcomesError, ValueError):
    """An argument's value cannot be used (an unknown option, a mapping key that names no column).

    Data problems are :class:`DataValidationError`; this is for what the caller passed.
    """


class ArgumentTypeError(MassageOutcomesError, TypeError):
    """An argument has the wrong type (a number where a column name belongs)."""


class ModelFitError(MassageOutcomesError, RuntimeError):
    """A model could not be fitted at all (as opposed to a fit with warnings)."""


class ConvergenceWarning(UserWarning):
    """An optimizer stopped without meeting its convergence checks; the result says ``converged=False``."""


class SmallSampleWarning(UserWarning):
    """A group is too small (or constant) for the requested estimate or interval; the row's ``note`` says why."""


class ReadAssumptionWarning(UserWarning):
    """A reader guessed something about the file (encoding, delimiter, decimal mark); ``ds.source`` says what."""

"""The one exception and warning tree of massage_outcomes."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
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
    """An argument's value cannot be used (an unknown option, a mapping key that names no column); on the command
    line, an option's.

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


# ------------------------------------------------------------------------------------------------------------------
# naming arguments in messages: Python's ``primary_visit='week_10'`` or the command line's ``--primary-visit week_10``
# ------------------------------------------------------------------------------------------------------------------
_UNSET: Any = object()
#: argument name -> how the active front end spells it (None: Python keyword arguments)
_FRONT_END: ContextVar[Mapping[str, str] | None] = ContextVar("massage_outcomes_option_names", default=None)


def option(name: str, value: Any = _UNSET) -> str:
    """An argument as the user should write it, for error messages and hints.

    In Python this is ``name=value`` (``primary_visit='week_10'``); under the command line (inside
    :func:`front_end_names`) it is the command's own option (``--primary-visit week_10``) or, for an argument the
    command line does not have, the text the command line registered for it (e.g. a key of the read plan).

    Examples
    --------
    >>> option("primary_visit", "week_10")
    "primary_visit='week_10'"
    >>> with front_end_names({"primary_visit": "--primary-visit"}):
    ...     option("primary_visit", "week_10")
    '--primary-visit week_10'
    """
    names = _FRONT_END.get()
    if names is None or name not in names:
        if names is not None:  # a front end that does not offer this argument: say it is the Python API's
            return (f"{name}=" if value is _UNSET else f"{name}={value!r}") + " (Python API only)"
        return f"{name}=" if value is _UNSET else f"{name}={value!r}"
    spelled = names[name]
    if value is _UNSET or not spelled.startswith("-"):
        return spelled
    text = value if isinstance(value, str) else ",".join(map(str, value)) if isinstance(value, list | tuple) \
        else str(value)
    return f"{spelled.split()[0]} {shlex.quote(text)}"  # "--mapping PLAN" with a value: "--mapping plan.yaml"


def in_front_end() -> bool:
    """True while a front end (the command line) has registered its option names."""
    return _FRONT_END.get() is not None


@contextlib.contextmanager
def front_end_names(names: Mapping[str, str]) -> Iterator[None]:
    """Within this block, :func:`option` spells arguments as ``names`` says (the command line enters it)."""
    token = _FRONT_END.set(dict(names))
    try:
        yield
    finally:
        _FRONT_END.reset(token)

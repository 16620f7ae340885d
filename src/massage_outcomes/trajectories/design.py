"""Design helpers for trajectory models: time bases and the fixed-effects formula.

Everything that turns a long analysis frame into the numbers the mixed-model engine needs lives here, so that the
same transformation is applied at fit time and again on new rows (marginal-means grids, prediction frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import ArgumentError, DataValidationError, option

__all__ = ["GroupReference", "TimeBasis", "choose_reference", "make_time_basis",
           "natural_spline_basis"]


def natural_spline_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Nonlinear columns of a restricted (natural) cubic spline with the given knots (Harrell's ``rcs``).

    Returns ``len(knots) - 2`` columns; together with ``x`` itself they span the natural cubic splines with those
    knots (cubic between the knots, linear beyond the outer ones). Columns are scaled by ``(k_K - k_1)^2``.
    """
    x = np.asarray(x, dtype=float)
    k = np.asarray(knots, dtype=float)
    nk = len(k)
    scale = (k[-1] - k[0]) ** 2
    out = np.empty((len(x), nk - 2))

    def p3(v: np.ndarray) -> np.ndarray:
        return np.maximum(v, 0.0) ** 3

    for j in range(nk - 2):
        out[:, j] = (
            p3(x - k[j])
            - p3(x - k[-2]) * (k[-1] - k[j]) / (k[-1] - k[-2])
            + p3(x - k[-1]) * (k[-2] - k[j]) / (k[-1] - k[-2])
        ) / scale
    return out


@dataclass
class TimeBasis:
    """How the time variable enters the fixed effects.

    ``kind`` is ``"linear"``, ``"spline"``, ``"piecewise"`` or ``"factor"``; ``columns`` are the names of the
    derived columns added by :meth:`add_columns` (the linear time column itself is not repeated there).
    """

    time: str
    kind: str = "linear"
    knots: tuple[float, ...] = ()
    columns: list[str] = field(default_factory=list)

    def add_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return ``frame`` with the derived time columns added (a copy when anything is added)."""
        if self.kind in ("linear", "factor") or not self.columns:
            return frame
        frame = frame.copy()
        t = pd.to_numeric(frame[self.time]).to_numpy(dtype=float)
        if self.kind == "piecewise":
            frame[self.columns[0]] = np.maximum(t - self.knots[0], 0.0)
        elif self.kind == "spline":
            basis = natural_spline_basis(t, np.asarray(self.knots))
            for j, name in enumerate(self.columns):
                frame[name] = basis[:, j]
        return frame

    def terms(self) -> str:
        """The formula text of the time part, e.g. ``"(week + week_ns1)"``."""
        if self.kind == "factor":
            return f"C({self.time})"
        return "(" + " + ".join([self.time, *self.columns]) + ")"


def make_time_basis(
    frame: pd.DataFrame, time: str, time_basis: Any, visit_as_factor: bool
) -> TimeBasis:
    """Build the :class:`TimeBasis` for the ``time_basis`` / ``visit_as_factor`` arguments of fit_trajectories."""
    if visit_as_factor:
        if time_basis is not None:
            raise ArgumentError(
                "`time_basis` and `visit_as_factor=True` exclude each other: a categorical visit already fits "
                "any shape; drop one of them."
            )
        return TimeBasis(time=time, kind="factor")
    if not pd.api.types.is_numeric_dtype(frame[time]):
        raise ArgumentError(
            f"`time={time!r}` is not numeric (dtype {frame[time].dtype}); pass a numeric time such as 'week' or "
            "'day', or set visit_as_factor=True to treat it as a categorical visit."
        )
    if time_basis is None or time_basis == "linear":
        return TimeBasis(time=time)
    t = frame[time].to_numpy(dtype=float)
    if time_basis == "spline" or (isinstance(time_basis, tuple) and time_basis and time_basis[0] == "spline"):
        if isinstance(time_basis, tuple) and len(time_basis) > 1:
            knots = np.sort(np.asarray(time_basis[1], dtype=float))
        else:
            uniq = np.unique(t)
            if len(uniq) < 3:
                raise DataValidationError(
                    f"`time_basis='spline'` needs at least 3 distinct values of {time!r}; found {len(uniq)}."
                )
            knots = np.quantile(t, [0.0, 0.5, 1.0]) if len(uniq) < 5 else np.quantile(t, [0.05, 0.35, 0.65, 0.95])
            knots = np.unique(knots)
        if len(knots) < 3:
            raise ArgumentError(f"`time_basis=('spline', knots)` needs at least 3 distinct knots; got {knots}.")
        cols = [f"{time}_ns{j + 1}" for j in range(len(knots) - 2)]
        return TimeBasis(time=time, kind="spline", knots=tuple(float(k) for k in knots), columns=cols)
    if isinstance(time_basis, tuple) and len(time_basis) == 2 and time_basis[0] == "piecewise":
        knot = float(time_basis[1])
        if not (t.min() < knot < t.max()):
            raise ArgumentError(
                f"`time_basis=('piecewise', {knot:g})`: the knot must lie inside the observed range of {time!r} "
                f"({t.min():g} to {t.max():g})."
            )
        name = f"{time}_after{knot:g}".replace(".", "_").replace("-", "m")
        return TimeBasis(time=time, kind="piecewise", knots=(knot,), columns=[name])
    raise ArgumentError(
        f"`time_basis` must be None, 'spline', ('spline', knots) or ('piecewise', knot); got {time_basis!r}."
    )


# ----------------------------------------------------------------------------------------------------------------
# the reference level of the group
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupReference:
    """The level a model's group coefficients are measured against, and why it was chosen.

    ``levels`` keep their display order (the order of the marginal means and of ``"pairwise"`` contrasts);
    ``design_levels`` put ``level`` first, which is the order the fixed-effects design is built with (treatment
    contrasts drop the first level).
    """

    level: str
    reason: str
    levels: tuple[str, ...]

    @property
    def design_levels(self) -> list[str]:
        return [self.level, *[lv for lv in self.levels if lv != self.level]]

    def describe(self, group: str) -> str:
        """One line for a fit's summary, e.g. ``reference arm: usual_care (the control arm: intent 'control')``."""
        what = "arm" if group == "arm" else f"level of {group!r}"
        return f"reference {what}: {self.level} ({self.reason})"


def choose_reference(
    frame: pd.DataFrame, group: str, levels: list[str], reference: str | None
) -> GroupReference:
    """Choose the group's reference level: ``reference`` when given, else the control arm, else the first level.

    The control arm is the one level of ``group`` whose rows all have ``intent == "control"`` (the vocabulary's
    no-massage and sham arms); when ``group`` is ``intent`` itself, the level ``"control"``. When no level, or
    more than one, qualifies, the first of ``levels`` is used (a categorical's order, else sorted, as R does) and
    the reason says so.

    Examples
    --------
    >>> frame = pd.DataFrame({"arm": ["a", "b", "c"], "intent": ["therapeutic", "control", "relaxation"]})
    >>> ref = choose_reference(frame, "arm", ["a", "b", "c"], None)
    >>> ref.level, ref.design_levels
    ('b', ['b', 'a', 'c'])
    >>> ref.describe("arm")
    "reference arm: b (the control arm: intent 'control')"
    """
    levels = [str(lv) for lv in levels]
    if reference is not None:
        if str(reference) not in levels:
            raise ArgumentError(
                f"{option('reference', reference)} is not a level of {group!r}; the levels are {levels}. "
                f"Pass one of them (or reference=None for the control arm)."
            )
        return GroupReference(str(reference), f"{option('reference', str(reference))}", tuple(levels))
    if not levels:
        raise DataValidationError(f"`group={group!r}` has no levels.")
    first = f"the first level of {group!r}"
    if group == "intent":
        if "control" in levels:
            return GroupReference("control", "the control intent", tuple(levels))
        return GroupReference(levels[0], first + " (no level is 'control')", tuple(levels))
    if "intent" not in frame.columns:
        return GroupReference(levels[0], first + " (no `intent` column to find a control arm)", tuple(levels))
    is_control = frame["intent"].astype("str").eq("control").to_numpy()
    by_level = pd.Series(is_control).groupby(frame[group].astype("str").to_numpy()).all()
    controls = [lv for lv in levels if bool(by_level.get(lv, False))]
    if len(controls) == 1:
        return GroupReference(controls[0], "the control arm: intent 'control'", tuple(levels))
    why = "no arm has intent 'control'" if not controls else f"{len(controls)} arms have intent 'control': {controls}"
    return GroupReference(levels[0], f"{first}; {why}; pass reference= to choose", tuple(levels))

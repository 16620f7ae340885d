"""Tipping-point analysis: the pooled treatment effect over a grid of delta adjustments (per arm), the delta at
which the conclusion tips, and a heatmap with the tipping contour.

A delta is added to every imputed value of an arm (all visits), after imputation: the grid re-uses one set of
imputations, as in rbmi's ``analyse(..., delta = )`` (Cro et al. 2020).

References
----------
Cro S, Morris TP, Kenward MG, Carpenter JR (2020). Sensitivity analysis for clinical trials with missing
continuous outcome data using controlled multiple imputation: a practical guide. Stat Med 39:2815-2842.
doi:10.1002/sim.8569
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import ArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from massage_outcomes.sensitivity.impute import ImputationResult

__all__ = ["tipping_point", "tipping_deltas", "plot_tipping_point"]


def tipping_point(result: ImputationResult, *, deltas: Mapping[str, Sequence[float]], visit: str | None = None,
                  contrast: str | None = None) -> pd.DataFrame:
    """The pooled effect for every combination of per-arm deltas.

    Parameters
    ----------
    result : ImputationResult
        From :func:`massage_outcomes.impute`.
    deltas : mapping of arm to sequence of float
        The grid: one or two arms, each with the values to add to its imputed outcomes (other arms: 0).
    visit : str, optional
        Keep one visit (default: the last).
    contrast : str, optional
        Keep one contrast (default: the first, e.g. ``"massage - control"``).

    Returns
    -------
    DataFrame
        ``delta_<arm>`` per gridded arm, then ``contrast``, ``visit``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``df``, ``p_value`` and ``excludes_zero`` (the interval excludes no effect).

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.sensitivity import impute, tipping_point
    >>> res = impute(mo.load_sample("trial"), instrument="rmdq", reference="usual_care", method="approxbayes",
    ...              n_imputations=5, rng=1)
    >>> grid = tipping_point(res, deltas={"therapeutic": [0.0, 1.0, 2.0]}, contrast="therapeutic - usual_care")
    >>> grid.columns[:3].tolist(), len(grid)
    (['delta_therapeutic', 'contrast', 'visit'], 3)
    """
    if not deltas or len(deltas) > 2:
        raise ArgumentError("deltas= needs one or two arms, each with a list of values, e.g. {'massage': [0, 1, 2]}.")
    arms = list(deltas)
    for a in arms:
        if a not in result.data.arms:
            raise ArgumentError(f"deltas names arm {a!r}; the arms are {result.data.arms}.")
    visit = result.data.visits[-1] if visit is None else str(visit)
    if visit not in result.data.visits:
        raise ArgumentError(f"visit={visit!r} is not one of {result.data.visits}.")
    rows = []
    for combo in itertools.product(*(list(map(float, deltas[a])) for a in arms)):  # grid cells
        pooled = result.pool(delta=dict(zip(arms, combo, strict=True)))
        pooled = pooled[pooled["visit"] == visit]
        contrast = pooled["contrast"].iloc[0] if contrast is None else contrast
        if contrast not in set(pooled["contrast"]):
            raise ArgumentError(f"contrast={contrast!r} is not one of {sorted(set(pooled['contrast']))}.")
        row = pooled[pooled["contrast"] == contrast].iloc[0]
        rows.append({**{f"delta_{a}": v for a, v in zip(arms, combo, strict=True)},
                     **row[["contrast", "visit", "estimate", "se", "ci_low", "ci_high", "df", "p_value"]].to_dict()})
    out = pd.DataFrame(rows)
    out["excludes_zero"] = (out["ci_low"] > 0) | (out["ci_high"] < 0)
    return out


def tipping_deltas(grid: pd.DataFrame) -> pd.DataFrame:
    """Where the conclusion tips: along the last gridded arm's delta, for each value of the other (if any), the
    delta at which the interval's bound nearest zero reaches zero (linear interpolation between grid points).

    Returns ``delta_<other arm>`` (when two arms), ``tipping_<arm>`` (NaN when the grid never tips).

    Examples
    --------
    >>> g = pd.DataFrame({"delta_m": [0.0, 1.0, 2.0], "ci_low": [-3.0, -2.0, -1.0], "ci_high": [-1.0, 0.0, 1.0],
    ...                   "excludes_zero": [True, False, False]})
    >>> float(tipping_deltas(g)["tipping_m"].iloc[0])
    1.0
    """
    cols = [c for c in grid.columns if c.startswith("delta_")]
    if not cols:
        raise ArgumentError("tipping_deltas needs the frame tipping_point returns (columns delta_<arm>).")
    along, others = cols[-1], cols[:-1]
    out = []
    groups = grid.groupby(others, sort=True) if others else [((), grid)]
    for key, g in groups:  # values of the other arm's delta (few)
        g = g.sort_values(along)
        x = g[along].to_numpy()
        # the bound nearest zero on the side of the estimate at the first grid point
        side = g["ci_high"] if g["ci_high"].iloc[0] < 0 else g["ci_low"]
        b = side.to_numpy()
        cross = np.flatnonzero(np.sign(b[:-1]) != np.sign(b[1:]))
        tip = float(x[cross[0]] + (0 - b[cross[0]]) * (x[cross[0] + 1] - x[cross[0]]) / (b[cross[0] + 1] - b[cross[0]])) \
            if len(cross) else (float(x[0]) if b[0] == 0 else np.nan)
        keys = key if isinstance(key, tuple) else (key,)
        out.append({**dict(zip(others, keys, strict=True)), f"tipping_{along.removeprefix('delta_')}": tip})
    return pd.DataFrame(out)


def plot_tipping_point(grid: pd.DataFrame, *, ax: Axes | None = None, value: str = "estimate") -> Any:
    """Heatmap of ``value`` over a two-arm delta grid with the contour where the interval starts to include zero.

    Examples
    --------
    >>> g = pd.DataFrame({"delta_a": np.repeat([0.0, 1.0], 2), "delta_b": np.tile([0.0, 2.0], 2),
    ...                   "estimate": [-2.0, -1.0, -3.0, -2.0], "ci_low": [-3.0, -2.0, -4.0, -3.0],
    ...                   "ci_high": [-1.0, 0.5, -2.0, -1.0], "excludes_zero": [True, False, True, True]})
    >>> ax = plot_tipping_point(g)
    """
    import matplotlib.pyplot as plt

    cols = [c for c in grid.columns if c.startswith("delta_")]
    if len(cols) != 2:
        raise ArgumentError("plot_tipping_point draws a grid over two arms' deltas; pass tipping_point(deltas=...) "
                            "with two arms.")
    wide = grid.pivot(index=cols[1], columns=cols[0], values=value)
    sig = grid.pivot(index=cols[1], columns=cols[0], values="excludes_zero").astype(float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    x, y = wide.columns.to_numpy(float), wide.index.to_numpy(float)
    mesh = ax.pcolormesh(x, y, wide.to_numpy(), shading="nearest", cmap="RdBu_r")
    ax.figure.colorbar(mesh, ax=ax, label=value)
    if len(x) > 1 and len(y) > 1 and 0 < sig.to_numpy().mean() < 1:
        ax.contour(x, y, sig.to_numpy(), levels=[0.5], colors="black", linewidths=1.5)
    ax.set_xlabel(f"delta added to imputed values, {cols[0].removeprefix('delta_')}")
    ax.set_ylabel(f"delta added to imputed values, {cols[1].removeprefix('delta_')}")
    ax.set_title("Tipping point: black line = interval starts to include no effect", fontsize=9)
    return ax

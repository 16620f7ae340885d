"""Predictions from a :class:`~massage_outcomes.trajectories.TrajectoryFit`: population curves with confidence
bands and subject-specific curves (fixed effects plus each subject's BLUPs), as tidy frames a plot draws directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from massage_outcomes.errors import ArgumentError, DataValidationError

if TYPE_CHECKING:  # pragma: no cover
    from massage_outcomes.trajectories.lmm import TrajectoryFit

__all__ = ["population_curves", "predict_values", "subject_curves"]


def _default_times(fit: TrajectoryFit, n: int) -> list[Any]:
    frame = fit._frame
    if fit.time_kind == "categorical":
        return list(frame[fit.time].cat.categories)
    t = frame[fit.time].to_numpy(dtype=float)
    uniq = np.unique(t)
    if len(uniq) <= n:
        grid = np.linspace(t.min(), t.max(), n)
        return sorted(set(np.round(np.concatenate([grid, uniq]), 10).tolist()))
    return np.linspace(t.min(), t.max(), n).tolist()


def population_curves(
    fit: TrajectoryFit,
    *,
    times: Sequence[Any] | None = None,
    n_points: int = 50,
    level: float = 0.95,
    at: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Population-average curve per group with pointwise confidence bands.

    Covariates are held at their means (factors averaged with equal weights over their levels, as emmeans does).

    Parameters
    ----------
    fit : TrajectoryFit
    times : sequence, optional
        Times (or visits, for a categorical time) to evaluate; default ``n_points`` evenly spaced times over the
        observed range plus every observed time.
    n_points : int, default 50
    level : float, default 0.95
    at : dict, optional
        Values for covariates (e.g. ``{"age": 50}``).

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (the group level), ``time``, ``estimate``, ``se``, ``df`` (Satterthwaite), ``ci_low``,
        ``ci_high``. The names of the model's group and time columns are in ``df.attrs["group"]`` and
        ``df.attrs["time"]``.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> fit = mo.fit_trajectories(mo.simulate_trial(n_per_arm=30, seed=2), instrument="rmdq")
    >>> curves = fit.population_curves(times=[0, 10, 26])
    >>> list(curves.columns)
    ['group', 'time', 'estimate', 'se', 'df', 'ci_low', 'ci_high']
    """
    if not 0 < level < 1:
        raise ArgumentError(f"`level` must be between 0 and 1 (e.g. 0.95); got {level}.")
    tv = list(times) if times is not None else _default_times(fit, n_points)
    at_full = dict(at or {})
    at_full[fit.time] = tv
    cells, L = fit.reference_grid(at=at_full)
    est = L @ fit.beta_
    se = np.sqrt(np.einsum("kp,pq,kq->k", L, fit.vcov_beta_, L))
    df = fit.df_for(L)
    q = stats.t.ppf(0.5 + level / 2, df)
    out = pd.DataFrame(
        {
            "group": cells[fit.group].astype("str").to_numpy(),
            "time": cells[fit.time].to_numpy(),
            "estimate": est,
            "se": se,
            "df": df,
            "ci_low": est - q * se,
            "ci_high": est + q * se,
        }
    )
    out = out.sort_values(["group", "time"], kind="stable").reset_index(drop=True)
    out.attrs.update(group=fit.group, time=fit.time, level=level)
    return out


def predict_values(fit: TrajectoryFit, newdata: pd.DataFrame, *, level: str = "population") -> np.ndarray:
    """Predicted means for the rows of ``newdata``: fixed part only, or plus the rows' BLUPs (``"subject"``)."""
    if level not in ("population", "subject"):
        raise ArgumentError(f"`level` must be 'population' or 'subject'; got {level!r}.")
    needed = [fit.group, fit.time, *fit._covariates]
    missing = [c for c in needed if c not in newdata.columns]
    if missing:
        raise DataValidationError(f"`newdata` lacks the columns {missing} the model needs.")
    X = fit.design_rows(newdata.reset_index(drop=True))
    pred = X @ fit.beta_
    if level == "subject":
        subj = fit._levels[0]
        if subj not in newdata.columns:
            raise DataValidationError(f"`level='subject'` needs the subject column {subj!r} in `newdata`.")
        lookup = pd.Index(fit._subject_labels)
        idx = lookup.get_indexer(newdata[subj].astype("str"))
        seen = idx >= 0
        b = np.zeros((len(newdata), fit._b.shape[1]))
        b[seen] = fit._b[idx[seen]]
        z = np.ones((len(newdata), fit._b.shape[1]))
        if z.shape[1] > 1:
            z[:, 1] = pd.to_numeric(newdata[fit._slope_col]).to_numpy(dtype=float)
        pred = pred + (z * b).sum(axis=1)
        off = 0
        for lv, lab in zip(fit._levels[1:], fit._extra_labels, strict=True):
            k = len(lab)
            if lv in newdata.columns:
                j = pd.Index(lab).get_indexer(newdata[lv].astype("str"))
                vals = fit._b2[off : off + k]
                pred = pred + np.where(j >= 0, vals[np.maximum(j, 0)], 0.0)
            off += k
    return pred


def subject_curves(
    fit: TrajectoryFit,
    *,
    subjects: Sequence[str] | None = None,
    times: Sequence[Any] | None = None,
    n_points: int = 20,
) -> pd.DataFrame:
    """Subject-specific fitted curves (fixed effects plus the subject's random effects).

    Covariates and further levels (therapist, clinic) take each subject's observed values (first row).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``group``, ``time``, ``estimate`` (the conditional mean).

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> fit = mo.fit_trajectories(mo.simulate_trial(n_per_arm=30, seed=2), instrument="rmdq")
    >>> sc = fit.subject_curves(subjects=["S001"], times=[0, 26])
    >>> sc.shape
    (2, 4)
    """
    frame = fit._frame
    subj = fit._levels[0]
    first = frame.drop_duplicates(subset=[subj]).set_index(frame.drop_duplicates(subset=[subj])[subj].astype("str"))
    if subjects is not None:
        wanted = [str(s) for s in subjects]
        unknown = [s for s in wanted if s not in first.index]
        if unknown:
            raise ArgumentError(f"`subjects` {unknown[:5]} are not in the fit; pass subjects the model was fitted to.")
        first = first.loc[wanted]
    tv = list(times) if times is not None else _default_times(fit, n_points)
    base = first.loc[first.index.repeat(len(tv))].reset_index(drop=True)
    base[fit.time] = np.tile(np.asarray(tv, dtype=object), len(first))
    if fit.time_kind == "continuous":
        base[fit.time] = base[fit.time].astype(float)
    pred = predict_values(fit, base, level="subject")
    return pd.DataFrame(
        {
            "subject": base[subj].astype("str").to_numpy(),
            "group": base[fit.group].astype("str").to_numpy(),
            "time": base[fit.time].to_numpy(),
            "estimate": pred,
        }
    )

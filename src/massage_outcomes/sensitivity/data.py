"""Wide arrays for imputation: outcomes (subjects × visits), the imputation model's design under the subject's own
arm and under the reference arm, and each subject's intercurrent event (first affected visit, strategy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from massage_outcomes.errors import ArgumentError, DataValidationError
from massage_outcomes.sensitivity.estimands import IntercurrentEvents

__all__ = ["WideData", "wide_data"]


@dataclass(frozen=True)
class WideData:
    """``Y`` (n, T; NaN missing), ``X_own`` / ``X_ref`` (n, T, p), ``arm`` (n codes into ``arms``; the reference is
    code 0), ``Z`` (n, q covariates for the analysis), ``ice`` (n: index of the first affected visit, T for none),
    ``strategy`` (n keys), ``subjects``, ``visits``, ``arms``, ``covariates``, ``coef_names``."""

    Y: np.ndarray
    X_own: np.ndarray
    X_ref: np.ndarray
    arm: np.ndarray
    Z: np.ndarray
    ice: np.ndarray
    strategy: np.ndarray
    subjects: list[str]
    visits: list[str]
    arms: list[str]
    covariates: list[str]
    coef_names: list[str]
    subject_covariates: pd.DataFrame

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.Y)

    @property
    def fit_mask(self) -> np.ndarray:
        """Values the imputation model uses: observed, and not after an event whose strategy is not MAR."""
        before = np.arange(len(self.visits))[None, :] < self.ice[:, None]
        return self.observed & (before | (self.strategy == "MAR")[:, None])


def _subject_table(af: pd.DataFrame, subject: str, group: str, covariates: Sequence[str]) -> pd.DataFrame:
    per = af[[subject, group, *covariates]].drop_duplicates(subject)
    clash = af[[subject, group, *covariates]].drop_duplicates().duplicated(subject)
    if clash.any():
        raise DataValidationError(
            f"{int(clash.sum())} subjects change `{group}` or a covariate ({list(covariates)}) between rows; "
            "imputation needs subject-level (baseline) covariates."
        )
    miss = per[[group, *covariates]].isna().any(axis=1)
    if miss.any():
        raise DataValidationError(
            f"{int(miss.sum())} subjects have no value for {group!r} or a covariate {list(covariates)} (e.g. "
            f"{per.loc[miss, subject].iloc[0]!r}); impute or drop them before the sensitivity analysis."
        )
    return per.set_index(subject)


# long function: one pass that checks each argument against the data and says how to fix it
def wide_data(
    af: pd.DataFrame,
    *,
    visit: str,
    group: str,
    reference: str,
    subject: str,
    outcome: str,
    covariates: Sequence[str],
    by_visit: bool,
    events: IntercurrentEvents | None,
    custom: Sequence[str] = (),
) -> WideData:
    """Build :class:`WideData` from a long analysis frame of post-baseline rows."""
    import formulaic

    needed = [subject, visit, group, outcome, *covariates]
    missing = [c for c in needed if c not in af.columns]
    if missing:
        raise DataValidationError(f"impute needs columns {missing} (the data have {list(af.columns)}).")
    af = af[af[visit].notna()].copy()
    af[subject] = af[subject].astype(str)
    if isinstance(af[visit].dtype, pd.CategoricalDtype):
        used = set(af[visit].astype(str))
        visits = [str(v) for v in af[visit].cat.categories if str(v) in used]
    else:
        visits = [str(v) for v in pd.unique(af[visit])]
    af[visit] = af[visit].astype(str)
    dup = af.duplicated([subject, visit])
    if dup.any():
        raise DataValidationError(f"{int(dup.sum())} rows repeat a subject's visit (e.g. "
                                  f"{af.loc[dup, subject].iloc[0]!r}); keep one measurement per subject and visit.")
    per = _subject_table(af, subject, group, covariates)
    arms = sorted(per[group].astype(str).unique().tolist())
    if reference not in arms:
        raise ArgumentError(f"reference={reference!r} is not an arm of {group!r}; the arms are {arms}.")
    if len(arms) < 2:
        raise DataValidationError(f"{group!r} has one arm ({arms}); a sensitivity analysis compares arms.")
    arms = [reference] + [a for a in arms if a != reference]
    subjects = per.index.tolist()
    N, T = len(subjects), len(visits)
    Y = af.pivot(index=subject, columns=visit, values=outcome).reindex(index=subjects, columns=visits)
    Yv = Y.to_numpy(dtype=float)
    grid = pd.DataFrame({subject: np.repeat(subjects, T), "visit_": np.tile(visits, N)})
    grid = grid.join(per, on=subject)
    grid["visit_"] = pd.Categorical(grid["visit_"], categories=visits)
    grid[group] = pd.Categorical(grid[group].astype(str), categories=arms)
    q = [f"`{c}`" for c in covariates]
    rhs = " + ".join([f"`{group}` * visit_"] + [f"{c} * visit_" if by_visit else c for c in q])
    mm = formulaic.model_matrix(rhs, grid, na_action="raise")
    X_own = np.asarray(mm, dtype=float).reshape(N, T, -1)
    gref = grid.copy()
    gref[group] = pd.Categorical([reference] * len(grid), categories=arms)
    X_ref = np.asarray(mm.model_spec.get_model_matrix(gref), dtype=float).reshape(N, T, -1)
    zf = formulaic.model_matrix(" + ".join(q), per, na_action="raise") if q else None
    Z = np.asarray(zf, dtype=float)[:, 1:] if zf is not None else np.zeros((N, 0))
    ice = np.full(N, T)
    strategy = np.full(N, "MAR", dtype=object)
    if events is not None:
        if tuple(events.visits) != tuple(visits):
            bad = sorted(set(events.table["visit"]) - set(visits))
            if bad:
                raise DataValidationError(f"intercurrent events name visits {bad} that the analysed data lack.")
        pos = pd.Series(np.arange(N), index=subjects)
        known = events.table["subject"].isin(pos.index)
        if not known.all():
            raise DataValidationError(
                f"{int((~known).sum())} subjects with intercurrent events are not in the analysed data (e.g. "
                f"{events.table.loc[~known, 'subject'].iloc[0]!r}); build the events from the same data."
            )
        rows = pos[events.table["subject"]].to_numpy()
        ice[rows] = [visits.index(v) for v in events.table["visit"]]
        strategy[rows] = events.table["strategy"].to_numpy()
    unknown = sorted(set(strategy) - {"MAR", "JR", "CR", "CIR", "LMCF"} - set(custom))
    if unknown:
        raise ArgumentError(f"strategies {unknown} are neither built in nor given in strategies=; register them "
                            "as impute(..., strategies={name: function}).")
    bad_lmcf = (strategy == "LMCF") & (ice == 0)
    if bad_lmcf.any():
        raise DataValidationError(
            f"{int(bad_lmcf.sum())} subjects have LMCF from the first visit (e.g. {subjects[int(np.argmax(bad_lmcf))]!r}):"
            " there is no earlier mean to carry forward; give them JR or CR."
        )
    return WideData(Y=Yv, X_own=X_own, X_ref=X_ref, arm=pd.Categorical(per[group].astype(str), categories=arms).codes
                    .astype(int), Z=Z, ice=ice, strategy=strategy, subjects=subjects, visits=visits, arms=arms,
                    covariates=list(covariates), coef_names=list(mm.model_spec.column_names),
                    subject_covariates=per[list(covariates)].reset_index(drop=True))

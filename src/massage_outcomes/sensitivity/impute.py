"""``impute``: MAR and reference-based imputation of a trial's missing outcomes, with the analysis and pooling.

Two methods, as in R's rbmi (Gower-Page et al. 2022):

* ``method="condmean"``: conditional mean imputation (Wolbers et al. 2022). The imputation MMRM is fitted by
  REML; each missing value is replaced by its conditional mean given the subject's observed values under the
  subject's strategy; the per-visit ANCOVA is run on the completed data. Inference by the jackknife: the whole
  procedure (fit, impute, analyse) is repeated leaving out each subject in turn,
  ``se = sqrt((n−1)/n Σ (θ_(i) − θ̄)²)``, with a normal interval. Deterministic.
* ``method="approxbayes"``: approximate Bayesian multiple imputation (Little & Rubin 2002, §10.2.3). For each of
  ``n_imputations`` bootstrap samples of subjects (stratified by arm) the MMRM is refitted and the original
  data's missing values are drawn from their conditional distribution under those parameters; the analyses
  are pooled with Rubin's rules and Barnard & Rubin's (1999) degrees of freedom.

Delta adjustment (a number added to the imputed values, per arm and visit) is applied when pooling, so a
tipping-point grid re-uses one set of imputations (:func:`massage_outcomes.tipping_point`).

References
----------
Wolbers M, Noci A, Delmar P, Gower-Page C, Yiu S, Bartlett JW (2022). Standard and reference-based conditional
mean imputation. Pharm Stat 21:1246-1257. doi:10.1002/pst.2234
Carpenter JR, Roger JH, Kenward MG (2013). doi:10.1080/10543406.2013.834911
Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation. Biometrika 86:948-955.
doi:10.1093/biomet/86.4.948
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from massage_outcomes.errors import ArgumentError, ConvergenceWarning
from massage_outcomes.sensitivity.data import WideData, wide_data
from massage_outcomes.sensitivity.estimands import IntercurrentEvents
from massage_outcomes.sensitivity.model import GLSFit, fit_us_reml
from massage_outcomes.sensitivity.steps import (
    StrategyFunction,
    ancova,
    conditional_impute,
    pool_bootstrap,
    pool_jackknife,
    pool_rubin,
    strategy_means,
)

__all__ = ["ImputationResult", "impute"]

Delta: TypeAlias = float | Mapping[str, float] | pd.DataFrame | None
#: a user analysis: completed long frame -> frame with contrast, visit, estimate, se (and df)
Analysis: TypeAlias = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(repr=False)
class ImputationResult:
    """Imputed data sets and their pooled analysis. Create with :func:`impute`.

    Attributes
    ----------
    method : str
        ``"condmean"`` or ``"approxbayes"``.
    data : WideData
        The wide arrays the imputation used (outcomes, design, events).
    fit : GLSFit
        The imputation model fitted to all subjects.
    replicates : list of (rows, completed Y)
        For ``condmean``: the full data first, then each jackknife sample; for ``approxbayes``: one completed
        data set per imputation (rows: all subjects).
    n_failed : int
        Replicates whose model did not converge (they are kept; see ``note``).
    """

    method: str
    data: WideData
    fit: GLSFit
    replicates: list[tuple[np.ndarray, np.ndarray]]
    level: float
    label: str
    n_failed: int = 0
    analysis: Analysis | None = None
    inference: str = "jackknife"
    bootstrap_ci: str = "normal"
    _cache: dict[Any, pd.DataFrame] = field(default_factory=dict)

    def delta_matrix(self, delta: Delta) -> np.ndarray:
        """The (subjects × visits) values added to the imputed outcomes (zero where observed)."""
        wd = self.data
        N, T = wd.Y.shape
        D = np.zeros((len(wd.arms), T))
        if delta is None:
            pass
        elif isinstance(delta, pd.DataFrame):
            bad = [c for c in ("arm", "visit", "delta") if c not in delta.columns]
            if bad:
                raise ArgumentError(f"delta= as a table needs columns arm, visit, delta; missing {bad}.")
            for a, v, d in delta[["arm", "visit", "delta"]].itertuples(index=False):  # arm × visit cells (few)
                D[self._arm_index(a), self._visit_index(v)] = float(d)
        elif isinstance(delta, Mapping):
            for a, d in delta.items():
                D[self._arm_index(a), :] = float(d)
        else:
            D[:] = float(delta)
        return np.where(np.isnan(wd.Y), D[wd.arm], 0.0)

    def _arm_index(self, a: Any) -> int:
        if str(a) not in self.data.arms:
            raise ArgumentError(f"delta names arm {a!r}; the arms are {self.data.arms}.")
        return self.data.arms.index(str(a))

    def _visit_index(self, v: Any) -> int:
        if str(v) not in self.data.visits:
            raise ArgumentError(f"delta names visit {v!r}; the visits are {self.data.visits}.")
        return self.data.visits.index(str(v))

    def estimates(self, delta: Delta = None, *, means: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per replicate: treatment effects (R, arms−1, T) (or, with ``means``, each arm's adjusted mean
        (R, arms, T)), their SEs and the ANCOVA's residual df."""
        wd = self.data
        Dm = self.delta_matrix(delta)
        est, se, df = [], [], []
        for rows, Yc in self.replicates:  # replicates (jackknife samples or imputations), not subjects
            a = ancova(Yc + Dm[rows], wd.arm[rows], wd.Z[rows], len(wd.arms))
            est.append(a["lsm" if means else "estimate"])
            se.append(a["lsm_se" if means else "se"])
            df.append(float(a["df"]))
        return np.stack(est), np.stack(se), np.asarray(df)

    def _custom_estimates(self, fn: Analysis, delta: Delta) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray,
                                                                      np.ndarray]:
        """The user analysis on every completed data set: keys (contrast, visit), estimates, SEs, df (R, K)."""
        keys: list[tuple[str, str]] | None = None
        est, se, df = [], [], []
        for k in range(len(self.replicates)):  # replicates, not subjects
            out = fn(self.completed(k, delta=delta))
            bad = [c for c in ("contrast", "visit", "estimate", "se") if c not in out.columns]
            if bad:
                raise ArgumentError(f"analysis= returned no columns {bad}; it must return contrast, visit, "
                                    "estimate, se (and df) per row.")
            these = list(zip(out["contrast"].astype(str), out["visit"].astype(str), strict=True))
            if keys is None:
                keys = these
            elif these != keys:
                raise ArgumentError("analysis= returned different rows for different completed data sets; it "
                                    "must return the same contrasts and visits in the same order each time.")
            est.append(out["estimate"].to_numpy(float))
            se.append(out["se"].to_numpy(float))
            df.append(out["df"].to_numpy(float) if "df" in out.columns else np.full(len(out), np.inf))
        return keys or [], np.stack(est), np.stack(se), np.stack(df)

    def _pooled(self, delta: Delta, means: bool) -> dict[str, np.ndarray]:
        est, se, df = self.estimates(delta, means=means)
        return self._pool_arrays(est, se, df[0])

    def _pool_arrays(self, est: np.ndarray, se: np.ndarray, v_com: Any) -> dict[str, np.ndarray]:
        if self.method == "approxbayes":
            return pool_rubin(est, se, v_com, self.level)
        if self.inference == "bootstrap":
            return pool_bootstrap(est[0], est[1:], self.level, self.bootstrap_ci)
        return pool_jackknife(est[0], est[1:], self.level)

    def means(self, delta: Delta = None) -> pd.DataFrame:
        """Each arm's adjusted mean per visit (covariates at their means; rbmi's counterfactual weights):
        ``arm``, ``visit``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``, ``p_value``."""
        res = self._pooled(delta, True)
        wd = self.data
        return pd.DataFrame({
            "arm": np.repeat(wd.arms, len(wd.visits)), "visit": np.tile(wd.visits, len(wd.arms)),
            **{c: np.asarray(res[c], dtype=float).ravel() for c in
               ("estimate", "se", "ci_low", "ci_high", "df", "p_value")},
        })

    def pool(self, delta: Delta = None) -> pd.DataFrame:
        """The pooled treatment effects: one row per contrast and visit.

        Columns: ``analysis``, ``contrast``, ``visit``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``
        (inf for the jackknife's normal interval), ``p_value``, ``method``, ``n_replicates``, ``reliable``,
        ``note``.
        """
        wd = self.data
        if self.analysis is not None:
            keys, est, se, dfs = self._custom_estimates(self.analysis, delta)
            res = self._pool_arrays(est, se, dfs[0])
            contrast, visit = [k[0] for k in keys], [k[1] for k in keys]
        else:
            res = self._pooled(delta, False)
            k, T = res["estimate"].shape
            contrast = list(np.repeat([f"{a} - {wd.arms[0]}" for a in wd.arms[1:]], T))
            visit = list(np.tile(wd.visits, k))
        out = pd.DataFrame({
            "analysis": self.label + ("" if delta is None else ", delta-adjusted"),
            "contrast": contrast,
            "visit": visit,
            **{c: np.asarray(res[c], dtype=float).ravel() for c in
               ("estimate", "se", "ci_low", "ci_high", "df", "p_value")},
        })
        out["method"] = self.method
        out["n_replicates"] = len(self.replicates)
        out["reliable"] = np.isfinite(out["se"]) & (self.n_failed == 0)
        out["note"] = (f"{self.n_failed} of {len(self.replicates)} model fits did not converge"
                       if self.n_failed else "")
        return out

    @property
    def results(self) -> pd.DataFrame:
        """:meth:`pool` without a delta adjustment."""
        if None not in self._cache:
            self._cache[None] = self.pool()
        return self._cache[None]

    def completed(self, index: int = 0, *, delta: Delta = None) -> pd.DataFrame:
        """One completed data set as a long frame: ``subject``, ``arm``, ``visit``, ``value``, ``imputed`` and
        the covariates (index 0: the full data for ``condmean``, the first imputation for ``approxbayes``)."""
        rows, Yc = self.replicates[index]
        wd = self.data
        T = len(wd.visits)
        frame = pd.DataFrame({
            "subject": np.repeat(np.asarray(wd.subjects)[rows], T),
            "arm": np.repeat(np.asarray(wd.arms)[wd.arm[rows]], T),
            "visit": pd.Categorical(np.tile(wd.visits, len(rows)), categories=wd.visits, ordered=True),
            "value": (Yc + self.delta_matrix(delta)[rows]).ravel(),
            "imputed": np.isnan(wd.Y[rows]).ravel(),
        })
        covs = wd.subject_covariates.iloc[np.repeat(rows, T)].reset_index(drop=True)
        return pd.concat([frame, covs], axis=1)

    def summary(self) -> str:
        return f"{self.label}: {len(self.replicates)} replicates\n" + self.results.to_string(index=False)

    def __repr__(self) -> str:
        return f"<ImputationResult {self.label}: {len(self.data.subjects)} subjects, {len(self.replicates)} replicates>"


def _fit(wd: WideData, rows: np.ndarray, start: GLSFit | None, step_tol: float = 1e-9) -> GLSFit:
    if start is None:
        return fit_us_reml(wd.X_own[rows], np.nan_to_num(wd.Y[rows]), wd.fit_mask[rows], want_hessian=True)
    return fit_us_reml(wd.X_own[rows], np.nan_to_num(wd.Y[rows]), wd.fit_mask[rows], theta0=start.theta,
                       hess_inv0=start.hess_inv, step_tol=step_tol)


def _impute_rows(wd: WideData, rows: np.ndarray, fit: GLSFit, custom: Mapping[str, StrategyFunction] | None,
                 rng: np.random.Generator | None) -> np.ndarray:
    mu = strategy_means(wd.X_own[rows] @ fit.beta, wd.X_ref[rows] @ fit.beta, wd.ice[rows], wd.strategy[rows],
                        custom)
    return conditional_impute(wd.Y[rows], mu, fit.sigma, rng=rng)


def _post_baseline(data: Any, instrument: str | None) -> pd.DataFrame:
    from massage_outcomes.dataset import as_analysis_frame

    af = data if isinstance(data, pd.DataFrame) else as_analysis_frame(data, instrument)
    if instrument is not None and "instrument" in af.columns:
        af = af[af["instrument"].astype(str) == instrument]
    if "timing" in af.columns:
        af = af[af["timing"].astype(str) != "baseline"]
    return af


def _label(events: IntercurrentEvents | None, method: str, inference: str = "jackknife") -> str:
    strat = "MAR" if events is None or not len(events) else "/".join(events.strategies())
    return f"{strat}, " + (f"conditional mean ({inference})" if method == "condmean" else "approximate Bayesian MI")


# long function: argument checks, then the two methods' loops side by side so they read as one procedure
def impute(
    data: Any,
    *,
    reference: str,
    instrument: str | None = None,
    visit: str = "visit",
    group: str = "arm",
    subject: str = "subject",
    outcome: str = "value",
    covariates: Sequence[str] = ("baseline",),
    covariates_by_visit: bool = True,
    events: IntercurrentEvents | None = None,
    method: Literal["condmean", "approxbayes"] = "condmean",
    inference: Literal["jackknife", "bootstrap"] = "jackknife",
    n_imputations: int = 100,
    n_samples: int = 200,
    bootstrap_ci: Literal["normal", "percentile"] = "normal",
    strategies: Mapping[str, StrategyFunction] | None = None,
    rng: np.random.Generator | int | None = None,
    level: float = 0.95,
    analysis: Analysis | None = None,
    progress: bool | Callable[[int, int], None] = False,
) -> ImputationResult:
    """Impute missing outcomes under MAR or reference-based assumptions and pool a per-visit ANCOVA.

    Parameters
    ----------
    data : Dataset or DataFrame
        A Dataset (with ``instrument``) or its long analysis frame.
    reference : str
        The reference (control) arm: the arm jump-to-reference and copy-reference subjects follow, and the arm
        every other arm is compared with.
    instrument, visit, group, subject : str
        As in :func:`massage_outcomes.fit_mmrm`.
    outcome : str
        The analysed column (``value``, or ``change`` from baseline).
    covariates : sequence of str
        Subject-level covariates of the imputation model and of the ANCOVA (default: the baseline).
    covariates_by_visit : bool
        Let each covariate's effect differ by visit in the imputation model (``baseline * visit``, as in rbmi's
        examples); the model always has ``arm * visit``.
    events : IntercurrentEvents, optional
        Each affected subject's first affected visit and strategy (:func:`intercurrent_events`). Subjects without
        an event, and missing values before a subject's event, are imputed under MAR. Observed values after an
        event whose strategy is not MAR are left out of the model fit but kept in the analysis (as rbmi does).
    method : {"condmean", "approxbayes"}
    inference : {"jackknife", "bootstrap"}
        For ``condmean``: the jackknife (deterministic), or ``n_samples`` bootstrap samples of subjects
        (stratified by arm; each refitted, imputed and analysed; needs ``rng``).
    n_samples : int
        Bootstrap samples for ``inference="bootstrap"``.
    bootstrap_ci : {"normal", "percentile"}
        The bootstrap interval: normal with the bootstrap SD as SE, or the percentile interval (R's quantile type
        6) with its p-value, as rbmi's ``pool(type = )``; ``se`` is the bootstrap SD either way.
    n_imputations : int
        Imputations for ``approxbayes``.
    strategies : mapping of str to function, optional
        User strategies by name: ``f(own_mean, reference_mean, is_mar) -> mean``, arrays (subjects × visits).
    rng : numpy Generator or int, optional
        Randomness for ``approxbayes`` (required there; the result is deterministic given it).
    level : float
        Confidence level.
    analysis : function, optional
        Instead of the per-visit ANCOVA: any function of a completed long frame (:meth:`ImputationResult.completed`:
        subject, arm, visit, value, imputed, covariates) returning ``contrast``, ``visit``, ``estimate``, ``se``
        (and ``df``, the complete-data df for Barnard–Rubin) per row. It is called once per replicate.
    progress : bool or function
        ``True``: a progress bar over the model refits on stderr (tqdm); a function is called as
        ``f(done, total)`` after each refit.

    Returns
    -------
    ImputationResult
        ``.results`` (the pooled frame), ``.pool(delta=...)``, ``.completed(k)``.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.sensitivity import impute
    >>> ds = mo.load_sample("trial")
    >>> res = impute(ds, instrument="rmdq", reference="usual_care")
    >>> res.results[["contrast", "visit"]].iloc[0].tolist()
    ['relaxation - usual_care', 'week_4']
    """
    if method not in ("condmean", "approxbayes"):
        raise ArgumentError(f"method={method!r} must be 'condmean' or 'approxbayes'.")
    if inference not in ("jackknife", "bootstrap") or bootstrap_ci not in ("normal", "percentile"):
        raise ArgumentError(f"inference={inference!r} must be 'jackknife' or 'bootstrap' and bootstrap_ci="
                            f"{bootstrap_ci!r} 'normal' or 'percentile'.")
    use_boot = method == "condmean" and inference == "bootstrap"
    if use_boot and (rng is None or int(n_samples) < 2):
        raise ArgumentError("inference='bootstrap' draws samples at random: pass rng=np.random.default_rng(seed) "
                            "and n_samples >= 2 (200 or more for an interval).")
    if not 0 < level < 1:
        raise ArgumentError(f"level={level!r} must be between 0 and 1 (e.g. 0.95).")
    if method == "approxbayes":
        if rng is None:
            raise ArgumentError("method='approxbayes' draws at random: pass rng=np.random.default_rng(seed).")
        if int(n_imputations) < 2:
            raise ArgumentError(f"n_imputations={n_imputations!r}: Rubin's rules need at least 2.")
    af = _post_baseline(data, instrument)
    wd = wide_data(af, visit=visit, group=group, reference=reference, subject=subject, outcome=outcome,
                   covariates=covariates, by_visit=covariates_by_visit, events=events, custom=list(strategies or {}))
    N = len(wd.subjects)
    every = np.arange(N)
    total = (int(n_samples) if use_boot else N) if method == "condmean" else int(n_imputations)
    label = _label(events, method, inference)
    tick = _progress(progress, total, label)
    full = _fit(wd, every, None)
    failed = 0 if full.converged else 1
    reps: list[tuple[np.ndarray, np.ndarray]] = []
    by_arm = [np.flatnonzero(wd.arm == a) for a in range(len(wd.arms))]
    if use_boot:
        gen = np.random.default_rng(rng)
        reps.append((every, _impute_rows(wd, every, full, strategies, None)))
        for b in range(int(n_samples)):  # one refit per bootstrap sample, which imputes and analyses itself
            rows = np.concatenate([gen.choice(ix, size=len(ix), replace=True) for ix in by_arm])
            f = _fit(wd, rows, full, step_tol=1e-7)
            failed += not f.converged
            reps.append((rows, _impute_rows(wd, rows, f, strategies, None)))
            tick(b + 1)
    elif method == "condmean":
        reps.append((every, _impute_rows(wd, every, full, strategies, None)))
        for i in range(N):  # the jackknife: one refit per left-out subject (inherent to the method)
            rows = np.delete(every, i)
            f = _fit(wd, rows, full)
            failed += not f.converged
            reps.append((rows, _impute_rows(wd, rows, f, strategies, None)))
            tick(i + 1)
    else:
        gen = np.random.default_rng(rng)
        for m in range(int(n_imputations)):  # one refit per imputation
            boot = np.concatenate([gen.choice(ix, size=len(ix), replace=True) for ix in by_arm])
            f = _fit(wd, boot, full, step_tol=1e-6)
            failed += not f.converged
            reps.append((every, _impute_rows(wd, every, f, strategies, gen)))
            tick(m + 1)
    tick(-1)
    if failed:
        warnings.warn(f"impute: {failed} of {len(reps)} imputation-model fits did not converge; the results say "
                      "reliable=False.", ConvergenceWarning, stacklevel=2)
    return ImputationResult(method=method, data=wd, fit=full, replicates=reps, level=level,
                            label=label, n_failed=failed, analysis=analysis, inference=inference,
                            bootstrap_ci=bootstrap_ci)


def _progress(progress: bool | Callable[[int, int], None], total: int, desc: str) -> Callable[[int], None]:
    """``tick(done)`` after each refit; ``tick(-1)`` closes the bar."""
    if callable(progress):
        fn = progress
        return lambda done: None if done < 0 else fn(done, total)
    if not progress:
        return lambda done: None
    import sys

    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="fit", leave=False, file=sys.stderr)

    def tick(done: int) -> None:
        if done < 0:
            bar.close()
        else:
            bar.update(done - bar.n)

    return tick

"""Fixed- and random-effects pooling of effect estimates, vectorized over groups, with metafor's numbers.

:func:`pool` combines an effect table (ours from :func:`massage_outcomes.effect_sizes`, or published estimates
with their standard errors or confidence intervals) into one pooled estimate per ``by`` group, with the
between-study variance :math:`\\tau^2` (DerSimonian–Laird, Hedges, Paule–Mandel, ML or REML), Cochran's Q,
:math:`I^2`, :math:`H^2`, the Wald-type (``test="z"``) or Knapp–Hartung (``test="knha"``) interval, and the
prediction interval. :func:`prepare_effects` turns a table of published estimates with CIs (such as
``shared/reference/published_evidence.csv``) into pool-ready rows.

Every group is fitted in one vectorized pass (segment sums with :func:`numpy.bincount`); the iterative
estimators (REML, ML: Fisher scoring; PM and the Q-profile CI of :math:`\\tau^2`: a safeguarded Newton root
search) iterate all groups at once and freeze each group as it converges, so that pooling 5,000 groups costs
about as much as pooling one.

Why not statsmodels? :func:`statsmodels.stats.meta_analysis.combine_effects` fits one group per call and
differs from metafor in two places that matter here: its DerSimonian–Laird :math:`\\tau^2` is not truncated
at 0 (it is negative when Q < k − 1, where metafor reports 0), and its Paule–Mandel iteration stops when
\\|Q − (k − 1)\\| < 1e-5. It has no REML or ML. The tests use it as an independent cross-check where it agrees.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from massage_outcomes.effects.summary import group_codes
from massage_outcomes.errors import (
    ArgumentError,
    ArgumentTypeError,
    ConvergenceWarning,
    DataValidationError,
    SmallSampleWarning,
)
from massage_outcomes.groups import first_values
from massage_outcomes.multiplicity import t_p_two_sided
from massage_outcomes.results import ResultFrame

Method = Literal["REML", "ML", "DL", "HE", "PM", "FE"]
Test = Literal["z", "t", "knha", "adhoc"]

_METHODS = ("REML", "ML", "DL", "HE", "PM", "FE")
_METHOD_ALIASES = {"EE": "FE", "CE": "FE"}
_TESTS = ("z", "t", "knha", "adhoc")

#: Measures reported on the ratio scale; their CIs are symmetric on the log scale, and they are pooled as logs.
RATIO_MEASURES = frozenset(
    {
        "risk_ratio", "relative_risk", "rr", "odds_ratio", "or", "hazard_ratio", "hr", "rate_ratio",
        "incidence_rate_ratio", "irr", "ratio_of_means", "rom",
    }
)

#: metafor's ``rma()`` control defaults (Fisher scoring for ML/REML, root finding for PM and the tau2 CI).
DEFAULT_CONTROL: dict[str, float] = {
    "threshold": 1e-5,  # stop Fisher scoring when |change in tau2| <= threshold
    "maxiter": 100,  # Fisher scoring iterations
    "stepadj": 1.0,  # step length factor
    "tol": float(np.finfo(float).eps ** 0.25),  # log-likelihood tolerance of the tau2 = 0 check (ll0check)
    "root_tol": 1e-12,  # absolute tolerance on tau2 for PM and the Q-profile CI (metafor: uniroot, eps^0.25)
}

_EPS = float(np.finfo(float).eps)


# ---------------------------------------------------------------------------------------------------------
# preparing an effect table
# ---------------------------------------------------------------------------------------------------------
def _is_ratio(measure: Any) -> bool:
    if measure is None or (isinstance(measure, float) and np.isnan(measure)) or measure is pd.NA:
        return False
    return str(measure).strip().lower().replace(" ", "_").replace("-", "_") in RATIO_MEASURES


def prepare_effects(
    effects: pd.DataFrame,
    *,
    estimate: str = "estimate",
    se: str | None = "se",
    ci_low: str | None = "ci_low",
    ci_high: str | None = "ci_high",
    measure: str | None = "measure",
    ci_level: float = 0.95,
    scale: Literal["auto", "identity", "log"] = "auto",
) -> pd.DataFrame:
    """Put an effect table on the pooling scale, with a standard error for every row that allows one.

    Published trials and reviews report an estimate with a confidence interval; pooling needs the standard
    error. On the normal (identity) scale it is the CI width over :math:`2 z_{1-\\alpha/2}`; ratio measures
    (risk, odds, hazard, rate ratios) are pooled as logs and their SE comes from the log CI width.

    Parameters
    ----------
    effects : DataFrame
        One row per study (or clinic, or group): an estimate plus an SE and/or a CI.
    estimate, se, ci_low, ci_high : str
        Column names. ``se`` (when the column exists and the value is finite) wins over the CI; for ratio
        measures a given SE is taken to be the SE of the log ratio, as trials and reviews report it.
    measure : str or None
        Column naming each row's measure (e.g. ``"SMD"``, ``"risk_ratio"``); ratio measures
        (:data:`RATIO_MEASURES`) are logged when ``scale="auto"``.
    ci_level : float
        Confidence level of the reported CIs (0.95 almost always).
    scale : {"auto", "identity", "log"}
        ``"auto"`` logs ratio measures only; ``"log"`` logs every row; ``"identity"`` none.

    Returns
    -------
    DataFrame
        The input columns, with ``estimate`` replaced by the value on the pooling scale, plus
        ``estimate_reported`` (the value as given), ``se`` (pooling scale), ``scale`` ("identity" or "log"),
        ``se_source`` ("se", "ci" or "none") and ``ci_asymmetry`` (|midpoint of the CI − estimate| / SE on the
        pooling scale). Rounding of published CIs alone gives up to about 0.2 (Cherkin 2011's −1.4 (−1.9 to
        −0.8) gives 0.18); values well above that suggest a wrong scale (a ratio taken as a difference gives
        about 0.9 for RR 2.7 (0.99 to 7.5)) or an asymmetric, e.g. bootstrap, CI). Rows without a usable SE keep ``se`` NaN and are left out
        of pooling (with a note).

    Examples
    --------
    >>> import pandas as pd
    >>> tab = pd.DataFrame({"study": ["Sherman2009", "Cook2015"], "estimate": [2.7, 1.56],
    ...                     "ci_low": [0.99, 1.08], "ci_high": [7.5, 2.25], "measure": "risk_ratio"})
    >>> out = prepare_effects(tab)
    >>> out[["study", "estimate", "se", "scale", "se_source"]].round(4)
             study  estimate      se scale se_source
    0  Sherman2009    0.9933  0.5166   log        ci
    1     Cook2015    0.4447  0.1872   log        ci
    """
    if not isinstance(effects, pd.DataFrame):
        raise ArgumentTypeError(
            f"effects must be a pandas DataFrame with an {estimate!r} column and an SE or CI; got {type(effects).__name__}"
        )
    if estimate not in effects.columns:
        raise ArgumentError(
            f"effects has no {estimate!r} column (columns: {', '.join(map(str, effects.columns))}); "
            "pass estimate='<column>'"
        )
    if not 0 < ci_level < 1:
        raise ArgumentError(f"ci_level must be in (0, 1); got {ci_level!r}")
    if scale not in ("auto", "identity", "log"):
        raise ArgumentError(f"scale must be 'auto', 'identity' or 'log'; got {scale!r}")
    out = effects.copy()
    n = len(out)

    def _num(col: str | None) -> np.ndarray:
        if col is None or col not in out.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    est = _num(estimate)
    se_given = _num(se)
    lo, hi = _num(ci_low), _num(ci_high)
    if scale == "log":
        logged = np.ones(n, dtype=bool)
    elif scale == "identity" or measure is None or measure not in out.columns:
        logged = np.zeros(n, dtype=bool)
    else:
        logged = np.array([_is_ratio(m) for m in out[measure].tolist()], dtype=bool)
    bad_ratio = logged & ((est <= 0) | (lo <= 0) | (hi <= 0))
    if bad_ratio.any():
        rows = np.flatnonzero(bad_ratio)[:5].tolist()
        raise DataValidationError(
            f"{int(bad_ratio.sum())} ratio-measure rows have an estimate or CI limit <= 0 (rows {rows}); ratios are "
            "positive: check the measure column, or pass scale='identity' if the values are already logs"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(logged, np.log(est), est)
        lo_s = np.where(logged, np.log(lo), lo)
        hi_s = np.where(logged, np.log(hi), hi)
    z = float(stats.norm.isf((1 - ci_level) / 2))
    se_ci = (hi_s - lo_s) / (2 * z)
    use_se = np.isfinite(se_given) & (se_given > 0)
    use_ci = ~use_se & np.isfinite(se_ci) & (se_ci > 0)
    se_out = np.where(use_se, se_given, np.where(use_ci, se_ci, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        asym = np.abs((lo_s + hi_s) / 2 - y) / se_out
    new_cols = {
        "estimate_reported": est, estimate: y, "se": se_out,
        "scale": np.where(logged, "log", "identity").astype(object),
        "se_source": np.where(use_se, "se", np.where(use_ci, "ci", "none")).astype(object),
        "ci_asymmetry": asym,
    }
    keep = out.drop(columns=[c for c in new_cols if c in out.columns])
    added = pd.DataFrame(new_cols, index=out.index)
    merged = pd.concat([keep, added], axis=1)
    order = [*out.columns, *[c for c in new_cols if c not in out.columns]]
    return merged[order]


# ---------------------------------------------------------------------------------------------------------
# vectorized per-group kernels: y, v are study-level arrays, g the group code of each study (0..G-1)
# ---------------------------------------------------------------------------------------------------------
class _Seg:
    """Segment sums over the group codes."""

    def __init__(self, g: np.ndarray, n_groups: int) -> None:
        self.g = g
        self.G = n_groups

    def sum(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.g, weights=x, minlength=self.G)

    def at(self, per_group: np.ndarray) -> np.ndarray:
        return per_group[self.g]


def _q_gen(seg: _Seg, y: np.ndarray, v: np.ndarray, tau2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generalized Q(tau2) = Σ w(y − μ_w)² with w = 1/(v + tau2), and its derivative −Σ w²(y − μ_w)²."""
    w = 1.0 / (v + seg.at(tau2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = seg.sum(w * y) / seg.sum(w)
    r2 = (y - seg.at(np.nan_to_num(mu))) ** 2
    return seg.sum(w * r2), -seg.sum(w * w * r2)


def _solve_q(
    seg: _Seg, y: np.ndarray, v: np.ndarray, target: np.ndarray, active: np.ndarray, *, tol: float, maxiter: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Root of Q(tau2) = target for each active group (Q is decreasing in tau2), with tau2 >= 0.

    Groups where Q(0) <= target get 0. A safeguarded Newton search inside an expanding bracket; returns
    (tau2, converged).
    """
    G = seg.G
    tau2 = np.zeros(G)
    conv = np.ones(G, dtype=bool)
    q0, _ = _q_gen(seg, y, v, tau2)
    todo = active & (q0 > target)
    if not todo.any():
        return tau2, conv
    lo = np.zeros(G)
    # upper bracket: start at a moment-type value and double until Q(hi) < target
    hi = np.where(todo, np.maximum(1.0, 10.0 * (seg.sum(v) / np.maximum(seg.sum(np.ones_like(v)), 1))), 0.0)
    for _ in range(200):
        qh, _ = _q_gen(seg, y, v, hi)
        grow = todo & (qh > target)
        if not grow.any():
            break
        hi = np.where(grow, hi * 4.0, hi)
    tau2 = np.where(todo, 0.0, 0.0)
    conv = ~todo
    for _ in range(maxiter):
        q, dq = _q_gen(seg, y, v, tau2)
        f = q - target
        lo = np.where(todo & (f > 0), tau2, lo)
        hi = np.where(todo & (f < 0), tau2, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -f / dq
        new = tau2 + step
        bad = ~np.isfinite(new) | (new <= lo) | (new >= hi)
        new = np.where(bad, (lo + hi) / 2, new)
        done = todo & ((np.abs(new - tau2) <= tol) | (f == 0) | (hi - lo <= tol))
        tau2 = np.where(todo, new, tau2)
        conv |= done
        todo &= ~done
        if not todo.any():
            break
    return tau2, conv


def _fisher_scoring(
    seg: _Seg,
    y: np.ndarray,
    v: np.ndarray,
    tau2_start: np.ndarray,
    active: np.ndarray,
    *,
    reml: bool,
    threshold: float,
    maxiter: int,
    stepadj: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """metafor's Fisher scoring for ML/REML (intercept-only model), all active groups at once.

    Same start (the Hedges estimate truncated at 0), the same update, step halving at tau2 < 0 and the same stop
    rule (|change| <= threshold) as ``rma.uni``; returns (tau2, converged, iterations).
    """
    G = seg.G
    tau2 = np.where(active, np.maximum(tau2_start, 0.0), 0.0)
    todo = active.copy()
    iters = np.zeros(G, dtype=int)
    conv = np.ones(G, dtype=bool)
    for _ in range(maxiter + 1):
        if not todo.any():
            break
        iters += todo
        w = 1.0 / (v + seg.at(tau2))
        s1 = seg.sum(w)
        s2 = seg.sum(w * w)
        mu = seg.sum(w * y) / s1
        r = y - seg.at(mu)
        ypp = seg.sum(w * w * r * r)  # y'PPy
        if reml:
            s3 = seg.sum(w * w * w)
            tr_p = s1 - s2 / s1
            tr_pp = s2 - 2.0 * s3 / s1 + (s2 / s1) ** 2
            adj = (ypp - tr_p) / tr_pp
        else:
            adj = (ypp - s1) / s2
        adj = np.where(np.isfinite(adj), adj * stepadj, 0.0)
        # metafor: while (tau2 + adj < tau2.min) adj <- adj/2. Halving is exact in floating point, so jump to
        # the number of halvings needed; at tau2 = 0 metafor halves until adj underflows to -0, i.e. adj = 0.
        neg = tau2 + adj < 0
        if neg.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                h = np.where(neg & (tau2 > 0), np.ceil(np.log2(-adj / tau2)), 0.0)
            adj = np.where(neg & (tau2 > 0), np.ldexp(adj, -np.clip(h, 0, 1100).astype(int)), adj)
            adj = np.where(neg & (tau2 <= 0), 0.0, adj)
            for _h in range(8):  # rounding of log2: at most a step or two more
                still = tau2 + adj < 0
                if not still.any():
                    break
                adj = np.where(still, adj / 2, adj)
        new = np.where(todo, tau2 + adj, tau2)
        change = np.abs(new - tau2)
        tau2 = new
        todo &= change > threshold
        over = todo & (iters > maxiter)
        conv &= ~over
        todo &= ~over
    return tau2, conv, iters


def _maximize_loglik(y: np.ndarray, v: np.ndarray, *, reml: bool) -> tuple[float, bool]:
    """tau2 maximizing the ML/REML log-likelihood of one group on [0, upper] (bounded Brent), with a check at 0."""
    from scipy.optimize import minimize_scalar

    seg = _Seg(np.zeros(len(y), dtype=int), 1)
    k = np.array([float(len(y))])

    def nll(t: float) -> float:
        return -float(_loglik(seg, y, v, np.array([t]), k, reml=reml)[0])

    upper = max(10.0 * float(np.var(y)) + float(np.max(v)), 1e-8)
    res = minimize_scalar(nll, bounds=(0.0, upper), method="bounded", options={"xatol": 1e-12, "maxiter": 500})
    t_hat = float(res.x) if nll(float(res.x)) <= nll(0.0) else 0.0
    return t_hat, bool(res.success)


def _loglik(seg: _Seg, y: np.ndarray, v: np.ndarray, tau2: np.ndarray, k: np.ndarray, *, reml: bool) -> np.ndarray:
    """ML or REML log-likelihood of the intercept-only model, per group (metafor's REMLf=TRUE form)."""
    w = 1.0 / (v + seg.at(tau2))
    s1 = seg.sum(w)
    mu = seg.sum(w * y) / s1
    rss = seg.sum(w * (y - seg.at(mu)) ** 2)
    logdet = seg.sum(np.log(v + seg.at(tau2)))
    if reml:
        # + 1/2 log|X'X| (= log k / 2, REMLf) − 1/2 log|X'WX|
        return -0.5 * (k - 1) * np.log(2 * np.pi) + 0.5 * np.log(k) - 0.5 * logdet - 0.5 * np.log(s1) - 0.5 * rss
    return -0.5 * k * np.log(2 * np.pi) - 0.5 * logdet - 0.5 * rss


# ---------------------------------------------------------------------------------------------------------
# the steps of a pooling: options, studies per group, tau² (a registry of estimators), the pooled estimate,
# heterogeneity, assembly
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolOptions:
    """Checked options of :func:`pool` (and :func:`pool_studies`): canonical method and test names."""

    method: str = "REML"
    test: str = "z"
    level: float = 0.95
    tau2_ci: bool = True
    control: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_CONTROL))

    @classmethod
    def of(cls, method: str = "REML", test: str = "z", level: float = 0.95, tau2_ci: bool = True,
           control: dict[str, float] | None = None) -> PoolOptions:
        """The options from :func:`pool`'s arguments, checked (aliases resolved: EE/CE → FE, hksj → knha)."""
        method_u = _METHOD_ALIASES.get(str(method).upper(), str(method).upper())
        if method_u not in TAU2_ESTIMATORS:
            raise ArgumentError(f"method must be one of {', '.join(_METHODS)} (or EE/CE for FE); got {method!r}")
        test_l = str(test).lower()
        if test_l == "hksj":
            test_l = "knha"
        if test_l not in _TESTS:
            raise ArgumentError(f"test must be one of {', '.join(_TESTS)} ('hksj' is accepted for 'knha'); got {test!r}")
        if not 0 < level < 1:
            raise ArgumentError(f"level must be in (0, 1); got {level!r}")
        unknown = set(control or {}) - set(DEFAULT_CONTROL)
        if unknown:
            raise ArgumentError(f"unknown control option(s) {sorted(unknown)}; known: {sorted(DEFAULT_CONTROL)}")
        return cls(method_u, test_l, float(level), bool(tau2_ci), {**DEFAULT_CONTROL, **(control or {})})

    @property
    def t_based(self) -> bool:
        return self.test in ("knha", "t", "adhoc")


@dataclass(frozen=True, eq=False)
class _Studies:
    """The usable studies of G groups (``y``, ``v`` per study, ``seg`` their group codes) and the quantities every
    estimator shares: k, the within-group centred ``ymc`` (unweighted mean, as metafor's estimators use) and
    the fixed-effect sums (Q, tr P₀ and the typical within-study variance ṽ)."""

    seg: _Seg
    y: np.ndarray
    v: np.ndarray
    k: np.ndarray
    ymc: np.ndarray
    w0: np.ndarray
    S0: np.ndarray
    S0sq: np.ndarray
    tr_p0: np.ndarray
    vt: np.ndarray
    Q: np.ndarray

    @property
    def has(self) -> np.ndarray:
        return self.k >= 1

    @property
    def multi(self) -> np.ndarray:
        return self.k >= 2


def _studies(g: np.ndarray, y: np.ndarray, v: np.ndarray, G: int) -> _Studies:
    seg = _Seg(g, G)
    k = np.bincount(g, minlength=G).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = seg.sum(y) / k
    ymc = y - seg.at(np.nan_to_num(ybar))
    w0 = 1.0 / v
    S0 = seg.sum(w0)
    S0sq = seg.sum(w0 * w0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu0c = seg.sum(w0 * ymc) / S0
        Q = np.maximum(0.0, seg.sum(w0 * (ymc - seg.at(np.nan_to_num(mu0c))) ** 2))
        tr_p0 = S0 - S0sq / S0
        vt = (k - 1) / tr_p0
    Q = np.where(k >= 2, Q, np.where(k >= 1, 0.0, np.nan))
    return _Studies(seg, y, v, k, ymc, w0, S0, S0sq, tr_p0, vt, Q)


@dataclass(eq=False)
class Tau2Fit:
    """What a tau² estimator returns per group (before the shared truncation at 0 and k < 2 handling)."""

    tau2: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


@dataclass(frozen=True)
class Tau2Estimator:
    """One entry of :data:`TAU2_ESTIMATORS`: ``fit`` estimates tau² (appending to a group's notes where it must
    say something), ``se`` gives metafor's SE of that estimate at the final tau² (``t2``, ≥ 0)."""

    name: str
    fit: Callable[[_Studies, PoolOptions, list[list[str]]], Tau2Fit]
    se: Callable[[_Studies, np.ndarray], np.ndarray]


def _plain(st: _Studies, tau2: np.ndarray) -> Tau2Fit:
    G = st.seg.G
    return Tau2Fit(tau2, np.ones(G, dtype=bool), np.zeros(G, dtype=int))


def _tau2_hedges(st: _Studies) -> np.ndarray:
    """The Hedges (HE) estimate, untruncated: also the Fisher-scoring start."""
    seg, k = st.seg, st.k
    with np.errstate(invalid="ignore", divide="ignore"):
        rss_u = seg.sum(st.ymc**2 - 0.0) - k * (seg.sum(st.ymc) / k) ** 2
        return np.asarray((rss_u - seg.sum(st.v) * (k - 1) / k) / (k - 1))


def _fit_fe(st: _Studies, opt: PoolOptions, notes: list[list[str]]) -> Tau2Fit:
    return _plain(st, np.zeros(st.seg.G))


def _fit_he(st: _Studies, opt: PoolOptions, notes: list[list[str]]) -> Tau2Fit:
    return _plain(st, np.where(st.multi, np.maximum(0.0, _tau2_hedges(st)), 0.0))


def _fit_dl(st: _Studies, opt: PoolOptions, notes: list[list[str]]) -> Tau2Fit:
    with np.errstate(invalid="ignore", divide="ignore"):
        return _plain(st, np.where(st.multi, np.maximum(0.0, (st.Q - (st.k - 1)) / st.tr_p0), 0.0))


def _fit_pm(st: _Studies, opt: PoolOptions, notes: list[list[str]]) -> Tau2Fit:
    tau2, conv = _solve_q(st.seg, st.ymc, st.v, st.k - 1, st.multi, tol=opt.control["root_tol"])
    return Tau2Fit(tau2, conv, np.zeros(st.seg.G, dtype=int))


def _fit_likelihood(st: _Studies, opt: PoolOptions, notes: list[list[str]]) -> Tau2Fit:
    """ML/REML: metafor's Fisher scoring from the Hedges start; a bounded maximization of the likelihood where
    it does not converge (metafor stops with an error there), and metafor's tau² = 0 check (ll0check)."""
    reml = opt.method == "REML"
    con, seg, multi = opt.control, st.seg, st.multi
    tau2, conv, iterations = _fisher_scoring(
        seg, st.ymc, st.v, np.nan_to_num(_tau2_hedges(st)), multi, reml=reml, threshold=con["threshold"],
        maxiter=int(con["maxiter"]), stepadj=con["stepadj"],
    )
    failed = multi & ~conv
    if failed.any():
        tau2 = tau2.copy()
        for i in np.flatnonzero(failed):
            sel = seg.g == i
            tau2[i], conv[i] = _maximize_loglik(st.ymc[sel], st.v[sel], reml=reml)
            notes[i].append(
                f"Fisher scoring did not converge in {int(con['maxiter'])} iterations (metafor stops here); tau2 "
                f"from a bounded maximization of the {'REML' if reml else 'ML'} likelihood"
                + ("" if conv[i] else " (which also failed: last value kept)")
            )
        warnings.warn(
            f"{int(failed.sum())} group(s): Fisher scoring did not converge in {int(con['maxiter'])} iterations; "
            "tau2 was found by a bounded maximization of the likelihood instead (see the note column)",
            ConvergenceWarning, stacklevel=_STACK,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        ll0 = _loglik(seg, st.ymc, st.v, np.zeros(seg.G), st.k, reml=reml)
        ll1 = _loglik(seg, st.ymc, st.v, tau2, st.k, reml=reml)
    reset = multi & conv & (ll0 - ll1 > con["tol"]) & (tau2 > con["threshold"])
    if reset.any():
        for i in np.flatnonzero(reset):
            notes[i].append("Fisher scoring stopped at a local maximum; tau2 set to 0 (as metafor does)")
        warnings.warn(
            f"{int(reset.sum())} group(s): Fisher scoring may have stopped at a local maximum; tau2 set to 0 "
            "(see the note column)", ConvergenceWarning, stacklevel=_STACK,
        )
        tau2 = np.where(reset, 0.0, tau2)
    return Tau2Fit(tau2, conv, iterations)


def _se_none(st: _Studies, t2: np.ndarray) -> np.ndarray:
    return np.full(st.seg.G, np.nan)


def _se_reml(st: _Studies, t2: np.ndarray) -> np.ndarray:
    wf = 1.0 / (st.v + st.seg.at(t2))
    s1, s2, s3 = st.seg.sum(wf), st.seg.sum(wf**2), st.seg.sum(wf**3)
    return np.asarray(np.sqrt(2.0 / (s2 - 2 * s3 / s1 + (s2 / s1) ** 2)))


def _se_ml(st: _Studies, t2: np.ndarray) -> np.ndarray:
    wf = 1.0 / (st.v + st.seg.at(t2))
    return np.asarray(np.sqrt(2.0 / st.seg.sum(wf**2)))


def _se_dl(st: _Studies, t2: np.ndarray) -> np.ndarray:
    S0, S0sq, tr_p0, k = st.S0, st.S0sq, st.tr_p0, st.k
    sum_pp = S0sq - 2 * st.seg.sum(st.w0**3) / S0 + (S0sq / S0) ** 2
    return np.asarray(np.sqrt((2 * (k - 1) + 4 * t2 * tr_p0 + 2 * t2**2 * sum_pp) / tr_p0**2))


def _se_pm(st: _Studies, t2: np.ndarray) -> np.ndarray:
    wf = 1.0 / (st.v + st.seg.at(t2))
    return np.asarray(np.sqrt(2 * st.k**2 / (st.k - 1) / st.seg.sum(wf) ** 2))


def _se_he(st: _Studies, t2: np.ndarray) -> np.ndarray:
    # tr(PV PV) with P = I − 11'/k, V = diag(v)
    k, seg = st.k, st.seg
    sv, sv2 = seg.sum(st.v), seg.sum(st.v**2)
    tr_pvpv = sv2 - 2 * sv2 / k + sv**2 / k**2
    tr_pv = sv * (k - 1) / k
    return np.asarray(np.sqrt((2 * tr_pvpv + 4 * t2 * tr_pv + 2 * t2**2 * (k - 1)) / (k - 1) ** 2))


#: The tau² estimators by name: fit and metafor's SE formula (a new estimator is one more entry).
TAU2_ESTIMATORS: dict[str, Tau2Estimator] = {e.name: e for e in (
    Tau2Estimator("REML", _fit_likelihood, _se_reml),
    Tau2Estimator("ML", _fit_likelihood, _se_ml),
    Tau2Estimator("DL", _fit_dl, _se_dl),
    Tau2Estimator("HE", _fit_he, _se_he),
    Tau2Estimator("PM", _fit_pm, _se_pm),
    Tau2Estimator("FE", _fit_fe, _se_none),
)}
_STACK = 4  # warnings raised two calls below pool() point at its caller


def _pooled(st: _Studies, tau2: np.ndarray, opt: PoolOptions) -> dict[str, np.ndarray]:
    """The pooled estimate per group with weights 1/(v + tau²): SE (Knapp–Hartung scaled for knha/adhoc), test,
    CI and prediction interval."""
    seg, k, G = st.seg, st.k, st.seg.G
    w = 1.0 / (st.v + seg.at(np.nan_to_num(tau2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        S = seg.sum(w)
        mu = seg.sum(w * st.y) / S
        var_mu = 1.0 / S
        rss_w = seg.sum(w * (st.y - seg.at(np.nan_to_num(mu))) ** 2)
    mu = np.where(st.has, mu, np.nan)
    df = np.where(opt.t_based, k - 1, np.nan)
    if opt.test in ("knha", "adhoc"):
        with np.errstate(invalid="ignore", divide="ignore"):
            s2w = np.where(rss_w <= _EPS, 0.0, rss_w / (k - 1))
        if opt.test == "adhoc":
            s2w = np.maximum(s2w, 1.0)
        with np.errstate(invalid="ignore"):
            var_mu = var_mu * s2w
        if opt.method == "FE":
            warnings.warn("the Knapp-Hartung adjustment is not meant for fixed-effect models", UserWarning,
                          stacklevel=_STACK)
    se_mu = np.where(st.has, np.sqrt(var_mu), np.nan)
    alpha = 1 - opt.level
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = mu / se_mu
        if opt.t_based:
            dfp = np.where(df > 0, df, np.nan)
            crit = stats.t.isf(alpha / 2, dfp)
        else:
            dfp = np.full(G, np.inf)  # the z test: Student's t on infinite df
            crit = np.full(G, stats.norm.isf(alpha / 2))
        p = t_p_two_sided(stat, dfp)  # the one two-sided p-value (multiplicity), t or z
        if opt.method == "FE":
            pi_lo, pi_hi = np.full(G, np.nan), np.full(G, np.nan)
        else:
            half = crit * np.sqrt(se_mu**2 + tau2)
            pi_lo, pi_hi = mu - half, mu + half
        return {"estimate": mu, "se": se_mu, "ci_low": mu - crit * se_mu, "ci_high": mu + crit * se_mu,
                "statistic": stat, "df": df, "p_value": p, "pi_low": pi_lo, "pi_high": pi_hi}


def _heterogeneity(st: _Studies, tau2: np.ndarray, opt: PoolOptions) -> dict[str, np.ndarray]:
    """I², H² (metafor's i2def "1") and Cochran's Q test; and tau²'s SE by the estimator's formula."""
    k, Q, vt, multi = st.k, st.Q, st.vt, st.multi
    with np.errstate(invalid="ignore", divide="ignore"):
        if opt.method == "FE":
            I2 = np.where(multi, np.maximum(0.0, np.nan_to_num(100 * (Q - (k - 1)) / Q, nan=0.0, neginf=0.0)), 0.0)
            H2 = np.where(multi, Q / (k - 1), 1.0)
        else:
            I2 = np.where(multi, 100 * tau2 / (vt + tau2), 0.0)
            H2 = np.where(multi, tau2 / vt + 1, 1.0)
        Q_p = np.where(multi, stats.chi2.sf(Q, np.maximum(k - 1, 1)), np.where(st.has, 1.0, np.nan))
        se_tau2 = TAU2_ESTIMATORS[opt.method].se(st, np.maximum(np.nan_to_num(tau2), 0.0))
    se_tau2 = np.where(multi & (opt.method != "FE"), se_tau2, np.nan)
    return {"I2": I2, "H2": H2, "Q_p": Q_p, "se_tau2": se_tau2}


def _tau2_interval(st: _Studies, opt: PoolOptions) -> dict[str, np.ndarray]:
    """Q-profile CIs of tau² and the matching ones of tau, I² and H²."""
    lo_t, hi_t = _qprofile_ci(st.seg, st.y, st.v, st.k, opt.level, st.multi & (opt.method != "FE"),
                              opt.control["root_tol"])
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"tau2_ci_low": lo_t, "tau2_ci_high": hi_t, "tau_ci_low": np.sqrt(lo_t), "tau_ci_high": np.sqrt(hi_t),
                "I2_ci_low": 100 * lo_t / (st.vt + lo_t), "I2_ci_high": 100 * hi_t / (st.vt + hi_t),
                "H2_ci_low": lo_t / st.vt + 1, "H2_ci_high": hi_t / st.vt + 1}


def _small_group_notes(k: np.ndarray, opt: PoolOptions, notes: list[list[str]]) -> None:
    small = k < 2
    for i in np.flatnonzero(small):
        if k[i] == 0:
            notes[i].insert(0, "no usable studies: nothing to pool")
        else:
            notes[i].insert(0, "k = 1: the single estimate is returned; tau2, Q and I2 are not estimable"
                            + ("; no t-based CI with 0 df" if opt.t_based else ""))
    if opt.t_based:
        for i in np.flatnonzero(k == 2):
            notes[i].append("k = 2: t-based interval on 1 df is very wide")
    if small.any():
        warnings.warn(
            f"{int(small.sum())} pooling group(s) have fewer than 2 studies (see the note column)",
            SmallSampleWarning, stacklevel=_STACK,
        )


_COLUMNS = ("k", "k_dropped", "estimate", "se", "ci_low", "ci_high", "statistic", "df", "p_value", "tau2",
            "se_tau2", "tau2_ci_low", "tau2_ci_high", "tau", "tau_ci_low", "tau_ci_high", "I2", "H2", "I2_ci_low",
            "I2_ci_high", "H2_ci_low", "H2_ci_high", "Q", "Q_df", "Q_p", "pi_low", "pi_high")


def pool_studies(
    y: np.ndarray, v: np.ndarray, codes: np.ndarray, n_groups: int, options: PoolOptions,
    notes: list[list[str]] | None = None,
) -> dict[str, Any]:
    """The pooled columns of :func:`pool` (``k`` to ``pi_high``, then ``converged`` and ``iterations``) from
    study-level arrays: estimates ``y`` and their variances ``v`` (finite, v > 0) on the pooling scale, with
    the group code (0..n_groups−1) of each study. For callers that already have per-study estimates and SEs as
    arrays, e.g. from an engine's per-group moments; ``notes`` (one list per group) collects what a group's
    ``note`` must say. Warnings as :func:`pool`.

    Examples
    --------
    >>> import numpy as np
    >>> out = pool_studies(np.array([0.2, 0.5, 0.4]), np.array([0.01, 0.04, 0.01]), np.zeros(3, dtype=int), 1,
    ...                    PoolOptions.of(method="FE"))
    >>> round(float(out["estimate"][0]), 4), int(out["k"][0])
    (0.3222, 3)
    """
    G = int(n_groups)
    notes = [[] for _ in range(G)] if notes is None else notes
    st = _studies(np.asarray(codes), np.asarray(y, dtype=float), np.asarray(v, dtype=float), G)
    fit = TAU2_ESTIMATORS[options.method].fit(st, options, notes)
    tau2 = np.where(st.has, np.where(st.multi, np.maximum(0.0, fit.tau2), 0.0), np.nan)
    out: dict[str, Any] = {"k": st.k.astype(int), "k_dropped": np.zeros(G, dtype=int), "tau2": tau2,
                           "tau": np.sqrt(tau2), "Q": st.Q, "Q_df": np.maximum(st.k - 1, 0).astype(int)}
    out.update(_pooled(st, tau2, options))
    out.update(_heterogeneity(st, tau2, options))
    if options.tau2_ci:
        out.update(_tau2_interval(st, options))
    _small_group_notes(st.k, options, notes)
    cols = {c: out[c] for c in _COLUMNS if c in out}
    cols["converged"] = np.ones(G, dtype=bool) & fit.converged
    cols["iterations"] = fit.iterations
    return cols


def _pool_groups(
    effects: pd.DataFrame, by_cols: list[str], estimate: str, measure: str | None, prepare: dict[str, Any]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """(table on the pooling scale, group code per row, key table, scale per group), after checking that no
    group mixes measures or scales."""
    if not isinstance(effects, pd.DataFrame):
        raise ArgumentTypeError(f"effects must be a pandas DataFrame; got {type(effects).__name__}")
    missing = [c for c in by_cols if c not in effects.columns]
    if missing:
        raise ArgumentError(f"by column(s) {missing} not in effects (columns: {', '.join(map(str, effects.columns))})")
    if "scale" in effects.columns and "se" in effects.columns and estimate in effects.columns:
        prepared = effects
    else:
        prepared = prepare_effects(effects, estimate=estimate, measure=measure, **prepare)
    prepared = prepared.reset_index(drop=True)
    # group codes (missing keys form their own group, as in a report nobody wants rows to vanish)
    codes, keys = group_codes(prepared, by_cols, dropna=False)
    G = len(keys)
    for col in ([measure] if measure and measure in prepared.columns else []) + ["scale"]:
        nun = prepared.groupby(codes)[col].nunique(dropna=True)
        if (nun > 1).any():
            bad = int(nun.index[np.argmax(nun.to_numpy() > 1)])
            vals = sorted(map(str, prepared.loc[codes == bad, col].dropna().unique()))
            raise DataValidationError(
                f"a pooling group mixes {col} values {vals}; effects on different measures or scales cannot be "
                f"pooled together: add {col!r} to by=, or filter the table first"
            )
    scale_g = np.full(G, "identity", dtype=object)
    if len(prepared):  # one scale per group (checked above): its first
        scale_g[:] = first_values(codes, prepared["scale"], G).to_numpy(dtype=object)
    return prepared, codes, keys, scale_g


def pool(
    effects: pd.DataFrame,
    *,
    method: str = "REML",
    test: str = "z",
    by: str | Sequence[str] | None = None,
    level: float = 0.95,
    estimate: str = "estimate",
    se: str | None = "se",
    ci_low: str | None = "ci_low",
    ci_high: str | None = "ci_high",
    measure: str | None = "measure",
    ci_level: float = 0.95,
    scale: Literal["auto", "identity", "log"] = "auto",
    tau2_ci: bool = True,
    control: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Pool effect estimates per group with a fixed- or random-effects model, as metafor's ``rma()`` does.

    Parameters
    ----------
    effects : DataFrame
        One row per study (clinic, trial...) with an estimate and either an SE or a CI (see
        :func:`prepare_effects`, which this calls unless the table already has a ``scale`` column, i.e. it is
        already on the pooling scale). Rows without a usable SE are left out, and the group's ``note`` says so.
    method : {"REML", "ML", "DL", "HE", "PM", "FE"}
        Estimator of the between-study variance tau²: restricted maximum likelihood (metafor's default; Fisher
        scoring with metafor's start, step halving, stop rule and tau² = 0 check), maximum likelihood,
        DerSimonian–Laird (RevMan 5's default), Hedges (HE, also the REML/ML start value), Paule–Mandel, or a
        fixed (common) effect model (``FE``; aliases ``EE``, ``CE``).
    test : {"z", "knha", "t", "adhoc"}
        ``"z"``: Wald-type CI and test with the normal distribution. ``"knha"``: Hartung–Knapp–Sidik–Jonkman:
        the SE is scaled by the weighted residual variance s² = Σw(y−μ)²/(k−1), and the t(k−1) distribution is
        used (metafor's ``test="knha"``; no truncation of s², as metafor's default). ``"adhoc"``: the same with
        s² truncated below at 1 (metafor's ``test="adhoc"``, Knapp & Hartung's ad hoc correction). ``"t"``: t(k−1)
        without rescaling.
    by : str or list of str, optional
        Group columns; one pooled row per group (e.g. ``"condition"``).
    level : float
        Confidence level of the CI and prediction interval.
    estimate, se, ci_low, ci_high, measure, ci_level, scale
        Passed to :func:`prepare_effects`.
    tau2_ci : bool
        Also return the Q-profile CI of tau² (metafor's ``confint()`` default), and the matching CIs of tau, I²
        and H².
    control : dict, optional
        Overrides of :data:`DEFAULT_CONTROL` (``threshold``, ``maxiter``, ``stepadj``, ``tol``, ``root_tol``).

    Returns
    -------
    DataFrame
        One row per group, columns (after the ``by`` columns):

        - ``k``: studies pooled; ``k_dropped``: rows left out for want of a usable SE
        - ``estimate``, ``se``, ``ci_low``, ``ci_high``: pooled effect on the pooling scale (logs for ratios)
        - ``statistic`` (z, or t for ``test`` in knha/t/adhoc), ``df`` (k − 1 for t-based tests, NaN for z),
          ``p_value`` (two-sided)
        - ``tau2``, ``se_tau2`` (metafor's formula for the estimator), ``tau2_ci_low``, ``tau2_ci_high``
          (Q-profile; when ``tau2_ci``), ``tau`` (and ``tau_ci_low``/``tau_ci_high``)
        - ``I2`` (percent: 100·tau²/(tau² + ṽ) with ṽ = (k−1)/(Σw − Σw²/Σw) the typical within-study variance;
          for FE models max(0, 100·(Q − (k−1))/Q)), ``H2`` (tau²/ṽ + 1; FE: Q/(k−1)), and their CIs when
          ``tau2_ci``
        - ``Q``, ``Q_df`` (k − 1), ``Q_p``: Cochran's heterogeneity test (fixed-effect weights)
        - ``pi_low``, ``pi_high``: prediction interval for the true effect in a new study,
          estimate ± crit·√(se² + tau²), crit from t(k−1) for t-based tests and the normal for z (as metafor's
          ``predict()``); NaN for FE models
        - ``scale`` ("identity" or "log"), and ``exp_estimate``, ``exp_ci_low``, ``exp_ci_high``,
          ``exp_pi_low``, ``exp_pi_high`` (back on the ratio scale; NaN when ``scale`` is identity)
        - ``method``, ``test``, ``level``, ``converged``, ``iterations`` (Fisher scoring), ``reliable`` (bool:
          at least 2 studies pooled, converged, interval finite), ``note`` (k < 2, rows left out, tau² reset to
          0, non-convergence...; empty when all is well)

    Raises
    ------
    ArgumentError
        An unknown method, test or control option, a level outside (0, 1), or a column name that is not in
        ``effects`` (``ArgumentTypeError`` when ``effects`` is not a DataFrame).
    DataValidationError
        One group mixes measures (pool each measure separately: add it to ``by``), or a ratio is not positive.

    Warns
    -----
    SmallSampleWarning
        A group has fewer than 2 studies.
    ConvergenceWarning
        Fisher scoring did not converge within ``maxiter`` iterations (it can oscillate; metafor's ``rma`` stops
        with an error there), so tau² was found by a bounded maximization of the (restricted) likelihood instead;
        or it stopped at a local maximum below the likelihood at tau² = 0, and tau² was reset to 0 (as metafor
        does). The group's ``note`` says which.

    Notes
    -----
    With weights :math:`w_i = 1/(v_i + \\hat\\tau^2)`, :math:`\\hat\\mu = \\sum w_i y_i/\\sum w_i` and
    :math:`SE = (\\sum w_i)^{-1/2}`. Fisher scoring (REML): :math:`\\tau^2 \\leftarrow \\tau^2 +
    (y'PPy - \\mathrm{tr}\\,P)/\\mathrm{tr}(PP)` with :math:`P = W - ww'/\\sum w`, from the Hedges estimate,
    halving steps that would make tau² negative, until the change is at most ``threshold``. Paule–Mandel
    solves :math:`Q(\\tau^2) = k - 1` to ``root_tol`` (metafor's ``uniroot`` stops at about 1.2e-4; pass
    ``control=list(tol=1e-12)`` to ``rma`` to compare at full precision).

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3):1–48.
    doi:10.18637/jss.v036.i03
    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the random-effects model.
    J Educ Behav Stat 30(3):261–293. doi:10.3102/10769986030003261
    Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a single covariate.
    Stat Med 22(17):2693–2710. doi:10.1002/sim.1482
    IntHout J, Ioannidis JPA, Rovers MM, Goeman JJ (2016). Plea for routinely presenting prediction intervals in
    meta-analysis. BMJ Open 6:e010247. doi:10.1136/bmjopen-2015-010247

    Examples
    --------
    Log risk ratios of the BCG vaccine trials (metafor's ``dat.bcg``, first six trials):

    >>> import numpy as np, pandas as pd
    >>> tpos = np.array([4, 6, 3, 62, 33, 180]); tneg = np.array([119, 300, 228, 13536, 5036, 1361])
    >>> cpos = np.array([11, 29, 11, 248, 47, 372]); cneg = np.array([128, 274, 209, 12619, 5761, 1079])
    >>> yi = np.log(tpos / (tpos + tneg)) - np.log(cpos / (cpos + cneg))
    >>> vi = 1 / tpos - 1 / (tpos + tneg) + 1 / cpos - 1 / (cpos + cneg)
    >>> res = pool(pd.DataFrame({"estimate": yi, "se": np.sqrt(vi)}), method="REML", test="knha")
    >>> res[["k", "estimate", "ci_low", "ci_high", "tau2", "I2"]].round(4)
       k  estimate  ci_low  ci_high    tau2       I2
    0  6   -0.9877 -1.5489  -0.4266  0.2237  84.1553

    Published responder risk ratios, pooled on the log scale and shown back as ratios:

    >>> tab = pd.DataFrame({"study": ["Sherman2009", "Cook2015"], "estimate": [2.7, 1.56],
    ...                     "ci_low": [0.99, 1.08], "ci_high": [7.5, 2.25], "measure": "risk_ratio"})
    >>> out = pool(tab, method="DL")
    >>> out[["k", "exp_estimate", "exp_ci_low", "exp_ci_high", "tau2"]].round(3)
       k  exp_estimate  exp_ci_low  exp_ci_high  tau2
    0  2         1.663       1.177        2.348   0.0
    """
    options = PoolOptions.of(method, test, level, tau2_ci, control)
    by_cols: list[str] = [] if by is None else ([by] if isinstance(by, str) else list(by))
    prepared, codes, keys, scale_g = _pool_groups(
        effects, by_cols, estimate, measure, {"se": se, "ci_low": ci_low, "ci_high": ci_high, "ci_level": ci_level,
                                              "scale": scale})
    G = len(keys)
    y_all = pd.to_numeric(prepared[estimate], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    se_all = pd.to_numeric(prepared["se"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    usable = np.isfinite(y_all) & np.isfinite(se_all) & (se_all > 0)
    k_dropped = np.bincount(codes[~usable], minlength=G)
    notes: list[list[str]] = [[] for _ in range(G)]
    for i in np.flatnonzero(k_dropped):
        notes[i].append(f"{k_dropped[i]} row(s) without a usable estimate and SE (or CI) left out")
    out = pool_studies(y_all[usable], se_all[usable] ** 2, codes[usable], G, options, notes)
    out["k_dropped"] = k_dropped.astype(int)
    body = pd.DataFrame(_with_labels(out, scale_g, options, notes))
    if by_cols:
        return ResultFrame(pd.concat([keys.reset_index(drop=True), body], axis=1), keys=by_cols)
    return ResultFrame(body)


def _with_labels(out: dict[str, Any], scale_g: np.ndarray, opt: PoolOptions, notes: list[list[str]]) -> dict[str, Any]:
    """The pooled columns in :func:`pool`'s order, with the scale, the back-transformed ratios and the labels."""
    G = len(scale_g)
    tail = {c: out.pop(c) for c in ("pi_low", "pi_high", "converged", "iterations")}
    cols = {**out, "pi_low": tail["pi_low"], "pi_high": tail["pi_high"], "scale": scale_g.astype(object)}
    logs = scale_g == "log"
    for col in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        with np.errstate(over="ignore", invalid="ignore"):
            cols[f"exp_{col}"] = np.where(logs, np.exp(cols[col]), np.nan)
    cols.update(method=np.full(G, opt.method, dtype=object), test=np.full(G, opt.test, dtype=object),
                level=np.full(G, opt.level), converged=tail["converged"], iterations=tail["iterations"])
    # the result-table convention: a pooled row may be read when >= 2 studies pooled, the fit converged and the
    # interval exists; `note` is prose (k = 2 rows are reliable, with their note on the wide interval)
    finite = np.isfinite(np.asarray(cols["estimate"], dtype=float)) & np.isfinite(np.asarray(cols["ci_low"], dtype=float))
    cols["reliable"] = (np.asarray(cols["k"]) >= 2) & np.asarray(cols["converged"], dtype=bool) & finite
    cols["note"] = ["; ".join(n) for n in notes]
    return cols


def _qprofile_ci(
    seg: _Seg, y: np.ndarray, v: np.ndarray, k: np.ndarray, level: float, active: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Q-profile CI of tau² (Viechtbauer 2007): the tau² at which Q(tau²) equals the chi²(k−1) quantiles."""
    G = seg.G
    df = np.maximum(k - 1, 1)
    alpha = 1 - level
    crit_u = stats.chi2.isf(alpha / 2, df)  # upper quantile -> lower bound
    crit_l = stats.chi2.ppf(alpha / 2, df)  # lower quantile -> upper bound
    lo, _ = _solve_q(seg, y, v, crit_u, active, tol=tol)
    hi, _ = _solve_q(seg, y, v, crit_l, active, tol=tol)
    nan = np.full(G, np.nan)
    return np.where(active, lo, nan), np.where(active, hi, nan)


def pooling_weights(
    effects: pd.DataFrame, pooled: pd.DataFrame, *, by: str | Sequence[str] | None = None, estimate: str = "estimate"
) -> pd.Series:
    """Percentage weight of each study in its group's pooled estimate (1/(v + tau²), as in a forest plot).

    ``effects`` must be on the pooling scale (the output of :func:`prepare_effects`) and ``pooled`` the
    matching :func:`pool` result.

    Examples
    --------
    >>> import pandas as pd
    >>> eff = prepare_effects(pd.DataFrame({"estimate": [0.2, 0.5, 0.4], "se": [0.1, 0.2, 0.1]}))
    >>> pooling_weights(eff, pool(eff, method="FE")).round(1).tolist()
    [44.4, 11.1, 44.4]
    """
    by_cols: list[str] = [] if by is None else ([by] if isinstance(by, str) else list(by))
    if "se" not in effects.columns:
        raise ArgumentError("effects needs an 'se' column: pass it through prepare_effects() first")
    if by_cols:
        t2 = effects[by_cols].merge(pooled[[*by_cols, "tau2"]], on=by_cols, how="left")["tau2"].to_numpy(dtype=float)
        grp = group_codes(effects, by_cols, dropna=False)[0]
    else:
        t2 = np.full(len(effects), float(pooled["tau2"].iloc[0]))
        grp = np.zeros(len(effects), dtype=int)
    se = effects["se"].to_numpy(dtype=float, na_value=np.nan)
    w = np.where(np.isfinite(se) & (se > 0), 1.0 / (se**2 + t2), 0.0)
    tot = np.bincount(grp, weights=w)[grp]
    return pd.Series(100 * w / tot, index=effects.index, name="weight_pct")


__all__ = ["pool", "pool_studies", "PoolOptions", "TAU2_ESTIMATORS", "prepare_effects", "pooling_weights",
           "RATIO_MEASURES", "DEFAULT_CONTROL"]

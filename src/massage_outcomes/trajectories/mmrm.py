"""Mixed models for repeated measures (MMRM): REML GLS with a residual covariance over visits.

``fit_mmrm`` fits ``value ~ group * visit + baseline (+ baseline:visit) + covariates`` to the post-baseline visits,
with an unstructured, compound-symmetry, AR(1) or Toeplitz covariance between the visits of a subject (optionally
with a variance per visit), by restricted maximum likelihood. Subjects with missing visits contribute the
sub-block of the covariance for the visits they have, so the estimates are valid under missing at random.

Computation
-----------
Subjects are grouped by their pattern of observed visits. Within a pattern every subject shares the same
covariance block, so the likelihood needs only per-pattern sums ``Σ_i X_i ⊗ X_i``, ``Σ_i X_i ⊗ y_i`` and
``Σ_i y_i y_i'``; after those (one BLAS product per pattern) each likelihood evaluation costs
O(patterns · visits² · p²) whatever the number of subjects: there is no loop over subjects. The gradient with
respect to the covariance matrix is analytic; derivatives of the covariance with respect to its parameters use
complex-step differentiation (exact to rounding). BFGS is followed by Newton polishing with the Hessian from
central differences of the analytic gradient.

A separate covariance per group (``covariance_by="arm"``, mmrm's ``us(visit | arm / subject)``) makes a pattern a
(group, observed visits) pair and ``theta`` the groups' parameters one after another; observation weights
(``weights=``, ``Σ_i = W_i^-1/2 Σ W_i^-1/2``) scale each row of ``X`` and ``y`` by ``√w`` before the sums and add
``-Σ log w`` to ``-2 l``. Both hold for REML, Satterthwaite, Kenward-Roger and the sandwiches (checked against
mmrm, tests/reference/mmrm/grouped_reference.R).

Inference: Satterthwaite df (default) or Kenward-Roger (``ddf="kenward-roger"`` / ``"kenward-roger-linear"``,
:mod:`.kenward_roger`), checked against R's mmrm 0.3.18 for every structure (tests/reference/mmrm/).

References
----------
Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP (2008). Recommendations for the primary analysis of
continuous endpoints in longitudinal clinical trials. Drug Inf J 42:303-319. doi:10.1177/009286150804200402
Sabanés Bové D et al. (2024). mmrm: Mixed Models for Repeated Measures. R package; Satterthwaite df as in
Christensen (2018). doi:10.32614/CRAN.package.mmrm
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import formulaic
import numpy as np
import pandas as pd
from scipy import linalg, optimize

from massage_outcomes.errors import ArgumentError, ConvergenceWarning, DataValidationError, ModelFitError
from massage_outcomes.frames import analysis_frame
from massage_outcomes.trajectories.cluster import ClusterREML, fit_cluster
from massage_outcomes.trajectories.design import GroupReference, choose_reference
from massage_outcomes.trajectories.fit import ModelFit
from massage_outcomes.trajectories.kenward_roger import KRComponents, kr_components, kr_df, kr_f_df
from massage_outcomes.trajectories.sandwich import EMPIRICAL, Sandwich, VCov, empirical_sandwich

__all__ = ["fit_mmrm", "MMRMFit"]

Covariance = Literal["unstructured", "cs", "ar1", "toeplitz", "ante_dependence"]
_COVARIANCES = ("unstructured", "cs", "ar1", "toeplitz", "ante_dependence")
DDF = Literal["satterthwaite", "kenward-roger", "kenward-roger-linear", "residual"]
_DDFS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual")
_LOG2PI = float(np.log(2.0 * np.pi))


# ----------------------------------------------------------------------------------------------------------------
# input
# ----------------------------------------------------------------------------------------------------------------
def _levels(series: pd.Series) -> list[str]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = {str(v) for v in series.cat.categories[np.unique(series.cat.codes[series.cat.codes >= 0])]}
        return [str(c) for c in series.cat.categories if str(c) in present]
    return sorted({str(v) for v in pd.unique(series.dropna())})


def _natural_key(text: str) -> list[tuple[int, float, str]]:
    return [(0, float(t), "") if t.isdigit() else (1, 0.0, t.lower()) for t in re.split(r"(\d+)", text) if t]


def _xx(Xk: np.ndarray) -> np.ndarray:
    """sum_i X_i[a, p] X_i[b, q] as (m, m, p, p), through one BLAS product."""
    n, m, p = Xk.shape
    flat = Xk.reshape(n, m * p)
    return (flat.T @ flat).reshape(m, p, m, p).transpose(0, 2, 1, 3).copy()


@dataclass
class _Chunk:
    """Missingness patterns padded to all T visits (zeros where a pattern has no visit), stacked."""

    mask: np.ndarray  # (K, T) bool: visits observed in each pattern
    n: np.ndarray  # (K,) subjects per pattern
    XX: np.ndarray  # (K, T, T, p, p)  sum_i X_i[a,p] X_i[b,q]
    XY: np.ndarray  # (K, T, T, p)     sum_i X_i[a,p] y_i[b]
    YY: np.ndarray  # (K, T, T)        sum_i y_i[a] y_i[b]
    g: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # (K,) covariance group of each pattern

    def __post_init__(self) -> None:
        if len(self.g) != len(self.n):
            self.g = np.zeros(len(self.n), dtype=int)

    @property
    def pair(self) -> np.ndarray:
        return self.mask[:, :, None] & self.mask[:, None, :]


# ----------------------------------------------------------------------------------------------------------------
# covariance structures: theta -> Sigma (works for complex theta, for complex-step derivatives)
# ----------------------------------------------------------------------------------------------------------------
def _n_theta(kind: str, T: int, heterogeneous: bool) -> int:
    nsd = T if heterogeneous else 1
    if kind == "unstructured":
        return T * (T + 1) // 2
    if T == 1:
        return nsd
    if kind in ("cs", "ar1"):
        return nsd + 1
    return nsd + T - 1  # toeplitz, ante-dependence


@functools.lru_cache(maxsize=64)
def _tri_index(T: int) -> tuple[Any, Any]:
    return np.diag_indices(T), np.tril_indices(T, -1)


def _sigma_from_theta(theta: np.ndarray, kind: str, T: int, heterogeneous: bool) -> np.ndarray:
    dtype = theta.dtype
    if kind == "unstructured":
        Lc = np.zeros((T, T), dtype=dtype)
        diag, low = _tri_index(T)
        Lc[diag] = np.exp(theta[:T])
        Lc[low] = theta[T:]
        return Lc @ Lc.T
    nsd = T if heterogeneous else 1
    sd = np.exp(theta[:nsd]) * np.ones(T)
    R = np.eye(T, dtype=dtype)
    if T > 1:
        lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        if kind == "cs":
            lo = -1.0 / (T - 1)
            rho = lo + (1.0 - lo) / (1.0 + np.exp(-theta[nsd]))
            R = np.where(lag == 0, 1.0 + 0 * rho, rho)
        elif kind == "ar1":
            rho = np.tanh(theta[nsd])
            R = rho ** lag.astype(float)
            R[lag == 0] = 1.0
        elif kind == "ante_dependence":
            R = _ante_dependence_corr(theta[nsd:], T)
        else:  # toeplitz via partial autocorrelations (Durbin-Levinson); always positive definite
            phi = np.tanh(theta[nsd:])
            rho = np.zeros(T, dtype=dtype)
            rho[0] = 1.0
            a = np.zeros(0, dtype=dtype)
            for k in range(1, T):
                pk = phi[k - 1]
                if k == 1:
                    rho[1] = pk
                    a = np.array([pk])
                else:
                    num = np.sum(a * rho[k - 1 : 0 : -1])
                    den = 1.0 - np.sum(a * rho[1:k])
                    rho[k] = num + pk * den
                    a = np.concatenate([a - pk * a[::-1], [pk]])
            R = rho[lag]
    return sd[:, None] * R * sd[None, :]


def _ante_dependence_corr(c: np.ndarray, T: int) -> np.ndarray:
    """First-order ante-dependence: corr(i, j) = ρ_j ρ_(j+1) ... ρ_(i-1), ρ_k = c_k / √(1 + c_k²) (mmrm's map);
    positive definite for any real ``c``."""
    rho = c / np.sqrt(1.0 + c * c)
    R = np.eye(T, dtype=c.dtype)
    for i in range(1, T):
        for j in range(i):
            R[i, j] = R[j, i] = np.prod(rho[j:i])
    return R


def _theta_start(S0: np.ndarray, kind: str, heterogeneous: bool) -> np.ndarray:
    T = S0.shape[0]
    sd = np.sqrt(np.diag(S0))
    if kind == "unstructured":
        Lc = np.linalg.cholesky(S0)
        return np.concatenate([np.log(np.diag(Lc)), Lc[np.tril_indices(T, -1)]])
    lsd = np.log(sd) if heterogeneous else np.array([np.log(np.sqrt(np.mean(sd**2)))])
    if T == 1:
        return lsd
    C = S0 / np.outer(sd, sd)
    r1 = float(np.clip(np.mean(np.diag(C, 1)), -0.5, 0.9))
    if kind == "cs":
        lo = -1.0 / (T - 1)
        rbar = float(np.clip(np.mean(C[np.triu_indices(T, 1)]), lo + 0.05, 0.9))
        u = (rbar - lo) / (1.0 - lo)
        return np.concatenate([lsd, [np.log(u / (1.0 - u))]])
    if kind == "ar1":
        return np.concatenate([lsd, [np.arctanh(r1)]])
    if kind == "ante_dependence":
        r = np.clip(np.diag(C, -1), -0.9, 0.9)
        return np.concatenate([lsd, r / np.sqrt(1.0 - r**2)])
    return np.concatenate([lsd, [np.arctanh(r1)], np.zeros(T - 2)])


def _nearest_pd(S: np.ndarray) -> np.ndarray:
    S = (S + S.T) / 2.0
    w, v = np.linalg.eigh(S)
    floor = max(1e-3 * float(np.mean(np.abs(w))), 1e-8)
    return (v * np.maximum(w, floor)) @ v.T


# ----------------------------------------------------------------------------------------------------------------
# the REML problem
# ----------------------------------------------------------------------------------------------------------------
class _REML:
    """-2 REML (or ML) log-likelihood over missingness patterns, vectorized within chunks of patterns.

    With ``n_groups`` > 1 (``covariance_by=``) each group has its own covariance between visits: ``theta`` is the
    concatenation of the groups' parameters and a pattern's subjects (one group, one set of visits) use their
    group's Σ. ``log_weights`` is Σ log w over the observations when the rows were scaled by √w (observation
    weights, ``Σ_i = W_i^-1/2 Σ W_i^-1/2``): ``log|Σ_i| = log|Σ_P| - Σ log w``.
    """

    def __init__(self, chunks: list[_Chunk], T: int, p: int, n_obs: int, kind: str, het: bool, reml: bool,
                 n_groups: int = 1, log_weights: float = 0.0):
        self.chunks, self.T, self.p, self.n_obs = chunks, T, p, n_obs
        self.kind, self.het, self.reml = kind, het, reml
        self.n_groups, self.log_weights = n_groups, log_weights
        self.k0 = _n_theta(kind, T, het if kind != "unstructured" else True)

    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """The covariance between visits (T, T) of a model with one group."""
        return _sigma_from_theta(np.asarray(theta), self.kind, self.T, self.het)

    def sigmas(self, theta: np.ndarray) -> np.ndarray:
        """(G, T, T): each group's covariance between visits."""
        theta = np.asarray(theta)
        return np.stack([self.sigma(theta[g * self.k0:(g + 1) * self.k0]) for g in range(self.n_groups)])

    def dsigmas(self, theta: np.ndarray) -> np.ndarray:
        """(G, k0, T, T): derivatives of each group's Σ in that group's parameters."""
        theta = np.asarray(theta, dtype=float)
        return np.stack([self.dsigma(theta[g * self.k0:(g + 1) * self.k0]) for g in range(self.n_groups)])

    def dsigma(self, theta: np.ndarray) -> np.ndarray:
        """(k, T, T) derivatives of Sigma (one group's theta): analytic for unstructured, complex step otherwise."""
        theta = np.asarray(theta, dtype=float)
        T = self.T
        if self.kind == "unstructured":
            Lc = np.zeros((T, T))
            diag, low = _tri_index(T)
            Lc[diag] = np.exp(theta[:T])
            Lc[low] = theta[T:]
            D = np.zeros((len(theta), T, T))
            D[np.arange(T), np.arange(T), np.arange(T)] = np.exp(theta[:T])
            D[T + np.arange(len(low[0])), low[0], low[1]] = 1.0
            DL = D @ Lc.T
            return DL + DL.transpose(0, 2, 1)
        h = 1e-30
        out = np.empty((len(theta), T, T))
        for j in range(len(theta)):
            tc = theta.astype(complex)
            tc[j] += 1j * h
            out[j] = _sigma_from_theta(tc, self.kind, T, self.het).imag / h
        return out

    def inverses(self, Sigmas: np.ndarray, ch: _Chunk) -> tuple[np.ndarray, np.ndarray]:
        """Per pattern: Σ_P⁻¹ padded with zeros (K, T, T) and log|Σ_P| (K,); ``Sigmas`` (G, T, T) or (T, T)."""
        pair = ch.pair
        S = Sigmas[None, :, :] if Sigmas.ndim == 2 else Sigmas[ch.g]
        padded = np.where(pair, S, np.eye(self.T)[None, :, :])
        chol = np.linalg.cholesky(padded)  # raises LinAlgError when not positive definite
        logdet = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        return np.linalg.inv(padded) * pair, logdet

    def pieces(self, Sigmas: np.ndarray) -> dict[str, Any]:
        p = self.p
        A = np.zeros((p, p))
        c = np.zeros(p)
        quad = 0.0
        logdet = -self.log_weights
        Sinvs = []
        for ch in self.chunks:
            Si, ld = self.inverses(Sigmas, ch)
            Sinvs.append(Si)
            logdet += float(ch.n @ ld)
            A += np.tensordot(Si, ch.XX, axes=([0, 1, 2], [0, 1, 2]))
            c += np.tensordot(Si, ch.XY, axes=([0, 1, 2], [0, 1, 2]))
            quad += float(np.sum(Si * ch.YY))
        cA = linalg.cho_factor(A, lower=True)
        beta = linalg.cho_solve(cA, c)
        Ainv = linalg.cho_solve(cA, np.eye(p))
        rss = quad - float(c @ beta)
        logdetA = 2.0 * float(np.sum(np.log(np.diag(cA[0]))))
        return {"A": A, "Ainv": Ainv, "beta": beta, "rss": rss, "logdet": logdet, "logdetA": logdetA,
                "Sinvs": Sinvs}

    def value_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = self.m2ll(theta, want_grad=True)
        return v, (g if g is not None else np.zeros(len(theta)))

    def m2ll(self, theta: np.ndarray, want_grad: bool = True) -> tuple[float, np.ndarray | None]:
        """-2 log-likelihood (REML or ML) and its gradient in theta."""
        Sigmas = self.sigmas(theta)
        try:
            P = self.pieces(Sigmas)
        except (np.linalg.LinAlgError, linalg.LinAlgError):
            return np.inf, (np.zeros(len(theta)) if want_grad else None)
        if self.reml:
            val = P["logdet"] + P["logdetA"] + P["rss"] + (self.n_obs - self.p) * _LOG2PI
        else:
            val = P["logdet"] + P["rss"] + self.n_obs * _LOG2PI
        if not want_grad:
            return float(val), None
        G = self.grad_sigma(P)
        dS = self.dsigmas(theta)
        return float(val), np.einsum("gab,gkab->gk", G, dS).reshape(-1)

    def grad_sigma(self, P: dict[str, Any]) -> np.ndarray:
        """d(-2 loglik)/dΣ_g (G, T, T): Σ_i [Σ_i⁻¹ - Σ_i⁻¹ (r_i r_i' + X_i A⁻¹ X_i') Σ_i⁻¹] over each group's
        subjects, padded (REML term optional)."""
        G = np.zeros((self.n_groups, self.T, self.T))
        beta, Ainv = P["beta"], P["Ainv"]
        for ch, Si in zip(self.chunks, P["Sinvs"], strict=True):
            M = ch.XY @ beta  # (K, T, T): sum_i (X_i beta)[a] y_i[b]
            inner = ch.YY - M - M.transpose(0, 2, 1) + (ch.XX @ beta) @ beta
            if self.reml:
                inner = inner + np.tensordot(ch.XX, Ainv, axes=([3, 4], [0, 1]))
            if self.n_groups == 1:
                G[0] += np.tensordot(ch.n, Si, axes=1) - np.sum(Si @ inner @ Si, axis=0)
            else:
                np.add.at(G, ch.g, ch.n[:, None, None] * Si - Si @ inner @ Si)
        return G

    def sandwich_terms(self, theta: np.ndarray, Ainv: np.ndarray) -> np.ndarray:
        """(k, p, p): -d(X'V⁻¹X)/dθ_j = Σ_i X_i' Σ_i⁻¹ dΣ_j Σ_i⁻¹ X_i (θ_j acts on its group's subjects only)."""
        Sigmas = self.sigmas(theta)
        dS = self.dsigmas(theta)
        k0, p, T = self.k0, self.p, self.T
        out = np.zeros((self.n_groups, k0, p * p))
        for ch in self.chunks:
            Si, _ = self.inverses(Sigmas, ch)
            for g in np.unique(ch.g):
                sel = slice(None) if self.n_groups == 1 else ch.g == g
                XX = ch.XX[sel]
                W = Si[sel, None] @ dS[g][None] @ Si[sel, None]  # (K, k0, T, T)
                K = len(XX)
                out[g] += W.transpose(1, 0, 2, 3).reshape(k0, K * T * T) @ XX.reshape(K * T * T, p * p)
        return out.reshape(self.n_groups * k0, p, p)


# ----------------------------------------------------------------------------------------------------------------
# the fit object
# ----------------------------------------------------------------------------------------------------------------
@dataclass(repr=False, eq=False, kw_only=True)
class MMRMFit(ModelFit):
    """A fitted MMRM. Create with :func:`fit_mmrm`.

    Attributes
    ----------
    fixed_effects : DataFrame
        ``term``, ``estimate``, ``se`` (from ``(X'Σ⁻¹X)⁻¹``, or Kenward-Roger's ``Φ_A``), ``df`` (Satterthwaite or
        Kenward-Roger, ``ddf``), ``t``, ``p_value``, ``ci_low``, ``ci_high``.
    covariance, correlation : DataFrame
        The estimated covariance (and correlation) between visits, labelled by visit.
    variance_components : DataFrame
        ``visit``, ``variance``, ``sd``: the residual variance at each visit.
    loglik, aic, bic : float
        Log-likelihood (REML or ML; the REML value equals SAS PROC MIXED / R mmrm / nlme::gls), AIC and BIC
        counting fixed effects and covariance parameters as nlme does (BIC with ``log(n_obs - p)`` under REML).
    covariance_ : ndarray (visits, visits)
        The estimated covariance matrix (``sigma_`` is its deprecated alias). With ``covariance_by=`` it is the
        groups' covariances averaged with their shares of the subjects (what effect sizes use).
    covariances_ : dict of str to ndarray
        With ``covariance_by=``: each level's covariance between visits (empty otherwise); the frames are
        :attr:`covariances`.
    covariance_by, weights : str or None
        The columns given to :func:`fit_mmrm`.
    n_obs, n_subjects, n_theta : int
    reference : str or None
        The group's reference level (see ``reference=``); ``reference_reason`` says why it was chosen.
    converged : bool
    messages : list of str
    visits : list of str
    group, time, time_kind : the marginal-means protocol (``time`` is the visit column, categorical).

    Notes
    -----
    ``emmeans`` / ``contrasts`` / ``eff_size`` come from :class:`~.marginal.MarginalMeansMixin`. As in R's
    emmeans on a gls or mmrm fit, the baseline (and any numeric covariate) is held at its mean over the analysed
    rows (observations, not subjects) and factor covariates are averaged with equal weights. Standardized effect
    sizes divide by ``sqrt(mean of the per-visit residual variances)`` with ``edf = n_obs - p`` (nlme's residual
    df) unless ``sigma=``/``edf=`` are given. Under ML, standard errors are ``(X'Σ̂⁻¹X)⁻¹`` as in SAS and R mmrm
    (nlme::gls inflates them by ``sqrt(N / (N - p))``).
    """

    covariance_kind: str
    heterogeneous: bool
    covariance_: np.ndarray
    visits: list[str]
    time_kind: str = "categorical"
    gradient_norm: float = np.nan
    reference_reason: str = ""
    _model_spec: Any = None
    _ref: dict[str, Any] = field(default_factory=dict)
    ddf: str = "satterthwaite"
    vcov_unadjusted_: np.ndarray | None = None  # (X'Σ⁻¹X)⁻¹; vcov_beta_ is the Kenward-Roger Φ_A under KR
    _info_inv: np.ndarray | None = None  # inverse observed information of theta (Hessian of -loglik)
    _dA: np.ndarray | None = None  # (k, p, p)
    _kr: KRComponents | None = None
    cluster: str | None = None
    cluster_variance_: float | None = None
    vcov: str = "model"  # or one of sandwich.EMPIRICAL (vcov_beta_ is then the sandwich)
    _sandwich: Sandwich | None = None
    covariance_by: str | None = None
    covariances_: dict[str, np.ndarray] = field(default_factory=dict)
    weights: str | None = None

    @property
    def sigma_(self) -> np.ndarray:
        """Deprecated alias of :attr:`covariance_` (``sigma_`` is the residual SD, a float, on ``TrajectoryFit``)."""
        warnings.warn("`MMRMFit.sigma_` is deprecated; use `fit.covariance_` (the covariance between visits).",
                      DeprecationWarning, stacklevel=2)
        return self.covariance_

    # ---- the marginal-means contract ----
    def design_rows(self, grid: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._model_spec.get_model_matrix(grid), dtype=float)

    def reference_values(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self._ref.items()}

    def df_for(self, L: np.ndarray) -> np.ndarray:
        """Denominator df of each row of ``L``: Kenward-Roger's (``ddf="kenward-roger"``, ``"-linear"``) or
        Satterthwaite's ``2(LCL')² / (g'Wg)``, g = d(LCL')/dθ, W = inverse observed information."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if self.ddf == "residual":
            return np.full(len(L), float(self.n_obs - len(self.beta_)))
        if self._sandwich is not None:
            return self._sandwich.df_for(L)
        if self._kr is not None:
            return kr_df(self._kr.Phi, self._kr.P, self._kr.W, L)
        C = self.vcov_beta_ if self.vcov_unadjusted_ is None else self.vcov_unadjusted_
        LC = L @ C
        var = np.einsum("kp,kp->k", LC, L)
        if self._dA is None or self._info_inv is None:
            return np.full(len(L), np.inf)
        g = np.einsum("kp,jpq,kq->kj", LC, self._dA, LC)
        denom = np.einsum("kj,jl,kl->k", g, self._info_inv, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = 2.0 * var**2 / denom
        return np.where(np.isfinite(df) & (df > 0), df, np.inf)

    def kenward_roger_f(self, L: np.ndarray) -> tuple[float, float] | None:
        """Kenward-Roger ``(df2, scale)`` for :meth:`f_test` when ``ddf`` is Kenward-Roger, else None."""
        if self._kr is None:
            return None
        return kr_f_df(self._kr.Phi, self._kr.P, self._kr.W, L)

    def sigma_total(self) -> tuple[float, float]:
        """SD for effect sizes: the root mean residual variance over visits; edf = n_obs - p (nlme's df)."""
        return float(np.sqrt(np.mean(np.diag(self.covariance_)))), float(self.n_obs - len(self.beta_))

    # ---- results ----
    @property
    def n_theta(self) -> int:
        return len(self.theta_)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * (len(self.beta_) + self.n_theta)

    @property
    def bic(self) -> float:
        n_eff = self.n_obs - len(self.beta_) if self.method == "REML" else self.n_obs
        return -2.0 * self.loglik + np.log(n_eff) * (len(self.beta_) + self.n_theta)

    @property
    def fixed_effects(self) -> pd.DataFrame:
        """Fixed effects with SE, Satterthwaite df, t, p and 95% CI (columns listed on the class)."""
        res = self.linear_function(np.eye(len(self.beta_)))
        res.insert(0, "term", self.fe_names_)
        return res[["term", "estimate", "se", "df", "t", "p_value", "ci_low", "ci_high"]]

    @property
    def variance_components(self) -> pd.DataFrame:
        """Residual variance per visit: ``visit``, ``variance``, ``sd`` (correlations: :attr:`correlation`)."""
        var = np.diag(self.covariance_).copy()
        return pd.DataFrame({"visit": self.visits, "variance": var, "sd": np.sqrt(var)})

    @property
    def covariance(self) -> pd.DataFrame:
        return pd.DataFrame(self.covariance_, index=self.visits, columns=self.visits)

    @property
    def covariances(self) -> dict[str, pd.DataFrame]:
        """With ``covariance_by=``: each level's covariance between visits, labelled by visit."""
        return {k: pd.DataFrame(v, index=self.visits, columns=self.visits) for k, v in self.covariances_.items()}

    @property
    def correlation(self) -> pd.DataFrame:
        sd = np.sqrt(np.diag(self.covariance_))
        return pd.DataFrame(self.covariance_ / np.outer(sd, sd), index=self.visits, columns=self.visits)

    def summary(self) -> str:
        """Plain-text summary: model, fit statistics, fixed effects and the covariance."""
        lines = [
            f"MMRM ({self.method}), covariance {self.covariance_kind}"
            + (" heterogeneous" if self.heterogeneous and self.covariance_kind != "unstructured" else ""),
            f"formula: {self.formula}",
            f"instrument: {self.instrument}   subjects: {self.n_subjects}   observations: {self.n_obs}",
            *([self.reference_reason] if self.reference_reason else []),
            *([f"random intercept per {self.cluster}: variance {self.cluster_variance_:.4g}"]
              if self.cluster and self.cluster_variance_ is not None else []),
            *([f"a separate covariance per {self.covariance_by}"] if self.covariance_by else []),
            *([f"observation weights: {self.weights} (Σ_i = W_i^-1/2 Σ W_i^-1/2)"] if self.weights else []),
            f"logLik {self.loglik:.4f}   AIC {self.aic:.2f}   BIC {self.bic:.2f}   converged: {self.converged}",
            "",
            f"Fixed effects ({self.ddf.replace('-', ' ').title()} df"
            + ("" if self.vcov == "model" else f", {self.vcov.replace('-', ' ')} (sandwich) covariance") + "):",
            self.fixed_effects.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
            "",
            *(["Covariance between visits:", self.covariance.to_string(float_format=lambda x: f"{x:.4g}")]
              if not self.covariances_ else
              [line for k, c in self.covariances.items()
               for line in (f"Covariance between visits, {self.covariance_by} = {k}:",
                            c.to_string(float_format=lambda x: f"{x:.4g}"))]),
        ]
        if self.messages:
            lines += ["", "Messages:", *[f"  - {m}" for m in self.messages]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<MMRMFit {self.covariance_kind} {self.method}: {self.n_subjects} subjects, {self.n_obs} obs, "
            f"logLik={self.loglik:.3f}, converged={self.converged}>"
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>MMRM</b> ({self.method}, {self.covariance_kind} covariance) &mdash; {self.n_subjects} subjects, "
            f"{self.n_obs} observations; logLik {self.loglik:.3f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}, "
            f"converged: {self.converged}</p>"
        )
        return head + self.fixed_effects.to_html(index=False, float_format=lambda x: f"{x:.4g}") + (
            "<p>Covariance between visits</p>" + self.covariance.to_html(float_format=lambda x: f"{x:.4g}")
        )


# ----------------------------------------------------------------------------------------------------------------
# fit_mmrm
# ----------------------------------------------------------------------------------------------------------------
def fit_mmrm(
    data: Any,
    *,
    instrument: str | None = None,
    visit: str = "visit",
    group: str | None = "arm",
    subject: str = "subject",
    adjust_baseline: bool = True,
    baseline_by_visit: bool = False,
    covariates: Sequence[str] = (),
    covariance: Covariance = "unstructured",
    heterogeneous: bool = True,
    method: Literal["REML", "ML"] = "REML",
    outcome: str = "value",
    baseline_visit: str | None = None,
    reference: str | None = None,
    ddf: DDF = "satterthwaite",
    cluster: str | None = None,
    vcov: VCov = "model",
    covariance_by: str | None = None,
    weights: str | None = None,
) -> MMRMFit:
    """Fit a mixed model for repeated measures to the post-baseline visits.

    Parameters
    ----------
    data : Dataset or DataFrame
        A Dataset, or its long analysis frame (one row per measurement with ``subject``, the ``visit`` column,
        ``value`` and, when ``adjust_baseline``, ``baseline`` or rows with ``timing == "baseline"``).
    instrument : str, optional
        Instrument key (required for a Dataset; used to filter a long frame that has an ``instrument`` column).
    visit : str
        Visit column (ordered categorical, or any labels: then sorted by mean ``day`` when present).
    group : str or None
        Randomized group column; ``None`` for a single-arm model.
    subject : str
        Subject column (combined with ``study`` when that column exists).
    adjust_baseline : bool
        Add the subject's baseline value as a covariate (subjects without one are dropped, with a warning).
    baseline_by_visit : bool
        Also let the baseline effect differ by visit (``baseline:visit``).
    covariates : sequence of str
        Further subject-level covariates (numeric: held at their mean in ``emmeans``; otherwise factors).
    covariance : {"unstructured", "cs", "ar1", "toeplitz", "ante_dependence"}
        Residual covariance between a subject's visits. AR(1) and Toeplitz use the visit order (lag = difference
        in visit index), as ``nlme::corAR1(form = ~ visit_index | subject)``.
    heterogeneous : bool
        A variance per visit for cs / ar1 / toeplitz / ante_dependence (``varIdent(form = ~1 | visit)``; mmrm's
        csh, ar1h, toeph, adh); unstructured always has. First-order ante-dependence: the correlation of visits
        i > j is the product of the adjacent-visit correlations between them (mmrm's ad / adh).
    method : {"REML", "ML"}
    outcome : str
        Outcome column (``value`` in the analysis frame; e.g. ``change``).
    baseline_visit : str, optional
        The visit label of the baseline measurement. Rows at it (and rows with ``timing == "baseline"``) are
        not outcomes; their ``value`` is the baseline covariate when the frame has no ``baseline`` column. By
        default, a frame without a ``timing`` column uses a visit named "baseline" (any case) when there is one.
    reference : str, optional
        The level of ``group`` the coefficients are measured against. Default: the control arm (the one level
        whose subjects all have ``intent == "control"``) when there is one, else the first level (a
        categorical's order, else sorted). The summary says which was used; marginal means, contrasts and their
        order do not depend on it.
    ddf : {"satterthwaite", "kenward-roger", "kenward-roger-linear"}
        Denominator df of the t tests and intervals. Under Kenward-Roger (REML only) the coefficient covariance
        ``vcov_beta_`` and every SE are the adjusted ``Φ_A`` (``vcov_unadjusted_`` keeps ``(X'Σ⁻¹X)⁻¹``), as
        in R's ``mmrm(method = "Kenward-Roger")``; "kenward-roger-linear" drops the second-derivative term
        (mmrm's ``vcov = "Kenward-Roger-Linear"``). See :mod:`.kenward_roger`.
    cluster : str, optional
        A column (e.g. ``"therapist"``) whose levels get a random intercept on top of the residual covariance
        over visits (subjects nested in clusters; see :mod:`.cluster`): a model R's mmrm does not fit. Its
        variance is ``cluster_variance_``; df are Satterthwaite's (Kenward-Roger is not offered with it).
    vcov : {"model", "empirical", "empirical-bias-reduced", "empirical-jackknife"}
        The coefficient covariance: model-based (default; Kenward-Roger's ``Φ_A`` under those ``ddf``) or a
        sandwich, as mmrm's ``vcov = "Empirical"`` (CR0), ``"Empirical-Bias-Reduced"`` (CR2) and
        ``"Empirical-Jackknife"`` (CR3); with a sandwich, ``ddf="satterthwaite"`` gives mmrm's Bell-McCaffrey df
        and ``ddf="residual"`` gives ``n_obs - p`` (mmrm's ``method = "Residual"``). See :mod:`.sandwich`.
    covariance_by : str, optional
        A subject-level column (usually the arm) whose levels each get their own covariance between visits, of
        the structure ``covariance``: mmrm's ``us(visit | arm / subject)`` (and likewise for every structure).
        The covariance parameters ``theta_`` are the groups' parameters one after another (levels in order);
        REML, Satterthwaite and Kenward-Roger df and the sandwiches use each subject's own group's covariance.
        ``covariances_`` holds one matrix per level; ``covariance_`` is their average weighted by the share of
        subjects (used for effect sizes). Each level needs at least 2 measurements at each visit (2 subjects for
        a homogeneous structure).
    weights : str, optional
        A column of positive observation weights, as mmrm's ``weights =``: subject i's covariance is
        ``Σ_i = W_i^-1/2 Σ W_i^-1/2`` with ``W_i`` the diagonal of its weights, so a measurement of weight 2 has
        half the variance. The log-likelihood counts ``-½ Σ log w`` (as mmrm's does); weights of 1 change
        nothing.

    Returns
    -------
    MMRMFit
        Fixed effects with Satterthwaite df, the covariance between visits, log-likelihood, AIC/BIC,
        convergence, and ``emmeans`` / ``contrasts`` / ``eff_size`` per visit.

    Notes
    -----
    REML: ``-2 l = (n - p) log 2π + Σ_i log|Σ_i| + log|X'Σ⁻¹X| + r'Σ⁻¹r`` with ``Σ_i`` the rows and columns of
    Σ for subject i's observed visits. Standard errors come from ``(X'Σ⁻¹X)⁻¹``; the df of a linear function
    ``Lβ`` is Satterthwaite's ``2 (LCL')² / (g'Wg)`` with ``g`` the gradient of ``LCL'`` in the covariance
    parameters and ``W`` the inverse of the observed information (the Hessian of ``-l``), as in R's mmrm.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> fit = mo.fit_mmrm(mo.load_sample("trial"), instrument="rmdq", covariance="unstructured")
    >>> fit.converged, fit.visits
    (True, ['week_4', 'week_10', 'week_26'])
    >>> c = fit.contrasts("each vs usual_care", adjust="holm")
    >>> c["contrast"].unique().tolist()
    ['relaxation - usual_care', 'therapeutic - usual_care']
    >>> list(c.columns[:8])
    ['contrast', 'visit', 'estimate', 'se', 'df', 'ci_low', 'ci_high', 't']

    A separate unstructured covariance per arm, with Kenward-Roger df:

    >>> by_arm = mo.fit_mmrm(mo.load_sample("trial"), instrument="rmdq", covariance_by="arm",
    ...                      ddf="kenward-roger")
    >>> sorted(by_arm.covariances_), by_arm.n_theta == 3 * fit.n_theta
    (['relaxation', 'therapeutic', 'usual_care'], True)
    >>> bool(by_arm.loglik > fit.loglik)
    True
    """
    _check_options(covariance, method, heterogeneous, ddf, vcov)
    if cluster and (ddf != "satterthwaite" or vcov != "model" or covariance_by or weights):
        raise ArgumentError(f"cluster={cluster!r} is fitted with the model-based covariance, Satterthwaite df, one "
                            "covariance and no weights only; drop ddf= / vcov= / covariance_by= / weights=.")
    extra = [c for c in (cluster, covariance_by, weights) if c]
    needed = [subject, visit, outcome] + ([group] if group else []) + list(covariates) + extra
    # a frame with the model's columns is used as it is; covariates are left out of that test because a Dataset
    # cannot derive a column the user's frame lacks (the check below names it instead)
    af = analysis_frame(data, instrument, needed=[c for c in needed if c not in covariates])
    missing = [c for c in needed if c not in af.columns]
    if missing:
        raise ArgumentError(
            f"fit_mmrm needs columns {missing}, which the data does not have (columns: {list(af.columns)})."
        )
    post = _post_baseline_rows(af, subject=subject, visit=visit, outcome=outcome, group=group,
                               covariates=[*covariates, *extra], adjust_baseline=adjust_baseline,
                               baseline_visit=baseline_visit)
    vlev = _order_visits(post, visit)
    design = _fixed_design(post, visit=visit, group=group, covariates=covariates, adjust_baseline=adjust_baseline,
                           baseline_by_visit=baseline_by_visit, reference=reference)
    X = design.X
    y = post[outcome].to_numpy(dtype=float)
    vidx = post[visit].cat.codes.to_numpy()
    subj_codes, subj_uni = pd.factorize(post["_sid"])
    N, T = len(subj_uni), len(vlev)
    prob, theta0, cg = _problem(post, X, y, vidx, subj_codes, N, vlev, covariance=covariance,
                                heterogeneous=heterogeneous, reml=method == "REML", covariance_by=covariance_by,
                                weights=weights)

    tau2 = None
    if cluster:
        cl = _clustered(post, cluster, X, y, vidx, subj_codes, N, T, prob, theta0)
        theta, converged, messages, gnorm = cl["psi"][:-1], cl["converged"], cl["messages"], cl["gradient_norm"]
        info_inv, dA, P, val, tau2 = cl["info_inv"], cl["dA"], cl["pieces"], -2.0 * cl["loglik"], cl["tau2"]
    else:
        theta, converged, messages, gnorm, hess = _optimize(prob, theta0)
        val, _ = prob.m2ll(theta, want_grad=False)
        P = prob.pieces(prob.sigmas(theta))
        info_inv, dA, converged = _information(prob, theta, hess, P["Ainv"], messages, converged)
    if not converged:
        warnings.warn(
            "fit_mmrm: the optimizer did not meet its convergence checks (" + "; ".join(messages) + "); "
            "see fit.messages and treat the result with care.",
            ConvergenceWarning,
            stacklevel=2,
        )
    gref = design.reference
    het = heterogeneous if covariance != "unstructured" else True
    kr = None
    sigmas = prob.sigmas(theta)
    if ddf.startswith("kenward"):
        kr = kr_components(sigmas, prob.chunks, prob.inverses,
                           lambda S: prob.grad_sigma(prob.pieces(S)), P["Ainv"], covariance, het)
    sandwich = (empirical_sandwich(cg.X, cg.y, vidx, subj_codes, N, sigmas, P["Ainv"], P["beta"], vcov,
                                   cg.subj_group) if vcov in EMPIRICAL else None)
    vcov_beta = (sandwich.vcov if sandwich is not None else P["Ainv"] if kr is None else
                 kr.Phi_A if ddf == "kenward-roger" else kr.Phi_A_linear)
    return MMRMFit(
        instrument=instrument,
        group=group,
        time=visit,
        covariance_kind=covariance,
        heterogeneous=het,
        method=method,
        beta_=P["beta"],
        vcov_beta_=vcov_beta,
        vcov=vcov,
        _sandwich=sandwich,
        vcov_unadjusted_=P["Ainv"],
        ddf=ddf,
        _kr=kr,
        fe_names_=design.names,
        theta_=theta,
        covariance_=np.tensordot(cg.share, sigmas, axes=1),
        covariances_=dict(zip(cg.levels, sigmas, strict=True)) if covariance_by else {},
        covariance_by=covariance_by,
        weights=weights,
        visits=vlev,
        loglik=float(-0.5 * val),
        n_obs=len(y),
        n_subjects=N,
        converged=bool(converged),
        messages=messages,
        formula=f"{outcome} ~ {design.rhs}",
        _model_spec=design.model_spec,
        _ref=design.ref,
        _info_inv=info_inv,
        _dA=dA,
        gradient_norm=gnorm,
        reference=gref.level if gref is not None else None,
        reference_reason=gref.describe(group) if gref is not None and group else "",
        cluster=cluster,
        cluster_variance_=tau2,
    )


# ----------------------------------------------------------------------------------------------------------------
# the steps of fit_mmrm
# ----------------------------------------------------------------------------------------------------------------
def _check_options(covariance: str, method: str, heterogeneous: bool, ddf: str, vcov: str = "model") -> None:
    if ddf not in _DDFS:
        raise ArgumentError(f"ddf={ddf!r} is not one of {list(_DDFS)}.")
    if vcov not in ("model", *EMPIRICAL):
        raise ArgumentError(f"vcov={vcov!r} is not one of {['model', *EMPIRICAL]}.")
    if vcov != "model" and ddf.startswith("kenward"):
        raise ArgumentError(f"vcov={vcov!r} takes ddf='satterthwaite' (Bell-McCaffrey) or 'residual'; "
                            f"Kenward-Roger adjusts the model-based covariance (drop vcov= or ddf={ddf!r}).")
    if ddf.startswith("kenward") and method != "REML":
        raise ArgumentError(f"ddf={ddf!r} needs method='REML' (Kenward-Roger is defined for REML fits).")
    if covariance not in _COVARIANCES:
        raise ArgumentError(f"covariance={covariance!r} is not one of {list(_COVARIANCES)}.")
    if method not in ("REML", "ML"):
        raise ArgumentError(f"method={method!r} must be 'REML' or 'ML'.")
    if covariance == "unstructured" and not heterogeneous:
        raise ArgumentError(
            "an unstructured covariance always has a variance per visit; drop heterogeneous=False or choose "
            "covariance='cs', 'ar1', 'toeplitz' or 'ante_dependence'."
        )


def _baseline_rows(af: pd.DataFrame, visit: str, baseline_visit: str | None) -> pd.Series:
    """True for the rows that are baseline measurements (``timing == "baseline"`` or at ``baseline_visit``)."""
    is_base = pd.Series(False, index=af.index)
    if "timing" in af.columns:
        is_base = (af["timing"].astype(str) == "baseline").fillna(False)
    vis_str = af[visit].astype(str)
    if baseline_visit is None and "timing" not in af.columns:
        named = sorted({v for v in pd.unique(vis_str.dropna()) if v.lower() == "baseline"})
        baseline_visit = named[0] if named else None
    if baseline_visit is not None:
        at_base = (vis_str == str(baseline_visit)).fillna(False)
        if not at_base.any():
            raise ArgumentError(
                f"baseline_visit={baseline_visit!r} matches no value of {visit!r}; the visits are "
                f"{sorted(pd.unique(vis_str.dropna()))}."
            )
        is_base = is_base | at_base
    return is_base


def _post_baseline_rows(
    af: pd.DataFrame, *, subject: str, visit: str, outcome: str, group: str | None, covariates: Sequence[str],
    adjust_baseline: bool, baseline_visit: str | None,
) -> pd.DataFrame:
    """The analysed rows: post-baseline, with a visit, an outcome, (a baseline) and every covariate; ``_sid``
    is the subject key (with the study when there are several)."""
    af = af.copy()
    sid = af[subject].astype(str)
    if "study" in af.columns and af["study"].nunique(dropna=True) > 1:
        sid = af["study"].astype(str) + "/" + sid
    af["_sid"] = sid
    is_base = _baseline_rows(af, visit, baseline_visit)
    if adjust_baseline:
        if "baseline" in af.columns:
            base = af.groupby("_sid", sort=False)["baseline"].first()
        elif is_base.any():
            base = af[is_base].groupby("_sid", sort=False)["value" if "value" in af.columns else outcome].first()
        else:
            raise DataValidationError(
                "adjust_baseline=True needs a `baseline` column or rows with timing == 'baseline'; "
                "pass adjust_baseline=False to fit without it."
            )
    post = af[~is_base & af[visit].notna() & af[outcome].notna()].copy()
    if adjust_baseline:
        post["baseline"] = post["_sid"].map(base).astype(float)
        nob = post["baseline"].isna()
        if nob.any():
            warnings.warn(
                f"{post.loc[nob, '_sid'].nunique()} subjects have no baseline value and are left out "
                "(adjust_baseline=True).",
                UserWarning,
                stacklevel=3,
            )
            post = post[~nob]
    needed_cols = [*covariates, *([group] if group else [])]
    incomplete = post[needed_cols].isna().any(axis=1) if needed_cols else pd.Series(False, index=post.index)
    if incomplete.any():
        warnings.warn(
            f"{int(incomplete.sum())} measurements ({post.loc[incomplete, '_sid'].nunique()} subjects) have no "
            f"value for {[c for c in needed_cols if post.loc[incomplete, c].isna().any()]} and are left out.",
            UserWarning,
            stacklevel=3,
        )
        post = post[~incomplete]
    if post.empty:
        raise DataValidationError("no post-baseline measurements with a visit were found; check `visit`/`timing`.")
    return post


def _order_visits(post: pd.DataFrame, visit: str) -> list[str]:
    """Make ``post[visit]`` a categorical in visit order (in place) and return the levels; one row per visit."""
    if isinstance(post[visit].dtype, pd.CategoricalDtype):
        vlev = _levels(post[visit])
    elif pd.api.types.is_numeric_dtype(post[visit]):
        vlev = [f"{v:g}" for v in sorted(post[visit].unique())]
        post[visit] = post[visit].map(lambda v: f"{v:g}")
    elif "day" in post.columns:
        vlev = list(post.groupby(post[visit].astype(str))["day"].mean().sort_values().index)
    else:  # natural order: "week 4" before "week 10"
        vlev = sorted(pd.unique(post[visit].astype(str)), key=_natural_key)
    post[visit] = pd.Categorical(post[visit].astype(str), categories=vlev)
    dup = post.duplicated(["_sid", visit])
    if dup.any():
        raise DataValidationError(
            f"{int(dup.sum())} rows repeat a subject's visit (e.g. subject {post.loc[dup, '_sid'].iloc[0]!r}); "
            "an MMRM needs at most one measurement per subject and visit."
        )
    return vlev


@dataclass
class _Design:
    X: np.ndarray
    names: list[str]
    rhs: str
    model_spec: Any
    ref: dict[str, Any]
    reference: GroupReference | None


def _fixed_design(
    post: pd.DataFrame, *, visit: str, group: str | None, covariates: Sequence[str], adjust_baseline: bool,
    baseline_by_visit: bool, reference: str | None,
) -> _Design:
    """``group * visit + baseline (+ baseline:visit) + covariates`` (factors made categorical in ``post`` in
    place), the reference values of the marginal-means grid, and a rank check."""
    terms: list[str] = []
    ref: dict[str, Any] = {}
    gref = None
    if group:
        glev = _levels(post[group])
        gref = choose_reference(post, group, glev, reference)
        post[group] = pd.Categorical(post[group].astype(str), categories=gref.design_levels)
        terms.append(f"`{group}` * `{visit}`")
        ref[group] = glev
    else:
        terms.append(f"`{visit}`")
    ref[visit] = list(post[visit].cat.categories)
    if adjust_baseline:
        terms.append("baseline")
        ref["baseline"] = float(post["baseline"].mean())
        if baseline_by_visit:
            terms.append(f"baseline:`{visit}`")
    for c in covariates:
        if pd.api.types.is_numeric_dtype(post[c]):
            ref[c] = float(post[c].mean())
        else:
            lev = _levels(post[c])
            post[c] = pd.Categorical(post[c].astype(str), categories=lev)
            ref[c] = lev
        terms.append(f"`{c}`")
    rhs = " + ".join(terms)
    mm = formulaic.model_matrix(rhs, post, na_action="raise")
    X = np.asarray(mm, dtype=float)
    XtX = X.T @ X
    dscale = 1.0 / np.sqrt(np.maximum(np.diag(XtX), 1e-300))
    eig = np.linalg.eigvalsh(XtX * np.outer(dscale, dscale))
    rank = int(np.sum(eig > max(eig[-1], 1.0) * 1e-10))
    if rank < X.shape[1]:
        raise ModelFitError(
            f"the fixed-effects design is rank deficient ({rank} of {X.shape[1]} columns): some group has no "
            "measurement at some visit, or a covariate is constant. Drop the empty cells or the covariate."
        )
    return _Design(X, list(mm.model_spec.column_names), rhs, mm.model_spec, ref, gref)


def _pattern_chunks(
    X: np.ndarray, y: np.ndarray, vidx: np.ndarray, subj_codes: np.ndarray, N: int, T: int,
    subj_group: np.ndarray | None = None,
) -> list[_Chunk]:
    """Per-pattern sufficient statistics (no loop over subjects), in chunks of patterns. With ``subj_group``
    (N,) a pattern is a (covariance group, observed visits) pair."""
    p = X.shape[1]
    Yf = np.zeros((N, T))
    Xf = np.zeros((N, T, p))
    mask = np.zeros((N, T), dtype=bool)
    Yf[subj_codes, vidx] = y
    Xf[subj_codes, vidx] = X
    mask[subj_codes, vidx] = True
    sg = np.zeros(N, dtype=np.int64) if subj_group is None else np.asarray(subj_group, dtype=np.int64)
    n_bits = T + int(sg.max()).bit_length()
    codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(T, dtype=np.int64)) if n_bits < 62 else None
    if codes is not None:
        _, first, inv = np.unique(codes + (sg << T), return_index=True, return_inverse=True)
    else:  # pragma: no cover - more than 61 visits
        _, first, inv = np.unique(np.column_stack([sg, mask]), axis=0, return_index=True, return_inverse=True)
    pats, pat_group = mask[first], sg[first]
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(pats) + 1))
    per_chunk = max(1, int(4e6 // (T * T * p * p)))  # keep each chunk's padded X'X under ~32 MB
    chunks: list[_Chunk] = []
    for start in range(0, len(pats), per_chunk):
        ks = range(start, min(start + per_chunk, len(pats)))
        XX, XY, YY, nk = [], [], [], []
        for k in ks:  # one pass per missingness pattern (few), never per subject
            members = order[bounds[k] : bounds[k + 1]]
            Xk, Yk = Xf[members], Yf[members]
            XX.append(_xx(Xk))
            XY.append((Xk.reshape(len(members), -1).T @ Yk).reshape(T, p, T).transpose(0, 2, 1))
            YY.append(Yk.T @ Yk)
            nk.append(len(members))
        chunks.append(_Chunk(mask=pats[list(ks)], n=np.asarray(nk, dtype=float), XX=np.stack(XX),
                             XY=np.stack(XY), YY=np.stack(YY), g=pat_group[list(ks)].astype(int)))
    return chunks


@dataclass
class _Grouping:
    """The rows as the likelihood sees them (scaled by √w under ``weights=``) and the covariance groups."""

    X: np.ndarray
    y: np.ndarray
    subj_group: np.ndarray | None  # (N,) group code of each subject; None for one covariance
    levels: list[str]
    share: np.ndarray  # (G,) the groups' shares of the subjects (the pooled ``covariance_`` weights)


def _problem(
    post: pd.DataFrame, X: np.ndarray, y: np.ndarray, vidx: np.ndarray, subj_codes: np.ndarray, N: int,
    visits: list[str], *, covariance: str, heterogeneous: bool, reml: bool, covariance_by: str | None, weights: str | None,
) -> tuple[_REML, np.ndarray, _Grouping]:
    """The REML problem, its start and the grouping: one covariance per level of ``covariance_by`` (constant
    within subjects), rows scaled by √w for observation weights ``weights``."""
    log_w, T = 0.0, len(visits)
    if weights:
        w = post[weights].to_numpy(dtype=float)
        if not np.all(np.isfinite(w) & (w > 0)):
            raise DataValidationError(f"weights={weights!r} has {int(np.sum(~(np.isfinite(w) & (w > 0))))} values "
                                      "that are not positive; observation weights must be > 0 (drop those rows).")
        X, y = X * np.sqrt(w)[:, None], y * np.sqrt(w)
        log_w = float(np.sum(np.log(w)))
    subj_group, levels = None, [""]
    if covariance_by:
        subj_group, levels = _covariance_groups(post, covariance_by, subj_codes, N, vidx,
                                                visits,
                                                covariance == "unstructured" or heterogeneous)
    G = len(levels)
    sg = np.zeros(N, dtype=int) if subj_group is None else subj_group
    chunks = _pattern_chunks(X, y, vidx, subj_codes, N, T, subj_group)
    prob = _REML(chunks, T, X.shape[1], len(y), covariance, heterogeneous, reml, n_groups=G, log_weights=log_w)
    S0 = _start_covariance(X, y, vidx, subj_codes, N, T, subj_group, G)
    theta0 = np.concatenate([_theta_start(S, covariance, heterogeneous) for S in S0])
    share = np.bincount(sg, minlength=G) / N
    return prob, theta0, _Grouping(X=X, y=y, subj_group=subj_group, levels=levels, share=share)


def _covariance_groups(
    post: pd.DataFrame, by: str, subj_codes: np.ndarray, N: int, vidx: np.ndarray, visits: list[str],
    per_visit: bool,
) -> tuple[np.ndarray, list[str]]:
    """Each subject's level of ``by`` (codes in level order) and the levels; errors a researcher can act on."""
    per_subject = post.groupby("_sid", sort=False)[by].nunique()
    if (per_subject > 1).any():
        raise DataValidationError(
            f"{int((per_subject > 1).sum())} subjects have more than one {by!r} (e.g. "
            f"{per_subject[per_subject > 1].index[0]!r}); covariance_by= needs a subject-level column such as the arm."
        )
    levels = _levels(post[by])
    codes = pd.Categorical(post[by].astype(str), categories=levels).codes
    subj_group = np.zeros(N, dtype=int)
    subj_group[subj_codes] = codes
    counts = np.zeros((len(levels), len(visits)), dtype=int)
    np.add.at(counts, (codes, vidx), 1)
    n_subj = np.bincount(subj_group, minlength=len(levels))
    low = np.argwhere(counts < 2) if per_visit else np.argwhere(n_subj[:, None] < 2)
    if len(low):
        g, v = low[0]
        what = f"{counts[g, v]} measurements at visit {visits[v]!r}" if per_visit else f"{n_subj[g]} subjects"
        raise DataValidationError(
            f"covariance_by={by!r}: level {levels[g]!r} has {what}; each group needs at least 2 to estimate its "
            "own covariance. Merge or drop that level, choose a homogeneous structure (heterogeneous=False), or "
            "fit one covariance (covariance_by=None)."
        )
    return subj_group, levels


def _start_covariance(
    X: np.ndarray, y: np.ndarray, vidx: np.ndarray, subj_codes: np.ndarray, N: int, T: int,
    subj_group: np.ndarray | None = None, n_groups: int = 1,
) -> np.ndarray:
    """The start (G, T, T): each group's OLS residual covariance (pairwise complete), made positive definite."""
    b_ols = np.linalg.solve(X.T @ X, X.T @ y)
    R = np.full((N, T), np.nan)
    R[subj_codes, vidx] = y - X @ b_ols
    sg = np.zeros(N, dtype=int) if subj_group is None else subj_group
    out = np.empty((n_groups, T, T))
    for g in range(n_groups):  # a few covariance groups
        Rg = R[sg == g]
        S0 = pd.DataFrame(Rg).cov(min_periods=2).to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            var0 = np.nanvar(Rg, axis=0)
        S0 = np.where(np.isfinite(S0), S0, 0.0)
        fill = np.nanmean(var0) if np.any(np.isfinite(var0) & (var0 > 0)) else float(np.nanvar(R))
        S0[np.diag_indices(T)] = np.where(np.isfinite(var0) & (var0 > 0), var0, fill)
        out[g] = _nearest_pd(S0)
    return out


def _clustered(
    post: pd.DataFrame, cluster: str, X: np.ndarray, y: np.ndarray, vidx: np.ndarray, subj_codes: np.ndarray,
    N: int, T: int, prob: _REML, theta0: np.ndarray,
) -> dict[str, Any]:
    """The REML fit with a random intercept per level of ``cluster`` (see :mod:`.cluster`)."""
    per_subject = post.groupby("_sid", sort=False)[cluster].nunique()
    if (per_subject > 1).any():
        raise DataValidationError(
            f"{int((per_subject > 1).sum())} subjects have more than one {cluster!r} (e.g. "
            f"{per_subject[per_subject > 1].index[0]!r}); cluster= needs subjects nested in clusters."
        )
    first = np.zeros(N, dtype=int)
    first[subj_codes[::-1]] = np.arange(len(subj_codes))[::-1]
    codes, labels = pd.factorize(post[cluster].astype(str).to_numpy()[first])
    if len(labels) < 3:
        raise DataValidationError(f"cluster={cluster!r} has {len(labels)} levels; a random intercept needs at "
                                  "least 3 (more for a usable variance estimate).")
    Xf = np.zeros((N, T, X.shape[1]))
    Yf = np.zeros((N, T))
    mask = np.zeros((N, T), dtype=bool)
    Xf[subj_codes, vidx] = X
    Yf[subj_codes, vidx] = y
    mask[subj_codes, vidx] = True
    cprob = ClusterREML(Xf, Yf, mask, codes, len(labels), prob.sigma, prob.reml)
    out = fit_cluster(cprob, theta0)
    out["pieces"] = cprob.pieces(out["psi"])
    out["tau2"] = float(np.exp(2.0 * out["psi"][-1]))
    return out


def _information(
    prob: _REML, theta: np.ndarray, hess: np.ndarray | None, Ainv: np.ndarray, messages: list[str],
    converged: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """Inverse observed information of theta and the derivatives of X'V⁻¹X (for Satterthwaite df)."""
    info_inv = None
    dA = None
    if hess is not None:
        try:
            info_inv = np.linalg.inv(0.5 * hess)  # Hessian of -loglik = half the Hessian of -2 loglik
            if not np.all(np.isfinite(info_inv)) or np.any(np.linalg.eigvalsh(0.5 * (hess + hess.T)) <= 0):
                messages.append("the Hessian of the covariance parameters is not positive definite; "
                                "Satterthwaite df are unreliable (set to inf)")
                converged = False
                info_inv = None
        except np.linalg.LinAlgError:
            messages.append("the Hessian of the covariance parameters is singular; Satterthwaite df set to inf")
            info_inv = None
        dA = prob.sandwich_terms(theta, Ainv)
    return info_inv, dA, converged


def _num_hessian(prob: _REML, theta: np.ndarray) -> np.ndarray:
    """Hessian of -2 loglik by central differences of the analytic gradient."""
    k = len(theta)
    H = np.empty((k, k))
    for j in range(k):
        h = 1e-4 * max(1.0, abs(theta[j]))
        e = np.zeros(k)
        e[j] = h
        H[:, j] = (prob.value_grad(theta + e)[1] - prob.value_grad(theta - e)[1]) / (2 * h)
    return 0.5 * (H + H.T)


def _optimize(prob: _REML, theta0: np.ndarray) -> tuple[np.ndarray, bool, list[str], float, np.ndarray | None]:
    """BFGS from the moment start (a second, shrunken start if the first fails), then Newton polishing."""
    messages: list[str] = []
    results = []
    for start in (theta0, theta0 * 0.5):
        res = optimize.minimize(prob.value_grad, start, jac=True, method="BFGS",
                                options={"maxiter": 1000, "gtol": 1e-6})
        results.append(res)
        if res.success and np.isfinite(res.fun):
            break
    best = min(results, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)
    theta = np.asarray(best.x, dtype=float)
    if not best.success:
        messages.append(f"BFGS: {best.message}")
    val, g = prob.value_grad(theta)
    H = np.eye(len(theta))
    H_at = theta.copy()
    for _outer in range(3):  # Newton polishing; the Hessian is reused for a few chord steps
        H = _num_hessian(prob, theta)
        H_at = theta.copy()
        progressed = False
        for _ in range(8):
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            t, improved = 1.0, False
            while t > 1e-4:
                cand = theta - t * step
                v2, g2 = prob.value_grad(cand)
                if np.isfinite(v2) and v2 <= val + 1e-12 * max(1.0, abs(val)):
                    theta, val, g, improved = cand, v2, g2, True
                    break
                t /= 2
            progressed = progressed or improved
            if not improved or np.max(np.abs(g)) < 1e-9:
                break
        if not progressed or np.max(np.abs(g)) < 1e-9:
            break
    if np.max(np.abs(theta - H_at)) > 1e-6 * max(1.0, float(np.max(np.abs(theta)))):
        H = _num_hessian(prob, theta)  # the Hessian for the information matrix, at the optimum
    gnorm = float(np.max(np.abs(g)))
    converged = bool(np.isfinite(val)) and gnorm < 1e-4 * max(1.0, abs(val)) ** 0.5
    if not converged:
        messages.append(f"gradient at the optimum is {gnorm:.3g} (max abs)")
    if np.isfinite(val) and any(_at_edge(S) for S in prob.sigmas(theta)):
        messages.append("a covariance parameter is at the edge of its range (a variance near 0 or a correlation "
                        "near ±1); the covariance structure may be too rich for the data")
        converged = False
    return theta, converged, messages, gnorm, H


def _at_edge(S: np.ndarray) -> bool:
    """A variance near 0 or a correlation matrix near singular."""
    sd = np.sqrt(np.abs(np.diag(S)))
    corr_min_eig = float(np.linalg.eigvalsh(S / np.outer(sd, sd))[0]) if np.all(sd > 0) else 0.0
    return bool(np.min(sd) < 1e-6 * np.max(sd) or corr_min_eig < 1e-8)


def _example_frame(n_per_arm: int = 30, seed: int = 11) -> pd.DataFrame:
    """A small simulated three-arm trial with MAR dropout (analysis-frame columns), for examples and tests."""
    rng = np.random.default_rng(seed)
    arms = ["therapeutic", "relaxation", "usual_care"]
    weeks = np.array([4.0, 10.0, 26.0])
    effect = {"therapeutic": np.array([-2.0, -4.0, -3.0]), "relaxation": np.array([-1.0, -2.0, -1.5]),
              "usual_care": np.array([0.0, -0.5, -1.0])}
    sd = np.array([3.0, 3.5, 4.2])
    corr = np.array([[1.0, 0.6, 0.4], [0.6, 1.0, 0.6], [0.4, 0.6, 1.0]])
    cov = corr * np.outer(sd, sd)
    rows = []
    for arm in arms:
        for i in range(n_per_arm):
            sid = f"{arm[:2]}{i:03d}"
            b = rng.normal(12.0, 3.0)
            e = rng.multivariate_normal(np.zeros(3), cov)
            yv = 12.0 + 0.6 * (b - 12.0) + effect[arm] + e
            rows.append((sid, arm, "baseline", 0.0, "baseline", b, b))
            for j, w in enumerate(weeks):
                # MAR: dropout more likely after a poor (high) previous value
                prev = b if j == 0 else yv[j - 1]
                if j > 0 and rng.random() < 1.0 / (1.0 + np.exp(-(prev - 14.0) / 2.0)) * 0.5:
                    break
                rows.append((sid, arm, f"week {int(w)}", w * 7, "followup", yv[j], b))
    df = pd.DataFrame(rows, columns=["subject", "arm", "visit", "day", "timing", "value", "baseline"])
    df["visit"] = pd.Categorical(df["visit"], categories=["baseline", "week 4", "week 10", "week 26"], ordered=True)
    df["arm"] = pd.Categorical(df["arm"], categories=arms)
    df["week"] = df["day"] / 7.0
    df["instrument"] = "rmdq"
    df["change"] = df["value"] - df["baseline"]
    df["improvement"] = -df["change"]
    return df

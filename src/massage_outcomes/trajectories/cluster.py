"""An MMRM with a random intercept per cluster (therapist, clinic) on top of the residual covariance over visits.

R's mmrm declines this model (its issue #300); massage trials need it (Cherkin et al. 2011 had 27 therapists).
Subjects are nested in clusters; for cluster ``t`` the covariance of its subjects' measurements is
``V_t = blockdiag_i(Σ_i) + τ² 11'``, with ``Σ_i`` the rows and columns of the visit covariance ``Σ`` that subject i
has. By the Woodbury identity, with ``s_i = 1'Σ_i⁻¹1``, ``a_i = X_i'Σ_i⁻¹1``, ``c_i = y_i'Σ_i⁻¹1`` summed per
cluster (``S_t``, ``A_t``, ``C_t``) and ``κ_t = τ² / (1 + τ² S_t)``:

``X'V⁻¹X = Σ_i X_i'Σ_i⁻¹X_i - Σ_t κ_t A_t A_t'``, likewise ``X'V⁻¹y`` and ``y'V⁻¹y``, and
``log|V| = Σ_i log|Σ_i| + Σ_t log(1 + τ² S_t)``.

The per-subject terms are one vectorized product over subjects (no loop); the parameters are the visit
covariance's (as in :mod:`.mmrm`) and ``log τ``. The REML criterion is minimised with BFGS on central-difference
gradients; the observed information and ``∂(X'V⁻¹X)/∂ψ`` (for Satterthwaite df) are central differences too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg, optimize

__all__ = ["ClusterREML", "fit_cluster"]

_LOG2PI = float(np.log(2.0 * np.pi))


@dataclass
class ClusterREML:
    """-2 REML (or ML) log-likelihood of the MMRM with a cluster random intercept."""

    Xf: np.ndarray  # (N, T, p) per subject, zero rows at missing visits
    Yf: np.ndarray  # (N, T)
    mask: np.ndarray  # (N, T) bool
    cluster: np.ndarray  # (N,) cluster code per subject
    n_clusters: int
    sigma: Callable[[np.ndarray], np.ndarray]  # visit-covariance parameters -> Σ (T, T)
    reml: bool

    def __post_init__(self) -> None:
        self.N, self.T, self.p = self.Xf.shape
        self.n_obs = int(self.mask.sum())
        pats, self.pattern = np.unique(self.mask, axis=0, return_inverse=True)
        self.pattern = self.pattern.reshape(-1)
        self.pats = pats
        pair = pats[:, :, None] & pats[:, None, :]
        self.pair = pair

    def pieces(self, psi: np.ndarray) -> dict[str, Any]:
        """β, (X'V⁻¹X)⁻¹, X'V⁻¹X, log|V|, rss at ``psi`` = (visit-covariance parameters, log τ)."""
        Sigma = self.sigma(psi[:-1])
        tau2 = float(np.exp(2.0 * psi[-1]))
        T = self.T
        padded = np.where(self.pair, Sigma[None], np.eye(T)[None])
        chol = np.linalg.cholesky(padded)  # LinAlgError when not positive definite
        logdet_p = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        Sinv = (np.linalg.inv(padded) * self.pair)[self.pattern]  # (N, T, T)
        one = self.mask.astype(float)
        SX = Sinv @ self.Xf  # (N, T, p)
        Sy = np.einsum("nab,nb->na", Sinv, self.Yf)
        S1 = np.einsum("nab,nb->na", Sinv, one)
        A = np.einsum("ntp,ntq->pq", self.Xf, SX)
        c = np.einsum("ntp,nt->p", SX, self.Yf)
        q = float(np.einsum("nt,nt->", Sy, self.Yf))
        s = np.einsum("nt,nt->n", S1, one)
        a = np.einsum("ntp,nt->np", self.Xf, S1)
        ci = np.einsum("nt,nt->n", self.Yf, S1)
        G = self.n_clusters
        St = np.bincount(self.cluster, weights=s, minlength=G)
        Ct = np.bincount(self.cluster, weights=ci, minlength=G)
        At = np.zeros((G, self.p))
        np.add.at(At, self.cluster, a)
        kappa = tau2 / (1.0 + tau2 * St)
        XVX = A - np.einsum("g,gp,gq->pq", kappa, At, At)
        XVy = c - np.einsum("g,gp,g->p", kappa, At, Ct)
        yVy = q - float(np.sum(kappa * Ct**2))
        logdet = float(logdet_p[self.pattern].sum() + np.sum(np.log1p(tau2 * St)))
        cA = linalg.cho_factor(XVX, lower=True)
        beta = linalg.cho_solve(cA, XVy)
        return {"beta": beta, "Ainv": linalg.cho_solve(cA, np.eye(self.p)), "A": XVX, "logdet": logdet,
                "logdetA": 2.0 * float(np.sum(np.log(np.diag(cA[0])))), "rss": yVy - float(XVy @ beta)}

    def m2ll(self, psi: np.ndarray) -> float:
        try:
            P = self.pieces(np.asarray(psi, dtype=float))
        except (np.linalg.LinAlgError, linalg.LinAlgError):
            return np.inf
        if self.reml:
            return float(P["logdet"] + P["logdetA"] + P["rss"] + (self.n_obs - self.p) * _LOG2PI)
        return float(P["logdet"] + P["rss"] + self.n_obs * _LOG2PI)


def _gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    g = np.empty(len(x))
    for j in range(len(x)):
        e = np.zeros(len(x))
        e[j] = h * max(1.0, abs(x[j]))
        g[j] = (f(x + e) - f(x - e)) / (2 * e[j])
    return g


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = len(x)
    H = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h * max(1.0, abs(x[j]))
        H[:, j] = (_gradient(f, x + e) - _gradient(f, x - e)) / (2 * e[j])
    return 0.5 * (H + H.T)


def fit_cluster(prob: ClusterREML, theta0: np.ndarray) -> dict[str, Any]:
    """Optimise ``(θ, log τ)`` from the visit-covariance start ``theta0`` and a start τ of a tenth of the mean SD;
    returns the optimum, the inverse observed information of ψ, ``-∂(X'V⁻¹X)/∂ψ`` and convergence messages."""
    S0 = prob.sigma(theta0)
    psi0 = np.concatenate([theta0, [np.log(0.3 * np.sqrt(np.mean(np.diag(S0))))]])
    messages: list[str] = []
    results = [optimize.minimize(prob.m2ll, start, jac=lambda x: _gradient(prob.m2ll, x), method="BFGS",
                                 options={"maxiter": 2000, "gtol": 1e-6})
               for start in (psi0, np.concatenate([theta0, [psi0[-1] - 2.0]]))]
    best = min(results, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)
    psi = np.asarray(best.x, dtype=float)
    g = _gradient(prob.m2ll, psi)
    H = _hessian(prob.m2ll, psi)
    converged = bool(np.isfinite(best.fun)) and float(np.max(np.abs(g))) < 1e-3
    if not converged:
        messages.append(f"BFGS: {best.message}; gradient at the optimum {np.max(np.abs(g)):.3g} (max abs)")
    info_inv = None
    try:
        if np.all(np.linalg.eigvalsh(H) > 0):
            info_inv = np.linalg.inv(0.5 * H)
        else:
            messages.append("the Hessian of the covariance parameters is not positive definite (a cluster "
                            "variance near 0?); Satterthwaite df set to inf")
            converged = False
    except np.linalg.LinAlgError:
        messages.append("the Hessian of the covariance parameters is singular; Satterthwaite df set to inf")
    k = len(psi)
    dA = np.empty((k, prob.p, prob.p))
    for j in range(k):
        e = np.zeros(k)
        e[j] = 1e-5 * max(1.0, abs(psi[j]))
        dA[j] = -(prob.pieces(psi + e)["A"] - prob.pieces(psi - e)["A"]) / (2 * e[j])
    return {"psi": psi, "converged": converged, "messages": messages, "gradient_norm": float(np.max(np.abs(g))),
            "info_inv": info_inv, "dA": dA, "loglik": -0.5 * float(best.fun)}

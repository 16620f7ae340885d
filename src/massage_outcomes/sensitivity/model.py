"""The imputation model: an MMRM with an unstructured covariance fitted by REML on wide arrays.

Imputation refits the model many times (once per jackknife or bootstrap sample), so it works on arrays that are
built once: ``X`` (subjects × visits × coefficients), ``Y`` (subjects × visits) and the mask of the values the
fit may use. Subjects are grouped by their pattern of usable visits; per pattern the likelihood needs only the
sums ``Σ X_i ⊗ X_i``, ``Σ X_i ⊗ y_i`` and ``Σ y_i y_i'`` (no loop over subjects). The REML criterion

    -2 l = Σ_i log|Σ_i| + log|X'Σ⁻¹X| + Σ_i r_i'Σ_i⁻¹r_i      (Σ_i: Σ at subject i's visits)

is minimised over the Cholesky factor of Σ (log diagonal) with its analytic gradient
``Σ_k embed(n_k W_k - W_k S_k W_k - W_k C_k W_k)``, ``W_k = Σ_k⁻¹``, ``S_k`` the residual cross-products and
``C_k = Σ_i X_i A⁻¹ X_i'``. It is the model rbmi fits with ``mmrm`` (``cov_struct = "us"``, REML); the
library's :func:`massage_outcomes.fit_mmrm` fits the same model from a long frame (a test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from massage_outcomes.errors import ModelFitError

__all__ = ["GLSFit", "fit_us_reml"]


@dataclass(frozen=True)
class GLSFit:
    """``beta`` (p), ``sigma`` (T × T), ``theta`` (the Cholesky parameters), ``converged``, ``m2ll`` (-2 REML),
    ``hess_inv`` (inverse Hessian of -2 REML in ``theta``, from central differences of the gradient: the start
    of the quasi-Newton updates of refits)."""

    beta: np.ndarray
    sigma: np.ndarray
    theta: np.ndarray
    converged: bool
    m2ll: float
    hess_inv: np.ndarray | None = None


def _patterns(X: np.ndarray, Y: np.ndarray, M: np.ndarray) -> dict[str, np.ndarray]:
    """Per pattern of usable visits k, padded to all T visits: mask (K, T), n (K), XX (K, T, T, p, p),
    XY (K, T, T, p), YY (K, T, T); unobserved visits are zero."""
    keep = M.any(axis=1)
    X, Y, M = X[keep], np.where(M, Y, 0.0)[keep], M[keep]
    T = M.shape[1]
    Xm = X * M[..., None]
    codes = M.astype(np.int64) @ (np.int64(1) << np.arange(T, dtype=np.int64))
    uniq, first, inv = np.unique(codes, return_index=True, return_inverse=True)
    K = len(uniq)
    onehot = np.zeros((K, len(codes)))
    onehot[inv.reshape(-1), np.arange(len(codes))] = 1.0
    return {
        "mask": M[first],
        "n": onehot.sum(axis=1),
        "XX": np.einsum("kn,nia,njb->kijab", onehot, Xm, Xm, optimize=True),
        "XY": np.einsum("kn,nia,nj->kija", onehot, Xm, Y, optimize=True),
        "YY": np.einsum("kn,ni,nj->kij", onehot, Y, Y, optimize=True),
    }


class _Problem:
    def __init__(self, X: np.ndarray, Y: np.ndarray, M: np.ndarray):
        self.T, self.p = M.shape[1], X.shape[2]
        self.pats = _patterns(X, Y, M)
        K = len(self.pats["n"])
        self.pats["XX2"] = self.pats["XX"].reshape(K * self.T * self.T, self.p * self.p)
        self.pats["XY2"] = self.pats["XY"].reshape(K * self.T * self.T, self.p)
        m = self.pats["mask"]
        self.both = m[:, :, None] & m[:, None, :]
        self.fill = np.eye(self.T)[None] * ~m[:, :, None]
        self.il = np.tril_indices(self.T)
        self.diag = self.il[0] == self.il[1]

    def chol(self, theta: np.ndarray) -> np.ndarray:
        L = np.zeros((self.T, self.T))
        L[self.il] = np.where(self.diag, np.exp(theta), theta)
        return L

    def solve(self, Sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """beta, A⁻¹, the per-pattern inverses W (K, T, T; zero off the pattern) and Σ n_k log|Σ_k|."""
        P = self.pats
        padded = np.where(self.both, Sigma[None], 0.0) + self.fill
        c = np.linalg.cholesky(padded)
        logdet = float(P["n"] @ (2.0 * np.log(np.diagonal(c, axis1=1, axis2=2)).sum(axis=1)))
        W = np.where(self.both, np.linalg.inv(padded), 0.0)
        A = (W.reshape(-1) @ P["XX2"]).reshape(self.p, self.p)
        b = W.reshape(-1) @ P["XY2"]
        Ainv = linalg.inv(A, check_finite=False)
        Ainv = 0.5 * (Ainv + Ainv.T)
        return Ainv @ b, Ainv, W, logdet

    def value_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        L = self.chol(theta)
        try:
            beta, Ainv, W, logdet = self.solve(L @ L.T)
        except (linalg.LinAlgError, np.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(theta)
        P = self.pats
        xyb = P["XY"] @ beta
        bb = np.outer(beta, beta).reshape(-1)
        S = P["YY"] - xyb - xyb.transpose(0, 2, 1) + (P["XX2"] @ bb).reshape(P["YY"].shape)
        C = (P["XX2"] @ Ainv.reshape(-1)).reshape(P["YY"].shape)
        val = logdet - float(np.linalg.slogdet(Ainv)[1]) + float(np.sum(W * S))
        G = np.tensordot(P["n"], W, axes=1) - (W @ (S + C) @ W).sum(axis=0)
        dL = 2.0 * (G @ L)
        grad = dL[self.il] * np.where(self.diag, L[self.il], 1.0)
        return float(val), grad


def start_theta(X: np.ndarray, Y: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Cholesky parameters of the pairwise residual covariance of an OLS fit (made positive definite)."""
    Xs, ys = X[M], Y[M]
    b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
    R = np.where(M, Y - X @ b, np.nan)
    T = M.shape[1]
    S = np.empty((T, T))
    for i in range(T):  # T x T pairs of visits (few)
        for j in range(T):
            ok = M[:, i] & M[:, j]
            S[i, j] = np.mean(R[ok, i] * R[ok, j]) if ok.sum() > 1 else 0.0
    w, V = np.linalg.eigh(0.5 * (S + S.T))
    S = (V * np.maximum(w, 1e-3 * max(w.max(), 1e-8))) @ V.T
    L = np.linalg.cholesky(S)
    il = np.tril_indices(T)
    return np.where(il[0] == il[1], np.log(np.diag(L)[il[0]]), L[il])


def _hessian_inverse(prob: _Problem, theta: np.ndarray) -> np.ndarray | None:
    k = len(theta)
    H = np.empty((k, k))
    h = 1e-5
    for j in range(k):  # covariance parameters (few)
        e = np.zeros(k)
        e[j] = h
        H[:, j] = (prob.value_grad(theta + e)[1] - prob.value_grad(theta - e)[1]) / (2 * h)
    H = 0.5 * (H + H.T)
    w, V = np.linalg.eigh(H)
    if not np.all(np.isfinite(w)) or w.min() <= 1e-10 * w.max():
        return None
    Hinv = (V / w) @ V.T
    return 0.5 * (Hinv + Hinv.T)


def _quasi_newton(prob: _Problem, theta: np.ndarray, Hinv: np.ndarray, step_tol: float) -> tuple[np.ndarray, bool]:
    """Quasi-Newton steps from a nearby fit's inverse Hessian (BFGS updates, step halving): a few steps for a
    jackknife or bootstrap refit. Returns the point and whether it converged (steps below ``step_tol``, or no
    descent left with a gradient below 1e-6); else the caller falls back to scipy's BFGS."""
    val, g = prob.value_grad(theta)
    H = Hinv.copy()
    eye = np.eye(len(theta))
    for _ in range(100):  # iterations
        step = H @ g
        for _half in range(30):  # step halving
            new = theta - step
            v_new, g_new = prob.value_grad(new)
            if np.isfinite(v_new) and v_new <= val + 1e-12 * abs(val):
                break
            step = step / 2
        else:
            return theta, bool(np.max(np.abs(g)) < 1e-6)
        sk, yk = -step, g_new - g
        sy = float(sk @ yk)
        if sy > 1e-14:  # BFGS update of the inverse Hessian
            rho = 1.0 / sy
            H = (eye - rho * np.outer(sk, yk)) @ H @ (eye - rho * np.outer(yk, sk)) + rho * np.outer(sk, sk)
        theta, val, g = new, v_new, g_new
        if np.max(np.abs(step)) < step_tol:
            return theta, True
    return theta, False


def fit_us_reml(X: np.ndarray, Y: np.ndarray, M: np.ndarray, *, theta0: np.ndarray | None = None,
                hess_inv0: np.ndarray | None = None, want_hessian: bool = False, step_tol: float = 1e-9) -> GLSFit:
    """REML fit of ``Y ~ X`` with an unstructured covariance over visits, using the values where ``M``.

    Parameters
    ----------
    X : array (n, T, p)
    Y : array (n, T)
    M : bool array (n, T)
        The values the fit uses (observed and not excluded by an intercurrent event).
    theta0 : array, optional
        Start (e.g. the full-data fit's ``theta`` for a jackknife sample).
    hess_inv0 : array, optional
        Initial inverse Hessian for BFGS (the full-data fit's ``hess_inv``): refits then take a few steps.
    want_hessian : bool
        Compute ``hess_inv`` at the optimum.
    step_tol : float
        With ``hess_inv0``: stop when no covariance parameter moves more than this (1e-9 for the jackknife,
        whose SE rests on small differences between refits; looser is enough for a bootstrap draw).

    Returns
    -------
    GLSFit

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = np.ones((200, 3, 1)); Y = rng.normal(size=(200, 3)) + 5.0
    >>> fit = fit_us_reml(X, Y, np.ones((200, 3), bool))
    >>> bool(fit.converged), round(float(fit.beta[0]), 1)
    (True, 5.0)
    """
    prob = _Problem(X, Y, M)
    XtX = np.einsum("nia,nib->ab", X * M[..., None], X)
    if np.linalg.matrix_rank(XtX) < X.shape[2]:
        raise ModelFitError(
            "the imputation model's design is rank deficient: some arm has no usable value at some visit, or a "
            "covariate is constant. Drop the empty visit or the covariate."
        )
    th = start_theta(X, Y, M) if theta0 is None else np.asarray(theta0, dtype=float)
    ok = False
    if hess_inv0 is not None:
        th, ok = _quasi_newton(prob, th, hess_inv0, step_tol)
    if not ok:
        res = optimize.minimize(prob.value_grad, th, jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 2000})
        th = res.x
    val, grad = prob.value_grad(th)
    converged = bool(np.isfinite(val) and np.max(np.abs(grad)) < 1e-5 * max(1.0, abs(val)))
    L = prob.chol(th)
    Sigma = L @ L.T
    beta = prob.solve(Sigma)[0]
    hinv = _hessian_inverse(prob, th) if want_hessian else None
    return GLSFit(beta=beta, sigma=Sigma, theta=th, converged=converged, m2ll=float(val), hess_inv=hinv)

"""Satterthwaite denominator degrees of freedom for linear mixed models, as lmerTest computes them.

For a contrast ``L`` (a row vector over the fixed effects) the variance of ``L beta`` is ``v = L C(phi) L'`` where
``C(phi) = sigma^2 (R_X' R_X)^{-1}`` depends on the variance parameters ``phi = (theta, sigma)``. With ``H`` the
Hessian of the (RE)ML deviance with respect to ``phi`` at the optimum, ``A = 2 H^{-1}`` is the asymptotic
covariance of ``phi`` and, with ``g = d v / d phi``,

    df = 2 v^2 / (g' A g).

Derivatives are numerical (central differences with Richardson extrapolation, like numDeriv in R).

References
----------
Kuznetsova A, Brockhoff PB, Christensen RHB (2017). lmerTest Package: Tests in Linear Mixed Effects Models.
Journal of Statistical Software 82(13). https://doi.org/10.18637/jss.v082.i13
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from massage_outcomes.trajectories.kenward_roger import kr_df

__all__ = ["KenwardRoger", "Satterthwaite", "richardson_gradient", "richardson_hessian"]


def _steps(x: np.ndarray, d: float) -> np.ndarray:
    return d * np.maximum(np.abs(x), 0.1)


def richardson_gradient(
    fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, d: float = 1e-3, r: int = 4
) -> np.ndarray:
    """Jacobian of a (possibly array-valued) function by central differences with Richardson extrapolation.

    Returns an array of shape ``(len(x), *fun(x).shape)``.
    """
    x = np.asarray(x, dtype=float)
    h0 = _steps(x, d)
    out = []
    for i in range(len(x)):
        ests = []
        for k in range(r):
            h = h0[i] / 2**k
            xp = x.copy()
            xm = x.copy()
            xp[i] += h
            xm[i] -= h
            ests.append((np.asarray(fun(xp)) - np.asarray(fun(xm))) / (2 * h))
        # Richardson: eliminate h^2, h^4, ... terms
        for m in range(1, r):
            f = 4.0**m
            ests = [(f * ests[j + 1] - ests[j]) / (f - 1) for j in range(len(ests) - 1)]
        out.append(ests[0])
    return np.asarray(out)


def richardson_hessian(
    fun: Callable[[np.ndarray], float], x: np.ndarray, *, d: float = 1e-3, r: int = 4
) -> np.ndarray:
    """Hessian of a scalar function by Richardson-extrapolated central second differences."""
    x = np.asarray(x, dtype=float)
    k = len(x)
    h0 = _steps(x, d)
    f0 = fun(x)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ests = []
            for m in range(r):
                hi = h0[i] / 2**m
                hj = h0[j] / 2**m
                if i == j:
                    xp = x.copy()
                    xm = x.copy()
                    xp[i] += hi
                    xm[i] -= hi
                    ests.append((fun(xp) - 2 * f0 + fun(xm)) / hi**2)
                else:
                    vals = []
                    for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                        xx = x.copy()
                        xx[i] += si * hi
                        xx[j] += sj * hj
                        vals.append(fun(xx))
                    ests.append((vals[0] - vals[1] - vals[2] + vals[3]) / (4 * hi * hj))
            for m in range(1, r):
                f = 4.0**m
                ests = [(f * ests[t + 1] - ests[t]) / (f - 1) for t in range(len(ests) - 1)]
            H[i, j] = H[j, i] = ests[0]
    return H


class Satterthwaite:
    """Satterthwaite df for arbitrary contrasts of one fitted model.

    Parameters
    ----------
    vcov : ndarray (p, p)
        ``C`` at the optimum.
    jacobian : ndarray (k, p, p)
        ``dC / d phi_j`` for each variance parameter.
    hessian : ndarray (k, k)
        Hessian of the deviance with respect to ``phi`` at the optimum.
    """

    def __init__(self, vcov: np.ndarray, jacobian: np.ndarray, hessian: np.ndarray) -> None:
        self.vcov = vcov
        self.jacobian = jacobian
        self.hessian = hessian
        try:
            self.A = 2.0 * np.linalg.inv(hessian)
            self.ok = bool(np.all(np.isfinite(self.A)))
        except np.linalg.LinAlgError:
            self.A = np.full_like(hessian, np.nan)
            self.ok = False

    def df(self, L: np.ndarray) -> np.ndarray:
        """Satterthwaite df for each row of ``L`` (k, p); ``inf`` where the variance does not depend on phi."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        v = np.einsum("kp,pq,kq->k", L, self.vcov, L)
        g = np.einsum("kp,jpq,kq->kj", L, self.jacobian, L)
        denom = np.einsum("kj,jl,kl->k", g, self.A, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 2.0 * v**2 / denom
        out = np.where(denom <= 0, np.inf, out)
        return out


class KenwardRoger:
    """Kenward-Roger adjusted covariance and denominator df for a REML fit with one blocked grouping factor.

    ``V = blockdiag(Z_i D Z_i' + sigma^2 I)`` is linear in the variance parameters (the distinct elements of
    ``D`` and ``sigma^2``); with ``G_r = dV/d phi_r`` the quantities of Kenward & Roger (1997) are sums over
    subjects of small dense blocks (subjects padded to the largest number of rows), as pbkrtest computes them.

    References
    ----------
    Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum likelihood.
    Biometrics 53(3):983-997. https://doi.org/10.2307/2533558 ;
    Halekoh U, Hojsgaard S (2014). A Kenward-Roger approximation and parametric bootstrap methods for tests in
    linear mixed models - the R package pbkrtest. Journal of Statistical Software 59(9).
    https://doi.org/10.18637/jss.v059.i09
    """

    def __init__(
        self, X: np.ndarray, Z: np.ndarray, codes: np.ndarray, D: np.ndarray, sigma2: float, *, correlated: bool = True
    ) -> None:
        n, p = X.shape
        q = Z.shape[1]
        order = np.argsort(codes, kind="stable")
        codes_s = codes[order]
        g = int(codes.max()) + 1
        counts = np.bincount(codes_s, minlength=g)
        nmax = int(counts.max())
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        pos = np.arange(n) - start[codes_s]
        Xp = np.zeros((g, nmax, p))
        Zp = np.zeros((g, nmax, q))
        mask = np.zeros((g, nmax))
        Xp[codes_s, pos] = X[order]
        Zp[codes_s, pos] = Z[order]
        mask[codes_s, pos] = 1.0
        # dV/dphi: one per distinct element of D (upper triangle) and the residual variance
        Gs = []
        for a in range(q):
            for b in range(a, q):
                if b != a and not correlated:
                    continue
                E = np.zeros((q, q))
                E[a, b] = E[b, a] = 1.0
                Gs.append(np.einsum("gia,ab,gjb->gij", Zp, E, Zp))
        eye = np.eye(nmax)[None, :, :] * mask[:, :, None] * mask[:, None, :]
        Gs.append(eye)
        V = np.einsum("gia,ab,gjb->gij", Zp, D, Zp) + sigma2 * eye
        V = V + (np.eye(nmax)[None] - eye)  # padded rows: identity, decoupled (X and Z are zero there)
        Vi = np.linalg.inv(V)
        ViX = Vi @ Xp  # (g, n, p)
        Phi = np.linalg.inv(np.einsum("gip,giq->pq", Xp, ViX))
        VG = [Vi @ G for G in Gs]
        k = len(Gs)
        P = [-np.einsum("gip,gij,gjq->pq", ViX, G, ViX) for G in Gs]
        Q = [[np.einsum("gip,gij,gjq->pq", ViX, Gs[r] @ VG[s], ViX) for s in range(k)] for r in range(k)]
        info = np.empty((k, k))
        for r in range(k):
            for s in range(r, k):
                t1 = np.einsum("gij,gji->", VG[r], VG[s])
                t2 = np.trace(Phi @ (Q[r][s] + Q[s][r]))
                t3 = np.trace(Phi @ P[r] @ Phi @ P[s])
                info[r, s] = info[s, r] = 0.5 * (t1 - t2 + t3)
        W = np.linalg.inv(info)
        U = np.zeros((p, p))
        for r in range(k):
            for s in range(k):
                U += W[r, s] * (Q[r][s] - P[r] @ Phi @ P[s])
        self.Phi = Phi
        self.Phi_A = Phi + 2.0 * Phi @ U @ Phi
        self.P = P
        self.W = W

    def df(self, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """KR df and adjusted SE for each row of ``L`` (k, p) taken as a one-degree-of-freedom test."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        dfs = kr_df(self.Phi, np.asarray(self.P, dtype=float), self.W, L)  # every row at once
        ses = np.sqrt(np.einsum("rp,pq,rq->r", L, self.Phi_A, L))
        return dfs, ses

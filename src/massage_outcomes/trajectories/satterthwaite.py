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

__all__ = ["Satterthwaite", "richardson_gradient", "richardson_hessian"]


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

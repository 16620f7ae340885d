"""Linear mixed models for pain trajectories: a fast profiled-(RE)ML engine and :func:`fit_trajectories`.

The engine follows lme4 (Bates et al. 2015): with relative covariance factor ``Lambda(theta)`` the fixed effects
and the residual variance are profiled out and the (RE)ML deviance is optimised over ``theta`` alone. The primary
grouping factor (subject) contributes independent ``q x q`` blocks (``q`` = 1 or 2), handled in batches over all
subjects at once from per-subject cross-products; further levels (therapist, clinic) enter as random intercepts
that are carried with the fixed effects through the block elimination and solved densely (their number of levels
is small).

References
----------
Bates D, Maechler M, Bolker B, Walker S (2015). Fitting Linear Mixed-Effects Models Using lme4. Journal of
Statistical Software 67(1). https://doi.org/10.18637/jss.v067.i01
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats
from scipy.linalg.lapack import dtrtrs as _dtrtrs

from massage_outcomes.errors import ArgumentError, ConvergenceWarning, DataValidationError, ModelFitError
from massage_outcomes.frames import analysis_frame
from massage_outcomes.multiplicity import t_p_two_sided
from massage_outcomes.trajectories.design import (
    GroupReference,
    TimeBasis,
    choose_reference,
    make_time_basis,
)
from massage_outcomes.trajectories.fit import ModelFit
from massage_outcomes.trajectories.satterthwaite import (
    KenwardRoger,
    Satterthwaite,
    richardson_gradient,
    richardson_hessian,
)

__all__ = ["LMMCore", "TrajectoryFit", "fit_trajectories"]

_LOG2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------------------------------------------
def _bincount_cols(codes: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """Sum the columns of ``vals`` (rows, k) within ``codes``; returns (n, k)."""
    out = np.empty((n, vals.shape[1]))
    for j in range(vals.shape[1]):
        out[:, j] = np.bincount(codes, weights=vals[:, j], minlength=n)
    return out


@dataclass
class _State:
    theta: np.ndarray
    L: Any  # lower Cholesky factors of T'Z'ZT + I per group: (l11,) / (l11, l21, l22) / (g, q, q) array
    RZW: list[np.ndarray]  # q arrays (g, m): rows of L_i^-1 T' Z_i'W_i
    cu: list[np.ndarray]  # q arrays (g,): L_i^-1 T' Z_i'y_i
    Rl: np.ndarray  # (m, m) lower Cholesky factor of the Schur complement
    c: np.ndarray  # (m,)
    pwrss: float
    logdetL: float
    logdetRX: float
    T: np.ndarray
    lam: np.ndarray


class LMMCore:
    """Profiled (RE)ML deviance of a linear mixed model with one blocked grouping factor plus random intercepts.

    Parameters
    ----------
    y : ndarray (n,)
    X : ndarray (n, p)
        Fixed-effects design (full column rank).
    Z : ndarray (n, q)
        Random-effects design of the primary grouping factor (e.g. ``[1, time]``).
    codes : ndarray (n,) of int
        Primary group (subject) index per row, ``0..n_groups-1``.
    n_groups : int
    correlated : bool
        Full lower-triangular relative factor (correlated effects) or diagonal (uncorrelated).
    extra_codes : list of ndarray
        Level index per row for each further random-intercept factor (therapist, clinic, ...).
    extra_nlev : list of int
        Number of levels of each further factor.
    reml : bool
    """

    def __init__(
        self,
        y: np.ndarray,
        X: np.ndarray,
        Z: np.ndarray,
        codes: np.ndarray,
        n_groups: int,
        *,
        correlated: bool = True,
        extra_codes: Sequence[np.ndarray] = (),
        extra_nlev: Sequence[int] = (),
        reml: bool = True,
    ) -> None:
        y = np.ascontiguousarray(y, dtype=float)
        X = np.ascontiguousarray(X, dtype=float)
        Z = np.ascontiguousarray(Z, dtype=float)
        codes = np.asarray(codes, dtype=np.intp)
        n, p = X.shape
        q = Z.shape[1]
        g = int(n_groups)
        self.n, self.p, self.q, self.g = n, p, q, g
        self.reml = reml
        self.correlated = correlated and q > 1
        self.extra_nlev = [int(k) for k in extra_nlev]
        self.q2 = int(sum(self.extra_nlev))
        q2 = self.q2
        m = q2 + p
        self.m = m
        self.n_theta1 = q * (q + 1) // 2 if self.correlated else q
        self.n_theta = self.n_theta1 + len(self.extra_nlev)
        # column index of each row in the stacked extra-intercept block
        offs = np.cumsum([0, *self.extra_nlev])[:-1]
        ecols = [np.asarray(c, dtype=np.intp) + o for c, o in zip(extra_codes, offs, strict=True)]
        self.extra_cols = ecols
        # per-group cross-products
        self.ZtZ = np.empty((g, q, q))
        for a in range(q):
            for b in range(a, q):
                v = np.bincount(codes, weights=Z[:, a] * Z[:, b], minlength=g)
                self.ZtZ[:, a, b] = v
                self.ZtZ[:, b, a] = v
        ZtW = np.zeros((g, q, m))
        for a in range(q):
            ZtW[:, a, q2:] = _bincount_cols(codes, X * Z[:, a : a + 1], g)
            for col in ecols:
                ZtW[:, a, :q2] += np.bincount(codes * q2 + col, weights=Z[:, a], minlength=g * q2).reshape(g, q2)
        self.ZtW = ZtW
        self._zz: tuple[np.ndarray, ...] = ()
        if q == 1:
            self._zz = (self.ZtZ[:, 0, 0].copy(),)
        elif q == 2:
            self._zz = (self.ZtZ[:, 0, 0].copy(), self.ZtZ[:, 0, 1].copy(), self.ZtZ[:, 1, 1].copy())
        self._wz = tuple(np.ascontiguousarray(ZtW[:, a, :]) for a in range(q))
        self.Zty = _bincount_cols(codes, Z * y[:, None], g)
        WtW = np.zeros((m, m))
        WtW[q2:, q2:] = X.T @ X
        for i, ci in enumerate(ecols):
            for j, cj in enumerate(ecols):
                if j < i:
                    continue
                blk = np.bincount(ci * q2 + cj, minlength=q2 * q2).reshape(q2, q2).astype(float)
                WtW[:q2, :q2] += blk if i == j else blk + blk.T
            WtW[:q2, q2:] += _bincount_cols(ci, X, q2)
        WtW[q2:, :q2] = WtW[:q2, q2:].T
        self.WtW = WtW
        Wty = np.zeros(m)
        Wty[q2:] = X.T @ y
        for ci in ecols:
            Wty[:q2] += np.bincount(ci, weights=y, minlength=q2)
        self.Wty = Wty
        self.yty = float(y @ y)
        zsd = Z.std(axis=0)
        self._zscale = np.where(zsd > 1e-12 * (np.abs(Z).max(axis=0) + 1.0), zsd, 0.0)
        self._pen = np.concatenate([np.ones(q2), np.zeros(p)])
        self.n_evals = 0

    # -- parameters ---------------------------------------------------------------------------------------------
    def theta_lower(self) -> np.ndarray:
        """Lower bounds: 0 for standard deviations (diagonal), -inf for off-diagonal elements."""
        lo = []
        q = self.q
        if self.correlated:
            for j in range(q):
                for i in range(j, q):
                    lo.append(0.0 if i == j else -np.inf)
        else:
            lo.extend([0.0] * q)
        lo.extend([0.0] * len(self.extra_nlev))
        return np.asarray(lo)

    def theta_start(self) -> np.ndarray:
        """Start: 1 for intercepts, 1/SD of the column for slopes (so each term starts on the same scale), 0 off."""
        lo = self.theta_lower()
        start = np.where(lo == 0.0, 1.0, 0.0)
        for k, (r, c) in enumerate(self._theta_pos()):
            if r == c and self._zscale[r] > 0:
                start[k] = 1.0 / self._zscale[r]
        return start

    def T_of(self, theta: np.ndarray) -> np.ndarray:
        q = self.q
        T = np.zeros((q, q))
        if self.correlated:
            k = 0
            for j in range(q):
                for i in range(j, q):
                    T[i, j] = theta[k]
                    k += 1
        else:
            T[np.diag_indices(q)] = theta[:q]
        return T

    # -- the deviance ---------------------------------------------------------------------------------------------
    def state(self, theta: np.ndarray) -> _State:
        theta = np.asarray(theta, dtype=float)
        T = self.T_of(theta)
        lam = theta[self.n_theta1 :]
        q, q2, m = self.q, self.q2, self.m
        s = np.concatenate([np.repeat(lam, self.extra_nlev), np.ones(self.p)])
        L: Any
        if q == 1:
            t11 = T[0, 0]
            l11 = np.sqrt(t11 * t11 * self._zz[0] + 1.0)
            X1 = (self._wz[0] * (t11 / l11)[:, None]) * s
            c1 = self.Zty[:, 0] * t11 / l11
            M = -(X1.T @ X1)
            r = -(X1.T @ c1)
            logdetL = 2.0 * np.log(l11).sum()
            L = (l11,)
            RZW = [X1]
            cu = [c1]
            cucu = float(c1 @ c1)
        elif q == 2:
            # T = [[a, 0], [b, c]]; A = T'(Z'Z)T + I written out elementwise over groups
            a, b, cc = T[0, 0], T[1, 0], T[1, 1]
            m11, m12, m22 = self._zz
            A11 = a * a * m11 + 2 * a * b * m12 + b * b * m22 + 1.0
            A21 = cc * (a * m12 + b * m22)
            A22 = cc * cc * m22 + 1.0
            l11 = np.sqrt(A11)
            l21 = A21 / l11
            l22 = np.sqrt(A22 - l21 * l21)
            w0, w1 = self._wz  # (g, m): W_s'z_0 and W_s'z_1
            B0 = a * w0 + b * w1
            B1 = cc * w1
            if q2:
                B0 *= s
                B1 *= s
            X1 = B0 / l11[:, None]
            X2 = (B1 - l21[:, None] * X1) / l22[:, None]
            z0, z1 = self.Zty[:, 0], self.Zty[:, 1]
            v0 = a * z0 + b * z1
            v1 = cc * z1
            c1 = v0 / l11
            c2 = (v1 - l21 * c1) / l22
            M = -(X1.T @ X1) - X2.T @ X2
            r = -(X1.T @ c1) - X2.T @ c2
            logdetL = 2.0 * (np.log(l11).sum() + np.log(l22).sum())
            L = (l11, l21, l22)
            RZW = [X1, X2]
            cu = [c1, c2]
            cucu = float(c1 @ c1 + c2 @ c2)
        else:
            A = np.matmul(np.matmul(T.T, self.ZtZ), T)
            A[:, np.arange(q), np.arange(q)] += 1.0
            WtZT = np.matmul(np.swapaxes(self.ZtW, 1, 2), T) * s[None, :, None]
            v = self.Zty @ T
            Lf = np.linalg.cholesky(A)
            RZ3 = np.linalg.solve(Lf, np.swapaxes(WtZT, 1, 2))
            cu3 = np.linalg.solve(Lf, v[:, :, None])[:, :, 0]
            R2 = RZ3.reshape(-1, m)
            M = -(R2.T @ R2)
            r = -(R2.T @ cu3.ravel())
            logdetL = 2.0 * np.log(np.diagonal(Lf, axis1=1, axis2=2)).sum()
            cucu = float(cu3.ravel() @ cu3.ravel())
            L = Lf
            RZW = [np.ascontiguousarray(RZ3[:, a, :]) for a in range(q)]
            cu = [cu3[:, a] for a in range(q)]
        M += self.WtW * np.outer(s, s)
        M[np.diag_indices(m)] += self._pen
        r += self.Wty * s
        Rl = np.linalg.cholesky(M)
        c = _trsv(Rl, r, lower=True)
        dRl = np.log(np.diagonal(Rl))
        pwrss = self.yty - cucu - float(c @ c)
        self.n_evals += 1
        return _State(
            theta=theta,
            L=L,
            RZW=RZW,
            cu=cu,
            Rl=Rl,
            c=c,
            pwrss=max(pwrss, 1e-300),
            logdetL=logdetL + 2.0 * dRl[:q2].sum(),
            logdetRX=2.0 * dRl[q2:].sum(),
            T=T,
            lam=lam,
        )

    def deviance(self, theta: np.ndarray) -> float:
        """Profiled deviance (-2 log-likelihood, REML criterion when ``reml``) at ``theta``."""
        try:
            st = self.state(theta)
        except np.linalg.LinAlgError:
            return np.inf
        return self._dev_from_state(st)

    def _dev_from_state(self, st: _State) -> float:
        n, p = self.n, self.p
        if self.reml:
            nmp = n - p
            return st.logdetL + st.logdetRX + nmp * (1.0 + _LOG2PI + math.log(st.pwrss / nmp))
        return st.logdetL + n * (1.0 + _LOG2PI + math.log(st.pwrss / n))

    def deviance_vp(self, varpar: np.ndarray) -> float:
        """Deviance as a function of ``(theta, sigma)`` (not profiled over sigma), as lmerTest's ``devfun_vp``."""
        theta = varpar[:-1]
        sigma2 = varpar[-1] ** 2
        st = self.state(theta)
        dev = st.logdetL + st.pwrss / sigma2 + self.n * math.log(2 * math.pi * sigma2)
        if self.reml:
            dev += st.logdetRX - self.p * math.log(2 * math.pi * sigma2)
        return dev

    def sigma2(self, st: _State) -> float:
        return st.pwrss / (self.n - self.p if self.reml else self.n)

    def vcov_vp(self, varpar: np.ndarray) -> np.ndarray:
        """``sigma^2 (R_X'R_X)^{-1}`` at ``(theta, sigma)``."""
        st = self.state(varpar[:-1])
        return varpar[-1] ** 2 * self._rx_inv(st)

    def _rx_inv(self, st: _State) -> np.ndarray:
        RX = st.Rl[self.q2 :, self.q2 :]
        Ri = linalg.solve_triangular(RX, np.eye(self.p), lower=True)
        return Ri.T @ Ri

    def solve(self, st: _State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fixed effects, primary random effects ``b`` (g, q) and extra random intercepts at a state."""
        ub = _trsv(st.Rl, st.c, lower=True, trans=True)
        beta = ub[self.q2 :]
        resid = np.column_stack([c - R @ ub for c, R in zip(st.cu, st.RZW, strict=True)])  # (g, q)
        u = self._lt_solve(st.L, resid)
        b = u @ st.T.T
        b2 = ub[: self.q2] * np.repeat(st.lam, self.extra_nlev)
        return beta, b, b2

    def grad_vp(self, varpar: np.ndarray) -> np.ndarray:
        """Analytic gradient of :meth:`deviance_vp` in ``(theta, sigma)`` (subject level only).

        The theta part is the profiled gradient with ``sigma^2`` given instead of estimated; the sigma part is
        ``-2 pwrss / sigma^3 + 2 (n - p [REML]) / sigma``.
        """
        theta = np.asarray(varpar[:-1], dtype=float)
        sigma = float(varpar[-1])
        _, g, st = self._dev_grad_impl(theta, sigma * sigma)
        nu = self.n - (self.p if self.reml else 0)
        gs = -2.0 * st.pwrss / sigma**3 + 2.0 * nu / sigma
        return np.concatenate([g, [gs]])

    def dev_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Profiled deviance and its gradient in ``theta`` (see :meth:`_dev_grad_impl`)."""
        if self.q2 > 0:
            return self.deviance(theta), self._grad(theta)
        try:
            f, g, _ = self._dev_grad_impl(theta, None)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(theta)
        return f, g

    def _dev_grad_impl(self, theta: np.ndarray, sigma2: float | None) -> tuple[float, np.ndarray, _State]:
        """Deviance and its gradient in ``theta``.

        Analytic when there is only the blocked (subject) factor: by the envelope theorem the gradient of the
        profiled criterion equals that of the full criterion at (beta-hat, sigma-hat), and with
        ``V = I + Z T T' Z'`` (relative scale) every term reduces to a ``q x q`` sum over groups,
        ``d/d theta_j = 2 [(P - S_C - Q / sigma^2) T]_{r_j c_j}`` where ``P = sum Z_i'V_i^-1 Z_i``,
        ``Q = sum w_i w_i'`` with ``w_i = Z_i'V_i^-1 r_i`` and (REML only)
        ``S_C = sum K_i (X'V^-1X)^-1 K_i'`` with ``K_i = Z_i'V_i^-1 X_i``. Numerical otherwise.
        """
        st = self.state(theta)
        dev = self._dev_from_state(st)
        if not np.isfinite(dev):
            return np.inf, np.zeros_like(theta), st
        T = st.T
        q, p = self.q, self.p
        # H_i = L_i^-1 T' Z_i'Z_i, kept as H[a][c] = (g,) arrays; likewise everything below is per row a
        zz = self.ZtZ
        TtZZ = [[sum(T[b_, a_] * zz[:, b_, c_] for b_ in range(q)) for c_ in range(q)] for a_ in range(q)]
        H = self._l_solve_rows(st.L, TtZZ)
        beta = _trsv(st.Rl, st.c, lower=True, trans=True)
        RZX = st.RZW  # q arrays (g, p)
        v = [c - R @ beta for c, R in zip(st.cu, RZX, strict=True)]
        Ztr = self.Zty - np.stack([self._wz[a_] @ beta for a_ in range(q)], axis=1)
        P = self.ZtZ.sum(axis=0)
        for b_ in range(q):
            for c_ in range(q):
                P[b_, c_] -= sum(float(H[a_][b_] @ H[a_][c_]) for a_ in range(q))
        w = [Ztr[:, b_] - sum(H[a_][b_] * v[a_] for a_ in range(q)) for b_ in range(q)]
        Q = np.array([[float(w[i] @ w[j]) for j in range(q)] for i in range(q)])
        sig2 = self.sigma2(st) if sigma2 is None else sigma2
        S = P - Q / sig2
        if self.reml:
            Ri = _trsv(st.Rl, np.eye(p), lower=True)
            C = Ri.T @ Ri
            K = [self._wz[b_] - sum(H[a_][b_][:, None] * RZX[a_] for a_ in range(q)) for b_ in range(q)]
            KC = [k @ C for k in K]
            S = S - np.array([[float(np.vdot(KC[i], K[j])) for j in range(q)] for i in range(q)])
        ST = 2.0 * (S @ T)
        grad = np.array([ST[r, c] for r, c in self._theta_pos()])
        return dev, grad, st

    def _l_solve_rows(self, L: Any, B: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """Solve L_i X_i = B_i for all groups; B given as rows of columns of (g,) arrays."""
        q = self.q
        if q == 1:
            return [[B[0][c] / L[0] for c in range(len(B[0]))]]
        if q == 2:
            l11, l21, l22 = L
            x0 = [b / l11 for b in B[0]]
            x1 = [(b1 - l21 * b0) / l22 for b0, b1 in zip(x0, B[1], strict=True)]
            return [x0, x1]
        Bm = np.stack([np.stack(row, axis=1) for row in B], axis=1)  # (g, q, k)
        Xm = np.linalg.solve(L, Bm)
        return [[Xm[:, a, c] for c in range(Xm.shape[2])] for a in range(q)]

    def _lt_solve(self, L: Any, R: np.ndarray) -> np.ndarray:
        """Solve L_i' u_i = r_i for all groups; R is (g, q)."""
        q = self.q
        if q == 1:
            return R / L[0][:, None]
        if q == 2:
            l11, l21, l22 = L
            u1 = R[:, 1] / l22
            u0 = (R[:, 0] - l21 * u1) / l11
            return np.column_stack([u0, u1])
        return np.linalg.solve(np.swapaxes(L, 1, 2), R[:, :, None])[:, :, 0]

    def _theta_scale(self) -> np.ndarray:
        """Scale of each theta element: SD of its row's Z column for slope rows, 1 otherwise."""
        sc = np.ones(self.n_theta)
        for k, (r, _c) in enumerate(self._theta_pos()):
            if self._zscale[r] > 0 and r > 0:
                sc[k] = self._zscale[r]
        return sc

    def _theta_pos(self) -> list[tuple[int, int]]:
        q = self.q
        if self.correlated:
            return [(i, j) for j in range(q) for i in range(j, q)]
        return [(i, i) for i in range(q)]

    # -- optimisation ---------------------------------------------------------------------------------------------
    def _grad(self, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        lo = self.theta_lower()
        gr = np.empty_like(theta)
        for i in range(len(theta)):
            e = np.zeros_like(theta)
            step = h * max(1.0, abs(theta[i]))
            e[i] = step
            if theta[i] - step < lo[i]:  # one-sided at the bound
                gr[i] = (self.deviance(theta + e) - self.deviance(theta)) / step
            else:
                gr[i] = (self.deviance(theta + e) - self.deviance(theta - e)) / (2 * step)
        return gr

    def optimize(self, theta0: np.ndarray | None = None) -> dict[str, Any]:
        """Minimise the deviance over theta with L-BFGS-B, falling back to more starts and Nelder-Mead in doubt.

        Returns a dict with ``theta``, ``deviance``, ``converged``, ``singular``, ``messages``.
        """
        lo = self.theta_lower()
        bounds = [(0.0 if b == 0.0 else None, None) for b in lo]
        messages: list[str] = []
        starts = [self.theta_start() if theta0 is None else np.asarray(theta0, float)]
        results = []

        # optimise in scaled coordinates x = theta * sc so that every element is O(1) (a slope's relative SD
        # scales with 1 / SD(time)); this conditions L-BFGS-B far better than raw theta
        sc = self._theta_scale()

        def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = self.dev_grad(x / sc)
            return f, g / sc

        def run_lbfgs(x0: np.ndarray) -> optimize.OptimizeResult:
            r = optimize.minimize(
                fg,
                np.asarray(x0, float) * sc,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"ftol": 1e-14, "gtol": 1e-8, "maxiter": 2000, "maxls": 50},
            )
            r.x = r.x / sc
            return r

        res = run_lbfgs(starts[0])
        results.append(("L-BFGS-B", res))
        ok, why, singular = self._check(res.x)
        if not ok:
            messages.append(f"L-BFGS-B from the default start: {why}; trying more starts")
            bound = (lo == 0.0) & (res.x < 1e-4)
            restarts = [
                np.where(bound, 0.1, res.x),
                np.where(bound, 0.5, res.x),
                self.theta_start() * 0.3,
                self.theta_start() * 3.0,
            ]
            for x0 in restarts:
                r2 = run_lbfgs(x0)
                results.append(("L-BFGS-B (restart)", r2))
                if self.deviance(r2.x) < self.deviance(res.x) - 1e-6 and self._check(r2.x)[0]:
                    break
            best = min(results, key=lambda t: self.deviance(t[1].x))
            if not self._check(best[1].x)[0]:
                nm = optimize.minimize(
                    lambda t: self.deviance(np.maximum(t, np.where(lo == 0.0, 0.0, -np.inf))),
                    best[1].x,
                    method="Nelder-Mead",
                    options={"xatol": 1e-9, "fatol": 1e-11, "maxfev": 4000},
                )
                nm.x = np.maximum(nm.x, np.where(lo == 0.0, 0.0, -np.inf))
                results.append(("Nelder-Mead", nm))
                best = min(results, key=lambda t: self.deviance(t[1].x))
                results.append(("L-BFGS-B (polish)", run_lbfgs(best[1].x)))
        name, best = min(results, key=lambda t: self.deviance(t[1].x))
        theta = np.asarray(best.x, dtype=float)
        theta = np.where((lo == 0.0) & (theta < 1e-8), 0.0, theta)
        ok, why, singular = self._check(theta)
        messages.append(f"{name}: {getattr(best, 'message', '')}".strip())
        if not ok:
            messages.append(why)
        return {
            "theta": theta,
            "deviance": self.deviance(theta),
            "converged": ok,
            "singular": singular,
            "messages": messages,
            "n_evals": self.n_evals,
        }

    def _check(self, theta: np.ndarray) -> tuple[bool, str, bool]:
        """Convergence checks: scaled gradient on free parameters and a positive-definite Hessian (cached)."""
        key = np.asarray(theta, dtype=float).tobytes()
        cache = self.__dict__.setdefault("_check_cache", {})
        if key not in cache:
            cache[key] = self._check_uncached(np.asarray(theta, dtype=float))
        return cache[key]

    def _check_uncached(self, theta: np.ndarray) -> tuple[bool, str, bool]:
        lo = self.theta_lower()
        boundary = (lo == 0.0) & (theta < 1e-4)
        singular = bool(boundary.any())
        free = ~boundary
        if not np.isfinite(self.deviance(theta)):
            return False, "deviance is not finite at the optimum", singular
        g = self.dev_grad(theta)[1]
        # at the boundary the gradient must point outwards (into the bound)
        if np.any(g[boundary] < -1e-3):
            return False, "gradient points away from a boundary parameter (not a minimum)", singular
        # a zero gradient at a variance bound can be a saddle (the criterion is even in a diagonal element):
        # probe a few steps into the interior
        f0 = self.deviance(theta)
        for i in np.flatnonzero(boundary):
            for delta in (1e-3, 1e-2, 0.05, 0.2):
                e = np.zeros_like(theta)
                e[i] = delta
                if self.deviance(theta + e) < f0 - 1e-7:
                    return False, f"the deviance decreases away from the bound of theta[{i}] (saddle)", singular
        if not free.any():
            return True, "", singular
        idx = np.flatnonzero(free)
        try:
            if self.q2 == 0:  # Hessian as the central-difference Jacobian of the analytic gradient
                H = np.empty((len(idx), len(idx)))
                for k, i in enumerate(idx):
                    h = 1e-5 * max(1.0, abs(theta[i]))
                    e = np.zeros_like(theta)
                    e[i] = h
                    H[k] = (self.dev_grad(theta + e)[1][idx] - self.dev_grad(theta - e)[1][idx]) / (2 * h)
                H = 0.5 * (H + H.T)
            else:
                H = richardson_hessian(lambda t: self.deviance(_put(theta, idx, t)), theta[idx], d=1e-3, r=2)
        except (np.linalg.LinAlgError, ValueError):
            return False, "Hessian could not be computed", singular
        ev = np.linalg.eigvalsh(H)
        if not np.all(np.isfinite(ev)) or ev.min() <= 0:
            return False, f"Hessian is not positive definite (min eigenvalue {ev.min():.3g})", singular
        step = np.linalg.solve(H, g[idx])
        if np.max(np.abs(step)) > 1e-4:
            return False, f"scaled gradient {np.max(np.abs(step)):.2g} exceeds 1e-4", singular
        return True, "", singular


def _trsv(L: np.ndarray, b: np.ndarray, *, lower: bool, trans: bool = False) -> np.ndarray:
    """Triangular solve straight through LAPACK (scipy's wrapper validates inputs: too slow inside the loop)."""
    x, info = _dtrtrs(L, b, lower=int(lower), trans=int(trans))
    if info != 0:
        raise np.linalg.LinAlgError(f"singular triangular factor (info={info})")
    return x


def _single_threaded_blas() -> Any:
    """Limit BLAS to one thread: the engine's matrix products are tiny and threads only add overhead (often
    several-fold on a busy machine). Uses threadpoolctl when it is installed; otherwise does nothing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _put(x: np.ndarray, idx: np.ndarray, v: np.ndarray) -> np.ndarray:
    y = x.copy()
    y[idx] = v
    return y


# ----------------------------------------------------------------------------------------------------------------
# the user-facing fit
# ----------------------------------------------------------------------------------------------------------------
RandomSpec = Literal["slope", "intercept", "uncorrelated"]


def fit_trajectories(
    data: Any,
    *,
    instrument: str | None = None,
    time: str = "week",
    group: str = "arm",
    covariates: Sequence[str] = (),
    random: RandomSpec = "slope",
    levels: Sequence[str] = ("subject",),
    method: Literal["REML", "ML"] = "REML",
    time_basis: Any = None,
    visit_as_factor: bool = False,
    timing: Sequence[str] | None = ("baseline", "followup"),
    ddf: Literal["satterthwaite", "kenward-roger"] = "satterthwaite",
    response: str = "value",
    reference: str | None = None,
) -> TrajectoryFit:
    """Fit a linear mixed model of an outcome's trajectory over time by group.

    The fixed effects are ``response ~ group * time_basis + covariates`` (treatment contrasts against the
    ``reference`` level of ``group``: by default the control arm); the random effects are a per-subject intercept (``random="intercept"``), intercept
    and time slope, correlated (``"slope"``) or uncorrelated (``"uncorrelated"``), plus a random intercept for
    each further entry of ``levels`` (e.g. ``"therapist"``, ``"clinic"``; crossed or nested, with level labels
    unique within the factor, as in lme4).

    Parameters
    ----------
    data : Dataset or pandas.DataFrame
        A :class:`~massage_outcomes.Dataset` or its long analysis frame (one row per measurement).
    instrument : str, optional
        Instrument key (e.g. ``"rmdq"``); required for a Dataset, used to filter a frame with an
        ``instrument`` column.
    time : str, default "week"
        Time column. Numeric for a continuous time (weeks or days); with ``visit_as_factor=True`` any column
        (e.g. ``"visit"``) whose distinct values become the levels of a categorical time.
    group : str, default "arm"
        The grouping whose trajectories are compared (arm, intent, technique).
    covariates : sequence of str
        Extra fixed-effect columns (numeric as-is; strings/categoricals as factors).
    random : {"slope", "intercept", "uncorrelated"}, default "slope"
        Per-subject random effects.
    levels : sequence of str, default ("subject",)
        Grouping columns. The first is the subject level (carries ``random``); the others get random intercepts.
    method : {"REML", "ML"}, default "REML"
    time_basis : None, "spline", ("spline", knots) or ("piecewise", knot)
        Nonlinear time: a natural (restricted) cubic spline, or a broken line with a change of slope at
        ``knot`` (e.g. the end of treatment). The random slope stays on the linear time.
    visit_as_factor : bool, default False
        Treat time as categorical (one mean per group and visit).
    timing : sequence of str or None, default ("baseline", "followup")
        Keep rows whose ``timing`` is in this list (drops within-session pre/post ratings); None keeps all.
    ddf : {"satterthwaite", "kenward-roger"}
        Denominator df for the t tests, lmerTest's Satterthwaite (default) or Kenward-Roger as pbkrtest computes
        it (REML and the subject level only). Under Kenward-Roger ``vcov_beta_`` and the SEs are the adjusted
        covariance ``Phi_A`` (the unadjusted one is ``vcov_unadjusted_``).
    response : str, default "value"
        Response column.
    reference : str, optional
        The level of ``group`` the coefficients are measured against. Default: the control arm (the one level
        whose subjects all have ``intent == "control"``) when there is one, else the first level (a
        categorical's order, else sorted). The summary says which was used; marginal means, contrasts and their
        order do not depend on it.

    Returns
    -------
    TrajectoryFit
        With ``fixed_effects`` (term, estimate, se, df, t, p_value, ci_low, ci_high), ``variance_components``
        (group, term, variance, sd, corr), ``loglik``, ``aic``, ``bic``, ``n_obs``, ``n_subjects``,
        ``converged``, ``singular``, ``messages``, ``random_effects``, and the marginal-means methods
        (``emmeans``, ``contrasts``, ``slopes``, ``eff_size``) and ``predict``.

    Notes
    -----
    The deviance is profiled over the fixed effects and the residual variance and minimised over the
    relative covariance factor ``theta`` (lme4's parameterisation) with L-BFGS-B; when the gradient or Hessian
    checks fail, further starts and Nelder-Mead are tried, the best optimum is kept, and if the checks still fail a
    :class:`~massage_outcomes.ConvergenceWarning` is issued and ``converged`` is False. Standard errors are
    from ``sigma^2 (R_X'R_X)^{-1} = (X'V^{-1}X)^{-1}``; df are Satterthwaite's as in lmerTest. AIC and BIC use
    the REML criterion under REML, as lme4 does.

    References
    ----------
    Bates D, et al. (2015) https://doi.org/10.18637/jss.v067.i01 ;
    Kuznetsova A, et al. (2017) https://doi.org/10.18637/jss.v082.i13

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import massage_outcomes as mo
    >>> rng = np.random.default_rng(1)
    >>> n = 60
    >>> subj = np.repeat(np.arange(n), 4)
    >>> week = np.tile([0.0, 4, 10, 26], n)
    >>> arm = np.where(subj % 2 == 0, "therapeutic", "usual_care")
    >>> b0 = rng.normal(0, 2, n)[subj]
    >>> value = 12 + b0 - 0.2 * week - 0.1 * week * (arm == "therapeutic") + rng.normal(0, 1, 4 * n)
    >>> frame = pd.DataFrame({"subject": subj.astype(str), "arm": arm, "week": week, "value": value})
    >>> fit = mo.fit_trajectories(frame, random="intercept", timing=None)
    >>> fit.converged
    True
    >>> list(fit.fixed_effects["term"])
    ['Intercept', 'arm[T.usual_care]', 'week', 'arm[T.usual_care]:week']
    """
    _check_lmm_options(method, random, ddf, levels)
    levels = list(levels)
    covariates = list(covariates)
    frame, slope_col, n_dropped = _model_frame(
        data, instrument=instrument, timing=timing, time=time, group=group, covariates=covariates, levels=levels,
        response=response, random=random, visit_as_factor=visit_as_factor,
    )
    glevels, gref, basis = _group_and_time(frame, group=group, time=time, reference=reference,
                                           time_basis=time_basis, visit_as_factor=visit_as_factor)
    frame = basis.add_columns(frame).reset_index(drop=True)
    mm, X = _lmm_fixed_design(frame, group if len(glevels) > 1 else None, basis, covariates)
    y = frame[response].to_numpy(dtype=float)
    Z, re_terms, subj_codes, subj_labels, extra_codes, extra_labels = _random_design(frame, random, slope_col, levels)
    core = LMMCore(
        y,
        X,
        Z,
        subj_codes,
        len(subj_labels),
        correlated=(random == "slope"),
        extra_codes=extra_codes,
        extra_nlev=[len(lab) for lab in extra_labels],
        reml=(method == "REML"),
    )
    with _single_threaded_blas():
        opt = core.optimize()
    call = {"instrument": instrument, "time": time, "group": group, "covariates": tuple(covariates),
            "random": random, "levels": tuple(levels), "time_basis": time_basis, "visit_as_factor": visit_as_factor,
            "timing": timing, "response": response, "reference": reference}
    fit = TrajectoryFit._from_core(
        core, opt, frame=frame, model_spec=mm.model_spec, fe_names=[str(c) for c in mm.columns],
        response=response, time=time, group=group, glevels=glevels, gref=gref, covariates=covariates,
        random=random, levels=levels, re_terms=re_terms, subject_labels=np.asarray(subj_labels),
        extra_labels=[np.asarray(lab) for lab in extra_labels], basis=basis, slope_col=slope_col, method=method,
        n_dropped=n_dropped, call=call, data=data,
    )
    fit.ddf = ddf
    if ddf == "kenward-roger":
        fit._kr = KenwardRoger(X, Z, subj_codes, fit._re_cov(), fit.sigma_**2, correlated=(random == "slope"))
        fit.vcov_beta_ = fit._kr.Phi_A
    if not opt["converged"]:
        warnings.warn(
            "fit_trajectories: the optimizer did not pass its convergence checks ("
            + "; ".join(opt["messages"])
            + "); results may not be at the optimum (fit.converged is False).",
            ConvergenceWarning,
            stacklevel=2,
        )
    return fit


# ----------------------------------------------------------------------------------------------------------------
# the steps of fit_trajectories
# ----------------------------------------------------------------------------------------------------------------
def _check_lmm_options(method: str, random: str, ddf: str, levels: Sequence[str]) -> None:
    if method not in ("REML", "ML"):
        raise ArgumentError(f"`method` must be 'REML' or 'ML'; got {method!r}.")
    if random not in ("slope", "intercept", "uncorrelated"):
        raise ArgumentError(f"`random` must be 'slope', 'intercept' or 'uncorrelated'; got {random!r}.")
    if ddf not in ("satterthwaite", "kenward-roger"):
        raise ArgumentError(f"`ddf` must be 'satterthwaite' or 'kenward-roger'; got {ddf!r}.")
    if ddf == "kenward-roger" and (method != "REML" or len(levels) > 1):
        raise ArgumentError(
            "`ddf='kenward-roger'` is available for REML fits with the subject level only; use method='REML', "
            "levels=(subject,) or ddf='satterthwaite'."
        )
    if not levels:
        raise ArgumentError("`levels` must name at least the subject column, e.g. levels=('subject',).")


def _model_frame(
    data: Any, *, instrument: str | None, timing: Sequence[str] | None, time: str, group: str,
    covariates: list[str], levels: list[str], response: str, random: str, visit_as_factor: bool,
) -> tuple[pd.DataFrame, str, int]:
    """The complete rows the model uses (plus ``intent``, to find the control arm), the column of the random
    slope, and how many rows were dropped for missing values."""
    frame = analysis_frame(data, instrument, needed=())
    if timing is not None and "timing" in frame.columns:
        frame = frame.loc[frame["timing"].astype("str").isin(list(timing))]
    slope_col = time
    if visit_as_factor and random != "intercept" and not pd.api.types.is_numeric_dtype(frame[time]):
        if "week" in frame.columns:
            slope_col = "week"
        else:
            raise ArgumentError(
                f"`random={random!r}` needs a numeric time for the random slope but `time={time!r}` is "
                "categorical and there is no 'week' column; use random='intercept'."
            )
    needed = list(dict.fromkeys([response, time, group, *covariates, *levels, slope_col]))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ArgumentError(
            f"columns {missing} are not in the data (columns found: {list(frame.columns)}); check `time`, "
            "`group`, `covariates`, `levels` and `response`."
        )
    subj_key: pd.Series | None = None
    if "study" in frame.columns and levels[0] == "subject" and frame["study"].nunique(dropna=True) > 1:
        subj_key = frame["study"].astype("str") + "/" + frame["subject"].astype("str")
    extra = [c for c in ("study", "intent") if c in frame.columns and c not in needed
             and (c == "intent" or subj_key is not None)]  # intent: to find the control arm
    frame = frame[needed + extra].copy()
    if subj_key is not None:
        frame[levels[0]] = subj_key.loc[frame.index]
    n_before = len(frame)
    frame = frame.dropna(subset=needed)
    if frame.empty:
        raise DataValidationError("no complete rows remain after dropping missing values; check the columns.")
    frame[response] = pd.to_numeric(frame[response]).astype(float)
    if pd.api.types.is_numeric_dtype(frame[time]) and not visit_as_factor:
        frame[time] = frame[time].astype(float)
    return frame, slope_col, n_before - len(frame)


def _group_and_time(
    frame: pd.DataFrame, *, group: str, time: str, reference: str | None, time_basis: Any, visit_as_factor: bool
) -> tuple[list[str], GroupReference, TimeBasis]:
    """Group levels (display order: a categorical's, else sorted as R does), the reference (first in the
    design's categorical, set in place) and the time basis (a categorical time's present levels, in place)."""
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        glevels = [str(lv) for lv in frame[group].cat.categories if (frame[group] == lv).any()]
    else:
        glevels = [str(g) for g in sorted(pd.unique(frame[group].astype("str")))]
    if len(glevels) < 1:
        raise DataValidationError(f"`group={group!r}` has no levels.")
    gref = choose_reference(frame, group, glevels, reference)
    frame[group] = pd.Categorical(frame[group].astype("str"), categories=gref.design_levels)
    basis = make_time_basis(frame, time, time_basis, visit_as_factor)
    if basis.kind == "factor":
        tvals = frame[time]
        if isinstance(tvals.dtype, pd.CategoricalDtype):
            tlev = [lv for lv in tvals.cat.categories if (tvals == lv).any()]
            frame[time] = pd.Categorical(tvals, categories=tlev, ordered=tvals.cat.ordered)
        else:
            tlev = sorted(pd.unique(tvals))
            frame[time] = pd.Categorical(tvals, categories=tlev)
    return glevels, gref, basis


def _lmm_fixed_design(
    frame: pd.DataFrame, group_term: str | None, basis: TimeBasis, covariates: list[str]
) -> tuple[Any, np.ndarray]:
    """``group * time_basis + covariates`` (no group term for one level) and a rank check."""
    import formulaic

    rhs = f"{group_term} * {basis.terms()}" if group_term else basis.terms()
    if covariates:
        rhs += " + " + " + ".join(covariates)
    mm = formulaic.model_matrix(rhs, frame, na_action="raise")
    X = np.asarray(mm, dtype=float)
    XtX = X.T @ X
    dsc = np.sqrt(np.clip(np.diag(XtX), 1e-300, None))
    ev = np.linalg.eigvalsh(XtX / np.outer(dsc, dsc))
    if ev.min() < 1e-10 * max(ev.max(), 1.0):
        raise ModelFitError(
            f"the fixed-effects design ({rhs}) is rank deficient: some group x time cells have no data or a "
            "covariate is collinear; drop a covariate or use a simpler time basis."
        )
    return mm, X


def _random_design(
    frame: pd.DataFrame, random: str, slope_col: str, levels: list[str]
) -> tuple[np.ndarray, list[str], np.ndarray, Any, list[np.ndarray], list[Any]]:
    """Per-subject random-effects columns ``Z`` and terms, subject codes and labels, and the codes and labels of
    the further random-intercept levels."""
    subj_codes, subj_labels = pd.factorize(frame[levels[0]].astype("str"), sort=True)
    if random == "intercept":
        Z = np.ones((len(frame), 1))
        re_terms = ["(Intercept)"]
    else:
        Z = np.column_stack([np.ones(len(frame)), pd.to_numeric(frame[slope_col]).to_numpy(dtype=float)])
        re_terms = ["(Intercept)", slope_col]
    extra_codes, extra_labels = [], []
    for lv in levels[1:]:
        c, lab = pd.factorize(frame[lv].astype("str"), sort=True)
        extra_codes.append(c)
        extra_labels.append(lab)
    return Z, re_terms, subj_codes, subj_labels, extra_codes, extra_labels


@dataclass(repr=False, eq=False, kw_only=True)
class TrajectoryFit(ModelFit):
    """A fitted linear mixed model of trajectories (see :func:`fit_trajectories`).

    Attributes
    ----------
    fixed_effects : pandas.DataFrame
        term, estimate, se, df (Satterthwaite), t, p_value, ci_low, ci_high (95%).
    variance_components : pandas.DataFrame
        group, term, variance, sd, corr (correlation with the intercept of the same group; NaN otherwise).
        The last row is the residual.
    loglik, aic, bic, deviance : float
        Log-likelihood (REML criterion under REML), AIC/BIC as lme4 reports them.
    sigma_ : float
        The residual SD (lme4's ``sigma()``).
    n_obs, n_subjects : int
        (``nobs`` is the deprecated alias of ``n_obs``.)
    converged, singular : bool
    messages : list of str
        What the optimizer said (and any failed check).
    reference : str or None
        The group's reference level (see ``reference=``).
    random_effects : pandas.DataFrame
        BLUPs: one row per subject (level, columns per random term); extra levels appended with their group.
    beta_, vcov_beta_, fe_names_ :
        The marginal-means contract (:class:`~massage_outcomes.trajectories.marginal.MarginalModel`).
    """

    group: str
    time: str
    sigma_: float
    singular: bool
    deviance: float
    aic: float
    bic: float
    n_params: int
    reml: bool
    vcov_unadjusted_: np.ndarray
    ddf: str = "satterthwaite"
    # the engine's state and the call (predict.py and refit read them)
    _core: LMMCore
    _state: _State
    _frame: pd.DataFrame
    _model_spec: Any
    _response: str
    _glevels: list[str]
    _gref: GroupReference
    _covariates: list[str]
    _random: str
    _levels: list[str]
    _re_terms: list[str]
    _subject_labels: np.ndarray
    _extra_labels: list[np.ndarray]
    _basis: TimeBasis
    _slope_col: str
    _n_dropped: int
    _call: dict[str, Any]
    _data: Any
    _b: np.ndarray
    _b2: np.ndarray
    _kr: Any = None
    _satt: Satterthwaite | None = field(default=None, init=False)
    _fixed_effects: pd.DataFrame | None = field(default=None, init=False)

    # construction ---------------------------------------------------------------------------------------------
    @classmethod
    def _from_core(cls, core: LMMCore, opt: dict[str, Any], *, group: str, time: str, method: str,
                   **kw: Any) -> TrajectoryFit:
        """The fit at the optimum ``opt`` of ``core``; ``kw`` are the private fields without their underscore."""
        st = core.state(opt["theta"])
        deviance = core._dev_from_state(st)
        beta, b, b2 = core.solve(st)
        sigma = math.sqrt(core.sigma2(st))
        vcov = sigma**2 * core._rx_inv(st)
        n_params = core.n_theta + core.p + 1
        basis: TimeBasis = kw["basis"]
        gref: GroupReference = kw["gref"]
        fe_names = [str(n) for n in kw.pop("fe_names")]
        return cls(
            instrument=kw["call"]["instrument"], group=group, time=time,
            time_kind="categorical" if basis.kind == "factor" else "continuous", method=method,
            formula=f"{kw['response']} ~ {kw['model_spec'].formula}",
            reference=gref.level if len(kw["glevels"]) > 1 else None,
            beta_=beta, vcov_beta_=vcov, vcov_unadjusted_=vcov, fe_names_=fe_names,
            theta_=opt["theta"], loglik=-0.5 * deviance, n_obs=core.n, n_subjects=core.g,
            converged=bool(opt["converged"]), messages=list(opt["messages"]), sigma_=sigma,
            singular=bool(opt["singular"]), deviance=deviance, aic=deviance + 2 * n_params,
            bic=deviance + math.log(core.n) * n_params, n_params=n_params, reml=core.reml,
            _core=core, _state=st, _b=b, _b2=b2, **{"_" + k: v for k, v in kw.items()},
        )

    # Satterthwaite -------------------------------------------------------------------------------------------
    @property
    def satterthwaite(self) -> Satterthwaite:
        """The Satterthwaite machinery (Hessian of the deviance in (theta, sigma), Jacobian of vcov)."""
        if self._satt is None:
            core = self._core
            vp = np.concatenate([self.theta_, [self.sigma_]])
            with _single_threaded_blas():
                if core.q2 == 0:  # Hessian as the Jacobian of the analytic gradient: far fewer evaluations
                    H = richardson_gradient(core.grad_vp, vp, d=1e-3, r=2)
                    H = 0.5 * (H + H.T)
                    J = richardson_gradient(core.vcov_vp, vp, d=1e-3, r=2)
                else:
                    H = richardson_hessian(core.deviance_vp, vp, d=1e-3, r=3)
                    J = richardson_gradient(core.vcov_vp, vp, d=1e-3, r=3)
            self._satt = Satterthwaite(self.vcov_unadjusted_, J, H)
        return self._satt

    def df_for(self, L: np.ndarray) -> np.ndarray:
        """Denominator df (Satterthwaite, or Kenward-Roger with ``ddf='kenward-roger'``) for each row of ``L``."""
        if self.ddf == "kenward-roger":
            return self._kr.df(L)[0]
        return self.satterthwaite.df(L)

    # tables ---------------------------------------------------------------------------------------------------
    @property
    def fixed_effects(self) -> pd.DataFrame:
        """Fixed effects: term, estimate, se, df, t, p_value, ci_low, ci_high (95%, Satterthwaite df)."""
        if self._fixed_effects is None:
            se = np.sqrt(np.diag(self.vcov_beta_))
            df = self.df_for(np.eye(len(self.beta_)))
            t = self.beta_ / se
            p = t_p_two_sided(t, df)
            q = stats.t.ppf(0.975, df)
            self._fixed_effects = pd.DataFrame(
                {
                    "term": self.fe_names_,
                    "estimate": self.beta_,
                    "se": se,
                    "df": df,
                    "t": t,
                    "p_value": p,
                    "ci_low": self.beta_ - q * se,
                    "ci_high": self.beta_ + q * se,
                }
            )
        return self._fixed_effects.copy()

    def _re_cov(self) -> np.ndarray:
        T = self._state.T
        return self.sigma_**2 * T @ T.T

    @property
    def variance_components(self) -> pd.DataFrame:
        """Variance components: group, term, variance, sd, corr (with the same group's intercept)."""
        rows = []
        S = self._re_cov()
        subj = self._levels[0]
        for i, term in enumerate(self._re_terms):
            corr = np.nan
            if i > 0 and self._random == "slope":
                den = math.sqrt(S[0, 0] * S[i, i])
                corr = S[i, 0] / den if den > 0 else np.nan
            rows.append((subj, term, S[i, i], math.sqrt(S[i, i]), corr))
        for lv, lam in zip(self._levels[1:], self._state.lam, strict=True):
            v = self.sigma_**2 * lam**2
            rows.append((lv, "(Intercept)", v, math.sqrt(v), np.nan))
        rows.append(("Residual", "", self.sigma_**2, self.sigma_, np.nan))
        return pd.DataFrame(rows, columns=["group", "term", "variance", "sd", "corr"])

    @property
    def random_effects(self) -> pd.DataFrame:
        """BLUPs (conditional modes): group, level, and one column per random-effect term."""
        subj = self._levels[0]
        out = pd.DataFrame(self._b, columns=self._re_terms)
        out.insert(0, "level", self._subject_labels)
        out.insert(0, "group", subj)
        parts = [out]
        off = 0
        for lv, lab in zip(self._levels[1:], self._extra_labels, strict=True):
            k = len(lab)
            parts.append(pd.DataFrame({"group": lv, "level": lab, "(Intercept)": self._b2[off : off + k]}))
            off += k
        return pd.concat(parts, ignore_index=True)

    # marginal-means protocol ---------------------------------------------------------------------------------
    def _prepare_rows(self, grid: pd.DataFrame) -> pd.DataFrame:
        g = grid.copy()
        if self.group in g.columns:
            g[self.group] = pd.Categorical(g[self.group].astype("str"), categories=self._glevels)
        if self.time_kind == "categorical":
            cats = self._frame[self.time].cat.categories
            g[self.time] = pd.Categorical(g[self.time], categories=cats)
        elif self.time in g.columns:
            g[self.time] = pd.to_numeric(g[self.time]).astype(float)
        return self._basis.add_columns(g)

    def design_rows(self, grid: pd.DataFrame) -> np.ndarray:
        """Fixed-effects design (m, p) for fully specified rows of ``grid``."""
        g = self._prepare_rows(grid)
        mm = self._model_spec.get_model_matrix(g, na_action="raise")
        return np.asarray(mm, dtype=float)

    def reference_values(self) -> dict[str, Any]:
        """Default reference grid: group levels, time (visit levels, or the mean time), covariate means/levels."""
        ref: dict[str, Any] = {self.group: list(self._glevels)}
        if self.time_kind == "categorical":
            ref[self.time] = list(self._frame[self.time].cat.categories)
        else:
            ref[self.time] = float(self._frame[self.time].mean())
        for c in self._covariates:
            col = self._frame[c]
            if pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
                ref[c] = float(col.mean())
            else:
                ref[c] = sorted(pd.unique(col.astype("str")))
        return ref

    def sigma_total(self) -> tuple[float, float]:
        """SD for standardized effects and its df.

        The SD is ``sqrt(residual variance + the random-intercept variances of every level)``: the total SD of a
        single measurement at time 0 (baseline) for a new subject. The df is lme4's residual df
        (``n_obs - number of parameters``).
        """
        vc = self.variance_components
        inter = vc.loc[vc["term"] == "(Intercept)", "variance"].sum()
        resid = float(vc["variance"].iloc[-1])
        return math.sqrt(resid + inter), float(self.n_obs - self.n_params)

    # likelihood-ratio test ----------------------------------------------------------------------------------
    def refit(self, *, method: Literal["REML", "ML"]) -> TrajectoryFit:
        """The same model fitted with another ``method``."""
        return fit_trajectories(self._data, method=method, **self._call)

    def lrt(self, other: TrajectoryFit) -> pd.DataFrame:
        """Likelihood-ratio test between two nested fits (as ``anova.merMod``).

        When either fit is REML and their fixed effects differ, both are refitted with ML first (REML
        likelihoods of different fixed effects are not comparable).

        Returns
        -------
        pandas.DataFrame
            model ("smaller", "larger"), n_params, aic, bic, loglik, deviance, chisq, df, p_value, method.
            The p-value is conservative when the tested variance lies on its boundary (zero).
        """
        a, b = sorted([self, other], key=lambda f: f.n_params)
        same_fe = list(a.fe_names_) == list(b.fe_names_)
        if (a.reml or b.reml) and not same_fe:
            a = a if not a.reml else a.refit(method="ML")
            b = b if not b.reml else b.refit(method="ML")
        elif a.reml != b.reml:
            raise ModelFitError("cannot compare a REML fit with an ML fit of the same fixed effects; refit one.")
        chisq = max(2 * (b.loglik - a.loglik), 0.0)
        df = b.n_params - a.n_params
        p = float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan
        meth = "REML" if a.reml else "ML"
        return pd.DataFrame(
            {
                "model": ["smaller", "larger"],
                "n_params": [a.n_params, b.n_params],
                "aic": [a.aic, b.aic],
                "bic": [a.bic, b.bic],
                "loglik": [a.loglik, b.loglik],
                "deviance": [a.deviance, b.deviance],
                "chisq": [np.nan, chisq],
                "df": [np.nan, df],
                "p_value": [np.nan, p],
                "method": [meth, meth],
            }
        )

    # prediction ---------------------------------------------------------------------------------------------
    def predict(self, newdata: pd.DataFrame | None = None, *, level: str = "population") -> np.ndarray:
        """Predicted values for ``newdata`` (default: the fitted rows).

        ``level="population"`` uses the fixed effects only; ``level="subject"`` adds each row's BLUPs (zero for
        subjects or levels not seen in the fit).
        """
        from massage_outcomes.trajectories.predict import predict_values

        return predict_values(self, self._frame if newdata is None else newdata, level=level)

    def population_curves(self, **kw: Any) -> pd.DataFrame:
        """Population mean curves with CI bands; see :func:`massage_outcomes.trajectories.predict.population_curves`."""
        from massage_outcomes.trajectories.predict import population_curves

        return population_curves(self, **kw)

    def subject_curves(self, **kw: Any) -> pd.DataFrame:
        """Subject-specific curves; see :func:`massage_outcomes.trajectories.predict.subject_curves`."""
        from massage_outcomes.trajectories.predict import subject_curves

        return subject_curves(self, **kw)

    # presentation -------------------------------------------------------------------------------------------
    def _header(self) -> list[str]:
        crit = "REML criterion" if self.reml else "deviance"
        lines = [
            f"Linear mixed model fit by {'REML' if self.reml else 'ML'} ({self.ddf.replace('-', ' ').title()} df)",
            f"Formula: {self._response} ~ {self._model_spec.formula}; random: {self._random} | {self._levels[0]}"
            + "".join(f" + (1 | {lv})" for lv in self._levels[1:]),
            f"n_obs = {self.n_obs}, subjects = {self.n_subjects}"
            + (f", rows dropped for missing values = {self._n_dropped}" if self._n_dropped else ""),
            *([self._gref.describe(self.group)] if self.reference is not None else []),
            f"logLik = {self.loglik:.4f}, AIC = {self.aic:.2f}, BIC = {self.bic:.2f}, {crit} = {self.deviance:.4f}",
            f"converged = {self.converged}, singular = {self.singular}",
        ]
        return lines

    def summary(self) -> str:
        """A plain-text summary (header, variance components, fixed effects)."""
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return "\n".join(
                [
                    *self._header(),
                    "",
                    "Variance components:",
                    self.variance_components.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                    "",
                    "Fixed effects:",
                    self.fixed_effects.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                ]
            )

    def __repr__(self) -> str:
        return (
            f"<TrajectoryFit {self._response} ~ {self.group} x {self.time} ({self._random}, "
            f"{'REML' if self.reml else 'ML'}): n_obs={self.n_obs}, subjects={self.n_subjects}, "
            f"logLik={self.loglik:.3f}, converged={self.converged}>"
        )

    def _repr_html_(self) -> str:
        head = "<br>".join(html.escape(s) for s in self._header())
        vc = self.variance_components.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        fe = self.fixed_effects.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<div><p>{head}</p><h4>Variance components</h4>{vc}<h4>Fixed effects</h4>{fe}</div>"

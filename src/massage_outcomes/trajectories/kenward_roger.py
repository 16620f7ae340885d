"""Kenward-Roger inference for the MMRM: the adjusted coefficient covariance and the denominator df.

With ``V`` the block-diagonal residual covariance, ``Φ = (X'V⁻¹X)⁻¹`` and ``W`` the inverse observed information
of the covariance parameters ``φ`` (the Hessian of ``-l_REML``), Kenward & Roger (1997) use

``P_i = -X'V⁻¹ V_i V⁻¹X``, ``Q_ij = X'V⁻¹ V_i V⁻¹ V_j V⁻¹X``, ``R_ij = X'V⁻¹ V_ij V⁻¹X``,

``Φ_A = Φ + 2 Φ [Σ_ij W_ij (Q_ij - P_i Φ P_j - R_ij / 4)] Φ``

with ``V_i = ∂V/∂φ_i`` and ``V_ij = ∂²V/∂φ_i∂φ_j``. The ``R`` term depends on how the covariance is
parameterized (the others do not); the "linear" variant drops it. To give R's mmrm numbers, ``φ`` here is mmrm's
parameterization of each structure (log standard deviations; for unstructured, the Cholesky factor's rows scaled by
their diagonal; correlations ``θ/√(1+θ²)``, and for compound symmetry a logistic map onto ``(-1/(T-1), 1)``),
whatever the optimizer used: the fit is found in this module's caller's own parameters and mapped to mmrm's.

Every sum over subjects is a sum over missingness patterns of ``Σ_ab M[a, b] · Σ_i X_i[a]' X_i[b]`` (the
per-pattern cross-products the REML fit already holds), so there is no loop over subjects.

References
----------
Kenward MG, Roger JH (1997). Small sample inference for fixed effects from restricted maximum likelihood.
Biometrics 53(3):983-997. https://doi.org/10.2307/2533558 ;
Kenward MG, Roger JH (2009). An improved approximation to the precision of fixed effects from restricted maximum
likelihood. Computational Statistics & Data Analysis 53(7):2583-2595. https://doi.org/10.1016/j.csda.2008.12.013
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["KRComponents", "kr_components", "kr_df", "kr_f_df", "kr_moments", "mmrm_phi", "sigma_from_phi"]


# ----------------------------------------------------------------------------------------------------------------
# mmrm's parameterization of each covariance structure
# ----------------------------------------------------------------------------------------------------------------
def sigma_from_phi(phi: np.ndarray, kind: str, T: int, heterogeneous: bool) -> np.ndarray:
    """The covariance between visits from mmrm-style parameters ``phi`` (complex ``phi`` works, for derivatives)."""
    dtype = phi.dtype
    lower = np.tril_indices(T, -1)
    if kind == "unstructured":
        sd = np.exp(phi[:T])
        L = np.zeros((T, T), dtype=dtype)
        L[np.diag_indices(T)] = sd
        L[lower] = sd[lower[0]] * phi[T:]
        return L @ L.T
    nsd = T if heterogeneous else 1
    sd = np.exp(phi[:nsd]) * np.ones(T)
    c = phi[nsd:]
    lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    R = np.eye(T, dtype=dtype)
    if T > 1:
        if kind == "toeplitz":
            rho = c / np.sqrt(1.0 + c * c)
            R = np.where(lag == 0, 1.0 + 0 * rho[0], rho[np.maximum(lag - 1, 0)])
        elif kind == "ante_dependence":
            rho = c / np.sqrt(1.0 + c * c)
            for i in range(1, T):
                for j in range(i):
                    R[i, j] = R[j, i] = np.prod(rho[j:i])
        elif kind == "ar1":
            rho1 = c[0] / np.sqrt(1.0 + c[0] * c[0])
            R = np.where(lag == 0, 1.0 + 0 * rho1, rho1 ** np.maximum(lag, 1))
        else:  # compound symmetry
            a = 1.0 / (T - 1)
            rho1 = (1.0 + a) / (1.0 + np.exp(-c[0])) - a
            R = np.where(lag == 0, 1.0 + 0 * rho1, rho1)
    return sd[:, None] * R * sd[None, :]


def mmrm_phi(Sigma: np.ndarray, kind: str, heterogeneous: bool) -> np.ndarray:
    """mmrm-style parameters of a covariance matrix of the given structure (the inverse of :func:`sigma_from_phi`)."""
    T = Sigma.shape[0]
    if kind == "unstructured":
        L = np.linalg.cholesky(Sigma)
        sd = np.diag(L)
        lower = np.tril_indices(T, -1)
        return np.concatenate([np.log(sd), L[lower] / sd[lower[0]]])
    sd = np.sqrt(np.diag(Sigma))
    lsd = np.log(sd) if heterogeneous else np.array([np.log(np.sqrt(np.mean(sd**2)))])
    if T == 1:
        return lsd
    R = Sigma / np.outer(sd, sd)
    if kind == "toeplitz":
        rho = np.array([R[d, 0] for d in range(1, T)])
    elif kind == "ante_dependence":
        rho = np.diag(R, -1).copy()
    else:
        rho = np.array([R[1, 0]])
    if kind == "cs":
        a = 1.0 / (T - 1)
        u = (rho + a) / (1.0 + a)
        return np.concatenate([lsd, np.log(u / (1.0 - u))])
    return np.concatenate([lsd, rho / np.sqrt(1.0 - rho**2)])


def _dsigma_unstructured(phi: np.ndarray, T: int) -> np.ndarray:
    """(k, T, T) derivatives of the unstructured ``Σ = LL'`` in mmrm's parameters: row i of ``L`` scales with
    ``exp(phi_i)``; ``L[i, j] = exp(phi_i) phi_k`` below the diagonal."""
    sd = np.exp(phi[:T])
    lower = np.tril_indices(T, -1)
    L = np.zeros((T, T))
    L[np.diag_indices(T)] = sd
    L[lower] = sd[lower[0]] * phi[T:]
    k = len(phi)
    dL = np.zeros((k, T, T))
    dL[np.arange(T), np.arange(T)] = L  # d/dphi_i: row i of L
    dL[T + np.arange(len(lower[0])), lower[0], lower[1]] = sd[lower[0]]
    dLLt = dL @ L.T
    return dLLt + dLLt.transpose(0, 2, 1)


def _complex_step(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """(k, ...) derivatives of a complex-analytic ``fun`` at real ``x``: exact to rounding."""
    h = 1e-30
    out = []
    for j in range(len(x)):
        xc = x.astype(complex)
        xc[j] += 1j * h
        out.append(fun(xc).imag / h)
    return np.stack(out)


# ----------------------------------------------------------------------------------------------------------------
# the components
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KRComponents:
    """``Phi`` (unadjusted), ``Phi_A`` (adjusted), ``Phi_A_linear`` (without the ``R`` term), ``P`` (k, p, p)
    and ``W`` (k, k) in mmrm's parameters ``phi``."""

    Phi: np.ndarray
    Phi_A: np.ndarray
    Phi_A_linear: np.ndarray
    P: np.ndarray
    W: np.ndarray
    phi: np.ndarray


def _pattern_sum(M: np.ndarray, XX: np.ndarray) -> np.ndarray:
    """Σ_K Σ_ab M[..., K, a, b] XX[K, a, b] for M (..., K, T, T): (..., p, p)."""
    lead = M.shape[:-3]
    K, T = XX.shape[0], XX.shape[1]
    p = XX.shape[-1]
    return (M.reshape(-1, K * T * T) @ XX.reshape(K * T * T, p * p)).reshape(*lead, p, p)


def kr_components(
    Sigma: np.ndarray, chunks: Sequence[Any], inverses: Callable[[np.ndarray, Any], tuple[np.ndarray, np.ndarray]],
    gradient: Callable[[np.ndarray], np.ndarray], Phi: np.ndarray, kind: str, heterogeneous: bool,
) -> KRComponents:
    """Kenward-Roger pieces at the REML optimum ``Sigma``: (T, T), or (G, T, T) with a covariance per group.

    ``chunks`` hold the per-pattern ``XX`` (K, T, T, p, p) and each pattern's group ``g``; ``inverses(Sigma,
    chunk)`` gives the padded per-pattern inverses; ``gradient(Sigma)`` is d(-2 l)/dΣ_g (G, T, T). ``phi`` is the
    concatenation of the groups' mmrm parameters (mmrm's order); ``W`` is the inverse of the Hessian of ``-l`` in
    ``phi``, by central differences of the analytic gradient. A parameter acts only on its group's subjects, so
    ``Q_ij`` and ``R_ij`` vanish between groups and each pattern needs its own group's block of ``W``.
    """
    Sigmas = Sigma[None] if Sigma.ndim == 2 else Sigma
    G, T = Sigmas.shape[0], Sigmas.shape[1]
    phi = np.concatenate([mmrm_phi(S, kind, heterogeneous) for S in Sigmas])
    k = len(phi)
    k0 = k // G

    def dS_at(x: np.ndarray) -> np.ndarray:  # (G, k0, T, T)
        if kind == "unstructured":
            return np.stack([_dsigma_unstructured(x[g * k0:(g + 1) * k0], T) for g in range(G)])
        return np.stack([_complex_step(lambda z: sigma_from_phi(z, kind, T, heterogeneous), x[g * k0:(g + 1) * k0])
                         for g in range(G)])

    def sigmas_at(x: np.ndarray) -> np.ndarray:
        return np.stack([sigma_from_phi(x[g * k0:(g + 1) * k0], kind, T, heterogeneous) for g in range(G)])

    def grad_phi(x: np.ndarray) -> np.ndarray:
        grad = gradient(sigmas_at(x))
        return np.einsum("gab,gkab->gk", grad.reshape(G, T, T), dS_at(x)).reshape(-1)

    dS = dS_at(phi)
    H = np.empty((k, k))
    d2S = np.zeros((G, k0, k0, T, T))
    for j in range(k):
        h = 1e-4 * max(1.0, abs(phi[j]))
        e = np.zeros(k)
        e[j] = h
        H[:, j] = (grad_phi(phi + e) - grad_phi(phi - e)) / (2 * h)
        g = j // k0
        d2S[g, :, j % k0] = (dS_at(phi + e)[g] - dS_at(phi - e)[g]) / (2 * h)
    H = 0.5 * (H + H.T)
    d2S = 0.5 * (d2S + d2S.transpose(0, 2, 1, 3, 4))
    W = np.linalg.inv(0.5 * H)  # the Hessian of -l is half that of -2 l
    Wg = np.stack([W[g * k0:(g + 1) * k0, g * k0:(g + 1) * k0] for g in range(G)])  # (G, k0, k0)
    # Σ_ij W_ij Q_ij and Σ_ij W_ij R_ij need only W-weighted sums at the level of the visits:
    # Σ_ij W_ij Σ⁻¹V_iΣ⁻¹V_jΣ⁻¹ = Σ_i (Σ⁻¹V_iΣ⁻¹) D_i Σ⁻¹ with D_i = Σ_j W_ij V_j, and Σ_ij W_ij V_ij likewise
    D = np.einsum("gij,gjab->giab", Wg, dS)  # (G, k0, T, T)
    WR = np.einsum("gij,gijab->gab", Wg, d2S)  # (G, T, T)
    p = Phi.shape[0]
    P = np.zeros((G, k0, p, p))
    WQ = np.zeros((p, p))
    WRs = np.zeros((p, p))
    for ch in chunks:
        Si_all, _ = inverses(Sigma, ch)  # (K, T, T)
        for g in range(G) if G > 1 else (0,):
            sel = slice(None) if G == 1 else np.asarray(ch.g) == g
            XX, Si = ch.XX[sel], Si_all[sel]
            if len(XX) == 0:
                continue
            A = Si[:, None] @ dS[g][None] @ Si[:, None]  # (K, k0, T, T): Σ⁻¹ V_i Σ⁻¹
            P[g] -= _pattern_sum(A.transpose(1, 0, 2, 3), XX)
            B = np.einsum("Kiab,ibc,Kcd->Kad", A, D[g], Si, optimize=True)
            WQ += _pattern_sum(B, XX)
            WRs += _pattern_sum(Si @ WR[g] @ Si, XX)
    P = P.reshape(k, p, p)
    PPhi = P @ Phi  # (k, p, p)
    WPPhiP = np.einsum("iab,ij,jbc->ac", PPhi, W, P, optimize=True)
    U_lin = WQ - WPPhiP
    U = U_lin - 0.25 * WRs
    return KRComponents(Phi=Phi, Phi_A=Phi + 2.0 * Phi @ U @ Phi, Phi_A_linear=Phi + 2.0 * Phi @ U_lin @ Phi,
                        P=P, W=W, phi=phi)


def kr_df(Phi: np.ndarray, P: np.ndarray, W: np.ndarray, L: np.ndarray) -> np.ndarray:
    """Kenward-Roger denominator df of each row of ``L`` taken as a one-degree-of-freedom test.

    For one row ``l`` the matrix ``Θ = l'(lΦl')⁻¹l`` has rank one, so ``A1 = A2 = t'Wt`` with
    ``t_i = lΦP_iΦl' / lΦl'``, and the df is Kenward & Roger's ``m = 4 + 3 / (ρ - 1)``.

    Examples
    --------
    >>> Phi = np.eye(2); P = np.zeros((1, 2, 2)); P[0] = -0.1 * np.eye(2); W = np.array([[2.0]])
    >>> round(float(kr_df(Phi, P, W, np.array([[1.0, 0.0]]))[0]), 6)
    100.0
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    LPhi = L @ Phi
    var = np.einsum("rp,rp->r", LPhi, L)
    t = np.einsum("rp,ipq,rq->ri", LPhi, P, LPhi) / var[:, None]
    a1 = np.einsum("ri,ij,rj->r", t, W, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        m, _ = kr_moments(a1, a1, 1.0)
    return np.where(np.isfinite(m) & (m > 0), m, np.inf)


def kr_moments(a1: Any, a2: Any, ell: float) -> tuple[Any, Any]:
    """Kenward & Roger's (1997) denominator df ``m`` and ``E*`` from ``A1``, ``A2`` and the number of rows ℓ of
    the hypothesis (scalars or arrays): ``E*``, ``V*``, ``ρ = V*/(2E*²)``, ``m = 4 + (ℓ + 2)/(ℓρ − 1)``."""
    b = (a1 + 6.0 * a2) / (2.0 * ell)
    g = ((ell + 1.0) * a1 - (ell + 4.0) * a2) / ((ell + 2.0) * a2)
    den = 3.0 * ell + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (ell - g) / den, (ell + 2.0 - g) / den
    e_star = 1.0 / (1.0 - a2 / ell)
    v_star = 2.0 / ell * (1.0 + c1 * b) / ((1.0 - c2 * b) ** 2 * (1.0 - c3 * b))
    rho = v_star / (2.0 * e_star**2)
    return 4.0 + (ell + 2.0) / (ell * rho - 1.0), e_star


def kr_f_df(Phi: np.ndarray, P: np.ndarray, W: np.ndarray, L: np.ndarray) -> tuple[float, float]:
    """Kenward-Roger denominator df ``m`` and scale ``λ`` of the F test of ``Lβ = 0`` (``L`` of full row rank ℓ):
    the statistic is ``λ F`` with ``F`` from the adjusted covariance, referred to ``F(ℓ, m)``.

    ``Θ = L'(LΦL')⁻¹L``, ``A1 = Σ_ij W_ij tr(ΘΦP_iΦ) tr(ΘΦP_jΦ)``, ``A2 = Σ_ij W_ij tr(ΘΦP_iΦΘΦP_jΦ)``, then
    Kenward & Roger's (1997) ``E*``, ``V*``, ``ρ``, ``m = 4 + (ℓ + 2)/(ℓρ - 1)``, ``λ = m / (E*(m - 2))``.
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    ell = float(L.shape[0])
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    M = Theta @ Phi @ P @ Phi  # (k, p, p)
    tr = np.trace(M, axis1=1, axis2=2)
    a1 = float(tr @ W @ tr)
    a2 = float(np.einsum("ij,iab,jba->", W, M, M))
    m, e_star = kr_moments(a1, a2, ell)
    return float(m), float(m / (e_star * (m - 2.0)))

"""Sandwich (empirical) coefficient covariance of an MMRM, as R's mmrm offers it, with its degrees of freedom.

With ``B = (X'Σ⁻¹X)⁻¹`` the model-based covariance, work in whitened coordinates per subject (``L_i`` the lower
Cholesky factor of the subject's block ``Σ_i``): ``X̃_i = L_i⁻¹X_i``, ``r̃_i = L_i⁻¹(y_i − X_iβ̂)``,
``H̃_ii = X̃_i B X̃_i'``. Then

    V = B [Σ_i X̃_i' A_i r̃_i r̃_i' A_i' X̃_i] B

with ``A_i = I`` (``"empirical"``, CR0), ``(I − H̃_ii)^{-1/2}`` (``"empirical-bias-reduced"``, CR2, the symmetric
inverse square root) or ``(I − H̃_ii)⁻¹`` (``"empirical-jackknife"``, CR3).

Degrees of freedom for a contrast ``c`` (``ddf="satterthwaite"``) are Bell and McCaffrey's (2002), as mmrm
computes them: under the working model, ``c'Vc = Σ_i (q_i'ε)²`` with ε standard normal, and
``df = tr(M)² / ‖M‖²_F`` with ``M = Q'Q``. Writing ``u_i = A_i X̃_i B c`` and ``z_i = X̃_i'u_i``,
``M = diag(‖u_i‖²) − Z'BZ``, so neither the ``N × N`` hat matrix nor a loop over subjects is needed
(``‖Z'BZ‖²_F = tr((BZZ')²)``). ``ddf="residual"`` gives ``n_obs − p`` (mmrm's ``method = "Residual"``).

Examples
--------
>>> from massage_outcomes.trajectories.mmrm import _example_frame, fit_mmrm
>>> fit = fit_mmrm(_example_frame(), vcov="empirical")
>>> fit.vcov, bool(fit.fixed_effects["se"].gt(0).all())
('empirical', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["EMPIRICAL", "Sandwich", "VCov", "empirical_sandwich"]

VCov = Literal["model", "empirical", "empirical-bias-reduced", "empirical-jackknife"]
#: the sandwich estimators (mmrm's "Empirical", "Empirical-Bias-Reduced", "Empirical-Jackknife")
EMPIRICAL: tuple[str, ...] = ("empirical", "empirical-bias-reduced", "empirical-jackknife")


@dataclass
class Sandwich:
    """The sandwich covariance and what its Bell–McCaffrey df need (whitened designs per missingness pattern)."""

    kind: str
    vcov: np.ndarray  # (p, p)
    bread: np.ndarray  # B = (X'Σ⁻¹X)⁻¹
    Xt: list[np.ndarray]  # per pattern (n, m, p): L_i⁻¹ X_i
    AXt: list[np.ndarray]  # per pattern (n, m, p): A_i L_i⁻¹ X_i

    def df_for(self, L: np.ndarray) -> np.ndarray:
        """Bell–McCaffrey df of each row of ``L`` under the working covariance."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        BL = self.bread @ L.T  # (p, k)
        tr = np.zeros(len(L))
        d2 = np.zeros(len(L))
        cross = np.zeros(len(L))
        S = np.zeros((len(L), BL.shape[0], BL.shape[0]))
        for Xt, AXt in zip(self.Xt, self.AXt, strict=True):
            u = AXt @ BL  # (n, m, k)
            z = np.einsum("nmp,nmk->nkp", Xt, u)  # (n, k, p)
            d = np.einsum("nmk,nmk->nk", u, u)
            zbz = np.einsum("nkp,pq,nkq->nk", z, self.bread, z)
            tr += (d - zbz).sum(axis=0)
            d2 += (d * d).sum(axis=0)
            cross += (d * zbz).sum(axis=0)
            S += np.einsum("nkp,nkq->kpq", z, z)
        BS = np.einsum("pq,kqr->kpr", self.bread, S)
        frob = np.einsum("kpq,kqp->k", BS, BS)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = tr**2 / (d2 - 2.0 * cross + frob)
        return np.where(np.isfinite(df) & (df > 0), df, np.inf)


def _adjustment(IH: np.ndarray, kind: str) -> np.ndarray:
    """A_i for a stack of ``I − H̃_ii`` (n, m, m)."""
    if kind == "empirical":
        return np.broadcast_to(np.eye(IH.shape[-1]), IH.shape)
    w, V = np.linalg.eigh(IH)
    if np.any(w <= 1e-12):
        from massage_outcomes.errors import ModelFitError

        raise ModelFitError(f"vcov={kind!r}: a subject's I - H_ii is singular (a subject fully determines some "
                            "coefficient); use vcov='empirical' or vcov='model'.")
    power = -0.5 if kind == "empirical-bias-reduced" else -1.0
    return np.einsum("nij,nj,nkj->nik", V, w**power, V)


def empirical_sandwich(X: np.ndarray, y: np.ndarray, vidx: np.ndarray, subj: np.ndarray, n_subjects: int,
                       sigma: np.ndarray, bread: np.ndarray, beta: np.ndarray, kind: str,
                       subj_group: np.ndarray | None = None) -> Sandwich:
    """The sandwich covariance ``kind`` (one of :data:`EMPIRICAL`) of a fitted MMRM (rows: visit index ``vidx``
    and subject code ``subj`` per observation; ``sigma`` the fitted covariance between visits, (T, T), or one per
    group (G, T, T) with ``subj_group`` the group code of each subject). With observation weights pass the rows
    of ``X`` and ``y`` multiplied by √w: the whitened designs are then those of ``Σ_i = W_i^-1/2 Σ W_i^-1/2``."""
    sigmas = sigma[None] if sigma.ndim == 2 else sigma
    T, p = sigmas.shape[1], X.shape[1]
    Xk = np.zeros((n_subjects, T, p))
    rk = np.zeros((n_subjects, T))
    mask = np.zeros((n_subjects, T), dtype=bool)
    Xk[subj, vidx] = X
    rk[subj, vidx] = y - X @ beta
    mask[subj, vidx] = True
    sg = np.zeros(n_subjects, dtype=int) if subj_group is None else np.asarray(subj_group, dtype=int)
    patterns, which = np.unique(np.column_stack([sg, mask]), axis=0, return_inverse=True)
    meat = np.zeros((p, p))
    Xts: list[np.ndarray] = []
    AXts: list[np.ndarray] = []
    for k, pat in enumerate(patterns):  # (group, missingness pattern) pairs, not subjects
        rows = np.flatnonzero(which.reshape(-1) == k)
        obs = np.flatnonzero(pat[1:])
        chol = np.linalg.cholesky(sigmas[pat[0]][np.ix_(obs, obs)])
        Xt = np.linalg.solve(chol, Xk[np.ix_(rows, obs)])  # (n, m, p)
        rt = np.linalg.solve(chol, rk[np.ix_(rows, obs)][..., None])[..., 0]  # (n, m)
        IH = np.eye(len(obs)) - np.einsum("nip,pq,njq->nij", Xt, bread, Xt)
        A = _adjustment(IH, kind)
        AXt = np.einsum("nji,njp->nip", A, Xt)  # A_i' X̃_i (A_i symmetric)
        s = np.einsum("nmp,nm->np", AXt, rt)
        meat += s.T @ s
        Xts.append(Xt)
        AXts.append(AXt)
    return Sandwich(kind=kind, vcov=bread @ meat @ bread, bread=bread, Xt=Xts, AXt=AXts)

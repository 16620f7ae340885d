"""The steps of an imputation, on wide arrays: the mean each strategy assigns, the conditional (mean or random)
imputation given a subject's observed values, the per-visit ANCOVA on a completed data set, and the pooling rules
(jackknife, Rubin with Barnard–Rubin df)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

from massage_outcomes.multiplicity import t_p_two_sided, t_quantile

__all__ = ["StrategyFunction", "strategy_means", "conditional_impute", "ancova", "pool_bootstrap", "pool_jackknife",
           "pool_rubin"]

#: a user strategy: (own mean (n, T), reference mean (n, T), is_mar (n, T) bool) -> mean (n, T)
StrategyFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def strategy_means(own: np.ndarray, ref: np.ndarray, ice: np.ndarray, strategy: np.ndarray,
                   custom: Mapping[str, StrategyFunction] | None = None) -> np.ndarray:
    """The mean of each subject's outcome vector under its strategy (Carpenter, Roger & Kenward 2013).

    With one covariance for all arms the covariance is unchanged by every strategy; only the mean moves.

    Examples
    --------
    >>> own = np.array([[1.0, 2.0, 3.0]]); ref = np.array([[0.5, 1.0, 1.5]])
    >>> for s in ["MAR", "JR", "CR", "CIR", "LMCF"]:
    ...     print(s, strategy_means(own, ref, np.array([1]), np.array([s])).tolist())
    MAR [[1.0, 2.0, 3.0]]
    JR [[1.0, 1.0, 1.5]]
    CR [[0.5, 1.0, 1.5]]
    CIR [[1.0, 1.5, 2.0]]
    LMCF [[1.0, 1.0, 1.0]]
    """
    T = own.shape[1]
    t = np.arange(T)[None, :]
    is_mar = t < ice[:, None]
    has_ice = ice < T
    last = np.clip(ice - 1, 0, T - 1)
    rows = np.arange(len(own))
    own_last, ref_last = own[rows, last][:, None], ref[rows, last][:, None]
    s = strategy[:, None]
    mu = own.copy()
    mu = np.where((s == "JR") & ~is_mar, ref, mu)
    mu = np.where((s == "CR") & has_ice[:, None], ref, mu)
    cir = np.where((ice == 0)[:, None], ref, own_last + ref - ref_last)
    mu = np.where((s == "CIR") & ~is_mar, cir, mu)
    mu = np.where((s == "LMCF") & ~is_mar, own_last, mu)
    for name, fn in (custom or {}).items():
        sel = strategy == name
        if sel.any():
            out = np.asarray(fn(own[sel], ref[sel], is_mar[sel]), dtype=float)
            if out.shape != own[sel].shape:
                raise ValueError(f"strategy {name!r} returned shape {out.shape}; it must return {own[sel].shape}.")
            mu[sel] = out
    return mu


def conditional_impute(Y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, *,
                       rng: np.random.Generator | None = None) -> np.ndarray:
    """Fill the NaNs of ``Y`` with their conditional mean given the observed values (``rng=None``) or a draw from
    the conditional normal distribution ``N(μ_m + Σ_mo Σ_oo⁻¹ (y_o − μ_o), Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om)``.

    Examples
    --------
    >>> S = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> conditional_impute(np.array([[2.0, np.nan]]), np.zeros((1, 2)), S).tolist()
    [[2.0, 1.0]]
    """
    miss = np.isnan(Y)
    out = Y.copy()
    T = Y.shape[1]
    codes = miss.astype(np.int64) @ (np.int64(1) << np.arange(T, dtype=np.int64))
    for code in np.unique(codes[codes > 0]):  # one pass per missingness pattern (few), never per subject
        rows = np.flatnonzero(codes == code)
        m = miss[rows[0]]
        o = ~m
        cm = mu[np.ix_(rows, m)]
        S_mm = sigma[np.ix_(m, m)]
        if o.any():
            B = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)]).T
            cm = cm + (Y[np.ix_(rows, o)] - mu[np.ix_(rows, o)]) @ B.T
            S_mm = S_mm - B @ sigma[np.ix_(o, m)]
        if rng is not None:
            Lc = np.linalg.cholesky(0.5 * (S_mm + S_mm.T))
            cm = cm + rng.standard_normal(cm.shape) @ Lc.T
        out[np.ix_(rows, m)] = cm
    return out


def ancova(Y: np.ndarray, arm: np.ndarray, Z: np.ndarray, n_arms: int) -> dict[str, np.ndarray]:
    """Per visit, ``y ~ arm + Z`` by least squares: each arm's difference from the reference (code 0).

    Returns ``estimate``, ``se`` (n_arms - 1, T), ``df`` (scalar array), and ``lsm``, ``lsm_se`` (n_arms, T): the
    mean of the predictions with every subject set to each arm (rbmi's counterfactual weights) and its SE.
    """
    n = len(arm)
    D = np.column_stack([np.ones(n), (arm[:, None] == np.arange(1, n_arms)[None, :]).astype(float), Z])
    Q, R = np.linalg.qr(D)
    B = np.linalg.solve(R, Q.T @ Y)
    resid = Y - D @ B
    df = n - D.shape[1]
    s2 = np.sum(resid**2, axis=0) / df
    Rinv = np.linalg.inv(R)
    V = Rinv @ Rinv.T
    k = np.arange(1, n_arms)
    est = B[k]
    se = np.sqrt(np.outer(np.diag(V)[k], s2))
    zbar = Z.mean(axis=0) if Z.shape[1] else np.zeros(0)
    Lm = np.column_stack([np.ones(n_arms), (np.arange(n_arms)[:, None] == np.arange(1, n_arms)[None, :]),
                          np.tile(zbar, (n_arms, 1))]).astype(float)
    lsm = Lm @ B
    lsm_se = np.sqrt(np.outer(np.einsum("ap,pq,aq->a", Lm, V, Lm), s2))
    return {"estimate": est, "se": se, "df": np.asarray(float(df)), "lsm": lsm, "lsm_se": lsm_se}


def pool_jackknife(point: np.ndarray, jack: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Jackknife: ``se = sqrt((n−1)/n Σ (θ_(i) − θ̄)²)``, normal interval and p (rbmi's ``pool`` for jackknife)."""
    n = jack.shape[0]
    se = np.sqrt((n - 1) / n * np.sum((jack - jack.mean(axis=0)) ** 2, axis=0))
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = t_p_two_sided(point / se, np.inf)
    return {"estimate": point, "se": se, "ci_low": point - z * se, "ci_high": point + z * se,
            "df": np.full(point.shape, np.inf), "p_value": p}


def _percentile_p(boot: np.ndarray) -> float:
    """Two-sided p of the percentile bootstrap: 2 min(q, 1-q), q the level at which the type-6 quantile of the
    bootstrap estimates reaches zero (rbmi's ``pval_percentile``)."""
    x = np.sort(boot)
    n = len(x)
    if np.all(x == 0):
        return 1.0
    if x[0] > 0 or x[-1] < 0:
        return 0.0
    if np.any(x == 0):
        rank = np.flatnonzero(x == 0) + 1
        q_lo, q_hi = rank.min() / (n + 1), 1 - rank.max() / (n + 1)
        return float(min(2 * min(q_lo, q_hi), 1.0))
    j = int(np.searchsorted(x, 0.0))  # x[j-1] < 0 < x[j]
    h = j + (0.0 - x[j - 1]) / (x[j] - x[j - 1])  # 1-based position between order statistics j and j+1
    q = h / (n + 1)
    return float(min(2 * min(q, 1 - q), 1.0))


def pool_bootstrap(point: np.ndarray, boot: np.ndarray, level: float, ci: str) -> dict[str, np.ndarray]:
    """Bootstrap of conditional mean imputation: ``se`` = SD of the bootstrap estimates; ``ci="normal"``:
    ``point ± z se``; ``ci="percentile"``: quantiles (type 6) of the bootstrap estimates and their p-value."""
    se = boot.std(axis=0, ddof=1)
    if ci == "normal":
        z = stats.norm.ppf(0.5 + level / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = t_p_two_sided(point / se, np.inf)
        return {"estimate": point, "se": se, "ci_low": point - z * se, "ci_high": point + z * se,
                "df": np.full(point.shape, np.inf), "p_value": p}
    a = (1 - level) / 2
    lo, hi = np.quantile(boot, [a, 1 - a], axis=0, method="weibull")
    flat = boot.reshape(len(boot), -1)
    p = np.array([_percentile_p(flat[:, k]) for k in range(flat.shape[1])]).reshape(point.shape)  # estimates
    return {"estimate": point, "se": se, "ci_low": lo, "ci_high": hi, "df": np.full(point.shape, np.inf),
            "p_value": p}


def pool_rubin(est: np.ndarray, se: np.ndarray, v_com: float | np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Rubin's rules with Barnard & Rubin's (1999) small-sample df; ``est``, ``se``: (M, ...) per imputation;
    ``v_com`` the complete-data df (a number, or one per estimate; inf for a normal-theory analysis).

    Examples
    --------
    >>> r = pool_rubin(np.array([1.0, 1.2, 0.8]), np.array([0.5, 0.5, 0.5]), 100.0, 0.95)
    >>> round(float(r["se"]), 4), round(float(r["df"]), 2)
    (0.5508, 35.93)
    """
    M = est.shape[0]
    qbar = est.mean(axis=0)
    w = np.mean(se**2, axis=0)
    b = est.var(axis=0, ddof=1)
    t = w + (1 + 1 / M) * b
    lam = (1 + 1 / M) * b / t
    v_com = np.asarray(v_com, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_obs = np.where(np.isfinite(v_com), (v_com + 1) / (v_com + 3) * v_com * (1 - lam), np.inf)
        v_old = np.where(lam > 0, (M - 1) / lam**2, np.inf)
        df = np.where(lam > 0, np.where(np.isfinite(v_obs), v_old * v_obs / (v_old + v_obs), v_old), v_obs)
    df = np.broadcast_to(df, qbar.shape).astype(float)
    sd = np.sqrt(t)
    q = t_quantile(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = t_p_two_sided(qbar / sd, df)
    return {"estimate": qbar, "se": sd, "ci_low": qbar - q * sd, "ci_high": qbar + q * sd, "df": df, "p_value": p}

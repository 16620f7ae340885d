"""Effect-size estimators as vectorized functions of per-group moments.

Each public function takes :class:`~massage_outcomes.effects.summary.Moments` (between groups) or
:class:`~massage_outcomes.effects.summary.PairedMoments` (within subjects), one element per group, and returns an
:class:`EffectArrays`: estimate, se, interval, p-value and the conventions used, for every group in one pass.

Sign convention: between groups the estimate is ``a − b`` (first minus second moments); within subjects it is
``end − start`` (``y − x``); both on the raw scale of the analysed variable. Direction of benefit is resolved by
the caller with the instrument (see :func:`massage_outcomes.effects.effect_sizes`, column ``favours``).

Notes
-----
Between groups (Cohen 1988; Hedges 1981; Glass 1976)::

    s_p = √((M2_a + M2_b)/(n_a + n_b − 2)),  d = (x̄_a − x̄_b)/s_p,  g = J(n_a + n_b − 2)·d
    J(ν) = Γ(ν/2)/(√(ν/2)·Γ((ν − 1)/2))            (exact; 1 − 3/(4ν − 1) with correction="approx")
    Δ = (x̄_a − x̄_b)/s_b                             (Glass: SD of the control group b)

Within subjects (Lakens 2013; Morris & DeShon 2002; Becker 1988), with differences D = y − x::

    d_z = D̄/s_D,  d_av = D̄/((s_x + s_y)/2),  d_rm = d_z·√(2(1 − r)),  SMCR = D̄/s_x,  SMCC = d_z
    each bias-corrected with J(n − 1) in its g_* / SMCC / SMCR form.

Pre–post–control (Morris 2008, eq. 8 and 25)::

    d_ppc2 = c_p·[(post_T − pre_T) − (post_C − pre_C)]/s_pre,pooled,   c_p = 1 − 3/(4(n_T + n_C − 2) − 1)

Exact intervals follow R *effectsize* 0.8: ``t = d/√h`` with ``h = 1/n_a + 1/n_b`` (pooled d, df = N − 2),
``h = 1/n_b + s_a²/(n_a s_b²)`` (Glass, df = n_b − 1), ``h = 1/n`` (paired d_z, df = n − 1); the noncentrality
interval of ``t`` times √h; Hedges' g multiplies the d interval by the same J.

References
----------
Hedges LV (1981) doi:10.3102/10769986006002107. Lakens D (2013) doi:10.3389/fpsyg.2013.00863.
Morris SB (2008) doi:10.1177/1094428106291059. Algina J, Keselman HJ (2003) doi:10.1177/0013164403256358.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from massage_outcomes.effects import _kernels
from massage_outcomes.effects.intervals import (
    nct_ncp_interval,
    nct_ncp_interval_p,
    normal_interval,
    t_interval,
)
from massage_outcomes.effects.intervals import t_p_two_sided as _t_p_two_sided
from massage_outcomes.effects.summary import Moments, PairedMoments
from massage_outcomes.errors import ArgumentError

__all__ = [
    "EffectArrays",
    "BETWEEN_MEASURES",
    "PAIRED_MEASURES",
    "hedges_j",
    "between_point",
    "paired_point",
    "between_effect",
    "paired_effect",
    "ppc2_point",
    "ppc2_effect",
]

BETWEEN_MEASURES = ("cohens_d", "hedges_g", "glass_delta", "mean_diff", "smd")
PAIRED_MEASURES = (
    "cohens_d", "hedges_g", "d_z", "g_z", "d_av", "g_av", "d_rm", "g_rm", "smcc", "smcr", "mean_change",
)
SE_FORMULAS = ("hedges_olkin", "revman", "metafor", "metafor_ub", "delta")


@dataclass(frozen=True, eq=False)
class EffectArrays:
    """Estimates for many groups at once, with the conventions that produced them.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value, df : arrays, one element per group
    note : array of str ('' when nothing is wrong)
    conventions : dict with measure, bias_correction, sd_used, ci_method, se_formula, p_method
    """

    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    df: np.ndarray
    note: np.ndarray
    conventions: dict[str, str] = field(default_factory=dict)


def hedges_j(df: object, *, correction: str = "exact") -> np.ndarray:
    """Small-sample correction factor J(ν) for a standardized difference on ν degrees of freedom.

    Parameters
    ----------
    df : degrees of freedom ν of the standardizing SD
    correction : "exact" (gamma-function form, Hedges 1981) or "approx" (1 − 3/(4ν − 1)); "none" gives 1

    Examples
    --------
    >>> round(float(hedges_j(18)), 6), round(float(hedges_j(18, correction="approx")), 6)
    (0.957646, 0.957746)
    """
    nu = np.asarray(df, dtype=float)
    if correction == "none":
        return np.ones_like(nu)
    if nu.ndim == 2 and nu.shape[0] > 1 and (nu == nu[:1]).all():
        # bootstrap draws: (B, G) df that repeat down the columns; the gamma functions once per group (the
        # same values) instead of B times: 10 ms of each BCa run of benchmark (c)
        return np.repeat(hedges_j(nu[0], correction=correction)[None, :], nu.shape[0], axis=0)
    if correction == "exact" and nu.ndim == 1 and nu.size > 512:
        # many groups share a df (group sizes repeat): the gamma functions once per distinct df, the same
        # values (5,005 groups of benchmark (b): ~0.5 -> ~0.15 ms)
        udf, inv = _kernels.distinct(nu)
        return hedges_j(udf, correction=correction)[inv]
    with np.errstate(invalid="ignore", divide="ignore"):
        if correction == "approx":
            return np.where(nu > 1, 1.0 - 3.0 / (4.0 * nu - 1.0), np.nan)
        if correction != "exact":
            raise ArgumentError(f"`correction` must be 'exact', 'approx' or 'none', got {correction!r}.")
        return np.where(
            nu > 1, np.exp(special.gammaln(nu / 2) - 0.5 * np.log(nu / 2) - special.gammaln((nu - 1) / 2)), np.nan
        )


def _pooled_sd(a: Moments, b: Moments) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((a.m2 + b.m2) / (a.n + b.n - 2))


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _canonical_between(measure: str) -> str:
    if measure == "smd":
        return "hedges_g"
    if measure not in BETWEEN_MEASURES:
        raise ArgumentError(
            f"`measure` {measure!r} is not a between-group measure; use one of {', '.join(BETWEEN_MEASURES)} "
            "(or paired=True / a within-subject call for the paired family)."
        )
    return measure


def between_point(a: Moments, b: Moments, *, measure: str = "hedges_g", correction: str = "exact") -> np.ndarray:
    """Point estimate a − b of a between-group measure, elementwise (any array shape)."""
    measure = _canonical_between(measure)
    diff = a.mean - b.mean
    if measure == "mean_diff":
        return diff
    if measure == "glass_delta":
        return _div(diff, b.sd)
    d = _div(diff, _pooled_sd(a, b))
    if measure == "hedges_g":
        return d * hedges_j(a.n + b.n - 2, correction=correction)
    return d


def _notes_between(a: Moments, b: Moments, measure: str) -> np.ndarray:
    notes = np.full(np.shape(a.n), "", dtype=object)
    small = (a.n < 2) | (b.n < 2)
    notes[small] = "n < 2 in a group: no SD"
    with np.errstate(invalid="ignore"):
        zero_a = (a.m2 <= 0) & (a.n >= 2)
        zero_b = (b.m2 <= 0) & (b.n >= 2)
    both = zero_a & zero_b & ~small
    notes[both & (a.mean == b.mean)] = "all values equal: effect undefined"
    notes[both & (a.mean != b.mean)] = "zero variance in both groups: standardized effect undefined"
    if measure == "glass_delta":
        notes[zero_b & ~both & ~small] = "zero variance in the control group: Glass's delta undefined"
    return notes


def between_effect(
    a: Moments,
    b: Moments,
    *,
    measure: str = "hedges_g",
    ci: str = "exact",
    level: float = 0.95,
    correction: str = "exact",
    se_formula: str | None = None,
) -> EffectArrays:
    """Between-group effect a − b for every group, with SE, interval and p-value.

    Parameters
    ----------
    a, b : moments of the two arms (one element per group)
    measure : "cohens_d", "hedges_g" (= "smd"), "glass_delta" (b is the control) or "mean_diff"
    ci : "exact" (noncentral t; Welch t for mean_diff) or "normal" (estimate ± z·se)
    level : confidence level
    correction : Hedges' J, "exact" (gamma) or "approx" (1 − 3/(4ν − 1))
    se_formula : for standardized measures "hedges_olkin" (default; = metafor vtype "LS"),
        "revman" (N − 3.94) or "metafor_ub" (metafor's unbiased vtype "UB", Hedges' g only)

    Returns
    -------
    EffectArrays

    Examples
    --------
    >>> from massage_outcomes.effects.summary import Moments
    >>> a, b = Moments.from_stats(20, 5.0, 2.0), Moments.from_stats(20, 4.0, 2.0)
    >>> r = between_effect(a, b, measure="cohens_d")
    >>> float(r.estimate), round(float(r.ci_low), 4), round(float(r.ci_high), 4)
    (0.5, -0.133, 1.1267)
    """
    measure = _canonical_between(measure)
    n1, n2 = a.n, b.n
    N = n1 + n2
    diff = a.mean - b.mean
    notes = _notes_between(a, b, measure)
    conv: dict[str, str] = {"measure": measure}
    p: np.ndarray | None
    if measure == "mean_diff":
        v1, v2 = a.var, b.var
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.sqrt(v1 / n1 + v2 / n2)
            dfw = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
            tstat = _div(diff, se)
        if ci == "exact":
            lo, hi = t_interval(diff, se, dfw, level)
            conv["ci_method"] = "welch_t"
        elif ci == "normal":
            lo, hi = normal_interval(diff, se, level)
            conv["ci_method"] = "normal"
        else:
            raise ArgumentError(f"`ci` must be 'exact' or 'normal' here (bootstrap is separate), got {ci!r}.")
        with np.errstate(invalid="ignore"):
            p = _t_p_two_sided(tstat, dfw)
        conv.update(bias_correction="none", sd_used="none (raw units)", se_formula="welch", p_method="welch_t")
        return EffectArrays(diff, se, lo, hi, p, dfw, notes, conv)

    if measure == "glass_delta":
        s = b.sd
        df = n2 - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            hn = 1.0 / n2 + a.var / (n1 * b.var)
        est = _div(diff, s)
        j = np.ones_like(est)
        conv.update(bias_correction="none", sd_used="sd of b (control)")
        with np.errstate(invalid="ignore", divide="ignore"):
            se_normal = np.sqrt(hn + est**2 / (2 * (n2 - 1)))
        se_name = "hedges_olkin (glass: h + delta^2/(2(n_b - 1)))"
        v1, v2 = a.var, b.var
        with np.errstate(invalid="ignore", divide="ignore"):
            sew = np.sqrt(v1 / n1 + v2 / n2)
            dfw = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
            p = _t_p_two_sided(_div(diff, sew), dfw)
        conv["p_method"] = "welch_t"
    else:
        s = _pooled_sd(a, b)
        df = N - 2
        with np.errstate(divide="ignore"):  # an empty arm: its row gets a note, not a numpy warning
            hn = 1.0 / n1 + 1.0 / n2
        d = _div(diff, s)
        j = hedges_j(df, correction=correction) if measure == "hedges_g" else np.ones_like(d)
        est = d * j
        conv.update(
            bias_correction=f"hedges_j_{correction}(N-2)" if measure == "hedges_g" else "none",
            sd_used="pooled sd",
        )
        sf = se_formula or "hedges_olkin"
        with np.errstate(invalid="ignore", divide="ignore"):
            if sf in ("hedges_olkin", "metafor"):
                se_normal = np.sqrt(N / (n1 * n2) + est**2 / (2 * N))
                se_name = "hedges_olkin: N/(n1 n2) + es^2/(2N)"
            elif sf == "revman":
                se_normal = np.sqrt(N / (n1 * n2) + est**2 / (2 * (N - 3.94)))
                se_name = "revman: N/(n1 n2) + es^2/(2(N - 3.94))"
            elif sf == "metafor_ub":
                jj = hedges_j(df, correction=correction)
                se_normal = np.sqrt(hn + (1 - (df - 2) / (df * jj**2)) * est**2)
                se_name = "metafor_ub: 1/n1 + 1/n2 + (1 - (N-4)/((N-2) J^2)) g^2"
            else:
                raise ArgumentError(
                    f"`se_formula` must be 'hedges_olkin', 'revman' or 'metafor_ub' here, got {se_formula!r}."
                )
            # with the exact interval, the p-value comes with it below (the same t; one incomplete beta for both)
            p = _t_p_two_sided(_div(d, np.sqrt(hn)), df) if ci != "exact" else None
        conv["p_method"] = "student_t (pooled sd)"
    with np.errstate(invalid="ignore", divide="ignore"):
        d_raw = _div(diff, s)
    if ci == "exact":
        with np.errstate(invalid="ignore", divide="ignore"):
            tstat = d_raw / np.sqrt(hn)
        if p is None:
            ncp_lo, ncp_hi, p = nct_ncp_interval_p(tstat, df, level)
        else:
            ncp_lo, ncp_hi = nct_ncp_interval(tstat, df, level)
        lo, hi = ncp_lo * np.sqrt(hn) * j, ncp_hi * np.sqrt(hn) * j
        conv["ci_method"] = "exact_nct" + (" (d interval x J, as R effectsize)" if measure == "hedges_g" else "")
    elif ci == "normal":
        lo, hi = normal_interval(est, se_normal, level)
        conv["ci_method"] = "normal"
    else:
        raise ArgumentError(f"`ci` must be 'exact' or 'normal' here (bootstrap is separate), got {ci!r}.")
    conv["se_formula"] = se_name
    assert p is not None
    return EffectArrays(est, se_normal, lo, hi, p, np.asarray(df, dtype=float), notes, conv)


# --------------------------------------------------------------------------------------------- within subjects
_PAIRED_ALIAS = {"cohens_d": "d_z", "hedges_g": "g_z", "smcc": "g_z"}


def _paired_parts(measure: str) -> tuple[str, bool]:
    if measure not in PAIRED_MEASURES:
        raise ArgumentError(
            f"`measure` {measure!r} is not a within-subject measure; use one of {', '.join(PAIRED_MEASURES)}."
        )
    base = _PAIRED_ALIAS.get(measure, measure)
    if base in ("mean_change", "smcr"):
        return base, base == "smcr"
    return "d_" + base[2:], base.startswith("g_")


def _paired_standardizer(p: PairedMoments, kind: str) -> np.ndarray:
    sx, sy = p.x.sd, p.y.sd
    sd_d = p.diff.sd
    if kind == "d_z":
        return sd_d
    if kind == "d_av":
        return (sx + sy) / 2.0
    if kind == "d_rm":
        with np.errstate(invalid="ignore", divide="ignore"):
            return sd_d / np.sqrt(2.0 * (1.0 - p.r))
    if kind == "smcr":
        return sx
    raise ArgumentError(f"unknown paired standardizer {kind!r}")


def paired_point(p: PairedMoments, *, measure: str = "hedges_g", correction: str = "exact") -> np.ndarray:
    """Point estimate (end − start) of a within-subject measure, elementwise."""
    kind, corrected = _paired_parts(measure)
    md = p.mean_y - p.mean_x
    if kind == "mean_change":
        return md
    est = _div(md, _paired_standardizer(p, kind))
    if corrected:
        est = est * hedges_j(p.n - 1, correction=correction)
    return est


def _delta_var_standardizer(p: PairedMoments, kind: str) -> np.ndarray:
    """Var(S)/S² for the standardizer S(s_xx, s_yy, s_xy) under bivariate normality (delta method)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        nm1 = p.n - 1
        sxx, syy, sxy = p.m2_x / nm1, p.m2_y / nm1, p.cxy / nm1

        def S(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
            sdx, sdy = np.sqrt(a), np.sqrt(b)
            vd = a + b - 2 * c
            if kind == "d_z":
                return np.sqrt(vd)
            if kind == "d_av":
                return (sdx + sdy) / 2
            if kind == "d_rm":
                r = c / (sdx * sdy)
                return np.sqrt(vd) / np.sqrt(2 * (1 - r))
            return sdx  # smcr

        s0 = S(sxx, syy, sxy)
        h = 1e-6 * (sxx + syy)
        g1 = (S(sxx + h, syy, sxy) - S(sxx - h, syy, sxy)) / (2 * h)
        g2 = (S(sxx, syy + h, sxy) - S(sxx, syy - h, sxy)) / (2 * h)
        g3 = (S(sxx, syy, sxy + h) - S(sxx, syy, sxy - h)) / (2 * h)
        v11, v22, v33 = 2 * sxx**2, 2 * syy**2, sxy**2 + sxx * syy
        v12, v13, v23 = 2 * sxy**2, 2 * sxx * sxy, 2 * syy * sxy
        var_s = (
            g1 * g1 * v11 + g2 * g2 * v22 + g3 * g3 * v33 + 2 * (g1 * g2 * v12 + g1 * g3 * v13 + g2 * g3 * v23)
        ) / nm1
        return var_s / s0**2


def _notes_paired(p: PairedMoments, kind: str) -> np.ndarray:
    notes = np.full(np.shape(p.n), "", dtype=object)
    small = p.n < 2
    notes[small] = "n < 2 pairs: no SD"
    dm = p.diff
    with np.errstate(invalid="ignore"):
        zero_d = (dm.m2 <= 1e-300) & ~small
    md = p.mean_y - p.mean_x
    if kind != "mean_change":
        notes[zero_d & (md == 0)] = "all changes equal to zero: effect undefined"
        notes[zero_d & (md != 0)] = "zero variance of the change: standardized effect undefined"
        if kind in ("d_av", "smcr", "d_rm"):
            zx = (p.m2_x <= 0) & ~small & ~zero_d
            notes[zx] = "zero variance at an occasion: standardized effect undefined"
    return notes


def paired_effect(
    p: PairedMoments,
    *,
    measure: str = "hedges_g",
    ci: str = "exact",
    level: float = 0.95,
    correction: str = "exact",
    se_formula: str | None = None,
) -> EffectArrays:
    """Within-subject effect end − start for every group.

    Parameters
    ----------
    p : paired moments (x = start, y = end), one element per group
    measure : "d_z" (= paired "cohens_d"), "g_z" (= paired "hedges_g", = metafor "smcc"), "d_av", "g_av",
        "d_rm", "g_rm", "smcr" (change / SD at start, bias-corrected: metafor SMCR) or "mean_change"
    ci : "exact" (noncentral t for d_z / g_z / smcc as R effectsize; t interval for mean_change) or "normal".
        d_av, d_rm and smcr have no exact interval: ask for "normal" (or a bootstrap).
    correction : J on n − 1 degrees of freedom, "exact" or "approx"
    se_formula : "hedges_olkin" (1/n + es²/(2n); default for d_z/g_z), "metafor" (metafor LS: SMCC 1/n + es²/(2n),
        SMCR 2(1 − r)/n + es²/(2n)) or "delta" (normal-theory delta method; default for d_av, d_rm, smcr)

    Returns
    -------
    EffectArrays

    Examples
    --------
    >>> from massage_outcomes.effects.summary import PairedMoments
    >>> p = PairedMoments.from_values([6, 7, 5, 8, 6.5], [4, 6, 4, 5, 5.5])
    >>> round(float(paired_effect(p, measure="d_z").estimate), 4)
    -1.7889
    """
    kind, corrected = _paired_parts(measure)
    n = p.n
    md = p.mean_y - p.mean_x
    sd_d = p.diff.sd
    notes = _notes_paired(p, kind)
    est = paired_point(p, measure=measure, correction=correction)
    conv: dict[str, str] = {"measure": measure if measure not in _PAIRED_ALIAS else f"{measure} ({_PAIRED_ALIAS[measure]})"}
    with np.errstate(invalid="ignore", divide="ignore"):
        tstat = md / (sd_d / np.sqrt(n))
        pval = _t_p_two_sided(tstat, n - 1)
    conv["p_method"] = "paired_t"
    df = n - 1
    if kind == "mean_change":
        se = sd_d / np.sqrt(n)
        if ci == "exact":
            lo, hi = t_interval(md, se, df, level)
            conv["ci_method"] = "t"
        elif ci == "normal":
            lo, hi = normal_interval(md, se, level)
            conv["ci_method"] = "normal"
        else:
            raise ArgumentError(f"`ci` must be 'exact' or 'normal' here, got {ci!r}.")
        conv.update(bias_correction="none", sd_used="none (raw units)", se_formula="sd_change/sqrt(n)")
        return EffectArrays(md, se, lo, hi, pval, df, notes, conv)
    j = hedges_j(df, correction=correction) if corrected else np.ones_like(est)
    conv["bias_correction"] = f"hedges_j_{correction}(n-1)" if corrected else "none"
    conv["sd_used"] = {
        "d_z": "sd of change", "d_av": "mean of the two occasion sds", "d_rm": "sd_change/sqrt(2(1-r))",
        "smcr": "sd at start",
    }[kind]
    sf = se_formula or ("hedges_olkin" if kind == "d_z" else "delta")
    with np.errstate(invalid="ignore", divide="ignore"):
        if sf == "hedges_olkin" and kind == "d_z":
            se = np.sqrt(1 / n + est**2 / (2 * n))
            se_name = "hedges_olkin: 1/n + es^2/(2n)"
        elif sf == "metafor" and kind in ("d_z", "smcr"):
            r = p.r
            se = np.sqrt((2 * (1 - r) if kind == "smcr" else 1.0) / n + est**2 / (2 * n))
            se_name = "metafor LS: " + ("2(1-r)/n" if kind == "smcr" else "1/n") + " + es^2/(2n)"
        elif sf == "delta":
            ratio2 = (sd_d / _paired_standardizer(p, kind)) ** 2
            se = np.sqrt(ratio2 / n + est**2 * _delta_var_standardizer(p, kind))
            se_name = "delta (bivariate normal): (s_D/S)^2/n + es^2 Var(S)/S^2"
        else:
            raise ArgumentError(
                f"`se_formula` {se_formula!r} does not apply to {measure!r}; use 'hedges_olkin', 'metafor' or 'delta'."
            )
    conv["se_formula"] = se_name
    if ci == "exact":
        if kind != "d_z":
            raise ArgumentError(
                f"no exact (noncentral t) interval for {measure!r}: its standardizer is not the SD of the change. "
                "Pass ci='normal' (delta-method SE) or ci='bca' / 'percentile'."
            )
        lo_ncp, hi_ncp = nct_ncp_interval(tstat, df, level)
        with np.errstate(invalid="ignore"):
            lo, hi = lo_ncp / np.sqrt(n) * j, hi_ncp / np.sqrt(n) * j
        conv["ci_method"] = "exact_nct" + (" (d_z interval x J, as R effectsize)" if corrected else "")
    elif ci == "normal":
        lo, hi = normal_interval(est, se, level)
        conv["ci_method"] = "normal"
    else:
        raise ArgumentError(f"`ci` must be 'exact' or 'normal' here, got {ci!r}.")
    return EffectArrays(est, se, lo, hi, pval, df, notes, conv)


# ------------------------------------------------------------------------------------------ pre-post-control
def _ppc2_parts(t: PairedMoments, c: PairedMoments, correction: str) -> tuple[np.ndarray, ...]:
    nt, nc = t.n, c.n
    with np.errstate(invalid="ignore", divide="ignore"):
        sd_pre = np.sqrt((t.m2_x + c.m2_x) / (nt + nc - 2))
        cp = hedges_j(nt + nc - 2, correction=correction)
        raw = (t.mean_y - t.mean_x) - (c.mean_y - c.mean_x)
        d = cp * raw / sd_pre
        rho = (t.cxy + c.cxy) / np.sqrt((t.m2_x + c.m2_x) * (t.m2_y + c.m2_y))
    return d, cp, rho, nt, nc


def ppc2_point(t: PairedMoments, c: PairedMoments, *, correction: str = "approx") -> np.ndarray:
    """Morris (2008) d_ppc2 for treatment t versus control c (x = pre, y = post), elementwise."""
    return _ppc2_parts(t, c, correction)[0]


def ppc2_effect(
    t: PairedMoments, c: PairedMoments, *, level: float = 0.95, correction: str = "approx", ci: str = "normal"
) -> EffectArrays:
    """Morris (2008) pre–post–control effect d_ppc2 with its sampling variance (eq. 25).

    The pre-test SDs are pooled across arms; ρ is the pooled within-arm pre–post correlation; c_p is Morris's
    approximate correction 1 − 3/(4(n_T + n_C − 2) − 1) by default (``correction="exact"`` uses J).

    Examples
    --------
    >>> from massage_outcomes.effects.summary import PairedMoments
    >>> t = PairedMoments.from_values([6, 7, 5, 8, 6, 7], [3, 5, 4, 4, 4, 5])
    >>> c = PairedMoments.from_values([6, 8, 5, 7, 6, 6], [5, 7, 5, 6, 6, 6])
    >>> round(float(ppc2_effect(t, c).estimate), 4)
    -1.6259
    """
    if ci != "normal":
        raise ArgumentError(
            f"d_ppc2 has a normal-approximation interval only (Morris 2008); pass ci='normal' or a bootstrap, got {ci!r}."
        )
    d, cp, rho, nt, nc = _ppc2_parts(t, c, correction)
    with np.errstate(invalid="ignore", divide="ignore"):
        N = nt + nc
        h = 2 * (1 - rho) * N / (nt * nc)
        var = cp**2 * h * (N - 2) / (N - 4) * (1 + d**2 / h) - d**2
        se = np.sqrt(var)
        z = d / se
    lo, hi = normal_interval(d, se, level)
    p = _t_p_two_sided(z, np.inf)  # the z test (Student's t on infinite df), as every p-value here
    notes = np.full(np.shape(d), "", dtype=object)
    notes[(nt < 2) | (nc < 2)] = "n < 2 in an arm"
    notes[((nt + nc) <= 4) & (notes == "")] = "n_T + n_C <= 4: Morris variance undefined"
    conv = {
        "measure": "d_ppc2",
        "bias_correction": f"c_p {correction} (N-2)",
        "sd_used": "pooled pre-test sd",
        "se_formula": "morris2008 eq.25 with pooled pre-post r",
        "ci_method": "normal",
        "p_method": "z (d/se)",
    }
    return EffectArrays(d, se, lo, hi, p, N - 2, notes, conv)

"""Baseline-adjusted (ANCOVA) group differences: follow-up ~ baseline + group, for many groups at once.

For two arms with a common baseline slope, the OLS fit of ``followup ~ baseline + group`` depends on the data only
through each arm's paired moments (x = baseline, y = follow-up), so it is computed for any number of groups in one
vectorized pass::

    b      = (C_a + C_b)/(Mx_a + Mx_b)                      pooled within-arm slope
    diff   = (ȳ_a − ȳ_b) − b (x̄_a − x̄_b)                   adjusted difference a − b
    s²     = (My_a + My_b − (C_a + C_b)²/(Mx_a + Mx_b))/(N − 3)
    se     = √(s² (1/n_a + 1/n_b + (x̄_a − x̄_b)²/(Mx_a + Mx_b)))   on N − 3 df

which is exactly what :func:`statsmodels.formula.api.ols` (and R's ``lm``) give; :func:`ancova_ols` runs that fit
for one group (with optional extra covariates) and the tests check that both agree with R.

Standardized form: ``diff / SD`` with the SD named in ``sd_used``: ``"followup"`` = the pooled raw SD of the
follow-up scores (default: comparable to an unadjusted d; What Works Clearinghouse convention) or ``"residual"`` =
the model's residual SD (√s², larger effects when the baseline predicts well).

References
----------
Vickers AJ, Altman DG (2001) Analysing controlled trials with baseline and follow up measurements. BMJ 323:1123.
doi:10.1136/bmj.323.7321.1123
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from massage_outcomes.effects.estimators import EffectArrays, hedges_j
from massage_outcomes.effects.intervals import nct_ncp_interval, normal_interval, t_interval
from massage_outcomes.effects.summary import PairedMoments
from massage_outcomes.errors import ArgumentError
from massage_outcomes.multiplicity import t_p_two_sided

__all__ = ["ancova_point", "ancova_effect", "ancova_ols"]


def _parts(a: PairedMoments, b: PairedMoments) -> tuple[np.ndarray, ...]:
    with np.errstate(invalid="ignore", divide="ignore"):
        sxx = a.m2_x + b.m2_x
        sxy = a.cxy + b.cxy
        syy = a.m2_y + b.m2_y
        slope = sxy / sxx
        dx = a.mean_x - b.mean_x
        diff = (a.mean_y - b.mean_y) - slope * dx
        N = a.n + b.n
        s2 = np.maximum(syy - sxy**2 / sxx, 0.0) / (N - 3)
        se = np.sqrt(s2 * (1 / a.n + 1 / b.n + dx**2 / sxx))
        sd_follow = np.sqrt(syy / (N - 2))
    return diff, se, np.sqrt(s2), sd_follow, slope, N


def ancova_point(
    a: PairedMoments, b: PairedMoments, *, measure: str = "mean_diff", standardizer: str = "followup",
    correction: str = "exact",
) -> np.ndarray:
    """Adjusted difference a − b (raw, or standardized for measure "cohens_d"/"hedges_g"), elementwise."""
    diff, _se, s_res, s_fu, _b, N = _parts(a, b)
    if measure == "mean_diff":
        return diff
    sd = s_res if standardizer == "residual" else s_fu
    with np.errstate(invalid="ignore", divide="ignore"):
        est = diff / sd
    if measure == "hedges_g":
        est = est * hedges_j(N - 3 if standardizer == "residual" else N - 2, correction=correction)
    return est


def ancova_effect(
    a: PairedMoments,
    b: PairedMoments,
    *,
    measure: str = "mean_diff",
    standardizer: str = "followup",
    ci: str = "exact",
    level: float = 0.95,
    correction: str = "exact",
) -> EffectArrays:
    """Baseline-adjusted effect a − b per group from paired moments (x = baseline, y = follow-up).

    Parameters
    ----------
    a, b : paired moments of the two arms
    measure : "mean_diff" (adjusted difference in raw units), "cohens_d" or "hedges_g" (standardized)
    standardizer : "followup" (pooled raw follow-up SD, J on N − 2) or "residual" (residual SD, J on N − 3)
    ci : "exact" (t on N − 3 df for the difference; for the standardized form the noncentral-t interval of the
        adjusted t statistic, scaled by se/SD: exact for "residual", conditional on the SD for "followup")
        or "normal"

    Examples
    --------
    >>> from massage_outcomes.effects.summary import PairedMoments
    >>> a = PairedMoments.from_values([6, 7, 5, 8, 6, 7], [3, 5, 4, 4, 4, 5])
    >>> b = PairedMoments.from_values([6, 8, 5, 7, 6, 6], [5, 7, 5, 6, 6, 6])
    >>> r = ancova_effect(a, b)
    >>> round(float(r.estimate), 4), r.conventions["sd_used"]
    (-1.741, 'none (raw units)')
    """
    if measure not in ("mean_diff", "cohens_d", "hedges_g"):
        raise ArgumentError(f"ANCOVA `measure` must be 'mean_diff', 'cohens_d' or 'hedges_g', got {measure!r}.")
    if standardizer not in ("followup", "residual"):
        raise ArgumentError(f"`standardizer` must be 'followup' or 'residual', got {standardizer!r}.")
    diff, se, s_res, s_fu, _slope, N = _parts(a, b)
    df = N - 3
    with np.errstate(invalid="ignore", divide="ignore"):
        tstat = diff / se
        p = t_p_two_sided(tstat, df)
    notes = np.full(np.shape(diff), "", dtype=object)
    notes[(a.n < 2) | (b.n < 2)] = "n < 2 in an arm"
    notes[((N <= 3) | ~np.isfinite(se)) & (notes == "")] = "too few subjects or no baseline variance for ANCOVA"
    conv = {"measure": f"ancova_{measure}", "p_method": "ols_t (N-3 df)", "se_formula": "ols (common slope)"}
    if measure == "mean_diff":
        if ci == "exact":
            lo, hi = t_interval(diff, se, df, level)
            conv["ci_method"] = "t (N-3 df)"
        else:
            lo, hi = normal_interval(diff, se, level)
            conv["ci_method"] = "normal"
        conv.update(bias_correction="none", sd_used="none (raw units)")
        return EffectArrays(diff, se, lo, hi, p, df, notes, conv)
    sd = s_res if standardizer == "residual" else s_fu
    jdf = N - 3 if standardizer == "residual" else N - 2
    j = hedges_j(jdf, correction=correction) if measure == "hedges_g" else np.ones_like(diff)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = diff / sd * j
        scale = se / sd
    conv["sd_used"] = "residual sd" if standardizer == "residual" else "pooled follow-up sd"
    conv["bias_correction"] = f"hedges_j_{correction}({'N-3' if standardizer == 'residual' else 'N-2'})" if measure == "hedges_g" else "none"
    conv["se_formula"] = "ols se / sd"
    se_std = scale * j
    if ci == "exact":
        lo_n, hi_n = nct_ncp_interval(tstat, df, level)
        lo, hi = lo_n * scale * j, hi_n * scale * j
        conv["ci_method"] = "exact_nct (adjusted t" + ("" if standardizer == "residual" else "; sd treated as fixed") + ")"
    else:
        lo, hi = normal_interval(est, se_std, level)
        conv["ci_method"] = "normal"
    return EffectArrays(est, se_std, lo, hi, p, df, notes, conv)


def ancova_ols(
    frame: pd.DataFrame,
    *,
    followup: str,
    baseline: str,
    group: str,
    a: str,
    b: str,
    covariates: Sequence[str] = (),
    level: float = 0.95,
) -> dict[str, float]:
    """One ANCOVA fit with statsmodels OLS: ``followup ~ baseline + C(group) [+ covariates]``, a − b.

    Returns a dict with estimate, se, ci_low, ci_high, p_value, df, residual_sd, n_1, n_2.
    """
    import statsmodels.api as sm

    sub = frame.loc[frame[group].isin([a, b])].dropna(subset=[followup, baseline, *covariates])
    g = (sub[group] == a).to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(sub)), sub[baseline].to_numpy(float), g,
                         *[sub[c].to_numpy(float) for c in covariates]])
    fit = sm.OLS(sub[followup].to_numpy(float), X).fit()
    lo, hi = fit.conf_int(alpha=1 - level)[2]
    return {
        "estimate": float(fit.params[2]), "se": float(fit.bse[2]), "ci_low": float(lo), "ci_high": float(hi),
        "p_value": float(fit.pvalues[2]), "df": float(fit.df_resid), "residual_sd": float(np.sqrt(fit.scale)),
        "n_1": float(g.sum()), "n_2": float(len(g) - g.sum()),
    }

"""The public effect-size API: :func:`effect_size` for two arrays, :func:`effect_sizes` for grouped data.

Both reduce the data to per-group moments (:mod:`~massage_outcomes.effects.summary`) and hand them to the
vectorized estimators, so a table with thousands of therapist × condition groups costs one pass over the rows.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, cast

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import multiplicity as _mt
from massage_outcomes.effects import _kernels
from massage_outcomes.effects.ancova import ancova_effect, ancova_point
from massage_outcomes.effects.bootstrap import bootstrap_moments
from massage_outcomes.effects.estimators import (
    BETWEEN_MEASURES,
    PAIRED_MEASURES,
    EffectArrays,
    between_effect,
    between_point,
    paired_effect,
    paired_point,
    ppc2_effect,
    ppc2_point,
)
from massage_outcomes.effects.occasions import pair_occasions, resolve_end
from massage_outcomes.effects.summary import (
    Moments,
    PairedMoments,
    _group_codes,
    arm_codes,
    group_codes,
    grouped_moments,
    grouped_paired_moments,
)
from massage_outcomes.errors import ArgumentError, DataValidationError, SmallSampleWarning
from massage_outcomes.frames import analysis_frame
from massage_outcomes.results import ResultFrame, favours_between, favours_within, integer_counts

__all__ = ["EffectSize", "effect_size", "effect_sizes", "grouped_effects", "ancova"]

CI_METHODS = ("exact", "normal", "bca", "percentile")
_CONVENTION_COLUMNS = ("bias_correction", "sd_used", "ci_method", "se_formula")


@dataclass(frozen=True)
class EffectSize:
    """One effect size with its interval and the conventions that produced it.

    Attributes
    ----------
    measure : the measure ("hedges_g", "d_z", ...)
    estimate, se, ci_low, ci_high, level, p_value, df : the numbers (se follows ``se_formula``)
    n_1, mean_1, sd_1, n_2, mean_2, sd_2 : the compared samples (x and y as passed)
    bias_correction, sd_used, ci_method, se_formula, p_method : conventions, in words
    note : '' or why the result is unreliable
    draws : the bootstrap replicates when requested (else None)
    """

    measure: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    level: float
    p_value: float
    df: float
    n_1: float
    mean_1: float
    sd_1: float
    n_2: float
    mean_2: float
    sd_2: float
    bias_correction: str
    sd_used: str
    ci_method: str
    se_formula: str
    p_method: str
    note: str = ""
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def ci(self) -> tuple[float, float]:
        """(ci_low, ci_high)."""
        return (self.ci_low, self.ci_high)

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame with every field except the draws."""
        return pd.DataFrame([{f.name: getattr(self, f.name) for f in fields(self) if f.name != "draws"}])

    def __repr__(self) -> str:
        pct = f"{100 * self.level:g}%"
        s = (f"EffectSize({self.measure} = {self.estimate:.4g}, {pct} CI [{self.ci_low:.4g}, {self.ci_high:.4g}], "
             f"se = {self.se:.4g}, p = {self.p_value:.3g}; n = {self.n_1:g}/{self.n_2:g}; {self.ci_method}")
        if self.note:
            s += f"; note: {self.note}"
        return s + ")"


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ArgumentError(f"`level` must be between 0 and 1 (e.g. 0.95), got {level!r}.")


def _check_ci(ci: str) -> None:
    if ci not in CI_METHODS:
        raise ArgumentError(f"`ci` must be one of {', '.join(CI_METHODS)}; got {ci!r}.")


def _warn_notes(notes: np.ndarray, where: str = "") -> None:
    bad = [str(n) for n in np.atleast_1d(notes) if n]
    if bad:
        uniq = sorted(set(bad))
        warnings.warn(
            f"{len(bad)} result(s){where} are unreliable: {'; '.join(uniq)} (see the `note` column/field).",
            SmallSampleWarning,
            stacklevel=3,
        )


def _bootstrap_result(
    res: EffectArrays, groups: list[list[np.ndarray]], statistic: Callable[[Sequence[Any]], np.ndarray], *,
    ci: str, level: float, n_resamples: int, rng: Any, return_draws: bool,
) -> tuple[EffectArrays, np.ndarray | None]:
    boot = bootstrap_moments(groups, statistic, n_resamples=n_resamples, method=ci, level=level, rng=rng,
                             return_draws=return_draws)
    conv = dict(res.conventions)
    conv["ci_method"] = f"bootstrap_{ci} (B={n_resamples})"
    conv["se_formula"] = "bootstrap sd"
    out = EffectArrays(res.estimate, boot.se, boot.ci_low, boot.ci_high, res.p_value, res.df, res.note, conv)
    return out, boot.draws


# ----------------------------------------------------------------------------------------------- two arrays
def effect_size(
    x: object,
    y: object = None,
    *,
    measure: str = "hedges_g",
    paired: bool = False,
    ci: str = "exact",
    level: float = 0.95,
    correction: str = "exact",
    se_formula: str | None = None,
    n_resamples: int = 2000,
    rng: np.random.Generator | int | None = None,
    return_draws: bool = False,
) -> EffectSize:
    """Effect size of ``x`` versus ``y`` (or of ``x`` against zero), with its interval.

    Sign convention: the estimate is ``x − y`` on the raw scale of the data (paired: the mean of ``x − y``), so
    pass the treatment (or the later occasion) first.

    Parameters
    ----------
    x, y : array-like
        Two samples (``y=None``: one sample against 0, as a paired difference). NaNs are dropped (pairwise
        when ``paired``).
    measure : str
        Independent samples: "cohens_d", "hedges_g" (= "smd"), "glass_delta" (``y`` is the control), "mean_diff".
        Paired: "cohens_d"/"d_z", "hedges_g"/"g_z"/"smcc", "d_av", "g_av", "d_rm", "g_rm", "smcr" (standardized by
        the SD of ``y``, the earlier occasion), "mean_change".
    paired : bool
        ``x`` and ``y`` are paired measurements of the same subjects.
    ci : {"exact", "normal", "bca", "percentile"}
        "exact": noncentral t as R effectsize (Welch t for "mean_diff", t for "mean_change"); "normal":
        estimate ± z·se with ``se_formula``; "bca"/"percentile": nonparametric bootstrap.
    level : float
        Confidence level.
    correction : {"exact", "approx"}
        Hedges' J: gamma-function form or 1 − 3/(4ν − 1).
    se_formula : str, optional
        "hedges_olkin" (default), "revman" (N − 3.94), "metafor_ub"; paired: "hedges_olkin", "metafor", "delta".
    n_resamples, rng, return_draws
        Bootstrap size, seed or Generator, and whether to keep the replicates in ``.draws``.

    Returns
    -------
    EffectSize

    Notes
    -----
    Formulas and interval conventions are in :mod:`massage_outcomes.effects.estimators`. Paired "cohens_d"
    is d_z (mean difference / SD of differences, df = n − 1) and its Hedges form uses J(n − 1): the
    two-group df correction some packages apply to paired d is not used.

    References
    ----------
    Lakens D (2013) doi:10.3389/fpsyg.2013.00863; Hedges LV (1981) doi:10.3102/10769986006002107.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> es = mo.effect_size([3, 4, 2, 5, 3, 4], [5, 6, 4, 6, 7, 5], measure="hedges_g")
    >>> round(es.estimate, 4), [round(v, 4) for v in es.ci]
    (-1.7596, [-3.0233, -0.4396])
    >>> es.bias_correction, es.ci_method
    ('hedges_j_exact(N-2)', 'exact_nct (d interval x J, as R effectsize)')
    """
    _check_level(level)
    _check_ci(ci)
    xa = np.asarray(x, dtype=float).ravel()
    one_sample = y is None
    ya = np.zeros_like(xa) if one_sample else np.asarray(y, dtype=float).ravel()
    if one_sample:
        paired = True
    boot_kw = dict(ci=ci, level=level, n_resamples=n_resamples, rng=rng, return_draws=return_draws)
    analytic_ci = ci if ci in ("exact", "normal") else "normal"
    draws = None
    if paired:
        if xa.shape != ya.shape:
            raise ArgumentError(f"paired samples must have equal length; got {xa.size} and {ya.size}.")
        if one_sample and measure not in ("cohens_d", "hedges_g", "d_z", "g_z", "smcc", "mean_change"):
            raise ArgumentError(f"one-sample effect sizes are d_z, g_z or mean_change; got {measure!r}.")
        ok = ~(np.isnan(xa) | np.isnan(ya))
        xa, ya = xa[ok], ya[ok]
        pm = PairedMoments.from_values(ya, xa)  # start = y, end = x: estimate x − y
        res = paired_effect(pm, measure=measure, ci=analytic_ci, level=level, correction=correction,
                            se_formula=se_formula)
        if ci in ("bca", "percentile"):
            res, draws = _bootstrap_result(res, [[np.column_stack([ya, xa])]],
                                           lambda m: paired_point(m[0], measure=measure, correction=correction),
                                           **boot_kw)  # type: ignore[arg-type]
        m1, m2 = pm.y, pm.x
    else:
        xa, ya = xa[~np.isnan(xa)], ya[~np.isnan(ya)]
        m1, m2 = Moments.from_values(xa), Moments.from_values(ya)
        res = between_effect(m1, m2, measure=measure, ci=analytic_ci, level=level, correction=correction,
                             se_formula=se_formula)
        if ci in ("bca", "percentile"):
            res, draws = _bootstrap_result(res, [[xa, ya]],
                                           lambda m: between_point(m[0], m[1], measure=measure, correction=correction),
                                           **boot_kw)  # type: ignore[arg-type]
    _warn_notes(res.note)
    c = res.conventions

    def f(v: object) -> float:
        return float(np.asarray(v, dtype=float).reshape(-1)[0])

    return EffectSize(
        measure=c["measure"], estimate=f(res.estimate), se=f(res.se), ci_low=f(res.ci_low), ci_high=f(res.ci_high),
        level=level, p_value=f(res.p_value), df=f(res.df), n_1=f(m1.n), mean_1=f(m1.mean), sd_1=f(m1.sd),
        n_2=f(m2.n), mean_2=f(m2.mean), sd_2=f(m2.sd), bias_correction=c["bias_correction"], sd_used=c["sd_used"],
        ci_method=c["ci_method"], se_formula=c["se_formula"], p_method=c["p_method"],
        note=str(np.atleast_1d(res.note)[0]), draws=None if draws is None else draws[:, 0],
    )


# ------------------------------------------------------------------------------------------- grouped data
def _split(values: np.ndarray, codes: np.ndarray, G: int) -> list[np.ndarray]:
    ok = codes >= 0
    v, c = values[ok], codes[ok]
    order = np.argsort(c, kind="stable")
    bounds = np.searchsorted(c[order], np.arange(G + 1))
    v = v[order]
    return [v[bounds[g]:bounds[g + 1]] for g in range(G)]


def grouped_effects(
    frame: pd.DataFrame,
    *,
    value: str | None = None,
    start: str | None = None,
    end: str | None = None,
    by: Sequence[str] = (),
    compare: tuple[str, Any, Any] | None = None,
    kind: str = "between",
    measure: str = "hedges_g",
    ci: str = "exact",
    level: float = 0.95,
    correction: str = "exact",
    se_formula: str | None = None,
    standardizer: str = "followup",
    n_resamples: int = 2000,
    rng: np.random.Generator | int | None = None,
    return_draws: bool = False,
) -> tuple[pd.DataFrame, EffectArrays, np.ndarray | None]:
    """Effects per group from a wide frame (one row per subject): the engine behind :func:`effect_sizes`.

    Parameters
    ----------
    frame : one row per analysed unit (subject)
    value : the analysed column for between-group effects (``kind="between"``)
    start, end : the two occasion columns for ``kind`` "within", "ancova" or "ppc" (start = baseline/pre)
    by : grouping columns
    compare : (column, a, b): the arms (not used for "within")
    kind : "between", "within", "ancova" or "ppc"
    others : as in :func:`effect_sizes`

    Returns
    -------
    (table, results, draws) : the key/summary table (one row per group, with n/mean/sd per arm or occasion),
    the :class:`EffectArrays`, and the (B, G) bootstrap draws (or None).
    """
    _check_level(level)
    _check_ci(ci)
    by = list(by)
    analytic_ci = ci if ci in ("exact", "normal") else ("normal" if kind != "between" or measure != "mean_diff" else "exact")
    boot = ci in ("bca", "percentile")
    # a between-group effect without bootstrap only bins rows: raw key codes may serve as the bins (``bins``
    # then names each group's bin), sparing a renumbering pass over the rows
    codes, nbins, bins, key_cols, G = _group_codes(frame, by, dense=kind != "between" or boot)
    groups: list[list[np.ndarray]] = []
    statistic: Callable[[Sequence[Any]], np.ndarray]
    cols: dict[str, Any] = {}  # summary columns, added to the keys in one go at the end (6 inserts cost ~5 ms)
    if kind == "within":
        xs = frame[start].to_numpy(dtype=float)
        ys = frame[end].to_numpy(dtype=float)
        pm = grouped_paired_moments(xs, ys, codes, G)
        res = paired_effect(pm, measure=measure, ci=analytic_ci, level=level, correction=correction,
                            se_formula=se_formula)
        cols.update(n_1=pm.n, mean_1=pm.mean_y, sd_1=pm.y.sd, n_2=pm.n, mean_2=pm.mean_x, sd_2=pm.x.sd, r=pm.r)
        if boot:
            pairs = _split(np.column_stack([xs, ys]), codes, G)
            groups = [[p] for p in pairs]

            def statistic(m: Sequence[Any]) -> np.ndarray:
                return paired_point(m[0], measure=measure, correction=correction)
    else:
        if compare is None:
            raise ArgumentError(f"kind={kind!r} needs `compare=(column, a, b)`.")
        col, a, b = compare
        arm_code = arm_codes(frame[col], a, b)
        # bins codes·2 + arm; −1 where the arm is missing, ≥ 2·nbins where a key is (the moments skip both)
        comb = _kernels.arm_group_codes(codes, arm_code, nbins + 1)
        ok = comb >= 0 if boot or kind != "between" else comb[:0]  # rows in a group and an arm (bootstrap, ANCOVA)
        if kind == "between":
            v = frame[value].to_numpy(dtype=float)
            both = grouped_moments(v, comb, 2 * nbins)
            if bins is None:
                ma, mb = both[0::2], both[1::2]
            else:
                ma, mb = both[2 * bins], both[2 * bins + 1]
            res = between_effect(ma, mb, measure=measure, ci=analytic_ci, level=level, correction=correction,
                                 se_formula=se_formula)
            cols.update(n_1=ma.n, mean_1=ma.mean, sd_1=ma.sd, n_2=mb.n, mean_2=mb.mean, sd_2=mb.sd)
            if boot:
                ca, cb = np.where(ok & (arm_code == 0), codes, -1), np.where(ok & (arm_code == 1), codes, -1)
                ga, gb = _split(v, ca, G), _split(v, cb, G)
                groups = [[ga[g], gb[g]] for g in range(G)]

                def statistic(m: Sequence[Any]) -> np.ndarray:
                    return between_point(m[0], m[1], measure=measure, correction=correction)
        elif kind in ("ancova", "ppc"):
            xs = frame[start].to_numpy(dtype=float)
            ys = frame[end].to_numpy(dtype=float)
            ca, cb = np.where(ok & (arm_code == 0), codes, -1), np.where(ok & (arm_code == 1), codes, -1)
            pab = grouped_paired_moments(xs, ys, comb, 2 * G)
            pa, pb = pab[0::2], pab[1::2]
            if kind == "ancova":
                if measure not in ("mean_diff", "cohens_d", "hedges_g"):
                    raise ArgumentError(f"on='ancova' takes measure 'mean_diff', 'cohens_d' or 'hedges_g'; got {measure!r}.")
                res = ancova_effect(pa, pb, measure=measure, standardizer=standardizer, ci=analytic_ci, level=level,
                                    correction=correction)

                def statistic(m: Sequence[Any]) -> np.ndarray:
                    return ancova_point(m[0], m[1], measure=measure, standardizer=standardizer, correction=correction)
            else:
                res = ppc2_effect(pa, pb, level=level, ci="normal", correction=correction if correction != "exact" else "approx")

                def statistic(m: Sequence[Any]) -> np.ndarray:
                    return ppc2_point(m[0], m[1], correction=correction if correction != "exact" else "approx")
            cols.update(n_1=pa.n, mean_1=pa.mean_y, sd_1=pa.y.sd, n_2=pb.n, mean_2=pb.mean_y, sd_2=pb.y.sd,
                        baseline_mean_1=pa.mean_x, baseline_mean_2=pb.mean_x)
            if boot:
                rows2 = np.column_stack([xs, ys])
                ga, gb = _split(rows2, ca, G), _split(rows2, cb, G)
                groups = [[ga[g], gb[g]] for g in range(G)]
        else:
            raise ArgumentError(f"unknown kind {kind!r}")
    table = pd.DataFrame({**key_cols, **cols}, index=pd.RangeIndex(G), copy=False)
    draws = None
    if boot:
        res, draws = _bootstrap_result(res, groups, statistic, ci=ci, level=level, n_resamples=n_resamples, rng=rng,
                                       return_draws=return_draws)
    return table, res, draws


def _end_label(frame: pd.DataFrame, end: str) -> tuple[str, str]:
    """(occasion to select, label for notes): :func:`~massage_outcomes.effects.occasions.resolve_end` in words."""
    spec, last = resolve_end(frame, end)
    if last is not None:
        return spec, f"{last} (last visit)"
    return spec, "any follow-up" if spec == "last_observed" else str(end)


def _wide(frame: pd.DataFrame, start: str, end: str, attrs: list[str]) -> pd.DataFrame:
    """One row per subject (and group) with columns _start, _end and the attributes, by the rule of
    :mod:`~massage_outcomes.effects.occasions`: subjects with a start value but none at ``end`` are kept with
    ``_end`` NaN, so they can be counted. Pre/post pairs within sessions are averaged per subject over the
    subject's complete pairs (a subject without one keeps its start value and is missing at the end)."""
    pairs = pair_occasions(frame, start, end, attrs=attrs)
    wide = pairs.frame.rename(columns={"value_start": "_start", "value_end": "_end"})
    if pairs.unit != "session":
        return wide
    keys = pairs.keys[:-1]
    both = (wide["_start"].notna() & wide["_end"].notna()).to_numpy()
    subject = wide.groupby(keys, observed=True, sort=False, dropna=False).ngroup().to_numpy()
    has_pair = np.bincount(subject[both], minlength=subject.max(initial=-1) + 1)[subject] > 0
    wide = wide[both | ~has_pair].copy()
    wide.loc[~both[both | ~has_pair], "_end"] = np.nan
    unit = keys + [a for a in attrs if a not in pairs.keys]
    return wide.groupby(unit, observed=True, sort=False, dropna=False)[["_start", "_end"]].mean().reset_index()


def _missing_counts(wide: pd.DataFrame, by: list[str], compare: tuple[str, Any, Any] | None, G: int) -> np.ndarray:
    """(G, arms) counts of units with a start value but none at the end occasion, per result row."""
    miss = (wide["_start"].notna() & wide["_end"].isna()).to_numpy(dtype=bool, na_value=False)
    codes, _ = group_codes(wide, by)
    if compare is None:
        ok = miss & (codes >= 0)
        return np.bincount(codes[ok], minlength=G)[:G].reshape(G, 1)
    arm = arm_codes(wide[compare[0]], compare[1], compare[2])
    ok = miss & (codes >= 0) & (arm >= 0)
    return np.bincount(codes[ok] * 2 + arm[ok], minlength=2 * G)[: 2 * G].reshape(G, 2)


def effect_sizes(
    data: object,
    *,
    instrument: str,
    by: Sequence[str] | str = (),
    compare: tuple[str, Any, Any] | None = None,
    on: str = "change",
    start: str = "baseline",
    end: str = "last",
    measure: str = "hedges_g",
    ci: str = "exact",
    level: float = 0.95,
    adjust: str | None = None,
    correction: str = "exact",
    se_formula: str | None = None,
    standardizer: str = "followup",
    n_resamples: int = 2000,
    rng: np.random.Generator | int | None = None,
    return_draws: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray | None]:
    """Effect sizes per group (condition, technique, therapist, ...): one row per group.

    Sign convention: between groups (``compare=(column, a, b)``) the estimate is ``a − b`` on the raw scale of
    ``on`` (for "change", a negative estimate on a lower-is-better scale means ``a`` improved more); within
    subjects (no ``compare``) it is ``end − start``. The ``favours`` column says in words which side is better,
    using the instrument's direction.

    Parameters
    ----------
    data : Dataset, DataFrame or Scan
        A :class:`~massage_outcomes.Dataset` or its analysis frame (see
        :func:`massage_outcomes.frames.analysis_frame`), or a lazy scan (``mo.scan``), which computes the same table
        from moments in its engine (no bootstrap intervals there).
    instrument : str
        Registered instrument key ("pain_nrs", "rmdq", ...).
    by : str or sequence of str
        Grouping columns of the analysis frame (e.g. ``["condition", "technique"]``); each group gets a row.
    compare : (column, a, b), optional
        Between-group effect of ``a`` versus ``b`` in ``column`` (e.g. ``("intent", "therapeutic",
        "relaxation")``); attributes are taken from each subject's ``end`` row. Without it: within-subject
        effect of ``end`` versus ``start`` per group.
    on : {"change", "end", "ancova", "ppc"}
        Between groups: the change ``end − start``, the ``end`` score, the baseline-adjusted ``end`` (ANCOVA:
        end ~ start + arm) or the Morris (2008) pre–post–control d_ppc2 (``measure="d_ppc2"``).
    start, end : str
        Occasions: a timing ("baseline", "pre", "post", "followup"), a visit label ("week_10"), or for ``end``:
        "last", the last visit in visit order at which the data have values (the same occasion for every
        subject, as in :func:`~massage_outcomes.effects.responders`: subjects without a value there are
        missing, counted in ``n_missing_*`` and named in ``note``); or "last_observed", each subject's last
        observed follow-up (an LOCF-like mix of occasions: dropouts contribute earlier visits; opt in
        deliberately). Data without visits: "last" is "last_observed". A visit label of the data is matched
        before a timing of the same name. Several rows of a subject at one occasion: ``start`` takes the first by
        day, ``end`` the last. Pre/post ratings pair by session and each subject's complete pairs are averaged.
        The rule is :mod:`massage_outcomes.effects.occasions`' (the same in :func:`responders`).
    measure : str
        Between: "hedges_g", "cohens_d", "glass_delta" (b is the control), "mean_diff". Within: "hedges_g" (=
        g_z), "cohens_d" (= d_z), "d_av", "g_av", "d_rm", "g_rm", "smcc", "smcr", "mean_change". ANCOVA:
        "mean_diff", "cohens_d", "hedges_g" (standardized by ``standardizer``). on="ppc": "d_ppc2".
    ci : {"exact", "normal", "bca", "percentile"}
    level : float
    adjust : {"holm", "fdr_bh", None}
        Multiplicity adjustment of the p-values across the rows (statsmodels ``multipletests``).
    correction, se_formula : see :func:`effect_size`
    standardizer : {"followup", "residual"}
        ANCOVA standardized form: pooled raw follow-up SD or residual SD.
    n_resamples, rng, return_draws : bootstrap options; with ``return_draws=True`` returns ``(table, draws)``,
        draws of shape (B, rows).

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns; ``instrument``, ``measure``, ``contrast`` (e.g. "therapeutic -
        relaxation" or "week_10 - baseline"); ``n_1, mean_1, sd_1, n_2, mean_2, sd_2`` (arm a and b, or end and
        start: the estimate compares 1 against 2); ``n_missing_1, n_missing_2`` (between: subjects of arm a/b
        with a start value but none at ``end``, left out) or ``n_missing`` (within); ``r`` (within: start–end
        correlation); ``baseline_mean_1/2``
        (ANCOVA/ppc); ``estimate, se, ci_low, ci_high, level, df, ci_method, p_value, p_adjusted`` (when
        ``adjust``), ``favours``, ``bias_correction, sd_used, se_formula, p_method``, ``note`` ('' or the
        reason a row is unreliable: n < 2, zero variance, all values equal).

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_trial(n_per_arm=40, seed=3)
    >>> tab = mo.effect_sizes(ds, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"),
    ...                       end="week_10")
    >>> row = tab.iloc[0]
    >>> row["contrast"], row["favours"], row["ci_method"]
    ('therapeutic - usual_care', 'favours therapeutic', 'exact_nct (d interval x J, as R effectsize)')
    >>> [round(float(row[c]), 3) for c in ("estimate", "ci_low", "ci_high")]
    [-0.659, -1.134, -0.18]
    """
    if callable(getattr(type(data), "effect_sizes", None)):  # a lazy scan (mo.scan) computes them in its engine
        if return_draws:
            raise ArgumentError("return_draws=True needs the subjects' values, which a scan keeps in its engine; "
                                "analyse the rows in memory (mo.read) for the bootstrap draws.")
        return cast(Any, data).effect_sizes(instrument=instrument, by=by, compare=compare, on=on, start=start, end=end,
                                            measure=measure, ci=ci, level=level, adjust=adjust,
                                            correction=correction, se_formula=se_formula, standardizer=standardizer)
    frame = analysis_frame(data, instrument)
    inst = _instruments.get(instrument)
    by_list = [by] if isinstance(by, str) else list(by)
    _check_columns(frame, by_list, compare)
    design = _design(frame, compare=compare, on=on, start=start, end=end, measure=measure, ci=ci)
    attrs = by_list + ([compare[0]] if compare is not None else [])
    wide = _wide(frame, start, design.end, attrs)
    if on == "change" and compare is not None:
        wide["_value"] = wide["_end"] - wide["_start"]
    elif on == "end" and compare is not None:
        wide["_value"] = wide["_end"]
    adjust_name = _mt.normalize_method(adjust, allowed=_EFFECT_ADJUSTS, why=_NO_TUKEY)
    gen = rng if isinstance(rng, np.random.Generator) or ci not in ("bca", "percentile") else np.random.default_rng(rng)
    twin = copy.deepcopy(gen) if adjust_name in _mt.SIMULTANEOUS else None  # the same resamples for the sci
    engine = dict(value=design.value, start="_start", end="_end", by=by_list, compare=compare, kind=design.kind,
                  measure=measure, ci=ci, correction=correction, se_formula=se_formula, standardizer=standardizer,
                  n_resamples=n_resamples)
    table, res, draws = grouped_effects(wide, level=level, rng=gen, return_draws=return_draws, **engine)  # type: ignore[arg-type]
    out, n_missing = _effects_table(table, res, wide, design, by_list=by_list, compare=compare,
                                    instrument=inst.key, level=level)
    if adjust_name != "none":
        _add_adjustment(out, adjust_name, level, twin, wide, engine)
    add_reading(out, res, inst, compare=compare, start_label=design.start_label, end_label=design.end_label,
                end_short=design.end_short, n_missing=n_missing)
    result = ResultFrame(out, keys=[*by_list, "contrast"])
    if return_draws:
        return result, draws
    return result


@dataclass(frozen=True)
class _Design:
    """What effect_sizes computes: the engine's ``kind`` and ``value`` column, the concrete ``end`` occasion, and
    the words for the contrast and the notes."""

    kind: str
    value: str | None
    end: str
    contrast: str
    start_label: str
    end_label: str
    end_short: str


def _check_columns(frame: pd.DataFrame, by: list[str], compare: tuple[str, Any, Any] | None) -> None:
    missing = [c for c in by if c not in frame.columns]
    if compare is not None:
        if len(compare) != 3:
            raise ArgumentError(f"`compare` must be (column, a, b), got {compare!r}.")
        if compare[0] not in frame.columns:
            missing.append(compare[0])
    if missing:
        raise ArgumentError(
            f"column(s) {', '.join(map(repr, missing))} not in the analysis frame; available: {', '.join(frame.columns)}."
        )


def _design(frame: pd.DataFrame, *, compare: tuple[str, Any, Any] | None, on: str, start: str, end: str,
            measure: str, ci: str) -> _Design:
    """Check the occasions, ``on`` and ``measure`` against each other and the data; name the contrast."""
    if on not in ("change", "end", "ancova", "ppc"):
        raise ArgumentError(f"`on` must be 'change', 'end', 'ancova' or 'ppc'; got {on!r}.")
    if end == start:
        raise ArgumentError(f"`start` and `end` are both {start!r}: pick two different occasions.")
    if start in ("last", "last_observed"):
        raise ArgumentError(f"`start`={start!r}: 'last' and 'last_observed' are for `end` only.")
    end_sel, end_label = _end_label(frame, end)
    if end_sel == start:
        raise ArgumentError(f"`end`={end!r} is {end_sel!r}, the same occasion as `start`.")
    end_short = "last observed" if end_sel == "last_observed" else end_sel
    if compare is None:
        if on != "change":
            raise ArgumentError("within-subject effects (no `compare`) are always end versus start; use on='change'.")
        if measure not in PAIRED_MEASURES:
            raise ArgumentError(f"within-subject `measure` must be one of {', '.join(PAIRED_MEASURES)}; got {measure!r}.")
        return _Design("within", None, end_sel, f"{end_short} - {start}", start, end_label, end_short)
    col, a, b = compare
    kind = {"change": "between", "end": "between", "ancova": "ancova", "ppc": "ppc"}[on]
    if on == "ppc" and measure != "d_ppc2":
        raise ArgumentError(f"on='ppc' computes Morris's d_ppc2; pass measure='d_ppc2' (got {measure!r}).")
    if on != "ppc" and measure == "d_ppc2":
        raise ArgumentError("measure='d_ppc2' needs on='ppc'.")
    if on == "ppc" and ci == "exact":
        raise ArgumentError("d_ppc2 has no exact interval: pass ci='normal', 'bca' or 'percentile'.")
    levels = set(frame[col].dropna().astype(str).unique())
    absent = [str(v) for v in (a, b) if str(v) not in levels]
    if absent:
        raise DataValidationError(
            f"`compare` level(s) {', '.join(map(repr, absent))} not found in column {col!r}; levels: {', '.join(sorted(levels))}."
        )
    if kind == "between" and measure not in BETWEEN_MEASURES:
        raise ArgumentError(f"between-group `measure` must be one of {', '.join(BETWEEN_MEASURES)}; got {measure!r}.")
    return _Design(kind, "_value", end_sel, f"{a} - {b}", start, end_label, end_short)


def _effects_table(table: pd.DataFrame, res: EffectArrays, wide: pd.DataFrame, design: _Design, *, by_list: list[str],
                   compare: tuple[str, Any, Any] | None, instrument: str, level: float
                   ) -> tuple[pd.DataFrame, np.ndarray]:
    """The result rows (keys, labels, per-arm summaries with the missing counts, the estimates) and each row's
    number of units missing at the end."""
    out = table.reset_index(drop=True)
    n_miss = _missing_counts(wide, by_list, compare, len(out))
    pos = list(out.columns).index("sd_2") + 1
    if compare is None:
        out.insert(pos, "n_missing", n_miss[:, 0])
    else:
        out.insert(pos, "n_missing_1", n_miss[:, 0])
        out.insert(pos + 1, "n_missing_2", n_miss[:, 1])
    integer_counts(out, ["n_1", "n_2", "n_missing", "n_missing_1", "n_missing_2"])
    out.insert(len(by_list), "instrument", instrument)
    out.insert(len(by_list) + 1, "measure", res.conventions["measure"])
    out.insert(len(by_list) + 2, "contrast", design.contrast)
    est = np.asarray(res.estimate, dtype=float)
    out["estimate"] = est
    out["se"] = res.se
    out["ci_low"] = np.broadcast_to(np.asarray(res.ci_low, dtype=float), est.shape)
    out["ci_high"] = np.broadcast_to(np.asarray(res.ci_high, dtype=float), est.shape)
    out["level"] = level
    out["df"] = np.broadcast_to(np.asarray(res.df, dtype=float), est.shape)
    out["ci_method"] = res.conventions["ci_method"]
    out["p_value"] = res.p_value
    return out, n_miss.sum(axis=1)


def add_reading(out: pd.DataFrame, res: EffectArrays, inst: _instruments.Instrument, *,
                compare: tuple[str, Any, Any] | None, start_label: str, end_label: str, end_short: str,
                n_missing: np.ndarray) -> None:
    """``favours``/``direction``, the conventions, ``reliable`` and ``note`` (with a warning for unreliable rows)
    of an effect-size table; also the tail of a scan's table (:mod:`massage_outcomes.scale.effects`)."""
    est, lo, hi = (out[c].to_numpy(dtype=float) for c in ("estimate", "ci_low", "ci_high"))
    higher = inst.direction == "higher"
    if compare is None:
        fav, direction = favours_within(est, lo, hi, higher_is_better=higher, start=start_label, end=end_short)
    else:
        fav, direction = favours_between(est, lo, hi, higher_is_better=higher, a=str(compare[1]), b=str(compare[2]))
    out["favours"] = fav
    out["direction"] = direction
    for c in ("bias_correction", "sd_used", "se_formula", "p_method"):
        out[c] = res.conventions.get(c, "")
    notes = np.asarray(res.note, dtype=object).copy()
    for i in range(len(notes)):
        if not notes[i] and not np.isfinite(est[i]):
            notes[i] = "estimate undefined (empty or degenerate group)"
        elif not notes[i] and not np.isfinite(lo[i]):
            notes[i] = "interval undefined (too few observations or degenerate bootstrap)"
    _warn_notes(notes, " of effect_sizes")
    # `reliable` says whether a row may be read; `note` is prose and also carries information on reliable rows
    out["reliable"] = np.asarray([not n for n in notes], dtype=bool)
    for i in range(len(notes)):
        if n_missing[i]:
            what = f"{int(n_missing[i])} subject(s) with a {start_label} value but none at {end_label} left out"
            notes[i] = f"{notes[i]}; {what}" if notes[i] else what
    out["note"] = notes.astype(str)


_EFFECT_ADJUSTS = tuple(m for m in _mt.METHODS if m != "tukey")
_NO_TUKEY = ("Tukey's studentized range is for pairwise contrasts of means from one model: use "
             "fit_mmrm(...).contrasts('pairwise', adjust='tukey') or fit_trajectories(...).contrasts(...).")


def _add_adjustment(out: pd.DataFrame, method: str, level: float, rng: Any, wide: pd.DataFrame,
                    engine: dict[str, Any]) -> None:
    """``p_adjusted``, ``adjust``, ``family_size`` over the rows (one family) and, for Bonferroni and Šidák, the
    simultaneous interval ``sci_low``/``sci_high``: the same interval method at the per-row level that makes the
    family's intervals simultaneous (the same bootstrap resamples when bootstrapping)."""
    p = out["p_value"].to_numpy(dtype=float)
    k = int(np.isfinite(p).sum())
    out["p_adjusted"] = _mt.p_adjust(p, method)
    out["adjust"] = method
    out["family_size"] = k
    if method in _mt.SIMULTANEOUS:
        per_row = _mt.simultaneous_level(level, method, k)
        if per_row is None:  # pragma: no cover - Tukey is refused above
            return
        _t, sim, _d = grouped_effects(wide, level=per_row, rng=rng, return_draws=False, **engine)
        out["sci_low"] = np.broadcast_to(np.asarray(sim.ci_low, dtype=float), p.shape)
        out["sci_high"] = np.broadcast_to(np.asarray(sim.ci_high, dtype=float), p.shape)


def ancova(data: object, *, instrument: str, compare: tuple[str, str, str], by: Sequence[str] = (),
           end: str = "last", measure: str = "mean_diff", standardizer: str = "followup", ci: str = "exact",
           level: float = 0.95, adjust: str | None = None) -> pd.DataFrame:
    """Baseline-adjusted effects per group: shorthand for ``effect_sizes(..., on="ancova", start="baseline")``.

    (Here, not in ``ancova.py``: the estimators there must not import this module, which imports them.)
    """
    return effect_sizes(data, instrument=instrument, by=by, compare=compare, on="ancova", start="baseline", end=end,
                        measure=measure, ci=ci, level=level, adjust=adjust, standardizer=standardizer)

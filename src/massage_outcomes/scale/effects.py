"""Effect sizes and responders on a :class:`~massage_outcomes.scale.Scan`: the engine returns one moments
table (per group × arm), and the same vectorized estimators as :func:`massage_outcomes.effect_sizes` run on it.

Only closed-form and exact intervals (``ci="exact"`` or ``"normal"``) come from moments. A bootstrap resamples
subjects, so it needs every subject's values: on a scan it raises :class:`~massage_outcomes.DataValidationError`
saying so (materialize a subset with ``mo.read`` for it), rather than returning a different interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import multiplicity as _mt
from massage_outcomes.effects import _kernels
from massage_outcomes.effects.ancova import ancova_effect
from massage_outcomes.effects.api import add_reading
from massage_outcomes.effects.estimators import (
    BETWEEN_MEASURES,
    PAIRED_MEASURES,
    EffectArrays,
    between_effect,
    paired_effect,
    ppc2_effect,
)
from massage_outcomes.effects.summary import Moments, PairedMoments
from massage_outcomes.errors import ArgumentError, DataValidationError
from massage_outcomes.results import ResultFrame, integer_counts

__all__ = ["EffectSpec", "effect_sizes", "plan_effects", "effects_from_moments", "merge_moments"]

_KINDS = {"change": "between", "end": "between", "ancova": "ancova", "ppc": "ppc"}
_PAIRED_COLS = ("n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy")


@dataclass(frozen=True)
class EffectSpec:
    """What an effect-size table computes: everything but the data (sites share it with their summaries)."""

    instrument: str
    by: tuple[str, ...] = ()
    compare: tuple[str, Any, Any] | None = None
    on: str = "change"
    start: str = "baseline"
    end: str = "last"
    measure: str = "hedges_g"
    ci: str = "exact"
    level: float = 0.95
    adjust: str | None = None
    correction: str = "exact"
    se_formula: str | None = None
    standardizer: str = "followup"
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "within" if self.compare is None else _KINDS[self.on]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["by"] = list(self.by)
        d["compare"] = list(self.compare) if self.compare is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EffectSpec:
        d = dict(d)
        d["by"] = tuple(d.get("by") or ())
        d["compare"] = tuple(d["compare"]) if d.get("compare") is not None else None
        return cls(**d)


def check_spec(spec: EffectSpec) -> None:
    """The argument checks of :func:`massage_outcomes.effect_sizes`, with the same messages."""
    if spec.on not in _KINDS:
        raise ArgumentError(f"`on` must be 'change', 'end', 'ancova' or 'ppc'; got {spec.on!r}.")
    if spec.ci in ("bca", "percentile"):
        raise ArgumentError(
            f"ci={spec.ci!r}: a bootstrap resamples subjects and needs their values, which a scan keeps in the "
            "engine. Pass ci='exact' or ci='normal' (computed from the moments), or analyse the rows in memory "
            "(mo.read(...) on the file, or a subset) for a bootstrap interval.")
    if spec.ci not in ("exact", "normal"):
        raise ArgumentError(f"`ci` must be one of exact, normal, bca, percentile; got {spec.ci!r}.")
    if not 0 < spec.level < 1:
        raise ArgumentError(f"`level` must be between 0 and 1 (e.g. 0.95), got {spec.level!r}.")
    if spec.end == spec.start:
        raise ArgumentError(f"`start` and `end` are both {spec.start!r}: pick two different occasions.")
    if spec.start in ("last", "last_observed"):
        raise ArgumentError(f"`start`={spec.start!r}: 'last' and 'last_observed' are for `end` only.")
    if spec.compare is None and spec.on != "change":
        raise ArgumentError("within-subject effects (no `compare`) are always end versus start; use on='change'.")
    if spec.compare is not None and len(spec.compare) != 3:
        raise ArgumentError(f"`compare` must be (column, a, b), got {spec.compare!r}.")
    if spec.on == "ppc" and spec.measure != "d_ppc2":
        raise ArgumentError(f"on='ppc' computes Morris's d_ppc2; pass measure='d_ppc2' (got {spec.measure!r}).")
    if spec.on != "ppc" and spec.measure == "d_ppc2":
        raise ArgumentError("measure='d_ppc2' needs on='ppc'.")
    if spec.on == "ppc" and spec.ci == "exact":
        raise ArgumentError("d_ppc2 has no exact interval: pass ci='normal', 'bca' or 'percentile'.")
    if spec.on == "ancova" and spec.measure not in ("mean_diff", "cohens_d", "hedges_g"):
        raise ArgumentError(f"on='ancova' takes measure 'mean_diff', 'cohens_d' or 'hedges_g'; got {spec.measure!r}.")
    if spec.kind == "between" and spec.measure not in BETWEEN_MEASURES:
        raise ArgumentError(f"between-group `measure` must be one of {', '.join(BETWEEN_MEASURES)}; got {spec.measure!r}.")
    if spec.kind == "within" and spec.measure not in PAIRED_MEASURES:
        raise ArgumentError(f"within-subject `measure` must be one of {', '.join(PAIRED_MEASURES)}; got {spec.measure!r}.")


def plan_effects(sc: Any, spec: EffectSpec) -> tuple[pd.DataFrame, EffectSpec]:
    """Run the plan on the scan's engine: (moments table, the spec with its occasion labels resolved)."""
    from massage_outcomes.scale import plan

    inst = _instruments.get(spec.instrument)
    attrs = [*spec.by, *([spec.compare[0]] if spec.compare is not None else [])]
    if sc.engine == "dask":
        from massage_outcomes.scale.dask_engine import dask_moments

        return dask_moments(sc, spec, attrs)
    keys = [k for k, v in sc.vocabulary_maps().get("instrument", {}).items() if v == inst.key]
    if not keys:
        raise DataValidationError(f"no {inst.key!r} measurements in {sc.name}.")
    canon = plan.canonical_sql(sc, inst.key, attrs)
    end_sel, end_label = plan.resolve_end(sc, spec.end, keys)
    if end_sel == spec.start:
        raise DataValidationError(f"`end`={spec.end!r} is {end_sel!r}, the same occasion as `start`.")
    value = spec.on if spec.kind == "between" else None
    mom = _moments(sc, plan.occasions_sql(sc, canon, spec.start, end_sel, attrs, keys, by_attributes=True),
                   spec, value)
    if mom is None:  # some subject's attributes differ between its rows: the exact (slower) pick per attribute
        wide = plan.occasions_sql(sc, canon, spec.start, end_sel, attrs, keys)
        mom = sc.con.sql(plan.moments_sql(wide, spec.by, spec.compare, spec.kind, value)).df()
    if spec.compare is not None:
        _check_levels(sc, canon, spec.compare, mom)
    labels = {"end_sel": end_sel, "end_label": end_label}
    return mom, replace(spec, labels=labels)


def _moments(sc: Any, wide: str, spec: EffectSpec, value: str | None) -> pd.DataFrame | None:
    """The moments table from subjects grouped with their attributes, in one query that also counts the
    subjects so split (the subject rows are materialized once: 2M rows of 100M, ~0.9 s CPU); None if any."""
    from massage_outcomes.scale import plan

    mom_sql = plan.moments_sql("SELECT * FROM _w", spec.by, spec.compare, spec.kind, value)
    q = (f"WITH _w AS MATERIALIZED ({wide}) SELECT m.*, ({plan.split_subjects_sql('SELECT * FROM _w')}) AS _split "
         f"FROM ({mom_sql}) m")
    mom = sc.con.sql(q).df()
    if len(mom) and int(mom["_split"].iloc[0]) > 0:
        return None
    return mom.drop(columns="_split")


def _check_levels(sc: Any, canon: str, compare: tuple[str, Any, Any], mom: pd.DataFrame) -> None:
    """Raise, as the in-memory path does, when an arm of ``compare`` is absent (looked up only then)."""
    from massage_outcomes.scale import plan

    arms = set(pd.to_numeric(mom["_arm"], errors="coerce").dropna().astype(int))
    if {0, 1} <= arms:
        return
    col, a, b = compare
    levels = {str(r[0]) for r in plan.fetch(sc.con, f"SELECT DISTINCT {plan.ident(col)} FROM ({canon}) "
                                                     f"WHERE {plan.ident(col)} IS NOT NULL")}
    absent = [str(v) for v in (a, b) if str(v) not in levels]
    if absent:
        raise DataValidationError(
            f"`compare` level(s) {', '.join(map(repr, absent))} not found in column {col!r}; levels: {', '.join(sorted(levels))}.")


def merge_moments(tables: Sequence[pd.DataFrame], keys: Sequence[str]) -> pd.DataFrame:
    """Exact combination of moments tables (rows with the same keys and ``_arm``): Chan et al. (1979)."""
    t = pd.concat(list(tables), ignore_index=True)
    group = [*keys, "_arm"]
    t["_arm"] = t["_arm"].astype("Float64")
    g = t.groupby(group, dropna=False, sort=False)
    paired = "mean_x" in t.columns
    means = ["mean_x", "mean_y"] if paired else ["mean"]
    n = g["n"].transform("sum").to_numpy(dtype=float)
    ni = t["n"].to_numpy(dtype=float)
    out = {k: t[k] for k in group}
    w = np.divide(ni, n, out=np.zeros_like(ni), where=n > 0)
    pooled = {}
    for m in means:
        v = np.nan_to_num(t[m].to_numpy(dtype=float))
        pooled[m] = pd.Series(v * w).groupby([t[k] for k in group], dropna=False, sort=False).transform("sum").to_numpy()
    dev = {m: np.nan_to_num(t[m].to_numpy(dtype=float)) - pooled[m] for m in means}
    if paired:
        extra = {"m2_x": ni * dev["mean_x"] ** 2, "m2_y": ni * dev["mean_y"] ** 2, "cxy": ni * dev["mean_x"] * dev["mean_y"]}
    else:
        extra = {"m2": ni * dev["mean"] ** 2}
    for c, e in extra.items():
        out[c] = t[c].to_numpy(dtype=float) + np.where(ni > 0, e, 0.0)
    out["n"] = t["n"]
    out["n_missing"] = t["n_missing"]
    frame = pd.DataFrame(out)
    agg = frame.groupby(group, dropna=False, sort=False).sum(min_count=1).reset_index()
    first = pd.DataFrame({m: pooled[m] for m in means}).groupby([t[k] for k in group], dropna=False, sort=False).first()
    agg = agg.merge(first.reset_index().rename(columns={m: m for m in means}), on=group, how="left")
    for m in means:
        agg.loc[agg["n"] == 0, m] = np.nan
    agg["_arm"] = agg["_arm"].astype(float)
    return agg


def _arm_rows(mom: pd.DataFrame, keys: pd.DataFrame, by: Sequence[str], arm: int, cols: Sequence[str]) -> pd.DataFrame:
    """The moments of one arm aligned to the ordered group keys (absent groups: n = 0, mean NaN, m2 = 0)."""
    sub = mom.loc[mom["_arm"].astype(float) == arm, [*by, *cols]]
    if by:
        sub = sub.assign(**{b: sub[b].astype(object).astype(str) for b in by})
        k = keys.assign(**{b: keys[b].astype(object).astype(str) for b in by})
        sub = k.merge(sub, on=list(by), how="left")
    else:
        sub = sub.reset_index(drop=True).reindex(range(1))
    fill = {c: 0.0 for c in cols if not c.startswith("mean")}
    return sub.fillna(fill)


def _missing(mom: pd.DataFrame, keys: pd.DataFrame, by: Sequence[str], arms: Sequence[int]) -> np.ndarray:
    return np.column_stack([_arm_rows(mom, keys, by, a, ["n_missing"])["n_missing"].to_numpy(dtype=float)
                            for a in arms])


def _estimate(mom: pd.DataFrame, keys: pd.DataFrame, spec: EffectSpec, level: float) -> tuple[EffectArrays, dict[str, Any]]:
    """The estimator of ``spec.kind`` on the moments, and the summary columns of the table."""
    by = list(spec.by)
    opts = dict(level=level, correction=spec.correction)
    if spec.kind == "between":
        ra, rb = (_arm_rows(mom, keys, by, a, ["n", "mean", "m2"]) for a in (0, 1))
        ma, mb = (Moments(r["n"], r["mean"], r["m2"]) for r in (ra, rb))
        res = between_effect(ma, mb, measure=spec.measure, ci=spec.ci, se_formula=spec.se_formula, **opts)  # type: ignore[arg-type]
        return res, dict(n_1=ma.n, mean_1=ma.mean, sd_1=ma.sd, n_2=mb.n, mean_2=mb.mean, sd_2=mb.sd)
    if spec.kind == "within":
        r = _arm_rows(mom, keys, by, 0, _PAIRED_COLS)
        pm = PairedMoments(*(r[c] for c in _PAIRED_COLS))
        res = paired_effect(pm, measure=spec.measure, ci=spec.ci, se_formula=spec.se_formula, **opts)  # type: ignore[arg-type]
        return res, dict(n_1=pm.n, mean_1=pm.mean_y, sd_1=pm.y.sd, n_2=pm.n, mean_2=pm.mean_x, sd_2=pm.x.sd, r=pm.r)
    pa, pb = (PairedMoments(*(r[c] for c in _PAIRED_COLS))
              for r in (_arm_rows(mom, keys, by, a, _PAIRED_COLS) for a in (0, 1)))
    if spec.kind == "ancova":
        res = ancova_effect(pa, pb, measure=spec.measure, standardizer=spec.standardizer, ci=spec.ci, **opts)  # type: ignore[arg-type]
    else:
        corr = spec.correction if spec.correction != "exact" else "approx"
        res = ppc2_effect(pa, pb, level=level, ci="normal", correction=corr)
    return res, dict(n_1=pa.n, mean_1=pa.mean_y, sd_1=pa.y.sd, n_2=pb.n, mean_2=pb.mean_y, sd_2=pb.y.sd,
                     baseline_mean_1=pa.mean_x, baseline_mean_2=pb.mean_x)


def effects_from_moments(mom: pd.DataFrame, spec: EffectSpec) -> ResultFrame:
    """The effect-size table of :func:`massage_outcomes.effect_sizes` (same columns and numbers) from a moments
    table; see :func:`effect_sizes`. Numba kernels only if already loaded (:func:`~massage_outcomes.effects.
    _kernels.warm_only`: a one-off table would spend more on loading them than they save)."""
    with _kernels.warm_only():
        return _table(mom, spec)


def _table(mom: pd.DataFrame, spec: EffectSpec) -> ResultFrame:
    from massage_outcomes.scale.plan import order_groups

    by = list(spec.by)
    inst = _instruments.get(spec.instrument)
    present = mom.dropna(subset=by) if by else mom
    keys = order_groups(present, by)
    res, cols = _estimate(mom, keys, spec, spec.level)
    out = pd.concat([keys.reset_index(drop=True), pd.DataFrame(cols)], axis=1) if by else pd.DataFrame(cols)
    arms = [0] if spec.compare is None else [0, 1]
    n_miss = _missing(mom, keys, by, arms)
    pos = list(out.columns).index("sd_2") + 1
    if spec.compare is None:
        out.insert(pos, "n_missing", n_miss[:, 0])
    else:
        out.insert(pos, "n_missing_1", n_miss[:, 0])
        out.insert(pos + 1, "n_missing_2", n_miss[:, 1])
    integer_counts(out, ["n_1", "n_2", "n_missing", "n_missing_1", "n_missing_2"])
    end_sel = spec.labels.get("end_sel", spec.end)
    end_short = "last observed" if end_sel == "last_observed" else end_sel
    contrast = f"{end_short} - {spec.start}" if spec.compare is None else f"{spec.compare[1]} - {spec.compare[2]}"
    out.insert(len(by), "instrument", inst.key)
    out.insert(len(by) + 1, "measure", res.conventions["measure"])
    out.insert(len(by) + 2, "contrast", contrast)
    return _finish(out, res, spec, inst, mom, keys, n_miss, end_short)


def _finish(out: pd.DataFrame, res: EffectArrays, spec: EffectSpec, inst: Any, mom: pd.DataFrame,
            keys: pd.DataFrame, n_miss: np.ndarray, end_short: str) -> ResultFrame:
    """Estimates, adjustment, favours, conventions, notes: the tail of :func:`massage_outcomes.effect_sizes`."""
    est = np.asarray(res.estimate, dtype=float)
    lo = np.broadcast_to(np.asarray(res.ci_low, dtype=float), est.shape)
    hi = np.broadcast_to(np.asarray(res.ci_high, dtype=float), est.shape)
    out["estimate"], out["se"], out["ci_low"], out["ci_high"] = est, res.se, lo, hi
    out["level"] = spec.level
    out["df"] = np.broadcast_to(np.asarray(res.df, dtype=float), est.shape)
    out["ci_method"] = res.conventions["ci_method"]
    out["p_value"] = res.p_value
    method = _mt.normalize_method(spec.adjust, allowed=tuple(m for m in _mt.METHODS if m != "tukey"))
    if method != "none":
        p = out["p_value"].to_numpy(dtype=float)
        k = int(np.isfinite(p).sum())
        out["p_adjusted"], out["adjust"], out["family_size"] = _mt.p_adjust(p, method), method, k
        per_row = _mt.simultaneous_level(spec.level, method, k) if method in _mt.SIMULTANEOUS else None
        if per_row is not None:
            sim, _ = _estimate(mom, keys, spec, per_row)
            out["sci_low"] = np.broadcast_to(np.asarray(sim.ci_low, dtype=float), p.shape)
            out["sci_high"] = np.broadcast_to(np.asarray(sim.ci_high, dtype=float), p.shape)
    add_reading(out, res, inst, compare=spec.compare, start_label=spec.start,
                end_label=spec.labels.get("end_label", str(spec.end)), end_short=end_short,
                n_missing=n_miss.sum(axis=1))
    return ResultFrame(out, keys=[*spec.by, "contrast"])


def effect_sizes(sc: Any, *, instrument: str, by: Sequence[str] | str = (), compare: tuple[str, Any, Any] | None = None,
                 on: str = "change", start: str = "baseline", end: str = "last", measure: str = "hedges_g",
                 ci: str = "exact", level: float = 0.95, adjust: str | None = None, correction: str = "exact",
                 se_formula: str | None = None, standardizer: str = "followup") -> ResultFrame:
    """:func:`massage_outcomes.effect_sizes` on a scan: the same arguments, columns and numbers, from moments.

    The engine computes, per group × arm, the count, mean and centred sum of squares of the analysed value
    (between groups) or of both occasions with their cross-product (within subjects, ANCOVA, d_ppc2), and the
    subjects missing at ``end``; the estimators of :mod:`massage_outcomes.effects` run on that table.
    Bootstrap intervals raise (see the module docstring); pre/post pairs by session are not supported.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.io.sample import sample_path
    >>> sc = mo.scan(sample_path("trial"))
    >>> tab = sc.effect_sizes(instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), end="week_10")
    >>> mem = mo.effect_sizes(mo.load_sample("trial"), instrument="rmdq",
    ...                       compare=("arm", "therapeutic", "usual_care"), end="week_10")
    >>> bool(abs(tab["ci_low"].iloc[0] - mem["ci_low"].iloc[0]) < 1e-10)
    True
    """
    by_t = (by,) if isinstance(by, str) else tuple(by)
    cmp = tuple(compare) if compare is not None else None
    spec = EffectSpec(instrument=instrument, by=by_t, compare=cmp, on=on, start=start, end=end, measure=measure,
                      ci=ci, level=level, adjust=adjust, correction=correction, se_formula=se_formula,
                      standardizer=standardizer)
    check_spec(spec)
    mom, spec = plan_effects(sc, spec)
    return effects_from_moments(mom, spec)


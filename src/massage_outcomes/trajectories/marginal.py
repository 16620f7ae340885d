"""Estimated marginal means, contrasts, slopes and standardized effect sizes for fitted trajectory models.

:class:`MarginalMeansMixin` gives any fitted linear model (``TrajectoryFit`` from :mod:`.lmm`, ``MMRMFit`` from
:mod:`.mmrm`) the emmeans-style interface:

``emmeans(at=, by=, level=)``
    marginal means per group at chosen times (continuous time) or per visit (categorical time);
``contrasts(spec, at=, by=, adjust=, level=, over=)``
    "a - b", "each vs <ref>", "pairwise" between groups at each time (or, with ``over=<time>``, between times
    within each group), with multiplicity adjustment and a standardized effect size per contrast;
``eff_size(spec, ...)``
    the effect sizes alone (like emmeans' ``eff_size``);
``slopes(at=, by=, contrast=, ...)``
    rate of change per group (like ``emtrends``) and contrasts of those rates;
``joint_tests(spec, at=, by=)``
    F test of a whole family of contrasts per time (lmerTest's multi-df Satterthwaite);
``linear_function(L)`` and ``reference_grid(at=, by=)``
    any custom linear function of the fixed effects, and the cells with their ``L`` rows.

The contract a fit must meet
----------------------------
:class:`MarginalModel` spells it out (a :class:`typing.Protocol`); :class:`MarginalMeansMixin` declares the
methods abstract, so a fit class that lacks one cannot be created:

- ``beta_`` (p,) fixed effects, ``vcov_beta_`` (p, p) their covariance ``(X'V^-1X)^-1``, ``fe_names_``;
- ``design_rows(grid) -> (m, p)``: fixed-effects design rows for fully specified new rows (one column per
  predictor of the model);
- ``reference_values() -> dict``: default grid values per predictor: a list for a factor (its levels, in
  order), a float for a covariate (its mean); a list of numbers for a continuous time means "these times";
- ``df_for(L) -> (k,)``: denominator degrees of freedom for each row of ``L`` (Satterthwaite or Kenward-Roger);
- ``sigma_total() -> (sigma, edf)``: the SD that standardizes effect sizes and its degrees of freedom;
- attributes ``group`` (str or None), ``time`` (str or None), ``time_kind`` ("continuous" or "categorical"),
  ``reference`` (the group's reference level or None) and ``converged`` (bool).

The reference grid is built as emmeans builds it: every combination of the predictors' reference values (or the
values given in ``at``); the means are then averaged with equal weights over every predictor that is not the
group, the time or a ``by`` variable (factors: equal weight per level; covariates: at their mean, or averaged
over the ``at`` values given).
"""

from __future__ import annotations

import itertools
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import stats

from massage_outcomes import multiplicity as _mt
from massage_outcomes.errors import ArgumentError, DataValidationError
from massage_outcomes.multiplicity import ptukey, qtukey

__all__ = ["MarginalMeansMixin", "MarginalModel", "parse_contrast_spec", "adjust_pvalues", "ptukey", "qtukey"]

Adjust = Literal["none", "bonferroni", "sidak", "holm", "fdr_bh", "fdr_by", "tukey"]
ContrastSpec = str | Sequence[str] | Mapping[str, Mapping[str, float]]


# ----------------------------------------------------------------------------------------------------------------
# contrast specifications
# ----------------------------------------------------------------------------------------------------------------
def parse_contrast_spec(
    spec: ContrastSpec, levels: Sequence[str], *, reference: str | None = None
) -> tuple[list[str], np.ndarray, str]:
    """Turn a readable contrast specification into labelled weight vectors over ``levels``.

    Parameters
    ----------
    spec : str, sequence of str or mapping
        ``"pairwise"`` (every ``a - b`` with ``a`` before ``b`` in level order, as emmeans' ``pairwise``),
        ``"revpairwise"`` (``b - a``), ``"each vs <ref>"`` (every other level minus ``<ref>``, emmeans'
        ``trt.vs.ctrl``), ``"trt.vs.ctrl"`` (every other level minus ``reference``, by default the first level),
        ``"a - b"`` (one difference; several may be
        given as a list or separated by commas), or a mapping ``{label: {level: weight}}`` for any custom contrast.
    levels : sequence of str
        The group levels, in order.
    reference : str, optional
        The level ``"trt.vs.ctrl"`` compares with (a fit passes its reference level); default the first level.

    Returns
    -------
    labels : list of str
    weights : ndarray (k, len(levels))
    family : str
        ``"pairwise"`` when the set is one full set of pairwise comparisons (Tukey is defined), else ``"custom"``.

    Examples
    --------
    >>> labels, w, fam = parse_contrast_spec("each vs usual_care", ["therapeutic", "relaxation", "usual_care"])
    >>> labels, w.tolist(), fam
    (['therapeutic - usual_care', 'relaxation - usual_care'], [[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]], 'custom')
    """
    levels = [str(v) for v in levels]
    index = {lv: i for i, lv in enumerate(levels)}
    k = len(levels)

    def _lookup(name: str, where: str) -> int:
        name = name.strip()
        if name not in index:
            raise ArgumentError(
                f"contrast {where!r} names level {name!r}, which is not a level of the group; "
                f"the levels are {levels}."
            )
        return index[name]

    def _diff(a: str, b: str) -> tuple[str, np.ndarray]:
        w = np.zeros(k)
        w[_lookup(a, f"{a} - {b}")] += 1.0
        w[_lookup(b, f"{a} - {b}")] -= 1.0
        return f"{a.strip()} - {b.strip()}", w

    if isinstance(spec, Mapping):
        labels, rows = [], []
        for label, weights in spec.items():
            w = np.zeros(k)
            for lv, val in weights.items():
                w[_lookup(str(lv), str(label))] = float(val)
            labels.append(str(label))
            rows.append(w)
        return labels, np.asarray(rows, dtype=float).reshape(len(rows), k), "custom"

    if not isinstance(spec, str):
        pairs = [_diff(*_split_diff(s)) for s in spec]
        return [p[0] for p in pairs], np.asarray([p[1] for p in pairs]).reshape(len(pairs), k), "custom"

    text = spec.strip()
    low = text.lower()
    if low in ("pairwise", "revpairwise"):
        pairs = []
        for i, j in itertools.combinations(range(k), 2):
            a, b = (levels[i], levels[j]) if low == "pairwise" else (levels[j], levels[i])
            pairs.append(_diff(a, b))
        if not pairs:
            raise DataValidationError("'pairwise' contrasts need at least two group levels; the data have one.")
        return [p[0] for p in pairs], np.asarray([p[1] for p in pairs]), "pairwise"
    m = re.fullmatch(r"(?:each|all)\s+vs\.?\s+(.+)", text, flags=re.IGNORECASE)
    if low in ("trt.vs.ctrl", "trt.vs.ctrl1") or m:
        ref = m.group(1).strip() if m else (str(reference) if reference is not None else levels[0])
        _lookup(ref, text)
        pairs = [_diff(lv, ref) for lv in levels if lv != ref]
        return [p[0] for p in pairs], np.asarray([p[1] for p in pairs]).reshape(len(pairs), k), "custom"
    parts = [s for s in text.split(",") if s.strip()]
    pairs = [_diff(*_split_diff(s)) for s in parts]
    return [p[0] for p in pairs], np.asarray([p[1] for p in pairs]).reshape(len(pairs), k), "custom"


def _split_diff(text: str) -> tuple[str, str]:
    parts = re.split(r"\s+-\s+|\s+vs\.?\s+", text.strip())
    if len(parts) != 2:
        raise ArgumentError(
            f"cannot read the contrast {text!r}: write 'a - b' (spaces around the minus), 'each vs <level>', "
            "'pairwise', or pass a mapping {label: {level: weight}}."
        )
    return parts[0], parts[1]


# ----------------------------------------------------------------------------------------------------------------
# multiplicity: one vocabulary and one implementation, in massage_outcomes.multiplicity
# ----------------------------------------------------------------------------------------------------------------
def adjust_pvalues(
    t: np.ndarray, df: np.ndarray, *, adjust: str, n_means: int | None = None
) -> np.ndarray:
    """Multiplicity-adjusted two-sided p-values for one family of t statistics (see
    :func:`massage_outcomes.multiplicity.adjust_t`, which this calls).

    Examples
    --------
    >>> adjust_pvalues(np.array([2.0, 3.0]), np.array([20.0, 20.0]), adjust="bonferroni").round(4).tolist()
    [0.1185, 0.0142]
    """
    return _mt.adjust_t(t, df, adjust, n_means=n_means)


def _result(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """A marginal-means table as a ResultFrame: compact display (keys, estimate, interval, p, reliable, note)."""
    from massage_outcomes.results import ResultFrame

    return ResultFrame(frame, keys=[str(k) for k in keys])


def _reliability(est: np.ndarray, se: np.ndarray, df: np.ndarray, converged: bool) -> tuple[np.ndarray, np.ndarray]:
    """``reliable`` and ``note`` for rows of linear functions of a fit: a row is unreliable when the fit did not
    converge or its standard error or df is not a positive finite number."""
    notes = np.full(est.shape, "", dtype=object)
    bad_se = ~(np.isfinite(se) & (se > 0))
    bad_df = ~(np.isnan(df) | (df > 0))  # infinite df (asymptotic) is fine; NaN df means "not computed" below
    notes[np.isnan(df)] = "degrees of freedom not available"
    notes[bad_df] = "degrees of freedom not positive"
    notes[bad_se] = "standard error not positive and finite (is the cell estimable?)"
    notes[~np.isfinite(est)] = "estimate not finite (is the cell estimable?)"
    if not converged:
        notes = np.array([f"model did not converge{'; ' + n if n else ''}" for n in notes], dtype=object)
    reliable = notes == ""
    return reliable, notes


# ----------------------------------------------------------------------------------------------------------------
# the mixin
# ----------------------------------------------------------------------------------------------------------------
@runtime_checkable
class MarginalModel(Protocol):
    """What :class:`MarginalMeansMixin` (and :mod:`.predict`) need from a fitted linear model.

    ``TrajectoryFit`` and ``MMRMFit`` meet it; so does any class with these attributes and methods (see the
    module docstring for what each must return).
    """

    beta_: np.ndarray
    vcov_beta_: np.ndarray
    fe_names_: list[str]
    group: str | None
    time: str | None
    time_kind: str
    reference: str | None
    converged: bool

    def design_rows(self, grid: pd.DataFrame) -> np.ndarray: ...

    def reference_values(self) -> dict[str, Any]: ...

    def df_for(self, L: np.ndarray) -> np.ndarray: ...

    def sigma_total(self) -> tuple[float, float]: ...


class MarginalMeansMixin(ABC):
    """emmeans-style marginal means, contrasts, slopes and effect sizes for a fitted linear model.

    A subclass meets :class:`MarginalModel`: the four methods below are abstract, the attributes are listed
    here. All methods return tidy DataFrames at full precision; the columns are listed in each method's Returns
    section.
    """

    # --- the contract (a fit class provides these) --------------------------------------------------------------
    beta_: np.ndarray
    vcov_beta_: np.ndarray
    fe_names_: list[str]
    group: str | None
    time: str | None
    time_kind: str
    reference: str | None
    converged: bool

    @abstractmethod
    def design_rows(self, grid: pd.DataFrame) -> np.ndarray:
        """Fixed-effects design rows (m, p) for fully specified rows of ``grid``."""

    @abstractmethod
    def reference_values(self) -> dict[str, Any]:
        """Default grid values per predictor (factor: its levels in order; covariate: its mean)."""

    @abstractmethod
    def df_for(self, L: np.ndarray) -> np.ndarray:
        """Denominator degrees of freedom for each row of ``L``."""

    @abstractmethod
    def sigma_total(self) -> tuple[float, float]:
        """The SD that standardizes effect sizes, and its degrees of freedom."""

    def _reference_level(self, over: str | None) -> str | None:
        """The fit's reference level of ``over`` when ``over`` is the group (for ``"trt.vs.ctrl"``), else None."""
        return self.reference if over is not None and over == self.group else None

    # --- grid ---------------------------------------------------------------------------------------------------
    def reference_grid(
        self, *, at: Mapping[str, Any] | None = None, by: str | Sequence[str] | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The cells of the marginal means and their linear functions of the fixed effects.

        Parameters
        ----------
        at : mapping, optional
            Values for any predictor (``{"week": [0, 4, 10, 26]}``, ``{"age": 50}``, ``{"arm": ["a", "b"]}``).
        by : str or sequence of str, optional
            Further predictors kept separate instead of averaged over.

        Returns
        -------
        cells : DataFrame
            One row per cell, columns ``[<group>, <time>, *by]`` (those that exist).
        L : ndarray (n_cells, p)
            Row ``i`` maps the fixed effects to the mean of cell ``i`` (averaged with equal weights over the
            other predictors).
        """
        ref = dict(self.reference_values())
        at = dict(at or {})
        by_list = [by] if isinstance(by, str) else list(by or [])
        unknown = [v for v in [*at, *by_list] if v not in ref]
        if unknown:
            raise ArgumentError(
                f"{unknown} are not predictors of this model; the predictors are {sorted(ref)}."
            )
        keep: list[str] = []
        for v in [*by_list, self.time, self.group]:
            if v is not None and v not in keep:
                keep.append(v)
        values: dict[str, list[Any]] = {}
        for v, default in ref.items():
            chosen = at.get(v, default)
            if isinstance(chosen, np.ndarray | pd.Series | pd.Index):
                chosen = list(chosen)
            values[v] = list(chosen) if isinstance(chosen, list | tuple) else [chosen]
            if not values[v]:
                raise ArgumentError(f"`at` gives no values for {v!r}; give at least one value or leave {v!r} out.")
            if v in at and isinstance(default, list | tuple) and not _is_numeric_list(default):
                bad = [x for x in values[v] if str(x) not in {str(d) for d in default}]
                if bad:
                    raise ArgumentError(
                        f"at[{v!r}] has {bad}, which are not levels of {v!r}; the levels are {list(default)}."
                    )
        if self.time is not None and self.time_kind == "continuous" and self.time not in at:
            tv = values[self.time]
            values[self.time] = [float(x) for x in tv]
        avg = [v for v in ref if v not in keep]
        order = keep + avg
        combos = list(itertools.product(*[values[v] for v in order]))
        grid = pd.DataFrame(combos, columns=order)
        for v in order:
            default = ref[v]
            if isinstance(default, list | tuple) and not _is_numeric_list(default):
                cats = [str(x) for x in default]
                grid[v] = pd.Categorical(grid[v].astype(str), categories=cats)
            else:
                grid[v] = grid[v].astype(float)
        X = np.asarray(self.design_rows(grid), dtype=float)
        n_keep = int(np.prod([len(values[v]) for v in keep])) if keep else 1
        n_avg = len(combos) // n_keep
        L = X.reshape(n_keep, n_avg, X.shape[1]).mean(axis=1)
        cells = grid.iloc[::n_avg][keep].reset_index(drop=True)
        # present as group, time, by...
        cols = [c for c in [self.group, self.time] if c is not None] + [c for c in by_list if c not in
                                                                        (self.group, self.time)]
        return cells[cols], L

    # --- inference on linear functions -------------------------------------------------------------------------
    def _infer(self, L: np.ndarray, level: float) -> pd.DataFrame:
        L = np.atleast_2d(np.asarray(L, dtype=float))
        est = L @ self.beta_
        var = np.einsum("kp,pq,kq->k", L, self.vcov_beta_, L)
        se = np.sqrt(np.maximum(var, 0.0))
        df = np.asarray(self.df_for(L), dtype=float).reshape(-1)
        crit = _mt.t_quantile(level, df)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = est / se
        reliable, notes = _reliability(est, se, df, bool(self.converged))
        return pd.DataFrame(
            {
                "estimate": est,
                "se": se,
                "df": df,
                "ci_low": est - crit * se,
                "ci_high": est + crit * se,
                "t": t,
                "p_value": _mt.t_p_two_sided(t, df),
                "level": level,
                "reliable": reliable,
                "note": notes.astype(str),
            }
        )

    def linear_function(self, L: np.ndarray, *, level: float = 0.95) -> pd.DataFrame:
        """Estimate, SE, Satterthwaite df, CI, t, p, level, reliable and note for each row of a custom ``L`` (k, p)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(self.beta_):
            raise ArgumentError(f"L has {L.shape[1]} columns; the model has {len(self.beta_)} fixed effects.")
        return self._infer(L, level)

    def emmeans(
        self,
        *,
        at: Mapping[str, Any] | None = None,
        by: str | Sequence[str] | None = None,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Estimated marginal means per group at each time (or visit).

        Parameters
        ----------
        at : mapping, optional
            Values for predictors, e.g. ``{"week": [0, 4, 10, 26]}`` for a continuous time; covariates not named
            are held at their mean; factors not kept are averaged with equal weights (as emmeans does).
        by : str or sequence of str, optional
            Further factors to keep separate (e.g. ``"condition"``) instead of averaging over them.
        level : float
            Confidence level.

        Returns
        -------
        DataFrame
            Columns ``<group>``, ``<time>`` (the fit's own column names, e.g. ``arm``, ``week`` or ``visit``),
            any ``by`` columns, then ``estimate`` (the marginal mean), ``se`` (from L·V·L'), ``df``
            (Satterthwaite, from the fit), ``ci_low``, ``ci_high``, ``t`` and ``p_value`` (test of mean = 0),
            ``level``, ``reliable`` (bool) and ``note`` (as in :meth:`contrasts`).

        Notes
        -----
        The mean of a cell is ``l'β`` with ``l`` the average of the design rows over the averaged-over
        predictors; its SE is ``sqrt(l' V l)`` with ``V = (X'V⁻¹X)⁻¹`` and its df comes from ``_df_for``.

        Examples
        --------
        >>> import massage_outcomes as mo
        >>> fit = mo.fit_mmrm(mo.load_sample("trial"), instrument="rmdq")
        >>> em = fit.emmeans()
        >>> em[["arm", "visit"]].head(3).astype(str).values.tolist()
        [['relaxation', 'week_4'], ['therapeutic', 'week_4'], ['usual_care', 'week_4']]
        >>> bool((em["ci_low"] < em["estimate"]).all())
        True
        """
        cells, L = self.reference_grid(at=at, by=by)
        res = self._infer(L, level)
        return _result(pd.concat([cells, res], axis=1), list(cells.columns))

    # --- contrasts ----------------------------------------------------------------------------------------------
    def _contrast_matrix(
        self,
        spec: ContrastSpec,
        at: Mapping[str, Any] | None,
        by: str | Sequence[str] | None,
        over: str | None = None,
    ) -> tuple[pd.DataFrame, np.ndarray, list[int], str, int]:
        cells, L = self.reference_grid(at=at, by=by)
        return _contrast_rows(cells, L, spec, over or self.group, self._reference_level(over or self.group))

    def contrasts(
        self,
        spec: ContrastSpec = "pairwise",
        *,
        at: Mapping[str, Any] | None = None,
        by: str | Sequence[str] | None = None,
        adjust: Adjust = "holm",
        level: float = 0.95,
        effect_size: bool = True,
        sigma: float | None = None,
        edf: float | None = None,
        over: str | None = None,
    ) -> pd.DataFrame:
        """Contrasts between groups at each time (or visit), with multiplicity adjustment and effect sizes.

        Parameters
        ----------
        spec : str, list of str or mapping
            ``"therapeutic - relaxation"``, ``"each vs usual_care"``, ``"pairwise"``, a list of ``"a - b"``
            strings, or ``{label: {level: weight}}`` (see :func:`parse_contrast_spec`).
        at, by : see :meth:`emmeans`.
        adjust : {"holm", "bonferroni", "sidak", "tukey", "fdr_bh", "fdr_by", "none"}
            Multiplicity adjustment within each family: the contrasts at one time (and ``by`` cell), as emmeans
            does (the vocabulary of :mod:`massage_outcomes.multiplicity`). ``"tukey"`` is defined only for a full
            set of pairwise comparisons; for other sets it is replaced by ``"sidak"`` with a warning (emmeans does
            the same). Tukey p-values use the studentized range with each contrast's own Satterthwaite df (emmeans
            passes the df vector to ``ptukey``). Bonferroni, Šidák and Tukey have simultaneous intervals
            (``sci_low``, ``sci_high``); Holm and FDR adjust the p-values only (emmeans' Bonferroni intervals
            under Holm are ``adjust="bonferroni"``'s ``sci_low``/``sci_high``).
        level : float
            Confidence level.
        effect_size : bool
            Add the standardized effect size columns (see :meth:`eff_size`).
        sigma, edf : float, optional
            The SD that standardizes the effect sizes and its df; default the fit's ``_sigma_total()``.
        over : str, optional
            The variable whose levels ``spec`` names; default the group. ``over=<time>`` contrasts visits (or
            ``at`` times, labelled like ``"26"``) within each group, e.g. ``"week_26 - week_4"``.

        Returns
        -------
        DataFrame
            Columns ``contrast`` (label "a - b"), ``<time>`` (or ``<group>`` with ``over=<time>``), any ``by``
            columns, ``estimate``, ``se``, ``df``, ``ci_low``, ``ci_high`` (the unadjusted ``level`` interval,
            never widened), ``t``, ``p_value`` (unadjusted: it agrees with ``ci_low``/``ci_high``),
            ``p_adjusted``, ``adjust`` (the method used), ``family_size`` (contrasts in the family), and for
            Bonferroni, Šidák and Tukey only ``sci_low``, ``sci_high`` (the simultaneous ``level`` interval of
            the family, agreeing with ``p_adjusted``); ``level``; with ``effect_size=True``: ``effect_size``
            (estimate / sigma), ``effect_size_se``, ``effect_size_ci_low``, ``effect_size_ci_high`` (unadjusted,
            df as the contrast), ``sigma`` and ``edf``; then ``reliable`` (bool: False when the fit did not
            converge or the contrast's SE or df is not usable) and ``note`` (why, in words).

        Examples
        --------
        >>> import massage_outcomes as mo
        >>> fit = mo.fit_mmrm(mo.load_sample("trial"), instrument="rmdq")
        >>> c = fit.contrasts("pairwise", adjust="tukey")
        >>> c[["contrast", "visit"]].head(3).astype(str).values.tolist()
        [['relaxation - therapeutic', 'week_4'], ['relaxation - usual_care', 'week_4'], ['therapeutic - usual_care', 'week_4']]
        >>> bool((c["p_adjusted"] >= c["p_value"]).all()), bool((c["sci_low"] < c["ci_low"]).all())
        (True, True)
        >>> within = fit.contrasts("week_26 - week_4", over="visit", adjust="none")  # change within each arm
        >>> within["arm"].astype(str).tolist()
        ['relaxation', 'therapeutic', 'usual_care']
        """
        frame, L, fam, family, ng = self._contrast_matrix(spec, at, by, over)
        return self._contrast_table(
            frame, L, fam, family, ng, adjust=adjust, level=level, effect_size=effect_size, sigma=sigma, edf=edf
        )

    def _contrast_table(
        self,
        frame: pd.DataFrame,
        L: np.ndarray,
        fam: list[int],
        family: str,
        ng: int,
        *,
        adjust: str,
        level: float,
        effect_size: bool,
        sigma: float | None,
        edf: float | None,
    ) -> pd.DataFrame:
        used = _mt.normalize_method(adjust)
        if used == "tukey" and family != "pairwise":
            warnings.warn(
                "adjust='tukey' is only defined for one full set of pairwise comparisons; using 'sidak' instead "
                "(as emmeans does).",
                UserWarning,
                stacklevel=3,
            )
            used = "sidak"
        res = self._infer(L, level)
        fam_arr = np.asarray(fam)
        p_adj = np.empty(len(res))
        size = np.empty(len(res), dtype=np.int64)
        crit = np.full(len(res), np.nan)
        simultaneous = used in _mt.SIMULTANEOUS
        for f in np.unique(fam_arr):
            idx = np.flatnonzero(fam_arr == f)
            t = res["t"].to_numpy()[idx]
            df = res["df"].to_numpy()[idx]
            p_adj[idx] = _mt.adjust_t(t, df, used, n_means=ng)
            size[idx] = int(np.isfinite(t).sum())
            if simultaneous:
                c = _mt.simultaneous_crit(level, df, used, k=len(idx), n_means=ng)
                crit[idx] = np.nan if c is None else c
        est, se = res["estimate"].to_numpy(), res["se"].to_numpy()
        cols = list(res.columns)
        pos = cols.index("p_value") + 1
        res.insert(pos, "p_adjusted", p_adj)
        res.insert(pos + 1, "adjust", used)
        res.insert(pos + 2, "family_size", size)
        if simultaneous:  # only methods with a simultaneous interval get one (Holm and FDR have none)
            res.insert(pos + 3, "sci_low", est - crit * se)
            res.insert(pos + 4, "sci_high", est + crit * se)
        tail = res[["reliable", "note"]]
        res = res.drop(columns=["reliable", "note"])
        out = pd.concat([frame.reset_index(drop=True), res], axis=1)
        if effect_size:
            out = pd.concat([out, self._effect_sizes(est, se, res["df"].to_numpy(), level, sigma, edf)], axis=1)
        return _result(pd.concat([out, tail], axis=1), list(frame.columns))

    def _effect_sizes(
        self,
        est: np.ndarray,
        se: np.ndarray,
        df: np.ndarray,
        level: float,
        sigma: float | None,
        edf: float | None,
    ) -> pd.DataFrame:
        if sigma is None or edf is None:
            s0, e0 = self.sigma_total()
            sigma = s0 if sigma is None else sigma
            edf = e0 if edf is None else edf
        sigma, edf = float(sigma), float(edf)
        d = est / sigma
        d_se = np.sqrt(se**2 / sigma**2 + d**2 / (2.0 * edf))
        crit = _mt.t_quantile(level, df)
        return pd.DataFrame(
            {
                "effect_size": d,
                "effect_size_se": d_se,
                "effect_size_ci_low": d - crit * d_se,
                "effect_size_ci_high": d + crit * d_se,
                "sigma": sigma,
                "edf": edf,
            }
        )

    def eff_size(
        self,
        spec: ContrastSpec = "pairwise",
        *,
        at: Mapping[str, Any] | None = None,
        by: str | Sequence[str] | None = None,
        sigma: float | None = None,
        edf: float | None = None,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Standardized effect sizes of contrasts, as emmeans' ``eff_size(emm, sigma=, edf=)``.

        Parameters
        ----------
        spec, at, by : see :meth:`contrasts`.
        sigma : float, optional
            The SD to divide by; default the fit's ``_sigma_total()`` (the square root of the total variance for a
            mixed model; see the fit class).
        edf : float, optional
            Degrees of freedom of ``sigma``; default from ``_sigma_total()``.
        level : float
            Confidence level (intervals are not adjusted for multiplicity, as in emmeans).

        Returns
        -------
        DataFrame
            Columns ``contrast``, ``<time>``, any ``by`` columns, ``effect_size``, ``se``, ``df``, ``ci_low``,
            ``ci_high``, ``sigma``, ``edf``, ``level``, ``reliable``, ``note`` (as in :meth:`contrasts`).

        Notes
        -----
        ``d = c / σ``; σ is treated as random with ``var(log σ) = 1/(2·edf)``, so by the delta method
        ``SE(d) = sqrt(SE(c)²/σ² + d²/(2·edf))``. The interval is ``d ± t(df)·SE(d)`` with ``df`` the contrast's
        df (emmeans keeps the df of the contrast).

        Examples
        --------
        >>> import massage_outcomes as mo
        >>> fit = mo.fit_mmrm(mo.load_sample("trial"), instrument="rmdq")
        >>> es = fit.eff_size("therapeutic - relaxation")
        >>> list(es.columns)
        ['contrast', 'visit', 'effect_size', 'se', 'df', 'ci_low', 'ci_high', 'sigma', 'edf', 'level', 'reliable', 'note']
        """
        frame, L, fam, family, ng = self._contrast_matrix(spec, at, by)
        res = self._infer(L, level)
        es = self._effect_sizes(
            res["estimate"].to_numpy(), res["se"].to_numpy(), res["df"].to_numpy(), level, sigma, edf
        )
        out = frame.reset_index(drop=True).copy()
        out["effect_size"] = es["effect_size"]
        out["se"] = es["effect_size_se"]
        out["df"] = res["df"]
        out["ci_low"] = es["effect_size_ci_low"]
        out["ci_high"] = es["effect_size_ci_high"]
        out["sigma"] = es["sigma"]
        out["edf"] = es["edf"]
        out["level"] = level
        out["reliable"] = res["reliable"]
        out["note"] = res["note"]
        return out

    def f_test(self, L: np.ndarray) -> pd.DataFrame:
        """F test of ``Lβ = 0`` for a custom ``L`` (k, p), reduced to full row rank ``q``.

        Returns
        -------
        DataFrame
            One row: ``df1`` (q), ``df2``, ``F``, ``p_value`` and ``method`` ("satterthwaite" or
            "kenward-roger"). Satterthwaite as lmerTest's ``contest`` (see :meth:`joint_tests`); a fit with
            Kenward-Roger df gives Kenward & Roger's scaled ``F`` and ``df2`` instead (as R's mmrm ``df_md``).
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(self.beta_):
            raise ArgumentError(f"L has {L.shape[1]} columns; the model has {len(self.beta_)} fixed effects.")
        _, sv, vt = np.linalg.svd(L, full_matrices=False)
        q = int(np.sum(sv > max(sv[0], 1e-300) * 1e-9)) if len(sv) else 0
        if q == 0:
            raise ArgumentError("L has no nonzero row; there is nothing to test.")
        Lr = vt[:q]
        V = Lr @ self.vcov_beta_ @ Lr.T
        d, P = np.linalg.eigh(V)
        rot = P.T @ Lr
        est = rot @ self.beta_
        F = float(np.sum(est**2 / d) / q)
        kr = self.kenward_roger_f(Lr)
        if kr is not None:
            df2, scale = kr
            F *= scale
        else:
            df2 = _contest_df(np.asarray(self.df_for(rot), dtype=float), q)
        pval = float(stats.f.sf(F, q, df2)) if np.isfinite(df2) else float(stats.chi2.sf(F * q, q))
        return pd.DataFrame({"df1": [q], "df2": [df2], "F": [F], "p_value": [pval],
                             "method": ["kenward-roger" if kr is not None else "satterthwaite"]})

    def kenward_roger_f(self, L: np.ndarray) -> tuple[float, float] | None:
        """Kenward-Roger ``(df2, scale)`` of the F test of a full-rank ``L``, or None when the fit has no
        Kenward-Roger components (then :meth:`f_test` uses Satterthwaite)."""
        return None

    def joint_tests(
        self,
        spec: ContrastSpec = "pairwise",
        *,
        at: Mapping[str, Any] | None = None,
        by: str | Sequence[str] | None = None,
        over: str | None = None,
    ) -> pd.DataFrame:
        """Joint F test of a family of contrasts at each time (e.g. "any difference between arms at week 26?").

        Parameters
        ----------
        spec, at, by, over : see :meth:`contrasts` (``"pairwise"`` tests equality of all groups).

        Returns
        -------
        DataFrame
            One row per family (time and ``by`` cell): those columns, then ``df1`` (rank of the contrasts),
            ``df2`` (Satterthwaite), ``F``, ``p_value``.

        Notes
        -----
        ``F = (Lβ)'(LCL')⁻¹(Lβ)/q`` with ``L`` reduced to full row rank ``q``. The denominator df follows lmerTest
        (``contest``): rotate ``L`` to the eigenvectors of ``LCL'``, take each row's Satterthwaite df ``ν_m``,
        ``E = Σ ν_m/(ν_m − 2)`` and ``df2 = 2E/(E − q)`` (2 when any ``ν_m ≤ 2``; ``ν`` when ``q = 1``). An MMRM
        fitted with Kenward-Roger df gives Kenward & Roger's scaled F and df instead (see :meth:`f_test`).

        Examples
        --------
        >>> import massage_outcomes as mo
        >>> fit = mo.fit_mmrm(mo.load_sample("trial"), instrument="rmdq")
        >>> jt = fit.joint_tests("pairwise")
        >>> list(jt.columns), jt["df1"].tolist()
        (['visit', 'df1', 'df2', 'F', 'p_value'], [2, 2, 2])
        """
        frame, L, fam, _family, _ng = self._contrast_matrix(spec, at, by, over)
        fam_arr = np.asarray(fam)
        keys = [c for c in frame.columns if c != "contrast"]
        rows = []
        for f in np.unique(fam_arr):
            idx = np.flatnonzero(fam_arr == f)
            test = self.f_test(L[idx]).iloc[0].to_dict()
            rows.append({**frame.iloc[idx[0]][keys].to_dict(), **{k: test[k] for k in ("df1", "df2", "F", "p_value")}})
        out = pd.DataFrame(rows, columns=[*keys, "df1", "df2", "F", "p_value"])
        for c in keys:
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                out[c] = pd.Categorical(out[c], categories=frame[c].cat.categories)
        return out

    # --- slopes -------------------------------------------------------------------------------------------------
    def _slope_matrix(
        self, at: Mapping[str, Any] | None, by: str | Sequence[str] | None, delta: float | None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        if self.time is None or self.time_kind != "continuous":
            raise ArgumentError(
                "slopes need a continuous time (time_kind='continuous'); with visits as categories use "
                "contrasts between visits instead."
            )
        at = dict(at or {})
        ref = self.reference_values()
        if self.time in at:
            tv = np.atleast_1d(np.asarray(at[self.time], dtype=float))
        else:
            tv = np.atleast_1d(np.asarray(ref[self.time], dtype=float))
            tv = np.array([tv.mean()])
        h = delta if delta is not None else 1e-3 * max(1.0, float(np.max(np.abs(tv))))
        at_hi = {**at, self.time: list(tv + h)}
        at_lo = {**at, self.time: list(tv - h)}
        cells, L_hi = self.reference_grid(at=at_hi, by=by)
        _, L_lo = self.reference_grid(at=at_lo, by=by)
        cells = cells.copy()
        back = {float(t + h): float(t) for t in tv}
        cells[self.time] = cells[self.time].map(back).astype(float)
        return cells, (L_hi - L_lo) / (2.0 * h)

    def slopes(
        self,
        *,
        at: Mapping[str, Any] | None = None,
        by: str | Sequence[str] | None = None,
        contrast: ContrastSpec | None = None,
        adjust: Adjust = "holm",
        level: float = 0.95,
        delta: float | None = None,
    ) -> pd.DataFrame:
        """Rate of change of the mean per time unit, per group (like emmeans' ``emtrends``), or contrasts of them.

        Parameters
        ----------
        at : mapping, optional
            ``at[<time>]`` gives the time(s) at which the slope is evaluated (matters only for a nonlinear time
            basis); default the mean of the time's reference values (emtrends uses the covariate's mean).
            Other entries as in :meth:`emmeans`.
        by : str or sequence of str, optional
            Further factors kept separate.
        contrast : spec, optional
            When given, contrasts of the slopes between groups (``"pairwise"``, ``"each vs usual_care"``, ...)
            with the ``adjust`` method.
        adjust, level : see :meth:`contrasts`.
        delta : float, optional
            Half-width of the central difference (default ``1e-3·max(1, |t|)``); exact for a time basis that is
            linear or quadratic near the evaluation point.

        Returns
        -------
        DataFrame
            Without ``contrast``: ``<group>``, ``<time>`` (the evaluation point), any ``by`` columns,
            ``estimate`` (slope per time unit), ``se``, ``df``, ``ci_low``, ``ci_high``, ``t``, ``p_value``,
            ``level``, ``reliable``, ``note``. With ``contrast``: the columns of :meth:`contrasts` without the effect sizes.

        Examples
        --------
        >>> import massage_outcomes as mo
        >>> fit = mo.fit_trajectories(mo.load_sample("trial"), instrument="rmdq", time="week", group="arm")
        >>> fit.slopes()[["arm", "estimate", "se", "df"]].shape
        (3, 4)
        >>> fit.slopes(contrast="each vs usual_care")["contrast"].tolist()
        ['relaxation - usual_care', 'therapeutic - usual_care']
        """
        cells, L = self._slope_matrix(at, by, delta)
        if contrast is None:
            return _result(pd.concat([cells, self._infer(L, level)], axis=1), list(cells.columns))
        if self.group is None:
            raise ArgumentError("contrasts of slopes need a model with a group; refit with group=<column>.")
        frame, Lc, fam, family, ng = _contrast_rows(cells, L, contrast, self.group,
                                                    self._reference_level(self.group))
        return self._contrast_table(
            frame, Lc, fam, family, ng, adjust=adjust, level=level, effect_size=False, sigma=None,
            edf=None,
        )


def _contest_df(nu: np.ndarray, q: int) -> float:
    """lmerTest's multi-df Satterthwaite df from the per-row df of the eigen-rotated contrasts."""
    if q == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < 1e-8):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - q) if E > q else 2.0


def _fmt_level(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):g}"
    return str(v)


def _contrast_rows(
    cells: pd.DataFrame, L: np.ndarray, spec: ContrastSpec, over: str | None, reference: str | None = None
) -> tuple[pd.DataFrame, np.ndarray, list[int], str, int]:
    """Contrast rows over the levels of ``over`` within every combination of the other cell columns."""
    if over is None:
        raise ArgumentError("contrasts need a model with a group (`group=`), or name the factor in `over=`.")
    if over not in cells.columns:
        raise ArgumentError(
            f"over={over!r} is not one of the cell variables {list(cells.columns)}; add it to `by=` first."
        )
    values = list(dict.fromkeys(cells[over].tolist()))
    labels_in = [_fmt_level(v) for v in values]
    labels, W, family = parse_contrast_spec(spec, labels_in, reference=reference)
    pos = cells[over].map({v: i for i, v in enumerate(values)}).to_numpy(dtype=int)
    other = [c for c in cells.columns if c != over]
    if other:
        block = cells[other].astype(object).apply(tuple, axis=1)
        block_id = pd.factorize(block)[0]
    else:
        block_id = np.zeros(len(cells), dtype=int)
    n_blocks = int(block_id.max()) + 1
    rows, Ls, fam = [], [], []
    for b in range(n_blocks):
        idx = np.flatnonzero(block_id == b)
        idx = idx[np.argsort(pos[idx])]
        Ls.append(W @ L[idx])
        key = cells.iloc[idx[0]][other].to_dict() if other else {}
        for lab in labels:
            rows.append({"contrast": lab, **key})
            fam.append(b)
    frame = pd.DataFrame(rows, columns=["contrast", *other])
    for c in other:
        if isinstance(cells[c].dtype, pd.CategoricalDtype):
            frame[c] = pd.Categorical(frame[c], categories=cells[c].cat.categories)
    return frame, np.vstack(Ls), fam, family, len(values)


def _is_numeric_list(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in values)

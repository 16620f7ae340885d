"""Clinical significance: responder rates against an instrument's MCID, RD/RR/OR, NNT, reliable change.

:func:`responders` dichotomizes each subject's improvement from ``start`` to ``end`` against one or more
thresholds (the instrument's MCID, a percentage of baseline such as 30% or 50%, or points) and returns, per
group and threshold, the responder rate of each arm with a Wilson CI and, with ``compare``, the risk difference
(Newcombe hybrid score CI), risk ratio (log CI), odds ratio (Woolf log CI) and the number needed to treat with
its CI from the risk-difference CI, including the benefit/harm case of Altman (1998).
:func:`reliable_change` gives the Jacobson–Truax reliable change index. Direction is handled by the instrument
registry: improvement is positive whatever the scale's direction.

All intervals are computed for every group at once (arrays). statsmodels provides the Wilson and Newcombe
intervals (``proportion_confint(method="wilson")`` and ``confint_proportions_2indep(method="newcomb")``, which is
Newcombe's method 10: the tests check it against the formula in R); the log (Katz) RR and log (Woolf) OR
intervals are written out here, because their continuity correction must apply to the affected tables only,
and the tests check them against statsmodels' ``method="log"``/``"logit"`` and metafor's ``escalc``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from massage_outcomes import instruments as _instruments
from massage_outcomes.effects.occasions import occasion_kind, pair_occasions, resolve_end
from massage_outcomes.effects.summary import arm_codes, group_codes
from massage_outcomes.errors import ArgumentError, DataValidationError, SmallSampleWarning, option
from massage_outcomes.frames import analysis_frame
from massage_outcomes.results import ResultFrame, favours_between

__all__ = ["responders", "reliable_change", "nnt_from_rd", "responder_table"]



# ---------------------------------------------------------------------------------------------------------
# data access
# ---------------------------------------------------------------------------------------------------------
def _occasion_label(frame: pd.DataFrame, spec: str, role: str) -> str:
    """The occasion ``spec`` as the ``start``/``end`` columns say it."""
    concrete, last = resolve_end(frame, spec) if role == "end" else (str(spec), None)
    if last is not None:
        return f"visit {last} (the last scheduled visit with data)"
    kind = occasion_kind(frame, concrete)
    if kind == "last_observed":
        return "each subject's last observed follow-up (LOCF-like)"
    if kind == "visit":
        return f"visit {concrete}"
    return f"timing {concrete} ({'first' if role == 'start' else 'last'} per subject)"


def _paired(frame: pd.DataFrame, start: str, end: str) -> tuple[pd.DataFrame, str, str, str]:
    """One row per unit with start and end values (NaN end when missing), the attributes of the end row (else
    the start row), by the rule of :mod:`~massage_outcomes.effects.occasions`; the two labels and the unit."""
    attrs = [c for c in frame.columns if c not in ("value", "day", "baseline", "change", "improvement", "pct_improvement")]
    pairs = pair_occasions(frame, start, end, attrs=attrs)
    if pairs.unit == "session":
        return pairs.frame, f"timing {start}", f"timing {end} (same session)", "session"
    return pairs.frame, _occasion_label(frame, start, "start"), _occasion_label(frame, end, "end"), "subject"


# ---------------------------------------------------------------------------------------------------------
# vectorized interval arithmetic
# ---------------------------------------------------------------------------------------------------------
def _wilson(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    from statsmodels.stats.proportion import proportion_confint

    lo = np.full(np.shape(x), np.nan)
    hi = np.full(np.shape(x), np.nan)
    ok = n > 0
    if ok.any():
        lo_ok, hi_ok = proportion_confint(x[ok], n[ok], alpha=1 - level, method="wilson")
        lo[ok], hi[ok] = lo_ok, hi_ok
    # exact limits at the boundaries (floating-point error otherwise leaves e.g. 5.6e-17 at 0 responders)
    lo = np.where(x == 0, 0.0, np.clip(lo, 0.0, 1.0))
    hi = np.where((x == n) & ok, 1.0, np.clip(hi, 0.0, 1.0))
    return lo, hi


def _newcombe(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    from statsmodels.stats.proportion import confint_proportions_2indep

    lo = np.full(np.shape(x1), np.nan)
    hi = np.full(np.shape(x1), np.nan)
    ok = (n1 > 0) & (n2 > 0)
    if ok.any():
        lo_ok, hi_ok = confint_proportions_2indep(
            x1[ok], n1[ok], x2[ok], n2[ok], method="newcomb", compare="diff", alpha=1 - level
        )
        lo[ok], hi[ok] = lo_ok, hi_ok
    return np.clip(lo, -1.0, 1.0), np.clip(hi, -1.0, 1.0)


def _log_ratio(
    x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray, level: float, *, odds: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RR (Katz log) or OR (Woolf logit) with its CI; NaN where a needed cell is zero (caller corrects)."""
    z = stats.norm.isf((1 - level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if odds:
            a, b, c, d = x1, n1 - x1, x2, n2 - x2
            est = (a * d) / (b * c)
            se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        else:
            est = (x1 / n1) / (x2 / n2)
            se = np.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
        lest = np.log(est)
        lo, hi = np.exp(lest - z * se), np.exp(lest + z * se)
    bad = ~np.isfinite(lest) | ~np.isfinite(se)
    return np.where(bad, np.nan, est), np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def nnt_from_rd(
    rd: object, rd_ci_low: object, rd_ci_high: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Number needed to treat and its CI from a risk difference and its CI (Altman 1998), elementwise.

    The risk difference is arm 1 minus arm 2 in the proportion of responders (benefit), so RD > 0 gives a
    number needed to treat for one more person to benefit (NNTB) with arm 1, RD < 0 a number needed to treat
    for one more to be harmed (NNTH).

    Returns
    -------
    nnt : signed 1/RD (positive = NNTB, negative = NNTH; ±inf at RD = 0)
    nnt_ci_low, nnt_ci_high : signed limits. When the RD CI excludes 0 they are 1/rd_ci_high and 1/rd_ci_low
        (sorted) on the same side. When the RD CI includes 0 the NNT CI is in two pieces through infinity,
        (−∞, nnt_ci_low] ∪ [nnt_ci_high, ∞) with nnt_ci_low = 1/rd_ci_low < 0 (the NNTH limit) and
        nnt_ci_high = 1/rd_ci_high > 0 (the NNTB limit).
    direction : "NNTB", "NNTH" or "none" (RD = 0)
    label : text as Altman writes it, e.g. "NNTB 10.0 (NNTH 21.9 to ∞ to NNTB 4.6)" (one decimal; the
        numeric columns keep full precision)

    Examples
    --------
    >>> nnt, lo, hi, d, lab = nnt_from_rd(0.1, -0.0456, 0.2174)
    >>> str(lab[0])
    'NNTB 10.0 (NNTH 21.9 to ∞ to NNTB 4.6)'
    >>> nnt_from_rd(0.25, 0.1, 0.4)[4][0]
    'NNTB 4.0 (2.5 to 10.0)'
    """
    rd_a = np.atleast_1d(np.asarray(rd, dtype=float))
    lo_a = np.atleast_1d(np.asarray(rd_ci_low, dtype=float))
    hi_a = np.atleast_1d(np.asarray(rd_ci_high, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        nnt = 1.0 / rd_a
        inv_lo, inv_hi = 1.0 / lo_a, 1.0 / hi_a
    crosses = (lo_a < 0) & (hi_a > 0)
    same = ~crosses
    nnt_lo = np.where(crosses, inv_lo, np.fmin(inv_lo, inv_hi))
    nnt_hi = np.where(crosses, inv_hi, np.fmax(inv_lo, inv_hi))
    # a limit exactly at 0 means an unbounded NNT on that side
    nnt_lo = np.where(same & (lo_a == 0), np.where(hi_a > 0, inv_hi, -np.inf), nnt_lo)
    nnt_hi = np.where(same & (lo_a == 0), np.inf, nnt_hi)
    nnt_lo = np.where(same & (hi_a == 0) & (lo_a < 0), -np.inf, nnt_lo)
    nnt_hi = np.where(same & (hi_a == 0) & (lo_a < 0), inv_lo, nnt_hi)
    direction = np.where(rd_a > 0, "NNTB", np.where(rd_a < 0, "NNTH", "none"))
    direction = np.where(np.isnan(rd_a), "", direction)
    labels = []
    for r, l_, h_, d in zip(rd_a, lo_a, hi_a, direction, strict=True):
        if not np.isfinite(r):
            labels.append("")
            continue
        head = "NNT ∞ (no difference)" if r == 0 else f"{d} {_fmt(1 / abs(r))}"
        if not (np.isfinite(l_) and np.isfinite(h_)):
            labels.append(head)
            continue
        if l_ < 0 < h_ or (l_ == 0 and h_ > 0) or (h_ == 0 and l_ < 0):
            left = "∞" if l_ == 0 else f"NNTH {_fmt(1 / abs(l_))}"
            right = "∞" if h_ == 0 else f"NNTB {_fmt(1 / h_)}"
            if l_ == 0:
                labels.append(f"{head} (NNTB {_fmt(1 / h_)} to ∞)")
            elif h_ == 0:
                labels.append(f"{head} (NNTH {_fmt(1 / abs(l_))} to ∞)")
            else:
                labels.append(f"{head} ({left} to ∞ to {right})")
        else:
            a_, b_ = sorted((1 / abs(l_), 1 / abs(h_)))
            side = "NNTB" if h_ > 0 else "NNTH"
            inner = f"{_fmt(a_)} to {_fmt(b_)}" if side == d else f"{side} {_fmt(a_)} to {_fmt(b_)}"
            labels.append(f"{head} ({inner})")
    return nnt, nnt_lo, nnt_hi, direction, np.array(labels, dtype=object)


def responder_table(
    x1: object, n1: object, x2: object, n2: object, *, level: float = 0.95, continuity: float | None = None
) -> pd.DataFrame:
    """Rates, RD, RR, OR and NNT with CIs for arrays of 2×2 tables (responders x of n per arm).

    The engine behind :func:`responders`, usable directly on published counts. Columns are those of
    :func:`responders` from ``rate_1`` on (see there).

    Examples
    --------
    >>> t = responder_table([12], [31], [4], [29])
    >>> t[["rate_1", "rate_2", "risk_diff", "risk_ratio", "nnt"]].round(3)
       rate_1  rate_2  risk_diff  risk_ratio    nnt
    0   0.387   0.138      0.249       2.806  4.013
    """
    x1_a, n1_a, x2_a, n2_a = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (x1, n1, x2, n2))
    if np.any((x1_a < 0) | (x1_a > n1_a) | (x2_a < 0) | (x2_a > n2_a)):
        raise DataValidationError("responder counts must satisfy 0 <= x <= n in each arm")
    if continuity is not None and not (np.isfinite(continuity) and continuity > 0):
        raise ArgumentError(f"continuity must be a positive number (0.5 is usual) or None; got {continuity!r}")
    m = len(x1_a)
    notes: list[list[str]] = [[] for _ in range(m)]
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1_a / n1_a, x2_a / n2_a
    r1_lo, r1_hi = _wilson(x1_a, n1_a, level)
    r2_lo, r2_hi = _wilson(x2_a, n2_a, level)
    rd = p1 - p2
    rd_lo, rd_hi = _newcombe(x1_a, n1_a, x2_a, n2_a, level)
    zero_cell = (x1_a == 0) | (x2_a == 0) | (x1_a == n1_a) | (x2_a == n2_a)
    corr = np.where(zero_cell & (continuity is not None), float(continuity or 0.0), 0.0)
    # RR: defined unless a responder count is 0; OR: unless any cell is 0. The correction adds `continuity` to
    # every cell of the affected tables only (metafor's escalc default add = 1/2, to = "only0").
    rr, rr_lo, rr_hi = _log_ratio(x1_a + corr, n1_a + 2 * corr, x2_a + corr, n2_a + 2 * corr, level, odds=False)
    or_, or_lo, or_hi = _log_ratio(x1_a + corr, n1_a + 2 * corr, x2_a + corr, n2_a + 2 * corr, level, odds=True)
    nnt, nnt_lo, nnt_hi, direction, label = nnt_from_rd(rd, rd_lo, rd_hi)
    both_all = (x1_a == n1_a) & (x2_a == n2_a)
    for i in range(m):
        if n1_a[i] == 0 or n2_a[i] == 0:
            notes[i].append("an arm has no subjects")
            continue
        if min(n1_a[i], n2_a[i]) < 10:
            notes[i].append("fewer than 10 subjects in an arm: intervals are wide")
        if zero_cell[i]:
            what = []
            if x1_a[i] == 0 or x2_a[i] == 0:
                what.append("0 responders in an arm")
            if x1_a[i] == n1_a[i] or x2_a[i] == n2_a[i]:
                what.append("all responders in an arm")
            msg = " and ".join(what)
            if continuity is not None:
                notes[i].append(f"{msg}: {continuity:g} added to every cell for RR and OR")
            else:
                undefined = ["RR and OR"] if not np.isfinite(rr[i]) else ["OR"]
                extra = "; RR = 1 has no CI (every subject responded)" if both_all[i] else ""
                notes[i].append(
                    f"{msg}: {undefined[0]} undefined{extra} (Wilson and Newcombe CIs remain valid; pass "
                    "continuity=0.5 for corrected ratios)"
                )
        if both_all[i] and continuity is None:
            rr_lo[i] = rr_hi[i] = np.nan  # zero-width log interval: not an interval
    out = pd.DataFrame(
        {
            "n_1": n1_a.astype(int), "responders_1": x1_a.astype(int), "rate_1": p1,
            "rate_1_ci_low": r1_lo, "rate_1_ci_high": r1_hi,
            "n_2": n2_a.astype(int), "responders_2": x2_a.astype(int), "rate_2": p2,
            "rate_2_ci_low": r2_lo, "rate_2_ci_high": r2_hi,
            "risk_diff": rd, "risk_diff_ci_low": rd_lo, "risk_diff_ci_high": rd_hi,
            "risk_ratio": rr, "risk_ratio_ci_low": rr_lo, "risk_ratio_ci_high": rr_hi,
            "odds_ratio": or_, "odds_ratio_ci_low": or_lo, "odds_ratio_ci_high": or_hi,
            "nnt": nnt, "nnt_ci_low": nnt_lo, "nnt_ci_high": nnt_hi, "nnt_direction": direction,
            "nnt_label": label,
            "continuity": np.where(corr > 0, corr, np.nan),
            "ci_method": "Wilson; RD Newcombe hybrid score (method 10); RR log (Katz); OR log (Woolf)",
            "level": level,
        }
    )
    out["note"] = ["; ".join(n) for n in notes]
    return out


# ---------------------------------------------------------------------------------------------------------
# public: responders
# ---------------------------------------------------------------------------------------------------------
def _as_list(x: object) -> list:
    if x is None:
        return []
    if isinstance(x, str | _instruments.MCID) or np.isscalar(x):
        return [x]
    return list(x)  # type: ignore[call-overload]


def responders(
    data: Any,
    *,
    instrument: str,
    threshold: object = "mcid",
    by: str | Sequence[str] = (),
    compare: tuple[str, str, str] | None = None,
    start: str = "baseline",
    end: str = "last",
    level: float = 0.95,
    missing: Literal["completers", "nonresponders"] = "completers",
    continuity: float | None = None,
    mcid: float | _instruments.MCID | None = None,
) -> pd.DataFrame:
    """Responder analysis: who improved by at least a threshold, per group and arm, with RD, RR, OR and NNT.

    Parameters
    ----------
    data : Dataset, DataFrame or Scan
        A :class:`massage_outcomes.Dataset` or its analysis frame (``Dataset.analysis_frame`` columns), or a lazy
        scan (``mo.scan``), whose engine selects each subject's start and end rows.
    instrument : str
        Registered instrument key; its direction decides what improvement means.
    threshold : "mcid", float, MCID, or a list of them
        ``"mcid"``: the registry's within-person MCID derived in patients with the data's condition
        (:meth:`~massage_outcomes.instruments.Instrument.mcid_for`, chosen per group when ``by`` includes
        ``condition``), or ``mcid`` when given; a number in (0, 1]: a proportion of the start value (0.3 = at
        least 30% improvement); a number above 1: points on the instrument's scale; an
        :class:`~massage_outcomes.instruments.MCID`. A list gives one row per threshold (e.g.
        ``["mcid", 0.3, 0.5]``, the set reviewers expect). Where the registry has no MCID for the data's
        condition (or the data mix conditions whose MCIDs differ), the "mcid" rows are not computed: a warning,
        ``reliable`` False and a ``note`` say so, and ``mcid=`` supplies the value.
    by : str or list of str
        Group columns of the analysis frame (e.g. ``["condition", "technique"]``), taken from each subject's end
        row (else the start row).
    compare : (column, a, b), optional
        Two arms to compare, e.g. ``("arm", "therapeutic", "usual_care")``: differences are a − b.
        Without it, one rate per group.
    start, end : str
        The two occasions: a timing (``"baseline"``, ``"pre"``, ``"post"``, ``"followup"``), a visit label
        (``"week_10"``), or ``end="last"``: the last visit in visit order at which the data have values (one
        occasion for everybody, the rule :func:`~massage_outcomes.effects.effect_sizes` uses; subjects without a
        value there are missing, counted in ``n_missing_*``), or ``end="last_observed"``: each subject's last
        observed follow-up (LOCF-like: dropouts contribute earlier visits; opt in deliberately). Data without
        visits: "last" is "last_observed". ``start="pre", end="post"`` pairs ratings
        within each session (the unit is then the session, not the subject: see ``unit``). Several rows of a
        subject at one occasion: ``start`` takes the first by day, ``end`` the last; a visit label of the data
        is matched before a timing of the same name (:mod:`massage_outcomes.effects.occasions`).
    level : float
        Confidence level of every interval.
    missing : {"completers", "nonresponders"}
        Subjects with a start value but none at ``end``: left out (complete-case, the default) or counted as
        non-responders (the conservative rule many trials pre-specify). The rule is named in column
        ``missing`` and the counts in ``n_missing_1``/``n_missing_2``.
    continuity : float, optional
        Add this (0.5 is usual) to every cell of a 2×2 table that has a zero (or an all-responder) cell, for RR
        and OR only; the rates, RD and NNT are never corrected. Default None: such ratios are NaN with a note.
    mcid : float or MCID, optional
        The MCID to use for ``threshold="mcid"`` (points on the instrument's scale, or an
        :class:`~massage_outcomes.instruments.MCID` for a percentage), instead of the registry's: for a
        population the registry does not cover, or a protocol's own value.

    Returns
    -------
    DataFrame
        One row per group × threshold. Columns: the ``by`` columns; ``threshold`` (label, e.g. ">=30%
        improvement"), ``threshold_value``, ``threshold_unit`` ("points"/"percent"); ``start``, ``end``
        (occasions used, in words), ``unit`` ("subject" or "session"), ``missing``.

        With ``compare``: ``arm_1``, ``arm_2`` (a and b); per arm ``n_k`` (analysed), ``responders_k``,
        ``rate_k`` with ``rate_k_ci_low``/``rate_k_ci_high`` (Wilson score), ``n_missing_k`` (no ``end``
        value); ``risk_diff`` (rate_1 − rate_2) with ``risk_diff_ci_low``/``_high`` (Newcombe hybrid score,
        method 10); ``risk_ratio`` with log (Katz) CI; ``odds_ratio`` with log (Woolf) CI; ``nnt`` (signed
        1/RD: positive = NNTB, negative = NNTH), ``nnt_ci_low``, ``nnt_ci_high`` (see :func:`nnt_from_rd`: when
        the RD CI includes 0 the NNT CI runs through infinity, from ``nnt_ci_high`` (NNTB) to ∞ to
        ``|nnt_ci_low|`` (NNTH)), ``nnt_direction`` ("NNTB"/"NNTH"), ``nnt_label`` (text, e.g. "NNTB 10.0 (NNTH
        21.9 to ∞ to NNTB 4.6)"); ``favours`` ("favours a" or "favours b" only when the risk-difference
        interval excludes 0, else "no clear difference") and ``direction`` (the side of the point estimate:
        "toward a", "toward b", "none"); ``continuity`` (the correction added, NaN if none); ``ci_method``;
        ``level``; ``reliable`` (bool: False for an empty arm or an MCID that could not be chosen); ``note``
        (why, and information such as small arms or the MCID's population; empty when there is nothing to say).

        Without ``compare``: ``n``, ``responders``, ``rate``, ``rate_ci_low``, ``rate_ci_high``, ``n_missing``,
        ``ci_method``, ``level``, ``reliable``, ``note``.

    Warns
    -----
    SmallSampleWarning
        Some group has an empty arm, or no or only responders so that RR/OR are undefined (see ``note``).

    Notes
    -----
    Improvement is ``instrument.improvement(start, end)`` (points, positive = better) or
    ``instrument.percent_improvement`` (percent of the start value; undefined, hence not a responder, at a
    start value of 0). A unit responds when its improvement is at least the threshold (with a 1e-9 relative
    allowance for floating-point error, so that 3 of 10 points counts as 30%). Wilson interval:
    :math:`(\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2})/(1 + z^2/n)`. Newcombe:
    :math:`RD - \\sqrt{(\\hat p_1 - l_1)^2 + (u_2 - \\hat p_2)^2}` to
    :math:`RD + \\sqrt{(u_1 - \\hat p_1)^2 + (\\hat p_2 - l_2)^2}` with Wilson limits l, u. NNT = 1/RD
    (report it rounded up).

    References
    ----------
    Newcombe RG (1998). Interval estimation for the difference between independent proportions: comparison of
    eleven methods. Stat Med 17(8):873–890. doi:10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I
    Altman DG (1998). Confidence intervals for the number needed to treat. BMJ 317:1309–1312.
    doi:10.1136/bmj.317.7168.1309
    Ostelo RWJG et al. (2008). Interpreting change scores for pain and functional status in low back pain.
    Spine 33(1):90–94. doi:10.1097/BRS.0b013e31815e3a10

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_trial(n_per_arm=60, seed=1)
    >>> res = responders(ds, instrument="rmdq", threshold=["mcid", 0.5], end="week_10",
    ...                  compare=("arm", "therapeutic", "usual_care"))
    >>> res[["threshold_value", "threshold_unit", "n_1", "rate_1", "n_2", "rate_2", "risk_diff"]].round(3)
       threshold_value threshold_unit  n_1  rate_1  n_2  rate_2  risk_diff
    0              5.0         points   50    0.52   58   0.397      0.123
    1             50.0        percent   50    0.38   58   0.276      0.104
    >>> print(res["nnt_label"].iloc[0])
    NNTB 8.1 (NNTH 15.9 to ∞ to NNTB 3.3)
    """
    if callable(getattr(type(data), "responders", None)):  # a lazy scan (mo.scan) selects the rows in its engine
        return data.responders(instrument=instrument, threshold=threshold, by=by, compare=compare, start=start,
                               end=end, level=level, missing=missing, continuity=continuity, mcid=mcid)
    inst = _instruments.get(instrument)
    if not 0 < level < 1:
        raise ArgumentError(f"level must be in (0, 1); got {level!r}")
    if missing not in ("completers", "nonresponders"):
        raise ArgumentError(f"missing must be 'completers' or 'nonresponders'; got {missing!r}")
    resolved, user_mcid = _resolve_thresholds(inst, threshold, mcid)
    by_cols = _as_list(by)
    frame = analysis_frame(data, inst.key)
    for col in [*by_cols, *([compare[0]] if compare else [])]:
        if col not in frame.columns:
            raise ArgumentError(
                f"column {col!r} (from by/compare) is not in the analysis frame; available: {', '.join(map(str, frame.columns))}"
            )
    if compare is not None and (not isinstance(compare, tuple | list) or len(compare) != 3):
        raise ArgumentError(f"compare must be (column, a, b), e.g. ('arm', 'therapeutic', 'usual_care'); got {compare!r}")
    cells = _responder_cells(frame, inst, start, end, by_cols, compare)
    pieces = []
    for spec in resolved:
        if spec is None:  # "mcid": chosen per group for the data's condition
            th = _mcid_per_group(inst, cells.units, cells.gcode, cells.G, user_mcid)
        else:
            th = _Thresholds.constant(*spec, G=cells.G)
        pieces.append(_responder_piece(cells, th, by_cols=by_cols, compare=compare, missing=missing, level=level,
                                       continuity=continuity))
    out = pd.concat(pieces, ignore_index=True)
    if by_cols:
        out = out.sort_values(by_cols, kind="stable", ignore_index=True)
    if cells.unit == "session":
        out["note"] = [_join(t, "unit = session: ratings of one subject are not independent") for t in out["note"]]
    out["note"] = out.pop("note")  # reliable, then note, last
    flagged = out["note"].str.contains("undefined|no subjects", regex=True)
    if flagged.any():
        warnings.warn(
            f"{int(flagged.sum())} responder row(s) have an empty arm or undefined ratios (see the note column)",
            SmallSampleWarning, stacklevel=2,
        )
    keys_shown = [*by_cols, "threshold"] + (["arm_1", "arm_2"] if compare is not None else [])
    values = (("rate_1", "rate_2", "risk_diff", "risk_diff_ci_low", "risk_diff_ci_high", "nnt_label", "n_1", "n_2",
               "favours", "reliable", "note") if compare is not None else
              ("rate", "rate_ci_low", "rate_ci_high", "n", "responders", "reliable", "note"))
    return ResultFrame(out, keys=keys_shown, values=values)


def _resolve_thresholds(inst: _instruments.Instrument, threshold: object, mcid: object
                        ) -> tuple[list[tuple[float, str, str] | None], _instruments.MCID | None]:
    """Each threshold as (value, unit, label), None for "mcid" (chosen per group later); and the user's MCID."""
    thresholds = _as_list(threshold)
    if not thresholds:
        raise ArgumentError("threshold must not be empty")
    user_mcid = _user_mcid(mcid)
    resolved = [None if _is_mcid(t) else _instruments.resolve_threshold(inst, t) for t in thresholds]
    if None in resolved and user_mcid is None and not any(m.within_person for m in inst.mcids):
        other = [m for m in inst.mcids if not m.within_person]
        also = (f" (it lists {', '.join(f'{m.value:g} {m.unit} as {m.kind}' for m in other)}: a "
                f"{'detectable change' if other[0].kind == 'MDC' else 'between-group difference'}, not a "
                "responder threshold; pass it as threshold= to use it anyway)") if other else ""
        raise DataValidationError(
            f"{inst.describe()} has no published MCID in the registry{also}; pass {option('mcid')} or threshold as "
            "points or a proportion")
    return resolved, user_mcid


@dataclass(frozen=True)
class _Cells:
    """The analysed units and their counts per group × arm cell, shared by every threshold."""

    units: pd.DataFrame
    unit: str
    start_label: str
    end_label: str
    keys: pd.DataFrame
    gcode: np.ndarray
    G: int
    n_arms: int
    cell: np.ndarray
    observed: np.ndarray
    improvement: np.ndarray
    percent: np.ndarray
    n_obs: np.ndarray
    n_miss: np.ndarray


def _responder_cells(frame: pd.DataFrame, inst: _instruments.Instrument, start: str, end: str, by_cols: list[str],
                     compare: Sequence[Any] | None) -> _Cells:
    """Pair the occasions, keep units with a start value (in the two arms), and count them per cell."""
    units, s_label, e_label, unit = _paired(frame, start, end)
    units = units[np.isfinite(units["value_start"].to_numpy(dtype=float, na_value=np.nan))]
    if compare is not None:
        col, a, b = compare
        code = arm_codes(units[col], a, b)
        for k, arm in enumerate((a, b)):
            if not (code == k).any():
                present = sorted(set(units[col].dropna().astype(str)))
                raise DataValidationError(
                    f"compare arm {arm!r} not found in column {col!r} (values: {', '.join(present)})"
                )
        units = units[code >= 0]
        arm_idx = code[code >= 0].astype(np.int64)
    else:
        arm_idx = np.zeros(len(units), dtype=int)
    gcode, keys = group_codes(units, by_cols, dropna=False)
    G = len(keys)
    n_arms = 2 if compare is not None else 1
    cell = gcode * n_arms + arm_idx
    start_v = units["value_start"].to_numpy(dtype=float, na_value=np.nan)
    end_v = units["value_end"].to_numpy(dtype=float, na_value=np.nan)
    observed = np.isfinite(end_v)
    return _Cells(units, unit, s_label, e_label, keys, gcode, G, n_arms, cell, observed,
                  inst.improvement(start_v, end_v), inst.percent_improvement(start_v, end_v),
                  np.bincount(cell[observed], minlength=G * n_arms).reshape(G, n_arms),
                  np.bincount(cell[~observed], minlength=G * n_arms).reshape(G, n_arms))


def _responder_piece(c: _Cells, th: _Thresholds, *, by_cols: list[str], compare: Sequence[Any] | None,
                     missing: str, level: float, continuity: float | None) -> pd.DataFrame:
    """The rows of one threshold: who responded per cell, and the rates (and contrasts) with their intervals."""
    G, n_arms = c.G, c.n_arms
    score = np.where(th.unit[np.maximum(c.gcode, 0)] == "percent", c.percent, c.improvement)
    need = th.value[np.maximum(c.gcode, 0)]
    with np.errstate(invalid="ignore"):
        resp = c.observed & (score >= need - 1e-9 * np.maximum(1.0, np.abs(need)))
    x = np.bincount(c.cell[resp], minlength=G * n_arms).reshape(G, n_arms).astype(float)
    n = c.n_obs + (c.n_miss if missing == "nonresponders" else 0)
    n_miss = c.n_miss
    head = c.keys.reset_index(drop=True).copy() if by_cols else pd.DataFrame(index=range(G))
    head["threshold"] = th.label
    head["threshold_value"] = th.value
    head["threshold_unit"] = th.unit
    head["start"] = c.start_label
    head["end"] = c.end_label
    head["unit"] = c.unit
    head["missing"] = missing
    if compare is not None:
        tab = responder_table(x[:, 0], n[:, 0], x[:, 1], n[:, 1], level=level, continuity=continuity)
        head["arm_1"] = str(compare[1])
        head["arm_2"] = str(compare[2])
        tab.insert(tab.columns.get_loc("n_2"), "n_missing_1", n_miss[:, 0])
        tab.insert(tab.columns.get_loc("risk_diff"), "n_missing_2", n_miss[:, 1])
        _blank_unusable(tab, ~th.usable)
        fav, direction = favours_between(tab["risk_diff"], tab["risk_diff_ci_low"], tab["risk_diff_ci_high"],
                                         higher_is_better=True, a=str(compare[1]), b=str(compare[2]))
        tab.insert(tab.columns.get_loc("continuity"), "favours", fav)
        tab.insert(tab.columns.get_loc("continuity"), "direction", direction)
        reliable = th.usable & (n[:, 0] > 0) & (n[:, 1] > 0)
        if missing == "nonresponders":
            tab["note"] = [_join(t, f"{int(m1 + m2)} missing counted as non-responders" if m1 + m2 else "")
                           for t, m1, m2 in zip(tab["note"], n_miss[:, 0], n_miss[:, 1], strict=True)]
        piece = pd.concat([head, tab], axis=1)
    else:
        nn, xx = n[:, 0].astype(float), x[:, 0]
        lo, hi = _wilson(xx, nn, level)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = xx / nn
        head["n"] = nn.astype(int)
        head["responders"] = xx.astype(int)
        head["rate"] = rate
        head["rate_ci_low"] = lo
        head["rate_ci_high"] = hi
        head["n_missing"] = n_miss[:, 0]
        head["ci_method"] = "Wilson"
        head["level"] = level
        head["note"] = np.where(nn == 0, "no subjects with both occasions", np.where(
            nn < 10, "fewer than 10 subjects: the interval is wide", ""))
        _blank_unusable(head, ~th.usable)
        reliable = th.usable & (nn > 0)
        piece = head
    piece["note"] = [_join(th.note[i], t) for i, t in enumerate(piece["note"])]
    piece["reliable"] = reliable
    return piece


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _is_mcid(threshold: object) -> bool:
    return isinstance(threshold, str) and threshold.strip().lower() == "mcid"


def _user_mcid(mcid: object) -> _instruments.MCID | None:
    if mcid is None or isinstance(mcid, _instruments.MCID):
        return mcid
    value = float(mcid)  # type: ignore[arg-type]
    if not np.isfinite(value) or value <= 0:
        raise ArgumentError(f"{option('mcid', mcid)}: an MCID is a positive number of points on the instrument's scale.")
    return _instruments.MCID(value, "points", "MCID", "given by the user", "mcid=", "")


@dataclass
class _Thresholds:
    """One responder threshold per result group: value, unit, label, note, and whether it could be chosen."""

    value: np.ndarray
    unit: np.ndarray
    label: np.ndarray
    note: np.ndarray
    usable: np.ndarray

    @classmethod
    def constant(cls, value: float, unit: str, label: str, *, G: int) -> _Thresholds:
        return cls(np.full(G, float(value)), np.full(G, unit, dtype=object), np.full(G, label, dtype=object),
                   np.full(G, "", dtype=object), np.ones(G, dtype=bool))


def _mcid_per_group(inst: _instruments.Instrument, units: pd.DataFrame, gcode: np.ndarray, G: int,
                    user: _instruments.MCID | None) -> _Thresholds:
    """The MCID of each group: the user's, else the registry's for the group's condition (issue 17.4: a neck-pain
    analysis silently used the low-back-pain MCID); unusable, with a warning and a note, where there is none."""
    th = _Thresholds.constant(np.nan, "points", "MCID", G=G)
    if user is not None:
        for g in range(G):
            th.value[g], th.unit[g], th.label[g] = user.value, user.unit, f"MCID {user}"
        return th
    conds: list[list[str]] = [[] for _ in range(G)]
    if "condition" in units.columns:
        c = units["condition"].astype("string").to_numpy(dtype=object, na_value=None)
        for g in range(G):
            conds[g] = sorted({str(v) for v in c[gcode == g] if v is not None})
    unmatched: set[str] = set()
    for g in range(G):
        if not conds[g]:  # the data do not say: the registry's first within-person MCID, and say so
            m = inst.mcid_for(None) or next((x for x in inst.mcids if x.within_person), None)
            if m is None:
                th.usable[g] = False
                th.note[g] = f"{inst.key} has no within-person MCID in the registry: pass mcid="
                unmatched.add("(no condition recorded)")
                continue
            th.note[g] = f"condition not recorded: MCID from {m.population} ({m.source})"
        else:
            found = {c_: inst.mcid_for(c_) for c_ in conds[g]}
            distinct = {id(v) for v in found.values() if v is not None}
            if any(v is None for v in found.values()) or len(distinct) != 1:
                th.usable[g] = False
                missing_ = [c_ for c_, v in found.items() if v is None]
                unmatched.update(missing_ or conds[g])
                th.note[g] = (f"no registry MCID of {inst.key} for {', '.join(missing_)}: pass mcid= (not computed)"
                              if missing_ else f"the data mix conditions ({', '.join(conds[g])}) whose MCIDs differ: "
                              "pass by='condition' or mcid= (not computed)")
                continue
            m = next(v for v in found.values() if v is not None)
        th.value[g], th.unit[g], th.label[g] = m.value, m.unit, f"MCID {m}"
    if unmatched:
        warnings.warn(f"responders(threshold='mcid'): the registry has no MCID of {inst.key} for "
                      f"{', '.join(sorted(unmatched))}; those rows are not computed (see `note`). Pass mcid= with "
                      "the value for this population.", UserWarning, stacklevel=3)
    return th


_RESULT_COLUMNS = ("responders_1", "rate_1", "rate_1_ci_low", "rate_1_ci_high", "responders_2", "rate_2",
                   "rate_2_ci_low", "rate_2_ci_high", "risk_diff", "risk_diff_ci_low", "risk_diff_ci_high",
                   "risk_ratio", "risk_ratio_ci_low", "risk_ratio_ci_high", "odds_ratio", "odds_ratio_ci_low",
                   "odds_ratio_ci_high", "nnt", "nnt_ci_low", "nnt_ci_high", "responders", "rate", "rate_ci_low",
                   "rate_ci_high")


def _blank_unusable(tab: pd.DataFrame, bad: np.ndarray) -> None:
    """Rows whose threshold could not be chosen carry no result numbers (counts of analysed subjects stay)."""
    if not bad.any():
        return
    for c in _RESULT_COLUMNS:
        if c in tab.columns:
            if pd.api.types.is_integer_dtype(tab[c]):
                tab[c] = tab[c].astype("Int64")
            tab.loc[bad, c] = pd.NA if str(tab[c].dtype) == "Int64" else np.nan
    for c in ("nnt_direction", "nnt_label", "note"):  # the note of a table of zeros would mislead
        if c in tab.columns:
            tab.loc[bad, c] = ""


# ---------------------------------------------------------------------------------------------------------
# public: reliable change (Jacobson & Truax 1991)
# ---------------------------------------------------------------------------------------------------------
def reliable_change(
    data: Any,
    *,
    instrument: str,
    reliability: float | None = None,
    sd_baseline: float | None = None,
    by: str | Sequence[str] = (),
    start: str = "baseline",
    end: str = "last",
    level: float = 0.95,
    per_subject: bool = False,
) -> pd.DataFrame:
    """Jacobson–Truax reliable change: improvement larger than measurement error, per group.

    Parameters
    ----------
    data : Dataset or DataFrame
    instrument : str
    reliability : float, optional
        Test–retest reliability r of the instrument; defaults to the registry's ``instrument.reliability``.
        Required one way or the other (the registry has none for most instruments: pass the value from the
        population you study).
    sd_baseline : float, optional
        SD of the start scores to use (e.g. a normative SD). Default: the registry's ``sd_reference`` if set,
        else the SD (ddof=1) of the start scores of all analysed subjects (one threshold for every group).
    by, start, end, level
        As in :func:`responders`; ``level`` sets the critical value z (1.96 at 0.95).
    per_subject : bool
        Return one row per subject (start, end, improvement, rci, category) instead of the group summary.

    Returns
    -------
    DataFrame
        Per group: ``n``, ``reliability``, ``sd_baseline``, ``se_diff`` = SD·√2·√(1 − r), ``rc_points`` =
        z·se_diff (the smallest reliable change in points), ``n_improved``, ``n_unchanged``,
        ``n_deteriorated`` (RCI > z, |RCI| <= z, RCI < −z, with RCI = improvement / se_diff),
        ``prop_improved`` with Wilson ``prop_improved_ci_low``/``_high``, ``prop_deteriorated``, ``level``,
        ``reliable`` (False for a group without subjects), ``note``.

    References
    ----------
    Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining meaningful change in
    psychotherapy research. J Consult Clin Psychol 59(1):12–19. doi:10.1037/0022-006X.59.1.12

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_trial(n_per_arm=40, seed=2)
    >>> rc = reliable_change(ds, instrument="rmdq", reliability=0.88, by="arm", end="week_10")
    >>> list(rc.columns[:6])
    ['arm', 'n', 'reliability', 'sd_baseline', 'se_diff', 'rc_points']
    """
    inst = _instruments.get(instrument)
    r = reliability if reliability is not None else inst.reliability
    if r is None:
        raise DataValidationError(
            f"{inst.describe()} has no test-retest reliability in the registry; pass reliability= (e.g. the ICC "
            "reported for your population)"
        )
    r = float(r)
    if not 0 <= r < 1:
        raise ArgumentError(f"reliability must be in [0, 1); got {r!r}")
    by_cols = _as_list(by)
    frame = analysis_frame(data, inst.key)
    for col in by_cols:
        if col not in frame.columns:
            raise ArgumentError(f"by column {col!r} is not in the analysis frame; available: {', '.join(map(str, frame.columns))}")
    units, _s, _e, _unit = _paired(frame, start, end)
    start_v = units["value_start"].to_numpy(dtype=float, na_value=np.nan)
    end_v = units["value_end"].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(start_v) & np.isfinite(end_v)
    units, start_v, end_v = units[ok], start_v[ok], end_v[ok]
    sd = sd_baseline if sd_baseline is not None else inst.sd_reference
    sd_source = "given" if sd_baseline is not None else ("registry" if sd is not None else "sample")
    if sd is None:
        sd = float(np.std(start_v, ddof=1)) if len(start_v) > 1 else np.nan
    se_diff = float(sd) * np.sqrt(2.0) * np.sqrt(1.0 - r)
    z = float(stats.norm.isf((1 - level) / 2))
    imp = inst.improvement(start_v, end_v)
    with np.errstate(divide="ignore", invalid="ignore"):
        rci = imp / se_diff
    cat = np.where(rci > z, "improved", np.where(rci < -z, "deteriorated", "unchanged"))
    if per_subject:
        out = units.drop(columns=[c for c in ("day_start", "day_end") if c in units.columns]).copy()
        out["improvement"] = imp
        out["rci"] = rci
        out["category"] = cat
        return out.reset_index(drop=True)
    g, keys = group_codes(units, by_cols, dropna=False)
    G = len(keys)
    n = np.bincount(g, minlength=G).astype(float)
    n_imp = np.bincount(g[cat == "improved"], minlength=G).astype(float)
    n_det = np.bincount(g[cat == "deteriorated"], minlength=G).astype(float)
    lo, hi = _wilson(n_imp, n, level)
    out = keys.reset_index(drop=True).copy() if by_cols else pd.DataFrame(index=range(G))
    out["n"] = n.astype(int)
    out["reliability"] = r
    out["sd_baseline"] = float(sd)
    out["se_diff"] = se_diff
    out["rc_points"] = z * se_diff
    out["sd_source"] = sd_source
    out["n_improved"] = n_imp.astype(int)
    out["n_unchanged"] = (n - n_imp - n_det).astype(int)
    out["n_deteriorated"] = n_det.astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["prop_improved"] = n_imp / n
        out["prop_improved_ci_low"] = lo
        out["prop_improved_ci_high"] = hi
        out["prop_deteriorated"] = n_det / n
    out["level"] = level
    out["reliable"] = n > 0
    out["note"] = np.where(n == 0, "no subjects with both occasions", np.where(n < 10, "fewer than 10 subjects", ""))
    return out

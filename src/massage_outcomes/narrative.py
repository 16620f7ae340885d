"""Sentences the analyst reads, built from result tables by small tested functions.

Notebooks, the report and captions say their conclusions through these functions, so every count and number in a
sentence is the table's, every interval is named (unadjusted, simultaneous, 90% for equivalence), and a sentence
that would read "0 of 0" or "nan" is refused (:class:`NarrativeError`) instead of printed. Nothing here computes
a statistic: the inputs are rows of result tables.

Examples
--------
>>> from massage_outcomes import narrative
>>> narrative.ci_text(-1.234, -2.5, 0.03, digits=1)
'−1.2 [−2.5, 0.0]'
>>> narrative.count_text(3, 7, "conditions")
'3 of 7 conditions'
>>> narrative.interval_words("holm", 0.95)
'unadjusted 95% confidence intervals and p-values, with Holm-adjusted p-values (p_adjusted) within each family; Holm has no simultaneous interval'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from massage_outcomes.errors import MassageOutcomesError

__all__ = [
    "NarrativeError",
    "METHOD_NAMES",
    "interval_words",
    "interval_label",
    "number",
    "ci_text",
    "count_text",
    "margin_verdict",
    "p_text",
    "contrast_sentence",
    "effect_sentence",
    "responder_sentence",
    "range_text",
    "not_reported",
]

#: how each multiplicity method is named in prose
METHOD_NAMES: dict[str, str] = {
    "none": "no", "bonferroni": "Bonferroni", "sidak": "Šidák", "holm": "Holm", "fdr_bh": "Benjamini–Hochberg (FDR)",
    "fdr_by": "Benjamini–Yekutieli (FDR)", "tukey": "Tukey",
}


class NarrativeError(MassageOutcomesError, ValueError):
    """A sentence could not be written truthfully (an empty count, a missing number)."""


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def interval_words(adjust: str | None, level: float = 0.95) -> str:
    """What a table's intervals and p-values are, in words, for methods sections and captions.

    Examples
    --------
    >>> interval_words("tukey")
    'unadjusted 95% confidence intervals and p-values, with Tukey-adjusted p-values (p_adjusted) and Tukey simultaneous 95% intervals (sci_low, sci_high) within each family'
    >>> interval_words(None)
    'unadjusted 95% confidence intervals and p-values'
    """
    from massage_outcomes import multiplicity as _mt

    name = _mt.normalize_method(adjust)
    base = f"unadjusted {_pct(level)} confidence intervals and p-values"
    if name == "none":
        return base
    words = METHOD_NAMES[name]
    if name in _mt.SIMULTANEOUS:
        return (f"{base}, with {words}-adjusted p-values (p_adjusted) and {words} simultaneous {_pct(level)} "
                "intervals (sci_low, sci_high) within each family")
    return f"{base}, with {words}-adjusted p-values (p_adjusted) within each family; {words} has no simultaneous interval"


def interval_label(level: float = 0.95, *, simultaneous: str | None = None) -> str:
    """A short label for the interval a figure or table shows: '95% CI (unadjusted)' or '95% simultaneous CI
    (Tukey)'.

    Examples
    --------
    >>> interval_label(), interval_label(simultaneous="bonferroni"), interval_label(0.9)
    ('95% CI (unadjusted)', '95% simultaneous CI (Bonferroni)', '90% CI (unadjusted)')
    """
    if simultaneous is None or simultaneous == "none":
        return f"{_pct(level)} CI (unadjusted)"
    return f"{_pct(level)} simultaneous CI ({METHOD_NAMES.get(simultaneous, simultaneous)})"


def _finite(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise NarrativeError(f"{what} is not a number ({value!r}).") from exc
    if not math.isfinite(v):
        raise NarrativeError(f"{what} is {v}: no sentence is written about a missing number.")
    return v


def number(value: Any, digits: int = 2, *, signed: bool = False, what: str = "a number") -> str:
    """A finite number with a true minus sign ("−1.20"); raises :class:`NarrativeError` for NaN or infinity.

    Examples
    --------
    >>> number(-0.004, 2), number(1.5, 1, signed=True)
    ('0.00', '+1.5')
    """
    v = _finite(value, what)
    text = f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"
    if float(text) == 0:  # no "−0.00" or "+0.00"
        text = text.lstrip("+-")
    return text.replace("-", "−")


def ci_text(estimate: Any, low: Any, high: Any, *, digits: int = 2, signed: bool = False) -> str:
    """'estimate [low, high]' at ``digits`` decimals; every part must be a finite number."""
    return (f"{number(estimate, digits, signed=signed, what='the estimate')} "
            f"[{number(low, digits, what='the lower limit')}, {number(high, digits, what='the upper limit')}]")


def count_text(k: Any, n: Any, what: str) -> str:
    """'k of n what'; refuses n = 0 (there is nothing to count) and k outside 0..n."""
    kk, nn = int(_finite(k, "the count")), int(_finite(n, "the total"))
    if nn <= 0:
        raise NarrativeError(f"no {what} to count: the sentence would read '0 of 0'.")
    if not 0 <= kk <= nn:
        raise NarrativeError(f"count {kk} is outside 0..{nn}.")
    return f"{kk} of {nn} {what}"


def margin_verdict(row90: Mapping[str, Any], margin: float, *, better: str = "lower", unit: str = "points") -> str:
    """Words for a difference ``a − b`` judged against a clinically important margin ±``margin`` by two one-sided
    tests (TOST) at the 5% level, which read the **90%** confidence interval.

    ``row90`` holds ``estimate``, ``ci_low``, ``ci_high`` at level 0.90 (checked through ``level`` when present).
    Equivalent when the whole 90% interval lies within (−margin, margin); a clinically important benefit of
    ``a`` when it lies beyond the margin on ``a``'s side; otherwise the sentence says which of the two the data
    cannot rule out.

    Examples
    --------
    >>> margin_verdict({"estimate": -0.4, "ci_low": -1.5, "ci_high": 0.7, "level": 0.9}, 2.0)
    'equivalent within ±2 points (TOST at 5%: the 90% CI [−1.50, 0.70] lies within ±2)'
    """
    level = row90.get("level", 0.90)
    if abs(float(level) - 0.90) > 1e-9:
        raise NarrativeError(f"a TOST at 5% reads the 90% interval; this row's interval is at level {level}.")
    lo, hi = _finite(row90["ci_low"], "the lower limit"), _finite(row90["ci_high"], "the upper limit")
    m = _finite(margin, "the margin")
    ci = f"the 90% CI [{number(lo)}, {number(hi)}]"
    mtxt = f"±{m:g}"
    # on a lower-is-better scale a negative a − b favours a
    benefit_a = (hi < -m) if better == "lower" else (lo > m)
    benefit_b = (lo > m) if better == "lower" else (hi < -m)
    if -m < lo and hi < m:
        return f"equivalent within {mtxt} {unit} (TOST at 5%: {ci} lies within {mtxt})"
    if benefit_a:
        return f"a clinically important difference favouring the first arm ({ci} lies beyond {mtxt})"
    if benefit_b:
        return f"a clinically important difference favouring the second arm ({ci} lies beyond {mtxt})"
    return (f"inconclusive: neither equivalence within {mtxt} {unit} nor a larger difference is shown ({ci} "
            f"reaches beyond {mtxt})")


# ------------------------------------------------------------------------------------------ result sentences
def p_text(p: Any, *, label: str = "p") -> str:
    """'p = 0.032', 'p < 0.001' (refuses NaN).

    Examples
    --------
    >>> p_text(0.0321), p_text(2e-5), p_text(0.5, label="Holm-adjusted p")
    ('p = 0.032', 'p < 0.001', 'Holm-adjusted p = 0.50')
    """
    v = _finite(p, label)
    if v < 0.001:
        return f"{label} < 0.001"
    return f"{label} = {v:.3f}" if v < 0.1 else f"{label} = {v:.2f}"


def _require_reliable(row: Mapping[str, Any], what: str) -> None:
    if "reliable" in row and not bool(row["reliable"]):
        note = str(row.get("note", "") or "no reason given")
        raise NarrativeError(f"{what} is not reliable ({note}): it is not stated as a result.")


def contrast_sentence(row: Mapping[str, Any], *, digits: int = 1, unit: str = "points",
                      label: str | None = None) -> str:
    """One contrast of a marginal-means table, its unadjusted interval and p, and the adjusted p when there is one.

    Examples
    --------
    >>> contrast_sentence({"contrast": "a - b", "estimate": -2.04, "ci_low": -3.3, "ci_high": -0.8, "level": 0.95,
    ...                    "p_value": 0.0012, "p_adjusted": 0.0036, "adjust": "holm", "reliable": True})
    'a − b −2.0 [−3.3, −0.8] points (95% CI, unadjusted; p = 0.001; Holm-adjusted p = 0.004)'
    """
    name = label if label is not None else str(row["contrast"]).replace(" - ", " − ")
    _require_reliable(row, name)
    level = float(row.get("level", 0.95))
    parts = [f"{_pct(level)} CI, unadjusted", p_text(row["p_value"])]
    adjust = row.get("adjust")
    if adjust not in (None, "none") and "p_adjusted" in row and row["p_adjusted"] == row["p_adjusted"]:
        parts.append(p_text(row["p_adjusted"], label=f"{METHOD_NAMES.get(str(adjust), adjust)}-adjusted p"))
    text = f"{name} {ci_text(row['estimate'], row['ci_low'], row['ci_high'], digits=digits)}"
    return f"{text}{(' ' + unit) if unit else ''} ({'; '.join(parts)})"


def effect_sentence(row: Mapping[str, Any], *, measure: str = "", digits: int = 2, label: str | None = None) -> str:
    """An effect-size row with its unadjusted interval and, in words, what it favours.

    Examples
    --------
    >>> effect_sentence({"contrast": "therapeutic - relaxation", "estimate": -0.12, "ci_low": -0.43,
    ...                  "ci_high": 0.18, "level": 0.95, "favours": "no clear difference", "reliable": True},
    ...                 measure="Hedges' g")
    "Hedges' g, therapeutic − relaxation: −0.12 [−0.43, 0.18] (95% CI, unadjusted): no clear difference"
    """
    name = (label if label is not None else str(row.get("contrast", ""))).replace(" - ", " − ")
    _require_reliable(row, name or "the effect")
    level = float(row.get("level", 0.95))
    head = f"{measure}, {name}" if measure else name
    return (f"{head}: {ci_text(row['estimate'], row['ci_low'], row['ci_high'], digits=digits)} ({_pct(level)} CI, "
            f"unadjusted): {row['favours']}")


def responder_sentence(row: Mapping[str, Any], *, threshold: str | None = None) -> str:
    """A responder comparison: the two rates, the risk difference with its interval, favours, and the NNT.

    Examples
    --------
    >>> responder_sentence({"arm_1": "t", "arm_2": "c", "rate_1": 0.627, "rate_2": 0.462, "risk_diff": 0.166,
    ...                     "risk_diff_ci_low": -0.025, "risk_diff_ci_high": 0.341, "level": 0.95,
    ...                     "favours": "no clear difference", "nnt_label": "NNTB 6.0 (NNTH 39.3 to ∞ to NNTB 2.9)",
    ...                     "reliable": True}, threshold="MCID (5 points)")
    'Responders (MCID (5 points)), t versus c: 63% versus 46%, risk difference +0.17 [−0.03, 0.34] (95% CI, unadjusted): no clear difference; NNTB 6.0 (NNTH 39.3 to ∞ to NNTB 2.9)'
    """
    a, b = str(row["arm_1"]), str(row["arm_2"])
    _require_reliable(row, f"the responder comparison {a} versus {b}")
    level = float(row.get("level", 0.95))
    r1, r2 = _finite(row["rate_1"], "a rate"), _finite(row["rate_2"], "a rate")
    thr = threshold if threshold is not None else str(row.get("threshold", ""))
    nnt = str(row.get("nnt_label", "") or "")
    return (f"Responders ({thr}), {a} versus {b}: {r1:.0%} versus {r2:.0%}, risk difference "
            f"{ci_text(row['risk_diff'], row['risk_diff_ci_low'], row['risk_diff_ci_high'], signed=True)} "
            f"({_pct(level)} CI, unadjusted): {row['favours']}" + (f"; {nnt}" if nnt else ""))


def range_text(values: Any, *, digits: int = 2) -> str:
    """'from a to b' over finite values; refuses an empty or all-NaN set."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise NarrativeError("no values to give a range of.")
    return f"from {number(v.min(), digits)} to {number(v.max(), digits)}"


def not_reported(name: str, row: Mapping[str, Any]) -> str:
    """The sentence for a row that may not be read: what it is and why (its ``note``)."""
    return f"{name}: not reported as a result ({str(row.get('note', '') or 'unreliable')})"

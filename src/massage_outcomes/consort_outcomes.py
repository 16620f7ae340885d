"""CONSORT-Outcomes 2022: the outcome items the data and the analysis options determine, stated per outcome, and
a checklist that marks each of the extension's 17 items covered or "to add by the authors".

:func:`consort_outcomes` writes, for each instrument, the methods statements a trial report needs (instrument and
version, measurement variable, analysis metric, method of aggregation, time points, the minimal important change
with its citation from the instrument registry, responder cut-offs, multiplicity, exclusions, missing data and the
analysis population) from the same options the analyses ran with, and a checklist whose ``status`` says what the
library could state and what only the authors can (rationale for the outcome domain, who assessed the outcome,
prespecification, the target difference, psychometric evidence, interpretation).

The extension: Butcher NJ, Monsour A, Mew EJ, et al. Guidelines for reporting outcomes in trial reports: the
CONSORT-Outcomes 2022 extension. JAMA 2022;328(22):2252-2264, doi:10.1001/jama.2022.21022 (PMID 36511921).
What was checked (2026-12-04, against the PubMed record and a published summary of the items, The Publication
Plan, 18 April 2023): the citation, the number of items (17) and the order and content of the first 11 items
(``CHECKED_ORDER``). Not checked, because the published checklist table could not be read here: the item
numbers themselves (6a.1 ... 22.1, written from memory; in particular whether the primary outcome's domain rationale
is an Outcomes item, 6a.1, or an Introduction item of CONSORT 2010's item 2a) and the content of items 12-17.
``ITEM_NUMBERS_CONFIRMED`` is False and the checklist's ``number_confirmed`` column says so: check the numbers
against the published Table 1 before filing the checklist with a manuscript. The descriptions are short
paraphrases, not the published wording.

Examples
--------
>>> import massage_outcomes as mo
>>> from massage_outcomes.consort_outcomes import consort_outcomes
>>> rep = consort_outcomes(mo.load_sample("trial"))
>>> rep.checklist.loc[rep.checklist["item"] == "6a.3", "status"].item()
'covered'
>>> rep.checklist.loc[rep.checklist["item"] == "6a.9", "status"].item()
'to add by the authors'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["consort_outcomes", "OutcomeReporting", "ITEMS", "COVERED", "TO_ADD", "CHECKED_ORDER",
           "ITEM_NUMBERS_CONFIRMED"]

_ADJUST_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "sidak": "Šidák", "tukey": "Tukey",
                 "fdr_bh": "Benjamini–Hochberg (FDR)", "fdr": "Benjamini–Hochberg (FDR)", "mvt": "multivariate-t"}
COVERED = "covered"
TO_ADD = "to add by the authors"

#: False: the item numbers below were not confirmed against the published checklist (see the module docstring)
ITEM_NUMBERS_CONFIRMED = False
#: the first 11 items in the published order, one keyword of each (checked against a published summary of them)
CHECKED_ORDER = ("domain", "measurement variable", "minimal important change", "cut-offs", "time points",
                 "composite", "not prespecified", "reliability, validity and responsiveness", "who assessed",
                 "data quality", "target difference")

#: (item, CONSORT section, short paraphrase) of the 17 CONSORT-Outcomes 2022 items
ITEMS: tuple[tuple[str, str, str], ...] = (
    ("6a.1", "Outcomes", "Why the primary outcome's domain was chosen"),
    ("6a.2", "Outcomes", "Per outcome: measurement variable, analysis metric, method of aggregation, time point"),
    ("6a.3", "Outcomes", "The primary outcome's minimal important change, defined and justified (if applicable)"),
    ("6a.4", "Outcomes", "Cut-offs used when a continuous outcome is analysed as categorical"),
    ("6a.5", "Outcomes", "Time points used in the analysis when outcomes were assessed at several"),
    ("6a.6", "Outcomes", "Components of any composite outcome"),
    ("6a.7", "Outcomes", "Outcomes not prespecified in the registry or protocol"),
    ("6a.8", "Outcomes", "Instruments, with reliability, validity and responsiveness in a similar population"),
    ("6a.9", "Outcomes", "Who assessed the outcomes, and their qualifications or training"),
    ("6a.10", "Outcomes", "Processes that promoted outcome data quality during and after collection, or where "
                          "they are described"),
    ("7a.1", "Sample size", "Target difference between groups, defined and justified"),
    ("12a.1", "Statistical methods", "How multiplicity was accounted for"),
    ("12a.2", "Statistical methods", "Criteria for excluding outcome data, or that none were excluded"),
    ("12a.3", "Statistical methods", "How missingness patterns were assessed and missing data handled"),
    ("12a.4", "Statistical methods", "The outcome analysis population with respect to non-adherence"),
    ("17a.1", "Outcomes and estimation", "Results of every prespecified outcome analysis, or where to find them"),
    ("22.1", "Interpretation", "Interpretation against the minimal important change or difference"),
)


@dataclass
class OutcomeReporting:
    """What the library can state for CONSORT-Outcomes 2022.

    Attributes
    ----------
    statements : DataFrame
        One row per outcome and item: ``instrument, item, topic, text`` (the methods sentences).
    checklist : DataFrame
        One row per item: ``item, section, description, status`` (``"covered"`` or ``"to add by the authors"``),
        ``where`` (the report section that states it, or what the authors should add), ``number_confirmed``
        (False: the item numbers were not confirmed against the published checklist, see the module notes).
    """

    statements: pd.DataFrame
    checklist: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)

    def paragraphs(self) -> dict[str, list[str]]:
        """{instrument: its methods sentences in item order} for a report's methods section."""
        out: dict[str, list[str]] = {}
        for inst, g in self.statements.groupby("instrument", sort=False):
            out[str(inst)] = [f"{t}" for t in g["text"]]
        return out

    def covered(self) -> list[str]:
        return self.checklist.loc[self.checklist["status"] == COVERED, "item"].tolist()

    def __repr__(self) -> str:
        n = len(self.covered())
        unconfirmed = "" if ITEM_NUMBERS_CONFIRMED else "; item numbers unconfirmed"
        return (f"<OutcomeReporting: {n} of {len(self.checklist)} CONSORT-Outcomes items covered by the library"
                f"{unconfirmed}>")


# ---------------------------------------------------------------------------------------------- statements
def _threshold_text(inst: Any, thresholds: Sequence[Any]) -> list[str]:
    from massage_outcomes.instruments import resolve_threshold

    out = []
    for thr in thresholds:
        try:
            value, unit, _label = resolve_threshold(inst, thr)
        except Exception:  # noqa: BLE001 - e.g. "mcid" for an instrument without one: not a cut-off used
            continue
        tag = " (the MCID)" if isinstance(thr, str) and thr.lower() == "mcid" else ""
        out.append(f"≥{value:g}% of the baseline score" if unit == "percent" else f"≥{value:g} {inst.unit}{tag}")
    return out


def _visit_label(v: Any) -> str:
    return str(v).replace("_", " ")


def _instrument_statements(key: str, *, visits: Sequence[str], primary_visit: str | None,
                           thresholds: Sequence[Any], adjust: str, level: float, analyses: Sequence[str],
                           disp: Any, rejected: int) -> tuple[list[tuple[str, str, str]], dict[str, bool]]:
    """(item, topic, sentence) for one instrument, and which items the data determined."""
    from massage_outcomes import instruments

    inst = instruments.get(key)
    arrow = "lower scores are better" if inst.direction == "lower" else "higher scores are better"
    version = f"; version: {inst.version}" if inst.version else ""
    rows: list[tuple[str, str, str]] = []
    found: dict[str, bool] = {}
    rows.append(("6a.8", "instrument",
                 f"{inst.name} ({inst.construct}; scored as {inst.scoring}, {inst.min:g}–{inst.max:g} {inst.unit}, "
                 f"{arrow}{version})."))
    found["6a.8"] = False  # psychometric evidence in a similar population is the authors' to cite
    metric = []
    if "mmrm" in analyses:
        metric.append("the score at each post-baseline visit adjusted for the baseline score (MMRM)")
    if "ancova" in analyses and primary_visit:
        metric.append(f"the final value at {_visit_label(primary_visit)} adjusted for baseline (ANCOVA)")
    if "change" in analyses:
        metric.append("change from baseline (change-score effect sizes)")
    agg = ["mean per arm and the difference in means between arms (with standardized mean differences)"]
    cuts = _threshold_text(inst, thresholds) if "responders" in analyses else []
    if cuts:
        agg.append("the proportion of responders per arm with risk difference, risk ratio and NNT")
    rows.append(("6a.2", "analysis metric and aggregation",
                 f"Measurement variable: the {inst.construct} score. Analysis metric: {'; '.join(metric) or 'not set'}. "
                 f"Method of aggregation: {'; '.join(agg)}."))
    found["6a.2"] = bool(metric)
    if visits:
        prim = f"; primary time point {_visit_label(primary_visit)}" if primary_visit else ""
        rows.append(("6a.5", "time points",
                     f"Time points analysed: {', '.join(_visit_label(v) for v in visits)}{prim}."))
    found["6a.5"] = bool(visits)
    mcid = inst.default_mcid()
    if mcid is not None:
        unit = "%" if mcid.unit == "percent" else f" {inst.unit}"
        unverified = "" if mcid.verified else (" This value is unverified: no published source confirmed it; "
                                               "cite the protocol's own justification.")
        rows.append(("6a.3", "minimal important change",
                     f"Minimal important change: an improvement of {mcid.value:g}{unit} ({mcid.kind}, {mcid.population}; "
                     f"{mcid.source}).{unverified}"))
    found["6a.3"] = mcid is not None and mcid.verified
    if cuts:
        rows.append(("6a.4", "responder cut-offs",
                     f"Responders: improvement from baseline to {_visit_label(primary_visit or 'the last visit')} of "
                     f"{', '.join(cuts)}; subjects without a value at that visit are not counted (completers)."))
    found["6a.4"] = bool(cuts)
    return rows, found


def _trial_statements(*, adjust: str, level: float, analyses: Sequence[str], disp: Any, rejected: int,
                      primary_visit: str | None) -> tuple[list[tuple[str, str, str]], dict[str, bool]]:
    rows: list[tuple[str, str, str]] = []
    found: dict[str, bool] = {}
    if adjust and adjust != "none":
        rows.append(("12a.1", "multiplicity",
                     f"Multiplicity: p-values within each family of contrasts (arms × visits) are "
                     f"{_ADJUST_NAMES.get(adjust, adjust)}-adjusted; "
                     f"intervals are unadjusted {level:.0%} confidence intervals."))
        found["12a.1"] = True
    else:
        rows.append(("12a.1", "multiplicity", "No adjustment for multiplicity was applied."))
        found["12a.1"] = True
    rows.append(("12a.2", "exclusions",
                 "No outcome data were excluded from the analyses." if rejected == 0 else
                 f"{rejected} data row(s) failed validation when the data were read (values outside an instrument's "
                 f"range, unknown codes or duplicate keys) and were quarantined; every other value was analysed."))
    found["12a.2"] = True
    handling = []
    if "mmrm" in analyses:
        handling.append("the MMRM uses every observed post-baseline visit and is valid when data are missing at "
                        "random given the baseline score, arm and earlier visits (no imputation)")
    if "ancova" in analyses or "responders" in analyses:
        handling.append(f"ANCOVA, change-score and responder analyses at {_visit_label(primary_visit or 'the last visit')} "
                        "use the subjects observed at that visit (complete cases)")
    pattern = ""
    if disp is not None:
        lost = disp.count("lost")
        missed = disp.count("missed")
        pattern = (f" Missingness pattern: {lost} of {disp.count('randomized')} randomized participants were not "
                   f"assessed at or after {_visit_label(disp.primary_visit)} (lost to follow-up) and {missed} missed "
                   f"that visit but were assessed later; losses per arm and visit, with reasons where recorded, are "
                   f"in the flow diagram.")
    rows.append(("12a.3", "missing data", "Missing data: " + "; ".join(handling) + "." + pattern))
    found["12a.3"] = disp is not None and bool(handling)
    if disp is not None:
        prim = str(disp.options.get("primary_analysis", "mmrm")).upper()
        n_an = sum(disp.count("analysed", arm=a, analysis=disp.options.get("primary_analysis", "mmrm"),
                              instrument=disp.instruments[0]) for a in disp.arms) if disp.instruments else 0
        rows.append(("12a.4", "analysis population",
                     f"Analysis population: participants were analysed in the arm to which they were randomized, "
                     f"whether or not they received or completed the allocated intervention (as randomized); the "
                     f"{prim} analysed {n_an} of {disp.count('randomized')} randomized participants (those with the "
                     f"data it needs)."))
    found["12a.4"] = disp is not None
    return rows, found


def _checklist(found: Mapping[str, bool], where: Mapping[str, str]) -> pd.DataFrame:
    authors = {
        "6a.1": "state why the primary outcome's domain (e.g. back-related disability) was chosen",
        "6a.6": "define the components of any composite outcome, or state that none was used",
        "6a.7": "identify outcomes that were not prespecified in the registry or protocol",
        "6a.8": "cite reliability, validity and responsiveness evidence for each instrument in a similar population",
        "6a.9": "state who assessed the outcomes (participant-reported, blinded assessor, ...) and their training",
        "6a.10": "describe data-quality processes during collection (the library's validation on import can be cited)",
        "7a.1": "define and justify the target difference of the sample-size calculation",
        "17a.1": "state which prespecified analyses are reported and where the others can be found",
        "22.1": "interpret the between-arm differences against the minimal important difference",
    }
    rows = []
    for item, section, text in ITEMS:
        ok = bool(found.get(item, False))
        rows.append({"item": item, "section": section, "description": text,
                     "status": COVERED if ok else TO_ADD,
                     "where": where.get(item, "Methods") if ok else authors.get(item, "state in the methods"),
                     "number_confirmed": ITEM_NUMBERS_CONFIRMED})
    return pd.DataFrame(rows)


def consort_outcomes(
    ds: Any,
    *,
    instruments: Sequence[str] | None = None,
    primary_visit: str | None = None,
    thresholds: Sequence[Any] = ("mcid", 0.3, 0.5),
    adjust: str = "holm",
    level: float = 0.95,
    analyses: Sequence[str] = ("mmrm", "ancova", "change", "responders", "lmm"),
    disposition: Any = None,
) -> OutcomeReporting:
    """The CONSORT-Outcomes 2022 statements for each outcome and the 17-item checklist.

    Parameters
    ----------
    ds : Dataset
        The trial.
    instruments : list of str, optional
        The outcomes (default: every instrument measured at a follow-up visit).
    primary_visit : str, optional
        The primary time point (default: the last follow-up visit).
    thresholds, adjust, level : the responder thresholds, the multiplicity adjustment and the confidence level
        the analyses used (pass the same values as to :func:`~massage_outcomes.tables.summary_tables`).
    analyses : list of str
        The analyses run: any of "mmrm", "ancova", "change", "responders", "lmm".
    disposition : Disposition, optional
        The participant flow (:func:`~massage_outcomes.disposition`); computed from ``ds`` when None. It gives the
        missingness pattern (12a.3) and the analysis population (12a.4).

    Returns
    -------
    OutcomeReporting
        ``statements`` (instrument, item, topic, text) and ``checklist`` (item, section, description, status,
        where, number_confirmed).

    Notes
    -----
    An item is "covered" only when the data or the options determine it: 6a.3 needs a verified MCID in the registry for
    every outcome, 6a.4 responder analyses with cut-offs, 6a.5 visits, 12a.3 and 12a.4 the disposition. Items
    about the trial's design and conduct (6a.1, 6a.6, 6a.7, 6a.9, 6a.10, 7a.1), psychometric evidence (6a.8) and
    the results and discussion (17a.1, 22.1) are always "to add by the authors".
    """
    from massage_outcomes.flow import _followup_visits
    from massage_outcomes.flow import disposition as _disposition

    _all, visits = _followup_visits(ds)
    if primary_visit is None:
        primary_visit = visits[-1] if visits else None
    if instruments is None:
        o = ds.outcomes
        instruments = sorted(pd.unique(o.loc[o["visit"].astype(str).isin(visits), "instrument"].astype(str)))
    if disposition is None:
        try:
            disposition = _disposition(ds, primary_visit=primary_visit)
        except Exception:  # noqa: BLE001 - no arms: the flow items stay for the authors
            disposition = None
    rej = getattr(ds, "rejected", None)
    rejected = len(rej) if rej is not None else 0
    rows: list[dict[str, str]] = []
    found: dict[str, bool] = {}
    per_inst: list[dict[str, bool]] = []
    for key in instruments:
        items, f = _instrument_statements(key, visits=visits, primary_visit=primary_visit, thresholds=thresholds,
                                          adjust=adjust, level=level, analyses=analyses, disp=disposition,
                                          rejected=rejected)
        per_inst.append(f)
        rows += [{"instrument": key, "item": i, "topic": t, "text": x} for i, t, x in items]
    for item in ("6a.2", "6a.3", "6a.4", "6a.5", "6a.8"):
        found[item] = bool(per_inst) and all(f.get(item, False) for f in per_inst)
    trial_items, f = _trial_statements(adjust=adjust, level=level, analyses=analyses, disp=disposition,
                                       rejected=rejected, primary_visit=primary_visit)
    found.update(f)
    rows += [{"instrument": "all outcomes", "item": i, "topic": t, "text": x} for i, t, x in trial_items]
    order = {item: k for k, (item, _s, _t) in enumerate(ITEMS)}
    statements = pd.DataFrame(rows, columns=["instrument", "item", "topic", "text"])
    order["6a.8"] = -1  # each outcome's paragraph opens with the instrument
    statements["_o"] = statements["item"].map(order)
    statements["_i"] = statements["instrument"].map({k: i for i, k in enumerate([*instruments, "all outcomes"])})
    statements = statements.sort_values(["_i", "_o"], kind="stable").drop(columns=["_o", "_i"]).reset_index(drop=True)
    where = {"6a.2": "Methods: outcomes", "6a.3": "Methods: outcomes", "6a.4": "Methods: outcomes",
             "6a.5": "Methods: outcomes", "12a.1": "Methods: statistical analysis",
             "12a.2": "Methods: statistical analysis", "12a.3": "Methods: statistical analysis; flow diagram",
             "12a.4": "Methods: statistical analysis; flow diagram"}
    checklist = _checklist(found, where)
    options = {"instruments": list(instruments), "primary_visit": primary_visit, "thresholds": list(thresholds),
               "adjust": adjust, "level": level, "analyses": list(analyses)}
    return OutcomeReporting(statements=statements, checklist=checklist, options=options)

"""The instrument registry: scales, their direction of improvement, and their MCIDs with citations.

Facts come from ``shared/reference/instruments.md`` and were checked against the published sources (session of
2026-12-04). Each MCID keeps its provenance (``PROVENANCE``): P = the number was read in the cited source itself
(its abstract or full text), S = read second-hand (a review or a published summary of the cited source), U =
unverified (no published source confirmed it). Looking up an unverified MCID (:meth:`Instrument.mcid_for`,
``resolve_threshold(inst, "mcid")``) raises ``UnverifiedMCIDWarning``, and its text (the ``threshold`` label
of a responder table) says "unverified". Users register their own instruments with :func:`register`.

Examples
--------
>>> from massage_outcomes import instruments
>>> rmdq = instruments.get("rmdq")
>>> rmdq.direction, rmdq.min, rmdq.max
('lower', 0.0, 24.0)
>>> float(rmdq.improvement(12, 7))          # 5 points better
5.0
>>> rmdq.default_mcid().value
5.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from massage_outcomes.errors import DataValidationError

Direction = Literal["lower", "higher"]
#: MCID kinds that describe one person's change (a responder threshold); MID and MDC do not
WITHIN_PERSON_KINDS = ("MIC", "MCID", "responder")
#: what each provenance code of an MCID means
PROVENANCE = {
    "P": "read in the cited source (its abstract or full text)",
    "S": "read second-hand (a review or a published summary of the cited source)",
    "U": "unverified: no published source confirmed it",
}


class UnverifiedMCIDWarning(UserWarning):
    """An MCID from the registry whose value no published source confirmed (provenance "U") is being used."""


@dataclass(frozen=True)
class MCID:
    """One published minimal (clinically) important change or difference.

    Attributes
    ----------
    value : magnitude of improvement (always positive; the instrument's direction gives its sign)
    unit : "points" (absolute, on the instrument's scale) or "percent" (of the baseline score)
    kind : "MIC" (within-person change), "MID" (between-group difference), "MCID", "MDC" (detectable change:
        a measurement-error bound, not importance) or "responder" (a trial's responder rule)
    population, source, provenance : where the number comes from (provenance P/S/U: ``PROVENANCE``)
    conditions : the vocabulary conditions (:mod:`massage_outcomes.vocab`) whose patients the number was derived
        in; empty means not tied to one condition (e.g. a global rating's responder rule)
    """

    value: float
    unit: Literal["points", "percent"] = "points"
    kind: str = "MIC"
    population: str = ""
    source: str = ""
    provenance: str = "U"
    conditions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "conditions", tuple(self.conditions))

    @property
    def within_person(self) -> bool:
        """True for thresholds of an individual's change (MIC, MCID, responder rules), which a responder
        analysis may use; False for between-group differences (MID) and detectable change (MDC)."""
        return self.kind in WITHIN_PERSON_KINDS

    @property
    def verified(self) -> bool:
        """False for provenance "U": no published source confirmed the value."""
        return self.provenance != "U"

    def __str__(self) -> str:
        unit = "%" if self.unit == "percent" else " points"
        flag = "" if self.verified else "; unverified: no published source confirmed this value"
        return f"{self.value:g}{unit} ({self.kind}, {self.population}; {self.source}{flag})"


def warn_if_unverified(mcid: MCID | None, instrument: str, *, stacklevel: int = 3) -> None:
    """Warn (``UnverifiedMCIDWarning``) when a registry MCID used as a threshold is unverified.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     m = get("prtee").mcid_for("lateral_epicondylalgia")
    >>> m.verified, caught[0].category.__name__
    (False, 'UnverifiedMCIDWarning')
    """
    if mcid is not None and not mcid.verified:
        warnings.warn(
            f"the MCID of {instrument} used here ({mcid.value:g} {'%' if mcid.unit == 'percent' else 'points'}, "
            f"{mcid.population}; {mcid.source}) is unverified: no published source confirmed it. Check it, or pass "
            "your protocol's value (mcid= in responders, or threshold as points or a proportion).",
            UnverifiedMCIDWarning, stacklevel=stacklevel)


@dataclass(frozen=True)
class Instrument:
    """An outcome instrument: range, direction of improvement, scoring, version and MCIDs."""

    key: str
    name: str
    construct: str
    min: float
    max: float
    direction: Direction
    scoring: str = "sum"
    version: str = ""
    unit: str = "points"
    conditions: tuple[str, ...] = ()
    mcids: tuple[MCID, ...] = ()
    reliability: float | None = None
    sd_reference: float | None = None
    integer: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "min", float(self.min))
        object.__setattr__(self, "max", float(self.max))

    # -- direction-aware helpers (vectorized) -------------------------------------------------------------
    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better."""
        return 1 if self.direction == "higher" else -1

    def change(self, baseline: object, followup: object) -> np.ndarray:
        """Raw change, follow-up minus baseline (sign not adjusted)."""
        return np.asarray(followup, dtype=float) - np.asarray(baseline, dtype=float)

    def improvement(self, baseline: object, followup: object) -> np.ndarray:
        """Change in the direction of improvement: positive means better, whatever the scale's direction."""
        return self.sign * self.change(baseline, followup)

    def percent_improvement(self, baseline: object, followup: object) -> np.ndarray:
        """100·improvement/|baseline|; NaN where the baseline is 0 (undefined)."""
        base = np.asarray(baseline, dtype=float)
        imp = self.improvement(baseline, followup)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 100.0 * imp / np.abs(base)
        return np.where(base == 0, np.nan, out)

    def improved(self, baseline: object, followup: object) -> np.ndarray:
        """True where the follow-up is better than the baseline (NaN-safe: missing gives False)."""
        return np.nan_to_num(self.improvement(baseline, followup), nan=0.0) > 0

    def favours(self, difference_sign: float, a: str, b: str) -> str:
        """Words for a between-group difference a − b: 'favours a', 'favours b' or 'no difference'."""
        if not np.isfinite(difference_sign) or difference_sign == 0:
            return "no difference"
        better_a = (difference_sign > 0) == (self.direction == "higher")
        return f"favours {a if better_a else b}"

    def in_range(self, values: object) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        return np.isnan(v) | ((v >= self.min) & (v <= self.max))

    def default_mcid(self, unit: str | None = None) -> MCID | None:
        """The first listed MCID (optionally of a given unit); None when the instrument has none."""
        for m in self.mcids:
            if unit is None or m.unit == unit:
                return m
        return None

    def mcid_for(self, condition: str | None, *, unit: str | None = None) -> MCID | None:
        """The first within-person MCID (MIC, MCID or responder rule) derived in patients with ``condition``, else
        one not tied to a condition; None when the registry has none for that population.

        Examples
        --------
        >>> nrs = get("pain_nrs")
        >>> nrs.mcid_for("neck_pain").value, nrs.mcid_for("low_back_pain").value, nrs.mcid_for("shoulder_pain")
        (1.3, 2.0, None)
        """
        usable = [m for m in self.mcids if m.within_person and (unit is None or m.unit == unit)]
        found = next((m for m in usable if condition is not None and condition in m.conditions), None)
        found = found or next((m for m in usable if not m.conditions), None)
        warn_if_unverified(found, self.key)
        return found

    def mdc95(self, sem: float) -> float:
        """Minimal detectable change at 95%: 1.96·√2·SEM (de Winter et al. 2004)."""
        return float(1.96 * np.sqrt(2.0) * sem)

    def describe(self) -> str:
        arrow = "lower is better" if self.direction == "lower" else "higher is better"
        return f"{self.name} ({self.key}; {self.min:g}–{self.max:g} {self.unit}, {arrow})"

    def for_condition(self, condition: str) -> bool:
        """True when the instrument is meant for ``condition`` (or for any condition: ``conditions`` empty)."""
        return not self.conditions or condition in self.conditions


# Sources. "(abstract)": the value was read in the source's published abstract; DOIs and PMIDs as seen there.
_O2008 = "Ostelo et al. 2008, Spine 33(1):90-94, doi:10.1097/BRS.0b013e31815e3a10 (abstract)"
_AS2014 = "Abbott & Schmitt 2014, JOSPT 44(8):560-564, doi:10.2519/jospt.2014.5248 (abstract)"
_CHERKIN = "Cherkin et al. 2011, Ann Intern Med 155(1):1-9, doi:10.1059/0003-4819-155-1-201107050-00002 (abstract)"
_SHERMAN09 = "Sherman et al. 2009, Clin J Pain 25(3):233-238, doi:10.1097/AJP.0b013e31818b7912 (abstract)"
_IMMPACT = ("Dworkin et al. 2008 (IMMPACT), J Pain 9(2):105-121, doi:10.1016/j.jpain.2007.09.005; benchmarks read "
            "in Bandolier's summary of it")
_CLELAND = "Cleland, Childs, Whitman 2008, Arch Phys Med Rehabil 89(1):69-74, doi:10.1016/j.apmr.2007.08.126 (abstract)"
_YOUNG = ("Young et al. 2009, 'Responsiveness of the Neck Disability Index in patients with mechanical neck "
          "disorders', Spine J (abstract)")
_SMELT = "Smelt et al. 2014, Cephalalgia, doi:10.1177/0333102413497599 (abstract)"
_OZER = "Ozer et al. 2013, PMID 23416439 (abstract)"
_BENDTSEN = "Bendtsen et al. 2010 (IHS), Cephalalgia 30(1):1-16, doi:10.1111/j.1468-2982.2009.01948.x"
_POLTAWSKI = "Poltawski & Watson 2011, Hand Therapy 16(3):52-57 (not found)"
_LBP = ("low_back_pain",)
_NECK = ("neck_pain",)
_HEAD = ("tension_headache", "migraine")
#: the chronic pain trials the IMMPACT thresholds were derived from (Farrar 2001's pooled trials, Dworkin 2008)
_CHRONIC = ("chronic_pain", "fibromyalgia", "knee_osteoarthritis", "hip_osteoarthritis")

_BUILTIN: tuple[Instrument, ...] = (
    Instrument(
        "pain_nrs", "Pain numeric rating scale (11-point)", "pain intensity", 0, 10, "lower", "single item",
        unit="points", integer=True,
        mcids=(
            MCID(2, "points", "MIC", "low back pain", _O2008, "P", _LBP),
            MCID(30, "percent", "MIC", "low back pain", _O2008, "P", _LBP),
            MCID(1.3, "points", "MCID", "mechanical neck pain", _CLELAND, "P", _NECK),
            MCID(1.5, "points", "MID", "mixed musculoskeletal physical therapy (small; 3.5 large)", _AS2014, "P"),
            MCID(30, "percent", "MIC", "chronic pain, moderate (IMMPACT)", _IMMPACT, "S", _CHRONIC),
            MCID(50, "percent", "responder", "chronic pain, substantial (IMMPACT)", _IMMPACT, "S", _CHRONIC),
        ),
    ),
    Instrument(
        "pain_vas", "Pain visual analogue scale", "pain intensity", 0, 100, "lower", "single item", unit="mm",
        mcids=(MCID(15, "points", "MIC", "low back pain", _O2008, "P", _LBP),
               MCID(30, "percent", "MIC", "low back pain", _O2008, "P", _LBP),
               MCID(30, "percent", "MIC", "chronic pain, moderate (IMMPACT; its benchmark is for the 0-10 NRS)",
                    _IMMPACT, "S", _CHRONIC)),
    ),
    Instrument(
        "rmdq", "Roland-Morris Disability Questionnaire", "back-related disability", 0, 24, "lower", "sum",
        version="24-item (the Cherkin/Deyo trials use a 23-item version, 0-23)", conditions=_LBP, integer=True,
        mcids=(
            MCID(5, "points", "MIC", "low back pain", _O2008, "P", _LBP),
            MCID(30, "percent", "MIC", "low back pain", _O2008, "P", _LBP),
            MCID(2, "points", "MID", "chronic low back pain (pre-specified between groups)", _CHERKIN, "P", _LBP),
        ),
    ),
    Instrument(
        "rmdq23", "Roland-Morris Disability Questionnaire (23-item)", "back-related disability", 0, 23, "lower", "sum",
        version="23-item (Cherkin/Deyo)", conditions=_LBP, integer=True,
        mcids=(
            MCID(5, "points", "MIC", "low back pain (derived on the 24-item RMDQ)", _O2008, "P", _LBP),
            MCID(2, "points", "MID", "chronic low back pain (pre-specified between groups)", _CHERKIN, "P", _LBP),
        ),
    ),
    Instrument(
        "odi", "Oswestry Disability Index", "back-related disability", 0, 100, "lower", "percent", unit="%",
        conditions=("low_back_pain", "sciatica"),
        mcids=(MCID(10, "points", "MIC", "low back pain", _O2008, "P", _LBP),
               MCID(12, "points", "MID", "musculoskeletal PT", _AS2014, "P")),
    ),
    Instrument(
        "ndi", "Neck Disability Index", "neck-related disability", 0, 50, "lower", "sum", integer=True,
        conditions=_NECK,
        mcids=(
            # Young et al. 2009 estimated an MCID of 7.5 and an MDC of 10.2 and concluded that, the MCID lying
            # within measurement error, a 10-point change should be used as the MCID (Cleland 2008: 19 percentage
            # points, 9.5 of 50). The 7.5 and 10.2 were cited to MacDermid et al. 2009 before.
            MCID(10, "points", "MCID", "mechanical neck pain (the authors' advice: their 7.5-point estimate lies "
                 "within measurement error, MDC 10.2)", _YOUNG, "P", _NECK),
            MCID(7.5, "points", "MIC", "mechanical neck pain (within measurement error)", _YOUNG, "P", _NECK),
            MCID(10.2, "points", "MDC", "mechanical neck pain", _YOUNG, "P", _NECK),
            MCID(5, "points", "responder", "neck pain massage trials (>=5 in Sherman 2014; >5 in Sherman 2009)",
                 _SHERMAN09 + "; Sherman et al. 2014, Ann Fam Med 12(2):112-120 (abstract)", "P", _NECK),
        ),
    ),
    Instrument(
        "hit6", "Headache Impact Test-6", "headache impact", 36, 78, "lower", "sum", conditions=_HEAD,
        integer=True,
        mcids=(
            MCID(1.5, "points", "MID", "migraine in primary care, between groups", _SMELT, "P", ("migraine",)),
            MCID(8, "points", "MIC", "chronic tension-type headache", "Castien et al. 2012, Cephalalgia 32(9):710-714 (abstract)", "P", ("tension_headache",)),
            MCID(2.5, "points", "MIC", "migraine in primary care (2.5 to 6 by method)", _SMELT, "P", ("migraine",)),
        ),
    ),
    Instrument(
        "headache_days", "Headache days per 4 weeks (diary)", "headache frequency", 0, 28, "lower", "count", unit="days",
        conditions=_HEAD, integer=True,
        mcids=(
            MCID(50, "percent", "responder", "migraine trials (drug-trial guidelines' responder rule)",
                 ("IHS drug-trial guidelines for migraine, as summarised by a Delphi survey of outcome measures for "
                  "non-drug migraine trials, PMC7044826 (abstract)"), "S",
                 ("migraine",)),
            MCID(50, "percent", "responder", "tension-type headache trials (rule not found in the abstract)",
                 _BENDTSEN, "U", ("tension_headache",)),
        ),
    ),
    Instrument(
        "bctq_sss", "Boston Carpal Tunnel Questionnaire, symptom severity", "carpal tunnel symptoms", 1, 5, "lower", "mean of 11 items",
        conditions=("carpal_tunnel",),
        mcids=(MCID(1.45, "points", "MCID", "carpal tunnel release, non-diabetic (1.55 diabetic)", _OZER, "P", ("carpal_tunnel",)),),
    ),
    Instrument(
        "bctq_fss", "Boston Carpal Tunnel Questionnaire, functional status", "hand function", 1, 5, "lower", "mean of 8 items",
        conditions=("carpal_tunnel",),
        mcids=(MCID(1.6, "points", "MCID", "carpal tunnel release, non-diabetic (2.05 diabetic)", _OZER, "P", ("carpal_tunnel",)),),
    ),
    Instrument(
        "jfls", "Jaw Functional Limitation Scale", "jaw function", 0, 10, "lower", "mean of items", version="JFLS-20 or JFLS-8",
        conditions=("tmj",), mcids=(),
    ),
    Instrument(
        "mouth_opening", "Maximal mouth opening", "jaw range of motion", 0, 80, "higher", "measurement", unit="mm",
        conditions=("tmj",),
        mcids=(MCID(6, "points", "MDC", "TMJ disorder, repeated measurement (9 mm single)", "Kropmans et al. 2000, Eur J Oral Sci 108(1):9-13 (abstract)", "P", ("tmj",)),),
    ),
    Instrument(
        "rom", "Range of motion (goniometer or inclinometer)", "joint range of motion", 0, 360, "higher", "measurement",
        unit="degrees", conditions=("post_surgical_rehab", "neck_pain", "shoulder_pain"), mcids=(),
    ),
    Instrument(
        "psfs", "Patient-Specific Functional Scale", "function", 0, 10, "higher", "mean of 3-5 activities",
        mcids=(MCID(1.3, "points", "MID", "musculoskeletal PT (small; 2.3 medium, 2.7 large)", _AS2014, "P"),),
    ),
    Instrument(
        "promis_pi", "PROMIS Pain Interference", "pain interference", 20, 80, "lower", "T-score", unit="T-score points",
        mcids=(
            MCID(2, "points", "MIC", "chronic pain (2-3)", "Chen et al. 2018, PROMIS pain interference MIDs from 3 RCTs (abstract)", "P", _CHRONIC),
            MCID(3.5, "points", "MIC", "low back pain (3.5-5.5)", "Amtmann et al. 2016, J Pain Res 9:251-255, doi:10.2147/JPR.S93391 (abstract)", "P", _LBP),
        ),
    ),
    Instrument(
        "sbi", "Sciatica Bothersomeness Index", "sciatica bothersomeness", 0, 24, "lower", "sum of 4 items (0-6)",
        conditions=("sciatica",), integer=True, mcids=(),
    ),
    Instrument(
        "bothersomeness", "Symptom bothersomeness (Cherkin/Deyo)", "symptom bothersomeness", 0, 10, "lower", "single item",
        conditions=("low_back_pain", "neck_pain"), integer=True,
        mcids=(
            MCID(1.5, "points", "MID", "chronic low back pain, between groups", _CHERKIN, "P", _LBP),
            MCID(30, "percent", "responder", "neck pain massage trial (>30% of baseline)", _SHERMAN09, "P", _NECK),
        ),
    ),
    Instrument(
        "grc", "Global Rating of Change", "global change (an anchor, not a change score)", -7, 7, "higher", "single item",
        integer=True,
        mcids=(MCID(3, "points", "responder", "'much improved' or better (a convention; not in the cited abstract)",
                    "Kamper et al. 2009, J Man Manip Ther 17(3):163-170, PMID 20046623", "U"),),
    ),
    # ---- the instruments of the further conditions of the massage trial literature (vocab.CONDITIONS). Their MCIDs
    # were checked against the published sources (2026-12-04); "U" marks what no source confirmed.
    Instrument(
        "spadi", "Shoulder Pain and Disability Index", "shoulder pain and disability", 0, 100, "lower",
        "mean of 13 items as %", unit="%", conditions=("shoulder_pain",),
        mcids=(MCID(13, "points", "MIC", "shoulder pain (8 to 13 across the reviewed studies)",
                    "Roy, MacDermid, Woodhouse 2009, Arthritis Rheum 61(5):623-632, doi:10.1002/art.24396 (review; abstract)",
                    "S", ("shoulder_pain",)),),
    ),
    Instrument(
        "quickdash", "QuickDASH (Disabilities of the Arm, Shoulder and Hand, 11 items)", "upper-limb disability", 0, 100,
        "lower", "transformed sum", conditions=("shoulder_pain", "lateral_epicondylalgia", "carpal_tunnel"),
        mcids=(MCID(8, "points", "MCID", "shoulder pain, physical therapy",
                    "Mintken, Glynn, Cleland 2009, J Shoulder Elbow Surg 18(6):920-926, doi:10.1016/j.jse.2008.12.015 (abstract)",
                    "P", ("shoulder_pain",)),),
    ),
    Instrument(
        "prtee", "Patient-Rated Tennis Elbow Evaluation", "elbow pain and function", 0, 100, "lower", "sum (pain 0-50 + function 0-50)",
        conditions=("lateral_epicondylalgia",),
        # the primary source was not found; other studies report MICs of 9 to 31 points (translations, cohorts)
        mcids=(MCID(11, "points", "MIC", "lateral epicondylalgia (or 37%)", _POLTAWSKI, "U", ("lateral_epicondylalgia",)),
               MCID(37, "percent", "MIC", "lateral epicondylalgia", _POLTAWSKI, "U", ("lateral_epicondylalgia",))),
    ),
    Instrument(
        "fiqr", "Revised Fibromyalgia Impact Questionnaire", "fibromyalgia impact", 0, 100, "lower", "weighted sum of 21 items",
        conditions=("fibromyalgia",),
        # corrected 14 -> 14.1 (the pooled estimate); derived on the original FIQ, not the FIQR
        mcids=(MCID(14.1, "percent", "MCID", "fibromyalgia, pregabalin trials, 3 months (original FIQ, applied to the FIQR)",
                    "Bennett et al. 2009, J Rheumatol 36(6):1304-1311; read in a published summary of it", "S",
                    ("fibromyalgia",)),),
    ),
    Instrument(
        "womac", "WOMAC osteoarthritis index (Likert 3.1, total)", "osteoarthritis pain, stiffness and function", 0, 96,
        "lower", "sum of 24 items (0-4)", conditions=("knee_osteoarthritis", "hip_osteoarthritis"), integer=True, mcids=(),
    ),
    Instrument(
        "ffi", "Foot Function Index (percent)", "foot pain and disability", 0, 100, "lower", "mean of subscales as %",
        unit="%", conditions=("plantar_fasciitis",), mcids=(),
    ),
    Instrument(
        "bpi_severity", "Brief Pain Inventory, pain severity", "pain intensity", 0, 10, "lower", "mean of 4 items",
        conditions=("cancer_pain", "chronic_pain"),
        mcids=(MCID(30, "percent", "MIC", "chronic pain, moderate (IMMPACT)", _IMMPACT, "S", _CHRONIC),),
    ),
    Instrument(
        "bpi_interference", "Brief Pain Inventory, pain interference", "pain interference", 0, 10, "lower", "mean of 7 items",
        conditions=("cancer_pain", "chronic_pain"),
        mcids=(MCID(1, "points", "MIC", "chronic pain, minimally important (IMMPACT)", _IMMPACT, "S", _CHRONIC),),
    ),
    Instrument(
        "stai_state", "State-Trait Anxiety Inventory, state anxiety (form Y-1)", "state anxiety", 20, 80, "lower",
        "sum of 20 items (1-4)", conditions=("anxiety", "stress"), integer=True, mcids=(),
    ),
    Instrument(
        "pss10", "Perceived Stress Scale (10 items)", "perceived stress", 0, 40, "lower", "sum of 10 items (0-4)",
        conditions=("stress", "anxiety"), integer=True, mcids=(),
    ),
)

_REGISTRY: dict[str, Instrument] = {inst.key: inst for inst in _BUILTIN}


def get(key: str | Instrument) -> Instrument:
    """The registered instrument ``key``; raises DataValidationError naming the closest key when unknown."""
    if isinstance(key, Instrument):
        return key
    try:
        return _REGISTRY[str(key)]
    except KeyError:
        from massage_outcomes.errors import in_front_end
        from massage_outcomes.vocab import closest

        close = closest(key, list(_REGISTRY))
        hint = f" Did you mean {close!r}?" if close else ""
        declare = ("Declare a study's own instrument in the read plan (--mapping PLAN)." if in_front_end() else
                   "Declare a study's own instrument in its read plan, or register it for everyone with "
                   "massage_outcomes.instruments.register(Instrument(...)).")
        raise DataValidationError(
            f"unknown instrument {key!r}.{hint} Registered: {', '.join(sorted(_REGISTRY))}. {declare}"
        ) from None


def is_registered(key: str) -> bool:
    return str(key) in _REGISTRY


def register(instrument: Instrument, *, replace_existing: bool = False) -> Instrument:
    """Add a user instrument to the registry (``replace_existing=True`` to redefine a key)."""
    if instrument.min >= instrument.max:
        raise ValueError(f"instrument {instrument.key!r}: min ({instrument.min}) must be below max ({instrument.max})")
    if instrument.direction not in ("lower", "higher"):
        raise ValueError(f"instrument {instrument.key!r}: direction must be 'lower' or 'higher'")
    if instrument.key in _REGISTRY and not replace_existing:
        raise ValueError(f"instrument {instrument.key!r} is already registered; pass replace_existing=True")
    _REGISTRY[instrument.key] = instrument
    return instrument


def with_range(key: str, min: float, max: float) -> Instrument:
    """A copy of a registered instrument with another range (e.g. BCTQ scored as a sum)."""
    return replace(get(key), min=float(min), max=float(max))


def all_instruments() -> list[Instrument]:
    return list(_REGISTRY.values())


def for_condition(condition: str, *, specific: bool = False) -> list[Instrument]:
    """The registered instruments meant for ``condition`` (a vocabulary term or synonym): those listing it, then
    (unless ``specific``) the generic ones that list no condition.

    Examples
    --------
    >>> [i.key for i in for_condition("neck pain", specific=True)]
    ['ndi', 'rom', 'bothersomeness']
    """
    from massage_outcomes.vocab import normalize_condition

    term = normalize_condition(condition)
    listed = [i for i in _REGISTRY.values() if term in i.conditions]
    generic = [] if specific else [i for i in _REGISTRY.values() if not i.conditions]
    return listed + generic


def registry_frame() -> pd.DataFrame:
    """The registry as a table: one row per instrument × MCID (instruments without an MCID get one row)."""
    rows = []
    for inst in _REGISTRY.values():
        base = {"key": inst.key, "name": inst.name, "min": inst.min, "max": inst.max, "direction": inst.direction,
                "scoring": inst.scoring, "unit": inst.unit, "version": inst.version}
        base["conditions"] = ", ".join(inst.conditions) or "any"
        for m in inst.mcids or (None,):
            rows.append({**base, **({} if m is None else {
                "mcid": m.value, "mcid_unit": m.unit, "mcid_kind": m.kind, "population": m.population,
                "mcid_conditions": ", ".join(m.conditions) or "any", "source": m.source,
                "provenance": m.provenance, "verified": m.verified})})
    return pd.DataFrame(rows)


def resolve_threshold(instrument: Instrument, threshold: object) -> tuple[float, str, str]:
    """Turn a responder threshold into (value, unit, label).

    ``"mcid"`` takes the instrument's first MCID; a float in (0, 1] is a proportion of baseline (0.3 = 30%);
    a number above 1 is points on the instrument's scale; an :class:`MCID` is used as given.
    """
    if isinstance(threshold, MCID):
        return threshold.value, threshold.unit, str(threshold)
    if isinstance(threshold, str):
        if threshold.lower() != "mcid":
            raise ValueError(f"threshold must be 'mcid', a proportion (0.3) or points (2.0); got {threshold!r}")
        m = instrument.default_mcid()
        if m is None:
            raise DataValidationError(
                f"{instrument.describe()} has no published MCID in the registry; pass threshold as points or a proportion"
            )
        warn_if_unverified(m, instrument.key)
        return m.value, m.unit, f"MCID {m}"
    value = float(threshold)  # type: ignore[arg-type]
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"threshold must be positive; got {threshold!r}")
    if value <= 1:
        return 100 * value, "percent", f">={100 * value:g}% improvement"
    return value, "points", f">={value:g} points improvement"




__all__ = ["MCID", "Instrument", "get", "register", "is_registered", "with_range", "all_instruments",
           "for_condition", "registry_frame", "resolve_threshold", "WITHIN_PERSON_KINDS", "PROVENANCE",
           "UnverifiedMCIDWarning", "warn_if_unverified"]


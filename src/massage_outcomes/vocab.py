"""The domain vocabulary: conditions, techniques and intent, with the synonyms accepted on input.

Every layer normalises through this module, so "LBP", "Low back pain" and "low_back_pain" are one condition
everywhere. Unknown terms raise :class:`~massage_outcomes.errors.DataValidationError` with the closest known term.

Examples
--------
>>> from massage_outcomes import vocab
>>> vocab.normalize_condition("LBP")
'low_back_pain'
>>> vocab.normalize_technique("Swedish massage")
'swedish'
>>> vocab.intent_of("myofascial_release")
'therapeutic'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from massage_outcomes.errors import DataValidationError

CONDITIONS: tuple[str, ...] = (
    "low_back_pain",
    "sciatica",
    "tension_headache",
    "migraine",
    "carpal_tunnel",
    "tmj",
    "post_surgical_rehab",
    "other",
)
TECHNIQUES: tuple[str, ...] = (
    "deep_tissue",
    "myofascial_release",
    "trigger_point",
    "sports",
    "swedish",
    "none",
    "sham",
    "other",
)
INTENTS: tuple[str, ...] = ("therapeutic", "relaxation", "control")
TIMINGS: tuple[str, ...] = ("baseline", "pre", "post", "followup")

#: intent that follows from each technique when the source does not state it ("other" has none)
DEFAULT_INTENT: dict[str, str | None] = {
    "deep_tissue": "therapeutic",
    "myofascial_release": "therapeutic",
    "trigger_point": "therapeutic",
    "sports": "therapeutic",
    "swedish": "relaxation",
    "none": "control",
    "sham": "control",
    "other": None,
}


def _key(text: str) -> str:
    """Fold case, punctuation and spacing so that 'Low-back pain ' and 'low_back_pain' meet."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower()).strip("_")


@dataclass
class Vocabulary:
    """One controlled vocabulary: canonical terms plus synonyms (matched case- and punctuation-insensitively)."""

    name: str
    terms: list[str]
    synonyms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lookup: dict[str, str] = {}
        for term in self.terms:
            self._lookup[_key(term)] = term
        for syn, term in self.synonyms.items():
            self._add_synonym(syn, term)

    def _add_synonym(self, synonym: str, term: str) -> None:
        if term not in self.terms:
            raise ValueError(f"{self.name}: synonym {synonym!r} points to unknown term {term!r}")
        self._lookup[_key(synonym)] = term

    def add(self, term: str, synonyms: Iterable[str] = ()) -> None:
        """Add a canonical term (idempotent) and any synonyms for it."""
        if term != _key(term):
            raise ValueError(f"{self.name} terms are snake_case: use {_key(term)!r}, not {term!r}")
        if term not in self.terms:
            self.terms.append(term)
            self._lookup[term] = term
        for syn in synonyms:
            self._add_synonym(syn, term)

    def lookup(self, value: object) -> str | None:
        """The canonical term for ``value``, or None when it is unknown."""
        return self._lookup.get(_key(str(value)))

    def suggest(self, value: object) -> str | None:
        """The closest known term or synonym, for error messages."""
        match = difflib.get_close_matches(_key(str(value)), list(self._lookup), n=1, cutoff=0.5)
        return self._lookup[match[0]] if match else None

    def normalize(self, value: object) -> str:
        """The canonical term for one value; raises DataValidationError with a suggestion when unknown."""
        term = self.lookup(value)
        if term is None:
            raise DataValidationError(unknown_term_message(self, value))
        return term

    def normalize_series(self, values: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Map a column to canonical terms, vectorized over its distinct values.

        Returns the mapped column (missing stays missing) and a boolean mask of the non-missing values that are
        unknown, so that a validator can report each one with its row.
        """
        values = pd.Series(values)
        uniques = pd.unique(values.dropna())
        mapping = {u: self.lookup(u) for u in uniques}
        mapped = values.map(mapping)
        unknown = values.notna() & mapped.isna()
        return mapped.astype(object).where(mapped.notna(), None), unknown

    def dtype(self) -> pd.CategoricalDtype:
        return pd.CategoricalDtype(categories=list(self.terms), ordered=False)


def unknown_term_message(vocabulary: Vocabulary, value: object) -> str:
    hint = vocabulary.suggest(value)
    did_you_mean = f" Did you mean {hint!r}?" if hint else ""
    return (
        f"unknown {vocabulary.name} {value!r}.{did_you_mean} Known terms: {', '.join(vocabulary.terms)}. "
        f"Add a synonym with massage_outcomes.vocab.{vocabulary.name.upper()}.add(...) or recode it with a mapping."
    )


CONDITION = Vocabulary(
    "condition",
    list(CONDITIONS),
    {
        "LBP": "low_back_pain", "low back pain": "low_back_pain", "back pain": "low_back_pain",
        "chronic low back pain": "low_back_pain", "CLBP": "low_back_pain", "lumbago": "low_back_pain",
        "lumbar radiculopathy": "sciatica", "radicular pain": "sciatica",
        "TTH": "tension_headache", "tension-type headache": "tension_headache", "tension type headache": "tension_headache",
        "headache": "tension_headache", "CTTH": "tension_headache",
        "migraine headache": "migraine",
        "CTS": "carpal_tunnel", "carpal tunnel syndrome": "carpal_tunnel",
        "TMD": "tmj", "TMJ disorder": "tmj", "temporomandibular disorder": "tmj", "TMJD": "tmj",
        "post-surgical": "post_surgical_rehab", "post surgical": "post_surgical_rehab", "postoperative": "post_surgical_rehab",
        "post-injury": "post_surgical_rehab", "rehabilitation": "post_surgical_rehab", "rehab": "post_surgical_rehab",
    },
)
TECHNIQUE = Vocabulary(
    "technique",
    list(TECHNIQUES),
    {
        "deep tissue massage": "deep_tissue", "deep tissue": "deep_tissue", "DTM": "deep_tissue",
        "structural massage": "deep_tissue", "structural": "deep_tissue",
        "MFR": "myofascial_release", "myofascial": "myofascial_release", "myofascial release therapy": "myofascial_release",
        "trigger point therapy": "trigger_point", "trigger point": "trigger_point", "TrP": "trigger_point",
        "neuromuscular therapy": "trigger_point", "ischemic compression": "trigger_point",
        "sports massage": "sports", "sport massage": "sports",
        "Swedish massage": "swedish", "relaxation massage": "swedish", "relaxation": "swedish", "classic massage": "swedish",
        "usual care": "none", "usual_care": "none", "wait list": "none", "waitlist": "none", "no massage": "none",
        "no treatment": "none", "control": "none",
        "sham massage": "sham", "placebo": "sham", "light touch": "sham",
    },
)
INTENT = Vocabulary(
    "intent",
    list(INTENTS),
    {
        "structural": "therapeutic", "clinical": "therapeutic", "treatment": "therapeutic",
        "relaxing": "relaxation", "wellness": "relaxation",
        "usual care": "control", "usual_care": "control", "sham": "control", "placebo": "control",
        "wait list": "control", "none": "control",
    },
)
TIMING = Vocabulary(
    "timing",
    list(TIMINGS),
    {
        "bl": "baseline", "base": "baseline", "screening": "baseline", "week 0": "baseline",
        "pre-session": "pre", "pre session": "pre", "before": "pre", "presession": "pre",
        "post-session": "post", "post session": "post", "after": "post", "postsession": "post",
        "follow-up": "followup", "follow up": "followup", "fu": "followup", "visit": "followup",
    },
)



def normalize_condition(value: object) -> str:
    """Canonical condition name for ``value`` (accepts synonyms such as "LBP" and "TMD")."""
    return CONDITION.normalize(value)


def normalize_technique(value: object) -> str:
    """Canonical technique name for ``value`` (accepts synonyms such as "MFR" and "Swedish massage")."""
    return TECHNIQUE.normalize(value)


def normalize_intent(value: object) -> str:
    """Canonical intent (therapeutic, relaxation or control)."""
    return INTENT.normalize(value)


def intent_of(technique: str) -> str | None:
    """The intent that follows from a technique by default (None for "other", which states no intent)."""
    return DEFAULT_INTENT.get(normalize_technique(technique))


def derive_intent(technique: pd.Series, stated: pd.Series | None = None) -> pd.Series:
    """Intent per row: the stated intent where given, else the technique's default (vectorized)."""
    derived = pd.Series(technique, copy=True).map(DEFAULT_INTENT)
    if stated is not None:
        stated = pd.Series(stated, index=derived.index)
        derived = stated.where(stated.notna(), derived)
    return derived.astype(object).where(derived.notna(), None)


def register_technique(name: str, intent: str | None, synonyms: Iterable[str] = ()) -> None:
    """Extend the vocabulary with a technique (e.g. ``"cupping"``) and its default intent."""
    TECHNIQUE.add(name, synonyms)
    DEFAULT_INTENT[name] = None if intent is None else normalize_intent(intent)


def register_condition(name: str, synonyms: Iterable[str] = ()) -> None:
    """Extend the vocabulary with a condition (e.g. ``"neck_pain"``) and its synonyms."""
    CONDITION.add(name, synonyms)


VOCABULARIES: Mapping[str, Vocabulary] = {
    "condition": CONDITION,
    "technique": TECHNIQUE,
    "intent": INTENT,
    "timing": TIMING,
}

__all__ = [
    "CONDITIONS", "TECHNIQUES", "INTENTS", "TIMINGS", "DEFAULT_INTENT", "Vocabulary", "CONDITION", "TECHNIQUE",
    "INTENT", "TIMING", "VOCABULARIES", "normalize_condition", "normalize_technique", "normalize_intent",
    "intent_of", "derive_intent", "register_technique", "register_condition", "unknown_term_message",
]


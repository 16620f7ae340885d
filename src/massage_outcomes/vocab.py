"""The domain vocabulary: conditions, techniques and intent, with the synonyms accepted on input.

Every layer normalises through this module, so "LBP", "Low back pain" and "low_back_pain" are one condition
everywhere. Unknown terms raise :class:`~massage_outcomes.errors.DataValidationError`: with "Did you mean …?" only
when a known term is close (:func:`closest`), otherwise with the list of known terms.

The conditions are those of the massage-therapy trial literature: the Cochrane reviews (massage for low back pain,
Furlan et al. 2015; for mechanical neck disorders, Patel et al. 2012; massage and other manual methods for pain in
labour, Smith et al. 2018; deep transverse friction massage for lateral elbow tendinitis, Loew et al. 2014), the
VA/AHRQ-style evidence map of massage for pain (Miake-Lye et al. 2016: neck, low back, headache, shoulder, labour,
fibromyalgia, cancer and musculoskeletal pain) and the Evidence for Massage Therapy reviews (Crawford et al.
2016, Pain Med), plus anxiety and stress as outcomes of relaxation massage (Moyer et al. 2004, Psychol Bull).
A study's own terms belong in its read plan, or in a local copy (:meth:`Vocabulary.extended`); the global
vocabulary is for shared additions (:func:`register_condition`).

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
import unicodedata
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
    "neck_pain",
    "shoulder_pain",
    "fibromyalgia",
    "knee_osteoarthritis",
    "hip_osteoarthritis",
    "plantar_fasciitis",
    "lateral_epicondylalgia",
    "myofascial_pain",
    "chronic_pain",
    "cancer_pain",
    "labour_pain",
    "doms",
    "anxiety",
    "stress",
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


def fold_key(text: object) -> str:
    """Fold Unicode compatibility forms, case, punctuation and spacing, so that 'Low-back pain ', 'low_back_pain'
    and the full-width 'ＬＢＰ' of an East Asian export meet their terms.

    NFKC folding comes first: full-width letters and digits become ASCII, the ideographic and non-breaking
    spaces become spaces, ligatures split ('ﬁ' -> 'fi'). Terms, synonyms, instrument keys and column headers
    are all compared through this one function.

    Examples
    --------
    >>> fold_key("Ｄｅｅｐ\u3000ｔｉｓｓｕｅ"), fold_key("Low-back\xa0pain ")
    ('deep_tissue', 'low_back_pain')
    """
    return re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKC", str(text)).strip().lower()).strip("_")


_key = fold_key


#: similarity (difflib ratio) a known name needs before a message says "Did you mean …?"
SUGGEST_CUTOFF = 0.8


def _osa_distance(a: str, b: str) -> int:
    """Edit distance counting an adjacent transposition as one edit (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def closest(value: object, candidates: Iterable[str], *, cutoff: float = SUGGEST_CUTOFF) -> str | None:
    """The candidate a user most likely meant, or None when none is close enough to suggest.

    Close means a difflib similarity of at least ``cutoff`` between the folded names (see ``_key``), or one typing
    slip (an insertion, deletion, substitution or swap of neighbours) in a name of four or more characters. Short
    names that merely share letters are not suggested ('bmi' is not 'sbi').

    Examples
    --------
    >>> closest("migrane", ["migraine", "tmj"]), closest("rmqd", ["rmdq", "odi"]), closest("bmi", ["sbi"])
    ('migraine', 'rmdq', None)
    """
    target = _key(str(value))
    folded = {_key(c): c for c in candidates}
    if not target or not folded:
        return None
    if target in folded:
        return folded[target]
    best = difflib.get_close_matches(target, list(folded), n=1, cutoff=cutoff)
    if best:
        return folded[best[0]]
    if len(target) >= 4:
        near = [k for k in folded if abs(len(k) - len(target)) <= 1 and _osa_distance(target, k) <= 1]
        if near:
            return folded[sorted(near)[0]]
    return None


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
        """The canonical term of the known term or synonym closest to ``value`` (see :func:`closest`), or None."""
        match = closest(value, list(self._lookup))
        return self._lookup[_key(match)] if match is not None else None

    def extended(self, terms: Mapping[str, Iterable[str]] | Iterable[str]) -> Vocabulary:
        """A copy with a study's own terms (each with its synonyms) added; the global vocabulary is unchanged.

        Examples
        --------
        >>> local = CONDITION.extended({"whiplash": ["WAD", "whiplash-associated disorder"]})
        >>> local.normalize("WAD"), CONDITION.lookup("WAD")
        ('whiplash', None)
        """
        copy = Vocabulary(self.name, list(self.terms), {})
        copy._lookup = dict(self._lookup)
        items = terms.items() if isinstance(terms, Mapping) else ((t, ()) for t in terms)
        for term, synonyms in items:
            copy.add(term, [synonyms] if isinstance(synonyms, str) else synonyms)
        return copy

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
    """The message for a term ``vocabulary`` does not know: a suggestion only when one is close, the known
    terms always, and how to declare or recode the term (in Python, or in the read plan on the command line)."""
    from massage_outcomes.errors import in_front_end, option

    hint = vocabulary.suggest(value)
    did_you_mean = f" Did you mean {hint!r}?" if hint else ""
    if in_front_end():
        fix = (f"Recode it to a known term in the read plan ({option('mapping')}), e.g. "
               f"{vocabulary.name}: {{{str(value)!r}: '<term>'}}.")
    else:
        fix = f"Recode it with {option('mapping')}{{'{vocabulary.name}': {{{str(value)!r}: '<term>'}}}}"
        if vocabulary.name in ("condition", "technique"):
            fix += (f", or add it for everyone with massage_outcomes.vocab.register_{vocabulary.name}(...) (a "
                    "study's own terms belong in its read plan)")
        fix += "."
    return f"unknown {vocabulary.name} {value!r}.{did_you_mean} Known terms: {', '.join(vocabulary.terms)}. {fix}"


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
        "postoperative pain": "post_surgical_rehab", "post-operative pain": "post_surgical_rehab",
        "surgical pain": "post_surgical_rehab",
        "neck pain": "neck_pain", "chronic neck pain": "neck_pain", "mechanical neck pain": "neck_pain",
        "mechanical neck disorder": "neck_pain", "mechanical neck disorders": "neck_pain", "cervical pain": "neck_pain",
        "cervicalgia": "neck_pain", "nonspecific neck pain": "neck_pain",
        "shoulder pain": "shoulder_pain", "frozen shoulder": "shoulder_pain", "adhesive capsulitis": "shoulder_pain",
        "rotator cuff": "shoulder_pain", "rotator cuff tendinopathy": "shoulder_pain",
        "subacromial pain": "shoulder_pain", "shoulder impingement": "shoulder_pain",
        "FM": "fibromyalgia", "FMS": "fibromyalgia", "fibromyalgia syndrome": "fibromyalgia",
        "knee OA": "knee_osteoarthritis", "knee osteoarthritis": "knee_osteoarthritis",
        "osteoarthritis of the knee": "knee_osteoarthritis", "gonarthrosis": "knee_osteoarthritis",
        "hip OA": "hip_osteoarthritis", "hip osteoarthritis": "hip_osteoarthritis",
        "osteoarthritis of the hip": "hip_osteoarthritis", "coxarthrosis": "hip_osteoarthritis",
        "plantar fasciitis": "plantar_fasciitis", "plantar fasciopathy": "plantar_fasciitis",
        "plantar heel pain": "plantar_fasciitis", "heel pain": "plantar_fasciitis",
        "tennis elbow": "lateral_epicondylalgia", "lateral epicondylitis": "lateral_epicondylalgia",
        "lateral epicondylalgia": "lateral_epicondylalgia", "lateral elbow pain": "lateral_epicondylalgia",
        "lateral elbow tendinopathy": "lateral_epicondylalgia",
        "myofascial pain syndrome": "myofascial_pain", "myofascial pain": "myofascial_pain", "MPS": "myofascial_pain",
        "chronic pain": "chronic_pain", "mixed pain": "chronic_pain", "mixed_pain": "chronic_pain",
        "chronic pain of mixed origin": "chronic_pain", "musculoskeletal pain": "chronic_pain",
        "chronic musculoskeletal pain": "chronic_pain",
        "cancer pain": "cancer_pain", "cancer-related pain": "cancer_pain", "pain in cancer": "cancer_pain",
        "oncology pain": "cancer_pain",
        "labor pain": "labour_pain", "labour pain": "labour_pain", "labor_pain": "labour_pain",
        "pain in labour": "labour_pain", "pain in labor": "labour_pain", "childbirth pain": "labour_pain",
        "DOMS": "doms", "delayed onset muscle soreness": "doms", "delayed-onset muscle soreness": "doms",
        "post-exercise muscle soreness": "doms", "muscle soreness": "doms",
        "anxiety disorder": "anxiety", "generalized anxiety disorder": "anxiety", "GAD": "anxiety",
        "state anxiety": "anxiety",
        "psychological stress": "stress", "perceived stress": "stress", "occupational stress": "stress",
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
    "intent_of", "derive_intent", "register_technique", "register_condition", "unknown_term_message", "fold_key",
]


"""The domain vocabulary: synonyms in, canonical names out, helpful errors for unknown terms."""

import pandas as pd
import pytest

from massage_outcomes import DataValidationError, vocab


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("LBP", "low_back_pain"),
        ("Low back pain", "low_back_pain"),
        ("low_back_pain", "low_back_pain"),
        ("TMD", "tmj"),
        ("Carpal Tunnel Syndrome", "carpal_tunnel"),
        ("tension-type headache", "tension_headache"),
        ("post-surgical", "post_surgical_rehab"),
    ],
)
def test_condition_synonyms(raw, expected):
    assert vocab.normalize_condition(raw) == expected


@pytest.mark.parametrize(
    ("raw", "technique", "intent"),
    [
        ("Swedish massage", "swedish", "relaxation"),
        ("MFR", "myofascial_release", "therapeutic"),
        ("deep tissue", "deep_tissue", "therapeutic"),
        ("trigger point therapy", "trigger_point", "therapeutic"),
        ("sports massage", "sports", "therapeutic"),
        ("usual care", "none", "control"),
        ("sham massage", "sham", "control"),
        ("other", "other", None),
    ],
)
def test_technique_synonyms_and_default_intent(raw, technique, intent):
    assert vocab.normalize_technique(raw) == technique
    assert vocab.intent_of(raw) == intent


def test_unknown_term_suggests_closest():
    with pytest.raises(DataValidationError, match="Did you mean 'migraine'"):
        vocab.normalize_condition("migrane")
    with pytest.raises(ValueError):  # DataValidationError is a ValueError
        vocab.normalize_technique("reiki")


def test_normalize_series_flags_unknown_without_dropping():
    values = pd.Series(["LBP", "nonsense", None, "sciatica"])
    mapped, unknown = vocab.CONDITION.normalize_series(values)
    assert list(mapped) == ["low_back_pain", None, None, "sciatica"]
    assert list(unknown) == [False, True, False, False]
    assert len(mapped) == len(values)


def test_derive_intent_prefers_stated_intent():
    technique = pd.Series(["deep_tissue", "swedish", "other", "none"])
    stated = pd.Series([None, "therapeutic", "relaxation", None])
    assert list(vocab.derive_intent(technique, stated)) == ["therapeutic", "therapeutic", "relaxation", "control"]


def test_vocabulary_is_extensible():
    vocab.register_technique("cupping", "therapeutic", synonyms=["cupping therapy"])
    try:
        assert vocab.normalize_technique("Cupping Therapy") == "cupping"
        assert vocab.intent_of("cupping") == "therapeutic"
    finally:
        vocab.TECHNIQUE.terms.remove("cupping")
        vocab.TECHNIQUE._lookup = {k: v for k, v in vocab.TECHNIQUE._lookup.items() if v != "cupping"}
        vocab.DEFAULT_INTENT.pop("cupping")
    with pytest.raises(ValueError, match="snake_case"):
        vocab.register_condition("Neck Pain")

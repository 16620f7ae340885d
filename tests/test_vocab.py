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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("neck pain", "neck_pain"), ("Mechanical neck disorders", "neck_pain"), ("shoulder_pain", "shoulder_pain"),
     ("frozen shoulder", "shoulder_pain"), ("FMS", "fibromyalgia"), ("knee OA", "knee_osteoarthritis"),
     ("Hip osteoarthritis", "hip_osteoarthritis"), ("plantar heel pain", "plantar_fasciitis"),
     ("Tennis elbow", "lateral_epicondylalgia"), ("chronic pain of mixed origin", "chronic_pain"),
     ("mixed_pain", "chronic_pain"), ("cancer-related pain", "cancer_pain"), ("labor pain", "labour_pain"),
     ("DOMS", "doms"), ("delayed-onset muscle soreness", "doms"), ("anxiety", "anxiety"),
     ("perceived stress", "stress"), ("myofascial pain syndrome", "myofascial_pain")],
)
def test_conditions_of_the_massage_trial_literature(raw, expected):
    """issue 17: the vocabulary held eight conditions; 'shoulder_pain' got "Did you mean 'sciatica'?"."""
    assert vocab.normalize_condition(raw) == expected


def test_suggestions_only_above_the_similarity_threshold():
    with pytest.raises(DataValidationError) as err:
        vocab.normalize_condition("bmi")
    assert "Did you mean" not in str(err.value) and "Known terms: low_back_pain" in str(err.value)
    with pytest.raises(DataValidationError, match="Did you mean 'shoulder_pain'"):
        vocab.normalize_condition("sholder pain")
    assert vocab.closest("rmqd", ["rmdq", "odi"]) == "rmdq"  # one swap of neighbours
    assert vocab.closest("odi", ["ndi"]) is None  # short names sharing letters are not suggested


def test_a_study_extends_a_copy_not_the_global_vocabulary():
    local = vocab.CONDITION.extended({"whiplash": ["WAD"]})
    assert local.normalize("wad") == "whiplash" and vocab.CONDITION.lookup("whiplash") is None
    assert "whiplash" not in vocab.CONDITIONS and local.lookup("LBP") == "low_back_pain"


def test_unknown_term_under_the_command_line_names_the_read_plan():
    from massage_outcomes.errors import front_end_names

    with front_end_names({"mapping": "--mapping"}), pytest.raises(DataValidationError) as err:
        vocab.normalize_condition("whiplash")
    assert "--mapping" in str(err.value) and "mapping=" not in str(err.value)

"""The instrument registry: ranges, direction-aware change and MCIDs from the reference file."""

import numpy as np
import pytest

from massage_outcomes import DataValidationError, instruments
from massage_outcomes.instruments import MCID, Instrument

REFERENCE_KEYS = [
    "pain_nrs", "pain_vas", "rmdq", "odi", "ndi", "hit6", "headache_days", "bctq_sss", "bctq_fss", "jfls",
    "mouth_opening", "rom", "psfs", "promis_pi", "sbi", "bothersomeness", "grc",
]


@pytest.mark.parametrize("key", REFERENCE_KEYS)
def test_every_reference_instrument_is_registered(key):
    inst = instruments.get(key)
    assert inst.min < inst.max
    assert inst.direction in ("lower", "higher")


@pytest.mark.parametrize(
    ("key", "lo", "hi", "direction", "first_mcid"),
    [
        ("pain_nrs", 0, 10, "lower", (2, "points")),
        ("rmdq", 0, 24, "lower", (5, "points")),
        ("odi", 0, 100, "lower", (10, "points")),
        ("hit6", 36, 78, "lower", (1.5, "points")),
        ("headache_days", 0, 28, "lower", (50, "percent")),
        ("psfs", 0, 10, "higher", (1.3, "points")),
        ("mouth_opening", 0, 80, "higher", (6, "points")),
    ],
)
def test_ranges_directions_and_mcids(key, lo, hi, direction, first_mcid):
    inst = instruments.get(key)
    assert (inst.min, inst.max, inst.direction) == (lo, hi, direction)
    m = inst.default_mcid()
    assert (m.value, m.unit) == first_mcid
    assert m.source


def test_direction_aware_improvement():
    rmdq, psfs = instruments.get("rmdq"), instruments.get("psfs")
    np.testing.assert_allclose(rmdq.improvement([12, 10], [7, 11]), [5, -1])
    np.testing.assert_allclose(psfs.improvement([3, 5], [6, 4]), [3, -1])
    np.testing.assert_allclose(rmdq.percent_improvement([10, 0], [7, 0]), [30, np.nan])
    assert list(rmdq.improved([10, 10, np.nan], [5, 12, 3])) == [True, False, False]
    assert rmdq.favours(-2.5, "therapeutic", "usual_care") == "favours therapeutic"
    assert psfs.favours(-2.5, "therapeutic", "usual_care") == "favours usual_care"
    assert rmdq.favours(0.0, "a", "b") == "no difference"


def test_resolve_threshold():
    nrs = instruments.get("pain_nrs")
    assert instruments.resolve_threshold(nrs, "mcid")[:2] == (2.0, "points")
    assert instruments.resolve_threshold(nrs, 0.3)[:2] == (30.0, "percent")
    assert instruments.resolve_threshold(nrs, 3)[:2] == (3.0, "points")
    with pytest.raises(DataValidationError, match="no published MCID"):
        instruments.resolve_threshold(instruments.get("jfls"), "mcid")
    with pytest.raises(ValueError):
        instruments.resolve_threshold(nrs, -1)


def test_unknown_instrument_suggests_and_user_can_register():
    with pytest.raises(DataValidationError, match="Did you mean 'rmdq'"):
        instruments.get("rmqd")
    custom = Instrument("qbpds", "Quebec Back Pain Disability Scale", "disability", 0, 100, "lower",
                        mcids=(MCID(15, "points", "MIC", "low back pain", "Ostelo 2008", "S"),))
    instruments.register(custom, replace_existing=True)
    assert instruments.get("qbpds").default_mcid().value == 15.0
    with pytest.raises(ValueError, match="already registered"):
        instruments.register(custom)
    with pytest.raises(ValueError, match="min"):
        instruments.register(Instrument("bad", "bad", "x", 5, 1, "lower"))
    assert {"key", "mcid", "source"} <= set(instruments.registry_frame().columns)


def test_suggestions_only_for_close_keys():
    """issue 10: 'bmi' -> 'sbi', 'pmq2' -> 'rmdq23' were suggested."""
    for wrong in ("bmi", "pmq2"):
        with pytest.raises(DataValidationError) as err:
            instruments.get(wrong)
        assert "Did you mean" not in str(err.value) and "Registered:" in str(err.value)
    with pytest.raises(DataValidationError, match="Did you mean 'rmdq'"):
        instruments.get("rmqd")
    with pytest.raises(DataValidationError, match="Did you mean 'pain_nrs'"):
        instruments.get("Pain NRS")


def test_conditions_link_their_instruments_and_mcids():
    from massage_outcomes import vocab

    for inst in instruments.all_instruments():
        for c in (*inst.conditions, *(c for m in inst.mcids for c in m.conditions)):
            assert vocab.CONDITION.lookup(c) == c, (inst.key, c)
    for cond in ("neck_pain", "shoulder_pain", "fibromyalgia", "knee_osteoarthritis", "lateral_epicondylalgia",
                 "plantar_fasciitis", "anxiety", "stress", "cancer_pain"):
        assert instruments.for_condition(cond, specific=True), cond
    assert [i.key for i in instruments.for_condition("neck_pain", specific=True)][0] == "ndi"
    nrs = instruments.get("pain_nrs")
    assert nrs.mcid_for("neck_pain").value == 1.3 and nrs.mcid_for("low_back_pain").value == 2.0
    assert nrs.mcid_for("shoulder_pain") is None
    assert instruments.get("ndi").mcid_for("neck_pain").kind == "MIC"  # never the MDC or a between-group MID

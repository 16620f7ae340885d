"""The instrument registry: ranges, direction-aware change and MCIDs from the reference file."""

import re
import warnings

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
    ndi = instruments.get("ndi").mcid_for("neck_pain")
    assert ndi.kind not in ("MDC", "MID") and ndi.value == 10.0  # never the MDC or a between-group MID


# ---------------------------------------------------------------------------------------- provenance of the MCIDs
#: every registered MCID as checked against the published sources on 2026-12-04: (instrument, value, unit,
#: provenance, a string its source must contain). A value or a provenance changed without a new check fails here.
CHECKED = [
    ("pain_nrs", 2.0, "points", "P", "10.1097/BRS.0b013e31815e3a10"),
    ("pain_nrs", 30.0, "percent", "P", "Ostelo"),
    ("pain_nrs", 1.3, "points", "P", "10.1016/j.apmr.2007.08.126"),
    ("pain_nrs", 1.5, "points", "P", "10.2519/jospt.2014.5248"),
    ("pain_nrs", 30.0, "percent", "S", "10.1016/j.jpain.2007.09.005"),
    ("pain_nrs", 50.0, "percent", "S", "IMMPACT"),
    ("pain_vas", 15.0, "points", "P", "Ostelo"),
    ("pain_vas", 30.0, "percent", "P", "Ostelo"),
    ("pain_vas", 30.0, "percent", "S", "IMMPACT"),
    ("rmdq", 5.0, "points", "P", "Ostelo"),
    ("rmdq", 30.0, "percent", "P", "Ostelo"),
    ("rmdq", 2.0, "points", "P", "10.1059/0003-4819-155-1-201107050-00002"),
    ("rmdq23", 5.0, "points", "P", "Ostelo"),
    ("rmdq23", 2.0, "points", "P", "10.1059/0003-4819-155-1-201107050-00002"),
    ("odi", 10.0, "points", "P", "Ostelo"),
    ("odi", 12.0, "points", "P", "10.2519/jospt.2014.5248"),
    ("ndi", 10.0, "points", "P", "Young et al. 2009"),  # corrected: the authors' recommended MCID
    ("ndi", 7.5, "points", "P", "Young et al. 2009"),  # corrected source (was MacDermid 2009)
    ("ndi", 10.2, "points", "P", "Young et al. 2009"),
    ("ndi", 5.0, "points", "P", "10.1097/AJP.0b013e31818b7912"),
    ("hit6", 1.5, "points", "P", "10.1177/0333102413497599"),  # source corrected (was "as cited")
    ("hit6", 8.0, "points", "P", "Castien et al. 2012"),
    ("hit6", 2.5, "points", "P", "10.1177/0333102413497599"),
    ("headache_days", 50.0, "percent", "S", "PMC7044826"),
    ("headache_days", 50.0, "percent", "U", "10.1111/j.1468-2982.2009.01948.x"),
    ("bctq_sss", 1.45, "points", "P", "PMID 23416439"),
    ("bctq_fss", 1.6, "points", "P", "PMID 23416439"),
    ("mouth_opening", 6.0, "points", "P", "Kropmans"),
    ("psfs", 1.3, "points", "P", "10.2519/jospt.2014.5248"),
    ("promis_pi", 2.0, "points", "P", "Chen et al. 2018"),
    ("promis_pi", 3.5, "points", "P", "10.2147/JPR.S93391"),
    ("bothersomeness", 1.5, "points", "P", "10.1059/0003-4819-155-1-201107050-00002"),
    ("bothersomeness", 30.0, "percent", "P", "10.1097/AJP.0b013e31818b7912"),
    ("grc", 3.0, "points", "U", "PMID 20046623"),
    ("spadi", 13.0, "points", "S", "10.1002/art.24396"),
    ("quickdash", 8.0, "points", "P", "10.1016/j.jse.2008.12.015"),
    ("prtee", 11.0, "points", "U", "Poltawski"),
    ("prtee", 37.0, "percent", "U", "Poltawski"),
    ("fiqr", 14.1, "percent", "S", "Bennett et al. 2009"),  # corrected from 14 (pooled estimate 14.1%)
    ("bpi_severity", 30.0, "percent", "S", "IMMPACT"),
    ("bpi_interference", 1.0, "points", "S", "IMMPACT"),  # added: IMMPACT's 1-point BPI interference benchmark
]
_BUILTIN_KEYS = [i.key for i in instruments._BUILTIN]


def test_every_registered_mcid_is_the_checked_one():
    registered = [(i.key, m.value, m.unit, m.provenance) for i in instruments._BUILTIN for m in i.mcids]
    assert registered == [c[:4] for c in CHECKED]
    for inst in instruments._BUILTIN:
        for m in inst.mcids:
            src = next(c[4] for c in CHECKED if c[:4] == (inst.key, m.value, m.unit, m.provenance))
            assert src in m.source, (inst.key, m.value, m.source)


@pytest.mark.parametrize(("key", "m"), [(i.key, m) for i in instruments._BUILTIN for m in i.mcids],
                         ids=lambda x: getattr(x, "key", None) or f"{getattr(x, 'value', x)}")
def test_every_mcid_has_a_citation_or_the_unverified_flag(key, m):
    assert m.provenance in instruments.PROVENANCE
    # a citation: a name and a year, or an identifier (DOI, PMID, PMC)
    assert re.search(r"[A-Z][a-z]+", m.source) and re.search(r"(19|20)\d\d|doi:10\.|PMID \d+|PMC\d+", m.source), \
        (key, m.source)
    if m.verified:
        assert "unverified" not in str(m)
    else:
        assert "unverified: no published source confirmed this value" in str(m)


def test_using_an_unverified_mcid_warns_and_a_verified_one_does_not():
    with pytest.warns(instruments.UnverifiedMCIDWarning, match="prtee.*Poltawski.*unverified"):
        m = instruments.get("prtee").mcid_for("lateral_epicondylalgia")
    assert not m.verified
    with pytest.warns(instruments.UnverifiedMCIDWarning, match="grc"):
        value, unit, label = instruments.resolve_threshold(instruments.get("grc"), "mcid")
    assert "unverified" in label
    with pytest.warns(instruments.UnverifiedMCIDWarning, match="tension-type"):
        instruments.get("headache_days").mcid_for("tension_headache")
    with warnings.catch_warnings():
        warnings.simplefilter("error", instruments.UnverifiedMCIDWarning)
        assert instruments.get("headache_days").mcid_for("migraine").provenance == "S"
        assert instruments.get("quickdash").mcid_for("shoulder_pain").value == 8.0
        instruments.resolve_threshold(instruments.get("rmdq"), "mcid")
    frame = instruments.registry_frame()
    assert not frame.loc[frame["key"] == "prtee", "verified"].any()


def test_responders_label_and_warn_an_unverified_mcid():
    import pandas as pd

    import massage_outcomes as mo

    long = pd.DataFrame({
        "subject": np.repeat([f"s{i}" for i in range(8)], 2), "arm": np.repeat(["a", "b"], 8),
        "condition": "lateral_epicondylalgia", "instrument": "prtee", "visit": ["baseline", "week_6"] * 8,
        "day": [0, 42] * 8, "timing": ["baseline", "followup"] * 8,
        "value": [60, 40, 60, 55, 70, 50, 50, 45, 60, 58, 60, 45, 70, 69, 50, 30]})
    with pytest.warns(instruments.UnverifiedMCIDWarning):
        res = mo.responders(mo.Dataset.from_long(long), instrument="prtee", threshold="mcid",
                            compare=("arm", "a", "b"))
    assert "unverified" in res["threshold"].iloc[0]

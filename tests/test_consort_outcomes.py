"""CONSORT-Outcomes 2022 statements and checklist: items are marked covered only when the library determined them."""

from __future__ import annotations

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import instruments
from massage_outcomes.consort_outcomes import COVERED, ITEMS, TO_ADD, consort_outcomes

ALWAYS_AUTHORS = {"6a.1", "6a.6", "6a.7", "6a.8", "6a.9", "6a.10", "7a.1", "17a.1", "22.1"}


@pytest.fixture(scope="module")
def sample():
    return mo.load_sample("trial")


def _status(rep):
    return dict(zip(rep.checklist["item"], rep.checklist["status"], strict=True))


def test_checklist_has_the_17_items_and_marks_what_the_data_determine(sample):
    rep = consort_outcomes(sample)
    status = _status(rep)
    assert list(status) == [i for i, _s, _t in ITEMS] and len(status) == 17
    assert {i for i, s in status.items() if s == TO_ADD} == ALWAYS_AUTHORS
    assert {i for i, s in status.items() if s == COVERED} == {"6a.2", "6a.3", "6a.4", "6a.5", "12a.1", "12a.2",
                                                              "12a.3", "12a.4"}
    text = " ".join(rep.paragraphs()["rmdq"])
    mcid = instruments.get("rmdq").default_mcid()
    assert f"improvement of {mcid.value:g} points" in text and mcid.source in text  # the registry's citation
    assert "week 4, week 10, week 26; primary time point week 26" in text
    assert "≥5 points (the MCID), ≥30% of the baseline score, ≥50% of the baseline score" in text
    assert "0–24 points, lower scores are better" in rep.paragraphs()["rmdq"][0]  # opens with the instrument
    trial = " ".join(rep.paragraphs()["all outcomes"])
    disp = mo.disposition(sample)
    assert f"{disp.count('lost')} of 180 randomized" in trial
    assert "Holm-adjusted" in trial and "No outcome data were excluded" in trial


def test_items_go_back_to_the_authors_when_the_data_cannot_say(sample):
    rep = consort_outcomes(sample, thresholds=(), analyses=("mmrm",), adjust="none")
    status = _status(rep)
    assert status["6a.4"] == TO_ADD  # no responder analysis: no cut-offs were used
    assert status["12a.1"] == COVERED  # "no adjustment" is a statement the options determine
    assert "No adjustment for multiplicity" in " ".join(rep.statements["text"])


def test_an_instrument_without_a_published_mcid_leaves_6a3_to_the_authors():
    key = "test_unpublished_scale"
    if not instruments.is_registered(key):
        instruments.register(instruments.Instrument(key, "Unpublished scale", "pain", 0, 10, "lower"))
    long = pd.DataFrame({"subject": ["a", "a", "b", "b"], "arm": ["therapeutic", "therapeutic", "usual_care",
                                                                  "usual_care"],
                         "instrument": key, "visit": ["baseline", "week_6"] * 2, "day": [0, 42] * 2,
                         "timing": ["baseline", "followup"] * 2, "value": [6, 3, 6, 5]})
    rep = consort_outcomes(mo.Dataset.from_long(long))
    status = _status(rep)
    assert status["6a.3"] == TO_ADD
    assert status["6a.4"] == COVERED  # 30% and 50% of baseline are still cut-offs the analysis used
    assert status["12a.4"] == COVERED


def test_quarantined_rows_are_stated(sample):
    ds = sample.copy()
    ds.rejected = pd.DataFrame({"row": [17, 52], "reason": ["out of range", "duplicate key"]})
    rep = consort_outcomes(ds)
    assert "2 data row(s) failed validation" in " ".join(rep.statements["text"])


def test_an_unverified_mcid_is_said_so_and_leaves_6a3_to_the_authors():
    long = pd.DataFrame({"subject": ["a", "a", "b", "b"], "arm": ["therapeutic", "therapeutic", "usual_care",
                                                                  "usual_care"],
                         "instrument": "prtee", "visit": ["baseline", "week_6"] * 2, "day": [0, 42] * 2,
                         "timing": ["baseline", "followup"] * 2, "value": [60, 30, 60, 55]})
    with pytest.warns(instruments.UnverifiedMCIDWarning):  # the responder cut-off "mcid" resolves it
        rep = consort_outcomes(mo.Dataset.from_long(long))
    assert _status(rep)["6a.3"] == TO_ADD
    text = " ".join(rep.paragraphs()["prtee"])
    assert "improvement of 11 points" in text and "This value is unverified" in text


# ------------------------------------------------------------------------------------- the checklist's numbering
#: CONSORT 2010's items (checked against the published 2010 checklist) and the section each belongs to: an
#: extension item "6a.3" elaborates item 6a, so it must sit in that item's section
CONSORT_2010_SECTIONS = {"2a": "Background and objectives", "6a": "Outcomes", "7a": "Sample size",
                         "12a": "Statistical methods", "17a": "Outcomes and estimation", "22": "Interpretation"}


def test_items_follow_the_published_order_and_count():
    """17 items (Butcher et al. 2022, Key Points); the first 11 in the order of a published summary of them."""
    from massage_outcomes.consort_outcomes import CHECKED_ORDER

    assert len(ITEMS) == 17 and len({i for i, _s, _t in ITEMS}) == 17
    for (item, _section, text), keyword in zip(ITEMS, CHECKED_ORDER, strict=False):
        assert keyword in text.lower(), (item, keyword)


def test_item_ids_elaborate_the_consort_2010_item_of_their_section():
    for item, section, _text in ITEMS:
        parent, _, sub = item.partition(".")
        assert parent in CONSORT_2010_SECTIONS and sub.isdigit(), item
        assert section == CONSORT_2010_SECTIONS[parent], (item, section)
    numbers = [(i.partition(".")[0], int(i.partition(".")[2])) for i, _s, _t in ITEMS]
    for parent in {p for p, _n in numbers}:  # sub-items of one parent are numbered 1, 2, ... without gaps
        subs = [n for p, n in numbers if p == parent]
        assert subs == list(range(1, len(subs) + 1)), parent


def test_the_checklist_says_the_item_numbers_are_unconfirmed(sample):
    from massage_outcomes import consort_outcomes as co

    rep = consort_outcomes(sample)
    assert co.ITEM_NUMBERS_CONFIRMED is False
    assert (rep.checklist["number_confirmed"] == co.ITEM_NUMBERS_CONFIRMED).all()
    assert "item numbers unconfirmed" in repr(rep)
    assert "doi:10.1001/jama.2022.21022" in co.__doc__ and "not the published wording" in co.__doc__

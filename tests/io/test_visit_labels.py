"""The visit-label parser of describe (issue 10 item 1): every form the issue lists."""

from __future__ import annotations

import pytest

from massage_outcomes.io.visit_labels import parse_visit, split_visit_suffix

CASES = [
    ("baseline", 0.0), ("Base", 0.0), ("BL", 0.0), ("screening", 0.0), ("week 4", 28.0), ("wk4", 28.0),
    ("6 weeks", 42.0), ("6wk", 42.0), ("3 months", 91.0), ("month 3", 91.0), ("12 months", 365.0),
    ("1 year", 365.0), ("yr1", 365.0), ("Day 15", 15.0), ("week_10", 70.0), ("W26", 182.0), ("m6", 183.0),
    ("V2", None), ("end of treatment", None), ("EOT", None), ("follow-up", None), ("visit 3", None),
]


@pytest.mark.parametrize(("label", "day"), CASES)
def test_labels_to_days(label, day):
    parsed = parse_visit(label)
    assert parsed.day == day
    if day is None:
        assert parsed.todo and "which day" in parsed.todo
    else:
        assert parsed.todo is None
        assert parsed.timing == ("baseline" if day == 0 else "followup")


def test_unknown_text_asks_for_its_day():
    assert parse_visit("purple").day is None and "give its day" in parse_visit("purple").todo


@pytest.mark.parametrize(("column", "stem", "day"), [
    ("pain_week_6", "pain", 42.0), ("NDI 3 months", "NDI", 91.0), ("pk1_bl", "pk1", 0.0), ("pain6wk", "pain", 42.0),
    ("headache_score_yr1", "headache_score", 365.0), ("sf36_V2", "sf36", None), ("ndiBL", "ndi", 0.0),
])
def test_column_names_split_into_stem_and_visit(column, stem, day):
    got = split_visit_suffix(column)
    assert got is not None and got[0] == stem and got[1].day == day


@pytest.mark.parametrize("column", ["age", "sex", "group", "record_id"])
def test_plain_columns_are_not_visits(column):
    assert split_visit_suffix(column) is None

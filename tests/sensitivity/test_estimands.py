"""The table of intercurrent events: built from a table or a column, checked against the data."""

from __future__ import annotations

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.errors import ArgumentError, DataValidationError
from massage_outcomes.sensitivity import Estimand, intercurrent_events, normalize_strategy


@pytest.fixture(scope="module")
def frame():
    return mo.load_sample("trial").analysis_frame("rmdq")


@pytest.mark.parametrize("text, key", [
    ("MAR", "MAR"), ("jump to reference", "JR"), ("J2R", "JR"), ("copy-reference", "CR"),
    ("copy increments in reference", "CIR"), ("cir", "CIR"), ("Last mean carried forward", "LMCF"),
])
def test_strategy_synonyms(text, key):
    assert normalize_strategy(text) == key


def test_unknown_strategy_names_the_choices():
    with pytest.raises(ArgumentError, match="strategies=\\{name: function\\}"):
        normalize_strategy("hot deck")
    assert normalize_strategy("tipped", custom=["tipped"]) == "tipped"


def test_from_table(frame):
    ev = pd.DataFrame({"subject": ["S001", "S003"], "visit": ["week_10", "week_4"], "strategy": ["JR", "cir"],
                       "event": ["stopped sessions", "other treatment"]})
    ice = intercurrent_events(frame, events=ev)
    assert ice.table["strategy"].tolist() == ["JR", "CIR"]
    assert ice.visits == ("week_4", "week_10", "week_26")
    assert ice.counts()["n"].sum() == 2


def test_from_column(frame):
    f = frame.copy()
    f["stop_visit"] = None
    f.loc[f["subject"] == "S002", "stop_visit"] = "week_26"
    ice = intercurrent_events(f, column="stop_visit", strategy="CR")
    assert ice.table[["subject", "visit", "strategy"]].values.tolist() == [["S002", "week_26", "CR"]]


@pytest.mark.parametrize("events, message", [
    (pd.DataFrame({"subject": ["S001", "NOPE"], "visit": ["week_4", "week_4"]}), "not in the data \\(NOPE\\)"),
    (pd.DataFrame({"subject": ["S001"], "visit": ["week_99"]}), "week_99"),
    (pd.DataFrame({"subject": ["S001"], "visit": ["baseline"]}), "not post-baseline"),
    (pd.DataFrame({"subject": ["S001", "S001"], "visit": ["week_4", "week_10"]}), "more than once"),
])
def test_bad_tables_are_named(frame, events, message):
    with pytest.raises(DataValidationError, match=message):
        intercurrent_events(frame, events=events, strategy="JR")


def test_needs_one_source(frame):
    with pytest.raises(ArgumentError, match="exactly one"):
        intercurrent_events(frame, strategy="JR")
    with pytest.raises(ArgumentError, match="strategy"):
        intercurrent_events(frame, events=pd.DataFrame({"subject": ["S001"], "visit": ["week_4"]}))


def test_estimand_five_attributes():
    e = Estimand(treatment="a vs b", population="adults", variable="RMDQ week 10",
                 intercurrent_events={"stopped sessions": "hypothetical"})
    assert len(e.to_frame()) == 5 and "stopped sessions: hypothetical" in e.summary_text()
    with pytest.raises(ArgumentError, match="population"):
        Estimand(treatment="a", population=" ", variable="v")

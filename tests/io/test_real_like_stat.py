"""SPSS/Stata files with value labels (issue 10 item 6): labels name the categories of arm and sex, while a
measurement keeps its numeric score even where its anchors are labelled (0 = no pain, 10 = worst pain)."""

from __future__ import annotations

import pyreadstat
import pytest
from real_like import write_corpus

import massage_outcomes as mo


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("real_like"))


def _cells(frame, cols):
    return int(frame[cols].notna().to_numpy().sum())


def test_spss_anchors_stay_scores_and_categories_get_labels(corpus):
    path = corpus / "spss_wide.sav"
    ds = mo.read(path)
    raw, _ = pyreadstat.read_sav(str(path))  # the independent read: codes as stored
    measures = ["pain_nrs_baseline", "pain_nrs_week_6"]
    assert ds.source["rows_read"] == _cells(raw, measures) == len(ds.outcomes)
    assert ds.source["empty_cells"] == len(raw) * 2 - _cells(raw, measures)
    base = ds.outcomes[ds.outcomes["visit"] == "baseline"]["value"].tolist()
    assert base == raw["pain_nrs_baseline"].tolist() and 10.0 in base
    assert 0.0 in ds.outcomes[ds.outcomes["visit"] == "week_6"]["value"].tolist()
    assert ds.subjects["arm"].tolist()[:2] == ["Massage", "Wait list"]
    assert set(ds.subjects["sex"]) == {"female", "male"}
    assert ds.source["value_labels_kept_as_codes"] == measures
    assert ds.source["value_labels_applied"] == ["arm", "sex"]


def test_stata_long_file_keeps_the_value_codes(corpus, tmp_path):
    raw, meta = pyreadstat.read_sav(str(corpus / "spss_wide.sav"))
    long = raw.melt(id_vars=["id", "group", "sex"], var_name="visit", value_name="value").dropna(subset=["value"])
    long["instrument"] = "pain_nrs"
    long["visit"] = long["visit"].str.replace("pain_nrs_", "")
    long["id"], long["group"] = long["id"].astype(int), long["group"].astype(int)
    path = tmp_path / "long.dta"
    pyreadstat.write_dta(long, str(path), variable_value_labels={
        "group": {1: "Massage", 2: "Wait list"}, "value": {0: "no pain", 10: "worst pain"}})
    ds = mo.read(path)
    assert ds.source["rows_read"] == len(long) == ds.source["rows_kept"]
    assert sorted(ds.outcomes["value"].tolist()) == sorted(long["value"].tolist())
    assert set(ds.subjects["arm"]) == {"Massage", "Wait list"}

"""Issue 10 item 6: column names are matched one way (exact, else folded), aliases never break an explicit wide
mapping, an unmatched key is an error naming the closest column, and derived-looking columns are kept."""

from __future__ import annotations

import pytest

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError


def _csv(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("source", ["outcome", "score", "result", "group", "site"])
def test_a_wide_column_named_like_an_alias_is_read_as_mapped(tmp_path, source):
    p = _csv(tmp_path, f"id,{source},fu\nx,10,6\ny,12,\n")
    ds = mo.read(p, wide={source: ("rmdq", "baseline", "baseline", 0), "fu": ("rmdq", "week 26", "followup", 182)})
    assert ds.source["layout"] == "wide"
    assert ds.outcomes["value"].tolist() == [10, 6, 12]
    assert ds.source["rows_read"] == 3 and ds.source["empty_cells"] == 1


def test_a_score_covariate_does_not_flip_an_explicit_wide_layout(tmp_path):
    p = _csv(tmp_path, "id,score,bl,fu\nx,99,10,6\n")
    ds = mo.read(p, wide={"bl": ("rmdq", "baseline", "baseline", 0), "fu": ("rmdq", "week 26", "followup", 182)})
    assert ds.outcomes["value"].tolist() == [10, 6]
    assert ds.subjects["score"].tolist() == [99]


def test_mapping_keys_match_like_wide_keys(tmp_path):
    p = _csv(tmp_path, "Patient ID,Group,instrument,day,value\n1,A,rmdq,0,5\n")
    ds = mo.read(p, mapping={"patient id": "subject", "group": ("arm", {"A": "therapeutic"})})
    assert ds.subjects["arm"].tolist() == ["therapeutic"]
    assert ds.source["renamed"] == {"Patient ID": "subject", "Group": "arm"}
    # a recode keyed by the canonical name finds the column its alias names
    ds = mo.read(p, mapping={"arm": {"A": "therapeutic"}})
    assert ds.subjects["arm"].tolist() == ["therapeutic"]


def test_an_unmatched_mapping_key_is_an_error_naming_the_closest(tmp_path):
    p = _csv(tmp_path, "PatientID,Group,instrument,day,value\n1,A,rmdq,0,5\n")
    with pytest.raises(DataValidationError, match="Did you mean 'PatientID'"):
        mo.read(p, mapping={"PatientlD": "subject"})
    with pytest.raises(DataValidationError, match="'bmi'.*not in the data") as info:
        mo.read(p, mapping={"bmi": "age"})
    assert "Did you mean" not in str(info.value) and "PatientID, Group" in str(info.value)


@pytest.mark.parametrize("name", ["week", "baseline", "change", "Week"])
def test_columns_named_like_derived_ones_are_kept(tmp_path, name):
    p = _csv(tmp_path, f"subject,instrument,day,value,{name}\na,rmdq,0,5,1\na,rmdq,28,3,2\n")
    ds = mo.read(p)
    kept = f"{name.lower()}_source"
    assert ds.source["renamed"][name] == kept
    assert kept in ds.outcomes.columns or kept in ds.subjects.columns or \
        kept in ds.analysis_frame("rmdq").columns
    assert ds.analysis_frame("rmdq")["week"].tolist() == [0, 4]


@pytest.mark.parametrize(("name", "suggested"), [("bmi", None), ("pmq2", None), ("rmqd", "rmdq"), ("pain_nsr", "pain_nrs")])
def test_instrument_suggestions_only_for_likely_typos(name, suggested):
    import pandas as pd

    report = mo.validate(pd.DataFrame({"subject": ["a"], "instrument": [name], "day": [0], "value": [3]}))
    text = str(report)
    if suggested is None:
        assert "Did you mean" not in text and "Known: " in text and "rmdq" in text
    else:
        assert f"Did you mean {suggested!r}?" in text

"""REDCap exports shaped like real projects (issue 10 item 6): a longitudinal project with two arms, a repeating
session form, a repeating diary, checkboxes, a date of birth, an upload field; a decimal-comma project."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from real_like import write_corpus

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError

MAPPING = {"arms": {1: "massage", 2: "usual_care"},
           "instruments": {"ndi_total": "ndi", "pain_now": "pain_nrs", "diary_pain": "pain_nrs"}}
OUTCOME_FIELDS = ["ndi_total", "pain_now", "pain_nrs_pre", "pain_nrs_post", "diary_pain"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("real_like"))


def _read(corpus, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return mo.read_redcap(corpus / "redcap_longitudinal_records.csv",
                              corpus / "redcap_longitudinal_dictionary.csv", mapping=MAPPING, **kw)


def test_every_outcome_cell_is_accounted_for(corpus):
    ds = _read(corpus)
    raw = pd.read_csv(corpus / "redcap_longitudinal_records.csv", dtype=str)
    cells = int(raw[OUTCOME_FIELDS].notna().to_numpy().sum())
    assert ds.source["rows_read"] == cells == ds.source["rows_kept"] + ds.source["rows_rejected"]
    assert ds.source["rows_rejected"] == 0 and len(ds.outcomes) == cells


def test_days_count_from_the_baseline_visit_not_from_birth(corpus):
    ds = _read(corpus)
    o = ds.outcomes
    assert set(o.loc[o["visit"] == "week_6", "day"]) == {42.0}
    assert set(o.loc[o["visit"] == "month_3", "day"]) == {91.0}
    assert o["day"].max() == 91.0 and o["day"].min() == 0.0
    # the independent read: subject 3's week-6 NDI is the cell on its week_6 row
    raw = pd.read_csv(corpus / "redcap_longitudinal_records.csv", dtype=str)
    cell = raw.loc[(raw["record_id"] == "3") & (raw["redcap_event_name"] == "week_6_arm_1"), "ndi_total"]
    got = o.loc[(o["subject"] == "3") & (o["visit"] == "week_6") & (o["instrument"] == "ndi"), "value"]
    assert got.tolist() == [float(cell.iloc[0])]


def test_identifiers_uploads_and_descriptive_fields_are_not_data(corpus):
    ds = _read(corpus)
    assert "dob" not in ds.subjects.columns and "consent_form" not in ds.subjects.columns
    assert {"dob", "consent_form"} <= set(ds.source["ignored_fields"])
    assert ds.subjects["sex"].tolist()[:2] == ["Male", "Female"]


def test_a_repeating_diary_is_measurements_not_sessions(corpus):
    ds = _read(corpus)
    o = ds.outcomes
    diary = o[o["visit"].astype(str).str.startswith("pain_diary")]
    assert len(diary) == 16 and diary["session"].isna().all()
    assert sorted(diary.loc[diary["subject"] == "1", "day"].tolist()) == [3.0, 6.0]
    assert len(ds.sessions) == 12  # 4 massage records x 3 sessions
    assert ds.sessions["technique"].astype(str).tolist()[:3] == ["swedish", "other", "swedish"]


def test_a_misplaced_field_alone_keeps_its_problem(corpus):
    raw = pd.read_csv(corpus / "redcap_longitudinal_records.csv", dtype=str, keep_default_na=False)
    only = raw[["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                "session_date", "technique___1", "technique___2", "technique___3"]].copy()
    only["pain_score"] = np.where(only["redcap_repeat_instrument"] == "massage_session", "5", "")
    with pytest.raises(DataValidationError, match="pain_score is on a session") as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mo.read_redcap(only, corpus / "redcap_longitudinal_dictionary.csv",
                           mapping={"instruments": {"pain_score": "pain_nrs"}})
    assert "no outcome fields" in str(info.value)


def test_number_comma_decimal_fields_are_numbers(corpus):
    ds = mo.read_redcap(corpus / "redcap_comma_records.csv", corpus / "redcap_comma_dictionary.csv")
    raw = pd.read_csv(corpus / "redcap_comma_records.csv", dtype=str, decimal=",")
    expected = raw["pain_vas"].str.replace(",", ".").astype(float).tolist()
    assert ds.outcomes["value"].tolist() == expected
    assert ds.subjects["hours_sleep"].tolist() == raw["hours_sleep"].str.replace(",", ".").astype(float).tolist()


def test_a_comma_in_a_number_field_names_the_redcap_fix(corpus):
    dic = pd.read_csv(corpus / "redcap_comma_dictionary.csv", dtype=str, keep_default_na=False)
    dic.loc[dic["Variable / Field Name"] == "pain_vas", "Text Validation Type OR Show Slider Number"] = "number"
    with pytest.raises(DataValidationError) as info:
        mo.read_redcap(corpus / "redcap_comma_records.csv", dic)
    assert "number_comma_decimal" in str(info.value) and "decimal=" not in str(info.value)

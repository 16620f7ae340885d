"""Issue 17 item 9: every rename and inference is recorded in ds.source, shown by ds.summary(), and errors name
the user's own columns."""

from __future__ import annotations

import pytest

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError

HEADER = "Participant,Treatment,Pain (0-10),Instrument,Day,Score\n"


def _write(tmp_path, body, header=HEADER, name="t.csv"):
    p = tmp_path / name
    p.write_text(header + body, encoding="utf-8")
    return p


def test_renames_are_recorded_and_summarised(tmp_path):
    p = _write(tmp_path, "1,therapeutic,3,pain_nrs,0,5\n2,relaxation,4,pain_nrs,0,6\n")
    ds = mo.read(p)
    assert ds.source["renamed"] == {"Participant": "subject", "Treatment": "arm", "Pain (0-10)": "pain_0_10",
                                    "Instrument": "instrument", "Day": "day", "Score": "value"}
    assert "column 'Treatment' read as 'arm'" in ds.source["assumed"]
    assert "column 'Pain (0-10)' read as 'pain_0_10'" in ds.source["assumed"]
    shown = repr(ds.summary())
    assert "'Treatment' -> arm" in shown and "'Pain (0-10)' -> pain_0_10" in shown
    assert "'Treatment' -> arm" in repr(ds)
    assert ds.summary().attrs["read_notes"][0].startswith("columns renamed:")


def test_canonical_file_has_no_renames(tmp_path):
    p = _write(tmp_path, "a,rmdq,0,3\n", header="subject,instrument,day,value\n")
    ds = mo.read(p)
    assert "renamed" not in ds.source and ds.summary().attrs["read_notes"] == []


def test_errors_name_the_users_columns(tmp_path):
    p = _write(tmp_path, "1,therapeutic,3,pain_nrs,0,5\n1,therapeutic,3,pain_nrs,28,14\n")
    with pytest.raises(DataValidationError) as info:
        mo.read(p)
    assert "column 'Score'" in str(info.value) and "column 'value'" not in str(info.value)
    assert info.value.report.to_frame()["column"].tolist() == ["Score"]


def test_columns_found_lists_the_users_names(tmp_path):
    p = _write(tmp_path, "1,therapeutic,3,pain_nrs,5\n", header="Participant,Treatment,Pain (0-10),Instrument,Score\n")
    with pytest.raises(DataValidationError) as info:
        mo.read(p)
    text = str(info.value)
    assert "Columns found: Participant, Treatment, Pain (0-10), Instrument, Score" in text
    assert "pain_0_10" not in text


def test_quarantine_keeps_the_users_names(tmp_path):
    p = _write(tmp_path, "1,therapeutic,3,pain_nrs,0,5\n1,therapeutic,3,pain_nrs,28,14\n")
    ds = mo.read(p, on_error="quarantine")
    assert {"Participant", "Treatment", "Score"} <= set(ds.rejected.columns)
    assert ds.source["report"].to_frame()["column"].tolist() == ["Score"]
    assert ds.source["rows_read"] == ds.source["rows_kept"] + ds.source["rows_rejected"] == 2


def test_a_mapping_then_an_alias_is_one_rename(tmp_path):
    p = _write(tmp_path, "a,T,rmdq,0,3\n", header="pid,Grp,instrument,day,value\n")
    ds = mo.read(p, mapping={"Grp": ("group", {"T": "therapeutic"})})
    assert ds.source["renamed"] == {"pid": "subject", "Grp": "arm"}


def test_the_wide_layout_is_an_inference_on_record(tmp_path):
    p = _write(tmp_path, "1,therapeutic,12,7\n", header="ID,Group,rmdq_baseline,rmdq_week10\n")
    ds = mo.read(p)
    note = [a for a in ds.source["assumed"] if a.startswith("wide layout")]
    assert note and "'rmdq_week10' -> rmdq at week10" in note[0]
    assert any("wide layout" in n for n in ds.summary().attrs["read_notes"])

"""mo.read: every format, the text quirks it copes with (and says it assumed), wide layouts, mappings, folders."""

from __future__ import annotations

import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from io_writers import FORMATS, write_table

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError, ReadAssumptionWarning

LONG = pd.DataFrame({
    "study": "T1", "subject": ["s1", "s1", "s1", "s1", "s2", "s2"],
    "arm": ["therapeutic"] * 4 + ["relaxation"] * 2, "condition": "low_back_pain",
    "age": [40.0] * 4 + [50.0] * 2, "sex": ["female"] * 4 + ["male"] * 2,
    "instrument": ["rmdq", "rmdq", "pain_nrs", "pain_nrs", "rmdq", "rmdq"],
    "visit": ["baseline", "week 10", None, None, "baseline", "week 10"], "day": [0, 70, 7, 7, 0, 70.0],
    "timing": ["baseline", "followup", "pre", "post", "baseline", "followup"],
    "session": [None, None, 1, 1, None, None], "technique": [None, None, "swedish", "swedish", None, None],
    "therapist": [None, None, "T1", "T1", None, None], "value": [12, 7, 6.5, 3, 14, 10.0]})


@pytest.fixture(scope="module")
def reference():
    return mo.Dataset.from_long(LONG)


def assert_same(ds, ref):
    for name in ("subjects", "sessions", "outcomes"):
        pd.testing.assert_frame_equal(getattr(ds, name), getattr(ref, name), obj=name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_canonical_long_file_loads_with_no_options(fmt, tmp_path, reference):
    path = write_table(fmt, LONG, tmp_path / f"trial.{fmt}")
    ds = mo.read(path)
    assert_same(ds, reference)
    assert ds.source["rows_read"] == len(LONG) == ds.source["rows_kept"]
    assert ds.source["format"] == fmt and ds.source["layout"] == "long"


def test_spss_value_labels_become_labels(tmp_path):
    import pyreadstat

    frame = LONG.assign(arm=[1, 1, 1, 1, 2, 2])
    path = tmp_path / "coded.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"arm": {1: "therapeutic", 2: "relaxation"}})
    ds = mo.read(path)
    assert ds.subjects["arm"].tolist() == ["therapeutic", "relaxation"]
    assert "arm" in ds.source["value_labels_applied"]


def test_utf8_bom_latin1_semicolon_decimal_comma(tmp_path):
    text = "subject;clinic;instrument;day;value\nA;Malmö;pain_nrs;0;6,5\nA;Malmö;pain_nrs;28;4,0\n"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "latin.csv").write_bytes(text.encode("latin-1"))
    for name, encoding in (("bom.csv", "utf-8-sig"), ("latin.csv", "cp1252")):
        with pytest.warns(ReadAssumptionWarning):
            ds = mo.read(tmp_path / name)
        assert ds.source["encoding"] == encoding
        assert ds.source["delimiter"] == ";" and ds.source["decimal"] == ","
        assert ds.outcomes["value"].tolist() == [6.5, 4.0]
        assert ds.subjects["clinic"].tolist() == ["Malmö"]
        assert any("decimal comma" in a for a in ds.source["assumed"])


def test_tab_and_pipe_delimiters(tmp_path):
    for delim in ("\t", "|"):
        p = tmp_path / "x.txt"
        p.write_text(delim.join(["subject", "instrument", "day", "value"]) + "\n" +
                     delim.join(["a", "rmdq", "0", "4"]) + "\n", encoding="utf-8")
        ds = mo.read(p)
        assert ds.source["delimiter"] == delim and len(ds.outcomes) == 1


def test_row_numbers_stay_exact_with_blank_lines_and_quoted_newlines(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text('subject,instrument,day,value,note\n'
                 'a,rmdq,0,4,"two\nlines"\n'          # record on lines 2-3
                 '\n'                                  # blank line 4
                 'b,rmdq,70,99,plain\n', encoding="utf-8")  # line 5: out of range
    with pytest.raises(DataValidationError) as info, pytest.warns(ReadAssumptionWarning, match="1 blank line"):
        mo.read(p)
    (problem,) = info.value.report.problems
    assert problem.row == 5 and problem.column == "value"
    with pytest.warns(ReadAssumptionWarning, match="1 blank line"):
        ds = mo.read(p, on_error="quarantine")
    assert ds.source["engine"] == "python-csv"
    assert ds.source["blank_lines_skipped"] == 1
    assert ds.subjects["note"].tolist() == ["two\nlines"]


def test_fast_path_row_numbers(tmp_path):
    rows = ["subject,instrument,day,value"] + [f"s{i},pain_nrs,0,{i % 11}" for i in range(500)]
    rows[301] = "s300,pain_nrs,0,12"  # file line 302
    p = tmp_path / "big.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ds = mo.read(p, on_error="quarantine")
    assert ds.source["engine"] == "pyarrow"
    assert ds.rejected["row"].tolist() == [302]


def test_column_that_turns_to_text_late_falls_back_and_is_reported(tmp_path):
    rows = ["subject,instrument,day,value"] + [f"s{i},pain_nrs,0,5" for i in range(20000)]
    rows.append("late,pain_nrs,0,seven")
    p = tmp_path / "late.csv"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ds = mo.read(p, on_error="quarantine")
    assert ds.rejected["row"].tolist() == [20002]
    assert ds.source["rows_read"] == 20001 == ds.source["rows_kept"] + ds.source["rows_rejected"]


def test_mapping_renames_and_recodes(tmp_path):
    p = tmp_path / "theirs.csv"
    p.write_text("PatientID,Group,Measure,Days,Score,Tech\n"
                 "1,A,RMDQ,0,12,DT\n1,A,RMDQ,70,8,DT\n2,B,RMDQ,0,10,SW\n", encoding="utf-8")
    ds = mo.read(p, mapping={"PatientID": "subject", "Group": ("arm", {"A": "therapeutic", "B": "relaxation"}),
                             "Tech": ("technique", {"DT": "deep_tissue", "SW": "swedish"})})
    assert ds.subjects["subject"].tolist() == ["1", "2"]
    assert ds.subjects["arm"].tolist() == ["therapeutic", "relaxation"]
    assert ds.subjects["technique"].astype(str).tolist() == ["deep_tissue", "swedish"]
    assert ds.subjects["intent"].astype(str).tolist() == ["therapeutic", "relaxation"]
    with pytest.raises(DataValidationError, match="not in the data"):
        mo.read(p, mapping={"nope": {"a": "b"}})


def test_wide_per_visit_auto(tmp_path):
    p = tmp_path / "wide.csv"
    p.write_text("subject,arm,RMDQ_Baseline,RMDQ_Week10,pain_nrs_baseline\n"
                 "s1,therapeutic,12,7,6\ns2,relaxation,14,,5\n", encoding="utf-8")
    ds = mo.read(p)
    assert ds.source["layout"] == "wide" and ds.source["empty_cells"] == 1
    assert ds.source["rows_read"] == 5
    rmdq = ds.analysis_frame("rmdq")
    assert rmdq["visit"].astype(str).tolist() == ["baseline", "week10", "baseline"]
    assert rmdq["day"].tolist() == [0, 70, 0]
    assert rmdq["improvement"].tolist() == [0, 5, 0]


def test_wide_pre_post_and_explicit_mapping(tmp_path):
    p = tmp_path / "prepost.csv"
    p.write_text("subject,pain_nrs_pre_1,pain_nrs_post_1,pain_nrs_pre_2,pain_nrs_post_2,day_1,day_2\n"
                 "a,6,3,5,2,7,14\n", encoding="utf-8")
    ds = mo.read(p, wide="{instrument}_{timing}_{session}")
    assert ds.sessions["day"].tolist() == [7, 14]
    o = ds.outcomes
    assert o["timing"].astype(str).tolist() == ["pre", "post", "pre", "post"]
    assert o["session"].tolist() == [1, 1, 2, 2]
    assert len(ds.sessions) == 2
    # explicit tuples: (instrument, visit, timing, day, session)
    q = tmp_path / "explicit.csv"
    q.write_text("id,bl,fu\nx,10,6\n", encoding="utf-8")
    ds = mo.read(q, wide={"bl": ("rmdq", "baseline", "baseline", 0), "fu": ("rmdq", "week 26", "followup", 182)},
                 mapping={"id": "subject"})
    assert ds.outcomes["day"].tolist() == [0, 182] and ds.outcomes["value"].tolist() == [10, 6]
    with pytest.raises(DataValidationError, match="not in the file"):
        mo.read(q, wide={"bll": ("rmdq", "baseline", "baseline")}, mapping={"id": "subject"})


def test_wide_excel_workbook_with_formulas_read_as_values(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["subject", "rmdq_baseline", "rmdq_week10"])
    ws.append(["s1", 12, "=B2-5"])
    wb.save(tmp_path / "f.xlsx")
    # openpyxl does not compute formulas; an unsaved-by-Excel formula has no cached value: an empty cell
    ds = mo.read(tmp_path / "f.xlsx")
    assert ds.outcomes["value"].tolist() == [12]
    assert ds.source["empty_cells"] == 1
    # with a cached value (as Excel writes it) the value is read, never evaluated by us
    _set_cached_value(tmp_path / "f.xlsx", "C2", "7")
    ds = mo.read(tmp_path / "f.xlsx")
    assert ds.outcomes["value"].tolist() == [12, 7]


def _set_cached_value(path, cell, value):
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    xml = items[sheet].decode()
    xml = xml.replace(f'<c r="{cell}"><f>B2-5</f><v></v></c>', f'<c r="{cell}"><f>B2-5</f><v>{value}</v></c>')
    for empty in ("<v/>", "<v />"):
        xml = xml.replace(f'<c r="{cell}"><f>B2-5</f>{empty}</c>', f'<c r="{cell}"><f>B2-5</f><v>{value}</v></c>')
    items[sheet] = xml.encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, b in items.items():
            z.writestr(n, b)


def test_excel_sheet_choice_and_sheet_rows(tmp_path):
    with pd.ExcelWriter(tmp_path / "two.xlsx") as xw:
        pd.DataFrame({"x": [1]}).to_excel(xw, sheet_name="notes", index=False)
        LONG.assign(value=[12, 7, 6.5, 3, 14, 30]).to_excel(xw, sheet_name="data", index=False)
    with pytest.raises(DataValidationError) as info:
        mo.read(tmp_path / "two.xlsx", sheet="data")
    assert [(p.row, p.column) for p in info.value.report.problems] == [(7, "value")]
    with pytest.raises(DataValidationError, match="Did you mean 'data'"):
        mo.read(tmp_path / "two.xlsx", sheet="dta")


def test_folder_of_tables(tmp_path, reference):
    for name in ("subjects", "sessions", "outcomes"):
        getattr(reference, name).to_csv(tmp_path / f"{name}.csv", index=False)
    ds = mo.read(tmp_path)
    assert_same(ds, reference)
    assert ds.source["format"] == "folder"


def test_folder_missing_table(tmp_path):
    (tmp_path / "outcomes.csv").write_text("subject,instrument,day,value\na,rmdq,0,3\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="no subjects table"):
        mo.read(tmp_path)


def test_bad_arguments(tmp_path):
    p = write_table("csv", LONG, tmp_path / "t.csv")
    with pytest.raises(ValueError, match="on_error"):
        mo.read(p, on_error="ignore")
    with pytest.raises(ValueError, match="layout"):
        mo.read(p, layout="tall")
    with pytest.raises(FileNotFoundError):
        mo.read(tmp_path / "nope.csv")


def test_readers_never_unpickle(tmp_path):
    # a pickle disguised as parquet is not executed: it is an unreadable file
    import pickle

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))

    p = tmp_path / "evil.parquet"
    p.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(DataValidationError, match="cannot be read"):
        mo.read(p)
    q = tmp_path / "evil.csv"
    q.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(DataValidationError):
        mo.read(q)


def test_lazy_io_entry_points():
    from massage_outcomes import io

    assert callable(io.read) and callable(io.read_redcap) and callable(io.read_adam) and callable(io.load_sample)


def test_assumptions_are_logged(tmp_path, caplog):
    p = tmp_path / "semi.csv"
    p.write_text("subject;instrument;day;value\na;rmdq;0;3\n", encoding="utf-8")
    with caplog.at_level("INFO", logger="massage_outcomes.io"), warnings.catch_warnings():
        warnings.simplefilter("error")  # a sniffed delimiter alone is logged, not warned
        ds = mo.read(p)
    assert "delimiter ';'" in caplog.text
    assert ds.source["assumed"] == ["delimiter ';' (sniffed)"]


def test_numeric_subject_ids_are_text(tmp_path):
    # a CSV keeps identifiers as written (leading zeros too); a typed file's whole floats lose their ".0"
    p = tmp_path / "ids.csv"
    p.write_text("subject,instrument,day,value\n007,rmdq,0,3\n7,rmdq,0,2\n", encoding="utf-8")
    assert mo.read(p).subjects["subject"].tolist() == ["007", "7"]
    q = tmp_path / "ids.parquet"
    pd.DataFrame({"subject": [7.0, 7.0], "instrument": "rmdq", "day": [0, 70], "value": [3, 2]}).to_parquet(q)
    ds = mo.read(q)
    assert ds.subjects["subject"].tolist() == ["7"]
    assert np.array_equal(ds.outcomes["value"].to_numpy(), [3.0, 2.0])


def test_blank_lines_are_counted_and_delimiter_only_lines_rejected(tmp_path):
    p = tmp_path / "gaps.csv"
    p.write_text("subject,instrument,day,value\n"
                 "a,rmdq,0,4\n"
                 "\n"                  # line 3: blank, skipped but counted
                 ",,,\n"               # line 4: delimiters only, a row with no values
                 "b,rmdq,0,5\n\n", encoding="utf-8")
    with pytest.warns(ReadAssumptionWarning, match="2 blank lines"):
        ds = mo.read(p, on_error="quarantine")
    assert ds.source["blank_lines_skipped"] == 2
    assert any("2 blank lines" in a for a in ds.source["assumed"])
    assert ds.rejected["row"].tolist() == [4]
    assert ds.rejected["reason"].str.contains("empty_row").all()
    assert ds.source["rows_read"] == 3 == ds.source["rows_kept"] + ds.source["rows_rejected"]

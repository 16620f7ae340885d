"""Hostile and malformed files (issue 18): bounded resources, no silent change of a number, every fault located.

Each test builds its own small file (a bomb is a few KB compressed) so the fixes are general, not tuned to one
corpus; ``tests/data/hostile/`` holds the fuzzer's regression files.
"""

from __future__ import annotations

import time
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.errors import DataValidationError
from massage_outcomes.io import limits

SAMPLE_XLSX = Path(mo.__file__).parent / "_sample" / "trial" / "wide" / "trial_wide.xlsx"
HEADER = "subject,arm,instrument,visit,day,value\n"


def _read(path: Path, **kw: object) -> mo.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mo.read(path, **kw)  # type: ignore[arg-type]


def _problems(err: pytest.ExceptionInfo[DataValidationError]) -> pd.DataFrame:
    return err.value.report.to_frame()


# ----------------------------------------------------------------------------------------------------------------
# 1. bounded resources before parsing
# ----------------------------------------------------------------------------------------------------------------
def _bomb(path: Path, *, padding: int) -> Path:
    """The sample workbook with ``padding`` bytes of whitespace after its sheet's XML (a few KB compressed)."""
    src = zipfile.ZipFile(SAMPLE_XLSX)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data = data + b" " * padding
            out.writestr(info.filename, data)
    return path


def test_zip_bomb_refused_from_the_central_directory(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.xlsx", padding=12 << 20)
    assert bomb.stat().st_size < 100_000
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError) as err:
        _read(bomb)
    assert time.perf_counter() - t0 < 2
    frame = _problems(err)
    assert frame["rule"].tolist() == ["limit_exceeded"]
    msg = str(err.value)
    assert "max_ratio=100" in msg and "limits.raised(max_ratio=" in msg and "bomb.xlsx" in msg


def test_raised_limits_let_a_trusted_file_through_and_max_bytes_is_checked(tmp_path: Path) -> None:
    with limits.raised(max_bytes=50_000), pytest.raises(DataValidationError, match=r"max_bytes=50000"):
        _read(SAMPLE_XLSX)
    ds = _read(SAMPLE_XLSX)  # the default limits read the sample
    with limits.raised(max_ratio=100_000):
        padded = _read(_bomb(tmp_path / "trusted.xlsx", padding=9 << 20))
    assert len(padded.outcomes) == len(ds.outcomes)


def test_many_entries_refused(tmp_path: Path) -> None:
    path = tmp_path / "entries.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(30):
            zf.writestr(f"x/{i}.xml", b"<a/>")
    with limits.raised(max_entries=20), pytest.raises(DataValidationError, match="max_entries=20"):
        _read(path)


def test_parquet_and_stat_headers_checked_before_reading(tmp_path: Path) -> None:
    frame = pd.DataFrame({"subject": ["1", "1"], "instrument": ["pain_nrs"] * 2, "day": [0.0, 28.0],
                          "value": [5.0, 4.0]})
    pq, dta = tmp_path / "t.parquet", tmp_path / "t.dta"
    frame.to_parquet(pq)
    frame.to_stata(dta, write_index=False)
    for path in (pq, dta):
        assert len(_read(path).outcomes) == 2
        with limits.raised(max_cells=4), pytest.raises(DataValidationError, match="max_cells=4") as err:
            _read(path)
        assert "8 cells" in str(err.value)


def test_unknown_or_non_positive_limit_is_an_argument_error() -> None:
    with pytest.raises(mo.errors.ArgumentError, match="max_bytes"), limits.raised(max_byte=1):
        pass
    with pytest.raises(mo.errors.ArgumentError, match="positive"), limits.raised(max_bytes=0):
        pass
    assert limits.current() == limits.Limits()


# ----------------------------------------------------------------------------------------------------------------
# 2. no silent change of a number: the fast reader and the exact reader accept the same spellings
# ----------------------------------------------------------------------------------------------------------------
def _both_readers(path: Path, **kw: object) -> list[tuple[str, object]]:
    """(engine, outcome) for the fast and the exact reader: the values kept, or the (row, column, rule) refused."""
    from massage_outcomes.io._csv import read_text_table
    from massage_outcomes.io._read import table_to_dataset

    out: list[tuple[str, object]] = []
    for exact in (False, True):
        table = read_text_table(path, exact=exact, **kw)  # type: ignore[arg-type]
        engine = str(table.info["engine"])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = table_to_dataset(table, mapping=None, layout="auto", wide=None, on_error="raise", study=None,
                                      covariates=None, name=path.name)
            out.append((engine, ("kept", ds.outcomes["value"].tolist(), ds.subjects["age"].tolist())))
        except DataValidationError as err:
            f = err.value if False else err.report.to_frame()
            out.append((engine, ("refused", sorted(zip(f["row"], f["column"], f["rule"], strict=True)))))
    return out


SPELLINGS = [  # (cell as written, decimal mark of the file, the number a reader sees or None: refused)
    ("5", ".", 5.0), ("05", ".", 5.0), ("+5", ".", 5.0), ("5.", ".", 5.0), (".5", ".", 0.5), ("5e0", ".", 5.0),
    ("1E+0", ".", 1.0), ("-0", ".", 0.0), ("0x5", ".", None), ("0X5", ".", None), ("1e-400", ".", None),
    ("5e-320", ".", None), ("1e-100", ".", 1e-100), ("0e-400", ".", 0.0), ("1_0", ".", None), ("5%", ".", None),
    ("１", ".", None), ("٥", ".", None), ("1,000", ".", None), ("1 000", ".", None), ("0b1", ".", None),
    ("3,5", ",", 3.5), ("1.000", ",", None), ("1.000,5", ",", None), ("0x5", ",", None), ("1e-400", ",", None),
]


@pytest.mark.parametrize(("cell", "decimal", "number"), SPELLINGS)
def test_number_spelling_read_alike_by_both_readers(tmp_path: Path, cell: str, decimal: str,
                                                    number: float | None) -> None:
    d = ";" if decimal == "," else ","
    path = tmp_path / "n.csv"
    rows = [["subject", "age", "instrument", "day", "value"], ["1", "40", "rmdq", "0", cell],
            ["1", "40", "rmdq", "28", "4"], ["2", cell, "rmdq", "0", "3"]]
    path.write_text("\n".join(d.join(f'"{c}"' if d in c else c for c in r) for r in rows) + "\n", encoding="utf-8")
    (fast_engine, fast), (exact_engine, exact) = _both_readers(path, decimal=decimal)
    assert exact_engine == "python-csv"
    assert fast == exact, (fast_engine, fast, exact)
    if number is None:
        assert exact[0] == "refused"
        assert (2, "value", "not_a_number") in exact[1]  # type: ignore[operator]
    else:
        assert exact == ("kept", [number, 4.0, 3.0], [40.0, number]), exact


def test_hex_and_underflow_messages_say_what_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "hex.csv"
    path.write_text(HEADER + "1,a,pain_nrs,baseline,0,0x5\n1,a,pain_nrs,w4,28,1e-400\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _read(path)
    messages = _problems(err)["message"].tolist()
    assert "hexadecimal" in messages[0] and "read as 0" in messages[1]


# ----------------------------------------------------------------------------------------------------------------
# 5. Excel's habits
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hint", ["sep=;", '"sep=;"', "\ufeffsep=;"])
def test_excel_sep_line_is_the_delimiter_not_the_header(tmp_path: Path, hint: str) -> None:
    path = tmp_path / "excel.csv"
    body = HEADER.replace(",", ";") + "1;a;pain_nrs;baseline;0;5,5\n1;a;pain_nrs;w4;28;x\n"
    path.write_text(hint + "\r\n" + body, encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _read(path)
    assert _problems(err)[["row", "column"]].values.tolist() == [[4, "value"]]  # the file's own line number
    ds = _read(path, on_error="quarantine")
    assert ds.source["delimiter"] == ";" and ds.outcomes["value"].tolist() == [5.5]
    assert any("delimiter hint" in a for a in ds.source["assumed"])


# ----------------------------------------------------------------------------------------------------------------
# 7. Unicode: vocabulary terms and headers compared after NFKC folding
# ----------------------------------------------------------------------------------------------------------------
def test_full_width_terms_and_headers_are_folded(tmp_path: Path) -> None:
    path = tmp_path / "fw.csv"
    path.write_text("ｓｕｂｊｅｃｔ,ａｒｍ,ｉｎｓｔｒｕｍｅｎｔ,ｃｏｎｄｉｔｉｏｎ,ｔｅｃｈｎｉｑｕｅ,ｄａｙ,ｖａｌｕｅ\n"
                    "1,a,ＰＡＩＮ＿ＮＲＳ,ＬＢＰ,Ｄｅｅｐ\u3000ｔｉｓｓｕｅ,0,5\n"
                    "1,a,pain_nrs,ＬＢＰ,Ｄｅｅｐ\u3000ｔｉｓｓｕｅ,28,4\n", encoding="utf-8")
    ds = _read(path)
    assert ds.subjects["condition"].tolist() == ["low_back_pain"]
    assert set(ds.analysis_frame("pain_nrs")["technique"].astype(str)) == {"deep_tissue"}
    assert ds.outcomes["instrument"].astype(str).tolist() == ["pain_nrs", "pain_nrs"]


# ----------------------------------------------------------------------------------------------------------------
# 3. missing-value codes: dashes are missing like NA; a study's sentinels are declared in the mapping (plan)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dash", ["-", "\u2013", "\u2014", " - "])
def test_dashes_are_missing_in_value_and_day(tmp_path: Path, dash: str) -> None:
    path = tmp_path / "dash.csv"
    path.write_text(HEADER + f"1,a,pain_nrs,baseline,{dash},5\n1,a,pain_nrs,week 4,28,{dash}\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _read(path)
    assert _problems(err)[["row", "column", "rule"]].values.tolist() == [[3, "value", "missing_value"]]
    ds = _read(path, on_error="quarantine")
    assert ds.outcomes["day"].tolist() == [0.0]  # the dash day is missing, so the visit label gives day 0


def test_wide_dash_cells_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("subject,arm,rmdq_baseline,rmdq_week_4\n1,a,12,\u2013\n2,a,-,7\n", encoding="utf-8")
    ds = _read(path)
    assert sorted(ds.outcomes["value"].tolist()) == [7.0, 12.0]


def test_sentinel_codes_are_errors_unless_declared_missing(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.csv"
    path.write_text(HEADER + "1,a,pain_nrs,baseline,0,-9\n1,a,pain_nrs,week 4,28,4\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _read(path)
    assert _problems(err)["rule"].tolist() == ["out_of_range"]
    ds = _read(path, mapping={"value": {"-9": None}}, on_error="quarantine")
    assert ds.rejected["reason"].str.startswith("missing_value").all() and ds.outcomes["value"].tolist() == [4.0]


# ----------------------------------------------------------------------------------------------------------------
# 4. every fault located: a NUL byte in one cell, a NUL-padded tail
# ----------------------------------------------------------------------------------------------------------------
def _rows(n: int) -> str:
    return "".join(f"{i},a,pain_nrs,week {i % 50},{7 * (i % 50)},{i % 10}\n" for i in range(1, n + 1))


@pytest.mark.parametrize("late", [False, True])
def test_a_nul_byte_is_located_in_its_cell(tmp_path: Path, late: bool) -> None:
    path = tmp_path / "nul.csv"
    n = 3000 if late else 3  # late: past the 64 KB the encoding sniffer reads
    body = _rows(n).splitlines(keepends=True)
    body[n - 2] = body[n - 2].replace("a,", "a\x00,", 1)
    path.write_bytes((HEADER + "".join(body)).encode())
    with pytest.raises(DataValidationError) as err:
        _read(path)
    frame = _problems(err)
    assert frame[["row", "column", "rule"]].values.tolist()[0] == [n, "arm", "nul_byte"]
    ds = _read(path, on_error="quarantine")
    assert ds.source["rows_kept"] == n - 1 and ds.source["rows_rejected"] == 1


@pytest.mark.parametrize("partial", ["", "1,a,pain_n"])
def test_a_nul_padded_tail_is_reported_as_such_and_the_intact_rows_kept(tmp_path: Path, partial: str) -> None:
    path = tmp_path / "crash.csv"
    path.write_bytes((HEADER + _rows(3) + partial).encode() + b"\x00" * 4096)
    with pytest.raises(DataValidationError) as err:
        _read(path)
    frame = _problems(err)
    assert frame.iloc[0][["row", "rule"]].tolist() == [5, "nul_padding"]
    assert "cut off while being written" in frame.iloc[0]["message"]
    ds = _read(path, on_error="quarantine")
    assert ds.outcomes["value"].tolist() == [1.0, 2.0, 3.0]
    assert ds.source["rows_read"] == ds.source["rows_kept"] + ds.source["rows_rejected"]


def test_a_binary_file_named_csv_is_still_refused_as_binary(tmp_path: Path) -> None:
    path = tmp_path / "spss.csv"
    path.write_bytes(b"$FL2@(#) SPSS DATA FILE" + bytes(range(256)) * 40 + b"\x00" * 64)
    with pytest.raises(DataValidationError, match="binary"):
        _read(path)


# ----------------------------------------------------------------------------------------------------------------
# 9. outputs: text from the data is escaped in every format
# ----------------------------------------------------------------------------------------------------------------
HOSTILE_LABEL = "<img src=x onerror=alert(1)> *bold* [link](javascript:alert(1)) `code` $5 co-pay$ a|b &lt;b&gt;"


def test_markdown_tables_escape_data_text() -> None:
    from massage_outcomes import tables

    md = tables.to_markdown(pd.DataFrame({"arm": [HOSTILE_LABEL], "estimate": [-0.5]}), caption="arms *x*")
    import re

    for raw in ("<img", "*bold*", "[link]", "`code`", "|b", "&lt;", "*x*"):
        assert re.search(r"(?<!\\)" + re.escape(raw), md) is None, raw
    assert r"\<img" in md and r"\*bold\*" in md and r"\[link\]" in md and "-0.500" in md


def test_plots_draw_data_labels_literally() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from massage_outcomes import plot

    effects = pd.DataFrame({"label": [HOSTILE_LABEL, "$x^2$"], "estimate": [0.3, -0.2], "ci_low": [0.1, -0.5],
                            "ci_high": [0.5, 0.1]})
    ax = plot.forest(effects, label="label")
    ax.figure.canvas.draw()  # a "$" would start mathtext: the draw fails or shows a formula
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert any(r"\$5 co-pay\$" in t for t in shown) and r"\$x^2\$" in shown
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


DATA_ROWS: list[list[object]] = [["subject", "arm", "instrument", "day", "value"], [1, "a", "pain_nrs", 0, 6],
                                 [1, "a", "pain_nrs", 28, 3]]


def test_the_data_sheet_is_found_behind_empty_and_notes_sheets(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "book.xlsx", {"Cover": [], "Notes": [["Exported by the clinic", "2024"]],
                                               "Data": DATA_ROWS})
    with pytest.warns(mo.errors.ReadAssumptionWarning, match="sheet 'Data' read .*'Notes' \\(Exported"):
        ds = mo.read(path)
    assert ds.source["sheet"] == "Data" and ds.outcomes["value"].tolist() == [6.0, 3.0]
    assert "sheet='<name>'" in " ".join(ds.source["assumed"])
    with pytest.raises(DataValidationError, match="no data rows"):
        _read(path, sheet="Notes")


def test_without_a_subject_column_the_first_filled_sheet_is_read_and_named(tmp_path: Path) -> None:
    rows = [["Code", "instrument", "day", "value"], [1, "pain_nrs", 0, 6]]
    path = _workbook(tmp_path / "book.xlsx", {"Empty": [], "Export": rows})
    with pytest.warns(mo.errors.ReadAssumptionWarning, match="sheet 'Export' read \\(the first sheet that is not"):
        ds = mo.read(path, mapping={"Code": "subject"})
    assert ds.outcomes["value"].tolist() == [6.0]


# ----------------------------------------------------------------------------------------------------------------
# 6. day and timing logic
# ----------------------------------------------------------------------------------------------------------------
def test_a_fractional_day_is_refused_unless_days_are_continuous(tmp_path: Path) -> None:
    from massage_outcomes.validation import continuous_days

    path = tmp_path / "frac.csv"
    path.write_text(HEADER + "1,a,pain_nrs,baseline,0,5\n1,a,pain_nrs,week 4,28.5,4\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _read(path)
    assert _problems(err)[["row", "column", "rule"]].values.tolist() == [[3, "day", "fractional_day"]]
    assert "continuous_days()" in str(err.value)
    with continuous_days():
        assert _read(path).outcomes["day"].tolist() == [0.0, 28.5]


def test_a_baseline_after_the_follow_ups_is_refused_naming_both_rows(tmp_path: Path) -> None:
    path = tmp_path / "order.csv"
    path.write_text("subject,arm,instrument,timing,date,value\n"
                    "1,a,pain_nrs,followup,2024-02-01,4\n1,a,pain_nrs,baseline,2024-03-01,6\n"
                    "2,a,pain_nrs,baseline,2024-01-01,6\n2,a,pain_nrs,followup,2024-02-01,3\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        _read(path)
    frame = _problems(err)
    bad = frame[frame["rule"] == "baseline_after_followup"]
    assert bad[["row", "column"]].values.tolist() == [[3, "date"]]
    assert "row 2" in bad["message"].iloc[0] and "2024-02-01" in bad["message"].iloc[0]
    stated = tmp_path / "stated.csv"
    stated.write_text("subject,arm,instrument,timing,day,value\n1,a,pain_nrs,followup,14,4\n"
                      "1,a,pain_nrs,baseline,30,6\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="baseline .day 30. is after this subject's follow-up at row 2"):
        _read(stated)


@pytest.mark.parametrize("text, expected", [
    ("value\n1e-400\n", True), ("value\n1E-400\n", True), ("value\n-400\n", False), ("value\n2e-12\n", False),
    ("e-100", True),
    ("value\n" + "-100\n" * 20_000 + "3e-999\n", True),  # many '-ddd' first: the two exponent scans decide
    ("value\n" + "-100\n" * 20_000, False),
])
def test_underflow_scan_finds_long_negative_exponents_only(tmp_path, text, expected):
    from massage_outcomes.io._numbers import may_underflow

    path = tmp_path / "x.csv"
    path.write_text(text)
    assert may_underflow(path) is expected

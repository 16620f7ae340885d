"""Validation on a scan gives the pandas path's report on every long file of tests/data/bad/, and accounts for
every row."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io.sample import sample_path
from massage_outcomes.scale import scan

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
LONG_CSV = sorted(p for p in BAD.glob("*.csv") if not p.name.startswith("wide_"))
#: files whose lines DuckDB's CSV reader cannot split as the user sees them (checked by the exact line reader)
EXACT = {"blank_lines_only.csv", "delimiters_only_row.csv", "empty.csv", "ragged_row.csv", "unclosed_quote.csv",
         "wrong_delimiter_colon.csv", "binary_junk.csv", "binary_junk_no_nul.csv", "mixed_encoding.csv",
         "header_only.csv"}


def _key(report: mo.ValidationReport) -> list[str]:
    t = report.to_frame()
    return sorted(map(str, zip(t["row"].astype(str), t["column"].astype(str), t["rule"], t["message"], strict=True)))


@pytest.mark.parametrize("path", LONG_CSV, ids=lambda p: p.name)
def test_scan_report_equals_pandas_report(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = mo.validate(path)
        sc = scan(path)
        got = sc.validate()
    assert _key(got) == _key(want)
    assert not got.ok
    if path.name not in EXACT:  # the engine path: whole-subject partitions, rows numbered by the engine
        assert sc.checked_by == "engine partitions"
        assert sc.rows["rows_read"] == sc.rows["rows_kept"] + sc.rows["rows_rejected"]
        assert sc.rows["rows_rejected"] >= len(got.rows)


def test_partitions_do_not_change_the_report(tmp_path):
    frame = pd.read_csv(sample_path("trial"), dtype=str)
    frame.loc[[5, 700, 2900], "value"] = ["99", "x", "-3"]
    frame.loc[1200, "arm"] = "relaxation" if frame.loc[1200, "arm"] != "relaxation" else "therapeutic"
    frame.to_csv(tmp_path / "t.csv", index=False)
    want = mo.validate(tmp_path / "t.csv")
    one, many = scan(tmp_path / "t.csv"), scan(tmp_path / "t.csv")
    assert _key(one.validate()) == _key(want)
    assert _key(many.validate(chunk_rows=300)) == _key(want)  # 12 partitions of whole subjects
    assert many.rows == one.rows


def _with_blank_lines(tmp_path, *, quote: bool, newline: str) -> Path:
    """The trial sample's first 400 rows with empty lines between them and bad values after them."""
    lines = Path(sample_path("trial")).read_text().splitlines()[:401]
    for i in (40, 210, 333):  # out-of-range values after the empty lines
        parts = lines[i].split(",")
        parts[-1] = "99"
        lines[i] = ",".join(parts)
    if quote:
        lines[50] = lines[50].replace("SIM-TRIAL", '"SIM-TRIAL"', 1)
    out = [*lines[:30], "", "", *lines[30:200], "", *lines[200:300], "", *lines[300:], "", ""]
    path = tmp_path / ("quoted.csv" if quote else "blank.csv")
    path.write_bytes(newline.join(out).encode())
    return path


@pytest.mark.parametrize(("quote", "newline"), [(False, "\n"), (False, "\r\n"), (True, "\n")],
                         ids=["engine-lf", "engine-crlf", "quoted-exact"])
def test_empty_lines_keep_the_users_line_numbers(tmp_path, quote, newline):
    """DuckDB skips empty lines; the scan's report still names the file's lines, as the pandas path does (with a
    quote in the file an empty line might sit inside a quoted value: the exact reader checks it)."""
    path = _with_blank_lines(tmp_path, quote=quote, newline=newline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = mo.validate(path)
        sc = scan(path)
        got = sc.validate(chunk_rows=150)
    assert _key(got) == _key(want)
    assert sorted(want.to_frame()["row"].dropna().astype(int).unique().tolist()) == [43, 214, 338]
    assert sc.checked_by == ("exact line reader" if quote else "engine partitions")
    assert sc.rows["rows_read"] == 400


def test_quarantine_writes_rejected_rows_and_analyses_the_rest(tmp_path):
    frame = pd.read_csv(sample_path("trial"), dtype=str)
    frame.loc[[5, 700], "value"] = ["99", "-3"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    sc = scan(tmp_path / "t.csv")
    report = sc.validate(on_error="quarantine", quarantine=tmp_path / "rejected.parquet")
    rejected = pd.read_parquet(tmp_path / "rejected.parquet")
    assert sorted(rejected["row"].tolist()) == report.rows == [7, 702]
    assert sc.rows == {"rows_read": 3374, "rows_rejected": 2, "rows_kept": 3372}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = mo.read(tmp_path / "t.csv", on_error="quarantine")
    kw = dict(instrument="pain_nrs", compare=("arm", "therapeutic", "usual_care"), end="week_10")
    got, want = sc.effect_sizes(**kw).full, mo.effect_sizes(ds, **kw).full
    assert got["n_1"].tolist() == want["n_1"].tolist()
    assert abs(float(got["estimate"].iloc[0]) - float(want["estimate"].iloc[0])) < 1e-10


def test_raise_and_wide_refusal(tmp_path):
    with pytest.raises(mo.DataValidationError, match="outside its range"):
        scan(BAD / "out_of_range.csv").validate(on_error="raise")
    with pytest.raises(mo.DataValidationError, match="looks like a wide file"):
        scan(BAD / "wide_fraction.csv").validate()
    with pytest.raises(mo.DataValidationError, match="pass quarantine="):
        scan(BAD / "out_of_range.csv").validate(on_error="quarantine")

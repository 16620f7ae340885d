"""The CSV fast path reads big files as byte ranges in parallel: the result must be the one-stream result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io import _csv

COLUMNS = ["study", "subject", "arm", "condition", "clinic", "age", "sex", "session", "technique", "intent",
           "therapist", "duration_min", "instrument", "visit", "day", "timing", "value"]


@pytest.fixture(scope="module")
def long_text():
    ds = mo.simulate_clinic(n_subjects=400, seed=3)
    long = pd.concat([ds.analysis_frame(i) for i in ds.instruments], ignore_index=True)
    long = long[[c for c in COLUMNS if c in long.columns]]
    return long.to_csv(index=False)


@pytest.fixture
def ranges(monkeypatch):
    """Force 3 ranges on small files and count the ranges opened."""
    opened = []

    class Spy(_csv._ByteRange):
        def __init__(self, path, start, stop):
            opened.append((start, stop))
            super().__init__(path, start, stop)

    monkeypatch.setattr(_csv, "_ByteRange", Spy)
    monkeypatch.setattr(_csv, "PARALLEL_MIN_BYTES", 1024)
    monkeypatch.setattr(_csv, "READ_THREADS", 3)
    return opened


def read_both(path, monkeypatch, opened, **kw):
    parallel = mo.read(path, **kw)
    used = list(opened)
    monkeypatch.setattr(_csv, "READ_THREADS", 1)
    single = mo.read(path, **kw)
    return parallel, single, used


def assert_same(a, b):
    for name in ("subjects", "sessions", "outcomes", "rejected"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    for key in ("rows_read", "rows_kept", "rows_rejected", "engine", "file_rows"):
        assert a.source[key] == b.source[key], key


def test_ranges_cut_at_line_starts_and_cover_the_file(tmp_path, long_text):
    p = tmp_path / "long.csv"
    p.write_text(long_text, encoding="utf-8")
    size = p.stat().st_size
    cuts = _csv._line_starts(p, size, 4)
    assert cuts[0] == 0 and cuts[-1] == size and cuts == sorted(set(cuts)) and len(cuts) == 5
    data = p.read_bytes()
    assert all(data[c - 1:c] == b"\n" for c in cuts[1:-1])


def test_parallel_ranges_give_the_one_stream_dataset(tmp_path, long_text, monkeypatch, ranges):
    p = tmp_path / "long.csv"
    p.write_text(long_text, encoding="utf-8")
    par, single, used = read_both(p, monkeypatch, ranges)
    assert len(used) == 3 and used[0][0] == 0 and used[-1][1] == p.stat().st_size
    assert par.source["engine"] == "pyarrow" and par.source["ranges"] == 3 and single.source["ranges"] == 1
    assert par.source["rows_read"] == long_text.count("\n") - 1
    assert_same(par, single)


def test_parallel_ranges_with_bom_and_crlf(tmp_path, long_text, monkeypatch, ranges):
    p = tmp_path / "bom.csv"
    p.write_bytes(b"\xef\xbb\xbf" + long_text.replace("\n", "\r\n").encode("utf-8"))
    par, single, used = read_both(p, monkeypatch, ranges)
    assert len(used) == 3 and par.source["engine"] == "pyarrow" and par.source["ranges"] == 3
    first_study = long_text.splitlines()[1].split(",")[0]
    assert first_study in set(par.subjects["study"])  # the BOM is not part of the first column's name
    assert_same(par, single)


def test_text_late_in_a_number_column_is_reported_on_its_line(tmp_path, long_text, monkeypatch, ranges):
    lines = long_text.splitlines()
    k = len(lines) - 5  # in the last range
    fields = lines[k].split(",")
    fields[-1] = "seven"
    lines[k] = ",".join(fields)
    p = tmp_path / "late.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    par, single, _ = read_both(p, monkeypatch, ranges, on_error="quarantine")
    assert par.rejected["row"].tolist() == [k + 1]  # 1-based line of the file
    assert_same(par, single)


def test_blank_line_in_a_later_range_keeps_line_numbers(tmp_path, long_text, monkeypatch, ranges):
    lines = long_text.splitlines()
    k = 2 * len(lines) // 3
    fields = lines[k + 1].split(",")
    fields[-1] = "99"  # out of range for every instrument here: rejected, named by its line
    lines[k + 1] = ",".join(fields)
    lines.insert(k, "")
    p = tmp_path / "blank.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    par, single, _ = read_both(p, monkeypatch, ranges, on_error="quarantine")
    assert par.source["engine"] == "python-csv"  # the exact reader numbers lines itself
    assert (k + 3) in par.rejected["row"].tolist()  # line k+1 (blank) pushed the edited row to line k+3
    assert_same(par, single)


def test_column_empty_at_the_start_is_text(tmp_path, monkeypatch, ranges):
    n = 3000
    frame = pd.DataFrame({"subject": [f"s{i}" for i in range(n)], "instrument": "pain_nrs", "day": 0,
                          "value": np.arange(n) % 11, "arm": [""] * (n - 10) + ["relaxation"] * 10})
    p = tmp_path / "late_arm.csv"
    frame.to_csv(p, index=False)
    par, single, used = read_both(p, monkeypatch, ranges)
    assert len(used) == 3 and par.source["ranges"] == 3
    assert par.subjects["arm"].iloc[-1] == "relaxation" and par.subjects["arm"].isna().sum() == n - 10
    assert_same(par, single)


def test_quoted_line_breaks_across_a_cut_fall_back_to_the_exact_reader(tmp_path, monkeypatch, ranges):
    n = 3000
    lines = ["subject,instrument,day,value,note"]
    lines += [f's{i},pain_nrs,0,{i % 11},"first line\nsecond line"' for i in range(n)]
    lines[-1] = lines[-1].replace(f",{(n - 1) % 11},", ",99,")  # out of range: reported where the record starts
    p = tmp_path / "notes.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    par, single, used = read_both(p, monkeypatch, ranges, on_error="quarantine")
    assert par.source["engine"] == "python-csv"
    assert par.source["rows_read"] == n
    assert par.rejected["row"].tolist() == [2 * n]  # record n starts on file line 2n (two lines per record)
    assert_same(par, single)

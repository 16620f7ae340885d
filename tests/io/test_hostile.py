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

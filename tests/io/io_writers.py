"""Write a tidy frame in each supported file format (shared by the reader tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMATS = ["csv", "tsv", "xlsx", "parquet", "sav", "dta", "xpt"]


def write_table(fmt: str, frame: pd.DataFrame, path: Path) -> Path:
    import pyreadstat

    if fmt in ("csv", "tsv"):
        frame.to_csv(path, index=False, sep="," if fmt == "csv" else "\t")
    elif fmt == "xlsx":
        frame.to_excel(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "sav":
        pyreadstat.write_sav(frame, str(path))
    elif fmt == "dta":
        pyreadstat.write_dta(frame, str(path))
    elif fmt == "xpt":
        pyreadstat.write_xport(frame, str(path), file_format_version=8)
    else:
        raise ValueError(f"no writer for {fmt!r}")
    return path

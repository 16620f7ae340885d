"""Binary formats: Excel (.xlsx), Parquet, SPSS (.sav), Stata (.dta), SAS transport (.xpt) and SAS7BDAT.

Each reader returns the raw frame, the row number of each record as the user sees it (the sheet row in Excel;
the case/record number, from 1, elsewhere) and what it read. Nothing is executed: Excel formulas are read as
their cached values (``data_only=True``), Parquet is columnar data only, and nothing is unpickled.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.io._csv import TextTable
from massage_outcomes.io.limits import check_declared, check_zip
from massage_outcomes.schema import fatal_error


def read_excel(path: Path, *, sheet: str | int | None = None) -> TextTable:
    """Read one sheet of an .xlsx workbook with openpyxl (read-only, formulas as cached values).

    The header is the first non-empty row; records keep their sheet row numbers; entirely empty rows are
    skipped (they are not records).
    """
    try:
        import openpyxl
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ImportError("reading Excel needs openpyxl: pip install openpyxl") from err
    file = path.name
    check_zip(path)  # the central directory against the limits, before a cell is inflated
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types for a broken zip/xml
        raise fatal_error(file, "unreadable", f"the workbook cannot be opened ({type(err).__name__}: {err}); "
                                              "is it really an .xlsx file? Re-save it from Excel, or export CSV.") \
            from err
    try:
        ws, note = _pick_sheet(wb, sheet, file)
        sheet_name = ws.title
        header, header_row, records, rows = _sheet_records(ws, file)
    finally:
        wb.close()
    info = {"file": str(path), "format": "xlsx", "sheet": sheet_name, "engine": "openpyxl (data_only)",
            "header_row": header_row, "assumed": [note] if note else []}
    if header is None:
        raise fatal_error(file, "empty", f"sheet {sheet_name!r} is empty")
    while header and header[-1] == "" and all(len(rec) < len(header) or rec[len(header) - 1] is None
                                              for rec in records):
        header.pop()
    width = len(header)
    names = [h or f"column_{i + 1}" for i, h in enumerate(header)]
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for rec in records:
        rec = tuple(rec[:width]) + (None,) * max(0, width - len(rec))
        for n, v in zip(names, rec, strict=False):
            cols[n].append(v)
    frame = pd.DataFrame({n: _excel_column(v) for n, v in cols.items()})
    if len(names) != len(set(names)):
        raise fatal_error(file, "duplicate_column", f"sheet {sheet_name!r} has duplicate column names: {names}")
    return TextTable(frame, np.asarray(rows, dtype=np.int64), info)


def _first_row(ws: Any, *, scan: int = 30) -> list[str] | None:
    """The first non-empty row of a sheet (its header), from its first ``scan`` rows; None when they are empty."""
    try:
        for values in ws.iter_rows(max_row=scan, values_only=True):
            if values and any(v is not None and str(v).strip() for v in values):
                return [("" if v is None else str(v)).strip() for v in values]
    except Exception:  # a damaged sheet: reported where it is read (_sheet_records), if it is the one chosen
        return None
    return None


def _holds_subjects(header: list[str] | None) -> bool:
    from massage_outcomes.io._mapping import ALIASES, fold

    return bool(header) and any(fold(h) == "subject" or ALIASES.get(fold(h)) == "subject" for h in header or [])


def _describe_sheets(heads: dict[str, list[str] | None]) -> str:
    return "; ".join(f"{n!r} (" + (", ".join(h[:4]) + (" ..." if len(h) > 4 else "") if h else "empty") + ")"
                     for n, h in heads.items())


def _pick_sheet(wb: Any, sheet: str | int | None, file: str) -> tuple[Any, str | None]:
    """The sheet to read and, when it is not simply the first, a note saying why (for ``info["assumed"]``).

    With ``sheet=None`` the data are the first sheet with a subject column; failing that the first non-empty
    sheet. An empty sheet, or a notes sheet in front of the data, is never read instead of the data.
    """
    names = wb.sheetnames
    if not names:
        raise fatal_error(file, "empty", "the workbook holds no sheet (a damaged file?): re-save it from Excel, or "
                                         "export CSV")
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise fatal_error(file, "unknown_sheet", f"sheet index {sheet} does not exist; sheets: {names}")
        return wb[names[sheet]], None
    if sheet is not None:
        if sheet not in names:
            import difflib

            close = difflib.get_close_matches(sheet, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise fatal_error(file, "unknown_sheet", f"no sheet named {sheet!r}.{hint} Sheets: {names}")
        return wb[sheet], None
    if len(names) == 1:
        return wb[names[0]], None
    heads = {n: _first_row(wb[n]) for n in names}
    with_subjects = [n for n in names if _holds_subjects(heads[n])]
    filled = [n for n in names if heads[n]]
    chosen = (with_subjects or filled or names)[0]
    if chosen == names[0] and (len(with_subjects) == 1 or len(filled) == 1):
        return wb[chosen], None
    why = "it has a subject column" if with_subjects else "the first sheet that is not empty"
    return wb[chosen], (f"sheet {chosen!r} read ({why}) of {len(names)} sheets: {_describe_sheets(heads)}. "
                        "Pass sheet='<name>' to read() to choose another")


def _sheet_records(ws: Any, file: str) -> tuple[list[str] | None, int, list[tuple[Any, ...]], list[int]]:
    """The header (first non-empty row), its row number, the records and their sheet row numbers; a sheet whose
    XML breaks off is refused at the row where it does."""
    header: list[str] | None = None
    header_row = 0
    records: list[tuple[Any, ...]] = []
    rows: list[int] = []
    r = 0
    try:
        for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if values is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if header is None:
                header = [("" if v is None else str(v)).strip() for v in values]
                header_row = r
                continue
            records.append(values)
            rows.append(r)
    except Exception as err:  # openpyxl and the XML parser raise many types for a damaged sheet
        raise fatal_error(file, "unreadable", f"sheet {ws.title!r} cannot be read past row {r} "
                                              f"({type(err).__name__}: {err}): the workbook is damaged; re-save it "
                                              "from Excel, or export CSV.", row=r + 1) from err
    return header, header_row, records, rows


def _excel_column(values: list[Any]) -> pd.Series:
    """A column of cell values: numbers stay numbers when all are numeric; dates stay dates; else object."""
    present = [v for v in values if v is not None and not (isinstance(v, str) and not v.strip())]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series([np.nan if (v is None or isinstance(v, str)) else float(v) for v in values], dtype=float)
    if present and all(isinstance(v, (_dt.datetime, _dt.date)) for v in present):
        return pd.Series(pd.to_datetime([v if isinstance(v, (_dt.datetime, _dt.date)) else None for v in values]))
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, float) and v == int(v) and abs(v) < 2**53:
            out.append(str(int(v)))
        elif isinstance(v, (_dt.datetime, _dt.date)):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return pd.Series(out, dtype="str")


def read_parquet(path: Path) -> TextTable:
    """Read a Parquet file, after checking the rows, columns and bytes its footer declares against the limits."""
    file = path.name
    _check_parquet_footer(path)
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises ArrowInvalid/OSError for broken files
        raise fatal_error(file, "unreadable",
                          f"the Parquet file cannot be read ({type(err).__name__}: {err})") from err
    frame = frame.reset_index(drop=not _meaningful_index(frame))
    return TextTable(frame, np.arange(1, len(frame) + 1), {"file": str(path), "format": "parquet",
                                                          "engine": "pyarrow", "assumed": []})


def _check_parquet_footer(path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception:  # a broken footer: the reader below reports it in its own words
        return
    nbytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    check_declared(path.name, rows=meta.num_rows, columns=meta.num_columns, nbytes=nbytes)


def _meaningful_index(frame: pd.DataFrame) -> bool:
    idx = frame.index
    return not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1 and idx.name is None)


def read_stat(path: Path, kind: str) -> TextTable:
    """SPSS / Stata / SAS via pyreadstat: codes as stored, value labels in ``info["value_label_sets"]``."""
    file = path.name
    try:
        import pyreadstat
    except ImportError:  # pragma: no cover - a declared dependency
        pyreadstat = None  # type: ignore[assignment]
    if pyreadstat is None:
        if kind == "xpt":
            frame = pd.read_sas(path, format="xport")
            return TextTable(frame, np.arange(1, len(frame) + 1), {"file": str(path), "format": "xpt",
                                                                  "engine": "pandas", "assumed": []})
        raise ImportError(f"reading .{kind} files needs pyreadstat: pip install pyreadstat")
    readers: dict[str, Any] = {"sav": pyreadstat.read_sav, "zsav": pyreadstat.read_sav, "dta": pyreadstat.read_dta,
               "xpt": pyreadstat.read_xport, "sas7bdat": pyreadstat.read_sas7bdat}
    reader = readers[kind]
    try:
        _, head = reader(str(path), metadataonly=True)
    except Exception:  # a broken header: the full read below reports it
        head = None
    if head is not None:
        check_declared(file, rows=getattr(head, "number_rows", None), columns=getattr(head, "number_columns", None))
    kwargs: dict[str, Any] = {}
    if kind in ("sav", "zsav", "dta"):  # codes as read; labels are applied by the reader, never to measurements
        kwargs = {"apply_value_formats": False}
    try:
        frame, meta = reader(str(path), **kwargs)
    except Exception as err:  # pyreadstat.ReadstatError and friends
        raise fatal_error(file, "unreadable", f"the .{kind} file cannot be read ({type(err).__name__}: {err})") \
            from err
    labels = {k: v for k, v in (getattr(meta, "column_names_to_labels", None) or {}).items() if v}
    value_labels = {k: getattr(meta, "variable_to_label", {}).get(k) for k in frame.columns
                    if getattr(meta, "variable_to_label", {}).get(k)}
    label_sets = {c: dict(getattr(meta, "value_labels", {}).get(name, {})) for c, name in value_labels.items()}
    info = {"file": str(path), "format": kind, "engine": "pyreadstat", "variable_labels": labels,
            "value_label_sets": {c: v for c, v in label_sets.items() if v}, "assumed": []}
    # text columns: empty strings are missing in SPSS/Stata/SAS
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            frame[c] = s.astype(object).astype("str")
        elif pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
            obj = s.astype(object)
            if obj.map(lambda v: isinstance(v, (_dt.date, _dt.datetime))).any():
                continue
            frame[c] = obj.astype("str").replace("", np.nan)
    return TextTable(frame, np.arange(1, len(frame) + 1), info)

"""Validation of a scan: the library's own rules (:func:`massage_outcomes.validation.check_long`), applied to
partitions of whole subjects pulled from the engine one at a time.

Every rule of :func:`massage_outcomes.validate` looks at one row or at the rows of one subject (conflicting arms,
duplicate keys, sessions of a subject), so a partition by a hash of ``(study, subject)`` sees everything each rule
needs: the report is the pandas path's report (same problems, files, rows and columns), while memory holds
one partition (:data:`~massage_outcomes.scale.scan.VALIDATE_CHUNK_ROWS` rows) at a time. Rows are numbered as
the user sees them: the file line in a CSV (header = line 1), 1, 2, ... in Parquet and DuckDB tables.

A CSV that DuckDB's reader cannot parse (ragged lines, an unclosed quote, mixed encodings, binary junk) is
handed to the library's exact line-by-line reader (:func:`massage_outcomes.validate`), which names each broken
line; that reader holds the file in memory, so the fallback is refused above :data:`EXACT_READER_LIMIT` bytes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import DataValidationError
from massage_outcomes.scale.sql import fetch, ident, quote
from massage_outcomes.schema import ValidationReport, check_option

__all__ = ["validate_scan", "EXACT_READER_LIMIT", "blank_lines"]

#: largest CSV (bytes) the exact line reader checks when DuckDB cannot parse a file
EXACT_READER_LIMIT = 512 * 2**20
_ROW = "_mo_row"


def blank_lines(path: str | Path, *, chunk: int = 1 << 26) -> tuple[np.ndarray, bool]:
    """(For each empty line of a text file, the number of non-empty lines before it; whether the file holds a
    double quote), in one streamed pass over the bytes (``chunk`` at a time; only the empty lines are kept).

    DuckDB's CSV reader skips empty lines, so its n-th row is the file's n-th non-empty line after the header,
    not line n + 1: with these counts, row ``j`` (the header is row 0) is on line ``j + 1 + #{counts <= j}``.
    A line holding only "\\r" counts as empty (a CRLF file's empty line).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as f:
    ...     _ = f.write(b"a,b\\n1,2\\n\\n\\r\\n3,4\\n")
    >>> blank_lines(f.name)[0].tolist()  # lines 3 and 4 are empty, each after 2 non-empty lines
    [2, 2]
    >>> os.remove(f.name)
    """
    found: list[np.ndarray] = []
    quoted = False
    lines_before = 0  # complete lines before this chunk
    prev_nl = -1  # global offset of the last newline seen (-1: the start of the file)
    prev_cr = False  # whether the previous chunk ended in "\\r"
    offset = 0
    with open(path, "rb") as fh:
        while buf := fh.read(chunk):
            arr = np.frombuffer(buf, dtype=np.uint8)
            quoted = quoted or bool((arr == 34).any())
            nl = np.flatnonzero(arr == 10) + offset
            starts = np.concatenate([[prev_nl + 1], nl[:-1] + 1])  # where each line ending in this chunk starts
            length = nl - starts
            cr_only = np.zeros(nl.size, dtype=bool)
            one = length == 1
            if one.any():
                first = starts[one] - offset
                inside = first >= 0
                vals = np.where(inside, arr[np.clip(first, 0, None)] == 13, prev_cr)
                cr_only[one] = vals
            empty = (length == 0) | cr_only
            if empty.any():
                idx = np.flatnonzero(empty)
                line_no = lines_before + idx  # 0-based line index of each empty line
                found.append(line_no - np.arange(idx.size) - sum(f.size for f in found))
            if nl.size:
                prev_nl = int(nl[-1])
                lines_before += nl.size
            prev_cr = bool(arr[-1] == 13)  # a one-byte line starting there is "\\r" alone
            offset += arr.size
    counts = np.concatenate(found) if found else np.array([], dtype=np.int64)
    return counts.astype(np.int64), quoted


def _numbered(sc: Any) -> str:
    """A temporary table of the source with the user's row numbers (materialized once, in the engine): in a
    CSV the file line (header = line 1), counting the empty lines DuckDB skips (:func:`blank_lines`)."""
    table = f"mo_rows_{abs(hash(sc.raw_sql)) % 10**9}"
    csv = "read_csv(" in sc.raw_sql
    number = f"row_number() OVER () + {1 if csv else 0}"
    path = getattr(sc, "path", None)
    counts, quoted = blank_lines(path) if csv and path is not None and Path(path).is_file() else (np.array([]), False)
    if counts.size and quoted:
        raise DataValidationError("empty lines in a CSV with quoted fields (an empty line may be inside a quoted "
                                  "value, so the engine's rows cannot be matched to file lines)")
    if counts.size:  # the data row j (1, 2, ...) is on line j + 1 + #{counts <= j}
        skipped = pd.DataFrame({"_t": counts, "_k": np.arange(1, counts.size + 1)}).drop_duplicates("_t", keep="last")
        sc.con.register(f"{table}_blank", skipped)
        inner = f"SELECT row_number() OVER () AS _j, * FROM ({sc.raw_sql})"
        fetch(sc.con, f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT r._j + 1 + coalesce(b._k, 0) AS {_ROW}, "
                      f"r.* EXCLUDE (_j) FROM ({inner}) r ASOF LEFT JOIN {table}_blank b ON r._j >= b._t ORDER BY r._j")
        return table
    fetch(sc.con, f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {number} AS {_ROW}, * FROM ({sc.raw_sql})")
    return table


def _exact_fallback(sc: Any, err: Exception) -> ValidationReport:
    from massage_outcomes.io import validate

    path = getattr(sc, "path", None)
    if path is None or not Path(path).is_file():
        raise DataValidationError(f"{sc.name}: the engine cannot read the source ({err}).") from err
    size = Path(path).stat().st_size
    if size > EXACT_READER_LIMIT:
        raise DataValidationError(
            f"{sc.name}: DuckDB cannot parse this CSV ({err}) and it is too large ({size / 2**20:.0f} MB > "
            f"{EXACT_READER_LIMIT / 2**20:.0f} MB) for the exact line reader; fix the lines DuckDB names, or "
            "convert the file with mo.read(...).to_duckdb(path).") from err
    return validate(path)


def _refuse_wide(sc: Any) -> None:
    import duckdb

    try:
        cols = set(sc.columns)
    except duckdb.Error:  # unreadable: the exact reader will say why
        return
    if len(cols) > 1 and not {"value", "instrument"} & cols:
        raise DataValidationError(
            f"{sc.name}: no 'instrument' or 'value' column: this looks like a wide file (one column per instrument "
            "and visit). A scan reads the long format; read the file with mo.read(path) (which reshapes it) and "
            "write it with Dataset.to_duckdb('study.duckdb'), then scan that.")


def _check_dialect(sc: Any) -> None:
    """Raise when DuckDB's reading of a CSV cannot be trusted to number and split rows as the user sees them:
    no header found, a single column (a ragged line or an unclosed quote makes DuckDB's sniffer give up
    splitting), or a line of delimiters only (which DuckDB reads as an all-empty row)."""
    if "read_csv(" not in sc.raw_sql:
        return
    cols = sc.columns
    if len(cols) <= 1 or all(re.fullmatch(r"column\d+", c) for c in cols):
        raise DataValidationError("DuckDB could not split the lines into the header's columns")
    empty = " AND ".join(f"{ident(c)} IS NULL" for c in cols)
    if fetch(sc.con, f"SELECT count(*) FROM ({sc.raw_sql}) WHERE {empty}")[0][0]:
        raise DataValidationError("a line holds delimiters only")


def _partitions(sc: Any, table: str, chunk_rows: int) -> tuple[int, str]:
    n = int(fetch(sc.con, f"SELECT count(*) FROM {table}")[0][0])
    k = max(1, math.ceil(n / max(1, chunk_rows)))
    cols = set(sc.columns)
    key = ", ".join(ident(c) for c in ("study", "subject") if c in cols) or _ROW
    return k, f"hash({key}) % {k}"


def validate_scan(sc: Any, *, on_error: str = "report", quarantine: str | Path | None = None,
                  chunk_rows: int = 1_000_000) -> ValidationReport:
    """Check every row of a scan against every rule; the report is the one :func:`massage_outcomes.validate`
    gives on the same rows.

    Parameters
    ----------
    sc : Scan
    on_error : {"report", "raise", "quarantine"}
        "report" returns the report; "raise" raises :class:`~massage_outcomes.DataValidationError` with it when
        there are problems; "quarantine" also writes the rejected rows (with their row number and reasons) to
        ``quarantine`` (a ``.parquet`` or ``.csv`` path) and makes the scan's analyses read the kept rows only.
    quarantine : path, optional
        Where "quarantine" writes the rejected rows.
    chunk_rows : int
        Rows per partition brought into memory at once (whole subjects per partition).

    Returns
    -------
    ValidationReport
        Also kept as ``sc.report``; ``sc.rows`` gains ``rows_kept`` and ``rows_rejected``.

    Notes
    -----
    On ``engine="dask"`` the partitions are made by a dask shuffle and checked on the workers, rows numbered
    1, 2, ... in partition order (:func:`_validate_dask`); a CSV is refused there (use DuckDB, which numbers file
    lines).
    """
    import duckdb

    from massage_outcomes.validation import check_long

    check_option("on_error", on_error, ("report", "raise", "quarantine"))
    if on_error == "quarantine" and quarantine is None:
        raise DataValidationError("on_error='quarantine' writes the rejected rows to a file: pass quarantine="
                                  "'rejected.parquet' (or .csv).")
    if sc.engine == "dask":
        return _validate_dask(sc, on_error, quarantine, chunk_rows)
    _refuse_wide(sc)
    try:
        _check_dialect(sc)
        table = _numbered(sc)
    except (duckdb.Error, DataValidationError) as err:
        report = _exact_fallback(sc, err)
        sc.report, sc.checked_by = report, "exact line reader"
        if report.rows_read is not None:
            sc.rows["rows_read"] = int(report.rows_read)
        return _finish(sc, report, on_error, rejected=None, n=None)
    k, part = _partitions(sc, table, chunk_rows)
    problems: list[pd.DataFrame] = []
    rejected: list[np.ndarray] = []
    from tqdm.auto import tqdm

    for i in tqdm(range(k), desc=f"validating {sc.name}", unit="part", disable=not sc.progress or k < 2):
        chunk = sc.con.sql(f"SELECT * FROM {table} WHERE {part} = {i} ORDER BY {_ROW}").df()
        rows = chunk.pop(_ROW).to_numpy(dtype=np.int64)
        res = check_long(chunk, file=sc.name, rows=rows, study=sc.study)
        problems.append(res.report.to_frame())
        rejected.append(rows[np.asarray(res.bad, dtype=bool)])
        if res.report.fatal:  # a missing column: every partition says the same
            break
    frame = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame()
    if len(frame):
        frame = frame.drop_duplicates(subset=["row", "column", "rule", "message"]).sort_values(
            "row", kind="stable", na_position="first", ignore_index=True)
    report = ValidationReport(frame, file=sc.name, rows_read=sc.count())
    sc.report, sc.checked_by = report, "engine partitions"
    bad = np.sort(np.concatenate(rejected)) if rejected else np.array([], dtype=np.int64)
    return _finish(sc, report, on_error, rejected=(table, bad, quarantine), n=sc.count())


def _number_rows(part: pd.DataFrame, offsets: np.ndarray, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    """A partition with the row numbers of its rows (1, 2, ... over the partitions in order)."""
    start = int(offsets[partition_info["number"]]) if partition_info is not None else 0
    return part.assign(**{_ROW: np.arange(start + 1, start + 1 + len(part), dtype=np.int64)})


def _check_partition(part: pd.DataFrame, file: str, study: str | None) -> tuple[pd.DataFrame, np.ndarray, bool]:
    """check_long on one partition of whole subjects: (problems, rejected row numbers, fatal)."""
    from massage_outcomes.validation import check_long

    part = part.sort_values(_ROW, kind="stable")
    rows = part[_ROW].to_numpy(dtype=np.int64)
    res = check_long(part.drop(columns=[_ROW, "_mo_key"]).reset_index(drop=True), file=file, rows=rows, study=study)
    return res.report.to_frame(), rows[np.asarray(res.bad, dtype=bool)], bool(res.report.fatal)


def _validate_dask(sc: Any, on_error: str, quarantine: str | Path | None, chunk_rows: int) -> ValidationReport:
    """:func:`validate_scan` on dask: rows numbered 1, 2, ... in partition order (Parquet files in name order,
    as DuckDB numbers them), one shuffle to partitions of whole subjects, the library's check_long on each
    (on the workers); only the problems and the rejected row numbers come back."""
    import dask

    path = getattr(sc, "path", None)
    if path is not None and str(path).lower().endswith((".csv", ".tsv", ".txt")):
        raise DataValidationError("validate() on a CSV numbers rows by file line, which dask does not know: scan the "
                                  "file with engine='duckdb' to validate it (or convert it to Parquet first).")
    f = sc.dask_frame
    cols = set(sc.columns)
    lengths = np.asarray(f.map_partitions(len).compute(), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    meta = f._meta.assign(**{_ROW: np.array([], dtype=np.int64)})
    numbered = f.map_partitions(_number_rows, offsets, meta=meta)
    key = [c for c in ("study", "subject") if c in cols]
    numbered = numbered.assign(_mo_key=numbered[key].astype(str).sum(axis=1) if key else numbered[_ROW].astype(str))
    n = int(lengths.sum())
    k = max(1, math.ceil(n / max(1, chunk_rows)))
    parts = numbered.shuffle(on="_mo_key", npartitions=k).to_delayed()
    done = dask.compute(*[dask.delayed(_check_partition)(p, sc.name, sc.study) for p in parts])
    problems = [d[0] for d in done]
    if any(d[2] for d in done):  # a missing column: every partition says the same
        problems = [next(d[0] for d in done if d[2])]
    frame = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame()
    if len(frame):
        frame = frame.drop_duplicates(subset=["row", "column", "rule", "message"]).sort_values(
            "row", kind="stable", na_position="first", ignore_index=True)
    report = ValidationReport(frame, file=sc.name, rows_read=n)
    sc.report, sc.checked_by = report, "dask partitions"
    bad = np.sort(np.concatenate([d[1] for d in done])) if done else np.array([], dtype=np.int64)
    sc.rows.update(rows_read=n, rows_rejected=int(bad.size), rows_kept=n - int(bad.size))
    if on_error == "quarantine" and not report.fatal:
        rejected = numbered[numbered[_ROW].isin(bad.tolist())].drop(columns="_mo_key")
        out = rejected.compute().rename(columns={_ROW: "row"}).sort_values("row", ignore_index=True)
        target = Path(str(quarantine))
        out.to_parquet(target) if target.suffix.lower() == ".parquet" else out.to_csv(target, index=False)
        sc.dask_frame = numbered[~numbered[_ROW].isin(bad.tolist())].drop(columns=[_ROW, "_mo_key"])
        sc.distinct_cache.clear()
    return _finish(sc, report, on_error, rejected=None, n=None)


def _finish(sc: Any, report: ValidationReport, on_error: str, *, rejected: Any, n: int | None) -> ValidationReport:
    if n is not None and rejected is not None:
        table, bad, path = rejected
        sc.rows.update(rows_read=n, rows_rejected=int(bad.size), rows_kept=n - int(bad.size))
        if on_error == "quarantine":
            _quarantine(sc, table, bad, Path(path))
    if on_error == "raise" and not report.ok:
        raise DataValidationError(str(report), report)
    if on_error == "quarantine" and report.fatal:
        raise DataValidationError(str(report), report)
    return report


def _quarantine(sc: Any, table: str, bad: np.ndarray, path: Path) -> None:
    """Write the rejected rows (with ``row``) and point the scan's analyses at the kept rows."""
    rej = f"{table}_rejected"
    sc.con.register(f"{rej}_src", pd.DataFrame({_ROW: bad}))
    fetch(sc.con, f"CREATE OR REPLACE TEMP TABLE {rej} AS SELECT * FROM {rej}_src")
    fmt = "PARQUET" if path.suffix.lower() == ".parquet" else "CSV, HEADER"
    fetch(sc.con, f"COPY (SELECT * RENAME ({_ROW} AS row) FROM {table} WHERE {_ROW} IN (SELECT {_ROW} FROM {rej}) "
                  f"ORDER BY row) TO {quote(str(path))} (FORMAT {fmt})")
    sc.kept_sql = f"SELECT * EXCLUDE ({_ROW}) FROM {table} WHERE {_ROW} NOT IN (SELECT {_ROW} FROM {rej})"
    sc.distinct_cache.clear()
    sc.catalog = None

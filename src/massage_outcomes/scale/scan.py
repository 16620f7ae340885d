"""``mo.scan``: a lazy dataset over DuckDB (embedded, the default) or Dask; nothing is loaded until asked.

A :class:`Scan` holds a DuckDB connection and the SQL of its source (a Parquet or CSV file, a glob or folder of
Parquet partitions, a DuckDB database file or table, a DuckDB relation, or a pandas DataFrame for tests), or a
dask DataFrame for ``engine="dask"``. It speaks the canonical long format of :func:`massage_outcomes.read`
(``study, subject, arm, condition, clinic, session, technique, intent, therapist, visit, day, timing,
instrument, value``); vocabulary synonyms ("Swedish massage", "LBP") are mapped to canonical terms in the engine
from the distinct values, by the library's own vocabularies.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from massage_outcomes import vocab
from massage_outcomes.errors import ArgumentError, ArgumentTypeError, DataValidationError
from massage_outcomes.scale.sql import fetch, ident, quote
from massage_outcomes.schema import ValidationReport

__all__ = ["scan", "Scan", "ENGINES", "VALIDATE_CHUNK_ROWS"]

ENGINES = ("duckdb", "dask")
#: rows per partition that :meth:`Scan.validate` brings into memory at once (whole subjects per partition)
VALIDATE_CHUNK_ROWS = 1_000_000
_COUNTER = itertools.count()
#: canonical columns a scan reads (others are ignored by the analyses)
_TEXT = ("arm", "clinic", "therapist", "visit")
_VOCABS: dict[str, vocab.Vocabulary] = {"condition": vocab.CONDITION, "technique": vocab.TECHNIQUE,
                                        "timing": vocab.TIMING}


def _on_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _source_sql(con: Any, source: Any, *, table: str | None, name: str) -> tuple[str, str]:
    """(SQL of the raw source as a relation, the file name messages use)."""
    import duckdb

    if isinstance(source, pd.DataFrame):
        view = f"mo_frame_{next(_COUNTER)}"
        con.register(view, source)
        return f"SELECT * FROM {view}", name or "frame"
    if isinstance(source, duckdb.DuckDBPyRelation):
        view = f"mo_rel_{next(_COUNTER)}"
        source.create_view(view, replace=True)
        return f"SELECT * FROM {view}", name or "relation"
    if not isinstance(source, str | Path):
        raise ArgumentTypeError(
            f"scan() takes a path, glob, DuckDB relation or DataFrame; got {type(source).__name__}")
    text = str(source)
    p = Path(text)
    if p.is_dir():
        files = sorted(p.rglob("*.parquet"))
        if not files:
            raise DataValidationError(f"{text}: the folder holds no .parquet files; point scan() at a file or glob.")
        glob = str(p / "**" / "*.parquet")
        return (f"SELECT * FROM read_parquet({quote(glob)}, hive_partitioning=true, union_by_name=true)",
                name or p.name)
    suffix = p.suffix.lower()
    if suffix in (".duckdb", ".db", ".ddb"):
        if not p.exists():
            raise DataValidationError(f"{text}: no such DuckDB file.")
        alias = f"mo_db_{next(_COUNTER)}"
        fetch(con, f"ATTACH {quote(text)} AS {alias} (READ_ONLY)")
        return f"SELECT * FROM {alias}.{ident(table or 'long')}", name or p.name
    if not any(ch in text for ch in "*?[") and not p.exists():
        raise DataValidationError(f"{text}: no such file; check the path (globs such as 'registry/*.parquet' work).")
    if suffix == ".parquet":
        return f"SELECT * FROM read_parquet({quote(text)}, union_by_name=true)", name or p.name
    if suffix in (".csv", ".tsv", ".txt"):
        opts = "header=true, all_varchar=true, quote='\"', escape='\"'" + (", delim='\\t'" if suffix == ".tsv" else "")
        return f"SELECT * FROM read_csv({quote(text)}, {opts})", name or p.name
    raise DataValidationError(
        f"{text}: scan() reads .parquet, .csv/.tsv and .duckdb sources (or a folder of Parquet files); "
        "convert other formats with mo.read(...).to_duckdb(path) first.")


class Scan:
    """A lazy dataset: the rows stay in the engine; analyses bring back per-group summaries only.

    Build one with :func:`scan`. ``scan.rows`` accounts for the rows (``rows_read``, and after
    :meth:`validate` ``rows_kept`` and ``rows_rejected``, with ``rows_read = rows_kept + rows_rejected``).
    """

    def __init__(self, con: Any, sql: str, *, name: str, engine: str = "duckdb", study: str | None = None,
                 frame: Any = None, progress: bool | None = None, path: str | Path | None = None,
                 memory_limit: str | None = None, threads: int | None = None) -> None:
        self.con = con
        self.path = path
        self.name = name
        self.engine = engine
        self.study = study
        self.dask_frame = frame
        self.progress = _on_terminal() if progress is None else bool(progress)
        self.raw_sql = sql
        self.kept_sql: str | None = None
        self.rows: dict[str, int] = {}
        self.report: ValidationReport | None = None
        #: how validate() checked the rows: "engine partitions", "dask partitions" or "exact line reader" (a CSV DuckDB cannot split)
        self.checked_by: str | None = None
        self._columns: list[str] | None = None
        self.distinct_cache: dict[tuple[str, str], list[Any]] = {}
        #: per (instrument, visit) and (instrument, timing): earliest day and number of values (prefetch_distinct)
        self.catalog: pd.DataFrame | None = None
        #: vocabulary columns whose values are all canonical terms already (no mapping needed in the engine)
        self.identity_columns: set[str] = set()
        self.catalog_keys: list[str] = []  # few values per column, asked for repeatedly
        if con is not None and self.progress:
            fetch(con, "SET enable_progress_bar = true")
        if con is not None and memory_limit is not None:
            fetch(con, f"SET memory_limit = {quote(memory_limit)}")  # DuckDB spills to disk beyond it
        if con is not None and threads is not None:
            fetch(con, f"SET threads = {int(threads)}")

    # -------------------------------------------------------------------------------------- the source
    @property
    def source_sql(self) -> str:
        """The SQL of the rows the analyses read (the kept rows after ``validate(on_error="quarantine")``)."""
        return self.kept_sql or self.raw_sql

    @property
    def columns(self) -> list[str]:
        """The source's column names (a schema query; no rows read)."""
        if self._columns is None:
            if self.engine == "dask":
                self._columns = [str(c) for c in self.dask_frame.columns]
            else:
                rel = self.con.sql(f"SELECT * FROM ({self.raw_sql}) LIMIT 0")
                self._columns = [str(c) for c in rel.columns]
        return list(self._columns)

    def count(self) -> int:
        """Number of rows in the source (``rows_read``)."""
        if "rows_read" not in self.rows:
            if self.engine == "dask":
                self.rows["rows_read"] = int(len(self.dask_frame))
            else:
                self.rows["rows_read"] = int(fetch(self.con, f"SELECT count(*) FROM ({self.raw_sql})")[0][0])
        return self.rows["rows_read"]

    def __repr__(self) -> str:
        n = self.rows.get("rows_read")
        rows = f"{n:,} rows" if n is not None else "rows not counted yet"
        return f"Scan({self.name!r}, engine={self.engine!r}, {len(self.columns)} columns, {rows})"

    # ------------------------------------------------------------------------------ canonical columns
    def distinct(self, column: str) -> list[Any]:
        """Distinct non-missing values of a source column (few: vocabularies, arms, visits)."""
        key = (self.source_sql, column)
        if key not in self.distinct_cache and self.engine == "dask":
            self.prefetch_distinct([column])
        elif key not in self.distinct_cache:
            q = f"SELECT DISTINCT {ident(column)} FROM ({self.source_sql}) WHERE {ident(column)} IS NOT NULL"
            self.distinct_cache[key] = [r[0] for r in fetch(self.con, q)]
        return list(self.distinct_cache[key])

    def prefetch_distinct(self, columns: Sequence[str]) -> None:
        """Fill the distinct-value cache of several columns, and the visit catalogue (:meth:`occasions`), in one
        pass over the source (DuckDB: one GROUP BY of the key combinations)."""
        todo = [c for c in dict.fromkeys(columns) if c in self.columns and (self.source_sql, c) not in self.distinct_cache]
        if not todo:
            return
        if self.engine == "dask":  # one pass over the partitions for every column
            import dask

            found = dask.compute(*[self.dask_frame[c].dropna().unique() for c in todo])
            for c, vals in zip(todo, found, strict=True):
                self.distinct_cache[(self.source_sql, c)] = list(pd.unique(pd.Series(vals)))
            return
        cols = set(self.columns)
        cat = [c for c in ("instrument", "visit", "timing") if c in cols]
        day = f"min(CAST({ident('day')} AS DOUBLE))" if "day" in cols else "CAST(NULL AS DOUBLE)"
        keys = list(dict.fromkeys([*todo, *cat]))
        # one GROUP BY of every key combination (few: vocabularies, arms, visits): one hash per row, where
        # GROUPING SETS of each column and (instrument, visit|timing) hashed every row once per set (4.0 vs 7.0 s
        # CPU on 100M rows); the distinct values and the visit catalogue are read off this small table
        sel = ", ".join(ident(k) for k in keys)
        rows = self.con.sql(f"SELECT {sel}, {day} AS _day, count({ident('value')}) AS _n FROM ({self.source_sql}) "
                            f"GROUP BY {sel}").df()
        for c in todo:
            vals = pd.unique(rows[c].dropna())
            self.distinct_cache[(self.source_sql, c)] = [v for v in vals.tolist() if not _blank(v)]
        self.catalog = rows
        self.catalog_keys = keys

    def occasions(self, instrument_keys: Sequence[Any], column: str) -> pd.DataFrame:
        """Per value of ``column`` ("visit" or "timing") among the rows of the listed instrument names: the
        earliest day (``day``) and the number of values (``n``); with ``instrument_keys`` empty, over all rows."""
        self.prefetch_distinct([*_VOCABS, "intent", "instrument", "arm"])
        rows, keys = self.catalog, self.catalog_keys
        if rows is None or column not in keys or "instrument" not in keys:
            return pd.DataFrame(columns=[column, "day", "n"])
        sub = rows.loc[rows[column].notna()]
        if instrument_keys:
            sub = sub.loc[sub["instrument"].astype(str).isin([str(k) for k in instrument_keys])]
        out = sub.assign(**{column: sub[column].astype(str)}).groupby(column, sort=False).agg(
            day=("_day", "min"), n=("_n", "sum")).reset_index()
        return out

    def vocabulary_maps(self) -> dict[str, dict[Any, str]]:
        """Per vocabulary column, the map from each distinct source value to its canonical term; raises,
        naming the values and the fix, when some are unknown (:meth:`validate` reports their rows)."""
        from massage_outcomes.validation import normalize_instrument

        cols = set(self.columns)
        self.prefetch_distinct([*_VOCABS, "intent", "instrument", "arm"])
        maps: dict[str, dict[Any, str]] = {}
        unknown: list[str] = []
        for c, voc in {**_VOCABS, "intent": vocab.INTENT}.items():
            if c not in cols:
                continue
            values = self.distinct(c)
            m = {v: voc.lookup(v) for v in values if not _blank(v)}
            if all(not _blank(v) and m[v] == str(v) for v in values):
                self.identity_columns.add(c)  # already canonical: the engine reads the column as it is
            unknown += [f"{c} {v!r}" for v, t in m.items() if t is None]
            maps[c] = {v: t for v, t in m.items() if t is not None}
        if "instrument" in cols:
            raw = [v for v in self.distinct("instrument") if not _blank(v)]
            mapped, bad, _ = normalize_instrument(pd.Series(raw, dtype=object))
            unknown += [f"instrument {v!r}" for v, b in zip(raw, bad, strict=True) if b]
            maps["instrument"] = {v: str(k) for v, k, b in zip(raw, mapped.astype(object), bad, strict=True)
                                  if not b}
        if unknown:
            raise DataValidationError(
                f"{self.name}: {len(unknown)} value(s) match no vocabulary term ({', '.join(unknown[:8])}); run "
                "scan.validate() to see their rows, and recode them (mapping=) or pass on_error='quarantine'.")
        return maps

    def validate(self, *, on_error: str = "report", quarantine: str | Path | None = None,
                 chunk_rows: int = VALIDATE_CHUNK_ROWS) -> ValidationReport:
        """Apply every rule of :func:`massage_outcomes.validate` in subject partitions; see
        :func:`massage_outcomes.scale.validation.validate_scan`."""
        from massage_outcomes.scale.validation import validate_scan

        return validate_scan(self, on_error=on_error, quarantine=quarantine, chunk_rows=chunk_rows)

    # -------------------------------------------------------------------------------------- analyses
    def effect_sizes(self, **kwargs: Any) -> pd.DataFrame:
        """:func:`massage_outcomes.effect_sizes` on the scan (see :func:`massage_outcomes.scale.effects.effect_sizes`)."""
        from massage_outcomes.scale.effects import effect_sizes

        return effect_sizes(self, **kwargs)

    def responders(self, **kwargs: Any) -> pd.DataFrame:
        """:func:`massage_outcomes.responders` on the scan (see :func:`massage_outcomes.scale.clinical.responders`)."""
        from massage_outcomes.scale.clinical import responders

        return responders(self, **kwargs)

    def to_pandas(self, *, limit: int | None = None) -> pd.DataFrame:
        """The rows as a DataFrame: for small sources and inspection only (``limit`` caps the rows)."""
        if self.engine == "dask":
            frame = self.dask_frame.head(limit, npartitions=-1) if limit else self.dask_frame.compute()
            return frame.reset_index(drop=True)
        lim = f" LIMIT {int(limit)}" if limit else ""
        return self.con.sql(f"SELECT * FROM ({self.source_sql}){lim}").df()


def _blank(v: Any) -> bool:
    try:
        return bool(pd.isna(v)) or (isinstance(v, str) and not v.strip())
    except (TypeError, ValueError):
        return False


def _renamed(sql: str, con: Any, mapping: Mapping[str, str] | None) -> str:
    if not mapping:
        return sql
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ArgumentError("scan(mapping=...) takes plain renames {source column: canonical name}; recode values "
                            "with mo.read(..., mapping=plan) and Dataset.to_duckdb(path) first.")
    cols = [str(c) for c in con.sql(f"SELECT * FROM ({sql}) LIMIT 0").columns]
    missing = [k for k in mapping if k not in cols]
    if missing:
        raise DataValidationError(f"mapping names column(s) {', '.join(map(repr, missing))} that the source lacks; "
                                  f"columns: {', '.join(cols)}.")
    sel = ", ".join(f"{ident(c)} AS {ident(mapping.get(c, c))}" for c in cols)
    return f"SELECT {sel} FROM ({sql})"


def _dask_scan(source: Any, *, mapping: Mapping[str, str] | None, study: str | None, progress: bool | None,
              name: str | None) -> Scan:
    """A :class:`~massage_outcomes.scale.Scan` over a dask DataFrame (or Parquet/CSV paths dask reads)."""
    import dask.dataframe as dd

    if isinstance(source, dd.DataFrame):
        frame, label = source, name or "dask frame"
    elif isinstance(source, str | Path):
        text = str(source)
        if text.endswith((".csv", ".tsv")):
            frame = dd.read_csv(text, dtype=str, sep="\t" if text.endswith(".tsv") else ",")
        else:
            frame = dd.read_parquet(text)
        label = name or Path(text).name
    else:
        raise ArgumentTypeError(f"scan(engine='dask') takes a dask DataFrame or a path; got {type(source).__name__}")
    if mapping:
        frame = frame.rename(columns=dict(mapping))
    path = source if isinstance(source, str | Path) else None
    return Scan(None, "", name=label, engine="dask", study=study, frame=frame, progress=progress, path=path)


def scan(source: Any, *, engine: str = "duckdb", mapping: Mapping[str, str] | None = None,
         table: str | None = None, connection: Any = None, study: str | None = None,
         progress: bool | None = None, name: str | None = None, memory_limit: str | None = None,
         threads: int | None = None) -> Scan:
    """A lazy dataset over a registry too large for memory: nothing is read until an analysis asks.

    Parameters
    ----------
    source : path, glob, folder, DuckDB file, DuckDB relation, DataFrame or dask DataFrame
        A Parquet or CSV file, a glob (``"registry/*.parquet"``), a folder of Parquet partitions (hive-style
        ``clinic=3/`` folders become columns), a DuckDB database file (``table`` names the long table or view;
        default ``long``, the view :meth:`Dataset.to_duckdb` writes), a ``duckdb`` relation, or, with
        ``engine="dask"``, a dask DataFrame or a Parquet path dask reads (any filesystem fsspec knows).
    engine : {"duckdb", "dask"}
        DuckDB runs embedded in this process; Dask runs the same plan on the current ``distributed`` client
        (start one with ``distributed.Client("tcp://scheduler:8786")`` or a ``LocalCluster``).
    mapping : dict, optional
        Renames ``{source column: canonical name}``.
    table, connection : DuckDB table/view name in a database file; the DuckDB connection to use (default: a
        new in-memory one; a relation's own connection is needed for ``duckdb`` relations).
    study : study name where the source has no ``study`` column (default ``"study"``, as ``mo.read``).
    progress : show DuckDB's progress bar and tqdm bars (default: on a terminal).
    name : the file name messages use (default: the source's).
    memory_limit, threads : DuckDB settings (e.g. ``"1GB"``; beyond the limit DuckDB spills to temporary files);
        default DuckDB's own (80% of RAM, every core).

    Returns
    -------
    Scan

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.io.sample import sample_path
    >>> sc = mo.scan(sample_path("trial"))
    >>> sc.count()
    3374
    >>> fx = sc.effect_sizes(instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), end="week_10")
    >>> round(float(fx["estimate"].iloc[0]), 6) == round(float(mo.effect_sizes(mo.load_sample("trial"),
    ...     instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), end="week_10")["estimate"].iloc[0]), 6)
    True
    """
    if engine not in ENGINES:
        raise ArgumentError(f"engine must be 'duckdb' or 'dask'; got {engine!r}")
    if engine == "dask":
        return _dask_scan(source, mapping=mapping, study=study, progress=progress, name=name)
    import duckdb

    if isinstance(source, duckdb.DuckDBPyRelation) and connection is None:
        connection = duckdb.default_connection()
    con = connection if connection is not None else duckdb.connect()
    sql, label = _source_sql(con, source, table=table, name=name or "")
    path = source if isinstance(source, str | Path) else None
    return Scan(con, _renamed(sql, con, mapping), name=label, study=study, progress=progress, path=path,
                memory_limit=memory_limit, threads=threads)

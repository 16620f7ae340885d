"""The embedded store: a validated study as a DuckDB database file (what :meth:`Dataset.to_duckdb` writes).

Tables ``subjects``, ``sessions`` and ``outcomes`` keep the Dataset's columns, with the vocabularies (condition,
technique, intent, timing) and the study's visits (in visit order) as DuckDB ENUM types; ``instruments`` holds
the registry entries of the study's instruments (range, direction, MCIDs as text) and ``dataset`` the format
version. The view ``long`` joins them into the canonical long format (one row per measurement, the session's
technique and intent where the row has a session, else the subject's), which :func:`massage_outcomes.scan`
reads by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.scale.sql import fetch, ident, quote

__all__ = ["write_duckdb", "write_tables", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_ENUMS = {"condition": vocab.CONDITION, "technique": vocab.TECHNIQUE, "intent": vocab.INTENT, "timing": vocab.TIMING}


def _enum(con: Any, name: str, values: list[str]) -> None:
    fetch(con, f"CREATE TYPE {ident(name)} AS ENUM ({', '.join(quote(v) for v in values) or quote('')})")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text (DuckDB casts them to the ENUM types in SQL)."""
    out = frame.reset_index(drop=True).copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _create(con: Any, table: str, frame: pd.DataFrame, enums: dict[str, str]) -> None:
    view = f"mo_src_{table}"
    con.register(view, _plain(frame))
    cols = [f"CAST({ident(c)} AS {ident(enums[c])}) AS {ident(c)}" if c in enums else ident(c) for c in frame.columns]
    fetch(con, f"CREATE TABLE {ident(table)} AS SELECT {', '.join(cols)} FROM {view}")
    con.unregister(view)


def _instrument_table(keys: list[str]) -> pd.DataFrame:
    rows = []
    for k in keys:
        inst = _instruments.get(k)
        rows.append({"key": inst.key, "name": inst.name, "construct": inst.construct, "min": float(inst.min),
                     "max": float(inst.max), "direction": str(inst.direction), "unit": inst.unit,
                     "mcids": "; ".join(str(m) for m in inst.mcids)})
    return pd.DataFrame(rows, columns=["key", "name", "construct", "min", "max", "direction", "unit", "mcids"])


def write_duckdb(ds: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``ds`` to a DuckDB file (see the module docstring); refuses to replace a file unless ``overwrite``."""
    import duckdb

    from massage_outcomes.errors import DataValidationError

    out = Path(path)
    if out.exists():
        if not overwrite:
            raise DataValidationError(f"{out} exists; pass overwrite=True to replace it.")
        out.unlink()
    con = duckdb.connect(str(out))
    try:
        write_tables(con, ds)
    finally:
        con.close()
    return out


def write_tables(con: Any, ds: Any) -> None:
    """Create the store's types, tables and ``long`` view in an open DuckDB connection (a file or ``:memory:``)."""
    enums = {c: f"mo_{c}" for c in _ENUMS}
    for c, voc in _ENUMS.items():
        _enum(con, enums[c], list(voc.terms))
    visits = [str(v) for v in ds.outcomes["visit"].cat.categories] if "visit" in ds.outcomes else []
    _enum(con, "mo_visit", visits)
    _create(con, "subjects", ds.subjects, enums)
    _create(con, "sessions", ds.sessions, enums)
    _create(con, "outcomes", ds.outcomes, {**enums, "visit": "mo_visit"})
    _create(con, "instruments", _instrument_table(list(ds.instruments)), {})
    fetch(con, f"CREATE TABLE dataset AS SELECT 'massage_outcomes.Dataset' AS format, {FORMAT_VERSION} AS version")
    fetch(con, _long_view(ds))


def _long_view(ds: Any) -> str:
    covs = [c for c in ds.covariates if c in ds.subjects.columns]
    sess = [c for c in ("therapist", "duration_min", "pressure", "body_region") if c in ds.sessions.columns]
    cov_sql = "".join(f", s.{ident(c)}" for c in covs)
    sess_sql = "".join(f", se.{ident(c)}" for c in sess)
    return ("CREATE VIEW long AS SELECT o.study, o.subject, s.arm, s.condition, s.clinic" + cov_sql +
            ", o.session, coalesce(se.technique, s.technique) AS technique, coalesce(se.intent, s.intent) AS intent"
            + sess_sql + ", o.instrument, o.visit, o.day, o.timing, o.value FROM outcomes o "
            "LEFT JOIN subjects s ON o.study = s.study AND o.subject = s.subject "
            "LEFT JOIN sessions se ON o.study = se.study AND o.subject = se.subject AND o.session = se.session")

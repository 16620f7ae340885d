"""SQL text helpers shared by the scan and its plans (the lowest module of the package; no package imports
but the schema's default study name)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from massage_outcomes.schema import DEFAULT_STUDY

__all__ = ["quote", "ident", "fetch", "study_expr", "case_map"]


def quote(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + str(name).replace('"', '""') + '"'


def fetch(con: Any, sql: str) -> list[tuple[Any, ...]]:
    """All result rows of one statement (a fresh relation per call: DuckDB keeps no result between calls)."""
    return con.sql(sql).fetchall()


def study_expr(columns: Sequence[str], study: str | None) -> str:
    """SQL for the study column (the source's, else the constant study name)."""
    if "study" in columns:
        return f"coalesce(CAST({ident('study')} AS VARCHAR), {quote(study or DEFAULT_STUDY)})"
    return quote(study or DEFAULT_STUDY)


def case_map(column: str, mapping: Mapping[Any, str]) -> str:
    """SQL CASE mapping each listed source value of ``column`` to its canonical term (others NULL)."""
    if not mapping:
        return "CAST(NULL AS VARCHAR)"
    col = f"CAST({ident(column)} AS VARCHAR)"
    whens = " ".join(f"WHEN {quote(str(k))} THEN {quote(v)}" for k, v in mapping.items())
    return f"(CASE {col} {whens} END)"

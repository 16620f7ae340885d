"""Responders on a scan: the engine picks, per subject, the one row each occasion uses; the in-memory
:func:`massage_outcomes.responders` then runs unchanged on those rows.

A responder count needs each subject's own start and end values compared with a threshold that can depend on
the group's condition (the registry's MCID) and on the start value (percent thresholds), so the reduction is to
subjects, not groups: at most two rows per subject come into Python (memory grows with subjects, never with
measurements). The rows are those the in-memory rule picks: at a timing the first (start) or last (end) row by
day, at a visit the first by day, ``end="last"`` the last visit with data (visits ordered by the earliest day
each is seen), ``end="last_observed"`` each subject's latest follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.errors import DataValidationError
from massage_outcomes.scale.sql import fetch, ident, quote

__all__ = ["responders", "subject_rows"]

_TIMINGS = ("baseline", "pre", "post", "followup")


def _occasion(which: str, role: str) -> tuple[str, str]:
    """(SQL condition, ORDER BY of the rows a subject may use) for one occasion."""
    if which == "last_observed":
        return "timing = 'followup'", "day DESC NULLS FIRST"
    if which in _TIMINGS:
        return f"timing = {quote(which)}", "day ASC NULLS LAST" if role == "start" else "day DESC NULLS FIRST"
    return f"visit = {quote(which)}", "day ASC NULLS LAST" if role == "start" else "day DESC NULLS FIRST"


def subject_rows(sc: Any, instrument: str, attrs: Sequence[str], start: str, end: str) -> pd.DataFrame:
    """Per subject the start row and the end row (canonical columns, ``visit_order`` from the engine)."""
    from massage_outcomes.scale import plan

    inst = _instruments.get(instrument)
    if str(start) in ("pre", "post") and str(end) in ("pre", "post"):
        raise DataValidationError("pre/post responders pair ratings by session; a scan pairs subjects only. Analyse "
                                  "session pairs in memory (mo.read / Dataset) or use start='baseline'.")
    if sc.engine == "dask":
        from massage_outcomes.scale.dask_engine import dask_subject_rows

        with_condition = [*attrs, *(["condition"] if "condition" in sc.columns else [])]
        rows, order = dask_subject_rows(sc, inst.key, with_condition, start, end)
        return as_analysis_rows(rows, order, inst.key)
    keys = [k for k, v in sc.vocabulary_maps().get("instrument", {}).items() if v == inst.key]
    if not keys:
        raise DataValidationError(f"no {inst.key!r} measurements in {sc.name}.")
    attrs = list(dict.fromkeys([*attrs, *(["condition"] if "condition" in sc.columns else [])]))
    canon = plan.canonical_sql(sc, inst.key, attrs)
    end_sel = end
    if end == "last":
        end_sel, _ = plan.resolve_end(sc, "last", keys)
    if end_sel == "last_observed":
        fu = fetch(sc.con, f"SELECT count(*) FROM ({canon}) WHERE timing = 'followup'")[0][0]
        end_cond, end_order = ("timing = 'followup'" if fu else "timing IS DISTINCT FROM 'baseline'"), "day DESC NULLS FIRST"
    else:
        end_cond, end_order = _occasion(end_sel, "end")
    start_cond, start_order = _occasion(start, "start")
    part = "PARTITION BY study, subject"
    q = (f"WITH c AS ({canon}), "
         f"s AS (SELECT * FROM c WHERE {start_cond} QUALIFY row_number() OVER ({part} ORDER BY {start_order}) = 1), "
         f"e AS (SELECT * FROM c WHERE {end_cond} QUALIFY row_number() OVER ({part} ORDER BY {end_order}) = 1) "
         "SELECT * FROM s UNION ALL SELECT * FROM e")
    if end_sel == "last_observed":  # the in-memory rule keeps follow-ups after the start day only
        q = (f"WITH c AS ({canon}), s AS (SELECT * FROM c WHERE {start_cond} QUALIFY row_number() OVER ({part} "
             f"ORDER BY {start_order}) = 1), e AS (SELECT c.* FROM c LEFT JOIN s USING (study, subject) WHERE "
             f"{end_cond.replace('timing', 'c.timing')} AND NOT coalesce(s.day >= c.day, false) QUALIFY row_number() OVER "
             f"(PARTITION BY c.study, c.subject ORDER BY c.{end_order}) = 1) SELECT * FROM s UNION ALL SELECT * FROM e")
    return as_analysis_rows(sc.con.sql(q).df(), _visit_order(sc), inst.key)


def as_analysis_rows(rows: pd.DataFrame, order: dict[str, int], instrument: str) -> pd.DataFrame:
    """The start and end rows an engine picked, as the analysis frame the in-memory responders read:
    ``visit_order`` from ``order``, vocabulary columns as categoricals in vocabulary order."""
    rows["visit_order"] = pd.array(rows["visit"].map(order), dtype="Int64")
    rows["instrument"] = instrument
    for c, voc in (("condition", vocab.CONDITION), ("technique", vocab.TECHNIQUE), ("intent", vocab.INTENT),
                   ("timing", vocab.TIMING)):
        if c in rows.columns:  # vocabulary order, as a Dataset's categoricals sort
            rows[c] = pd.Categorical(rows[c].astype(object), dtype=voc.dtype())
    for c in ("baseline", "change", "improvement"):
        rows[c] = np.nan  # the frame is an analysis frame; responders recompute improvement from the pairs
    return rows


def _visit_order(sc: Any) -> dict[str, int]:
    """Visit labels ranked by the earliest day each is seen (all instruments), as Dataset orders them."""
    if "visit" not in sc.columns:
        return {}
    day = f"CAST({ident('day')} AS DOUBLE)" if "day" in sc.columns else "NULL"
    q = (f"SELECT CAST({ident('visit')} AS VARCHAR) AS v, min({day}) AS d FROM ({sc.source_sql}) "
         f"WHERE {ident('visit')} IS NOT NULL GROUP BY 1 ORDER BY d NULLS LAST, v")
    return {str(v): i for i, (v, _d) in enumerate(fetch(sc.con, q))}


def responders(sc: Any, *, instrument: str, by: Sequence[str] | str = (), compare: tuple[str, str, str] | None = None,
               start: str = "baseline", end: str = "last", **kwargs: Any) -> pd.DataFrame:
    """:func:`massage_outcomes.responders` on a scan: the same arguments, columns and numbers.

    The engine reduces the rows to each subject's start and end rows (see the module docstring); the
    in-memory function computes the counts, rates, RD, RR, OR and NNT from them.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.io.sample import sample_path
    >>> kw = dict(instrument="rmdq", threshold=["mcid", 0.3], compare=("arm", "therapeutic", "usual_care"))
    >>> lazy = mo.scan(sample_path("trial")).responders(**kw)
    >>> lazy["risk_diff"].tolist() == mo.responders(mo.load_sample("trial"), **kw)["risk_diff"].tolist()
    True
    """
    from massage_outcomes.effects.clinical import responders as in_memory

    by_l = [by] if isinstance(by, str) else list(by)
    attrs = [*by_l, *([compare[0]] if compare is not None else [])]
    frame = subject_rows(sc, instrument, attrs, start, end)
    return in_memory(frame, instrument=instrument, by=by_l, compare=compare, start=start, end=end, **kwargs)

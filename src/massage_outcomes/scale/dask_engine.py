"""The sufficient-statistics plan in dask.dataframe, for data on a ``distributed`` cluster.

The same three steps as :mod:`massage_outcomes.scale.plan` (canonical rows, one row per subject with the mean
at each occasion, moments per group × arm), written with dask.dataframe operations so they run wherever the
current ``distributed`` client sends them: a ``LocalCluster`` in the tests, ``distributed.Client("tcp://host:8786")``
on a real cluster (create the client before calling an analysis; without one dask uses its local threads).
The centred sums of squares and cross-products take two passes (group means first, then the deviations), so
they match the DuckDB path and the in-memory path to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.effects.occasions import unknown_occasion
from massage_outcomes.errors import DataValidationError
from massage_outcomes.schema import DEFAULT_STUDY

__all__ = ["dask_moments", "dask_subject_rows", "pick_occasions", "pick_rows"]

_TIMINGS = ("baseline", "pre", "post", "followup")


def _canonical(sc: Any, instrument: str, attrs: Sequence[str]) -> tuple[Any, list[Any]]:
    """The canonical rows of one instrument (a dask DataFrame) and the source's names of the instrument."""
    # an index unique within each partition (dask may put several Parquet files in one), so columns align
    f = sc.dask_frame.reset_index(drop=True)
    cols = set(sc.columns)
    for need in ("subject", "instrument", "value", "timing"):
        if need not in cols:
            raise DataValidationError(f"{sc.name}: no {need!r} column; columns: {', '.join(sorted(cols))}.")
    maps = sc.vocabulary_maps()
    keys = [k for k, v in maps.get("instrument", {}).items() if v == instrument]
    if not keys:
        raise DataValidationError(f"no {instrument!r} measurements in {sc.name}.")
    f = f[f["instrument"].astype(str).isin([str(k) for k in keys])]
    out = {"study": f["study"].astype(str) if "study" in cols else f["subject"].map(lambda _: sc.study or DEFAULT_STUDY,
                                                                                   meta=("study", "str")),
           "subject": f["subject"].astype(str)}
    for a in dict.fromkeys(attrs):
        if a == "intent":
            out[a] = _intent(f, maps, cols)
        elif a in ("condition", "technique"):
            out[a] = f[a].astype(str).map(maps.get(a, {}), meta=(a, "str"))
        elif a not in cols:
            raise DataValidationError(f"column {a!r} not in {sc.name}; available: {', '.join(sorted(cols))}.")
        else:
            out[a] = f[a].astype(str).str.strip().mask(f[a].isnull())
    out["visit"] = f["visit"].astype(str).mask(f["visit"].isnull()) if "visit" in cols else f["value"].map(
        lambda _: None, meta=("visit", "str"))
    out["day"] = f["day"].astype(float) if "day" in cols else f["value"].astype(float) * np.nan
    out["timing"] = f["timing"].astype(str).map(maps.get("timing", {}), meta=("timing", "str"))
    out["value"] = f["value"].astype(float)
    import dask.dataframe as dd

    return dd.concat([out[k].rename(k) for k in out], axis=1), keys


def _intent(f: Any, maps: dict[str, dict[Any, str]], cols: set[str]) -> Any:
    tech = f["technique"].astype(str).map(maps.get("technique", {}), meta=("t", "str")) if "technique" in cols else None
    derived = tech.map({t: i for t, i in vocab.DEFAULT_INTENT.items() if i}, meta=("i", "str")) if tech is not None else None
    stated = f["intent"].astype(str).map(maps.get("intent", {}), meta=("intent", "str")) if "intent" in cols else None
    parts = [p for p in (stated, derived) if p is not None]
    if "arm" in cols:
        parts.append(f["arm"].astype(str).map(lambda a: vocab.INTENT.lookup(a), meta=("a", "str")))
    out = parts[0]
    for p in parts[1:]:
        out = out.fillna(p)
    return out


def _end(sc: Any, canon: Any, end: str, keys: list[Any]) -> tuple[str, str]:
    """(occasion, label) for ``end``, as :func:`massage_outcomes.scale.plan.resolve_end`."""
    if end not in ("last", "last_observed"):
        return end, str(end)
    if end == "last" and "visit" in sc.columns:
        f = sc.dask_frame
        f = f[f["visit"].notnull()]
        import dask

        first, has = dask.compute(f.groupby(f["visit"].astype(str))["day"].min(),
                                  canon[canon["visit"].notnull() & canon["value"].notnull()]["visit"].unique())
        cand = first[first.index.isin(list(has))]
        if len(cand):
            best = pd.DataFrame({"v": cand.index.astype(str), "d": cand.to_numpy(dtype=float)}).sort_values(
                ["d", "v"], na_position="first", kind="stable").iloc[-1]["v"]
            return str(best), f"{best} (last visit)"
    return "last_observed", "any follow-up"


def _cond(canon: Any, which: str, role: str) -> Any:
    if which in _TIMINGS:
        return canon["timing"] == which
    hit = canon["visit"] == which
    if not int(hit.sum().compute()):
        raise unknown_occasion(role, which, [str(v) for v in canon["visit"].dropna().unique().compute()])
    return hit


def _flags(canon: Any, start: str, end: str) -> tuple[Any, Any]:
    """Row masks of the start and end occasions (a visit label must name rows; last_observed: follow-ups, else
    anything not at baseline)."""
    is_s = _cond(canon, start, "start")
    if end != "last_observed":
        return is_s, _cond(canon, end, "end")
    fu = bool(int((canon["timing"] == "followup").sum().compute()))
    return is_s, (canon["timing"] == "followup") if fu else (canon["timing"] != "baseline") | canon["timing"].isnull()


def _start_end(part: pd.DataFrame, last_observed: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per subject (``_key``) of a partition of whole subjects, its start row and its end row, by the rule of
    :mod:`massage_outcomes.effects.occasions`: at the start its first row by day, at the end its last (missing
    days last, ties in row order; last_observed: after the start day)."""
    rows = part.iloc[np.argsort(part["day"].to_numpy(dtype=float, na_value=np.nan), kind="stable")]
    s = rows[rows["_s"].to_numpy(dtype=bool)].drop_duplicates("_key", keep="first")
    e = rows[rows["_e"].to_numpy(dtype=bool)]
    if last_observed:
        sday = e["_key"].map(s.set_index("_key")["day"]).to_numpy(dtype=float, na_value=np.nan)
        e = e[~(sday >= e["day"].to_numpy(dtype=float, na_value=np.nan))]
    return s, e.drop_duplicates("_key", keep="last")


def pick_occasions(part: pd.DataFrame, attrs: Sequence[str], last_observed: bool) -> pd.DataFrame:
    """One row per subject of a partition of whole subjects: ``_start``, ``_end`` (:func:`_start_end`) and the
    attributes of the end row, else the start row."""
    attrs = list(attrs)
    s, e = _start_end(part, last_observed)
    units = pd.concat([e, s[~s["_key"].isin(e["_key"])]], ignore_index=True)[["_key", *attrs]]
    units["_start"] = units["_key"].map(s.set_index("_key")["value"]).astype(float)
    units["_end"] = units["_key"].map(e.set_index("_key")["value"]).astype(float)
    return units


def pick_rows(part: pd.DataFrame, last_observed: bool) -> pd.DataFrame:
    """The start rows, then the end rows, of the subjects of a partition (:func:`_start_end`), flags dropped."""
    s, e = _start_end(part, last_observed)
    return pd.concat([s, e], ignore_index=True).drop(columns=["_key", "_s", "_e"])


def _by_subject(canon: Any, start: str, end: str, columns: Sequence[str]) -> Any:
    """The rows of the two occasions (``columns`` and the flags ``_key``, ``_s``, ``_e``), shuffled to partitions
    of whole subjects (one dask shuffle)."""
    is_s, is_e = _flags(canon, start, end)
    keep = is_s | is_e
    rows = canon[keep].assign(_key=canon["study"] + "\x1f" + canon["subject"], _s=is_s[keep], _e=is_e[keep])
    return rows[["_key", "_s", "_e", *dict.fromkeys([*columns, "day", "value"])]].shuffle(on="_key")


def _wide(canon: Any, start: str, end: str, attrs: Sequence[str]) -> Any:
    """One row per subject (:func:`pick_occasions` on partitions of whole subjects)."""
    meta = pd.DataFrame({"_key": pd.Series(dtype=object), **{a: pd.Series(dtype=object) for a in attrs},
                         "_start": pd.Series(dtype=float), "_end": pd.Series(dtype=float)})
    return _by_subject(canon, start, end, attrs).map_partitions(pick_occasions, list(attrs), end == "last_observed",
                                                                meta=meta)


def dask_subject_rows(sc: Any, instrument: str, attrs: Sequence[str], start: str, end: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Per subject its start row and its end row (canonical columns), computed by dask, and the visit order
    (visits ranked by the earliest day each is seen): what :func:`massage_outcomes.scale.clinical.subject_rows`
    takes from DuckDB."""
    import dask

    attrs = list(dict.fromkeys(attrs))
    canon, keys = _canonical(sc, instrument, attrs)
    end_sel, _ = _end(sc, canon, end, keys)
    cols = ["study", "subject", *attrs, "visit", "day", "timing", "value"]
    picked = _by_subject(canon, start, end_sel, cols).map_partitions(
        pick_rows, end_sel == "last_observed", meta=canon[cols]._meta)
    order: dict[str, int] = {}
    if "visit" in sc.columns:
        f = sc.dask_frame
        f = f[f["visit"].notnull()]
        rows, first = dask.compute(picked, f.groupby(f["visit"].astype(str))["day"].min())
        ranked = pd.DataFrame({"v": first.index.astype(str), "d": first.to_numpy(dtype=float)}).sort_values(
            ["d", "v"], na_position="last", kind="stable")
        order = {str(v): i for i, v in enumerate(ranked["v"])}
    else:
        rows = picked.compute()
    return rows.reset_index(drop=True), order


def dask_moments(sc: Any, spec: Any, attrs: Sequence[str]) -> tuple[pd.DataFrame, Any]:
    """The moments table of :func:`massage_outcomes.scale.plan.moments_sql`, computed by dask."""
    inst = _instruments.get(spec.instrument)
    if spec.start in ("pre", "post") and spec.end in ("pre", "post"):
        raise DataValidationError("pre/post ratings pair by session; a scan pairs subjects only.")
    attrs = list(dict.fromkeys(attrs))
    canon, keys = _canonical(sc, inst.key, attrs)
    end_sel, end_label = _end(sc, canon, spec.end, keys)
    if end_sel == spec.start:
        raise DataValidationError(f"`end`={spec.end!r} is {end_sel!r}, the same occasion as `start`.")
    # one row per subject, kept on the workers: the level check and both moment passes read it
    wide = _wide(canon, spec.start, end_sel, attrs).persist()
    if spec.compare is not None:
        col, a, b = spec.compare
        levels = set(wide[col].dropna().unique().compute().astype(str))
        absent = [str(v) for v in (a, b) if str(v) not in levels]
        if absent:
            raise DataValidationError(f"`compare` level(s) {', '.join(map(repr, absent))} not found in column "
                                      f"{col!r}; levels: {', '.join(sorted(levels))}.")
        wide["_arm"] = wide[col].map({str(a): 0.0, str(b): 1.0}, meta=("_arm", "float64"))
    else:
        wide["_arm"] = 0.0
    by = list(spec.by)
    wide = wide[[*by, "_arm", "_start", "_end"]]
    if by:
        wide = wide.dropna(subset=by)
    mom = _moments(wide, by, spec)
    return mom, replace(spec, labels={"end_sel": end_sel, "end_label": end_label})


def _moments(wide: Any, by: list[str], spec: Any) -> pd.DataFrame:
    group = [*by, "_arm"]
    wide = wide.assign(_miss=(wide["_start"].notnull() & wide["_end"].isnull()).astype(float))
    if spec.kind == "between":
        v = wide["_end"] - wide["_start"] if spec.on == "change" else wide["_end"]
        wide = wide.assign(_x=v)
        cols = {"_x": "mean"}
    else:
        pair = wide["_start"].notnull() & wide["_end"].notnull()
        wide = wide.assign(_x=wide["_start"].where(pair), _y=wide["_end"].where(pair))
        cols = {"_x": "mean", "_y": "mean"}
    g = wide.groupby(group, dropna=False)
    import dask

    first, count = dask.compute(g.agg({**cols, "_miss": "sum"}), g["_x"].count())
    first["n"] = count
    means = first[list(cols)].reset_index()
    dev = wide.merge(means.rename(columns={k: f"{k}_m" for k in cols}), on=group, how="left")
    sq = {"_xx": (dev["_x"] - dev["_x_m"]) ** 2}
    if "_y" in cols:
        sq["_yy"] = (dev["_y"] - dev["_y_m"]) ** 2
        sq["_xy"] = (dev["_x"] - dev["_x_m"]) * (dev["_y"] - dev["_y_m"])
    sums = dev.assign(**sq).groupby(group, dropna=False)[list(sq)].sum().compute()
    out = first.join(sums).reset_index()
    out = out.rename(columns={"_miss": "n_missing"})
    if spec.kind == "between":
        return out.rename(columns={"_x": "mean", "_xx": "m2"})[[*group, "n", "mean", "m2", "n_missing"]]
    out = out.rename(columns={"_x": "mean_x", "_y": "mean_y", "_xx": "m2_x", "_yy": "m2_y", "_xy": "cxy"})
    return out[[*group, "n", "mean_x", "mean_y", "m2_x", "m2_y", "cxy", "n_missing"]]

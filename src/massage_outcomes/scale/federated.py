"""Federated sites: each site shares only per-group summaries; the combined effect sizes equal the analysis of
all rows together.

A site runs :func:`site_summaries` on its own data (a :class:`~massage_outcomes.Dataset` or a scan) and sends the
small JSON file it writes: for each requested analysis, the specification and the moments per group × arm
(counts, means, centred sums of squares and cross-products, missing counts) -- group labels (condition,
technique, clinic, arm), never a subject identifier or a row. A coordinator runs :func:`combine` on the files:
moments merge exactly (Chan, Golub & LeVeque 1979: n = Σnₖ, mean = Σnₖmeanₖ/n, M2 = ΣM2ₖ + Σnₖ(meanₖ − mean)²),
so every estimate, exact interval and p-value equals the pooled-data result to rounding. This is the
sufficient-statistics idea behind lossless distributed regression (Luo et al. 2022, DLMM), applied to the
effect-size tables. Small cells can identify people: a site may refuse to share groups below ``min_count``.

References
----------
Chan TF, Golub GH, LeVeque RJ (1979). Updating formulae and a pairwise algorithm for computing sample variances.
Stanford CS report STAN-CS-79-773.
Luo C, Islam MN, Sheils NE, et al. (2022). DLMM as a lossless one-shot algorithm for collaborative multi-site
distributed linear mixed models. Nat Commun 13:1678. doi:10.1038/s41467-022-29160-4
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import ArgumentTypeError, DataValidationError
from massage_outcomes.scale.effects import (
    EffectSpec,
    check_spec,
    effects_from_moments,
    merge_moments,
    plan_effects,
)

__all__ = ["site_summaries", "combine", "FORMAT"]

FORMAT = "massage_outcomes.site_summary"
_VERSION = 1


def _as_scan(data: Any) -> Any:
    from massage_outcomes.dataset import Dataset
    from massage_outcomes.scale.scan import Scan

    if isinstance(data, Scan):
        return data
    if isinstance(data, Dataset):
        import duckdb

        from massage_outcomes.scale.store import write_tables

        con = duckdb.connect()
        write_tables(con, data)
        return Scan(con, "SELECT * FROM long", name="dataset")
    raise ArgumentTypeError(f"site_summaries takes a Dataset or a scan; got {type(data).__name__}")


def _spec(d: Mapping[str, Any]) -> EffectSpec:
    d = dict(d)
    by = d.pop("by", ())
    d["by"] = (by,) if isinstance(by, str) else tuple(by)
    if d.get("compare") is not None:
        d["compare"] = tuple(d["compare"])
    spec = EffectSpec(**d)
    check_spec(spec)
    return spec


def site_summaries(data: Any, *, site: str, path: str | Path, effects: Sequence[Mapping[str, Any]],
                   min_count: int = 0) -> Path:
    """Write one site's summaries (no subject identifiers, no rows) for the listed effect-size analyses.

    Parameters
    ----------
    data : Dataset or Scan
        The site's own data.
    site : str
        The site's name (recorded in the file).
    path : path
        The JSON file to write.
    effects : list of dict
        Each the keyword arguments of :func:`massage_outcomes.effect_sizes` (``instrument``, ``by``,
        ``compare``, ``on``, ``start``, ``end``, ``measure``, ``ci``, ...); bootstrap intervals cannot be
        combined from summaries and are refused.
    min_count : int
        Refuse to write when a shared group × arm holds fewer than this many subjects (but more than 0): such a
        cell can identify people. 0 (default) shares every cell.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_trial(n_per_arm=30, seed=4)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = mo.site_summaries(ds, site="A", path=pathlib.Path(d) / "a.json",
    ...                           effects=[dict(instrument="rmdq", compare=("arm", "therapeutic", "usual_care"))])
    ...     "subject" in f.read_text()
    False
    """
    sc = _as_scan(data)
    analyses = []
    for kw in effects:
        mom, spec = plan_effects(sc, _spec(kw))
        small = (mom["n"] > 0) & (mom["n"] < min_count)
        if small.any():
            raise DataValidationError(
                f"site {site!r}: {int(small.sum())} group(s) of {spec.instrument} hold fewer than {min_count} "
                "subjects; coarsen `by` or lower min_count if your agreement allows it.")
        records = mom.astype(object).where(mom.notna(), None).to_dict(orient="records")
        analyses.append({"spec": spec.to_dict(), "moments": records, "columns": list(mom.columns)})
    doc = {"format": FORMAT, "version": _VERSION, "site": str(site), "analyses": analyses}
    out = Path(path)
    out.write_text(json.dumps(doc, indent=1, default=_plain), encoding="utf-8")
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return str(v)


def _read(path: str | Path) -> dict[str, Any]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise DataValidationError(f"{path}: not a site summary file (written by mo.site_summaries).")
    return doc


def combine(files: Iterable[str | Path]) -> list[pd.DataFrame]:
    """Combine site summary files into the effect-size tables of all sites' rows together (one per analysis).

    Every file must hold the same analyses (same specification, and the same resolved ``end`` occasion); the
    result tables are those of :func:`massage_outcomes.effect_sizes` on the pooled data.
    """
    docs = [_read(f) for f in files]
    if not docs:
        raise DataValidationError("combine() needs at least one site summary file.")
    first = docs[0]["analyses"]
    out = []
    for i, a in enumerate(first):
        specs = [d["analyses"][i]["spec"] if i < len(d["analyses"]) else None for d in docs]
        differ = [d["site"] for d, s in zip(docs, specs, strict=True) if s != a["spec"]]
        if differ:
            raise DataValidationError(
                f"analysis {i + 1}: site(s) {', '.join(differ)} summarised a different analysis (or resolved "
                f"end={a['spec']['end']!r} to another visit); have every site run the same list, with explicit visits.")
        spec = EffectSpec.from_dict(a["spec"])
        tables = [pd.DataFrame(d["analyses"][i]["moments"], columns=d["analyses"][i]["columns"]) for d in docs]
        for t in tables:
            t["_arm"] = pd.to_numeric(t["_arm"], errors="coerce")
        mom = merge_moments(tables, list(spec.by))
        out.append(effects_from_moments(mom, spec))
    return out

"""Sites share only summaries; combined, they give the effect sizes of all rows analysed together."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.scale import scan

ANALYSES = [
    dict(instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), end="week_10"),
    dict(instrument="rmdq", by="arm", measure="cohens_d"),
    dict(instrument="pain_nrs", compare=("arm", "therapeutic", "relaxation"), on="ancova", measure="hedges_g",
         end="week_10", adjust="bonferroni"),
]


def _split(ds: mo.Dataset, k: int) -> list[mo.Dataset]:
    subjects = ds.subjects["subject"].to_numpy()
    site_of = dict(zip(subjects, np.arange(len(subjects)) % k, strict=True))
    parts = []
    cols = ["study", "subject", "arm", "condition", "technique", "intent", "session", "visit", "day", "timing",
            "instrument", "value"]
    both = [ds.analysis_frame(i)[cols] for i in ("rmdq", "pain_nrs")]
    full = pd.concat(both, ignore_index=True)
    for s in range(k):
        rows = full[full["subject"].map(site_of) == s]
        parts.append(mo.Dataset.from_long(rows.astype({c: object for c in ("arm", "condition", "technique",
                                                                             "intent", "visit", "timing")})))
    return parts


def test_combined_sites_equal_pooled_fit(tmp_path, same_table):
    ds = mo.simulate_trial(n_per_arm=60, seed=21)
    sites = _split(ds, 3)
    files = [mo.site_summaries(s, site=f"site{i}", path=tmp_path / f"s{i}.json", effects=ANALYSES)
             for i, s in enumerate(sites)]
    for f in files:
        text = f.read_text()
        assert all(str(s) not in text for s in ds.subjects["subject"])  # no subject identifiers
        assert len(text) < 40_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.SmallSampleWarning)
        combined = mo.combine(files)
        for got, kw in zip(combined, ANALYSES, strict=True):
            same_table(got.full, mo.effect_sizes(ds, **kw).full)


def test_site_from_a_scan_and_checks(tmp_path):
    ds = mo.simulate_trial(n_per_arm=40, seed=2)
    sites = _split(ds, 2)
    p0 = sites[0].to_duckdb(tmp_path / "a.duckdb")
    f0 = mo.site_summaries(scan(p0), site="a", path=tmp_path / "a.json", effects=ANALYSES[:1])
    f1 = mo.site_summaries(sites[1], site="b", path=tmp_path / "b.json", effects=ANALYSES[1:2])
    with pytest.raises(mo.DataValidationError, match="different analysis"):
        mo.combine([f0, f1])
    with pytest.raises(mo.DataValidationError, match="fewer than 1000"):
        mo.site_summaries(sites[1], site="b", path=tmp_path / "c.json", effects=ANALYSES[:1], min_count=1000)
    with pytest.raises(mo.ArgumentError, match="bootstrap"):
        mo.site_summaries(sites[1], site="b", path=tmp_path / "d.json", effects=[dict(ANALYSES[0], ci="bca")])
    doc = json.loads(f0.read_text())
    assert doc["format"] == "massage_outcomes.site_summary" and doc["site"] == "a"

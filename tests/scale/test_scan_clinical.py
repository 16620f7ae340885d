"""Responders on a scan equal the in-memory responders on the same rows (exactly: the same counts)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io.sample import sample_path
from massage_outcomes.scale import scan

CASES = [
    dict(instrument="rmdq", threshold=["mcid", 0.3, 0.5], compare=("arm", "therapeutic", "usual_care")),
    dict(instrument="pain_nrs", threshold=2, compare=("arm", "therapeutic", "relaxation"), end="week_4"),
    dict(instrument="rmdq", threshold="mcid", by="arm", missing="nonresponders"),
    dict(instrument="rmdq", threshold=0.3, by=["technique"], end="last_observed"),
    dict(instrument="pain_nrs", threshold=[1, 0.5], compare=("intent", "therapeutic", "relaxation"),
         end="followup", continuity=0.5),
]


@pytest.fixture(scope="module")
def trial():
    return mo.load_sample("trial"), scan(sample_path("trial"))


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: f"{kw['instrument']}-{kw.get('end', 'last')}-{kw.get('by', '')}")
def test_responders_scan_equals_memory(trial, kw, same_table):
    ds, sc = trial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = mo.responders(ds, **kw)
        got = sc.responders(**kw)
    same_table(got, want, rtol=0.0)


def test_clinic_mcid_by_condition(tmp_path, same_table):
    pd.read_csv(sample_path("clinic")).to_parquet(tmp_path / "c.parquet")
    ds = mo.load_sample("clinic")
    kw = dict(instrument=ds.instruments[0], threshold=["mcid", 0.5], by=["condition", "clinic"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_table(scan(tmp_path / "c.parquet").responders(**kw), mo.responders(ds, **kw), rtol=0.0)

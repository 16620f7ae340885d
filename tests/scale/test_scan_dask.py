"""engine="dask" on a distributed LocalCluster the test starts: the same numbers as DuckDB and pandas."""

from __future__ import annotations

import logging
import warnings

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io.sample import sample_path
from massage_outcomes.scale import scan

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

CASES = [  # one between-group table with groups and an adjustment, one paired kind (the other path)
    dict(by=["condition", "technique"], compare=("intent", "therapeutic", "relaxation"), adjust="sidak"),
    dict(by="arm", measure="cohens_d"),
]


@pytest.fixture(scope="module")
def client():
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def trial_frame():
    return pd.read_csv(sample_path("trial"))


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_dask_duckdb_pandas_agree(client, trial_frame, kw, same_table):
    ds = mo.load_sample("trial")
    lazy = scan(dd.from_pandas(trial_frame, npartitions=3), engine="dask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.SmallSampleWarning)
        want = mo.effect_sizes(ds, instrument="rmdq", **kw).full
        same_table(lazy.effect_sizes(instrument="rmdq", **kw).full, want)
        same_table(scan(sample_path("trial")).effect_sizes(instrument="rmdq", **kw).full, want)


def test_dask_reads_parquet_paths(client, trial_frame, tmp_path, same_table):
    for i, part in enumerate((trial_frame.iloc[:1500], trial_frame.iloc[1500:])):
        part.to_parquet(tmp_path / f"p{i}.parquet")
    kw = dict(instrument="pain_nrs", compare=("arm", "therapeutic", "relaxation"), end="week_4")
    got = scan(str(tmp_path / "*.parquet"), engine="dask").effect_sizes(**kw).full
    same_table(got, mo.effect_sizes(mo.load_sample("trial"), **kw).full)


OCCASION_CASES = [  # several rows of a subject at the end occasion; each subject's own last follow-up
    dict(compare=("arm", "therapeutic", "usual_care"), end="followup"),
    dict(by="arm", end="last_observed"),
    dict(compare=("arm", "therapeutic", "usual_care"), on="ancova", end="last_observed"),
]


@pytest.mark.parametrize("kw", OCCASION_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_dask_occasion_rule(client, trial_frame, kw, same_table):
    lazy = scan(dd.from_pandas(trial_frame, npartitions=3), engine="dask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.SmallSampleWarning)
        want = mo.effect_sizes(mo.load_sample("trial"), instrument="rmdq", **kw).full
        same_table(lazy.effect_sizes(instrument="rmdq", **kw).full, want)
        same_table(scan(sample_path("trial")).effect_sizes(instrument="rmdq", **kw).full, want)


RESPONDER_CASES = [
    dict(instrument="rmdq", threshold=["mcid", 0.3], compare=("arm", "therapeutic", "usual_care")),
    dict(instrument="rmdq", threshold=0.3, by=["technique"], end="last_observed"),
    dict(instrument="pain_nrs", threshold=[1, 0.5], compare=("intent", "therapeutic", "relaxation"), end="followup"),
    dict(instrument="pain_nrs", threshold=2, compare=("arm", "therapeutic", "relaxation"), end="week_4"),
]


@pytest.mark.parametrize("kw", RESPONDER_CASES, ids=lambda kw: f"{kw['instrument']}-{kw.get('end', 'last')}")
def test_dask_responders(client, trial_frame, kw, same_table):
    lazy = scan(dd.from_pandas(trial_frame, npartitions=3), engine="dask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = mo.responders(mo.load_sample("trial"), **kw)
        same_table(lazy.responders(**kw), want, rtol=0.0)
        same_table(scan(sample_path("trial")).responders(**kw), want, rtol=0.0)


def test_dask_validate_equals_duckdb_and_pandas(client, tmp_path):
    """The rules on dask partitions of whole subjects: the same report, rows and accounting as DuckDB and as
    mo.validate on the same Parquet files; quarantine writes the rejected rows and analyses the rest."""
    from test_scan_validation import _key

    frame = pd.read_csv(sample_path("trial"), dtype=str)
    frame.loc[[5, 700, 2900], "value"] = ["99", "x", "-3"]
    frame.loc[1200, "arm"] = "relaxation" if frame.loc[1200, "arm"] != "relaxation" else "therapeutic"
    (tmp_path / "parts").mkdir()
    for i, (lo, hi) in enumerate(((0, 1000), (1000, 2400), (2400, len(frame)))):
        frame.iloc[lo:hi].to_parquet(tmp_path / "parts" / f"p{i}.parquet")
    glob = str(tmp_path / "parts" / "*.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        duck = scan(glob)
        want = duck.validate()
        lazy = scan(glob, engine="dask")
        got = lazy.validate(chunk_rows=800)
        whole = pd.concat([pd.read_parquet(tmp_path / "parts" / f"p{i}.parquet") for i in range(3)],
                          ignore_index=True)
        whole.to_parquet(tmp_path / "all.parquet")
        mem = mo.validate(tmp_path / "all.parquet")
    assert _key(got) == _key(want) == _key(mem)
    assert lazy.checked_by == "dask partitions"
    assert lazy.rows == duck.rows
    assert lazy.rows["rows_rejected"] >= 4
    q = scan(glob, engine="dask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q.validate(on_error="quarantine", quarantine=tmp_path / "rejected.parquet")
        kept = q.effect_sizes(instrument="pain_nrs", by="arm").full
        dq = scan(glob)
        dq.validate(on_error="quarantine", quarantine=tmp_path / "rejected_duck.parquet")
        same = dq.effect_sizes(instrument="pain_nrs", by="arm").full
    assert len(pd.read_parquet(tmp_path / "rejected.parquet")) == q.rows["rows_rejected"]
    assert sorted(pd.read_parquet(tmp_path / "rejected.parquet")["row"]) == sorted(
        pd.read_parquet(tmp_path / "rejected_duck.parquet")["row"])
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), same.reset_index(drop=True), check_dtype=False)


def test_dask_refuses_to_number_csv_lines(client):
    with pytest.raises(mo.DataValidationError, match="engine='duckdb'"):
        scan(str(sample_path("trial")), engine="dask").validate()

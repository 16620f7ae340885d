"""Effect sizes on a scan equal the in-memory effect_sizes on the same rows (1e-10 relative)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io.sample import sample_path
from massage_outcomes.scale import scan

TRIAL_CASES = [
    dict(compare=("arm", "therapeutic", "usual_care"), end="week_10"),
    dict(compare=("arm", "therapeutic", "relaxation"), on="end"),
    dict(compare=("arm", "therapeutic", "relaxation"), measure="mean_diff", ci="normal", level=0.9),
    dict(compare=("arm", "relaxation", "usual_care"), measure="glass_delta", correction="approx"),
    dict(by="technique"),
    dict(by="arm", measure="d_av", ci="normal", end="week_4"),
    dict(compare=("arm", "therapeutic", "usual_care"), on="ancova", measure="hedges_g"),
    dict(compare=("arm", "therapeutic", "usual_care"), on="ancova", measure="mean_diff", standardizer="residual"),
    dict(compare=("arm", "therapeutic", "usual_care"), on="ppc", measure="d_ppc2", ci="normal"),
    dict(by=["condition", "technique"], compare=("intent", "therapeutic", "relaxation"), adjust="bonferroni"),
    dict(by="arm", adjust="holm", end="last_observed"),
    # several rows of a subject at one occasion: the last by day at the end, the first at the start
    dict(compare=("arm", "therapeutic", "usual_care"), end="followup"),
    dict(compare=("arm", "therapeutic", "usual_care"), on="ancova", end="followup"),
    dict(by="arm", start="week_4", end="followup"),
]


@pytest.fixture(scope="module")
def trial() -> tuple[mo.Dataset, object]:
    return mo.load_sample("trial"), scan(sample_path("trial"))


@pytest.mark.parametrize("kw", TRIAL_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("instrument", ["rmdq", "pain_nrs"])
def test_trial_scan_equals_memory(trial, kw, instrument, same_table):
    ds, sc = trial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.SmallSampleWarning)
        want = mo.effect_sizes(ds, instrument=instrument, **kw).full
        got = sc.effect_sizes(instrument=instrument, **kw).full
    same_table(got, want)


def test_clinic_parquet_by_clinic_and_technique(tmp_path, same_table):
    frame = pd.read_csv(sample_path("clinic"))
    frame.to_parquet(tmp_path / "clinic.parquet")
    ds = mo.load_sample("clinic")
    sc = scan(tmp_path / "clinic.parquet")
    inst = ds.instruments[0]
    kw = dict(instrument=inst, by=["clinic", "technique"], compare=("intent", "therapeutic", "relaxation"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mo.SmallSampleWarning)
        same_table(sc.effect_sizes(**kw).full, mo.effect_sizes(ds, **kw).full)


def test_simulated_partitioned_parquet(tmp_path, same_table):
    ds = mo.simulate_trial(n_per_arm=150, seed=11)
    long = ds.analysis_frame("rmdq")
    cols = ["study", "subject", "arm", "condition", "technique", "intent", "session", "visit", "day", "timing",
            "instrument", "value"]
    flat = long[cols].astype({c: "object" for c in ("arm", "condition", "technique", "intent", "visit", "timing")})
    cuts = np.linspace(0, len(flat), 4).astype(int)
    for i in range(3):
        d = tmp_path / f"part={i}"
        d.mkdir()
        flat.iloc[cuts[i]:cuts[i + 1]].to_parquet(d / "data.parquet")
    sc = scan(tmp_path)
    for kw in (dict(compare=("arm", "therapeutic", "usual_care"), end="week_10"),
               dict(by="arm", measure="g_rm", ci="normal"),
               dict(compare=("arm", "therapeutic", "relaxation"), on="ancova", measure="cohens_d")):
        same_table(sc.effect_sizes(instrument="rmdq", **kw).full,
                          mo.effect_sizes(ds, instrument="rmdq", **kw).full)


def test_bootstrap_on_a_scan_says_it_cannot(trial):
    _, sc = trial
    with pytest.raises(mo.ArgumentError, match="bootstrap resamples subjects"):
        sc.effect_sizes(instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), ci="bca")


def test_argument_errors_match_memory(trial):
    ds, sc = trial
    for kw in (dict(compare=("arm", "therapeutic", "nobody")), dict(end="week_99"), dict(on="ppc")):
        with pytest.raises(mo.MassageOutcomesError) as mem:
            mo.effect_sizes(ds, instrument="rmdq", **kw)
        with pytest.raises(mo.MassageOutcomesError) as lazy:
            sc.effect_sizes(instrument="rmdq", **kw)
        assert (type(lazy.value), str(lazy.value)) == (type(mem.value), str(mem.value))


def test_synonyms_are_mapped_in_the_engine(tmp_path, same_table):
    frame = pd.read_csv(sample_path("trial"))
    frame["technique"] = frame["technique"].replace({"swedish": "Swedish massage", "myofascial_release": "MFR"})
    frame["condition"] = frame["condition"].replace({"low_back_pain": "LBP"})
    frame.to_csv(tmp_path / "t.csv", index=False)
    kw = dict(instrument="rmdq", by=["condition", "technique"])
    got = scan(tmp_path / "t.csv").effect_sizes(**kw).full
    same_table(got, mo.effect_sizes(mo.load_sample("trial"), **kw).full)


def test_the_public_functions_take_a_scan_unchanged(trial):
    """mo.effect_sizes(scan) and mo.responders(scan) run in the engine and give the in-memory numbers."""
    ds, sc = trial
    kw = dict(instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), end="week_10")
    lazy, mem = mo.effect_sizes(sc, **kw), mo.effect_sizes(ds, **kw)
    assert type(lazy).__name__ == type(mem).__name__
    np.testing.assert_allclose(lazy.full[["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float),
                               mem.full[["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float), rtol=0, atol=1e-10)
    r_lazy, r_mem = mo.responders(sc, **kw), mo.responders(ds, **kw)
    assert r_lazy["risk_diff"].tolist() == r_mem["risk_diff"].tolist()
    with pytest.raises(mo.ArgumentError, match="return_draws"):
        mo.effect_sizes(sc, **kw, return_draws=True)


def test_occasion_rule_on_shuffled_rows(same_table):
    """Several follow-ups per subject in an order unlike their days, some subjects without any: the end is each
    subject's last follow-up by day (not the last row, nor their mean), as in memory."""
    rng = np.random.default_rng(5)
    n = 120
    subj = np.repeat([f"s{i:03d}" for i in range(n)], 5)
    timing = np.tile(["baseline", "followup", "followup", "followup", "followup"], n)
    day = np.tile([0.0, 14.0, 28.0, 42.0, 56.0], n) + np.where(timing == "followup", rng.integers(0, 5, 5 * n), 0)
    value = np.clip(rng.normal(12, 5, day.size).round(), 0, 24)
    arm = np.repeat(np.where(np.arange(n) % 2 == 0, "therapeutic", "usual_care"), 5)
    long = pd.DataFrame({"subject": subj, "arm": arm, "timing": timing, "day": day, "instrument": "rmdq",
                         "value": value})
    long = long[~((timing == "followup") & (np.repeat(np.arange(n), 5) % 9 == 0))]  # dropouts
    long = long.sample(frac=1.0, random_state=3).reset_index(drop=True)
    ds = mo.Dataset.from_long(long)
    sc = scan(long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in (dict(end="followup"), dict(end="last_observed"), dict(on="ancova", end="followup")):
            kw = dict(compare=("arm", "therapeutic", "usual_care"), **kw)
            same_table(sc.effect_sizes(instrument="rmdq", **kw).full, mo.effect_sizes(ds, instrument="rmdq", **kw).full)


def test_attributes_that_change_between_a_subjects_rows(same_table):
    """A subject's technique differs between its baseline and follow-up sessions: the scan notices that grouping
    subjects with their attributes split them and takes the end row's technique, as in memory."""
    rng = np.random.default_rng(8)
    n = 80
    subj = np.repeat([f"s{i:03d}" for i in range(n)], 3)
    timing = np.tile(["baseline", "followup", "followup"], n)
    tech = np.where((timing == "baseline") & (np.repeat(np.arange(n), 3) % 4 == 0), "swedish", "deep_tissue").astype(object)
    tech[(timing == "followup") & (np.repeat(np.arange(n), 3) % 3 == 0)] = "trigger_point"
    long = pd.DataFrame({"subject": subj, "session": np.tile([1, 2, 3], n), "technique": tech, "timing": timing,
                         "day": np.tile([0.0, 21.0, 42.0], n), "instrument": "rmdq",
                         "value": np.clip(rng.normal(12, 5, 3 * n).round(), 0, 24)})
    ds = mo.Dataset.from_long(long)
    import massage_outcomes.scale.effects as scale_effects

    calls = []
    fast = scale_effects._moments

    def spy(*args, **kwargs):
        calls.append(fast(*args, **kwargs) is None)
        return fast(*args, **kwargs)

    scale_effects._moments = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for kw in (dict(by="technique"), dict(by="technique", end="last_observed")):
                same_table(scan(long).effect_sizes(instrument="rmdq", **kw).full,
                           mo.effect_sizes(ds, instrument="rmdq", **kw).full)
    finally:
        scale_effects._moments = fast
    assert calls == [True, True]  # the split was seen, and the exact pick per attribute ran


def test_pool_of_a_scans_clinic_effects_equals_memory(tmp_path, same_table):
    """Issue 11 item 2's `pool`: a scan's per-clinic effect table pools as the in-memory one does (metafor's
    REML on the same estimates and SEs)."""
    frame = pd.read_csv(sample_path("clinic"))
    frame.to_parquet(tmp_path / "clinic.parquet")
    ds = mo.load_sample("clinic")
    kw = dict(instrument=ds.instruments[0], by="clinic", compare=("intent", "therapeutic", "relaxation"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lazy = mo.effect_sizes(scan(tmp_path / "clinic.parquet"), **kw)
        mem = mo.effect_sizes(ds, **kw)
        same_table(mo.pool(lazy), mo.pool(mem))
    assert int(mo.pool(mem)["k"].iloc[0]) >= 2  # clinics pooled

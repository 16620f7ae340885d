"""Dataset: canonical types, keys, analysis frame (direction-aware derivations), summary, repr, Parquet round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.dataset import Dataset, as_analysis_frame, order_visits
from massage_outcomes.errors import DataValidationError


def _tables():
    subjects = pd.DataFrame({"subject": ["s1", "s2", "s3"], "arm": ["therapeutic", "relaxation", "usual_care"],
                             "condition": ["LBP", "low back pain", "sciatica"], "age": [40, 50, 60],
                             "technique": ["MFR", "Swedish massage", None]})
    sessions = pd.DataFrame({"subject": ["s1", "s1", "s2"], "session": [1, 2, 1], "day": [7.0, 14.0, 7.0],
                             "technique": [None, "deep tissue", None], "therapist": ["T1", "T2", "T1"],
                             "duration_min": [60, 60, 30]})
    outcomes = pd.DataFrame({
        "subject": ["s1", "s1", "s1", "s1", "s2", "s2", "s3", "s3"],
        "instrument": ["rmdq", "rmdq", "pain_nrs", "pain_nrs", "rmdq", "rmdq", "rmdq", "rmdq"],
        "visit": ["baseline", "week 10", None, None, "baseline", "week 10", "baseline", "week 10"],
        "day": [0, 70, 7, 7, 0, 70, 0, 70], "timing": ["baseline", "followup", "pre", "post"] + ["baseline",
                                                                                                "followup"] * 2,
        "session": [None, None, 1, 1, None, None, None, None], "value": [12, 6, 6, 3, 10, 10, 0, 4]})
    return subjects, sessions, outcomes


def test_canonical_dtypes_and_vocab():
    ds = Dataset(*_tables())
    s, se, o = ds.subjects, ds.sessions, ds.outcomes
    assert list(s.columns[:7]) == ["study", "subject", "arm", "condition", "clinic", "technique", "intent"]
    assert s["study"].tolist() == ["study"] * 3
    assert s["condition"].tolist() == ["low_back_pain", "low_back_pain", "sciatica"]
    assert list(s["condition"].cat.categories) == list(mo.vocab.CONDITIONS)
    assert s["intent"].tolist() == ["therapeutic", "relaxation", "control"]  # technique, technique, arm
    assert se["technique"].tolist() == ["myofascial_release", "deep_tissue", "swedish"]  # subject's when missing
    assert se["intent"].tolist() == ["therapeutic", "therapeutic", "relaxation"]
    assert str(se["session"].dtype) == "int64" and str(se["date"].dtype) == "datetime64[ns]"
    assert str(o["session"].dtype) == "Int64" and o["value"].dtype == float and o["day"].dtype == float
    assert o["visit"].cat.ordered and list(o["visit"].cat.categories) == ["baseline", "week 10"]
    assert o["timing"].dtype == mo.vocab.TIMING.dtype()
    assert pd.api.types.is_string_dtype(s["subject"].dtype) and pd.api.types.is_string_dtype(o["instrument"])
    assert ds.instruments == ["pain_nrs", "rmdq"]
    assert ds.covariates == ["age"]


@pytest.mark.parametrize(("table", "change", "match"), [
    ("subjects", lambda s, se, o: (pd.concat([s, s.iloc[[0]]]), se, o), "duplicated key"),
    ("sessions", lambda s, se, o: (s, pd.concat([se, se.iloc[[0]]]), o), "duplicated key"),
    ("outcomes", lambda s, se, o: (s, se, pd.concat([o, o.iloc[[0]]])), "duplicated key"),
    ("unknown subject", lambda s, se, o: (s.iloc[1:], se.iloc[2:], o), "not in the subjects table"),
    ("unknown session", lambda s, se, o: (s, se.iloc[1:], o), "not in the sessions table"),
    ("unknown condition", lambda s, se, o: (s.assign(condition=["LBP", "LBP", "bad knee"]), se, o), "condition"),
    ("unknown instrument", lambda s, se, o: (s, se, o.assign(instrument="rmqd")), "Did you mean 'rmdq'"),
    ("pre without session", lambda s, se, o: (s, se, o.assign(session=None)), "without a session"),
])
def test_constructor_rejects(table, change, match):
    with pytest.raises(DataValidationError, match=match):
        Dataset(*change(*_tables()))


def test_analysis_frame_columns_and_derivations():
    ds = Dataset(*_tables())
    af = ds.analysis_frame("rmdq")
    assert list(af.columns) == [
        "study", "subject", "arm", "condition", "clinic", "age", "session", "technique", "intent", "therapist",
        "duration_min", "visit", "visit_order", "day", "week", "timing", "instrument", "value", "baseline",
        "change", "improvement", "pct_improvement"]
    assert af["baseline"].tolist() == [12, 12, 10, 10, 0, 0]
    assert af["change"].tolist() == [0, -6, 0, 0, 0, 4]
    assert af["improvement"].tolist() == [0, 6, 0, 0, 0, -4]  # lower is better on the RMDQ
    np.testing.assert_allclose(af["pct_improvement"], [0, 50, 0, 0, np.nan, np.nan])  # NaN at baseline 0
    assert af["visit_order"].tolist() == [0, 1, 0, 1, 0, 1]
    assert af["week"].tolist() == [0, 10, 0, 10, 0, 10]
    # technique/intent: the subject's allocation when the row has no session; therapist: modal one
    assert af["technique"].astype(object).tolist()[:2] == ["myofascial_release"] * 2
    assert af["therapist"].tolist()[:2] == ["T1", "T1"]
    assert pd.isna(af["therapist"].iloc[4])
    pain = ds.analysis_frame("pain_nrs")
    assert pain["technique"].astype(object).tolist() == ["myofascial_release"] * 2  # session 1 inherits
    assert pain["therapist"].tolist() == ["T1", "T1"] and pain["duration_min"].tolist() == [60, 60]
    assert pain["baseline"].isna().all()


def test_higher_is_better_instrument():
    long = pd.DataFrame({"subject": ["a", "a", "b", "b"], "instrument": "mouth_opening", "day": [0, 42, 0, 42],
                         "value": [30.0, 36.0, 40.0, 38.0]})
    af = Dataset.from_long(long).analysis_frame()
    assert af["improvement"].tolist() == [0, 6, 0, -2]
    np.testing.assert_allclose(af["pct_improvement"], [0, 20, 0, -5])


def test_analysis_frame_needs_instrument_when_several():
    ds = Dataset(*_tables())
    with pytest.raises(ValueError, match="several instruments"):
        ds.analysis_frame()
    with pytest.raises(DataValidationError, match="no 'odi' measurements"):
        ds.analysis_frame("odi")


def test_as_analysis_frame_accepts_dataset_or_frame():
    ds = Dataset(*_tables())
    a = as_analysis_frame(ds, "rmdq")
    b = as_analysis_frame(a, "rmdq")
    pd.testing.assert_frame_equal(a, b)
    both = pd.concat([a, ds.analysis_frame("pain_nrs")], ignore_index=True)
    pd.testing.assert_frame_equal(as_analysis_frame(both, "rmdq"), a)
    raw = ds.outcomes[ds.outcomes["instrument"] == "rmdq"].merge(ds.subjects[["subject", "arm"]])
    c = as_analysis_frame(raw, "rmdq")
    assert c["improvement"].tolist() == a["improvement"].tolist()
    with pytest.raises(TypeError):
        as_analysis_frame([1, 2], "rmdq")


def test_from_long_round_trips_an_analysis_frame():
    ds = Dataset(*_tables())
    long = pd.concat([ds.analysis_frame(i) for i in ds.instruments], ignore_index=True)
    back = Dataset.from_long(long)
    for name in ("subjects", "outcomes"):
        a = getattr(ds, name).sort_values(["subject"], kind="stable").reset_index(drop=True)
        b = getattr(back, name).sort_values(["subject"], kind="stable").reset_index(drop=True)
        if name == "outcomes":
            a = a.sort_values(["subject", "instrument", "day", "timing"]).reset_index(drop=True)
            b = b.sort_values(["subject", "instrument", "day", "timing"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a[b.columns], b, check_dtype=False, check_categorical=False)


def test_from_long_conflict_names_both_rows():
    long = pd.DataFrame({"subject": ["a", "a", "a"], "arm": ["x", "x", "y"], "instrument": "rmdq",
                         "day": [0, 70, 182], "value": [10, 5, 4]})
    with pytest.raises(DataValidationError) as info:
        Dataset.from_long(long)
    (p,) = info.value.report.problems
    assert (p.row, p.column, p.rule) == (2, "arm", "subject_conflict") and "row 0" in p.message
    ds = Dataset.from_long(long, on_error="quarantine")
    assert ds.rejected["row"].tolist() == [2] and len(ds.outcomes) == 2


def test_summary_and_repr():
    ds = Dataset(*_tables())
    summ = ds.summary()
    assert list(summ.columns) == ["study", "instrument", "arm", "timing", "visit", "n_subjects", "n", "mean", "sd",
                                  "min", "max"]
    row = summ[(summ["instrument"] == "rmdq") & (summ["arm"] == "therapeutic") & (summ["visit"] == "week 10")]
    assert row["mean"].item() == 6 and row["n"].item() == 1
    text = repr(ds)
    assert text.startswith("Dataset: 3 subjects, 3 sessions, 8 outcome rows")
    assert "instruments: pain_nrs 2, rmdq 6" in text
    assert "<strong>" in ds._repr_html_()


def test_parquet_round_trip_keeps_everything(tmp_path):
    ds = mo.simulate_trial(n_per_arm=8, seed=11)
    ds.to_parquet(tmp_path / "ds")
    back = Dataset.from_parquet(tmp_path / "ds")
    for name in ("subjects", "sessions", "outcomes"):
        pd.testing.assert_frame_equal(getattr(ds, name), getattr(back, name))
    assert back == ds
    # unused categories and their order survive too
    assert list(back.outcomes["visit"].cat.categories) == list(ds.outcomes["visit"].cat.categories)
    assert back.outcomes["visit"].cat.ordered
    # and read() recognises the directory
    pd.testing.assert_frame_equal(mo.read(tmp_path / "ds").outcomes, ds.outcomes)
    # nothing pickled
    assert not list((tmp_path / "ds").glob("*.pkl")) and not list((tmp_path / "ds").glob("*.pickle"))


def test_parquet_round_trip_with_rejected_and_truth(tmp_path):
    long = pd.DataFrame({"subject": ["a", "a", "b"], "instrument": "rmdq", "day": [0, 70, 0],
                         "value": [3, 99, 4]})
    ds = Dataset.from_long(long, on_error="quarantine")
    ds.truth = {"effect": 1.5, "table": pd.DataFrame({"x": [1, 2]})}
    ds.to_parquet(tmp_path / "d")
    back = Dataset.from_parquet(tmp_path / "d")
    assert back == ds
    assert back.rejected["row"].astype(int).tolist() == [1]
    assert back.truth["effect"] == 1.5
    pd.testing.assert_frame_equal(back.truth["table"], ds.truth["table"])


def test_order_visits_by_day():
    cat = order_visits(pd.Series(["week 26", "baseline", "week 4", None]), pd.Series([182, 0, 28, 3]))
    assert list(cat.categories) == ["baseline", "week 4", "week 26"] and cat.ordered


def test_simulated_dataset_analysis_frame():
    ds = mo.simulate_trial(n_per_arm=10, seed=2)
    af = ds.analysis_frame("rmdq")
    base = af[af["timing"] == "baseline"]
    assert (base["change"] == 0).all()
    assert af["baseline"].notna().all()
    assert set(af["arm"]) == {"therapeutic", "relaxation", "usual_care"}


def test_equality_and_copy():
    ds = Dataset(*_tables())
    other = ds.copy()
    assert other == ds and other is not ds
    other.outcomes.loc[0, "value"] = 99
    assert other != ds

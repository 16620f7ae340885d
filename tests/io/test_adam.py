"""read_adam: ADSL + BDS (xpt via pyreadstat, CSV, Parquet), the ADY convention, PARAMCD, ATPT, problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.io.adam import adam_day, paramcd_to_instrument

pyreadstat = pytest.importorskip("pyreadstat")


@pytest.fixture(scope="module")
def trial():
    return mo.simulate_trial(6, seed=3)


def to_adam(ds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A simulated Dataset written the way a CDISC programmer would: ADSL + ADQS."""
    s, o = ds.subjects, ds.outcomes
    adsl = pd.DataFrame({"STUDYID": s["study"].astype(str), "USUBJID": s["subject"].astype(str),
                         "TRT01P": s["arm"].astype(str), "AGE": s["age"].astype(float), "SEX": s["sex"].astype(str),
                         "TECH": s["technique"].astype(str), "ITTFL": "Y"})
    sess = o["session"].notna()
    avisit = np.where(sess, "SESSION " + o["session"].astype("Int64").astype(str),
                      o["visit"].astype(str).str.upper().str.replace("_", " "))
    adqs = pd.DataFrame({
        "STUDYID": o["study"].astype(str), "USUBJID": o["subject"].astype(str),
        "PARAMCD": o["instrument"].map({"rmdq": "RMDQ", "pain_nrs": "PAINNRS"}),
        "PARAM": o["instrument"].map({"rmdq": "Roland-Morris Disability Questionnaire", "pain_nrs": "Pain NRS"}),
        "AVAL": o["value"].astype(float), "AVISIT": avisit,
        "ADY": np.where(o["day"] >= 0, o["day"] + 1, o["day"]).astype(float),
        "ABLFL": np.where(o["timing"] == "baseline", "Y", ""),
        "ATPT": o["timing"].astype(str).map({"pre": "PRE-SESSION", "post": "POST-SESSION"}).fillna(""),
    })
    return adsl, adqs


MAP = {"technique": "TECH", "condition": "low_back_pain"}


def _norm(frame, key):
    out = frame.sort_values(key).reset_index(drop=True)
    return out.astype(object).where(out.notna(), None)


def test_xpt_round_trip_of_the_simulated_trial(tmp_path, trial):
    adsl, adqs = to_adam(trial)
    pyreadstat.write_xport(adsl, str(tmp_path / "adsl.xpt"), table_name="ADSL")
    pyreadstat.write_xport(adqs, str(tmp_path / "adqs.xpt"), table_name="ADQS")
    ds = mo.read_adam(tmp_path / "adsl.xpt", tmp_path / "adqs.xpt", mapping=MAP)
    key = ["study", "subject", "instrument", "day", "timing", "session"]
    pd.testing.assert_frame_equal(_norm(ds.outcomes, key), _norm(trial.outcomes, key), check_dtype=False)
    cols = ["study", "subject", "arm", "condition", "intent", "sex"]
    pd.testing.assert_frame_equal(_norm(ds.subjects[cols], ["subject"]), _norm(trial.subjects[cols], ["subject"]),
                                  check_dtype=False)
    assert ds.subjects["ittfl"].eq("Y").all() and np.allclose(ds.subjects["age"], trial.subjects["age"])
    pd.testing.assert_frame_equal(_norm(ds.sessions[["subject", "session", "day"]], ["subject", "session"]),
                                  _norm(trial.sessions[["subject", "session", "day"]], ["subject", "session"]),
                                  check_dtype=False)
    assert ds.source["paramcd"] == {"RMDQ": "rmdq", "PAINNRS": "pain_nrs"} and ds.source["format"] == "adam"


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_csv_and_parquet_read_like_xpt(tmp_path, trial, suffix):
    adsl, adqs = to_adam(trial)
    if suffix == "csv":
        adsl.to_csv(tmp_path / "adsl.csv", index=False)
        adqs.to_csv(tmp_path / "adqs.csv", index=False)
    else:
        adsl.to_parquet(tmp_path / "adsl.parquet")
        adqs.to_parquet(tmp_path / "adqs.parquet")
    ds = mo.read_adam(tmp_path / f"adsl.{suffix}", tmp_path / f"adqs.{suffix}", mapping=MAP)
    ref = mo.read_adam(adsl, adqs, mapping=MAP)
    pd.testing.assert_frame_equal(ds.outcomes, ref.outcomes, check_dtype=False)


def test_ady_has_no_day_zero():
    assert adam_day([1, 2, 29, 71, -1, -14]).tolist() == [0.0, 1.0, 28.0, 70.0, -1.0, -14.0]
    assert np.isnan(adam_day([0, None])).all()


def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "TRT01P": ["Structural massage", "Usual care"], "AGE": [50, 61]})
    adqs = pd.DataFrame({
        "USUBJID": ["A", "A", "A", "A", "B", "B"],
        "PARAMCD": ["RMDQ", "RMDQ", "NRS", "NRS", "RMDQ", "RMDQ"],
        "AVAL": [14.0, 9.0, 6.0, 4.0, 12.0, 11.0],
        "AVISIT": ["Baseline", "Week 10", "Session 2", "Session 2", "Baseline", "Week 10"],
        "ADY": [1.0, 71.0, 15.0, 15.0, -2.0, 70.0],
        "ABLFL": ["Y", None, None, None, "Y", None],
        "ATPT": [None, None, "PRE-SESSION", "POST-SESSION", None, None]})
    return adsl, adqs


def test_arms_paramcd_atpt_and_negative_baseline_day():
    adsl, adqs = small()
    ds = mo.read_adam(adsl, adqs, mapping={"paramcd": {"NRS": "pain_nrs"},
                                           "arms": {"Structural massage": "therapeutic", "Usual care": "usual_care"}},
                      study="S1")
    assert ds.subjects.set_index("subject")["arm"].to_dict() == {"A": "therapeutic", "B": "usual_care"}
    o = ds.outcomes.set_index(["subject", "instrument", "timing"]).sort_index()
    assert o.loc[("A", "pain_nrs", "pre"), "session"] == 2 and o.loc[("A", "pain_nrs", "post"), "day"] == 14.0
    assert o.loc[("B", "rmdq", "baseline"), "day"] == -2.0  # a baseline taken two days before the reference date
    assert set(ds.outcomes["study"]) == {"S1"}


def test_trt01a_is_used_when_trt01p_is_absent():
    adsl, adqs = small()
    adsl = adsl.rename(columns={"TRT01P": "TRT01A"})
    ds = mo.read_adam(adsl, adqs, mapping={"paramcd": {"NRS": "pain_nrs"}})
    assert set(ds.subjects["arm"]) == {"Structural massage", "Usual care"}


def test_paramcd_matching():
    codes = pd.Series(["RMDQ", "painnrs", "BCTQSSS", "ODI", "ZZZ"])
    assert paramcd_to_instrument(codes).tolist() == ["rmdq", "pain_nrs", "bctq_sss", "odi", "zzz"]


def test_derived_records_are_skipped_with_a_warning():
    adsl, adqs = small()
    locf = adqs.iloc[[1]].assign(DTYPE="LOCF", ADY=183.0, AVISIT="Week 26")
    adqs = pd.concat([adqs.assign(DTYPE=None), locf], ignore_index=True)
    with pytest.warns(UserWarning, match="skipped 1 derived"):
        ds = mo.read_adam(adsl, adqs, mapping={"paramcd": {"NRS": "pain_nrs"}})
    assert ds.source["derived_skipped"] == 1 and 182.0 not in ds.outcomes["day"].tolist()


@pytest.mark.parametrize("change, row, column, rule", [
    (lambda d: d.assign(PARAMCD=d["PARAMCD"].replace("RMDQ", "RMDX")), 1, "PARAMCD", "unknown_term"),
    (lambda d: d.assign(ADY=d["ADY"].where(d.index != 1, 0.0)), 2, "ADY", "impossible_day"),
    (lambda d: d.assign(AVAL=d["AVAL"].where(d.index != 4, 31.0)), 5, "AVAL", "out_of_range"),
    (lambda d: d.assign(AVAL=d["AVAL"].where(d.index != 0, np.nan), AVALC=np.where(d.index == 0, "seven", None)),
     1, "AVAL", "not_a_number"),
    (lambda d: d.assign(USUBJID=d["USUBJID"].where(d.index != 5, "C")), 6, "USUBJID", "unknown_subject"),
])
def test_problems_name_the_observation_and_variable(change, row, column, rule):
    adsl, adqs = small()
    bad = change(adqs)
    kw = {"mapping": {"paramcd": {"NRS": "pain_nrs"}}}
    with pytest.raises(mo.DataValidationError) as err:
        mo.read_adam(adsl, bad, **kw)
    prob = err.value.report.to_frame()
    assert ((prob["row"] == row) & (prob["column"] == column) & (prob["rule"] == rule)).any(), prob
    ds = mo.read_adam(adsl, bad, on_error="quarantine", **kw)
    assert ds.source["rows_read"] == ds.source["rows_kept"] + ds.source["rows_rejected"] == len(adqs)
    assert row in set(ds.rejected["row"])


def test_whole_file_problems(tmp_path):
    adsl, adqs = small()
    with pytest.raises(mo.DataValidationError, match="no USUBJID"):
        mo.read_adam(adsl.drop(columns="USUBJID"), adqs)
    with pytest.raises(mo.DataValidationError, match="one record per subject"):
        mo.read_adam(pd.concat([adsl, adsl.iloc[[0]]]), adqs)
    with pytest.raises(mo.DataValidationError, match="no PARAMCD"):
        mo.read_adam(adsl, adqs.drop(columns="PARAMCD"))
    (tmp_path / "junk.xpt").write_bytes(b"\x00\x01 not a transport file")
    with pytest.raises(mo.DataValidationError, match="cannot read"):
        mo.read_adam(adsl, tmp_path / "junk.xpt")
    with pytest.raises(TypeError, match="BDS"):
        mo.read_adam(adsl)


def test_subjects_without_records_warn():
    adsl, adqs = small()
    adsl = pd.concat([adsl, pd.DataFrame({"USUBJID": ["Z"], "TRT01P": ["Usual care"], "AGE": [30]})])
    with pytest.warns(UserWarning, match="1 ADSL subject"):
        ds = mo.read_adam(adsl, adqs, mapping={"paramcd": {"NRS": "pain_nrs"}})
    assert ds.source["subjects_without_records"] == ["Z"]


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 3), corrupt=st.integers(0, 10**6))
def test_any_simulated_trial_round_trips_through_adam(seed, n, corrupt):
    sim = mo.simulate_trial(n, seed=seed)
    adsl, adqs = to_adam(sim)
    ds = mo.read_adam(adsl, adqs, mapping=MAP)
    key = ["study", "subject", "instrument", "day", "timing", "session"]
    pd.testing.assert_frame_equal(_norm(ds.outcomes, key), _norm(sim.outcomes, key), check_dtype=False)
    # one corrupted AVAL is reported with its observation number and quarantined alone
    i = corrupt % len(adqs)
    bad = adqs.assign(AVAL=adqs["AVAL"].where(adqs.index != i, 99.0))
    with pytest.raises(mo.DataValidationError) as err:
        mo.read_adam(adsl, bad, mapping=MAP)
    assert err.value.report.to_frame()[["row", "column", "rule"]].values.tolist() == [[i + 1, "AVAL", "out_of_range"]]
    q = mo.read_adam(adsl, bad, mapping=MAP, on_error="quarantine")
    assert len(q.outcomes) == len(adqs) - 1 and q.rejected["row"].tolist() == [i + 1]

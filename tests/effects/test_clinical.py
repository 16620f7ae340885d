"""Tests for effects/clinical.py: R reference numbers, NNT cases (Altman 1998), direction, missing data, RCI.

Reference numbers: tests/reference/clinical/responder_tables.json, written by
tests/reference/clinical/responder_tables.R (Wilson from prop.test(correct = FALSE), Newcombe method 10 by formula,
RR/OR from metafor::escalc with and without the 0.5 correction). Tolerance: 1e-9 relative.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import massage_outcomes as mo
from massage_outcomes.effects.clinical import nnt_from_rd, reliable_change, responder_table, responders
from massage_outcomes.errors import ArgumentError, DataValidationError, SmallSampleWarning

REF = json.loads((Path(__file__).parents[1] / "reference" / "clinical" / "responder_tables.json").read_text())["rows"]
RTOL = 1e-9
BASIC = ["rate_1", "rate_1_ci_low", "rate_1_ci_high", "rate_2", "rate_2_ci_low", "rate_2_ci_high", "risk_diff",
         "risk_diff_ci_low", "risk_diff_ci_high"]
RATIOS = ["risk_ratio", "risk_ratio_ci_low", "risk_ratio_ci_high", "odds_ratio", "odds_ratio_ci_low",
          "odds_ratio_ci_high"]


def _check(a: float, b: float | None, what: str) -> None:
    if b is None:
        assert not np.isfinite(a), what
    else:
        assert a == pytest.approx(b, rel=RTOL, abs=1e-12), what


@pytest.mark.parametrize("row", REF, ids=[r["name"] for r in REF])
def test_matches_r(row: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = responder_table([row["x1"]], [row["n1"]], [row["x2"]], [row["n2"]]).iloc[0]
        corrected = responder_table([row["x1"]], [row["n1"]], [row["x2"]], [row["n2"]], continuity=0.5).iloc[0]
    for col in BASIC:
        _check(plain[col], row[col], col)
        _check(corrected[col], row[col], col)  # the correction never touches rates or the RD
    both_all = row["x1"] == row["n1"] and row["x2"] == row["n2"]
    for col in RATIOS:
        if both_all and col.startswith("risk_ratio_ci"):
            assert np.isnan(plain[col])  # R gives the zero-width (1, 1); we give no interval
        else:
            _check(plain[col], row[col], col)
        _check(corrected[col], row[f"cc_{col}"], f"corrected {col}")
    _check(plain["nnt"], row["nnt"], "nnt")
    if row["inv_rd_ci_low"] is not None and row["inv_rd_ci_high"] is not None:
        lims = sorted([plain["nnt_ci_low"], plain["nnt_ci_high"]])
        assert lims == pytest.approx(sorted([row["inv_rd_ci_low"], row["inv_rd_ci_high"]]), rel=RTOL)


def test_statsmodels_log_ratio_intervals_agree() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    x1, n1, x2, n2 = np.array([12.0, 25, 40]), np.array([31.0, 50, 133]), np.array([4.0, 10, 21]), np.array([29.0, 50, 136])
    t = responder_table(x1, n1, x2, n2)
    lo, hi = confint_proportions_2indep(x1, n1, x2, n2, compare="ratio", method="log")
    assert t["risk_ratio_ci_low"].to_numpy() == pytest.approx(lo, rel=1e-12)
    assert t["risk_ratio_ci_high"].to_numpy() == pytest.approx(hi, rel=1e-12)
    lo, hi = confint_proportions_2indep(x1, n1, x2, n2, compare="odds-ratio", method="logit")
    assert t["odds_ratio_ci_low"].to_numpy() == pytest.approx(lo, rel=1e-12)


# ---------------------------------------------------------------------------------------------------------
# NNT (Altman 1998)
# ---------------------------------------------------------------------------------------------------------
NNT_CASES = [
    # rd, lo, hi, nnt, nnt_lo, nnt_hi, direction, label
    (0.25, 0.10, 0.40, 4.0, 2.5, 10.0, "NNTB", "NNTB 4.0 (2.5 to 10.0)"),
    (-0.25, -0.40, -0.10, -4.0, -10.0, -2.5, "NNTH", "NNTH 4.0 (2.5 to 10.0)"),
    # Altman's example: RD 0.1 with CI -0.0456 to 0.2174 -> NNTB 10 (NNTH 21.9 to inf to NNTB 4.6)
    (0.1, -0.0456, 0.2174, 10.0, -1 / 0.0456, 1 / 0.2174, "NNTB", "NNTB 10.0 (NNTH 21.9 to ∞ to NNTB 4.6)"),
    (-0.05, -0.20, 0.10, -20.0, -5.0, 10.0, "NNTH", "NNTH 20.0 (NNTH 5.0 to ∞ to NNTB 10.0)"),
    (0.0, -0.1, 0.1, np.inf, -10.0, 10.0, "none", "NNT ∞ (no difference) (NNTH 10.0 to ∞ to NNTB 10.0)"),
    (0.1, 0.0, 0.2, 10.0, 5.0, np.inf, "NNTB", "NNTB 10.0 (NNTB 5.0 to ∞)"),
]


@pytest.mark.parametrize(("rd", "lo", "hi", "nnt", "nlo", "nhi", "direction", "label"), NNT_CASES)
def test_nnt_cases(rd, lo, hi, nnt, nlo, nhi, direction, label) -> None:
    n, a, b, d, lab = nnt_from_rd(rd, lo, hi)
    assert n[0] == pytest.approx(nnt)
    assert a[0] == pytest.approx(nlo) and b[0] == pytest.approx(nhi)
    assert d[0] == direction
    assert lab[0] == label


def test_crossing_zero_from_counts() -> None:
    t = responder_table([15], [30], [12], [30]).iloc[0]
    assert t["risk_diff_ci_low"] < 0 < t["risk_diff_ci_high"]
    assert t["nnt_ci_low"] < 0 < t["nnt_ci_high"]
    assert "to ∞ to" in t["nnt_label"] and t["nnt_direction"] == "NNTB"


# ---------------------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------------------
@st.composite
def _tables(draw):
    n1 = draw(st.integers(1, 200))
    n2 = draw(st.integers(1, 200))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


@settings(max_examples=60, deadline=None)
@given(tab=_tables(), cc=st.sampled_from([None, 0.5]))
def test_swapping_arms_flips_and_inverts(tab, cc) -> None:
    x1, n1, x2, n2 = tab
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = responder_table([x1], [n1], [x2], [n2], continuity=cc).iloc[0]
        b = responder_table([x2], [n2], [x1], [n1], continuity=cc).iloc[0]
    assert b["risk_diff"] == pytest.approx(-a["risk_diff"], abs=1e-12)
    assert b["risk_diff_ci_low"] == pytest.approx(-a["risk_diff_ci_high"], abs=1e-12)
    assert b["risk_diff_ci_high"] == pytest.approx(-a["risk_diff_ci_low"], abs=1e-12)
    for m in ("risk_ratio", "odds_ratio"):
        if np.isfinite(a[m]):
            assert b[m] == pytest.approx(1 / a[m], rel=1e-9)
            if np.isfinite(a[f"{m}_ci_low"]):
                assert b[f"{m}_ci_high"] == pytest.approx(1 / a[f"{m}_ci_low"], rel=1e-9)
        else:
            assert not np.isfinite(b[m])
    flip = {"NNTB": "NNTH", "NNTH": "NNTB", "none": "none"}
    assert b["nnt_direction"] == flip[a["nnt_direction"]]
    # Wilson limits are always inside [0, 1], also with 0 or all responders
    for k in ("1", "2"):
        assert 0 <= a[f"rate_{k}_ci_low"] <= a[f"rate_{k}"] <= a[f"rate_{k}_ci_high"] <= 1
    assert -1 <= a["risk_diff_ci_low"] <= a["risk_diff"] <= a["risk_diff_ci_high"] <= 1


# ---------------------------------------------------------------------------------------------------------
# responders() on data
# ---------------------------------------------------------------------------------------------------------
def _long(instrument: str, rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    """rows: (subject, arm, baseline, week_10 or NaN)."""
    recs = []
    for subj, arm, b, f in rows:
        recs.append({"subject": subj, "arm": arm, "instrument": instrument, "day": 0.0, "visit": "baseline", "value": b})
        if np.isfinite(f):
            recs.append({"subject": subj, "arm": arm, "instrument": instrument, "day": 70.0, "visit": "week_10", "value": f})
    return pd.DataFrame(recs)


RMDQ = _long("rmdq", [
    ("s1", "massage", 10, 7),   # 3 points, 30%
    ("s2", "massage", 10, 5),   # 5 points, 50%
    ("s3", "massage", 12, 12),  # none
    ("s4", "massage", 20, np.nan),  # missing follow-up
    ("s5", "usual", 10, 9),
    ("s6", "usual", 10, 4),     # 6 points, 60%
    ("s7", "usual", 0, 0),      # baseline 0: percent undefined
    ("s8", "usual", 8, 10),     # worse
])


def test_lower_is_better_thresholds_and_boundaries() -> None:
    res = responders(RMDQ, instrument="rmdq", threshold=["mcid", 0.3, 0.5, 3],
                     compare=("arm", "massage", "usual"), continuity=0.5)
    assert list(res["threshold_unit"]) == ["points", "percent", "percent", "points"]
    assert list(res["responders_1"]) == [1, 2, 1, 2]  # 30% exactly and 3 points exactly count
    assert list(res["responders_2"]) == [1, 1, 1, 1]
    assert (res["n_1"] == 3).all() and (res["n_2"] == 4).all()
    assert (res["n_missing_1"] == 1).all() and (res["missing"] == "completers").all()
    assert res["end"].iloc[0].startswith("visit week_10")


def test_missing_as_nonresponders() -> None:
    res = responders(RMDQ, instrument="rmdq", threshold=0.3, compare=("arm", "massage", "usual"),
                     missing="nonresponders")
    assert res["n_1"].iloc[0] == 4 and res["responders_1"].iloc[0] == 2
    assert "counted as non-responders" in res["note"].iloc[0]


def test_higher_is_better_direction() -> None:
    mo_ = _long("mouth_opening", [("a", "t", 30, 36), ("b", "t", 30, 24), ("c", "c", 40, 40)])
    # the registry's 6 mm is a detectable change (MDC), not an MCID: threshold="mcid" refuses it; pass it as points
    with pytest.raises(DataValidationError, match="detectable change"):
        responders(mo_, instrument="mouth_opening", threshold="mcid", by="arm")
    res = responders(mo_, instrument="mouth_opening", threshold=6, by="arm")
    got = dict(zip(res["arm"], res["responders"], strict=True))
    assert got == {"t": 1, "c": 0}  # +6 mm is the improvement, -6 mm is not
    assert res.loc[res.arm == "c", "rate_ci_high"].iloc[0] > 0  # 0 of 1 still has a Wilson interval


def test_degenerate_groups_warn_and_note() -> None:
    rows = [(f"m{i}", "massage", 10, 2) for i in range(5)] + [(f"u{i}", "usual", 10, 10) for i in range(5)]
    with pytest.warns(SmallSampleWarning):
        res = responders(_long("rmdq", rows), instrument="rmdq", compare=("arm", "massage", "usual"))
    r = res.iloc[0]
    assert r["rate_1"] == 1 and r["rate_2"] == 0
    assert np.isfinite(r["rate_1_ci_low"]) and np.isfinite(r["risk_diff_ci_low"])
    assert np.isnan(r["risk_ratio"]) and "undefined" in r["note"]


def test_simulated_trial_groups_and_last_visit() -> None:
    import massage_outcomes as mo

    ds = mo.simulate_trial(n_per_arm=40, seed=5)
    res = responders(ds, instrument="rmdq", threshold=[0.3, 0.5], by="condition",
                     compare=("arm", "therapeutic", "usual_care"))
    assert len(res) == 2 * res["condition"].nunique()
    assert res["end"].str.contains("last scheduled visit").all()
    frame = ds.analysis_frame("rmdq")
    # the same numbers from the analysis frame directly
    res2 = responders(frame, instrument="rmdq", threshold=[0.3, 0.5], by="condition",
                      compare=("arm", "therapeutic", "usual_care"))
    pd.testing.assert_frame_equal(res, res2)
    # hand count for one threshold
    last = frame[frame.visit.astype(str) == "week_26"].set_index("subject")
    base = frame[frame.timing.astype(str) == "baseline"].set_index("subject")
    pct = 100 * (base["value"] - last["value"]).dropna() / base["value"]
    arm = base["arm"]
    want = int(((pct >= 30 - 1e-9) & (arm.reindex(pct.index) == "therapeutic")).sum())
    assert res.loc[res.threshold_value == 30, "responders_1"].sum() == want


def test_session_pairs() -> None:
    import massage_outcomes as mo

    ds = mo.simulate_trial(n_per_arm=10, seed=2)
    res = responders(ds, instrument="pain_nrs", start="pre", end="post", threshold=2, by="arm")
    assert (res["unit"] == "session").all() and res["note"].str.contains("not independent").all()


def test_bad_arguments() -> None:
    with pytest.raises(DataValidationError, match="compare arm"):
        responders(RMDQ, instrument="rmdq", compare=("arm", "massage", "sham"))
    with pytest.raises(DataValidationError, match="week_10"):
        responders(RMDQ, instrument="rmdq", end="week_99")
    with pytest.raises(ArgumentError, match="by/compare"):
        responders(RMDQ, instrument="rmdq", by="clinic_id")
    with pytest.raises(DataValidationError, match="no published MCID"):
        responders(_long("jfls", [("a", "t", 5, 3)]), instrument="jfls")
    with pytest.raises(ArgumentError, match="missing"):
        responders(RMDQ, instrument="rmdq", missing="locf")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# reliable change
# ---------------------------------------------------------------------------------------------------------
def test_reliable_change_by_hand() -> None:
    res = reliable_change(RMDQ, instrument="rmdq", reliability=0.9, sd_baseline=5.0)
    se_diff = 5.0 * np.sqrt(2) * np.sqrt(0.1)
    assert res["se_diff"].iloc[0] == pytest.approx(se_diff)
    assert res["rc_points"].iloc[0] == pytest.approx(1.959963984540054 * se_diff)  # 4.38 points
    # improvements 3, 5, 0, 1, 6, 0, -2 -> improved: 5 and 6
    assert res["n"].iloc[0] == 7 and res["n_improved"].iloc[0] == 2 and res["n_deteriorated"].iloc[0] == 0
    per = reliable_change(RMDQ, instrument="rmdq", reliability=0.9, sd_baseline=5.0, per_subject=True)
    assert per.set_index("subject").loc["s2", "rci"] == pytest.approx(5 / se_diff)


def test_reliable_change_sample_sd_and_missing_reliability() -> None:
    res = reliable_change(RMDQ, instrument="rmdq", reliability=0.8, by="arm")
    sd = np.std([10, 10, 12, 10, 10, 0, 8], ddof=1)
    assert res["sd_baseline"].to_numpy() == pytest.approx([sd, sd])
    assert (res["sd_source"] == "sample").all()
    with pytest.raises(DataValidationError, match="reliability"):
        reliable_change(RMDQ, instrument="rmdq")


# ---------------------------------------------------------------------------------------------------------
# issue 17.4: the MCID of the data's condition; favours and reliable (issue 17.1, 17.3)
# ---------------------------------------------------------------------------------------------------------
def _trial_as(condition: str) -> pd.DataFrame:
    frame = mo.load_sample("trial").analysis_frame("pain_nrs").copy()
    frame["condition"] = condition
    return frame


def test_mcid_follows_the_condition_of_the_data() -> None:
    neck = responders(_trial_as("neck_pain"), instrument="pain_nrs", compare=("arm", "therapeutic", "usual_care"),
                      end="week_10")
    assert neck["threshold_value"].iloc[0] == 1.3 and "neck" in neck["threshold"].iloc[0]
    back = responders(_trial_as("low_back_pain"), instrument="pain_nrs",
                      compare=("arm", "therapeutic", "usual_care"), end="week_10")
    assert back["threshold_value"].iloc[0] == 2.0 and "low back pain" in back["threshold"].iloc[0]


def test_no_mcid_for_the_condition_warns_notes_and_takes_the_users() -> None:
    with pytest.warns(UserWarning, match="no MCID of pain_nrs for shoulder_pain"):
        res = responders(_trial_as("shoulder_pain"), instrument="pain_nrs", threshold=["mcid", 0.3],
                         compare=("arm", "therapeutic", "usual_care"), end="week_10")
    mcid_row, pct_row = res.iloc[0], res.iloc[1]
    assert not mcid_row["reliable"] and "pass mcid=" in mcid_row["note"] and np.isnan(mcid_row["rate_1"])
    assert pct_row["reliable"] and np.isfinite(pct_row["rate_1"])  # the 30% rule needs no registry value
    given = responders(_trial_as("shoulder_pain"), instrument="pain_nrs", mcid=1.5,
                       compare=("arm", "therapeutic", "usual_care"), end="week_10")
    assert given["threshold_value"].iloc[0] == 1.5 and given["reliable"].iloc[0]


def test_mcid_per_condition_group_and_mixed_conditions() -> None:
    frame = _trial_as("neck_pain")
    frame.loc[frame["arm"].astype(str) == "usual_care", "condition"] = "low_back_pain"
    by = responders(frame, instrument="pain_nrs", by="condition", end="week_10")
    assert dict(zip(by["condition"].astype(str), by["threshold_value"], strict=True)) == {
        "low_back_pain": 2.0, "neck_pain": 1.3}
    with pytest.warns(UserWarning):
        mixed = responders(frame, instrument="pain_nrs", end="week_10")
    assert not mixed["reliable"].iloc[0] and "mix conditions" in mixed["note"].iloc[0]


def test_responder_favours_only_when_the_risk_difference_interval_excludes_zero() -> None:
    ds = mo.load_sample("trial")
    res = responders(ds, instrument="rmdq", threshold=["mcid", 0.3], compare=("arm", "therapeutic", "usual_care"),
                     end="week_10")
    for _, r in res.iterrows():
        clear = r["risk_diff_ci_low"] > 0 or r["risk_diff_ci_high"] < 0
        assert (r["favours"] == "favours therapeutic") == (clear and r["risk_diff"] > 0)
        if not clear:
            assert r["favours"] == "no clear difference"
        assert r["direction"] == ("toward therapeutic" if r["risk_diff"] > 0 else "toward usual_care")
    assert res["reliable"].dtype == bool and res["reliable"].all()
    for c in ("n_1", "n_2", "responders_1", "responders_2", "n_missing_1", "n_missing_2"):
        assert pd.api.types.is_integer_dtype(res[c]), c

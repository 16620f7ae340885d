"""The one occasion rule (effects/occasions.py), shared by effect_sizes, responders and reliable_change."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.effects import effect_sizes, responders
from massage_outcomes.effects.occasions import last_visit, occasion_rows, pair_occasions
from massage_outcomes.errors import DataValidationError

CMP = ("arm", "therapeutic", "usual_care")


@pytest.fixture(scope="module")
def trial() -> mo.Dataset:
    return mo.simulate_trial(n_per_arm=30, seed=7)


def _quiet(f, *args, **kwargs):  # noqa: ANN001, ANN202 - small groups warn; the numbers are what is tested
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kwargs)


def test_several_rows_at_an_occasion_start_takes_the_first_end_the_last(trial: mo.Dataset) -> None:
    af = trial.analysis_frame("rmdq")
    rows = occasion_rows(af, "followup", role="end", keys=["study", "subject"])
    last = af[af.timing.astype(str) == "followup"].sort_values("day").groupby("subject", observed=True).tail(1)
    assert dict(zip(rows.subject, rows.day, strict=True)) == dict(zip(last.subject, last.day, strict=True))
    first = occasion_rows(af, "followup", role="start", keys=["study", "subject"])
    assert (first.visit.astype(str) == "week_4").sum() == first.subject.isin(
        af.loc[af.visit.astype(str) == "week_4", "subject"]).sum()
    # end="followup" is each subject's last follow-up: the same rows as "last_observed" after a baseline start
    a = effect_sizes(af, instrument="rmdq", compare=CMP, end="followup")
    b = effect_sizes(af, instrument="rmdq", compare=CMP, end="last_observed")
    cols = ["n_1", "n_2", "mean_1", "mean_2", "estimate", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    # and responders reads the same occasion the same way
    r = responders(af, instrument="rmdq", threshold=0.3, compare=CMP, end="followup").iloc[0]
    assert (r["n_1"], r["n_2"]) == (a["n_1"].iloc[0], a["n_2"].iloc[0])
    assert r["end"] == "timing followup (last per subject)"


def test_a_start_timing_over_sessions_takes_each_subjects_first_rating(trial: mo.Dataset) -> None:
    af = trial.analysis_frame("pain_nrs")
    tab = _quiet(effect_sizes, af, instrument="pain_nrs", by="arm", start="pre", end="week_10",
                 measure="mean_change")
    pre = af[af.timing.astype(str) == "pre"].sort_values("day", kind="stable").groupby("subject", observed=True).head(1)
    w10 = af[af.visit.astype(str) == "week_10"]
    both = pre[["subject", "value", "arm"]].merge(w10[["subject", "value"]], on="subject", suffixes=("_s", "_e"))
    want = (both.value_e - both.value_s).groupby(both.arm.astype(str)).mean()
    got = dict(zip(tab.arm.astype(str), tab.estimate, strict=True))
    assert np.isnan(got.pop("usual_care"))  # no sessions, so no pre rating: a row without pairs
    assert got == pytest.approx(want.to_dict(), rel=1e-12)
    rs = _quiet(responders, af, instrument="pain_nrs", threshold=2, by="arm", start="pre", end="week_10")
    n_es = {a: n for a, n in zip(tab.arm.astype(str), tab.n_1, strict=True) if a != "usual_care"}
    assert dict(zip(rs.arm.astype(str), rs.n, strict=True)) == n_es


def _tiny() -> pd.DataFrame:
    # subject a: baseline, a session (pre/post), a visit called "post" at day 40; subject b: baseline only
    return pd.DataFrame({
        "subject": ["a", "a", "a", "a", "b"],
        "timing": ["baseline", "pre", "post", "followup", "baseline"],
        "visit": ["baseline", None, None, "post", "baseline"],
        "session": [None, "s1", "s1", None, None],
        "day": [0, 7, 7, 40, 0],
        "value": [8.0, 7.0, 5.0, 3.0, 6.0],
        "arm": ["x", "x", "x", "x", "y"],
    })


def test_a_visit_label_of_the_data_comes_before_the_timing_of_that_name() -> None:
    rows = occasion_rows(_tiny(), "post", role="end", keys=["subject"])
    assert rows["day"].tolist() == [40]  # the visit "post", not the post-session rating
    with pytest.raises(DataValidationError, match="end='week_99' is neither a timing nor a visit label"):
        occasion_rows(_tiny(), "week_99", role="end", keys=["subject"])


def test_last_observed_is_after_the_start_row() -> None:
    f = _tiny().assign(timing=["baseline", "pre", "post", "followup", "followup"], day=[0, 7, 7, 40, 0])
    pairs = pair_occasions(f, "baseline", "last_observed").frame
    # b's only follow-up is on its baseline day: no end for b (it is missing, not a zero change)
    assert pairs.set_index("subject")["value_end"].to_dict() == pytest.approx({"a": 3.0, "b": np.nan}, nan_ok=True)


def test_units_seen_only_at_one_occasion_are_kept_with_the_other_missing() -> None:
    pairs = pair_occasions(_tiny(), "baseline", "post", attrs=["arm"])
    got = pairs.frame.set_index("subject")
    assert pairs.unit == "subject" and got.loc["b", "value_start"] == 6.0 and np.isnan(got.loc["b", "value_end"])
    assert got.loc["a", "value_end"] == 3.0 and got.loc["b", "arm"] == "y"


def test_session_pairs_average_only_complete_pairs_per_subject() -> None:
    f = pd.DataFrame({
        "subject": ["a"] * 5 + ["b"] * 2,
        "timing": ["pre", "post", "pre", "post", "post", "pre", "post"],
        "session": ["1", "1", "2", "2", "3", "1", "2"],
        "day": [1, 1, 8, 8, 15, 1, 8],
        "value": [6.0, 4.0, 5.0, 4.0, 0.0, 7.0, 5.0],
        "arm": "x",
    })
    pairs = pair_occasions(f, "pre", "post")
    assert pairs.unit == "session" and len(pairs.frame) == 5  # a: sessions 1-3, b: sessions 1 and 2 (unpaired)
    from massage_outcomes.effects.api import _wide

    wide = _wide(f, "pre", "post", ["arm"]).set_index("subject")
    # a: the mean of its two complete pairs (session 3's lone post does not enter); b: no pair, missing at the end
    assert wide.loc["a", ["_start", "_end"]].tolist() == [5.5, 4.0]
    assert wide.loc["b", "_start"] == 7.0 and np.isnan(wide.loc["b", "_end"])


def test_last_visit_is_the_last_visit_with_data(trial: mo.Dataset) -> None:
    af = trial.analysis_frame("rmdq")
    assert str(last_visit(af)) == "week_26"
    assert str(last_visit(af[af.visit.astype(str) != "week_26"])) == "week_10"
    assert last_visit(af.drop(columns=["visit"])) is None

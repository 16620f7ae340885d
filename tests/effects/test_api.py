"""effect_size / effect_sizes: results, conventions, notes, favours, adjustment, pairing of occasions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.effects import EffectSize, effect_size, effect_sizes
from massage_outcomes.effects.ancova import ancova_ols
from massage_outcomes.errors import ArgumentError, DataValidationError, SmallSampleWarning


@pytest.fixture(scope="module")
def trial() -> mo.Dataset:
    return mo.simulate_trial(n_per_arm=40, seed=11)


def test_effect_size_object() -> None:
    es = effect_size([3, 4, 2, 5, 3, 4], [5, 6, 4, 6, 7, 5])
    assert isinstance(es, EffectSize)
    assert es.ci == (es.ci_low, es.ci_high)
    frame = es.to_frame()
    assert list(frame.columns)[:3] == ["measure", "estimate", "se"] and "draws" not in frame.columns
    assert "hedges_g" in repr(es) and "95% CI" in repr(es)
    with pytest.raises(AttributeError):
        es.estimate = 1.0  # type: ignore[misc]


def test_one_sample_and_paired_sign() -> None:
    x = np.array([5.0, 6, 7, 5, 8, 6])
    y = x - np.array([1.0, 2, 1, 0, 3, 1])
    es = effect_size(x, y, paired=True, measure="mean_change")
    assert es.estimate == pytest.approx(np.mean(x - y))
    one = effect_size(x - y, measure="d_z")
    assert one.estimate == pytest.approx(es.estimate / np.std(x - y, ddof=1))


def test_bootstrap_draws_on_request() -> None:
    rng = np.random.default_rng(0)
    es = effect_size(rng.normal(0.5, 1, 30), rng.normal(0, 1, 30), ci="bca", rng=1, n_resamples=500,
                     return_draws=True)
    assert es.draws is not None and es.draws.shape == (500,)
    assert es.ci_method == "bootstrap_bca (B=500)" and es.se_formula == "bootstrap sd"


@pytest.mark.parametrize(("kwargs", "match", "error"), [
    (dict(measure="nope"), "measure", ArgumentError),  # raised by estimators.py
    (dict(ci="wald"), "ci", ArgumentError),
    (dict(level=95), "level", ArgumentError),
])
def test_bad_arguments_name_the_argument(kwargs: dict, match: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=match):
        effect_size([1, 2, 3], [2, 3, 4], **kwargs)


def test_constant_data_warns_with_note() -> None:
    with pytest.warns(SmallSampleWarning):
        es = effect_size([2.0, 2.0, 2.0], [2.0, 2.0])
    assert "all values equal" in es.note


def _manual_change(frame: pd.DataFrame, end: str) -> pd.DataFrame:
    base = frame[frame.timing == "baseline"].set_index("subject")["value"]
    e = frame[frame.visit.astype(str) == end].set_index("subject")
    return pd.DataFrame({"arm": e["arm"], "change": e["value"] - base.reindex(e.index)}).dropna()


def test_between_change_matches_two_array_call(trial: mo.Dataset) -> None:
    tab = effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "relaxation"), end="week_10")
    assert len(tab) == 1
    row = tab.iloc[0]
    man = _manual_change(trial.analysis_frame("rmdq"), "week_10")
    es = effect_size(man.change[man.arm == "therapeutic"], man.change[man.arm == "relaxation"])
    assert row["estimate"] == pytest.approx(es.estimate)
    assert row["ci_low"] == pytest.approx(es.ci_low)
    assert row["n_1"] == es.n_1 and row["n_2"] == es.n_2
    assert row["contrast"] == "therapeutic - relaxation"
    toward = "therapeutic" if es.estimate < 0 else "relaxation"  # rmdq: lower is better
    assert row["direction"] == f"toward {toward}"
    clear = es.ci_low > 0 or es.ci_high < 0
    assert row["favours"] == (f"favours {toward}" if clear else "no clear difference")
    for c in ("bias_correction", "sd_used", "ci_method", "se_formula", "note", "p_value"):
        assert c in tab.columns


def test_by_groups_and_adjustment(trial: mo.Dataset) -> None:
    tab = effect_sizes(trial, instrument="pain_nrs", start="pre", end="post", by=["arm"], adjust="holm")
    assert set(tab["arm"]) == {"therapeutic", "relaxation"}  # usual care has no sessions
    assert (tab["p_adjusted"] >= tab["p_value"]).all()
    assert tab["favours"].str.startswith("improvement").all()
    assert (tab["estimate"] < 0).all()  # pain falls after a session: end - start < 0
    assert tab["measure"].iloc[0] == "hedges_g (g_z)"


def test_last_visit_and_visit_labels(trial: mo.Dataset) -> None:
    last = effect_sizes(trial, instrument="rmdq", by="arm")
    w26 = effect_sizes(trial, instrument="rmdq", by="arm", end="week_26")
    # "last" is the last visit with data, one occasion for everybody: here week 26
    num = ["n_1", "n_missing", "estimate", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(last[num], w26[num])
    assert (last["contrast"] == "week_26 - baseline").all()
    assert last["note"].str.contains("none at week_26 \\(last visit\\) left out").all()
    # dropouts are counted, not replaced by an earlier visit
    af = trial.analysis_frame("rmdq")
    base = af[af.timing.astype(str) == "baseline"].drop_duplicates("subject").set_index("subject")
    has26 = set(af.loc[(af.visit.astype(str) == "week_26") & af.value.notna(), "subject"])
    want = base.assign(miss=~base.index.isin(has26)).groupby("arm")["miss"].sum()
    assert dict(zip(last["arm"], last["n_missing"], strict=True)) == want.to_dict()
    # the LOCF-like per-subject last follow-up only on request: dropouts contribute earlier visits
    lo = effect_sizes(trial, instrument="rmdq", by="arm", end="last_observed")
    assert (lo["n_1"] + lo["n_missing"] == last["n_1"] + last["n_missing"]).all()
    assert (lo["n_1"] >= last["n_1"]).all() and (lo["n_1"] > last["n_1"]).any()
    assert (lo["contrast"] == "last observed - baseline").all()
    with pytest.raises(ArgumentError, match="end` only"):
        effect_sizes(trial, instrument="rmdq", by="arm", start="last", end="week_10")
    with pytest.raises(DataValidationError, match="week_99"):
        effect_sizes(trial, instrument="rmdq", by="arm", end="week_99")
    with pytest.raises(ArgumentError, match="not in the analysis frame"):
        effect_sizes(trial, instrument="rmdq", by="nope")
    with pytest.raises(DataValidationError, match="not found"):
        effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "sham"))


def test_last_without_visits_is_each_subjects_last_followup(trial: mo.Dataset) -> None:
    af = trial.analysis_frame("rmdq").drop(columns=["visit", "visit_order"])
    last = effect_sizes(af, instrument="rmdq", by="arm")
    lo = effect_sizes(af, instrument="rmdq", by="arm", end="last_observed")
    pd.testing.assert_frame_equal(last, lo)
    assert (last["contrast"] == "last observed - baseline").all()


def test_between_arms_count_missing_and_agree_with_responders(trial: mo.Dataset) -> None:
    from massage_outcomes.effects import responders

    cmp = ("arm", "therapeutic", "usual_care")
    for end in ("last", "last_observed"):
        es = effect_sizes(trial, instrument="rmdq", compare=cmp, end=end).iloc[0]
        rs = responders(trial, instrument="rmdq", threshold=0.3, compare=cmp, end=end).iloc[0]
        # the same occasion, so the same subjects: analysed and missing per arm
        assert (es["n_1"], es["n_2"]) == (rs["n_1"], rs["n_2"])
        assert (es["n_missing_1"], es["n_missing_2"]) == (rs["n_missing_1"], rs["n_missing_2"])
    assert "last scheduled visit" in responders(trial, instrument="rmdq", threshold=0.3, compare=cmp)["end"].iloc[0]
    assert "LOCF" in responders(trial, instrument="rmdq", threshold=0.3, compare=cmp, end="last_observed")["end"].iloc[0]


def test_ancova_rows_match_statsmodels(trial: mo.Dataset) -> None:
    tab = effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ancova",
                       end="week_10", measure="mean_diff")
    af = trial.analysis_frame("rmdq")
    e = af[af.visit.astype(str) == "week_10"].dropna(subset=["baseline"])
    ref = ancova_ols(e, followup="value", baseline="baseline", group="arm", a="therapeutic", b="usual_care")
    row = tab.iloc[0]
    for k in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert row[k] == pytest.approx(ref[k], rel=1e-9)
    std = effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ancova",
                       end="week_10", measure="hedges_g", standardizer="residual")
    assert std["sd_used"].iloc[0] == "residual sd"


def test_ppc_and_bootstrap_rows(trial: mo.Dataset) -> None:
    ppc = effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ppc",
                       measure="d_ppc2", ci="normal")
    assert ppc["measure"].iloc[0] == "d_ppc2" and np.isfinite(ppc["se"].iloc[0])
    with pytest.raises(ArgumentError, match="no exact"):
        effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ppc",
                     measure="d_ppc2")
    tab, draws = effect_sizes(trial, instrument="rmdq", by="arm", ci="percentile", rng=3, n_resamples=300,
                              return_draws=True)
    assert draws is not None and draws.shape == (300, len(tab))
    assert tab["ci_method"].iloc[0] == "bootstrap_percentile (B=300)"


def test_tiny_and_constant_groups_note_not_nan(trial: mo.Dataset) -> None:
    af = trial.analysis_frame("rmdq").copy()
    keep = af["subject"].isin(af.loc[af.arm == "therapeutic", "subject"].unique()[:1]) | (af.arm != "therapeutic")
    af = af[keep]
    with pytest.warns(SmallSampleWarning):
        tab = effect_sizes(af, instrument="rmdq", compare=("arm", "therapeutic", "relaxation"), end="week_10")
    assert "n < 2" in tab["note"].iloc[0]
    const = af[af.arm != "therapeutic"].copy()
    const["value"] = 5.0
    with pytest.warns(SmallSampleWarning):
        tab = effect_sizes(const, instrument="rmdq", by="arm", end="week_10")
    assert tab["note"].str.contains("all changes equal").all()


def test_no_warning_for_healthy_groups(trial: mo.Dataset) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)
        effect_sizes(trial, instrument="rmdq", by="arm", end="week_10", ci="normal")


def test_paired_measures_without_exact_interval() -> None:
    rng = np.random.default_rng(4)
    pre = rng.normal(6, 1.5, 25)
    post = pre - 1 + rng.normal(0, 1, 25)
    with pytest.raises(ArgumentError, match="no exact"):
        effect_size(post, pre, paired=True, measure="d_av")
    es = effect_size(post, pre, paired=True, measure="g_av", ci="normal")
    assert es.se_formula.startswith("delta") and es.bias_correction == "hedges_j_exact(n-1)"
    boot = effect_size(post, pre, paired=True, measure="d_rm", ci="bca", rng=2, n_resamples=500)
    assert boot.ci_low < boot.estimate < boot.ci_high


# ---- the result-table convention (issue 17 items 1-3, 10; issue 14: one multiplicity vocabulary) -----------------
def test_sidak_and_bonferroni_adjust_effect_sizes_with_simultaneous_intervals(trial: mo.Dataset) -> None:
    """issue 14: effect_sizes(adjust="sidak") raised. Now every method but Tukey, with the interval columns."""
    plain = effect_sizes(trial, instrument="pain_nrs", start="pre", end="post", by=["arm"])
    for method in ("sidak", "bonferroni", "holm", "fdr_bh"):
        tab = effect_sizes(trial, instrument="pain_nrs", start="pre", end="post", by=["arm"], adjust=method)
        assert (tab["adjust"] == method).all() and (tab["family_size"] == 2).all()
        # the interval beside p_value is never adjusted
        np.testing.assert_array_equal(tab["ci_low"], plain["ci_low"])
        np.testing.assert_array_equal(tab["p_value"], plain["p_value"])
        assert ("sci_low" in tab.columns) == (method in ("sidak", "bonferroni"))
    bonf = effect_sizes(trial, instrument="pain_nrs", start="pre", end="post", by=["arm"], adjust="bonferroni")
    wider = effect_sizes(trial, instrument="pain_nrs", start="pre", end="post", by=["arm"], level=1 - 0.05 / 2)
    np.testing.assert_allclose(bonf["sci_low"], wider["ci_low"], rtol=1e-12)
    assert (bonf["sci_low"] < bonf["ci_low"]).all() and (bonf["sci_high"] > bonf["ci_high"]).all()


def test_tukey_is_refused_for_effect_sizes_with_the_way_to_get_it(trial: mo.Dataset) -> None:
    from massage_outcomes.errors import ArgumentError

    with pytest.raises(ArgumentError, match=r"adjust='tukey' is not available here.*contrasts"):
        effect_sizes(trial, instrument="rmdq", by=["arm"], adjust="tukey")


def test_bootstrap_simultaneous_interval_uses_the_same_resamples(trial: mo.Dataset) -> None:
    kw = dict(instrument="pain_nrs", start="pre", end="post", by=["arm"], ci="percentile", n_resamples=400)
    a = effect_sizes(trial, rng=5, **kw)
    b = effect_sizes(trial, rng=5, adjust="bonferroni", **kw)
    np.testing.assert_array_equal(a["ci_low"], b["ci_low"])  # the first pass is unchanged by adjusting
    assert (b["sci_low"] <= b["ci_low"]).all() and (b["sci_high"] >= b["ci_high"]).all()


def test_favours_names_an_arm_only_when_the_interval_excludes_zero(trial: mo.Dataset) -> None:
    """issue 17.3: g = -0.12 [-0.43, 0.18] was reported as "favours therapeutic"."""
    ds = mo.load_sample("trial")
    g = effect_sizes(ds, instrument="rmdq", compare=("arm", "therapeutic", "relaxation"), on="ancova",
                     end="week_10")
    row = g.iloc[0]
    assert row["ci_low"] < 0 < row["ci_high"]
    assert row["favours"] == "no clear difference" and row["direction"] == "toward therapeutic"
    uc = effect_sizes(ds, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ancova",
                      end="week_10").iloc[0]
    assert uc["ci_high"] < 0 and uc["favours"] == "favours therapeutic"


def test_reliable_separates_unreliable_rows_from_informational_notes() -> None:
    """issue 17.1: every course-of-care row carries a missing-data note; filtering on `note` left nothing."""
    clinic = mo.load_sample("clinic")
    course = effect_sizes(clinic, instrument="pain_nrs", by=["condition"], start="baseline", end="last")
    assert course["reliable"].dtype == bool
    informational = course["note"].str.contains("left out")
    assert informational.any() and course.loc[informational, "reliable"].all()
    frame = clinic.analysis_frame("pain_nrs")
    two = frame[frame["subject"].isin(frame["subject"].unique()[:2])]
    with pytest.warns(SmallSampleWarning):
        tiny = effect_sizes(two, instrument="pain_nrs", by=["subject"], start="pre", end="post")
    assert not tiny["reliable"].any() and tiny["note"].str.contains("n < 2").all()


def test_counts_are_integers_and_the_display_is_compact(trial: mo.Dataset) -> None:
    """issue 17.10: 28-40 columns wide, truncated by pandas; counts printed as 20.0."""
    from massage_outcomes.results import ResultFrame

    tab = effect_sizes(trial, instrument="rmdq", compare=("arm", "therapeutic", "usual_care"), on="ancova")
    for c in ("n_1", "n_2", "n_missing_1", "n_missing_2"):
        assert pd.api.types.is_integer_dtype(tab[c]), c
    assert isinstance(tab, ResultFrame) and isinstance(tab, pd.DataFrame)
    text = repr(tab)
    assert "..." not in text.splitlines()[0] and "more columns" in text and ".full" in text
    head = text.splitlines()[0].split()
    assert head == ["contrast", "estimate", "ci_low", "ci_high", "p_value", "n_1", "n_2", "favours", "reliable",
                    "note"]
    assert tab.full.shape == tab.shape and list(tab.compact.columns) == head
    assert type(tab[["estimate", "se"]]) is pd.DataFrame  # any pandas operation gives a plain DataFrame
    assert "<table" in tab._repr_html_() and "more columns" in tab._repr_html_()

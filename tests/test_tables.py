"""Table renderers (fixed rounding, formula escaping, four formats), --check diffs, Table 1 and summary_tables."""

import io

import numpy as np
import pandas as pd
import pytest

from massage_outcomes import tables
from massage_outcomes.errors import ArgumentError
from massage_outcomes.tables import (
    check_tables,
    escape_formula,
    format_frame,
    is_note,
    to_csv,
    to_html,
    to_latex,
    to_markdown,
    write_tables,
)


# ------------------------------------------------------------------------------------------------ formatting
def test_format_frame_rounds_fixed_and_never_prints_negative_zero():
    f = pd.DataFrame({"estimate": [1.23456, -0.0004, np.nan], "p_value": [0.5, 1e-9, 0.04999],
                      "n_1": [3.0, 4.0, np.nan], "n": pd.array([1, None, 3], dtype="Int64"),
                      "label": ["a", None, "c"], "flag": [True, False, True]})
    out = format_frame(f)
    assert out["estimate"].tolist() == ["1.235", "0.000", ""]
    assert out["p_value"].tolist() == ["0.5000", "0.0000", "0.0500"]
    assert out["n_1"].tolist() == ["3", "4", ""]
    assert out["n"].tolist() == ["1", "", "3"]
    assert out["label"].tolist() == ["a", "", "c"]
    assert out["flag"].tolist() == ["yes", "no", "yes"]
    shown = format_frame(f, style="display")
    assert shown["p_value"].tolist()[1] == "<0.0001" and shown["estimate"].tolist()[2] == "–"


def test_non_count_integral_floats_keep_their_decimals():
    assert format_frame(pd.DataFrame({"estimate": [2.0]}))["estimate"].tolist() == ["2.000"]


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "=HYPERLINK(\"http://x\")"])
def test_formula_like_text_is_escaped(text):
    assert escape_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["therapeutic - relaxation", "week_10", "", "a=b", "1.5"])
def test_ordinary_text_is_left_alone(text):
    assert escape_formula(text) == text


def test_csv_escapes_text_cells_but_not_negative_numbers():
    f = pd.DataFrame({"label": ["=cmd|' /C calc'!A0", "-x", "ok"], "estimate": [-0.5, -1.25, 2.0]})
    text = to_csv(f)
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert back["label"].tolist() == ["'=cmd|' /C calc'!A0", "'-x", "ok"]
    assert back["estimate"].tolist() == ["-0.500", "-1.250", "2.000"]
    assert "\r" not in text


def test_csv_is_stable_under_tiny_numerical_noise():
    f = pd.DataFrame({"estimate": [0.1234567, -1e-12]})
    g = pd.DataFrame({"estimate": [0.1234567 + 1e-13, 1e-12]})
    assert to_csv(f) == to_csv(g)


def test_markdown_escapes_pipes_and_right_aligns_numbers():
    md = to_markdown(pd.DataFrame({"a": ["x|y", "z"], "b": [1.5, 10.25]}), digits=2)
    lines = md.splitlines()
    assert lines[1] == "|:-----|------:|"
    assert lines[2] == "| x\\|y |  1.50 |"


def test_html_escapes_cells_and_marks_numeric_columns():
    h = to_html(pd.DataFrame({"a": ["<script>"], "b": [1.5]}), caption="T & C")
    assert "&lt;script&gt;" in h and "<script>" not in h
    assert '<td class="num">1.500</td>' in h and "<caption>T &amp; C</caption>" in h


def test_latex_escapes_special_characters():
    tex = to_latex(pd.DataFrame({"arm": ["usual_care & 50%"], "p_value": [1e-6]}), caption="Effects", label="tab:e")
    assert r"usual\_care \& 50\%" in tex
    assert r"\textless{}0.0001" in tex
    assert tex.startswith(r"\begin{table}") and r"\label{tab:e}" in tex and r"\toprule" in tex


def test_render_rejects_unknown_format():
    with pytest.raises(ArgumentError, match="unknown table format"):
        tables.render(pd.DataFrame({"a": [1]}), "docx")


# ------------------------------------------------------------------------------------------------ write/check
def test_write_then_check_is_clean_and_a_change_shows_a_diff(tmp_path):
    tabs = {"effects": pd.DataFrame({"label": ["a"], "estimate": [0.25]}),
            "t1": pd.DataFrame({"characteristic": ["age"], "overall": ["45.0 (10.0)"]})}
    paths = write_tables(tabs, tmp_path, formats=["csv", "md"])
    assert sorted(p.name for p in paths) == ["effects.csv", "effects.md", "t1.csv", "t1.md"]
    assert check_tables(tabs, tmp_path, formats=["csv", "md"]) == []
    moved = {**tabs, "effects": pd.DataFrame({"label": ["a"], "estimate": [0.26]})}
    diffs = check_tables(moved, tmp_path)
    assert len(diffs) == 1
    assert "-a,0.250" in diffs[0] and "+a,0.260" in diffs[0] and "effects.csv" in diffs[0]


def test_check_reports_missing_and_stale_files(tmp_path):
    write_tables({"old": pd.DataFrame({"a": [1]})}, tmp_path)
    diffs = check_tables({"new": pd.DataFrame({"a": [1]})}, tmp_path)
    assert any("new.csv (missing)" in d for d in diffs)
    assert any("stale file old.csv" in d for d in diffs)


def test_unsafe_table_names_are_refused(tmp_path):
    with pytest.raises(ArgumentError, match="safe file name"):
        write_tables({"../evil": pd.DataFrame({"a": [1]})}, tmp_path)


# ------------------------------------------------------------------------------------------------ Table 1
@pytest.fixture(scope="module")
def trial():
    mo = pytest.importorskip("massage_outcomes")
    try:
        return mo.simulate_trial(n_per_arm=25, seed=7)
    except Exception as exc:  # pragma: no cover - simulator not available in this build
        pytest.skip(f"simulate_trial unavailable: {exc}")


def test_table1_has_one_column_per_arm_in_intent_order_and_no_tests(trial):
    t1 = tables.baseline_table(trial)
    assert list(t1.columns) == ["characteristic", "level", "therapeutic", "relaxation", "usual_care", "overall"]
    n_row = t1[(t1.characteristic == "participants")].iloc[0]
    n_arms = [int(n_row[a]) for a in ("therapeutic", "relaxation", "usual_care")]
    assert sum(n_arms) == int(n_row["overall"]) == len(trial.subjects)
    assert not any("p" == c or "p_value" in c for c in t1.columns)
    assert (t1.characteristic.str.contains("Roland-Morris")).any()
    assert (t1.characteristic == "age").any()


def test_table1_counts_match_the_subjects(trial):
    t1 = tables.baseline_table(trial)
    sex = t1[(t1.characteristic == "sex")]
    subj = trial.subjects
    for _, row in sex.iterrows():
        k = int((subj["sex"].astype(object) == row["level"]).sum())
        assert row["overall"].startswith(f"{k} (")


# ------------------------------------------------------------------------------------------------ summary_tables
def test_summary_tables_guards_each_section(trial, monkeypatch):
    import massage_outcomes.effects as effects

    def boom(*args, **kwargs):
        raise RuntimeError("estimator exploded at 0x7f00deadbeef")

    import massage_outcomes.trajectories as traj

    monkeypatch.setattr(effects, "effect_sizes", boom, raising=False)
    monkeypatch.setattr(effects, "responders", boom, raising=False)
    monkeypatch.setattr(traj, "fit_trajectories", boom, raising=False)

    def missing(*args, **kwargs):
        raise ImportError("cannot import name 'fit_mmrm' from 'massage_outcomes.trajectories' (/some/path/x.py)")

    monkeypatch.setattr(traj, "fit_mmrm", missing, raising=False)
    problems: dict[str, str] = {}
    tabs = tables.summary_tables(trial, problems=problems, instruments=["rmdq"])
    assert not is_note(tabs["table1_baseline"])
    for name in ("effects_between_arms", "effects_by_condition", "responders", "trajectory_contrasts", "mmrm"):
        assert is_note(tabs[name]), name
        assert name in problems
    note = tabs["effects_between_arms"]["note"].iloc[0]
    assert "RuntimeError: estimator exploded" in note and "0x7f" not in note
    mmrm_note = tabs["mmrm"]["note"].iloc[0]
    assert "not available yet" in mmrm_note and "/some/path" not in mmrm_note


@pytest.fixture(scope="module")
def summary(trial):
    return tables.summary_tables(trial, instruments=["rmdq"])


def test_summary_tables_render_identically_twice(trial, summary):
    b = tables.summary_tables(trial, instruments=["rmdq"])
    assert list(summary) == list(b)
    for name in summary:
        assert to_csv(summary[name]) == to_csv(b[name]), name


def test_summary_tables_contrasts_read_in_arm_order(summary):
    tabs = summary
    for name in ("effects_between_arms", "trajectory_contrasts", "mmrm"):
        t = tabs[name]
        if is_note(t):
            continue
        assert set(t["contrast"]) <= {"therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"}


def test_primary_visit_must_exist(trial):
    with pytest.raises(ValueError, match="primary_visit"):
        tables.summary_tables(trial, primary_visit="week_99")


# ------------------------------------------------------------------------------------------------ report pieces
def test_responder_rates_are_read_from_the_wide_responders_table():
    from massage_outcomes.report import responder_rates

    wide = pd.DataFrame({"threshold_spec": ["mcid", "mcid", "0.3"], "threshold_value": [5.0, 5.0, 30.0],
                         "threshold_unit": ["points", "points", "percent"], "threshold": ["MCID 5", "MCID 5", "30%"],
                         "arm_1": ["therapeutic", "relaxation", "therapeutic"],
                         "arm_2": ["usual_care", "usual_care", "usual_care"],
                         "rate_1": [0.6, 0.5, 0.7], "rate_1_ci_low": [0.5, 0.4, 0.6], "rate_1_ci_high": [0.7, 0.6, 0.8],
                         "rate_2": [0.3, 0.3, 0.4], "rate_2_ci_low": [0.2, 0.2, 0.3], "rate_2_ci_high": [0.4, 0.4, 0.5]})
    rates = responder_rates(wide)
    assert sorted(rates["threshold"].unique()) == ["MCID (5 points)", "≥30%"]
    mcid = rates[rates["threshold"] == "MCID (5 points)"].set_index("arm")
    assert mcid.loc["usual_care", "rate"] == 0.3 and len(mcid) == 3  # each arm once per threshold


def test_render_html_is_self_contained_and_shows_notes_and_problems():
    import matplotlib.pyplot as plt

    from massage_outcomes.report import render_html

    class DS:
        subjects = pd.DataFrame({"study": ["s"], "subject": ["a"], "arm": ["therapeutic"]})
        outcomes = pd.DataFrame({"instrument": ["rmdq"], "value": [1.0]})

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    page = render_html(DS(), {"table1_baseline": pd.DataFrame({"characteristic": ["N"], "overall": ["1"]}),
                              "mmrm": tables.note_frame("mmrm", "mmrm could not be computed: ModelFitError: x")},
                       {"line": (fig, "A line <with> markup")}, methods={"mmrm": "MMRM, unstructured."},
                       problems={"mmrm": "ModelFitError: x"})
    assert page.count("data:image/png;base64,") == 1
    assert "A line &lt;with&gt; markup" in page
    assert "mmrm could not be computed: ModelFitError: x" in page
    assert "MMRM, unstructured." in page and "Software:" in page
    assert "<script" not in page and 'src="http' not in page and "<link" not in page
    plt.close("all")

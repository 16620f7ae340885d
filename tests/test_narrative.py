"""Sentences built from result rows: the row's numbers, named intervals, and no sentence about nothing."""

from __future__ import annotations

import math

import pytest

from massage_outcomes import narrative
from massage_outcomes.narrative import NarrativeError


def test_no_sentence_about_a_missing_number_or_an_empty_count():
    """issue 17.1: notebook 02 printed "pain fell in 0 of 0 conditions; g ranged from nan to nan"."""
    with pytest.raises(NarrativeError, match="0 of 0"):
        narrative.count_text(0, 0, "conditions")
    with pytest.raises(NarrativeError):
        narrative.range_text([math.nan, math.nan])
    with pytest.raises(NarrativeError):
        narrative.ci_text(math.nan, -1, 1)
    assert narrative.count_text(2, 7, "conditions") == "2 of 7 conditions"
    assert narrative.range_text([-0.5, math.nan, 0.25]) == "from −0.50 to 0.25"


def test_tost_verdicts_read_the_90_percent_interval_and_say_so():
    """issue 17.2: the threshold verdict used a Bonferroni-widened interval."""
    with pytest.raises(NarrativeError, match="90%"):
        narrative.margin_verdict({"estimate": 0.1, "ci_low": -1.0, "ci_high": 1.2, "level": 0.95}, 2)
    eq = narrative.margin_verdict({"estimate": 0.1, "ci_low": -1.0, "ci_high": 1.2, "level": 0.9}, 2)
    assert eq.startswith("equivalent within ±2") and "TOST at 5%" in eq and "90% CI [−1.00, 1.20]" in eq
    benefit = narrative.margin_verdict({"estimate": -3.0, "ci_low": -4.0, "ci_high": -2.5, "level": 0.9}, 2)
    assert "favouring the first arm" in benefit
    harm = narrative.margin_verdict({"estimate": -3.0, "ci_low": -4.0, "ci_high": -2.5, "level": 0.9}, 2,
                                    better="higher")
    assert "favouring the second arm" in harm
    assert narrative.margin_verdict({"ci_low": -2.5, "ci_high": 0.5, "level": 0.9}, 2).startswith("inconclusive")


def test_result_sentences_refuse_unreliable_rows_and_name_their_interval():
    row = {"contrast": "a - b", "estimate": 1.0, "ci_low": 0.1, "ci_high": 1.9, "level": 0.95, "p_value": 0.03,
           "reliable": False, "note": "model did not converge"}
    with pytest.raises(NarrativeError, match="did not converge"):
        narrative.contrast_sentence(row)
    assert "not converge" in narrative.not_reported("a − b", row)
    row["reliable"] = True
    text = narrative.contrast_sentence(row)
    assert text == "a − b 1.0 [0.1, 1.9] points (95% CI, unadjusted; p = 0.030)"
    assert narrative.interval_label(simultaneous="tukey") == "95% simultaneous CI (Tukey)"
    assert narrative.interval_words("fdr_bh").endswith("Benjamini–Hochberg (FDR) has no simultaneous interval")


def test_numbers_print_without_negative_zero():
    assert narrative.number(-0.0004, 2) == "0.00" and narrative.number(-1.5, 1) == "−1.5"
    assert narrative.p_text(0.0004) == "p < 0.001" and narrative.p_text(0.5) == "p = 0.50"

"""The one multiplicity vocabulary and p-value module, and that every caller speaks it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from massage_outcomes import multiplicity as mt
from massage_outcomes.errors import ArgumentError, front_end_names


@pytest.mark.parametrize(("given", "name"), [(None, "none"), ("none", "none"), ("Holm", "holm"), ("BH", "fdr_bh"),
                                             ("fdr", "fdr_bh"), ("Šidák", "sidak"), ("bonferroni", "bonferroni"),
                                             ("tukey", "tukey"), ("BY", "fdr_by")])
def test_normalize_method_accepts_the_vocabulary_and_aliases(given, name):
    assert mt.normalize_method(given) == name


def test_unknown_and_unavailable_methods_name_the_argument_and_the_choices():
    with pytest.raises(ArgumentError, match=r"adjust='scheffe' is not a multiplicity method.*holm"):
        mt.normalize_method("scheffe")
    with pytest.raises(ArgumentError, match="not available here. Tukey needs"):
        mt.normalize_method("tukey", allowed=("none", "holm"), why="Tukey needs pairwise contrasts.")
    with front_end_names({"adjust": "--adjust"}), pytest.raises(ArgumentError, match="--adjust scheffe is not"):
        mt.normalize_method("scheffe")


@pytest.mark.parametrize("method", ["holm", "bonferroni", "sidak", "fdr_bh", "fdr_by"])
def test_p_adjust_equals_statsmodels(method):
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for k in (2, 9, 40):  # statsmodels' gc.collect() makes each reference call cost ~70 ms
        p = rng.uniform(0, 0.2, k) ** 2
        p[0] = p[-1]  # a tie
        np.testing.assert_allclose(mt.p_adjust(p, method), multipletests(p, method=method)[1], rtol=1e-12)


def test_p_adjust_matches_r_p_adjust_and_skips_nan():
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "BH") -> all 0.05; "holm" -> 0.05 0.08 0.09 0.09 0.09
    p = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    np.testing.assert_allclose(mt.p_adjust(p, "fdr_bh"), [0.05] * 5)
    np.testing.assert_allclose(mt.p_adjust(p, "holm"), [0.05, 0.08, 0.09, 0.09, 0.09])
    with_nan = mt.p_adjust(np.array([0.01, np.nan, 0.04]), "bonferroni")
    assert np.isnan(with_nan[1]) and with_nan[[0, 2]].tolist() == [0.02, 0.08]  # a NaN is not a test: k = 2
    assert mt.p_adjust(np.array([0.2]), "none").tolist() == [0.2]


def test_t_p_two_sided_is_scipy_and_normal_at_infinite_df():
    t = np.array([-3.0, -0.5, 0.0, 1.2, 8.0])
    df = np.array([1.0, 5.5, 30.0, 200.0, np.inf])
    expect = np.where(np.isfinite(df), 2 * stats.t.sf(np.abs(t), np.where(np.isfinite(df), df, 1)),
                      2 * stats.norm.sf(np.abs(t)))
    np.testing.assert_allclose(mt.t_p_two_sided(t, df), expect, rtol=1e-13)
    assert np.isnan(mt.t_p_two_sided(1.0, 0.0)) and np.isnan(mt.t_p_two_sided(1.0, np.nan))


def test_simultaneous_levels_and_critical_values():
    assert mt.simultaneous_level(0.95, "bonferroni", 3) == pytest.approx(1 - 0.05 / 3)
    assert mt.simultaneous_level(0.95, "sidak", 3) == pytest.approx(0.95 ** (1 / 3))
    assert mt.simultaneous_level(0.95, "holm", 3) is None and mt.simultaneous_level(0.95, "fdr_bh", 3) is None
    assert mt.simultaneous_crit(0.95, [20.0, 20.0], "holm", k=2) is None
    # R: qtukey(0.95, 3, 20) / sqrt(2) = 2.529963
    assert mt.simultaneous_crit(0.95, [20.0], "tukey", k=3, n_means=3)[0] == pytest.approx(3.577935 / np.sqrt(2),
                                                                                            rel=1e-6)
    assert set(mt.SIMULTANEOUS) == {"bonferroni", "sidak", "tukey"} and set(mt.SIMULTANEOUS) < set(mt.METHODS)


def test_adjust_t_tukey_matches_r():
    # R: ptukey(sqrt(2)*2.5, 3, 30, lower.tail = FALSE)
    assert mt.adjust_t(np.array([2.5]), np.array([30.0]), "tukey", n_means=3)[0] == pytest.approx(0.04633029373,
                                                                                                   rel=1e-5)
    with pytest.raises(ArgumentError, match="n_means"):
        mt.adjust_t(np.array([2.5]), np.array([30.0]), "tukey")


def test_the_two_sided_t_p_value_is_written_once():
    """The estimators import it; none computes 2·t.sf(|t|) itself (issue 14: it was in three places)."""
    import ast
    from pathlib import Path

    import massage_outcomes

    root = Path(massage_outcomes.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "multiplicity.py" or "pooling" in path.name:  # pooling: lane E's rework (see its module)
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "sf" and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "t":
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders

"""Every plot function draws the expected groups, labels and intervals, and returns its Axes/Figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from massage_outcomes import plot
from massage_outcomes.errors import ArgumentError


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def _texts(ax, gid):
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


EFFECTS = pd.DataFrame({
    "condition": ["low_back_pain", "low_back_pain", "low_back_pain", "tmj", "tmj"],
    "label": ["clinic A", "clinic B", "clinic C", "clinic D", "clinic E"],
    "estimate": [-0.4, -0.2, -0.6, -0.3, 0.1],
    "ci_low": [-0.8, -0.5, -1.0, -0.7, -0.3],
    "ci_high": [0.0, 0.1, -0.2, 0.1, 0.5],
    "weight": [40.0, 60.0, 30.0, 20.0, 25.0],
})


# ------------------------------------------------------------------------------------------------ look
def test_palette_is_okabe_ito_and_arm_colours_are_fixed():
    assert plot.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")
    a = plot.colours_for(["therapeutic", "relaxation", "usual_care"])
    b = plot.colours_for(["usual_care", "therapeutic"])
    assert a["therapeutic"] == b["therapeutic"] and a["usual_care"] == b["usual_care"]
    many = plot.colours_for([f"g{i}" for i in range(6)])
    assert len(set(many.values())) == 6


def test_order_levels_puts_known_arms_in_a_fixed_order():
    assert plot.order_levels(["usual_care", "relaxation", "therapeutic"]) == ["therapeutic", "relaxation", "usual_care"]
    assert plot.order_levels(["b", "a"]) == ["b", "a"]


def test_instrument_label_names_range_unit_and_direction():
    label = plot.instrument_label("mouth_opening")
    assert "Maximal mouth opening" in label and "mm" in label and "higher is better" in label
    assert plot.instrument_label(None, what="score") == "score"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"instrument": "rmdq", "compare": ("therapeutic", "relaxation")}, ("favours therapeutic", "favours relaxation")),
        ({"instrument": "psfs", "compare": ("therapeutic", "relaxation")}, ("favours relaxation", "favours therapeutic")),
        ({"better": "higher", "compare": ("massage", "control")}, ("favours control", "favours massage")),
        ({"better": "lower", "compare": ("massage", "sham")}, ("favours massage", "favours sham")),
        ({}, ("", "")),
    ],
)
def test_favours_labels_follow_the_instrument_direction(kwargs, expected):
    assert plot.favours_labels(**kwargs) == expected


# ---------------------------------------------------------------------------------------------- forest
def test_forest_draws_one_interval_and_square_per_row_and_a_diamond():
    pooled = {"estimate": -0.3, "ci_low": -0.5, "ci_high": -0.1}
    ax = plot.forest(EFFECTS, pooled=pooled, instrument="rmdq", compare=("therapeutic", "relaxation"))
    assert isinstance(ax, Axes)
    cis = _gid(ax.lines, "ci")
    assert len(cis) == 5
    assert sorted(tuple(line.get_xdata()) for line in cis) == sorted(zip(EFFECTS.ci_low, EFFECTS.ci_high, strict=True))
    assert len(_gid(ax.lines, "point")) == 5
    diamonds = [p for p in ax.patches if isinstance(p, Polygon) and p.get_gid() == "pooled"]
    assert len(diamonds) == 1
    xs = diamonds[0].get_xy()[:, 0]
    assert xs.min() == pytest.approx(-0.5) and xs.max() == pytest.approx(-0.1)
    assert [t.get_text() for t in ax.get_yticklabels()] == [*EFFECTS.label, "Pooled"]
    favours = _texts(ax, "favours")
    assert favours == ["← favours therapeutic", "favours relaxation →"]
    assert "-0.40 [-0.80, 0.00]" in _texts(ax, "ci_text")


def test_forest_squares_scale_with_weight():
    ax = plot.forest(EFFECTS)
    sizes = [line.get_markersize() for line in _gid(ax.lines, "point")]
    assert sizes[1] == max(sizes)  # weight 60 is the largest
    assert sizes[3] == min(sizes)  # weight 20 the smallest


def test_forest_groups_with_headings_and_a_diamond_per_group():
    pooled = pd.DataFrame({"condition": ["low_back_pain", "tmj"], "estimate": [-0.35, -0.1],
                           "ci_low": [-0.55, -0.4], "ci_high": [-0.15, 0.2], "pi_low": [-0.8, -0.9],
                           "pi_high": [0.1, 0.7]})
    ax = plot.forest(EFFECTS, group="condition", pooled=pooled)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "low back pain" and "tmj" in labels
    assert labels.count("Pooled") == 2
    assert len(_gid(ax.patches, "pooled")) == 2
    assert len(_gid(ax.lines, "prediction")) == 2
    assert len(_gid(ax.lines, "ci")) == 5


def test_forest_log_scale_for_ratios_and_null_at_one():
    t = pd.DataFrame({"label": ["a", "b"], "estimate": [2.7, 2.2], "ci_low": [0.99, 1.04], "ci_high": [7.5, 4.2]})
    ax = plot.forest(t, log=True, better="higher", compare=("massage", "self-care"), xlabel="Risk ratio")
    assert ax.get_xscale() == "log"
    nulls = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert nulls and nulls[0].get_xdata()[0] == 1.0
    assert _texts(ax, "favours") == ["← favours self-care", "favours massage →"]


def test_forest_draws_a_pooled_ratio_on_the_ratio_scale():
    t = pd.DataFrame({"label": ["a", "b"], "estimate": [2.7, 1.56], "ci_low": [0.99, 1.08], "ci_high": [7.5, 2.25]})
    pooled = {"estimate": np.log(1.7), "ci_low": np.log(1.2), "ci_high": np.log(2.4), "exp_estimate": 1.7,
              "exp_ci_low": 1.2, "exp_ci_high": 2.4}
    ax = plot.forest(t, pooled=pooled, log=True, better="higher")
    xs = _gid(ax.patches, "pooled")[0].get_xy()[:, 0]
    assert xs.min() == pytest.approx(1.2) and xs.max() == pytest.approx(2.4)


def test_forest_keeps_rows_without_an_interval_and_says_so():
    t = pd.DataFrame({"label": ["sham", "none"], "estimate": [-0.44, -1.14], "ci_low": [np.nan, np.nan],
                      "ci_high": [np.nan, np.nan]})
    ax = plot.forest(t, better="lower")
    assert len(_gid(ax.lines, "ci")) == 0
    assert len(_gid(ax.lines, "point")) == 2
    assert "-0.44" in _texts(ax, "ci_text")


def test_forest_favours_texts_can_be_given_verbatim():
    ax = plot.forest(EFFECTS, favours=("less pain", "more pain"))
    assert _texts(ax, "favours") == ["← less pain", "more pain →"]


def test_forest_names_missing_columns():
    with pytest.raises(ArgumentError, match="ci_low"):
        plot.forest(pd.DataFrame({"estimate": [1.0]}))


# ---------------------------------------------------------------------------------------------- trajectories
def _means():
    rows = []
    for arm, slope in [("usual_care", -0.1), ("therapeutic", -0.5), ("relaxation", -0.4)]:
        for w in (0, 4, 10, 26):
            e = 12 + slope * min(w, 10)
            rows.append({"arm": arm, "week": w, "estimate": e, "ci_low": e - 1, "ci_high": e + 1})
    return pd.DataFrame(rows)


def _individual(n=20):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"study": "s", "subject": f"{arm}{i}", "arm": arm, "week": w, "value": rng.normal(10, 3)}
                         for arm in ("therapeutic", "relaxation", "usual_care") for i in range(n)
                         for w in (0, 4, 10, 26)])


def test_trajectories_draws_a_mean_line_and_band_per_group_over_individuals():
    ax = plot.trajectories(_means(), group="arm", time="week", individual=_individual(), instrument="rmdq",
                           max_individuals=5)
    means = _gid(ax.lines, "mean")
    assert [line.get_label() for line in means] == ["therapeutic", "relaxation", "usual_care"]
    assert all(len(line.get_xdata()) == 4 for line in means)
    assert len([c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == "band"]) == 3
    indiv = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == "individual"]
    assert len(indiv) == 3 and all(len(c.get_segments()) == 5 for c in indiv)
    assert "Roland-Morris" in ax.get_ylabel() and ax.get_xlabel() == "Weeks since baseline"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["therapeutic", "relaxation", "usual care"]


def test_trajectories_with_categorical_visits_and_emmeans_column_names():
    em = pd.DataFrame({"arm": ["a", "a", "b", "b"], "visit": pd.Categorical(["baseline", "week_10"] * 2,
                                                                             categories=["baseline", "week_10"],
                                                                             ordered=True),
                       "emmean": [5.0, 3.0, 5.0, 4.0], "ci_low": [4.0, 2.0, 4.0, 3.0], "ci_high": [6.0, 4.0, 6.0, 5.0]})
    ax = plot.trajectories(em)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "week 10"]
    assert len(_gid(ax.lines, "mean")) == 2


def test_trajectories_accepts_a_fit_with_emmeans():
    class Fit:
        group, time = "arm", "week"

        def emmeans(self, at=None, level=0.95):
            return _means()

    ax = plot.trajectories(Fit())
    assert len(_gid(ax.lines, "mean")) == 3


# ---------------------------------------------------------------------------------------------- estimation
def test_estimation_plot_shows_raw_groups_and_the_bootstrap_difference():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"arm": ["therapeutic"] * 30 + ["relaxation"] * 25,
                      "change": np.r_[rng.normal(-4, 3, 30), rng.normal(-3, 3, 25)]})
    fig = plot.estimation(d, group="arm", value="change", compare=("therapeutic", "relaxation"),
                          draws=rng.normal(-1, 0.5, 500), estimate=-1.0, ci=(-2.0, 0.0), instrument="rmdq")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    raw, diff = fig.axes
    groups = _gid(raw.collections, "raw")
    assert [len(c.get_offsets()) for c in groups] == [30, 25]
    assert [t.get_text() for t in raw.get_xticklabels()] == ["therapeutic\n(n=30)", "relaxation\n(n=25)"]
    ci = _gid(diff.lines, "ci")
    assert len(ci) == 1 and tuple(ci[0].get_ydata()) == (-2.0, 0.0)
    assert len(_gid(diff.lines, "effect")) == 1
    assert len(_gid(diff.collections, "draws")) == 1
    assert "Roland-Morris" in raw.get_ylabel() and "points" in diff.get_ylabel()


def test_estimation_takes_a_result_object_with_draws():
    class Result:
        estimate, ci_low, ci_high = 0.5, 0.1, 0.9
        draws = np.linspace(0, 1, 200)

    d = pd.DataFrame({"g": ["a", "b"] * 5, "v": np.arange(10.0)})
    fig = plot.estimation(d, group="g", value="v", compare=("a", "b"), draws=Result())
    assert tuple(_gid(fig.axes[1].lines, "ci")[0].get_ydata()) == (0.1, 0.9)


def test_estimation_from_a_dataset_asks_the_effects_module_for_the_draws():
    mo = pytest.importorskip("massage_outcomes")
    ds = mo.simulate_trial(n_per_arm=15, seed=4)
    fig = plot.estimation(ds, group="arm", value="change", compare=("therapeutic", "usual_care"), instrument="rmdq",
                          end="week_10", n_resamples=300)
    raw, diff = fig.axes
    assert len(_gid(raw.collections, "raw")) == 2
    lo, hi = _gid(diff.lines, "ci")[0].get_ydata()
    est = _gid(diff.lines, "effect")[0].get_ydata()[0]
    assert lo < est < hi


def test_trajectories_of_a_continuous_time_fit_draws_its_population_curves():
    class Fit:
        group, time, time_kind = "arm", "week", "continuous"

        def population_curves(self):
            return _means().rename(columns={"arm": "group", "week": "time"})

        def emmeans(self, at=None):  # pragma: no cover - must not be used
            raise AssertionError

    ax = plot.trajectories(Fit())
    assert len(_gid(ax.lines, "mean")) == 3


# ---------------------------------------------------------------------------------------------- responders
def test_responder_plot_draws_rates_with_intervals_per_arm_and_threshold():
    t = pd.DataFrame({"arm": ["usual_care", "therapeutic"] * 3, "threshold": ["MCID", "MCID", "30%", "30%", "50%", "50%"],
                      "rate": [0.3, 0.6, 0.25, 0.5, 0.1, 0.3]})
    t["ci_low"], t["ci_high"] = t.rate - 0.1, t.rate + 0.1
    ax = plot.responders(t, instrument="rmdq")
    rates = _gid(ax.lines, "rate")
    assert len(rates) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["therapeutic", "usual care"]
    assert np.allclose(rates[0].get_ydata(), [60, 50, 30])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["MCID", "30%", "50%"]
    assert ax.get_ylabel() == "Responders (%)"
    # one vertical interval per arm x threshold
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in bars) == 6


# ---------------------------------------------------------------------------------------------- heatmap
def test_heatmap_annotates_each_cell_and_marks_empty_ones():
    t = pd.DataFrame({"condition": ["low_back_pain", "low_back_pain", "tmj"],
                      "technique": ["swedish", "deep_tissue", "swedish"], "estimate": [-0.5, -0.8, -0.3],
                      "ci_low": [-0.9, -1.2, -0.6], "ci_high": [-0.1, -0.4, 0.0], "n": [20, 25, 12]})
    ax = plot.heatmap(t, n="n", instrument="pain_nrs")
    assert len(_texts(ax, "cell")) == 3
    assert _texts(ax, "empty") == ["–"]
    assert "-0.80\n[-1.20, -0.40]\nn=25" in _texts(ax, "cell")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["low back pain", "tmj"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["swedish", "deep tissue"]
    image = _gid(ax.images, "heatmap")[0]
    # lower is better: improvement (negative) gets the purple end, whatever the instrument's direction
    purple_lower = image.cmap(0.0)
    image2 = _gid(plot.heatmap(t.assign(estimate=-t.estimate), instrument="psfs").images, "heatmap")[0]
    assert np.allclose(purple_lower, image2.cmap(1.0))


def test_plots_draw_on_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot.forest(EFFECTS, ax=axes[0]) is axes[0]
    assert plot.trajectories(_means(), ax=axes[1]) is axes[1]


def test_save_writes_png(tmp_path):
    ax = plot.forest(EFFECTS)
    plot.save(ax, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_forest_names_the_interval_its_bars_show():
    """issue 17.2: every plot label says which interval it shows."""

    t = pd.DataFrame({"label": ["a", "b"], "estimate": [0.2, -0.1], "ci_low": [0.0, -0.4], "ci_high": [0.4, 0.2]})
    ax = plot.forest(t, weight=None, xlabel="Hedges' g", interval="95% simultaneous CI (Tukey)")
    assert ax.get_xlabel() == "Hedges' g; bars: 95% simultaneous CI (Tukey)"
    heading = [c for c in ax.get_children() if getattr(c, "get_gid", lambda: None)() == "ci_heading"]
    assert heading and "95% simultaneous CI (Tukey)" in heading[0].get_text()

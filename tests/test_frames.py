"""frames.analysis_frame: the one way analyses and presentation get an instrument's analysis frame."""

from __future__ import annotations

import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes.errors import ArgumentError, ArgumentTypeError, DataValidationError
from massage_outcomes.frames import AnalysisFrames, analysis_frame


@pytest.fixture(scope="module")
def trial() -> mo.Dataset:
    return mo.simulate_trial(n_per_arm=8, seed=4)


def test_a_dataset_its_frames_and_its_long_file_give_the_same_frame(trial: mo.Dataset) -> None:
    want = trial.analysis_frame("rmdq")
    pd.testing.assert_frame_equal(analysis_frame(trial, "rmdq"), want)
    both = pd.concat([want, trial.analysis_frame("pain_nrs")], ignore_index=True)
    pd.testing.assert_frame_equal(analysis_frame(both, "rmdq"), want)  # filtered to the instrument
    out = analysis_frame(want, "rmdq")
    assert out is not want and out.equals(want)


def test_a_long_frame_without_derived_columns_is_built_into_a_dataset() -> None:
    long = pd.DataFrame({"subject": ["a", "a", "b", "b"], "instrument": "rmdq", "day": [0, 70] * 2,
                         "value": [12.0, 7.0, 10.0, 9.0]})
    out = analysis_frame(long, "rmdq")
    assert out["change"].tolist() == [0.0, -5.0, 0.0, -1.0]
    assert out["improvement"].tolist() == [0.0, 5.0, 0.0, 1.0]  # rmdq: lower is better


def test_errors_say_what_to_pass(trial: mo.Dataset) -> None:
    both = pd.concat([trial.analysis_frame("rmdq"), trial.analysis_frame("pain_nrs")], ignore_index=True)
    with pytest.raises(ArgumentError, match="several instruments .*pass instrument="):
        analysis_frame(both)
    with pytest.raises(DataValidationError, match="instrument='odi' has no rows in the data; instruments found: "
                                                  "pain_nrs, rmdq"):
        analysis_frame(both, "odi")
    with pytest.raises(ArgumentTypeError, match="got list"):
        analysis_frame([1, 2, 3], "rmdq")


def test_an_object_with_its_own_analysis_frame_builds_it(trial: mo.Dataset) -> None:
    class Lazy:  # what a scan over an engine offers
        calls: list[str | None] = []

        def analysis_frame(self, instrument: str | None = None) -> pd.DataFrame:
            self.calls.append(instrument)
            return trial.analysis_frame(instrument)

    lazy = Lazy()
    frames = AnalysisFrames(lazy)
    assert frames("rmdq") is frames("rmdq")
    assert lazy.calls == ["rmdq"]  # built once


def test_estimation_plots_only_the_instrument_asked_for(trial: mo.Dataset) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from massage_outcomes import plot

    both = pd.concat([trial.analysis_frame("rmdq"), trial.analysis_frame("pain_nrs")], ignore_index=True)
    fig = plot.estimation(both, group="arm", value="change", compare=("therapeutic", "usual_care"),
                          instrument="rmdq", end="week_10", n_resamples=200)
    raw = [c for c in fig.axes[0].collections if c.get_gid() == "raw"]
    n_points = sum(len(c.get_offsets()) for c in raw)
    af = trial.analysis_frame("rmdq")
    want = af[(af["visit"].astype(str) == "week_10") & af["arm"].isin(["therapeutic", "usual_care"])]
    assert n_points == int(want["change"].notna().sum())

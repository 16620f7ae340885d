"""A set of sensitivity analyses in the report's tidy shape: the same intercurrent events under MAR and each
reference-based strategy, and delta adjustments, stacked as one frame for
:func:`massage_outcomes.paper.sensitivity_table` (the report's "sensitivity" table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from massage_outcomes.sensitivity.estimands import IntercurrentEvents, dropout_events
from massage_outcomes.sensitivity.impute import impute

__all__ = ["sensitivity_analyses"]


def sensitivity_analyses(
    data: Any,
    *,
    instrument: str,
    reference: str,
    events: IntercurrentEvents | None = None,
    strategies: Sequence[str] = ("MAR", "JR", "CR", "CIR"),
    deltas: Sequence[Mapping[str, float]] = (),
    delta_strategy: str = "MAR",
    **impute_options: Any,
) -> pd.DataFrame:
    """Run :func:`massage_outcomes.impute` (conditional mean, jackknife) once per strategy and per delta.

    Parameters
    ----------
    data : Dataset or DataFrame
    instrument, reference : str
        As in :func:`massage_outcomes.impute`.
    events : IntercurrentEvents, optional
        The subjects and first affected visits; every strategy is applied to all of them in turn. Default:
        :func:`~massage_outcomes.sensitivity.dropout_events` (an event at each subject's dropout).
    strategies : sequence of str
        The strategies to compare.
    deltas : sequence of mapping
        Delta adjustments (per arm) applied to the ``delta_strategy`` imputation, e.g. ``[{"therapeutic": 2}]``.
    **impute_options
        Passed to :func:`massage_outcomes.impute` (``visit``, ``group``, ``covariates``, ...).

    Returns
    -------
    DataFrame
        ``instrument``, ``analysis``, ``contrast``, ``visit``, ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``df``, ``p_value``, ``method``, ``n_replicates``, ``reliable``, ``note``.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.sensitivity import sensitivity_analyses
    >>> frame = mo.load_sample("trial").analysis_frame("rmdq")
    >>> frame = frame[frame["arm"] != "relaxation"]
    >>> out = sensitivity_analyses(frame, instrument="rmdq", reference="usual_care", strategies=["JR"],
    ...                            method="approxbayes", n_imputations=5, rng=1)
    >>> out["analysis"].unique().tolist()
    ['JR, approximate Bayesian MI']
    """
    if events is None:
        events = dropout_events(data, strategy="MAR", instrument=instrument,
                                visit=impute_options.get("visit", "visit"),
                                subject=impute_options.get("subject", "subject"),
                                outcome=impute_options.get("outcome", "value"))
    frames = []
    results = {}
    for s in dict.fromkeys([*strategies, *([delta_strategy] if deltas else [])]):  # strategies (few)
        ev = replace(events, table=events.table.assign(strategy=s))
        results[s] = impute(data, instrument=instrument, reference=reference, events=ev, **impute_options)
        if s in strategies:
            frames.append(results[s].results)
    for d in deltas:  # delta adjustments (few)
        r = results[delta_strategy].pool(delta=dict(d))
        r["analysis"] = f"{results[delta_strategy].label}, delta " + ", ".join(f"{k} {v:+g}" for k, v in d.items())
        frames.append(r)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "instrument", instrument)
    return out

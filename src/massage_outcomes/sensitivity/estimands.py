"""Estimands (ICH E9(R1)) and the per-subject table of intercurrent events with their imputation strategy.

An intercurrent event (stopping the sessions, starting another treatment) affects a subject from a visit on. The
table :class:`IntercurrentEvents` holds, per affected subject, that first visit and the strategy that says what
the subject's outcomes after it are assumed to be:

==========  ==============================================  ============================================
key         strategy                                        mean after the event (Carpenter et al. 2013)
==========  ==============================================  ============================================
``MAR``     missing at random                               the subject's own arm
``JR``      jump to reference                               the reference arm's mean at each visit
``CR``      copy reference                                  the reference arm at every visit (also before)
``CIR``     copy increments in reference                    own mean at the last visit before the event,
                                                            plus the reference arm's change since then
``LMCF``    last mean carried forward                       own mean at the last visit before the event
==========  ==============================================  ============================================

A user-supplied strategy is a function registered by name in :func:`massage_outcomes.impute`'s
``strategies=`` argument.

References
----------
ICH E9(R1) (2019). Addendum on estimands and sensitivity analysis in clinical trials.
Carpenter JR, Roger JH, Kenward MG (2013). Analysis of longitudinal trials with protocol deviation: a framework
for relevant, accessible assumptions, and inference via multiple imputation. J Biopharm Stat 23:1352-1371.
doi:10.1080/10543406.2013.834911
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from massage_outcomes.errors import ArgumentError, DataValidationError

__all__ = ["STRATEGIES", "Estimand", "IntercurrentEvents", "dropout_events", "intercurrent_events",
           "normalize_strategy"]

#: the built-in strategies: key -> description
STRATEGIES: dict[str, str] = {
    "MAR": "missing at random (own arm)",
    "JR": "jump to reference",
    "CR": "copy reference",
    "CIR": "copy increments in reference",
    "LMCF": "last mean carried forward",
}
_SYNONYMS = {
    "mar": "MAR", "missing_at_random": "MAR",
    "jr": "JR", "j2r": "JR", "jump_to_reference": "JR",
    "cr": "CR", "copy_reference": "CR",
    "cir": "CIR", "copy_increments_in_reference": "CIR", "copy_increments_from_reference": "CIR",
    "lmcf": "LMCF", "last_mean_carried_forward": "LMCF",
}


def normalize_strategy(value: Any, custom: Iterable[str] = ()) -> str:
    """The strategy key for ``value`` ("jump to reference", "J2R", "jr" -> ``"JR"``); custom names pass as given.

    Examples
    --------
    >>> normalize_strategy("Jump to reference"), normalize_strategy("cir")
    ('JR', 'CIR')
    """
    text = str(value).strip()
    if text in set(custom):
        return text
    key = _SYNONYMS.get(text.lower().replace("-", "_").replace(" ", "_"))
    if key is None:
        raise ArgumentError(
            f"strategy {value!r} is not known; use one of {list(STRATEGIES)} (or a synonym such as "
            "'jump to reference'), or register your own with impute(..., strategies={name: function})."
        )
    return key


@dataclass(frozen=True)
class IntercurrentEvents:
    """One row per subject with an intercurrent event: ``subject``, ``visit`` (the first visit it affects),
    ``strategy`` (a key of :data:`STRATEGIES` or a custom name) and ``event`` (a label).

    Build with :func:`intercurrent_events`, which checks it against the data. Subjects not in the table have no
    event: their missing outcomes are imputed under MAR.
    """

    table: pd.DataFrame
    visits: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.table)

    def counts(self) -> pd.DataFrame:
        """Subjects per event and strategy: ``event``, ``strategy``, ``n``."""
        return self.table.groupby(["event", "strategy"], sort=True).size().rename("n").reset_index()

    def strategies(self) -> list[str]:
        return sorted(self.table["strategy"].unique().tolist())

    def __repr__(self) -> str:
        return f"<IntercurrentEvents: {len(self)} subjects, strategies {self.strategies()}>"


def _subjects_and_visits(data: Any, instrument: str | None, visit: str, subject: str) -> tuple[pd.DataFrame, list[str]]:
    """The analysis frame's subjects (with their rows) and its post-baseline visit labels in order."""
    from massage_outcomes.dataset import as_analysis_frame

    frame = data if isinstance(data, pd.DataFrame) else as_analysis_frame(data, instrument)
    if instrument is not None and "instrument" in frame.columns:
        frame = frame[frame["instrument"].astype(str) == instrument]
    for col in (subject, visit):
        if col not in frame.columns:
            raise DataValidationError(f"the data have no column {col!r} (columns: {list(frame.columns)}).")
    post = frame
    if "timing" in frame.columns:
        post = frame[frame["timing"].astype(str) != "baseline"]
    if isinstance(post[visit].dtype, pd.CategoricalDtype):
        used = set(post[visit].dropna().astype(str))
        levels = [str(v) for v in post[visit].cat.categories if str(v) in used]
    else:
        levels = [str(v) for v in pd.unique(post[visit].dropna())]
    return frame, levels


def intercurrent_events(
    data: Any,
    *,
    events: pd.DataFrame | None = None,
    column: str | None = None,
    strategy: str | None = None,
    event: str = "intercurrent event",
    instrument: str | None = None,
    visit: str = "visit",
    subject: str = "subject",
    custom_strategies: Sequence[str] = (),
) -> IntercurrentEvents:
    """Build and check the table of intercurrent events against the data.

    Parameters
    ----------
    data : Dataset or DataFrame
        The analysis data (a Dataset with ``instrument``, or its long analysis frame).
    events : DataFrame, optional
        One row per affected subject with columns ``subject``, ``visit`` (first visit affected) and ``strategy``
        (or pass ``strategy=`` for all), optionally ``event``.
    column : str, optional
        Instead of ``events``: a column of ``data`` holding each subject's first affected visit (missing = no
        event); ``strategy`` is then one strategy for all or the name of a column holding each subject's.
    strategy : str, optional
        A strategy key or synonym for every row, or (with ``column``) a column name.
    event : str
        Label for rows without an ``event`` column.
    instrument, visit, subject : str
        As in :func:`massage_outcomes.fit_mmrm`.
    custom_strategies : sequence of str
        Names of user-supplied strategies allowed in the table.

    Returns
    -------
    IntercurrentEvents

    Raises
    ------
    DataValidationError
        Unknown subjects or visits, a subject listed twice, or a row without a strategy; the message lists them.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.sensitivity import intercurrent_events
    >>> ds = mo.load_sample("trial")
    >>> ice = intercurrent_events(ds, instrument="rmdq", strategy="jump to reference",
    ...     events=pd.DataFrame({"subject": ["S001", "S002"], "visit": ["week_10", "week_26"]}))
    >>> ice.table[["subject", "visit", "strategy"]].values.tolist()
    [['S001', 'week_10', 'JR'], ['S002', 'week_26', 'JR']]
    """
    frame, levels = _subjects_and_visits(data, instrument, visit, subject)
    if (events is None) == (column is None):
        raise ArgumentError("pass exactly one of events= (a table) or column= (a column of the data).")
    if events is None:
        table = _events_from_column(frame, str(column), strategy, subject)
    else:
        table = events.copy()
        if "subject" not in table.columns and subject in table.columns:
            table = table.rename(columns={subject: "subject"})
        if "visit" not in table.columns and visit in table.columns:
            table = table.rename(columns={visit: "visit"})
        missing = [c for c in ("subject", "visit") if c not in table.columns]
        if missing:
            raise DataValidationError(f"events= needs columns {missing}; it has {list(table.columns)}.")
        if "strategy" not in table.columns:
            if strategy is None:
                raise ArgumentError("events= has no `strategy` column; add one or pass strategy='JR' (etc.).")
            table["strategy"] = strategy
    if "event" not in table.columns:
        table["event"] = event
    table = table[["subject", "visit", "strategy", "event"]].reset_index(drop=True)
    table["subject"] = table["subject"].astype(str)
    table["visit"] = table["visit"].astype(str)
    _check_events(table, set(frame[subject].astype(str)), levels)
    table["strategy"] = [normalize_strategy(s, custom_strategies) for s in table["strategy"]]
    return IntercurrentEvents(table=table, visits=tuple(levels))


def dropout_events(
    data: Any,
    *,
    strategy: str,
    instrument: str | None = None,
    visit: str = "visit",
    subject: str = "subject",
    outcome: str = "value",
    event: str = "dropout",
) -> IntercurrentEvents:
    """Intercurrent events at dropout: each subject whose last observed visit is not the last visit gets an
    event at the visit after it (subjects without any post-baseline value: at the first visit).

    Use it when the trial records no intercurrent events but every dropout is to be handled by one strategy.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> from massage_outcomes.sensitivity import dropout_events
    >>> ev = dropout_events(mo.load_sample("trial"), instrument="rmdq", strategy="JR")
    >>> ev.table.columns.tolist(), set(ev.table["strategy"])
    (['subject', 'visit', 'strategy', 'event'], {'JR'})
    """
    frame, levels = _subjects_and_visits(data, instrument, visit, subject)
    if outcome not in frame.columns:
        raise DataValidationError(f"the data have no column {outcome!r} (columns: {list(frame.columns)}).")
    post = frame[frame[visit].astype(str).isin(levels)]
    pos = post[visit].astype(str).map({v: i for i, v in enumerate(levels)})
    last = pos.where(post[outcome].notna()).groupby(post[subject].astype(str)).max()
    nxt = (last.fillna(-1) + 1).astype(int)
    nxt = nxt[nxt < len(levels)]
    table = pd.DataFrame({"subject": nxt.index.astype(str), "visit": [levels[i] for i in nxt],
                          "strategy": strategy, "event": event})
    return intercurrent_events(frame, events=table, instrument=instrument, visit=visit, subject=subject)


def _events_from_column(frame: pd.DataFrame, column: str, strategy: str | None, subject: str) -> pd.DataFrame:
    if column not in frame.columns:
        raise DataValidationError(f"column={column!r} is not a column of the data (columns: {list(frame.columns)}).")
    if strategy is None:
        raise ArgumentError("column= needs strategy= (one strategy, or the column holding each subject's).")
    cols = [subject, column] + ([strategy] if strategy in frame.columns else [])
    per = frame[cols].dropna(subset=[column]).drop_duplicates()
    many = per[subject][per[subject].duplicated()]
    if len(many):
        raise DataValidationError(
            f"{many.nunique()} subjects have more than one value in {column!r} (e.g. {many.iloc[0]!r}); it must "
            "hold one first affected visit per subject."
        )
    out = pd.DataFrame({"subject": per[subject].astype(str), "visit": per[column].astype(str)})
    out["strategy"] = per[strategy].to_numpy() if strategy in frame.columns else strategy
    return out


def _check_events(table: pd.DataFrame, subjects: set[str], levels: list[str]) -> None:
    problems = []
    unknown = sorted(set(table["subject"]) - subjects)
    if unknown:
        problems.append(f"{len(unknown)} subjects are not in the data ({', '.join(unknown[:5])})")
    bad = sorted(set(table["visit"]) - set(levels))
    if bad:
        problems.append(f"visits {bad[:5]} are not post-baseline visits of the data (visits: {levels})")
    dup = sorted(set(table.loc[table["subject"].duplicated(), "subject"]))
    if dup:
        problems.append(f"{len(dup)} subjects are listed more than once ({', '.join(dup[:5])}): keep each "
                        "subject's first intercurrent event only")
    nostrat = table["strategy"].isna()
    if nostrat.any():
        problems.append(f"{int(nostrat.sum())} rows have no strategy (e.g. subject {table.loc[nostrat, 'subject'].iloc[0]!r})")
    if problems:
        raise DataValidationError("intercurrent events: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class Estimand:
    """An estimand in ICH E9(R1)'s five attributes.

    Parameters
    ----------
    treatment : str
        The treatment condition of interest and the alternative it is compared with.
    population : str
        The patients targeted.
    variable : str
        The endpoint (instrument, visit, change from baseline or value).
    intercurrent_events : mapping of str to str
        Each intercurrent event and the strategy that handles it (treatment policy, hypothetical,
        composite, while on treatment, principal stratum), in words.
    summary : str
        The population-level summary (e.g. difference in adjusted means at week 10).

    Examples
    --------
    >>> e = Estimand(treatment="therapeutic massage vs usual care", population="adults with chronic low back pain",
    ...              variable="RMDQ at week 10", intercurrent_events={"stopped sessions": "hypothetical (MAR)"},
    ...              summary="difference in adjusted means")
    >>> e.to_frame()["attribute"].tolist()
    ['treatment', 'population', 'variable', 'intercurrent events', 'population-level summary']
    """

    treatment: str
    population: str
    variable: str
    intercurrent_events: Mapping[str, str] = field(default_factory=dict)
    summary: str = "difference in adjusted means"

    def __post_init__(self) -> None:
        for name in ("treatment", "population", "variable", "summary"):
            if not str(getattr(self, name)).strip():
                raise ArgumentError(f"Estimand: `{name}` is empty; ICH E9(R1) asks for all five attributes.")

    def to_frame(self) -> pd.DataFrame:
        """The five attributes as ``attribute``, ``description``."""
        ice = "; ".join(f"{k}: {v}" for k, v in self.intercurrent_events.items()) or "none anticipated"
        return pd.DataFrame({
            "attribute": ["treatment", "population", "variable", "intercurrent events", "population-level summary"],
            "description": [self.treatment, self.population, self.variable, ice, self.summary],
        })

    def summary_text(self) -> str:
        return "\n".join(f"{a}: {d}" for a, d in self.to_frame().itertuples(index=False))

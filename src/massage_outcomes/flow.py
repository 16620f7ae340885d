"""Participant disposition: who was randomized, treated, followed up and analysed, per arm, with reasons.

:func:`disposition` derives each subject's path through a trial from a :class:`~massage_outcomes.Dataset`
(subjects give the allocated arm, sessions whether the allocated intervention was received, outcomes which visits
were attended and which analyses a subject enters) plus what the data cannot give: the numbers screened and
excluded before randomization, and reasons, from an optional ``events`` table. The result feeds the CONSORT flow
diagram (:func:`massage_outcomes.plot.consort`) and the report; it computes counts only.

Examples
--------
>>> import massage_outcomes as mo
>>> disp = mo.disposition(mo.load_sample("trial"), screened=240, excluded={"not meeting inclusion criteria": 60})
>>> disp.count("randomized")
180
>>> disp.count("allocated", arm="usual_care")
60
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.errors import DataValidationError
from massage_outcomes.groups import group_order

__all__ = ["Disposition", "disposition", "EVENTS", "ANALYSES", "NOT_RECORDED", "DERIVED", "is_derived"]

#: event kinds an ``events`` table may state (one row per subject and event)
EVENTS: dict[str, str] = {
    "not_received": "did not receive the allocated intervention",
    "discontinued": "discontinued the intervention",
    "lost": "lost to follow-up (or withdrew)",
    "excluded_from_analysis": "excluded from every analysis",
}
_EVENT_SYNONYMS = {
    "did_not_receive": "not_received", "not_treated": "not_received", "no_treatment": "not_received",
    "discontinuation": "discontinued", "discontinued_intervention": "discontinued", "stopped": "discontinued",
    "lost_to_follow_up": "lost", "ltfu": "lost", "withdrew": "lost", "withdrawn": "lost", "withdrawal": "lost",
    "dropout": "lost", "excluded": "excluded_from_analysis", "exclusion": "excluded_from_analysis",
}
#: analyses whose analysed sets :func:`disposition` derives, with the data each needs
ANALYSES: dict[str, str] = {
    "mmrm": "MMRM: a baseline value and at least one post-baseline visit",
    "ancova": "ANCOVA / change score / responders: a baseline value and a value at the primary visit",
    "lmm": "mixed model over visits: at least one visit value",
}
NOT_RECORDED = "reason not recorded"
#: the mark of a reason the library derived from the data (sessions, measurements) rather than one the data state
DERIVED = " (derived)"


def is_derived(reason: str) -> bool:
    """True for a reason :func:`disposition` derived from the data, False for a stated (or unrecorded) one.

    Examples
    --------
    >>> is_derived("no week-10 measurement (derived)"), is_derived("moved away")
    (True, False)
    """
    return str(reason).endswith(DERIVED)
#: subject columns read as the reason a subject left the study (ADaM ``DCSREAS``, common export names)
_REASON_COLUMNS = ("dcsreas", "dcreas", "discontinuation_reason", "withdrawal_reason", "dropout_reason",
                   "reason_withdrawn", "eos_reason")
_KEY = ["study", "subject"]


@dataclass
class Disposition:
    """Each subject's path through the trial, and the counts a CONSORT flow diagram shows.

    Attributes
    ----------
    subjects : DataFrame
        One row per subject: ``study, subject, arm, randomized, sessions, expects_sessions, received,
        not_received_reason, discontinued, discontinued_reason, last_visit, lost, lost_reason, missed_primary,
        excluded_reason`` plus ``assessed_<visit>`` (bool) per follow-up visit and ``analysed_<analysis>_<instrument>``
        (bool) per analysis and instrument.
    counts : DataFrame
        Tidy counts: ``stage`` (enrolment, allocation, follow-up, analysis), ``arm`` (None before randomization),
        ``item``, ``visit``, ``analysis``, ``instrument``, ``reason`` (None on a total), ``n`` (int).
    arms : list of str
        Allocated arms in the library's order (therapeutic, relaxation, control).
    visits : list of str
        Follow-up visits, in order; ``primary_visit`` the one losses are counted at.
    instruments : list of str
        Instruments whose analysed sets were derived.
    screened, excluded : the enrolment numbers given by the user (None when not given).
    options : dict
        The options used (``primary_analysis``, ``min_sessions``, ``discontinued_gap_days``, ...).
    """

    subjects: pd.DataFrame
    counts: pd.DataFrame
    arms: list[str]
    visits: list[str]
    primary_visit: str | None
    instruments: list[str]
    screened: int | None = None
    excluded: dict[str, int] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def count(self, item: str, *, arm: str | None = None, visit: str | None = None, analysis: str | None = None,
              instrument: str | None = None, reason: str | None = None) -> int:
        """The count of one ``item`` (summed over arms when ``arm`` is None); 0 when the item has no row."""
        c = self.counts
        m = c["item"] == item
        for col, val in (("visit", visit), ("analysis", analysis), ("instrument", instrument)):
            if val is not None:
                m &= c[col] == val
        m &= c["reason"].isna() if reason is None else (c["reason"] == reason)
        if arm is not None:
            m &= c["arm"] == arm
        elif item not in ("assessed_for_eligibility", "excluded", "randomized"):
            m &= c["arm"].notna()
        return int(c.loc[m, "n"].sum())

    def reasons(self, item: str, *, arm: str | None = None, **where: Any) -> dict[str, int]:
        """``{reason: n}`` for one item (and arm), largest first."""
        c = self.counts
        m = (c["item"] == item) & c["reason"].notna()
        if arm is not None:
            m &= c["arm"] == arm
        for col, val in where.items():
            m &= c[col] == val
        s = c.loc[m].groupby("reason", sort=False)["n"].sum()
        return {str(k): int(v) for k, v in s.sort_values(ascending=False, kind="stable").items()}

    def summary(self) -> pd.DataFrame:
        """One row per arm: allocated, received, discontinued, lost by the primary visit, analysed (primary)."""
        rows = []
        prim = self.options.get("primary_analysis")
        for arm in self.arms:
            row: dict[str, Any] = {"arm": arm, "allocated": self.count("allocated", arm=arm),
                                   "received": self.count("received", arm=arm),
                                   "discontinued": self.count("discontinued", arm=arm),
                                   "lost": self.count("lost", arm=arm)}
            for inst in self.instruments:
                row[f"analysed_{inst}"] = self.count("analysed", arm=arm, analysis=prim, instrument=inst)
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"<Disposition: {self.count('randomized')} randomized to {len(self.arms)} arms; lost by "
                f"{self.primary_visit}: {self.count('lost')}>\n{self.summary().to_string(index=False)}")

    def _repr_html_(self) -> str:
        return (f"<p><b>Disposition</b>: {self.count('randomized')} randomized; lost by "
                f"{html.escape(str(self.primary_visit))}: {self.count('lost')}</p>" + self.summary().to_html(index=False))


# ------------------------------------------------------------------------------------------------------- inputs
def _subjects(ds: Any) -> pd.DataFrame:
    s = ds.subjects.reset_index(drop=True)
    if "study" not in s.columns:
        s = s.assign(study="study")
    return s


def _events(events: pd.DataFrame | None, subjects: pd.DataFrame) -> pd.DataFrame:
    """The user's events table, checked: columns subject, event (a key of EVENTS), reason (optional), study."""
    cols = ["study", "subject", "event", "reason", "visit"]
    if events is None:
        return pd.DataFrame(columns=cols)
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events= must be a DataFrame (subject, event, reason), got {type(events).__name__}")
    missing = [c for c in ("subject", "event") if c not in events.columns]
    if missing:
        raise DataValidationError(
            f"events= needs the columns 'subject' and 'event' (and optionally 'reason', 'visit', 'study'); "
            f"missing {missing}; it has {list(events.columns)}")
    ev = events.copy()
    if "study" not in ev.columns:
        studies = pd.unique(subjects["study"])
        if len(studies) > 1:
            raise DataValidationError("events= has no 'study' column but the Dataset holds several studies; add it")
        ev["study"] = studies[0]
    for c in ("reason", "visit"):
        if c not in ev.columns:
            ev[c] = None
    kind = ev["event"].astype(str).str.strip().str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True)
    kind = kind.map(lambda k: _EVENT_SYNONYMS.get(k, k))
    bad = sorted(set(kind) - set(EVENTS))
    if bad:
        raise DataValidationError(f"events= has unknown event kinds {bad}; use one of {sorted(EVENTS)} "
                                  f"(synonyms accepted: {sorted(_EVENT_SYNONYMS)})")
    ev["event"] = kind
    ev["study"] = ev["study"].astype(str)
    ev["subject"] = ev["subject"].astype(str)
    known = pd.MultiIndex.from_frame(subjects[_KEY].astype(str))
    unknown = ~pd.MultiIndex.from_frame(ev[_KEY]).isin(known)
    if unknown.any():
        ids = ev.loc[unknown, "subject"].head(5).tolist()
        raise DataValidationError(f"events= names {int(unknown.sum())} subject(s) not in the Dataset "
                                  f"(first: {ids}); fix the subject identifiers")
    reason = ev["reason"].astype(object)
    ev["reason"] = reason.where(reason.notna() & (reason.astype(str).str.strip() != ""), None)
    return ev[cols]


def _reason_of(ev: pd.DataFrame, kind: str, subjects: pd.DataFrame) -> pd.Series:
    """Per subject (aligned with ``subjects``): the stated reason for ``kind``, "" when stated without a reason,
    NaN when the subject has no such event."""
    e = ev[ev["event"] == kind]
    if e.empty:
        return pd.Series(np.nan, index=subjects.index, dtype=object)
    e = e.assign(reason=e["reason"].fillna(""))
    first = e.drop_duplicates(_KEY).set_index(_KEY)["reason"]
    idx = pd.MultiIndex.from_frame(subjects[_KEY].astype(str))
    return pd.Series(first.reindex(idx).to_numpy(dtype=object), index=subjects.index)


def _column_reason(subjects: pd.DataFrame) -> pd.Series | None:
    for c in subjects.columns:
        if str(c).lower() in _REASON_COLUMNS:
            r = subjects[c].astype(object)
            return r.where(r.notna() & (r.astype(str).str.strip() != ""), None)
    return None


def _followup_visits(ds: Any) -> tuple[list[str], list[str]]:
    """(all visits in order, follow-up visits: those with no baseline-timing rows)."""
    o = ds.outcomes
    if "visit" not in o.columns or o["visit"].isna().all():
        return [], []
    vis = o["visit"]
    present = set(vis.dropna().astype(str))
    order = [str(v) for v in vis.cat.categories] if isinstance(vis.dtype, pd.CategoricalDtype) else sorted(present)
    order = [v for v in order if v in present]
    base = set(o.loc[o["timing"].astype(str) == "baseline", "visit"].dropna().astype(str))
    return order, [v for v in order if v not in base]


def _arm_order(subjects: pd.DataFrame) -> list[str]:
    """The arms in the tables' order (therapeutic, relaxation, then control, by each arm's intent)."""

    return [str(a) for a in group_order(subjects, "arm")]


# ----------------------------------------------------------------------------------------------- derivations
def _sessions_received(ds: Any, subjects: pd.DataFrame, min_sessions: int) -> pd.DataFrame:
    """Per subject: sessions attended, sessions of the allocated technique, last session day, whether the arm
    expects sessions (any subject of the arm has one) and whether the allocated intervention was received."""
    sess = getattr(ds, "sessions", None)
    sess = sess if sess is not None else pd.DataFrame(columns=["study", "subject", "technique", "day"])
    s = sess[["study", "subject", "technique", "day"]].astype({"study": str, "subject": str})
    alloc = subjects[_KEY].astype(str).assign(
        _alloc=subjects["technique"].astype(object).to_numpy() if "technique" in subjects.columns else None,
        arm=subjects["arm"].astype(object).to_numpy())
    s = s.merge(alloc, on=_KEY, how="left")
    s["_match"] = s["_alloc"].isna() | s["_alloc"].isin(["other", "none"]) | \
        (s["technique"].astype(object) == s["_alloc"])
    g = s.groupby(_KEY, sort=False)
    per = pd.DataFrame({"sessions": g.size(), "sessions_allocated": g["_match"].sum(),
                        "last_session_day": g["day"].max()}).reset_index()
    out = alloc.merge(per, on=_KEY, how="left")
    out["sessions"] = out["sessions"].fillna(0).astype(np.int64)
    out["sessions_allocated"] = out["sessions_allocated"].fillna(0).astype(np.int64)
    out["expects_sessions"] = _expects_sessions(out)
    out["received"] = np.where(out["expects_sessions"], out["sessions_allocated"] >= min_sessions,
                               out["sessions"] == 0)
    why = np.where(out["expects_sessions"],
                   np.where(out["sessions"] == 0, "attended no session" + DERIVED,
                            np.where(out["sessions_allocated"] == 0, "received another technique" + DERIVED,
                                     f"fewer than {min_sessions} sessions" + DERIVED)),
                   "received massage sessions in a control arm" + DERIVED)
    out["_derived_not_received"] = pd.Series(why, dtype=object).where(~out["received"].to_numpy(dtype=bool), None).to_numpy()
    return out


def _expects_sessions(per: pd.DataFrame) -> np.ndarray:
    """Per subject: does the arm deliver sessions? Not when the arm's allocated technique is mostly "none" (usual
    care, wait list); else when at least half of the arm's subjects attended one (sham and massage arms)."""
    arm = per["arm"].astype(str)
    alloc = per["_alloc"].astype(object)
    none_share = (alloc == "none").groupby(arm).transform("mean")
    known_share = alloc.notna().groupby(arm).transform("mean")
    with_sessions = (per["sessions"] > 0).groupby(arm).transform("mean")
    by_technique = (known_share >= 0.5) & (none_share < 0.5)
    return np.where(known_share >= 0.5, by_technique, with_sessions >= 0.5).astype(bool)


def _discontinued(per: pd.DataFrame, gap_days: float) -> np.ndarray:
    """Stopped attending: received, and the last session is more than ``gap_days`` before the end of the arm's
    treatment period (the 90th percentile of its subjects' last session days)."""
    last = per["last_session_day"].astype(float)
    end = last.groupby(per["arm"].astype(str)).transform(lambda x: np.nanquantile(x, 0.9) if x.notna().any() else np.nan)
    return (per["received"] & per["expects_sessions"] & (last < end - gap_days)).to_numpy(dtype=bool)


def _assessed(ds: Any, subjects: pd.DataFrame, visits: Sequence[str], instrument: str | None) -> pd.DataFrame:
    """Per subject, per follow-up visit: any non-missing measurement (of ``instrument`` when given)."""
    o = ds.outcomes
    o = o[o["visit"].notna() & o["value"].notna()]
    if instrument is not None:
        o = o[o["instrument"].astype(str) == instrument]
    o = o[o["visit"].astype(str).isin(list(visits))]
    seen = o[["study", "subject", "visit"]].astype(str).drop_duplicates()
    wide = pd.crosstab([seen["study"], seen["subject"]], seen["visit"]).reindex(columns=list(visits), fill_value=0)
    idx = pd.MultiIndex.from_frame(subjects[_KEY].astype(str))
    wide = wide.reindex(idx, fill_value=0) > 0
    return pd.DataFrame(wide.to_numpy(dtype=bool), index=subjects.index, columns=list(visits))


def _analysed(ds: Any, subjects: pd.DataFrame, instrument: str, visits: Sequence[str],
              primary_visit: str | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per analysis: (analysed mask, reason for not being analysed) for one instrument, from what each analysis
    needs (see :data:`ANALYSES`)."""
    o = ds.outcomes
    o = o[(o["instrument"].astype(str) == instrument) & o["value"].notna()]
    idx = pd.MultiIndex.from_frame(subjects[_KEY].astype(str))

    def has(mask: pd.Series) -> np.ndarray:
        keys = o.loc[mask, ["study", "subject"]].astype(str).drop_duplicates()
        return idx.isin(pd.MultiIndex.from_frame(keys)) if len(keys) else np.zeros(len(idx), dtype=bool)

    base = has(o["timing"].astype(str) == "baseline")
    post = has(o["visit"].astype(str).isin(list(visits)))
    anyv = has(o["visit"].notna())
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    no_base = "no baseline measurement" + DERIVED
    out["mmrm"] = (base & post, np.where(~base, no_base, np.where(~post, "no post-baseline measurement" + DERIVED, "")))
    if primary_visit is not None:
        prim = has(o["visit"].astype(str) == primary_visit)
        no_prim = f"no {str(primary_visit).replace('_', '-')} measurement" + DERIVED
        out["ancova"] = (base & prim, np.where(~base, no_base, np.where(~prim, no_prim, "")))
    out["lmm"] = (anyv, np.where(~anyv, "no measurement at any visit" + DERIVED, ""))
    return out


def _reason_text(stated: pd.Series, derived: Any) -> pd.Series:
    """Stated reason where the user gave one; a stated event without a reason is "reason not recorded"; with no
    stated event, the derived reason (marked ``DERIVED``) or "reason not recorded"."""
    stated = stated.astype(object)
    derived_s = pd.Series(derived, index=stated.index, dtype=object)
    text = stated.where(stated.notna(), derived_s).where(stated.isna() | (stated != ""), NOT_RECORDED)
    return text.where(text.notna(), NOT_RECORDED)


# ------------------------------------------------------------------------------------------------------ public
def disposition(
    ds: Any,
    *,
    events: pd.DataFrame | None = None,
    screened: int | None = None,
    excluded: Mapping[str, int] | None = None,
    instruments: Sequence[str] | None = None,
    primary_visit: str | None = None,
    primary_analysis: str = "mmrm",
    followup_instrument: str | None = None,
    min_sessions: int = 1,
    discontinued_gap_days: float = 21.0,
) -> Disposition:
    """Participant flow per arm (CONSORT 2025 items 22a–22b): allocated, treated, followed up, analysed.

    Parameters
    ----------
    ds : Dataset
        The trial (subjects with ``arm``; sessions; outcomes with visits).
    events : DataFrame, optional
        What the data cannot show, one row per subject and event: ``subject`` (and ``study`` with several
        studies), ``event`` (one of :data:`EVENTS`: ``not_received``, ``discontinued``, ``lost``,
        ``excluded_from_analysis``; synonyms such as "withdrew" or "lost to follow-up" accepted), ``reason``
        (text, optional) and ``visit`` (optional). Stated events win over derived ones, and their reasons are
        printed as stated ("reason not recorded" when none is given); a reason the library derived from the data
        ends in " (derived)" (e.g. "no week-10 measurement (derived)"; ``flow.is_derived``). A subject column such
        as ADaM's ``DCSREAS`` gives the reason a lost subject left when ``events`` does not.
    screened : int, optional
        Number assessed for eligibility (enrolment box; cannot be derived from trial data).
    excluded : dict, optional
        ``{reason: n}`` excluded before randomization ("not meeting inclusion criteria", "declined to
        participate", ...).
    instruments : list of str, optional
        Instruments whose analysed sets to derive (default: every instrument measured at a follow-up visit).
    primary_visit : str, optional
        The visit at which losses and the ANCOVA set are counted (default: the last follow-up visit).
    primary_analysis : {"mmrm", "ancova", "lmm"}
        The analysis whose numbers the flow diagram's analysis box shows first.
    followup_instrument : str, optional
        Count a visit as attended when this instrument was measured (default: any instrument).
    min_sessions : int
        Sessions of the allocated technique that count as having received a massage intervention.
    discontinued_gap_days : float
        A subject who received the intervention but whose last session is more than this many days before the end
        of the arm's treatment period (the 90th percentile of its subjects' last session days) discontinued it.

    Returns
    -------
    Disposition
        ``subjects`` (one row per subject) and ``counts`` (tidy: stage, arm, item, visit, analysis, instrument,
        reason, n); ``count(item, arm=...)`` and ``reasons(item, arm=...)`` read them.

    Notes
    -----
    Definitions. *Randomized*: a subject with an arm. *Received the allocated intervention*: in an arm whose
    subjects have sessions, at least ``min_sessions`` sessions of the allocated technique (any technique when none
    is allocated); in an arm without sessions (usual care, wait list), no massage session. *Assessed at a visit*:
    any measurement (of ``followup_instrument``) at that follow-up visit. *Lost to follow-up by the primary
    visit*: assessed neither at it nor at any later visit; *missed the primary visit*: not assessed at it but seen
    later. *Analysed*: the data each analysis needs (:data:`ANALYSES`), unless ``events`` excludes the subject.
    Everyone is counted in the arm they were randomized to (intention to treat).

    References
    ----------
    Hopewell S, Chan AW, Collins GS, et al. CONSORT 2025 statement: updated guideline for reporting randomised
    trials. BMJ 2025;388:e081123. doi:10.1136/bmj-2024-081123

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_trial(n_per_arm=40, seed=5)
    >>> d = mo.disposition(ds)
    >>> d.count("allocated", arm="therapeutic")
    40
    >>> d.count("randomized") == d.count("assessed", visit="week_26") + d.count("lost") + d.count("missed")
    True
    """
    if primary_analysis not in ANALYSES:
        raise ValueError(f"primary_analysis={primary_analysis!r}; use one of {sorted(ANALYSES)}")
    if min_sessions < 1:
        raise ValueError(f"min_sessions={min_sessions} must be at least 1")
    subjects = _subjects(ds)
    if "arm" not in subjects.columns or subjects["arm"].isna().all():
        raise DataValidationError("disposition needs randomized arms: the Dataset's subjects have no 'arm' values")
    ev = _events(events, subjects)
    visits_all, visits = _followup_visits(ds)
    if primary_visit is None:
        primary_visit = visits[-1] if visits else None
    elif primary_visit not in visits:
        raise ValueError(f"primary_visit={primary_visit!r} is not a follow-up visit; follow-up visits: {visits}")
    if instruments is None:
        o = ds.outcomes
        instruments = sorted(pd.unique(o.loc[o["visit"].astype(str).isin(visits), "instrument"].astype(str)))
    instruments = list(instruments)

    per = _sessions_received(ds, subjects, min_sessions)
    out = subjects[_KEY].astype(str).assign(arm=subjects["arm"].astype(object).to_numpy())
    out["randomized"] = out["arm"].notna().to_numpy()
    out["sessions"] = per["sessions"].to_numpy()
    out["expects_sessions"] = per["expects_sessions"].to_numpy()
    stated_nr = _reason_of(ev, "not_received", subjects)
    received = per["received"].to_numpy(dtype=bool) & stated_nr.isna().to_numpy()
    out["received"] = received
    out["not_received_reason"] = _reason_text(stated_nr, per["_derived_not_received"]).where(~received, None)

    stated_dc = _reason_of(ev, "discontinued", subjects)
    disc = (_discontinued(per, discontinued_gap_days) | stated_dc.notna().to_numpy()) & received
    out["discontinued"] = disc
    out["discontinued_reason"] = _reason_text(stated_dc, "stopped attending sessions early" + DERIVED).where(disc, None)

    seen = _assessed(ds, subjects, visits, followup_instrument)
    for v in visits:
        out[f"assessed_{v}"] = seen[v].to_numpy()
    later = visits[visits.index(primary_visit):] if primary_visit is not None else []
    stated_lost = _reason_of(ev, "lost", subjects)
    if later:
        seen_later = seen[later].any(axis=1).to_numpy()
        lost = ~seen_later
        contradicted = stated_lost.notna().to_numpy() & seen_later
        if contradicted.any():
            ids = out.loc[contradicted, "subject"].head(5).tolist()
            warnings.warn(f"events= marks {int(contradicted.sum())} subject(s) as lost who were assessed at or after "
                          f"{primary_visit} (first: {ids}); they are counted as followed up at {primary_visit}",
                          stacklevel=2)
        missed = seen_later & ~seen[primary_visit].to_numpy()
    else:
        lost = stated_lost.notna().to_numpy()
        missed = np.zeros(len(out), dtype=bool)
    col_reason = _column_reason(subjects)
    stated_lost = stated_lost.where(stated_lost.notna(), col_reason) if col_reason is not None else stated_lost
    out["lost"] = lost
    out["lost_reason"] = _reason_text(stated_lost, None).where(lost, None)
    out["missed_primary"] = missed
    attended = seen.to_numpy()
    last_idx = np.where(attended.any(axis=1), attended.shape[1] - 1 - np.argmax(attended[:, ::-1], axis=1), -1) \
        if attended.shape[1] else np.full(len(out), -1)
    first_visit = visits_all[0] if visits_all else None
    out["last_visit"] = [visits[i] if i >= 0 else first_visit for i in last_idx]

    stated_ex = _reason_of(ev, "excluded_from_analysis", subjects)
    out["excluded_reason"] = _reason_text(stated_ex, None).where(stated_ex.notna(), None)
    analysed_sets: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for inst in instruments:
        for name, (mask, why) in _analysed(ds, subjects, inst, visits, primary_visit).items():
            mask = mask & stated_ex.isna().to_numpy()
            why = np.where(stated_ex.notna(), out["excluded_reason"].astype(object), why)
            analysed_sets[(name, inst)] = (mask, why)
            out[f"analysed_{name}_{inst}"] = mask

    counts = _counts(out, analysed_sets, _arm_order(subjects), visits, primary_visit, screened, excluded)
    options = {"primary_analysis": primary_analysis, "min_sessions": min_sessions,
               "discontinued_gap_days": discontinued_gap_days, "followup_instrument": followup_instrument,
               "events_given": events is not None}
    return Disposition(subjects=out, counts=counts, arms=_arm_order(subjects), visits=visits,
                       primary_visit=primary_visit, instruments=instruments, screened=screened,
                       excluded=dict(excluded) if excluded else None, options=options)


def _counts(out: pd.DataFrame, analysed: Mapping[tuple[str, str], tuple[np.ndarray, np.ndarray]], arms: list[str],
            visits: Sequence[str], primary_visit: str | None, screened: int | None,
            excluded: Mapping[str, int] | None) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []

    def add(stage: str, arm: str | None, item: str, n: int, *, reason: str | None = None, visit: str | None = None,
            analysis: str | None = None, instrument: str | None = None) -> None:
        rows.append({"stage": stage, "arm": arm, "item": item, "visit": visit, "analysis": analysis,
                     "instrument": instrument, "reason": reason, "n": int(n)})

    def with_reasons(stage: str, arm: str, item: str, mask: np.ndarray, why: pd.Series | np.ndarray,
                     **kw: Any) -> None:
        add(stage, arm, item, int(mask.sum()), **kw)
        r = pd.Series(np.asarray(why, dtype=object)[mask])
        for reason, n in r.value_counts(sort=True).items():
            add(stage, arm, item, int(n), reason=str(reason), **kw)

    if screened is not None:
        add("enrolment", None, "assessed_for_eligibility", int(screened))
    if excluded:
        add("enrolment", None, "excluded", sum(int(v) for v in excluded.values()))
        for reason, n in excluded.items():
            add("enrolment", None, "excluded", int(n), reason=str(reason))
    add("enrolment", None, "randomized", int(out["randomized"].sum()))
    if screened is not None and excluded:
        total_ex = sum(int(v) for v in excluded.values())
        if screened - total_ex != int(out["randomized"].sum()):
            warnings.warn(f"screened ({screened}) minus excluded ({total_ex}) is {screened - total_ex}, but "
                          f"{int(out['randomized'].sum())} subjects were randomized; check the enrolment numbers",
                          stacklevel=3)
    arm_of = out["arm"].astype(str).to_numpy()
    order = [str(v) for v in pd.unique(out["last_visit"].astype(str))]
    order = sorted(order, key=lambda v: visits.index(v) if v in visits else -1)
    for arm in arms:
        m = arm_of == arm
        add("allocation", arm, "allocated", int(m.sum()))
        rec = out["received"].to_numpy(dtype=bool)
        add("allocation", arm, "received", int((m & rec).sum()))
        with_reasons("allocation", arm, "not_received", m & ~rec, out["not_received_reason"])
        with_reasons("follow-up", arm, "discontinued", m & out["discontinued"].to_numpy(dtype=bool),
                     out["discontinued_reason"])
        for v in visits:
            add("follow-up", arm, "assessed", int((m & out[f"assessed_{v}"].to_numpy(dtype=bool)).sum()), visit=v)
        with_reasons("follow-up", arm, "lost", m & out["lost"].to_numpy(dtype=bool), out["lost_reason"],
                     visit=primary_visit)
        lost_after = out["last_visit"].astype(str).to_numpy()
        lost_m = m & out["lost"].to_numpy(dtype=bool)
        present = set(lost_after[lost_m])
        for v in [*[x for x in order if x in present], *sorted(present - set(order))]:
            add("follow-up", arm, "lost_after", int((lost_m & (lost_after == v)).sum()), visit=str(v))
        add("follow-up", arm, "missed", int((m & out["missed_primary"].to_numpy(dtype=bool)).sum()),
            visit=primary_visit)
        for (name, inst), (mask, why) in analysed.items():
            add("analysis", arm, "analysed", int((m & mask).sum()), analysis=name, instrument=inst,
                visit=primary_visit if name == "ancova" else None)
            with_reasons("analysis", arm, "excluded_from_analysis", m & ~mask, why, analysis=name, instrument=inst)
    frame = pd.DataFrame(rows, columns=["stage", "arm", "item", "visit", "analysis", "instrument", "reason", "n"])
    frame["n"] = frame["n"].astype(np.int64)
    return frame

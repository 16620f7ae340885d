"""Seeded simulators with known truth: a three-arm massage trial and multi-condition practice data.

Both simulators are vectorized (no Python loop over subjects), take their randomness only from an explicit
``seed`` or ``rng`` (:func:`numpy.random.default_rng`; the global NumPy state is never touched) and return a
:class:`~massage_outcomes.dataset.Dataset` whose ``truth`` attribute holds the generating parameters and the true
effects per group, so that estimators can be checked against them.

Examples
--------
>>> import massage_outcomes as mo
>>> ds = mo.simulate_trial(n_per_arm=30, seed=1)
>>> sorted(ds.truth)  # doctest: +NORMALIZE_WHITESPACE
['design', 'dropout', 'effects', 'lmm', 'parameters', 'random_effects', 'session_effects', 'therapists',
 'visit_means']
>>> eff = ds.truth["effects"]
>>> print(eff[(eff.instrument == "rmdq") & (eff.visit == "week_10")][["contrast", "latent_difference"]]
...       .to_string(index=False))
                contrast  latent_difference
therapeutic - usual_care               -2.5
 relaxation - usual_care               -2.9
therapeutic - relaxation                0.4
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from massage_outcomes import instruments as _instruments
from massage_outcomes import vocab
from massage_outcomes.dataset import Dataset
from massage_outcomes.errors import ArgumentError, ArgumentTypeError

__all__ = ["simulate_trial", "simulate_clinic", "TRIAL_VISITS", "CLINIC_VISITS"]

#: visit label -> scheduled week of the simulated trial
TRIAL_VISITS: dict[str, int] = {"baseline": 0, "week_4": 4, "week_10": 10, "week_26": 26}
#: visit label -> scheduled week of the simulated practice data
CLINIC_VISITS: dict[str, int] = {"baseline": 0, "week_6": 6, "week_12": 12}

_TRIAL_ARMS = ("therapeutic", "relaxation", "usual_care")
_THERAPEUTIC_TECHNIQUES = ("deep_tissue", "myofascial_release", "trigger_point")

# Default magnitudes (latent, continuous scale) for the trial, chosen after Cherkin et al. 2011 (see docstring).
_TRIAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "rmdq": {
        "baseline_mean": 11.5,
        "change_week10": {"therapeutic": -5.5, "relaxation": -5.9, "usual_care": -3.0},
        "relapse": {"therapeutic": 0.25, "relaxation": 0.25, "usual_care": 0.0},
        "sd_intercept": 4.0,
        "sd_slope": 0.25,
        "corr_intercept_slope": -0.2,
        "sd_residual": 2.5,
        "sd_therapist": 0.6,
    },
    "pain_nrs": {
        "baseline_mean": 6.0,
        "change_week10": {"therapeutic": -2.4, "relaxation": -2.7, "usual_care": -1.0},
        "relapse": {"therapeutic": 0.25, "relaxation": 0.25, "usual_care": 0.0},
        "sd_intercept": 1.3,
        "sd_slope": 0.1,
        "corr_intercept_slope": -0.2,
        "sd_residual": 1.0,
        "sd_therapist": 0.3,
    },
}
_TRIAL_SESSION_DEFAULTS: dict[str, Any] = {
    "immediate_drop": {"therapeutic": 1.5, "relaxation": 1.8},
    "sd_subject": 0.4,
    "sd_therapist": 0.25,
    "sd_residual": 0.6,
    "attendance": 0.9,
    "day_jitter": 1,
    "duration_min": 60.0,
}
_TRIAL_DROPOUT_DEFAULTS: dict[str, Any] = {
    # probability of dropping out before each post-baseline visit, for a subject at the baseline mean
    "base_rate": {"week_4": 0.05, "week_10": 0.05, "week_26": 0.08},
    # log-odds increase per SD (of the baseline RMDQ) of the last observed RMDQ above the baseline mean
    "log_odds_per_sd": 0.5,
}
# correlation between the rmdq and pain_nrs random effects: (intercept, intercept) and (slope, slope)
_TRIAL_CROSS_CORR = {"intercept": 0.5, "slope": 0.5, "intercept_slope": -0.1}


def _rng(seed: int | None, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ArgumentError("pass either seed or rng, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise ArgumentTypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(...)); got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _merge(defaults: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge user overrides into a copy of the defaults (unknown keys are an error)."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in defaults.items()}
    for key, value in (override or {}).items():
        if key not in out:
            raise ArgumentError(f"unknown parameter {key!r}; known: {', '.join(sorted(out))}")
        if isinstance(out[key], dict) and isinstance(value, Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _expected_observed(mean: np.ndarray, sd: np.ndarray, lo: float, hi: float, step: float) -> np.ndarray:
    """E[clip(round(Y / step) * step, lo, hi)] for Y ~ N(mean, sd²), exactly (normal CDF over the grid)."""
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    grid = np.arange(lo, hi + step / 2, step)
    upper = np.append(grid[:-1] + step / 2, np.inf)
    lower = np.insert(grid[1:] - step / 2, 0, -np.inf)
    z_hi = (upper[None, :] - mean.reshape(-1, 1)) / sd.reshape(-1, 1)
    z_lo = (lower[None, :] - mean.reshape(-1, 1)) / sd.reshape(-1, 1)
    prob = stats.norm.cdf(z_hi) - stats.norm.cdf(z_lo)
    return (prob @ grid).reshape(mean.shape)


def _observe(latent: np.ndarray, lo: float, hi: float, step: float, enabled: bool) -> np.ndarray:
    if not enabled:
        return latent
    return np.clip(np.round(latent / step) * step, lo, hi) + 0.0  # + 0.0 turns -0.0 into 0.0


def _shape(week: np.ndarray, end: float, relapse: np.ndarray | float, horizon: float) -> np.ndarray:
    """Piecewise time: 0 → 1 linearly over treatment (weeks 0..end), then losing ``relapse`` of it by ``horizon``."""
    week = np.asarray(week, dtype=float)
    return np.minimum(week, end) / end - np.asarray(relapse) * np.maximum(week - end, 0.0) / (horizon - end)


def _random_effect_cov(params: Mapping[str, Mapping[str, Any]], cross: Mapping[str, float]) -> np.ndarray:
    """4×4 covariance of (rmdq intercept, rmdq slope, pain intercept, pain slope)."""
    r, p = params["rmdq"], params["pain_nrs"]
    sd = np.array([r["sd_intercept"], r["sd_slope"], p["sd_intercept"], p["sd_slope"]], dtype=float)
    corr = np.eye(4)
    corr[0, 1] = corr[1, 0] = r["corr_intercept_slope"]
    corr[2, 3] = corr[3, 2] = p["corr_intercept_slope"]
    corr[0, 2] = corr[2, 0] = cross["intercept"]
    corr[1, 3] = corr[3, 1] = cross["slope"]
    corr[0, 3] = corr[3, 0] = corr[1, 2] = corr[2, 1] = cross["intercept_slope"]
    if np.linalg.eigvalsh(corr).min() <= 0:
        raise ArgumentError("the random-effect correlations do not form a positive-definite matrix")
    return corr * np.outer(sd, sd)


def _dataset(subjects: pd.DataFrame, sessions: pd.DataFrame, outcomes: pd.DataFrame, truth: dict[str, Any],
             source: dict[str, Any]) -> Dataset:
    return Dataset(subjects, sessions, outcomes, truth=truth, source=source)


def _cat(values: Any, categories: Sequence[str], ordered: bool = False) -> pd.Categorical:
    return pd.Categorical(values, categories=list(categories), ordered=ordered)


def _codes(values: Any, categories: Sequence[str] | np.ndarray) -> pd.Categorical:
    """A Categorical from integer codes (-1 = missing): no Python string per row, whatever the size."""
    return pd.Categorical.from_codes(np.asarray(values, dtype=np.int64), categories=pd.Index(list(categories)))


def _part(subj: np.ndarray, inst: str, visit: np.ndarray | int, day: np.ndarray, timing: np.ndarray | str,
          session: np.ndarray | None, value: np.ndarray, keep: np.ndarray | None = None) -> dict[str, Any]:
    """One block of outcome rows as arrays (visit as codes, -1 = none; timing as a vocab term or codes)."""
    m = len(subj)
    tcode = np.full(m, vocab.TIMINGS.index(timing)) if isinstance(timing, str) else np.asarray(timing)
    out = {"subj": np.asarray(subj), "inst": np.full(m, 0) if m else np.zeros(0, int), "inst_name": inst,
           "visit": np.broadcast_to(np.asarray(visit), (m,)), "day": np.broadcast_to(np.asarray(day, float), (m,)),
           "timing": tcode, "session": np.full(m, -1) if session is None else np.asarray(session),
           "value": np.asarray(value, float)}
    if keep is not None:
        out.update({k: v[keep] for k, v in out.items() if isinstance(v, np.ndarray)})
    return out


def _assemble(parts: list[dict[str, Any]], subject_ids: np.ndarray, study: str,
              visit_labels: Sequence[str]) -> pd.DataFrame:
    """The outcomes table from blocks of arrays, ordered by subject, day, instrument and timing (stable)."""
    insts = sorted({p["inst_name"] for p in parts})
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("subj", "visit", "day", "timing", "session", "value")}
    cat["inst"] = np.concatenate([np.full(len(p["subj"]), insts.index(p["inst_name"])) for p in parts])
    order = np.lexsort((cat["timing"], cat["inst"], cat["day"], cat["subj"]))
    c = {k: v[order] for k, v in cat.items()}
    session = c["session"].astype(np.int64)
    return pd.DataFrame({
        "study": _codes(np.zeros(len(order)), [study]),
        "subject": _codes(c["subj"], subject_ids),
        "instrument": _codes(c["inst"], insts),
        "visit": pd.Categorical.from_codes(c["visit"].astype(np.int64), categories=list(visit_labels), ordered=True),
        "day": c["day"],
        "timing": _codes(c["timing"], vocab.TIMINGS),
        "session": pd.arrays.IntegerArray(np.where(session < 0, 0, session), session < 0),
        "value": c["value"],
    })


def simulate_trial(
    n_per_arm: int = 100,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    rmdq: Mapping[str, Any] | None = None,
    pain_nrs: Mapping[str, Any] | None = None,
    sessions: Mapping[str, Any] | None = None,
    dropout: bool | Mapping[str, Any] = True,
    round_scores: bool = True,
    time_shape: Literal["piecewise", "linear"] = "piecewise",
    n_therapists: int = 4,
    study: str = "SIM-TRIAL",
) -> Dataset:
    r"""Simulate a three-arm randomized trial of massage for chronic low back pain, with known truth.

    Arms ``therapeutic`` (structural massage: each subject is allocated deep_tissue, myofascial_release or
    trigger_point), ``relaxation`` (swedish) and ``usual_care`` (technique ``none``, no sessions), ``n_per_arm``
    subjects each. Massage subjects have weekly 60-minute sessions in weeks 1–10 (each attended with
    probability 0.9, on day 7·week ± 1; numbered 1, 2, ... in the order attended) with a pain NRS rating before
    and after each session; everyone has RMDQ
    and pain NRS at the visits baseline (week 0, timing ``baseline``), week_4, week_10 and week_26 (timing
    ``followup``). Each massage subject is treated by one of ``n_therapists`` therapists of their arm.

    Parameters
    ----------
    n_per_arm : int
        Subjects randomized to each arm.
    seed, rng : int or numpy.random.Generator, optional
        Source of randomness: a seed for :func:`numpy.random.default_rng`, or a generator (not both).
    rmdq, pain_nrs : dict, optional
        Overrides of the outcome model (keys as in ``truth["parameters"][instrument]``: ``baseline_mean``,
        ``change_week10`` {arm: mean change at week 10}, ``relapse`` {arm: fraction of the week-10 change lost
        by week 26}, ``sd_intercept``, ``sd_slope`` (per week), ``corr_intercept_slope``, ``sd_residual``,
        ``sd_therapist`` (SD of the therapist effect on the week-10 change)).
    sessions : dict, optional
        Overrides of the session model: ``immediate_drop`` {arm: mean pre − post pain}, ``sd_subject``,
        ``sd_therapist``, ``sd_residual``, ``attendance`` (probability of attending each session),
        ``day_jitter`` (sessions fall on day 7·week ± this many days), ``duration_min``.
    dropout : bool or dict
        Missing-at-random monotone dropout (default on). A dict overrides ``base_rate`` {visit: probability of
        dropping out before that visit at the baseline mean} and ``log_odds_per_sd``. ``False`` keeps everyone.
    round_scores : bool
        Round to the instruments' integer scales and clip to their ranges (RMDQ 0–24, NRS 0–10). ``False``
        returns the latent continuous values, so that estimators can be checked against exact truth.
    time_shape : {"piecewise", "linear"}
        ``"piecewise"`` (default): improvement over weeks 0–10, then partial relapse (see Notes). ``"linear"``:
        the arm's mean and each subject's random slope continue linearly in weeks through week 26 (``relapse``
        is ignored), so that ``y ~ arm * week + (week | subject)`` is exactly the generating model
        (``truth["lmm"]``): use it with ``round_scores=False`` and zero ``sd_therapist`` to check a mixed
        model's estimates against their true values. (With the default magnitudes a linear trend runs past
        the scale's floor by week 26; that is harmless on the latent scale.)
    n_therapists : int
        Therapists per massage arm.
    study : str
        The ``study`` label.

    Returns
    -------
    Dataset
        With subjects (arm, condition low_back_pain, technique, intent, age, sex), sessions and outcomes
        (``rmdq`` and ``pain_nrs``), and ``truth``, a dict with keys:

        - ``design``: dict (n_per_arm, arms, visits {label: week}, session_weeks, n_therapists, round_scores,
          dropout, study).
        - ``parameters``: dict {"rmdq": ..., "pain_nrs": ..., "sessions": ..., "dropout": ..., "cross_corr": ...,
          "random_effect_cov": 4×4 ndarray (rmdq intercept, rmdq slope, pain intercept, pain slope)}.
        - ``visit_means``: DataFrame (instrument, arm, visit, week, latent_mean, latent_change, latent_sd,
          observed_mean, observed_change): true population means per arm and visit. ``observed_*`` is the
          expectation after rounding and clipping (equal to ``latent_*`` when ``round_scores=False``), before
          dropout.
        - ``effects``: DataFrame (instrument, visit, week, contrast, group_1, group_2, latent_difference,
          observed_difference, latent_sd, smd): true between-arm differences (group_1 − group_2; negative favours
          group_1, both instruments being lower-is-better) and the standardized difference latent_difference /
          latent_sd (latent_sd: the pooled total SD at that visit).
        - ``session_effects``: DataFrame (arm, immediate_drop): true mean within-session drop (pre − post, latent).
        - ``random_effects``: DataFrame per subject (subject, arm, therapist, rmdq_intercept, rmdq_slope,
          pain_nrs_intercept, pain_nrs_slope, drop): the realized random effects.
        - ``therapists``: DataFrame (therapist, arm, rmdq_effect, pain_nrs_effect, drop_effect): realized.
        - ``dropout``: DataFrame per subject (subject, arm, last_visit): the last visit observed.
        - ``lmm``: dict per instrument with the generating mixed model: ``time_shape``, ``time`` (the
          random-slope time variable: ``"min(week, 10)"`` or ``"week"``), ``fixed`` (DataFrame arm, intercept,
          slope_per_week (during treatment, or throughout when linear), slope_after_week10 (piecewise only)),
          ``G`` (2×2 covariance of the random intercept and slope), ``sd_residual``, ``sd_therapist``.

    Notes
    -----
    For instrument :math:`k`, subject :math:`i` in arm :math:`a` treated by therapist :math:`j`, at week
    :math:`t`, the latent score is

    .. math::

        y_{ik}(t) = \mu_k + \Delta_{ak} f_a(t) + u_{0ik} + u_{1ik} \min(t, 10) + v_{jk} f_a(t) + e_{ik}(t),
        \quad f_a(t) = \frac{\min(t, 10)}{10} - \rho_a \frac{\max(t - 10, 0)}{16},

    piecewise in time: improvement during treatment, partial relapse (fraction :math:`\rho_a`) by week 26.
    With ``time_shape="linear"``, :math:`f_a(t) = t / 10` and the random slope multiplies :math:`t`.
    :math:`(u_0, u_1)` for both instruments are jointly normal (correlated intercepts and slopes, also across
    instruments); the therapist effect :math:`v_{jk}` is normal (zero for usual care). The true mean change from
    baseline at week 10 is :math:`\Delta_{ak}`, so the true week-10 difference between arms is the difference
    of the ``change_week10`` values; by randomization it is also the true baseline-adjusted (ANCOVA) effect.

    Rounding and clipping: the recorded score is ``clip(round(y), min, max)``. Clipping at the floor (0) pulls
    the lowest scores up, so observed differences between arms shrink towards zero where many subjects are near
    0 (at week 10 about 0.2 of the 2.5 RMDQ points with the defaults). ``truth["visit_means"]`` and ``truth["effects"]``
    therefore carry both the latent values (the generating parameters) and ``observed_*`` values, the exact
    expectations of the rounded and clipped scores (normal-CDF sums over the integer grid, marginal over
    subjects and therapists). Compare estimates on recorded data with ``observed_difference``, or pass
    ``round_scores=False, dropout=False`` to compare with the latent truth exactly.

    Within a session, pre-session pain is the latent pain at that day plus residual noise; post-session pain is
    pre minus the immediate drop (arm mean + subject + therapist effects + noise). Dropout is monotone and
    missing at random: the probability of leaving before a visit depends on the arm-independent base rate and the
    last observed RMDQ; sessions after a random week within the missed interval are missing too.

    Default magnitudes follow Cherkin et al. (2011): in 401 adults with chronic low back pain, structural and
    relaxation massage were both better than usual care on the RMDQ at 10 weeks (adjusted differences −2.5 and
    −2.9 points) with no clinically meaningful difference between the two massage types, and smaller
    differences at 26 weeks. Baseline RMDQ about 11–12 with SD about 5; pain/bothersomeness differences about
    1.4–1.7 points.

    References
    ----------
    Cherkin DC, Sherman KJ, Kahn J, et al. A comparison of the effects of 2 types of massage and usual care on
    chronic low back pain: a randomized, controlled trial. Ann Intern Med. 2011;155(1):1-9.
    doi:10.7326/0003-4819-155-1-201107050-00002

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_trial(n_per_arm=60, seed=2024)
    >>> ds.subjects["arm"].value_counts().sort_index().to_dict()
    {'relaxation': 60, 'therapeutic': 60, 'usual_care': 60}
    >>> sorted(ds.outcomes["instrument"].unique())
    ['pain_nrs', 'rmdq']
    >>> exact = mo.simulate_trial(n_per_arm=60, seed=2024, round_scores=False, dropout=False)
    >>> len(exact.outcomes) > len(ds.outcomes)
    True
    """
    gen = _rng(seed, rng)
    spec = _trial_spec(n_per_arm, rmdq=rmdq, pain_nrs=pain_nrs, sessions=sessions, dropout=dropout,
                       round_scores=round_scores, time_shape=time_shape, n_therapists=n_therapists, study=study)
    people = _trial_people(gen, spec)
    model = _TrialModel(spec, people, gen)
    visit_values = _trial_visit_scores(model)
    last_visit, dropout_week = _trial_dropout(gen, spec, visit_values)
    n_visits = len(TRIAL_VISITS)
    rows, vidx = np.repeat(np.arange(spec.n), n_visits), np.tile(np.arange(n_visits), spec.n)
    observed = vidx <= last_visit[rows]
    day = _TRIAL_WEEKS[vidx] * 7.0
    parts = [_part(rows, inst, vidx, day, np.where(vidx == 0, 0, 3), None, visit_values[inst].ravel(), observed)
             for inst in _TRIAL_INSTRUMENTS]
    sess_tab, session_parts = _trial_sessions(model, dropout_week)
    outcomes = _assemble(parts + session_parts, people.subject, study, list(TRIAL_VISITS))
    n = spec.n
    subjects = pd.DataFrame({
        "study": study, "subject": people.subject, "arm": people.arm,
        "condition": _cat(["low_back_pain"] * n, vocab.CONDITIONS), "clinic": None,
        "technique": _cat(people.technique, vocab.TECHNIQUES), "intent": _cat(people.intent, vocab.INTENTS),
        "age": people.age, "sex": people.sex,
    })
    subjects["clinic"] = pd.Series([None] * n, dtype="str")
    truth = _trial_truth(model, last_visit)
    return _dataset(subjects, sess_tab, outcomes, truth, source={"format": "simulated", "simulator": "simulate_trial",
                                                                  "n_per_arm": spec.n_per_arm, "seed": seed})


# ---- the steps of simulate_trial ---------------------------------------------------------------------------
_TRIAL_INSTRUMENTS = ("rmdq", "pain_nrs")
_TRIAL_WEEKS = np.array(list(TRIAL_VISITS.values()), dtype=float)
_TRIAL_SESSION_WEEKS = np.arange(1, 11)


@dataclass(frozen=True)
class _TrialSpec:
    """The checked options and merged parameters of one simulated trial."""

    n_per_arm: int
    n_therapists: int
    params: dict[str, dict[str, Any]]
    sessions: dict[str, Any]
    dropout_on: bool
    dropout: dict[str, Any]
    cov: np.ndarray
    time_shape: str
    round_scores: bool
    study: str

    @property
    def n(self) -> int:
        return self.n_per_arm * len(_TRIAL_ARMS)

    @property
    def linear(self) -> bool:
        return self.time_shape == "linear"


def _trial_spec(n_per_arm: int, *, rmdq: Mapping[str, Any] | None, pain_nrs: Mapping[str, Any] | None,
                sessions: Mapping[str, Any] | None, dropout: bool | Mapping[str, Any], round_scores: bool,
                time_shape: str, n_therapists: int, study: str) -> _TrialSpec:
    if time_shape not in ("piecewise", "linear"):
        raise ArgumentError(f"time_shape must be 'piecewise' or 'linear'; got {time_shape!r}")
    n_per_arm = int(n_per_arm)
    if n_per_arm < 1:
        raise ArgumentError(f"n_per_arm must be at least 1; got {n_per_arm}")
    if int(n_therapists) < 1:
        raise ArgumentError(f"n_therapists must be at least 1; got {n_therapists}")
    params = {"rmdq": _merge(_TRIAL_DEFAULTS["rmdq"], rmdq), "pain_nrs": _merge(_TRIAL_DEFAULTS["pain_nrs"], pain_nrs)}
    return _TrialSpec(
        n_per_arm, int(n_therapists), params, _merge(_TRIAL_SESSION_DEFAULTS, sessions), dropout is not False,
        _merge(_TRIAL_DROPOUT_DEFAULTS, dropout if isinstance(dropout, Mapping) else None),
        _random_effect_cov(params, _TRIAL_CROSS_CORR), time_shape, bool(round_scores), study,
    )


@dataclass(frozen=True, eq=False)
class _TrialPeople:
    """Subjects (randomized arm, technique, intent, age, sex), therapists and the realized random effects."""

    arm_idx: np.ndarray
    arm: np.ndarray
    subject: np.ndarray
    technique: np.ndarray
    intent: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    th_names: list[str]
    th_effects: dict[str, np.ndarray]
    th_drop: np.ndarray
    th_row: np.ndarray
    re: np.ndarray
    re_drop: np.ndarray

    @property
    def has_therapist(self) -> np.ndarray:
        return self.arm != "usual_care"

    def per_subject(self, values: np.ndarray) -> np.ndarray:
        """A therapist-level value for each subject (0 for usual care)."""
        return np.where(self.has_therapist, values[self.th_row], 0.0)


def _trial_people(gen: np.random.Generator, spec: _TrialSpec) -> _TrialPeople:
    arms, n, nt = _TRIAL_ARMS, spec.n, spec.n_therapists
    arm_idx = np.repeat(np.arange(len(arms)), spec.n_per_arm)
    arm_idx = arm_idx[gen.permutation(n)]  # randomization order
    arm = np.asarray(arms)[arm_idx]
    width = max(3, len(str(n)))
    subject = np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)
    technique = np.where(arm == "relaxation", "swedish", "none").astype(object)
    is_ther = arm == "therapeutic"
    technique[is_ther] = np.asarray(_THERAPEUTIC_TECHNIQUES)[gen.integers(0, 3, is_ther.sum())]
    intent = np.where(arm == "usual_care", "control", arm)
    age = np.round(np.clip(gen.normal(47.0, 11.0, n), 20, 65)).astype(int)
    sex = np.where(gen.random(n) < 0.64, "female", "male")
    # therapists: n_therapists per massage arm, each massage subject with one therapist of their arm
    th_names = [f"TH{k + 1:02d}" for k in range(2 * nt)]  # 1..nt therapeutic, nt+1..2nt relaxation
    th_effects = {k: gen.normal(0.0, spec.params[k]["sd_therapist"], 2 * nt) for k in _TRIAL_INSTRUMENTS}
    th_drop = gen.normal(0.0, spec.sessions["sd_therapist"], 2 * nt)
    th_row = np.where(arm == "relaxation", nt, 0) + gen.integers(0, nt, n)
    # subject random effects (rmdq int, rmdq slope, pain int, pain slope) and the subject's drop effect
    re = gen.multivariate_normal(np.zeros(4), spec.cov, size=n, method="cholesky")
    re_drop = gen.normal(0.0, spec.sessions["sd_subject"], n)
    return _TrialPeople(arm_idx, arm, subject, technique, intent, age, sex, th_names, th_effects, th_drop, th_row,
                        re, re_drop)


@dataclass(frozen=True, eq=False)
class _TrialModel:
    """The generating model of the trial's scores, on the latent (continuous) scale."""

    spec: _TrialSpec
    people: _TrialPeople
    gen: np.random.Generator

    def shape(self, week: np.ndarray, rho: np.ndarray | float) -> np.ndarray:
        return np.asarray(week, dtype=float) / 10.0 if self.spec.linear else _shape(week, 10.0, rho, 26.0)

    def slope_time(self, week: np.ndarray) -> np.ndarray:
        return np.asarray(week, dtype=float) if self.spec.linear else np.minimum(week, 10.0)

    def mean_trajectory(self, inst: str, week: np.ndarray, arm_of_row: np.ndarray) -> np.ndarray:
        p = self.spec.params[inst]
        delta = np.array([p["change_week10"][a] for a in _TRIAL_ARMS])[arm_of_row]
        rho = np.array([p["relapse"][a] for a in _TRIAL_ARMS])[arm_of_row]
        return np.asarray(p["baseline_mean"] + delta * self.shape(week, rho))

    def latent(self, inst: str, week: np.ndarray, rows: np.ndarray, noise_sd: float) -> np.ndarray:
        """Latent scores of subjects ``rows`` at ``week``, with fresh residual noise of SD ``noise_sd``."""
        col = 0 if inst == "rmdq" else 2
        arm_idx, re = self.people.arm_idx, self.people.re
        rho = np.array([self.spec.params[inst]["relapse"][a] for a in _TRIAL_ARMS])[arm_idx[rows]]
        f = self.shape(week, rho)
        return np.asarray(self.mean_trajectory(inst, week, arm_idx[rows]) + re[rows, col]
                          + re[rows, col + 1] * self.slope_time(week)
                          + self.people.per_subject(self.people.th_effects[inst])[rows] * f
                          + self.gen.normal(0.0, noise_sd, len(rows)))

    def record(self, inst: str, y: np.ndarray) -> np.ndarray:
        """Scores as recorded: rounded and clipped to the instrument's scale (unless ``round_scores=False``)."""
        spec = _instruments.get(inst)
        return _observe(y, spec.min, spec.max, 1.0, self.spec.round_scores)


def _trial_visit_scores(model: _TrialModel) -> dict[str, np.ndarray]:
    """(subjects × visits) recorded scores per instrument (everyone, before dropout)."""
    n, n_visits = model.spec.n, len(TRIAL_VISITS)
    rows = np.repeat(np.arange(n), n_visits)
    weeks = _TRIAL_WEEKS[np.tile(np.arange(n_visits), n)]
    out = {}
    for inst in _TRIAL_INSTRUMENTS:
        y = model.latent(inst, weeks, rows, model.spec.params[inst]["sd_residual"])
        out[inst] = model.record(inst, y).reshape(n, n_visits)
    return out


def _trial_dropout(gen: np.random.Generator, spec: _TrialSpec,
                   visit_values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """MAR monotone dropout driven by the last observed RMDQ: (last visit index, week from which sessions are
    missing) per subject."""
    n, labels = spec.n, list(TRIAL_VISITS)
    last_visit = np.full(n, len(labels) - 1)
    dropout_week = np.full(n, np.inf)  # sessions on or after this week are missing
    if not spec.dropout_on:
        return last_visit, dropout_week
    alive = np.ones(n, dtype=bool)
    rmdq = spec.params["rmdq"]
    sd0 = float(np.sqrt(spec.cov[0, 0] + rmdq["sd_residual"] ** 2))
    for j in range(1, len(labels)):
        prev = visit_values["rmdq"][:, j - 1]
        base = float(spec.dropout["base_rate"][labels[j]])
        lin = np.log(base / (1 - base)) + spec.dropout["log_odds_per_sd"] * (prev - rmdq["baseline_mean"]) / sd0
        leaves = alive & (gen.random(n) < 1.0 / (1.0 + np.exp(-lin)))
        last_visit[leaves] = j - 1
        # the subject stops coming at a uniformly random week inside the missed interval
        dropout_week[leaves] = gen.uniform(_TRIAL_WEEKS[j - 1], _TRIAL_WEEKS[j], leaves.sum())
        alive &= ~leaves
    return last_visit, dropout_week


def _trial_sessions(model: _TrialModel, dropout_week: np.ndarray) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The sessions table (massage arms, weeks 1..10, as attended) and the pre/post pain rows of each."""
    spec, people, gen = model.spec, model.people, model.gen
    sess_p, arm = spec.sessions, people.arm
    m_rows = np.flatnonzero(arm != "usual_care")
    s_rows = np.repeat(m_rows, len(_TRIAL_SESSION_WEEKS))
    s_num = np.tile(_TRIAL_SESSION_WEEKS, len(m_rows))
    jitter = int(sess_p["day_jitter"])
    s_day = 7.0 * s_num + (gen.integers(-jitter, jitter + 1, len(s_rows)) if jitter > 0 else 0)
    attended = (gen.random(len(s_rows)) < float(sess_p["attendance"])) & (s_num < dropout_week[s_rows])
    pre = model.latent("pain_nrs", s_day / 7.0, s_rows, spec.params["pain_nrs"]["sd_residual"])
    drop_mean = np.array([sess_p["immediate_drop"].get(a, 0.0) for a in _TRIAL_ARMS])[people.arm_idx[s_rows]]
    drop = (drop_mean + people.re_drop[s_rows] + people.per_subject(people.th_drop)[s_rows]
            + gen.normal(0.0, sess_p["sd_residual"], len(s_rows)))
    post = pre - drop
    # sessions are numbered 1, 2, ... in the order attended (a missed week leaves no gap in the numbering)
    s_num = np.cumsum(attended.reshape(len(m_rows), len(_TRIAL_SESSION_WEEKS)), axis=1).ravel().astype(np.int64)
    tech_code = pd.Categorical(people.technique, categories=vocab.TECHNIQUES).codes
    intent_code = pd.Categorical(people.intent, categories=vocab.INTENTS).codes
    th_code = np.where(people.has_therapist, people.th_row, -1)
    sr = s_rows[attended]
    sess_tab = pd.DataFrame({
        "study": _codes(np.zeros(len(sr)), [spec.study]), "subject": _codes(sr, people.subject),
        "session": s_num[attended], "day": s_day[attended], "technique": _codes(tech_code[sr], vocab.TECHNIQUES),
        "intent": _codes(intent_code[sr], vocab.INTENTS), "therapist": _codes(th_code[sr], people.th_names),
        "duration_min": np.full(len(sr), float(sess_p["duration_min"])),
        "pressure": _codes(np.where(arm[sr] == "therapeutic", 0, 1), ["firm", "light"]),
        "body_region": _codes(np.zeros(len(sr)), ["lower_back"]),
    })
    parts = [_part(s_rows, "pain_nrs", -1, s_day, timing, s_num, model.record("pain_nrs", vals), attended)
             for timing, vals in (("pre", pre), ("post", post))]
    return sess_tab, parts


def _trial_visit_means(model: _TrialModel) -> pd.DataFrame:
    """True population means per instrument, arm and visit (latent, and expected after rounding/clipping)."""
    spec = model.spec
    cov = spec.cov
    rows = []
    for inst in _TRIAL_INSTRUMENTS:
        p = spec.params[inst]
        col = 0 if inst == "rmdq" else 2
        ins = _instruments.get(inst)
        for a in _TRIAL_ARMS:
            f = model.shape(_TRIAL_WEEKS, p["relapse"][a])
            mu = p["baseline_mean"] + p["change_week10"][a] * f
            tm = model.slope_time(_TRIAL_WEEKS)
            var = cov[col, col] + 2 * cov[col, col + 1] * tm + cov[col + 1, col + 1] * tm**2 + p["sd_residual"] ** 2
            if a != "usual_care":
                var = var + (p["sd_therapist"] * f) ** 2
            sd = np.sqrt(var)
            obs = _expected_observed(mu, sd, ins.min, ins.max, 1.0) if spec.round_scores else mu
            for vi, v in enumerate(TRIAL_VISITS):
                rows.append({"instrument": inst, "arm": a, "visit": v, "week": int(_TRIAL_WEEKS[vi]),
                             "latent_mean": float(mu[vi]), "latent_change": float(mu[vi] - mu[0]),
                             "latent_sd": float(sd[vi]), "observed_mean": float(obs[vi]),
                             "observed_change": float(obs[vi] - obs[0])})
    return pd.DataFrame(rows)


def _trial_effects(visit_means: pd.DataFrame) -> pd.DataFrame:
    """True between-arm differences per instrument and visit, and the standardized difference."""
    rows = []
    pairs = [("therapeutic", "usual_care"), ("relaxation", "usual_care"), ("therapeutic", "relaxation")]
    vm = visit_means.set_index(["instrument", "visit", "arm"])
    for inst in _TRIAL_INSTRUMENTS:
        for v in TRIAL_VISITS:
            for g1, g2 in pairs:
                a, b = vm.loc[(inst, v, g1)], vm.loc[(inst, v, g2)]
                sd_pool = float(np.sqrt((a["latent_sd"] ** 2 + b["latent_sd"] ** 2) / 2))
                diff = float(a["latent_mean"] - b["latent_mean"])
                rows.append({"instrument": inst, "visit": v, "week": TRIAL_VISITS[v], "contrast": f"{g1} - {g2}",
                             "group_1": g1, "group_2": g2, "latent_difference": diff,
                             "observed_difference": float(a["observed_mean"] - b["observed_mean"]),
                             "latent_sd": sd_pool, "smd": diff / sd_pool})
    return pd.DataFrame(rows)


def _trial_lmm(spec: _TrialSpec) -> dict[str, Any]:
    """The generating mixed model per instrument."""
    out = {}
    for inst in _TRIAL_INSTRUMENTS:
        p = spec.params[inst]
        col = 0 if inst == "rmdq" else 2
        out[inst] = {
            "time_shape": spec.time_shape, "time": "week" if spec.linear else "min(week, 10)",
            "fixed": pd.DataFrame({
                "arm": list(_TRIAL_ARMS), "intercept": float(p["baseline_mean"]),
                "slope_per_week": [p["change_week10"][a] / 10.0 for a in _TRIAL_ARMS],
                "slope_after_week10": [np.nan if spec.linear else -p["change_week10"][a] * p["relapse"][a] / 16.0
                                       for a in _TRIAL_ARMS]}),
            "G": spec.cov[col:col + 2, col:col + 2].copy(), "sd_residual": float(p["sd_residual"]),
            "sd_therapist": float(p["sd_therapist"]),
        }
    return out


def _trial_truth(model: _TrialModel, last_visit: np.ndarray) -> dict[str, Any]:
    spec, people = model.spec, model.people
    nt, sess_p, labels = spec.n_therapists, spec.sessions, list(TRIAL_VISITS)
    visit_means = _trial_visit_means(model)
    therapist = np.where(people.has_therapist, np.asarray(people.th_names, dtype=object)[people.th_row],
                         np.asarray(None, dtype=object))
    re = people.re
    return {
        "design": {"n_per_arm": spec.n_per_arm, "arms": list(_TRIAL_ARMS), "visits": dict(TRIAL_VISITS),
                   "session_weeks": _TRIAL_SESSION_WEEKS.tolist(), "n_therapists": nt,
                   "round_scores": spec.round_scores, "dropout": spec.dropout_on, "study": spec.study,
                   "condition": "low_back_pain", "time_shape": spec.time_shape,
                   "therapeutic_techniques": list(_THERAPEUTIC_TECHNIQUES)},
        "parameters": {"rmdq": spec.params["rmdq"], "pain_nrs": spec.params["pain_nrs"], "sessions": sess_p,
                       "dropout": spec.dropout if spec.dropout_on else None, "cross_corr": dict(_TRIAL_CROSS_CORR),
                       "random_effect_cov": spec.cov},
        "visit_means": visit_means,
        "effects": _trial_effects(visit_means),
        "session_effects": pd.DataFrame({"arm": list(sess_p["immediate_drop"]),
                                         "immediate_drop": [float(v) for v in sess_p["immediate_drop"].values()]}),
        "random_effects": pd.DataFrame({
            "subject": people.subject, "arm": people.arm, "therapist": therapist, "rmdq_intercept": re[:, 0],
            "rmdq_slope": re[:, 1], "pain_nrs_intercept": re[:, 2], "pain_nrs_slope": re[:, 3],
            "drop": people.re_drop}),
        "therapists": pd.DataFrame({
            "therapist": people.th_names, "arm": ["therapeutic"] * nt + ["relaxation"] * nt,
            "rmdq_effect": people.th_effects["rmdq"], "pain_nrs_effect": people.th_effects["pain_nrs"],
            "drop_effect": people.th_drop}),
        "dropout": pd.DataFrame({"subject": people.subject, "arm": people.arm,
                                 "last_visit": _cat(np.asarray(labels)[last_visit], labels, ordered=True)}),
        "lmm": _trial_lmm(spec),
    }


_CLINIC_CONDITION_PROBS: dict[str, float] = {
    "low_back_pain": 0.30, "sciatica": 0.10, "tension_headache": 0.14, "migraine": 0.09,
    "carpal_tunnel": 0.10, "tmj": 0.08, "post_surgical_rehab": 0.19,
}
_CLINIC_TECHNIQUES = ("deep_tissue", "myofascial_release", "trigger_point", "sports", "swedish")
# which technique a therapist chooses depends on the condition (confounding by indication, as in practice)
_CLINIC_TECHNIQUE_PROBS: dict[str, tuple[float, ...]] = {
    "low_back_pain": (0.30, 0.20, 0.15, 0.05, 0.30),
    "sciatica": (0.25, 0.25, 0.20, 0.05, 0.25),
    "tension_headache": (0.15, 0.20, 0.30, 0.05, 0.30),
    "migraine": (0.10, 0.15, 0.25, 0.05, 0.45),
    "carpal_tunnel": (0.15, 0.35, 0.25, 0.05, 0.20),
    "tmj": (0.10, 0.35, 0.35, 0.02, 0.18),
    "post_surgical_rehab": (0.20, 0.30, 0.10, 0.25, 0.15),
}
# true improvement at the end of the treatment phase (week 6), in baseline-SD units (positive = better)
_CLINIC_EFFECTS: dict[str, tuple[float, ...]] = {
    #                     deep  mfr   trp   sport swed
    "low_back_pain": (0.80, 0.80, 0.75, 0.70, 0.80),
    "sciatica": (0.60, 0.65, 0.60, 0.50, 0.50),
    "tension_headache": (0.70, 0.75, 0.90, 0.55, 0.70),
    "migraine": (0.45, 0.50, 0.55, 0.40, 0.55),
    "carpal_tunnel": (0.55, 0.75, 0.60, 0.45, 0.45),
    "tmj": (0.55, 0.85, 0.85, 0.40, 0.50),
    "post_surgical_rehab": (0.90, 1.00, 0.80, 1.00, 0.60),
}
# mean within-session pain drop (pre − post, NRS points) per technique
_CLINIC_IMMEDIATE_DROP: dict[str, float] = {
    "deep_tissue": 1.3, "myofascial_release": 1.4, "trigger_point": 1.3, "sports": 1.0, "swedish": 1.7,
}
# instrument scale model: baseline mean, between-subject SD, SD of the individual improvement (fraction of the
# baseline SD, applied to the time shape), residual SD, recording step (rounding)
_CLINIC_INSTRUMENTS: dict[str, dict[str, float]] = {
    "pain_nrs": {"baseline_mean": 6.0, "sd_intercept": 1.3, "sd_residual": 1.0, "step": 1.0},
    "rmdq": {"baseline_mean": 11.0, "sd_intercept": 4.0, "sd_residual": 2.5, "step": 1.0},
    "odi": {"baseline_mean": 35.0, "sd_intercept": 13.0, "sd_residual": 6.0, "step": 1.0},
    "sbi": {"baseline_mean": 13.0, "sd_intercept": 4.0, "sd_residual": 2.5, "step": 1.0},
    "hit6": {"baseline_mean": 62.0, "sd_intercept": 5.5, "sd_residual": 3.0, "step": 1.0},
    "headache_days": {"baseline_mean": 12.0, "sd_intercept": 4.5, "sd_residual": 2.5, "step": 1.0},
    "bctq_sss": {"baseline_mean": 3.0, "sd_intercept": 0.6, "sd_residual": 0.35, "step": 0.01},
    "jfls": {"baseline_mean": 3.5, "sd_intercept": 1.6, "sd_residual": 0.8, "step": 0.1},
    "mouth_opening": {"baseline_mean": 34.0, "sd_intercept": 6.5, "sd_residual": 3.0, "step": 1.0},
    "rom": {"baseline_mean": 95.0, "sd_intercept": 20.0, "sd_residual": 8.0, "step": 1.0},
    "psfs": {"baseline_mean": 3.8, "sd_intercept": 1.5, "sd_residual": 0.8, "step": 0.1},
}
# condition -> instruments every subject gets (besides pain_nrs); (a, b) alternatives are chosen per clinic
_CLINIC_CONDITION_INSTRUMENTS: dict[str, tuple[Any, ...]] = {
    "low_back_pain": (("rmdq", "odi"),),
    "sciatica": (("sbi", "odi"),),
    "tension_headache": ("hit6", "headache_days"),
    "migraine": ("hit6", "headache_days"),
    "carpal_tunnel": ("bctq_sss",),
    "tmj": ("jfls", "mouth_opening"),
    "post_surgical_rehab": ("rom", "psfs"),
}
_CLINIC_DEFAULTS: dict[str, Any] = {
    "sd_improvement": 0.35,  # SD of the subject's own improvement, in baseline-SD units
    "sd_clinic": 0.12,  # SD of the clinic effect on improvement, in baseline-SD units
    "sd_therapist": 0.20,  # SD of the therapist effect on improvement, in baseline-SD units
    "relapse": 0.2,  # fraction of the week-6 improvement lost by week 12
    "sd_drop_subject": 0.4,
    "sd_drop_residual": 0.6,
    "dropout_base_rate": {"week_6": 0.15, "week_12": 0.20},
    "dropout_log_odds_per_point": 0.25,  # per pain-NRS point of the last observed rating above 6
}


def simulate_clinic(
    n_subjects: int = 500,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    n_clinics: int = 4,
    therapists_per_clinic: int = 4,
    effects: Mapping[str, Sequence[float]] | None = None,
    parameters: Mapping[str, Any] | None = None,
    dropout: bool = True,
    round_scores: bool = True,
    study: str = "SIM-CLINIC",
) -> Dataset:
    r"""Simulate routine practice data over seven conditions and five techniques, with known truth.

    Each subject has one condition (low_back_pain, sciatica, tension_headache, migraine, carpal_tunnel, tmj,
    post_surgical_rehab), attends one of ``n_clinics`` clinics and is treated by one of its therapists (nested in
    the clinic) with one technique (deep_tissue, myofascial_release, trigger_point, sports or swedish; the choice
    depends on the condition, as in practice). Sessions: 2–12, about weekly (gaps of 3–11 days) from day 0,
    within 10 weeks, with pain NRS before and after each. Visits baseline (day 0), week_6 and week_12 record pain
    NRS and the condition's instruments:

    ============================  =========================================================
    low_back_pain                 rmdq (odd-numbered clinics) or odi (even-numbered clinics)
    sciatica                      sbi (odd-numbered clinics) or odi (even-numbered clinics)
    tension_headache, migraine    hit6 and headache_days
    carpal_tunnel                 bctq_sss (mean-item scoring, 1–5)
    tmj                           jfls and mouth_opening
    post_surgical_rehab           rom and psfs
    ============================  =========================================================

    Parameters
    ----------
    n_subjects : int
        Number of subjects.
    seed, rng : int or numpy.random.Generator, optional
        Source of randomness (not both).
    n_clinics, therapists_per_clinic : int
        Clinics, and therapists in each.
    effects : dict, optional
        {condition: five improvements in baseline-SD units at week 6, in the technique order above}, replacing
        the defaults for those conditions.
    parameters : dict, optional
        Overrides of ``truth["parameters"]["model"]`` (sd_improvement, sd_clinic, sd_therapist, relapse,
        sd_drop_subject, sd_drop_residual, dropout_base_rate, dropout_log_odds_per_point).
    dropout : bool
        Missing-at-random monotone loss to follow-up (depends on the last observed pain NRS).
    round_scores : bool
        Record scores on each instrument's grid (integers; 0.1 for jfls/psfs; 0.01 for bctq_sss) clipped to its
        range; ``False`` keeps the latent values.
    study : str
        The ``study`` label.

    Returns
    -------
    Dataset
        With ``truth``, a dict with keys:

        - ``design``: dict (n_subjects, clinics, therapists {clinic: [ids]}, visits, techniques,
          condition_probs, technique_probs (DataFrame condition × technique), condition_instruments
          {condition: {clinic: [instruments]}}, round_scores, dropout, study).
        - ``parameters``: dict {"model": the model parameters, "instruments": DataFrame (instrument,
          baseline_mean, sd_intercept, sd_residual, step, min, max, direction, sd_baseline),
          "effects_sd_units": DataFrame condition × technique}.
        - ``effects``: DataFrame (condition, technique, instrument, visit, week, true_change, true_improvement,
          smd, observed_change): the true mean change from baseline per cell (``true_improvement`` is positive
          when better whatever the instrument's direction; ``smd`` = improvement / baseline SD;
          ``observed_change`` is the expectation after rounding and clipping, before dropout).
        - ``session_effects``: DataFrame (technique, immediate_drop): true mean pre − post pain per session.
        - ``clinics``: DataFrame (clinic, effect); ``therapists``: DataFrame (therapist, clinic, effect), in
          baseline-SD units of improvement.
        - ``random_effects``: DataFrame per subject (subject, condition, technique, clinic, therapist,
          improvement): the subject's own deviation in baseline-SD units.
        - ``dropout``: DataFrame per subject (subject, last_visit).

    Notes
    -----
    For instrument :math:`k` with baseline SD :math:`s_k` and sign :math:`\sigma_k` (+1 when higher is better),
    subject :math:`i` with condition :math:`c`, technique :math:`m`, clinic :math:`l`, therapist :math:`j`:

    .. math::

        y_{ik}(t) = \mu_k + u_{ik} + \sigma_k s_k (\delta_{cm} + w_i + c_l + v_j) f(t) + e_{ik}(t), \quad
        f(t) = \frac{\min(t, 6)}{6} - \rho \frac{\max(t - 6, 0)}{6}

    with :math:`s_k^2 = \mathrm{var}(u) + \mathrm{var}(e)`, so the true standardized improvement at week 6 is
    :math:`\delta_{cm}` and at week 12 :math:`(1 - \rho)\delta_{cm}`. This is pre–post change in an uncontrolled
    setting: it includes natural history and regression to the mean, unlike the trial's between-arm effects.
    Defaults are within the range of standardized pre–post improvements reported for massage (e.g. the
    Cochrane review of massage for low back pain, Furlan et al. 2015, and Crawford et al. 2016), with technique
    differences kept small, as head-to-head trials found (Cherkin et al. 2011).

    References
    ----------
    Furlan AD, Giraldo M, Baskwill A, Irvin E, Imamura M. Massage for low-back pain. Cochrane Database Syst Rev.
    2015;(9):CD001929. doi:10.1002/14651858.CD001929.pub3

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> ds = mo.simulate_clinic(n_subjects=200, seed=7)
    >>> sorted(ds.subjects["condition"].unique())[:3]
    ['carpal_tunnel', 'low_back_pain', 'migraine']
    >>> t = ds.truth["effects"]
    >>> float(t.query("condition == 'tmj' and technique == 'trigger_point' and visit == 'week_6' "
    ...               "and instrument == 'jfls'")["smd"].iloc[0])
    0.85
    """
    gen = _rng(seed, rng)
    spec = _clinic_spec(n_subjects, n_clinics=n_clinics, therapists_per_clinic=therapists_per_clinic,
                        effects=effects, parameters=parameters, dropout=dropout, round_scores=round_scores,
                        study=study)
    people = _clinic_people(gen, spec)
    model = _ClinicModel(spec, people, gen)
    u_pain = gen.normal(0.0, _CLINIC_SCALE["pain_nrs"]["sd_intercept"], spec.n)
    n, n_visits = spec.n, len(CLINIC_VISITS)
    rows_all, v_all = np.repeat(np.arange(n), n_visits), np.tile(np.arange(n_visits), n)
    pain_vis = model.record("pain_nrs", model.latent("pain_nrs", rows_all, _CLINIC_WEEKS[v_all], u_pain[rows_all]))
    pain_vis = pain_vis.reshape(n, -1)
    last_visit, dropout_day = _clinic_dropout(gen, spec, pain_vis)
    parts = [_part(rows_all, "pain_nrs", v_all, 7.0 * _CLINIC_WEEKS[v_all], np.where(v_all == 0, 0, 3), None,
                   pain_vis.ravel(), v_all <= last_visit[rows_all])]
    parts += _clinic_condition_scores(model, last_visit)
    sess_tab, session_parts = _clinic_sessions(model, u_pain, dropout_day)
    outcomes = _assemble(parts + session_parts, people.subject, study, list(CLINIC_VISITS))
    subjects = pd.DataFrame({
        "study": study, "subject": people.subject, "arm": pd.Series([None] * n, dtype="str"),
        "condition": _cat(people.condition, vocab.CONDITIONS), "clinic": people.clinic,
        "technique": _cat(people.technique, vocab.TECHNIQUES),
        "intent": _cat(pd.Series(people.technique).map(vocab.DEFAULT_INTENT), vocab.INTENTS), "age": people.age,
        "sex": people.sex,
    })
    truth = _clinic_truth(spec, people, last_visit)
    return _dataset(subjects, sess_tab, outcomes, truth, source={"format": "simulated", "simulator": "simulate_clinic",
                                                                  "n_subjects": n, "seed": seed})


# ---- the steps of simulate_clinic ----------------------------------------------------------------------------
_CLINIC_CONDITIONS = list(_CLINIC_CONDITION_PROBS)
_CLINIC_WEEKS = np.array(list(CLINIC_VISITS.values()), dtype=float)
_CLINIC_T_END, _CLINIC_HORIZON = 6.0, 12.0
# the instruments' scale model with the baseline SD (intercept and residual together)
_CLINIC_SCALE = {k: dict(v, sd_baseline=float(np.hypot(v["sd_intercept"], v["sd_residual"])))
                 for k, v in _CLINIC_INSTRUMENTS.items()}


@dataclass(frozen=True)
class _ClinicSpec:
    """The checked options and merged parameters of one simulated practice data set."""

    n: int
    n_clinics: int
    therapists_per_clinic: int
    model: dict[str, Any]
    effects: np.ndarray  # condition × technique, baseline-SD units at week 6
    dropout: bool
    round_scores: bool
    study: str

    @property
    def clinic_names(self) -> list[str]:
        return [f"clinic_{k + 1}" for k in range(self.n_clinics)]

    @property
    def therapist_names(self) -> list[str]:
        return [f"C{c + 1}-T{k + 1:02d}" for c in range(self.n_clinics) for k in range(self.therapists_per_clinic)]


def _clinic_spec(n_subjects: int, *, n_clinics: int, therapists_per_clinic: int,
                 effects: Mapping[str, Sequence[float]] | None, parameters: Mapping[str, Any] | None,
                 dropout: bool, round_scores: bool, study: str) -> _ClinicSpec:
    n = int(n_subjects)
    if n < 1:
        raise ArgumentError(f"n_subjects must be at least 1; got {n_subjects}")
    nc, nt = int(n_clinics), int(therapists_per_clinic)
    if nc < 1 or nt < 1:
        raise ArgumentError("n_clinics and therapists_per_clinic must be at least 1")
    eff = {c: tuple(float(x) for x in v) for c, v in _CLINIC_EFFECTS.items()}
    for cond_name, values in (effects or {}).items():
        cond = vocab.normalize_condition(cond_name)
        if cond not in eff or len(values) != len(_CLINIC_TECHNIQUES):
            raise ArgumentError(f"effects[{cond!r}] must list {len(_CLINIC_TECHNIQUES)} values "
                                f"({', '.join(_CLINIC_TECHNIQUES)})")
        eff[cond] = tuple(float(x) for x in values)
    return _ClinicSpec(n, nc, nt, _merge(_CLINIC_DEFAULTS, parameters),
                       np.array([eff[c] for c in _CLINIC_CONDITIONS]), bool(dropout), bool(round_scores), study)


@dataclass(frozen=True, eq=False)
class _ClinicPeople:
    """Subjects (condition, technique, clinic, therapist, age, sex), the realized clinic and therapist effects,
    each subject's own improvement and its total standardized improvement ``delta``."""

    subject: np.ndarray
    cond_idx: np.ndarray
    tech_idx: np.ndarray
    clinic_idx: np.ndarray
    th_idx: np.ndarray
    clinic_eff: np.ndarray
    th_eff: np.ndarray
    own: np.ndarray
    delta: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    tprob: np.ndarray
    clinic_names: list[str]
    th_names: list[str]

    @property
    def condition(self) -> np.ndarray:
        return np.asarray(_CLINIC_CONDITIONS)[self.cond_idx]

    @property
    def technique(self) -> np.ndarray:
        return np.asarray(_CLINIC_TECHNIQUES)[self.tech_idx]

    @property
    def clinic(self) -> np.ndarray:
        return np.asarray(self.clinic_names, dtype=object)[self.clinic_idx]

    @property
    def therapist(self) -> np.ndarray:
        return np.asarray(self.th_names, dtype=object)[self.th_idx]


def _clinic_people(gen: np.random.Generator, spec: _ClinicSpec) -> _ClinicPeople:
    n, nc, nt, model = spec.n, spec.n_clinics, spec.therapists_per_clinic, spec.model
    width = max(4, len(str(n)))
    subject = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)
    cprob = np.array(list(_CLINIC_CONDITION_PROBS.values()))
    cond_idx = gen.choice(len(_CLINIC_CONDITIONS), size=n, p=cprob / cprob.sum())
    tprob = np.array([_CLINIC_TECHNIQUE_PROBS[c] for c in _CLINIC_CONDITIONS])
    cum = np.cumsum(tprob / tprob.sum(axis=1, keepdims=True), axis=1)[cond_idx]
    tech_idx = np.minimum((gen.random(n)[:, None] > cum).sum(axis=1), len(_CLINIC_TECHNIQUES) - 1)
    clinic_idx = gen.integers(0, nc, n)
    th_local = gen.integers(0, nt, n)
    th_idx = clinic_idx * nt + th_local
    clinic_eff = gen.normal(0.0, model["sd_clinic"], nc)
    th_eff = gen.normal(0.0, model["sd_therapist"], nc * nt)
    own = gen.normal(0.0, model["sd_improvement"], n)
    delta = spec.effects[cond_idx, tech_idx] + own + clinic_eff[clinic_idx] + th_eff[th_idx]
    age_mean = np.array([48, 52, 40, 38, 50, 36, 58], dtype=float)[cond_idx]
    age = np.round(np.clip(gen.normal(age_mean, 12.0), 18, 85)).astype(int)
    female_p = np.array([0.6, 0.5, 0.7, 0.75, 0.7, 0.8, 0.55])[cond_idx]
    sex = np.where(gen.random(n) < female_p, "female", "male")
    return _ClinicPeople(subject, cond_idx, tech_idx, clinic_idx, th_idx, clinic_eff, th_eff, own, delta, age, sex,
                         tprob, spec.clinic_names, spec.therapist_names)


@dataclass(frozen=True, eq=False)
class _ClinicModel:
    """The generating model of the practice scores, on the latent scale, and their recording."""

    spec: _ClinicSpec
    people: _ClinicPeople
    gen: np.random.Generator

    def latent(self, inst: str, rows: np.ndarray, week: np.ndarray, u: np.ndarray) -> np.ndarray:
        sp = _CLINIC_SCALE[inst]
        f = _shape(week, _CLINIC_T_END, float(self.spec.model["relapse"]), _CLINIC_HORIZON)
        return np.asarray(sp["baseline_mean"] + u + _instruments.get(inst).sign * sp["sd_baseline"]
                          * self.people.delta[rows] * f + self.gen.normal(0.0, sp["sd_residual"], len(rows)))

    def record(self, inst: str, y: np.ndarray) -> np.ndarray:
        spec = _instruments.get(inst)
        out = _observe(y, spec.min, spec.max, _CLINIC_SCALE[inst]["step"], self.spec.round_scores)
        return np.round(out, 6) if self.spec.round_scores else out


def _clinic_instruments(spec: _ClinicSpec) -> dict[str, dict[str, list[str]]]:
    """{condition: {clinic: instruments}}: pain_nrs and the condition's, (a, b) alternatives by clinic parity."""
    out: dict[str, dict[str, list[str]]] = {}
    for c in _CLINIC_CONDITIONS:
        out[c] = {}
        for li, cl in enumerate(spec.clinic_names):
            chosen = [sp[li % 2] if isinstance(sp, tuple) else sp for sp in _CLINIC_CONDITION_INSTRUMENTS[c]]
            out[c][cl] = ["pain_nrs", *chosen]
    return out


def _clinic_dropout(gen: np.random.Generator, spec: _ClinicSpec, pain_vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MAR monotone loss to follow-up driven by the last observed pain NRS: (last visit, day from which sessions
    are missing) per subject."""
    labels = list(CLINIC_VISITS)
    last_visit = np.full(spec.n, len(labels) - 1)
    dropout_day = np.full(spec.n, np.inf)
    if not spec.dropout:
        return last_visit, dropout_day
    alive = np.ones(spec.n, dtype=bool)
    for j in range(1, len(labels)):
        base = float(spec.model["dropout_base_rate"][labels[j]])
        lin = np.log(base / (1 - base)) + spec.model["dropout_log_odds_per_point"] * (pain_vis[:, j - 1] - 6.0)
        leaves = alive & (gen.random(spec.n) < 1.0 / (1.0 + np.exp(-lin)))
        last_visit[leaves] = j - 1
        dropout_day[leaves] = 7.0 * gen.uniform(_CLINIC_WEEKS[j - 1], _CLINIC_WEEKS[j], leaves.sum())
        alive &= ~leaves
    return last_visit, dropout_day


def _clinic_condition_scores(model: _ClinicModel, last_visit: np.ndarray) -> list[dict[str, Any]]:
    """The visit rows of each condition instrument, for the subjects whose condition and clinic use it."""
    people, n_visits = model.people, len(CLINIC_VISITS)
    cond_instruments = _clinic_instruments(model.spec)
    pairs_subj: list[np.ndarray] = []
    pairs_inst: list[str] = []
    for ci, c in enumerate(_CLINIC_CONDITIONS):
        for li, cl in enumerate(model.spec.clinic_names):
            members = np.flatnonzero((people.cond_idx == ci) & (people.clinic_idx == li))
            for inst in cond_instruments[c][cl][1:]:
                pairs_subj.append(members)
                pairs_inst.extend([inst] * len(members))
    subj_rows = np.concatenate(pairs_subj) if pairs_subj else np.array([], dtype=int)
    inst_of_pair = np.asarray(pairs_inst, dtype=object)
    parts = []
    for inst in _CLINIC_INSTRUMENTS:
        if inst == "pain_nrs":
            continue
        members = subj_rows[inst_of_pair == inst]
        if len(members) == 0:
            continue
        u = model.gen.normal(0.0, _CLINIC_SCALE[inst]["sd_intercept"], len(members))
        r = np.repeat(members, n_visits)
        vv = np.tile(np.arange(n_visits), len(members))
        y = model.record(inst, model.latent(inst, r, _CLINIC_WEEKS[vv], np.repeat(u, n_visits)))
        parts.append(_part(r, inst, vv, 7.0 * _CLINIC_WEEKS[vv], np.where(vv == 0, 0, 3), None, y,
                           vv <= last_visit[r]))
    return parts


def _clinic_sessions(model: _ClinicModel, u_pain: np.ndarray,
                     dropout_day: np.ndarray) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Sessions (2-12, about weekly, within 10 weeks and before dropout) and their pre/post pain rows."""
    spec, people, gen = model.spec, model.people, model.gen
    n, max_s = spec.n, 12
    n_sess = np.minimum(2 + gen.poisson(4.5, n), max_s)
    gaps = gen.integers(3, 12, (n, max_s)).astype(float)
    gaps[:, 0] = 0.0
    sday = np.cumsum(gaps, axis=1)
    k = np.arange(max_s)[None, :]
    sess_mask = (k < n_sess[:, None]) & (sday <= 70.0) & (sday < dropout_day[:, None])
    s_rows, s_k = np.nonzero(sess_mask)
    s_day = sday[s_rows, s_k]
    pre = model.latent("pain_nrs", s_rows, s_day / 7.0, u_pain[s_rows])
    drop_subj = gen.normal(0.0, spec.model["sd_drop_subject"], n)
    techs, tech_idx = _CLINIC_TECHNIQUES, people.tech_idx
    drop_mean = np.array([_CLINIC_IMMEDIATE_DROP[t] for t in techs])[tech_idx]
    post = pre - (drop_mean[s_rows] + drop_subj[s_rows]
                  + gen.normal(0.0, spec.model["sd_drop_residual"], len(s_rows)))
    sess_no = s_k + 1
    regions = ["lower_back", "lower_back", "neck", "neck", "wrist", "jaw", "operated_limb"]
    region_names = sorted(set(regions))
    intent_of_tech = pd.Categorical([vocab.DEFAULT_INTENT[t] for t in techs], categories=vocab.INTENTS).codes
    tech_vocab = pd.Categorical(techs, categories=vocab.TECHNIQUES).codes
    technique = people.technique
    sess_tab = pd.DataFrame({
        "study": _codes(np.zeros(len(s_rows)), [spec.study]), "subject": _codes(s_rows, people.subject),
        "session": sess_no, "day": s_day, "technique": _codes(tech_vocab[tech_idx[s_rows]], vocab.TECHNIQUES),
        "intent": _codes(intent_of_tech[tech_idx[s_rows]], vocab.INTENTS),
        "therapist": _codes(people.th_idx[s_rows], people.th_names),
        "duration_min": np.where(technique[s_rows] == "sports", 45.0, 60.0),
        "pressure": _codes(np.where(technique[s_rows] == "swedish", 1, 0), ["firm", "light"]),
        "body_region": _codes(np.array([region_names.index(r) for r in regions])[people.cond_idx[s_rows]],
                              region_names),
    })
    parts = [_part(s_rows, "pain_nrs", -1, s_day, timing, sess_no, model.record("pain_nrs", vals))
             for timing, vals in (("pre", pre), ("post", post))]
    return sess_tab, parts


def _clinic_effects(spec: _ClinicSpec, cond_instruments: dict[str, dict[str, list[str]]]) -> pd.DataFrame:
    """True mean change from baseline per condition, technique, instrument and visit."""
    rows = []
    model, eff_mat = spec.model, spec.effects
    f_v = _shape(_CLINIC_WEEKS, _CLINIC_T_END, float(model["relapse"]), _CLINIC_HORIZON)
    sd_f = np.sqrt(model["sd_improvement"] ** 2 + model["sd_clinic"] ** 2 + model["sd_therapist"] ** 2)
    for ci, c in enumerate(_CLINIC_CONDITIONS):
        insts = ["pain_nrs"] + sorted({i for lst in cond_instruments[c].values() for i in lst[1:]})
        for inst in insts:
            sp, ins = _CLINIC_SCALE[inst], _instruments.get(inst)
            for mi, m in enumerate(_CLINIC_TECHNIQUES):
                imp = eff_mat[ci, mi] * sp["sd_baseline"] * f_v
                mu = sp["baseline_mean"] + ins.sign * imp
                sd = np.sqrt(sp["sd_intercept"] ** 2 + sp["sd_residual"] ** 2 + (sd_f * sp["sd_baseline"] * f_v) ** 2)
                obs = _expected_observed(mu, sd, ins.min, ins.max, sp["step"]) if spec.round_scores else mu
                for vi, v in enumerate(CLINIC_VISITS):
                    rows.append({"condition": c, "technique": m, "instrument": inst, "visit": v,
                                 "week": int(_CLINIC_WEEKS[vi]), "true_change": float(ins.sign * imp[vi]),
                                 "true_improvement": float(imp[vi]), "smd": float(eff_mat[ci, mi] * f_v[vi]),
                                 "observed_change": float(obs[vi] - obs[0])})
    return pd.DataFrame(rows)


def _clinic_truth(spec: _ClinicSpec, people: _ClinicPeople, last_visit: np.ndarray) -> dict[str, Any]:
    conds, techs, nt = _CLINIC_CONDITIONS, list(_CLINIC_TECHNIQUES), spec.therapists_per_clinic
    clinic_names, th_names, labels = people.clinic_names, people.th_names, list(CLINIC_VISITS)
    cond_instruments = _clinic_instruments(spec)
    inst_specs = {k: _instruments.get(k) for k in _CLINIC_INSTRUMENTS}
    inst_frame = pd.DataFrame([{"instrument": k, **v, "min": inst_specs[k].min, "max": inst_specs[k].max,
                                "direction": inst_specs[k].direction} for k, v in _CLINIC_SCALE.items()])
    return {
        "design": {"n_subjects": spec.n, "clinics": clinic_names,
                   "therapists": {cl: th_names[i * nt:(i + 1) * nt] for i, cl in enumerate(clinic_names)},
                   "visits": dict(CLINIC_VISITS), "techniques": techs, "condition_probs": dict(_CLINIC_CONDITION_PROBS),
                   "technique_probs": pd.DataFrame(people.tprob, index=pd.Index(conds, name="condition"), columns=techs),
                   "condition_instruments": cond_instruments, "round_scores": spec.round_scores,
                   "dropout": spec.dropout, "study": spec.study},
        "parameters": {"model": spec.model, "instruments": inst_frame,
                       "effects_sd_units": pd.DataFrame(spec.effects, index=pd.Index(conds, name="condition"),
                                                        columns=techs)},
        "effects": _clinic_effects(spec, cond_instruments),
        "session_effects": pd.DataFrame({"technique": techs,
                                         "immediate_drop": [_CLINIC_IMMEDIATE_DROP[t] for t in techs]}),
        "clinics": pd.DataFrame({"clinic": clinic_names, "effect": people.clinic_eff}),
        "therapists": pd.DataFrame({"therapist": th_names, "clinic": np.repeat(clinic_names, nt),
                                    "effect": people.th_eff}),
        "random_effects": pd.DataFrame({"subject": people.subject, "condition": people.condition,
                                        "technique": people.technique, "clinic": people.clinic,
                                        "therapist": people.therapist, "improvement": people.own}),
        "dropout": pd.DataFrame({"subject": people.subject,
                                 "last_visit": _cat(np.asarray(labels)[last_visit], labels, ordered=True)}),
    }

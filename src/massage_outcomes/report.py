"""The report: tables, figures and one self-contained HTML page for a dataset.

:func:`make_figures` draws the standard figures from the summary tables (and the dataset, for raw data);
:func:`render_html` assembles a single HTML file with the figures embedded as base64 PNG, every table, a methods
section built from what was actually run (models, options, package versions) and any section that could not be
computed; :func:`write_report` writes all of it into a directory. Nothing here computes a statistic.

Examples
--------
>>> import massage_outcomes as mo
>>> from massage_outcomes import report
>>> ds = mo.simulate_trial(n_per_arm=30, seed=3)           # doctest: +SKIP
>>> paths = report.write_report(ds, "results/")            # doctest: +SKIP
>>> paths["html"]                                          # doctest: +SKIP
PosixPath('results/report.html')
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import platform
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

# the backend is the user's choice (a report draws with any of them; the command line picks Agg for itself)
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from massage_outcomes import narrative as _narrative
from massage_outcomes import plot as _plot
from massage_outcomes import tables as _tables

__all__ = ["make_figures", "render_html", "write_report", "package_versions", "TABLE_TITLES", "key_results",
           "table_title", "table_caption"]

TABLE_TITLES: dict[str, str] = {
    "table1_baseline": "Table 1. Baseline characteristics by arm",
    "effects_between_arms": "Effect sizes between arms",
    "effects_by_condition": "Within-subject effect sizes by condition",
    "effects_by_technique": "Within-subject effect sizes by technique",
    "effects_condition_technique": "Within-subject effect sizes by condition and technique",
    "responders": "Responders: rates, risk difference, risk ratio and NNT",
    "trajectory_contrasts": "Mixed model: contrasts between arms at each visit",
    "trajectory_means": "Mixed model: marginal means by arm and visit",
    "mmrm": "MMRM: contrasts between arms at each visit",
    "mmrm_means": "MMRM: marginal means by arm and visit",
}
_PACKAGES = ("massage_outcomes", "numpy", "pandas", "scipy", "statsmodels", "formulaic", "matplotlib", "seaborn")


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages the analyses use (for the methods section)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _instrument_keys(tabs: Mapping[str, pd.DataFrame]) -> list[str]:
    keys: list[str] = []
    for frame in tabs.values():
        if "instrument" in frame.columns and not _tables.is_note(frame):
            for k in pd.unique(frame["instrument"].dropna().astype(str)):
                if k not in keys:
                    keys.append(k)
    return keys


def _pick(frame: pd.DataFrame | None, **equal: Any) -> pd.DataFrame | None:
    if frame is None or _tables.is_note(frame):
        return None
    for col, val in equal.items():
        if col not in frame.columns:
            return None
        frame = frame[frame[col].astype(object) == val]
    return frame if len(frame) else None


_MEASURE_NAMES = {"hedges_g": "Hedges' g", "cohens_d": "Cohen's d", "glass_delta": "Glass's Δ",
                  "mean_diff": "Mean difference"}


def _measure_name(measure: str) -> str:
    return _MEASURE_NAMES.get(measure, measure.replace("_", " "))


def _direction(inst_key: str) -> str:
    from massage_outcomes import instruments

    try:
        return instruments.get(inst_key).direction
    except Exception:  # noqa: BLE001
        return "lower"


#: columns shown in the HTML report per table (the CSV files keep every column)
DISPLAY_COLUMNS: dict[str, list[str]] = {
    "effects": ["instrument", "period", "contrast", "on", "measure", "condition", "technique", "n_1", "n_2",
                "estimate", "ci_low", "ci_high", "sci_low", "sci_high", "p_value", "p_adjusted", "favours",
                "reliable", "note"],
    "responders": ["instrument", "threshold", "contrast", "n_1", "rate_1", "n_2", "rate_2", "risk_diff",
                   "risk_diff_ci_low", "risk_diff_ci_high", "risk_ratio", "risk_ratio_ci_low", "risk_ratio_ci_high",
                   "nnt_label", "favours", "reliable", "note"],
    "contrasts": ["instrument", "model", "contrast", "visit", "week", "estimate", "ci_low", "ci_high", "df",
                  "p_value", "p_adjusted", "sci_low", "sci_high", "effect_size", "effect_size_ci_low",
                  "effect_size_ci_high", "reliable", "note"],
    "means": ["instrument", "model", "arm", "visit", "week", "estimate", "se", "df", "ci_low", "ci_high", "reliable",
              "note"],
}


def table_title(name: str, frame: pd.DataFrame) -> str:
    """The heading of a table in the report; Table 1 names the column it is split by (arm, condition, ...)."""
    if name == "table1_baseline":
        by = str(frame.attrs.get("by", "arm")).replace("_", " ")
        return f"Table 1. Baseline characteristics by {by}"
    return TABLE_TITLES.get(name, name)


def table_caption(name: str, frame: pd.DataFrame) -> str:
    """What the table's intervals and p-values are, in words (empty for descriptive tables)."""
    if _tables.is_note(frame) or "ci_low" not in frame.columns and "risk_diff_ci_low" not in frame.columns:
        return ""
    level = float(frame["level"].iloc[0]) if "level" in frame.columns and len(frame) else 0.95
    adjusts = [a for a in pd.unique(frame["adjust"].dropna().astype(str))] if "adjust" in frame.columns else []
    text = _narrative.interval_words(adjusts[0] if len(adjusts) == 1 else None, level)
    if name == "responders":
        text = (f"Rates with unadjusted {100 * level:g}% Wilson intervals; risk difference with the Newcombe "
                "interval; NNT from the risk-difference interval")
    extra = "; 'favours' names an arm only when the interval excludes no difference" if "favours" in frame.columns \
        else ""
    rel = "; rows with reliable = no may not be read as results (their note says why)" \
        if "reliable" in frame.columns and not frame["reliable"].astype(bool).all() else ""
    return text[0].upper() + text[1:] + extra + rel + "."


def _display(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    kind = ("effects" if name.startswith("effects") else "responders" if name == "responders"
            else "means" if name.endswith("_means") else "contrasts" if name in ("trajectory_contrasts", "mmrm")
            else None)
    if kind is None:
        return frame
    if kind == "responders" and {"threshold_value", "threshold_unit"} <= set(frame.columns):
        spec = frame["threshold_spec"] if "threshold_spec" in frame.columns else pd.Series("", index=frame.index)
        frame = frame.assign(threshold=[_short_threshold(s, v, u) for s, v, u in zip(
            spec, frame["threshold_value"], frame["threshold_unit"], strict=True)])
    cols = [c for c in DISPLAY_COLUMNS[kind] if c in frame.columns]
    return frame[cols] if cols else frame


def _label(inst_key: str) -> str:
    from massage_outcomes import instruments

    try:
        return instruments.get(inst_key).name
    except Exception:  # noqa: BLE001
        return inst_key


def key_results(tabs: Mapping[str, pd.DataFrame], *, primary_visit: str | None = None,
                measure: str = "hedges_g") -> list[str]:
    """The report's key results, one sentence per row of the tables they summarise, through
    :mod:`massage_outcomes.narrative` (so every number is the table's and every interval is named).

    Per instrument: the MMRM contrasts between arms at the primary visit, the baseline-adjusted standardized
    effects between arms, and the responders at the MCID. Rows that may not be read (``reliable`` False) are
    named with their note instead of stated.
    """
    lines: list[str] = []
    for key in _instrument_keys(tabs):
        name, unit = _label(key), _unit(key)
        mm = _pick(tabs.get("mmrm"), instrument=key)
        if mm is not None and primary_visit is not None and "visit" in mm.columns:
            for _, row in mm[mm["visit"].astype(str) == str(primary_visit)].iterrows():
                head = f"{name} at {primary_visit}, MMRM (baseline-adjusted)"
                lines.append(_sentence(head, row, partial(_narrative.contrast_sentence, unit=unit)))
        eff = _pick(tabs.get("effects_between_arms"), instrument=key, on="ancova")
        if eff is not None and "measure" in eff.columns:
            eff = eff[eff["measure"].astype(str) == f"ancova_{measure}"]
            for _, row in eff.iterrows():
                lines.append(_sentence(f"{name}, baseline-adjusted", row,
                                       partial(_narrative.effect_sentence, measure=_measure_name(measure))))
        resp = _pick(tabs.get("responders"), instrument=key, threshold_spec="mcid")
        if resp is not None:
            for _, row in resp.iterrows():
                thr = _short_threshold("mcid", row["threshold_value"], row["threshold_unit"])
                lines.append(_sentence(name, row, partial(_narrative.responder_sentence, threshold=thr)))
    return lines


def _sentence(head: str, row: pd.Series, write: Callable[[pd.Series], str]) -> str:
    if "reliable" in row.index and not bool(row["reliable"]):
        what = row.get("contrast", "")
        return f"{head}: " + _narrative.not_reported(str(what).replace(" - ", " − ") or "this row", row)
    return f"{head}: {write(row)}"


def _unit(inst_key: str) -> str:
    from massage_outcomes import instruments

    try:
        return instruments.get(inst_key).unit
    except Exception:  # noqa: BLE001
        return ""


def make_figures(
    ds: Any,
    tabs: Mapping[str, pd.DataFrame],
    *,
    measure: str = "hedges_g",
    primary_visit: str | None = None,
    seed: int = 20110705,
    problems: dict[str, str] | None = None,
) -> dict[str, tuple[Figure, str]]:
    """The report's figures from the summary tables: name → (figure, caption).

    Trajectories (marginal means of the mixed model, else the MMRM, with individual trajectories beneath), a
    forest plot of the baseline-adjusted standardized effects between arms, responder rates per arm, and a
    condition × technique heatmap when the data have several of each. A figure whose inputs are missing is skipped
    and its reason recorded in ``problems``.
    """
    problems = {} if problems is None else problems
    figs: dict[str, tuple[Figure, str]] = {}

    def guarded(name: str, fn: Callable[[], tuple[Figure, str] | None]) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made = fn()
        except Exception as exc:  # noqa: BLE001 - a figure must never sink the report
            plt.close("all")
            problems[f"figure {name}"] = f"{type(exc).__name__}: {exc}"
            return
        if made is not None:
            figs[name] = made

    for key in _instrument_keys(tabs):
        guarded(f"trajectories_{key}", partial(_fig_trajectories, ds, tabs, key))
        guarded(f"forest_{key}", partial(_fig_forest, tabs, key, measure))
        guarded(f"forest_within_{key}", partial(_fig_forest_within, tabs, key, measure))
        guarded(f"responders_{key}", partial(_fig_responders, tabs, key))
        guarded(f"estimation_{key}", partial(_fig_estimation, ds, tabs, key, primary_visit, seed))
        guarded(f"heatmap_{key}", partial(_fig_heatmap, tabs, key))
    return figs


def _fig_trajectories(ds: Any, tabs: Mapping[str, pd.DataFrame], key: str) -> tuple[Figure, str] | None:
    """The marginal means of the mixed model (else the MMRM) per arm over time, individual lines beneath."""
    for section, what in (("trajectory_means", "mixed model"), ("mmrm_means", "MMRM")):
        means = _pick(tabs.get(section), instrument=key)
        if means is None:
            continue
        time = "visit" if "visit" in means.columns else ("week" if "week" in means.columns else None)
        individual = None
        try:
            individual = ds.analysis_frame(key)
            if "timing" in individual.columns:
                individual = individual[individual["timing"].astype(str).isin(["baseline", "followup"])]
        except Exception:  # noqa: BLE001 - the means alone still make a figure
            individual = None
        ax = _plot.trajectories(means, group="arm", time=time, individual=individual, instrument=key,
                                title=f"{_label(key)} by arm ({what})")
        return _plot.figure_of(ax), (f"Estimated marginal means of {_label(key)} per arm at each visit with "
                                     f"{_narrative.interval_label()} bands from the {what}; faint lines are "
                                     "individual participants.")
    return None


def _fig_forest(tabs: Mapping[str, pd.DataFrame], key: str, measure: str) -> tuple[Figure, str] | None:
    """The between-arm forest of the baseline-adjusted standardized effects (reliable rows only)."""
    eff = _pick(tabs.get("effects_between_arms"), instrument=key, on="ancova")
    if eff is not None and "measure" in eff.columns:  # the module names it e.g. "ancova_hedges_g"
        eff = eff[eff["measure"].astype(str).str.contains(measure, regex=False)]
    if eff is not None and "reliable" in eff.columns:
        eff = eff[eff["reliable"].astype(bool)]  # only rows that may be read as results
    if eff is None or eff.empty:
        return None
    return _between_arm_forest(eff, key, measure), (
        f"Baseline-adjusted standardized differences in {_label(key)} between arms (a − b) with "
        f"{_narrative.interval_label()}s (not adjusted for the several contrasts); each panel names the arm "
        "each side of zero favours.")


def _fig_forest_within(tabs: Mapping[str, pd.DataFrame], key: str, measure: str) -> tuple[Figure, str] | None:
    """Without arms (clinic data): the within-person change per condition."""
    if _pick(tabs.get("effects_between_arms"), instrument=key) is not None:
        return None  # a trial: the between-arm forest is the one to read
    eff = _pick(tabs.get("effects_by_condition"), instrument=key)
    if eff is not None and "reliable" in eff.columns:
        eff = eff[eff["reliable"].astype(bool)]
    if eff is None or eff.empty:
        return None
    group = "period" if "period" in eff.columns and eff["period"].nunique() > 1 else None
    ax = _plot.forest(eff, label="condition", weight="n_1" if "n_1" in eff.columns else None, group=group,
                      interval=_narrative.interval_label(),
                      favours=("improvement" if _direction(key) == "lower" else "worsening",
                               "worsening" if _direction(key) == "lower" else "improvement"),
                      xlabel=f"{_measure_name(measure)} (later − earlier occasion)",
                      title=f"{_label(key)}: within-person change by condition")
    return _plot.figure_of(ax), (f"Within-person standardized change in {_label(key)} per condition with "
                                 f"{_narrative.interval_label()}s (uncontrolled: not a treatment effect).")


def _fig_responders(tabs: Mapping[str, pd.DataFrame], key: str) -> tuple[Figure, str] | None:
    """Responder rates per arm at each threshold."""
    table = _pick(tabs.get("responders"), instrument=key)
    if table is not None and "reliable" in table.columns:
        table = table[table["reliable"].astype(bool)]
    if table is None or table.empty:
        return None
    rates = responder_rates(table)
    if rates is None or rates.empty:
        return None
    ax = _plot.responders(rates, group="arm", threshold="threshold", rate="rate", ci_low="ci_low",
                          ci_high="ci_high", instrument=key, title=f"{_label(key)}: responders by arm")
    return _plot.figure_of(ax), ("Proportion of responders per arm at each threshold, with unadjusted 95% "
                                 "Wilson intervals.")


def _fig_estimation(ds: Any, tabs: Mapping[str, pd.DataFrame], key: str, primary_visit: str | None, seed: int) -> tuple[Figure, str] | None:
    """The estimation plot of the first two arms' change to the primary visit (BCa bootstrap of the difference)."""
    arms = _arm_order(tabs)
    visit = primary_visit if primary_visit is not None else _tables.default_primary_visit(ds)
    if len(arms) < 2 or visit is None:
        return None
    from massage_outcomes.effects import effect_sizes

    a, b = arms[0], arms[1]
    frame = ds.analysis_frame(key)
    row, draws = effect_sizes(frame, instrument=key, compare=("arm", a, b), on="change", start="baseline",
                              end=visit, measure="mean_diff", ci="bca", n_resamples=2000, rng=seed,
                              return_draws=True)
    raw = frame[(frame["visit"].astype(object) == visit) & frame["arm"].astype(object).isin([a, b])]
    raw = raw.dropna(subset=["change"])
    r = row.iloc[0]
    fig = _plot.estimation(raw, group="arm", value="change", compare=(a, b), draws=np.asarray(draws)[:, 0],
                           estimate=float(r["estimate"]), ci=(float(r["ci_low"]), float(r["ci_high"])),
                           instrument=key, title=f"{_label(key)}: change to {str(visit).replace('_', ' ')}, {a} vs {b}")
    return fig, (f"Change in {_label(key)} from baseline to {visit}: each participant of the {a} and {b} "
                 f"arms (bars: arm means), and the bootstrap distribution (2,000 resamples, BCa 95% "
                 f"interval) of the difference in mean change, {a} − {b}.")


def _fig_heatmap(tabs: Mapping[str, pd.DataFrame], key: str) -> tuple[Figure, str] | None:
    """The condition × technique heatmap of within-subject effects, when the data have several of each."""
    eff = _pick(tabs.get("effects_condition_technique"), instrument=key)
    if eff is None or eff["condition"].nunique() < 2 or eff["technique"].nunique() < 2:
        return None
    parts = []
    for period, sub in eff.groupby("period", sort=False) if "period" in eff.columns else [("", eff)]:
        parts.append((period, sub))
    period, sub = parts[-1]
    if "reliable" in sub.columns:  # an unreliable cell is shown empty, like a cell without data
        sub = sub.assign(estimate=sub["estimate"].where(sub["reliable"].astype(bool)))
    ax = _plot.heatmap(sub, row="condition", col="technique", value="estimate", instrument=key,
                       n="n" if "n" in sub.columns else None,
                       title=f"{_label(key)}: {period or 'effect'} by condition and technique")
    return _plot.figure_of(ax), (f"Within-subject standardized change in {_label(key)} ({period}) per condition "
                                 "and technique; empty cells had no data or no reliable estimate.")


def _between_arm_forest(eff: pd.DataFrame, key: str, measure: str) -> Figure:
    """One forest panel per contrast "a - b" on a shared axis, each with its own "favours a / favours b" words."""
    contrasts = list(dict.fromkeys(eff["contrast"].astype(str)))
    lo = float(np.nanmin(eff["ci_low"].to_numpy(dtype=float)))
    hi = float(np.nanmax(eff["ci_high"].to_numpy(dtype=float)))
    pad = 0.08 * max(hi - lo, 0.1)
    fig, axes = plt.subplots(len(contrasts), 1, figsize=(7.0, 0.5 + 1.25 * len(contrasts)), squeeze=False,
                             layout="constrained")
    for i, (c, ax) in enumerate(zip(contrasts, axes[:, 0], strict=True)):
        parts = [p.strip() for p in c.split(" - ")]
        compare = (parts[0], parts[1]) if len(parts) == 2 else None
        last = i == len(contrasts) - 1
        _plot.forest(eff[eff["contrast"].astype(str) == c], label="contrast", weight=None, instrument=key,
                     compare=compare, ax=ax,
                     xlabel=(f"{_measure_name(measure)} (a − b), baseline-adjusted; bars: "
                             f"{_narrative.interval_label()}") if last else "")
        ax.set_xlim(min(lo - pad, -pad), max(hi + pad, pad))
    fig.suptitle(f"{_label(key)}: differences between arms", fontweight="bold")
    return fig


def _arm_order(tabs: Mapping[str, pd.DataFrame]) -> list[str]:
    """Arms in Table 1's column order (therapeutic, relaxation, control), which the contrasts also follow."""
    t1 = tabs.get("table1_baseline")
    if t1 is None or _tables.is_note(t1):
        return []
    return [c for c in t1.columns if c not in ("characteristic", "level", "overall")]


def responder_rates(table: pd.DataFrame) -> pd.DataFrame | None:
    """Per-arm responder rates (arm, threshold, rate, ci_low, ci_high) from a responders table.

    Accepts a long table with one row per arm (columns ``arm``/``group``, ``rate``, ``rate_ci_low`` …) or a
    wide one with one row per comparison (``rate_1``/``rate_2`` with ``group_1``/``group_2`` or a ``contrast``
    "a - b"); each arm's rate is listed once per threshold.
    """
    thr = next((c for c in ("threshold_label", "threshold", "threshold_spec") if c in table.columns), None)
    if thr is None:
        return None
    if {"threshold_value", "threshold_unit"} <= set(table.columns):
        table = table.assign(_short=[_short_threshold(spec, v, u) for spec, v, u in zip(
            table.get("threshold_spec", pd.Series([""] * len(table), index=table.index)), table["threshold_value"],
            table["threshold_unit"], strict=True)])
        thr = "_short"
    rows = []
    for _, rec in table.iterrows():
        if "rate" in rec.index and any(c in rec.index for c in ("arm", "group")):
            arm = rec["arm"] if "arm" in rec.index else rec["group"]
            lo = rec.get("rate_ci_low", rec.get("ci_low"))
            hi = rec.get("rate_ci_high", rec.get("ci_high"))
            rows.append({"arm": arm, "threshold": rec[thr], "rate": rec["rate"], "ci_low": lo, "ci_high": hi})
            continue
        if "rate_1" not in rec.index:
            continue
        names: tuple[Any, ...]
        if "arm_1" in rec.index:
            names = (rec["arm_1"], rec["arm_2"])
        elif "group_1" in rec.index:
            names = (rec["group_1"], rec["group_2"])
        else:
            names = tuple(s.strip() for s in str(rec["contrast"]).split(" - ", 1))
        for i, arm in zip((1, 2), names, strict=True):
            rows.append({"arm": arm, "threshold": rec[thr], "rate": rec[f"rate_{i}"],
                         "ci_low": rec.get(f"rate_{i}_ci_low", rec.get(f"ci_low_{i}")),
                         "ci_high": rec.get(f"rate_{i}_ci_high", rec.get(f"ci_high_{i}"))})
    if not rows:
        return None
    out = pd.DataFrame(rows).drop_duplicates(["arm", "threshold"])
    return out.dropna(subset=["rate"])


def _short_threshold(spec: Any, value: Any, unit: Any) -> str:
    """'MCID (5 points)', '≥30%' or '≥2 points': a threshold label short enough for an axis."""
    try:
        v = f"{float(value):g}"
    except (TypeError, ValueError):
        return str(spec)
    amount = f"{v}%" if str(unit) == "percent" else f"{v} points"
    return f"MCID ({amount})" if str(spec).lower() == "mcid" else f"≥{amount}"


def _fig_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buf.getvalue()


_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.6em}.meta{color:#555}.note{background:#FFF6E0;border-left:4px solid #E69F00;padding:.5em .8em}
.ok{background:#E8F5EE;border-left:4px solid #009E73;padding:.5em .8em}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#444;font-size:.92em}
.scroll{overflow-x:auto;max-height:36em;overflow-y:auto;border:1px solid #eee}
table.mo-table{border-collapse:collapse;font-size:.82em;white-space:nowrap}
table.mo-table th,table.mo-table td{padding:.25em .6em;border-bottom:1px solid #e5e5e5;text-align:left}
table.mo-table th{position:sticky;top:0;background:#f6f8fa}
table.mo-table .num{text-align:right;font-variant-numeric:tabular-nums}
nav ul{columns:2;font-size:.92em}nav li.sub{margin-left:1.2em;font-size:.92em}
code{background:#f3f3f3;padding:0 .2em}
"""


def _dataset_summary(ds: Any) -> str:
    parts = []
    try:
        subjects = ds.subjects
        n = len(subjects)
        parts.append(f"{n} participants")
        if "arm" in subjects.columns and subjects["arm"].notna().any():
            counts = subjects["arm"].astype(object).value_counts()
            order = _plot.order_levels(list(counts.index))
            parts.append("arms: " + ", ".join(f"{html.escape(str(a))} ({counts[a]})" for a in order))
        if "condition" in subjects.columns:
            conds = subjects["condition"].dropna().astype(str).unique()
            parts.append(f"{len(conds)} condition{'s' if len(conds) != 1 else ''} "
                         f"({html.escape(', '.join(sorted(conds)[:8]))})")
        sessions = getattr(ds, "sessions", None)
        if sessions is not None:
            parts.append(f"{len(sessions)} treatment sessions")
        out = ds.outcomes
        parts.append(f"{len(out)} outcome measurements of "
                     + html.escape(", ".join(sorted(out["instrument"].dropna().astype(str).unique()))))
        if "visit" in out.columns and out["visit"].notna().any():
            visits = [str(v) for v in (out["visit"].cat.categories if hasattr(out["visit"], "cat")
                                       else out["visit"].dropna().unique())]
            parts.append("visits: " + html.escape(", ".join(visits)))
    except Exception as exc:  # noqa: BLE001
        parts.append(f"(could not summarise the dataset: {html.escape(str(exc))})")
    return "; ".join(parts) + "."


def render_html(
    ds: Any,
    tabs: Mapping[str, pd.DataFrame],
    figures: Mapping[str, tuple[Figure | bytes, str]],
    *,
    title: str = "massage-outcomes report",
    source: str | None = None,
    validation: Any = None,
    methods: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    digits: int = 2,
    max_rows: int = 300,
    key_results: Sequence[str] | None = None,
    paper_html: str = "",
    paper_toc: Sequence[tuple[str, str]] = (),
) -> str:
    """One self-contained HTML page: a table of contents, data summary, validation, key results (sentences from
    :func:`key_results`), figures (base64 PNG), the paper's tables and outcome definitions (``paper_html``,
    listed in ``paper_toc``), every analysis table, methods and notes."""
    esc = html.escape
    versions = package_versions()
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{esc(title)}</h1>",
           f'<p class="meta">Generated {_dt.date.today().isoformat()} by massage_outcomes '
           f"{esc(versions['massage_outcomes'])}" + (f" from <code>{esc(source)}</code>" if source else "") + ".</p>"]
    def short(caption: str) -> str:
        head = caption.split(". ")[0].split("; ")[0]
        return head if len(head) <= 72 else head[:70].rsplit(" ", 1)[0] + " …"

    fig_toc = "".join(f'<li class="sub"><a href="#f-{esc(k)}">Figure {i}. {esc(short(c))}</a></li>'
                      for i, (k, (_f, c)) in enumerate(figures.items(), start=1))
    out.append('<nav><strong>Contents</strong><ul><li><a href="#data">Data</a></li>'
               + ('<li><a href="#key-results">Key results</a></li>' if key_results else "")
               + '<li><a href="#figures">Figures'
               '</a></li>' + fig_toc
               + "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t in paper_toc)
               + '<li><a href="#tables">Analysis tables</a></li>'
               + "".join(f'<li class="sub"><a href="#t-{esc(k)}">{esc(table_title(k, f))}</a></li>'
                         for k, f in tabs.items()) + '<li><a href="#methods">Methods</a></li></ul></nav>')
    out.append('<h2 id="data">Data</h2>')
    out.append(f"<p>{_dataset_summary(ds)}</p>")
    if validation is not None:
        ok = getattr(validation, "ok", None)
        summary = validation.summary(limit=20) if hasattr(validation, "summary") else str(validation)
        cls = "ok" if ok else "note"
        out.append(f'<div class="{cls}"><strong>Validation.</strong> <pre>{esc(summary)}</pre></div>')
    rejected = getattr(ds, "rejected", None)
    if isinstance(rejected, pd.DataFrame) and len(rejected):
        out.append(f'<p class="note">{len(rejected)} row(s) were quarantined when reading and are not analysed.</p>')

    if key_results:
        out.append('<h2 id="key-results">Key results</h2><ul class="key-results">'
                   + "".join(f"<li>{esc(line)}</li>" for line in key_results) + "</ul>")

    out.append('<h2 id="figures">Figures</h2>')
    if not figures:
        out.append('<p class="note">No figures could be drawn (see the notes under Methods).</p>')
    for i, (name, (fig, caption)) in enumerate(figures.items(), start=1):
        png = fig if isinstance(fig, bytes) else _fig_png(fig)
        b64 = base64.b64encode(png).decode("ascii")
        out.append(f'<figure id="f-{esc(name)}"><img alt="{esc(caption)}" src="data:image/png;base64,{b64}">'
                   f"<figcaption><strong>Figure {i}.</strong> {esc(caption)}</figcaption></figure>")
    if paper_html:
        out.append(paper_html)

    out.append('<h2 id="tables">Analysis tables</h2>')
    for name, frame in tabs.items():
        out.append(f'<h3 id="t-{esc(name)}">{esc(table_title(name, frame))}</h3>')
        caption = table_caption(name, frame)
        if caption:
            out.append(f'<p class="meta">{esc(caption)}</p>')
        if _tables.is_note(frame):
            out.append(f'<p class="note">{esc(str(frame["note"].iloc[0]))}</p>')
            continue
        shown = _display(name, frame).head(max_rows)
        shown = shown[[c for c in shown.columns if not shown[c].isna().all()]]
        if shown.shape[1] < frame.shape[1]:
            out.append(f"<p class=meta>Main columns shown; <code>tables/{esc(name)}.csv</code> has all "
                       f"{frame.shape[1]} (conventions, SEs, df, methods).</p>")
        out.append('<div class="scroll">' + _tables.to_html(shown, digits=digits) + "</div>")
        if len(frame) > max_rows:
            out.append(f"<p class=meta>First {max_rows} of {len(frame)} rows; the CSV file has all of them.</p>")

    out.append('<h2 id="methods">Methods</h2>')
    methods = dict(methods or {})
    if methods:
        out.append("<ul>" + "".join(f"<li>{esc(text)}</li>" for text in methods.values()) + "</ul>")
    inst_lines = []
    for key in _instrument_keys(tabs):
        try:
            from massage_outcomes import instruments as _instruments

            inst = _instruments.get(key)
            mcid = inst.default_mcid()
            inst_lines.append(f"{inst.describe()}" + (f"; MCID {mcid}" if mcid is not None else "; no published MCID"))
        except Exception:  # noqa: BLE001 - an unregistered instrument is named by its key
            inst_lines.append(key)
    if inst_lines:
        out.append("<p>Instruments:</p><ul>" + "".join(f"<li>{esc(t)}</li>" for t in inst_lines) + "</ul>")
    if options:
        out.append("<p>Options: " + esc(", ".join(f"{k}={v}" for k, v in options.items())) + ".</p>")
    out.append("<p>Intervals are unadjusted 95% confidence intervals unless a table's caption says otherwise; "
               "simultaneous intervals, where a family is adjusted by a method that has them, are in the sci_low "
               "and sci_high columns. Numbers are rounded only for display; the CSV files "
               "keep three decimals.</p>")
    out.append("<p>Software: " + esc(", ".join(f"{k} {v}" for k, v in versions.items())) + ".</p>")
    if problems:
        out.append("<h3>Sections that could not be computed</h3><ul>" + "".join(
            f"<li><strong>{esc(k)}</strong>: {esc(v.splitlines()[0] if v else '')}</li>" for k, v in problems.items())
                   + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(
    ds: Any,
    out: str | Path,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    formats: Sequence[str] = ("csv", "md"),
    validation: Any = None,
    problems: dict[str, str] | None = None,
    methods: dict[str, str] | None = None,
    title: str = "massage-outcomes report",
    source: str | None = None,
    options: Mapping[str, Any] | None = None,
    summary_options: Mapping[str, Any] | None = None,
    primary_visit: str | None = None,
    progress: Callable[[str], None] | None = None,
    disposition_options: Mapping[str, Any] | None = None,
    sensitivity: pd.DataFrame | None = None,
    estimand: Any = None,
) -> dict[str, Any]:
    """Write tables (``tables/``), figures (``figures/*.png``, the flow diagram also as SVG), ``report.html`` and,
    with ``"docx"`` in ``formats``, ``report.docx`` into ``out``.

    Parameters
    ----------
    ds : the :class:`~massage_outcomes.Dataset`.
    out : output directory (created if needed).
    tables : precomputed :func:`~massage_outcomes.tables.summary_tables` (computed here when None, with
        ``summary_options``).
    formats : table file formats; ``"docx"`` also writes the Word report ``report.docx`` (flow diagram, the
        paper's tables as Word tables, figures, methods with the CONSORT-Outcomes statements; captions numbered).
    validation : a :class:`~massage_outcomes.ValidationReport` to show in the report.
    problems, methods : dicts filled by ``summary_tables`` (the methods section is built from ``methods``).
    progress : called with the name of each step as it starts (the command line's progress bar).
    disposition_options : keyword options of :func:`~massage_outcomes.disposition` for the flow diagram
        (``screened``, ``excluded``, ``events``, ...).
    sensitivity : the sensitivity analyses in one tidy frame (e.g.
        :func:`~massage_outcomes.sensitivity.sensitivity_analyses`): written as the ``sensitivity`` table and
        shown beside the primary analysis in the paper's sensitivity table.
    estimand : a :class:`~massage_outcomes.Estimand`: its five attributes open the paper's sections.

    Returns
    -------
    dict
        ``html`` (path of report.html), ``tables`` (list of table paths), ``figures`` (list of PNG paths) and
        ``docx`` (path of report.docx, or None).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    problems = {} if problems is None else problems
    methods = {} if methods is None else methods
    tick = progress or (lambda _name: None)
    if tables is None:
        tables = _tables.summary_tables(ds, problems=problems, methods=methods, progress=progress,
                                        **dict(summary_options or {}))
    if sensitivity is not None:
        tables = {**tables, "sensitivity": sensitivity}
    want_docx = "docx" in formats
    tick("writing tables")
    table_paths = _tables.write_tables(tables, out / "tables", formats=[f for f in formats if f != "docx"] or ["csv"])
    tick("drawing figures")
    fig_dir = out / "figures"
    fig_dir.mkdir(exist_ok=True)
    paper = _manuscript_parts(ds, tables, fig_dir, problems=problems, methods=methods, primary_visit=primary_visit,
                              summary_options={**dict(options or {}), **dict(summary_options or {})},
                              disposition_options=disposition_options)
    figs = {**paper["figures"], **make_figures(ds, tables, problems=problems, primary_visit=primary_visit)}
    pngs: dict[str, tuple[bytes, str]] = {}
    fig_paths = list(paper["paths"])
    for name, (fig, caption) in figs.items():
        png = _fig_png(fig)
        path = fig_dir / f"{name}.png"
        if path not in fig_paths:  # the flow diagram is already saved at 300 dpi (with its SVG)
            path.write_bytes(png)
            fig_paths.append(path)
        pngs[name] = (png, caption)
    tick("writing report.html")
    try:
        visit = _tables.primary_visit(ds, primary_visit)
    except Exception:  # noqa: BLE001 - the tables' methods already say why there is none
        visit = None
    toc, paper_html = paper["html"]
    if estimand is not None:
        toc = [("estimand", "Estimand"), *toc]
        paper_html = ('<h2 id="estimand">Estimand (ICH E9(R1))</h2>'
                      + _tables.to_html(estimand.to_frame(), digits=2) + paper_html)
    page = render_html(ds, tables, pngs, title=title, source=source, validation=validation, methods=methods,
                       problems=problems, options=options, paper_html=paper_html, paper_toc=toc,
                       key_results=key_results(tables, primary_visit=visit))
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    docx_path = None
    if want_docx:
        from massage_outcomes import manuscript

        docx_path = manuscript.write_docx(out / "report.docx", ds, tables, pngs, paper=paper["tables"],
                                          reporting=paper["reporting"], methods=methods, problems=problems,
                                          options=options, title=title, source=source, display=_display,
                                          versions=package_versions(), summary=html.unescape(_dataset_summary(ds)),
                                          table_titles=TABLE_TITLES)
    return {"html": html_path, "tables": table_paths, "figures": fig_paths, "docx": docx_path}


def _manuscript_parts(ds: Any, tables: Mapping[str, pd.DataFrame], fig_dir: Path, *, problems: dict[str, str],
                      methods: Mapping[str, str], primary_visit: str | None,
                      summary_options: Mapping[str, Any] | None,
                      disposition_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The flow diagram (PNG and SVG), the CONSORT-Outcomes statements and the paper's tables; each guarded."""
    from massage_outcomes import consort, manuscript
    from massage_outcomes.consort_outcomes import consort_outcomes

    figures: dict[str, tuple[Figure, str]] = {}
    paths: list[Path] = []
    disp = None
    if "arm" in ds.subjects.columns and ds.subjects["arm"].notna().any():
        try:
            fig, caption, disp = manuscript.consort_figure(ds, primary_visit=primary_visit, options=disposition_options)
            saved = consort.save(fig, fig_dir / "consort")
            paths += [saved["png"], saved["svg"]]
            figures["consort"] = (fig, caption)
        except Exception as exc:  # noqa: BLE001 - the flow diagram must not sink the report
            problems["figure consort"] = f"{type(exc).__name__}: {exc}"
    reporting = None
    opts = dict(summary_options or {})
    try:
        reporting = consort_outcomes(ds, primary_visit=primary_visit, disposition=disp,
                                     instruments=opts.get("instruments"),
                                     thresholds=opts.get("thresholds", ("mcid", 0.3, 0.5)),
                                     adjust=opts.get("adjust", "holm") or "none", level=opts.get("level", 0.95))
    except Exception as exc:  # noqa: BLE001
        problems["CONSORT-Outcomes"] = f"{type(exc).__name__}: {exc}"
    try:
        paper = manuscript.paper_tables(ds, tables, methods=methods, reporting=reporting)
    except Exception as exc:  # noqa: BLE001
        problems["paper tables"] = f"{type(exc).__name__}: {exc}"
        paper = []
    return {"figures": figures, "paths": paths, "reporting": reporting, "tables": paper,
            "html": manuscript.html_sections(paper, reporting)}


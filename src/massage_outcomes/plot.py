"""Figures for massage-outcomes results: forest, trajectory, estimation, responder and heatmap plots.

Every function takes the tidy result frames the analyses return (or a fit object that can produce them), draws
on a Matplotlib ``Axes`` (a new figure when ``ax`` is not given) and returns that ``Axes`` (``estimation``
returns the ``Figure``, which has two panels). Nothing here computes a statistic: estimates and intervals come
from :mod:`massage_outcomes.effects` and :mod:`massage_outcomes.trajectories`; the plots only place them.

The look is shared: the Okabe–Ito colour-blind-safe palette (:data:`OKABE_ITO`), a fixed colour per arm or
intent wherever the name is known (:func:`colours_for`), axis labels that name the instrument, its range, unit
and direction (:func:`instrument_label`), and "favours …" labels worked out from the instrument's direction.

Examples
--------
>>> import pandas as pd
>>> from massage_outcomes import plot
>>> table = pd.DataFrame({"label": ["clinic A", "clinic B"], "estimate": [-0.4, -0.2],
...                       "ci_low": [-0.8, -0.5], "ci_high": [0.0, 0.1], "weight": [40.0, 60.0]})
>>> ax = plot.forest(table, pooled={"estimate": -0.28, "ci_low": -0.5, "ci_high": -0.06},
...                  instrument="rmdq", compare=("therapeutic", "relaxation"))
>>> [t.get_text() for t in ax.get_yticklabels()]
['clinic A', 'clinic B', 'Pooled']
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import matplotlib as mpl
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from massage_outcomes import instruments as _instruments
from massage_outcomes.consort import consort  # the CONSORT flow diagram (lane F): mo.plot.consort
from massage_outcomes.errors import ArgumentError
from massage_outcomes.frames import analysis_frame

__all__ = [
    "consort",
    "OKABE_ITO",
    "PALETTE",
    "KNOWN_COLOURS",
    "colours_for",
    "order_levels",
    "instrument_label",
    "favours_labels",
    "theme",
    "forest",
    "trajectories",
    "estimation",
    "responders",
    "heatmap",
    "save",
    "figure_of",
]

#: The Okabe–Ito palette (Okabe & Ito 2008), distinguishable under the common colour-vision deficiencies.
OKABE_ITO: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "bluish_green": "#009E73",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "sky_blue": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
#: Colours in the order they are handed out to groups without a fixed colour.
PALETTE: tuple[str, ...] = tuple(OKABE_ITO[k] for k in (
    "blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "yellow", "black"))
#: Fixed colours for arms, intents and techniques, so one arm has one colour in every figure.
KNOWN_COLOURS: dict[str, str] = {
    "therapeutic": OKABE_ITO["blue"],
    "structural": OKABE_ITO["blue"],
    "relaxation": OKABE_ITO["orange"],
    "usual_care": "#7A7A7A",
    "control": "#7A7A7A",
    "deep_tissue": OKABE_ITO["blue"],
    "myofascial_release": OKABE_ITO["bluish_green"],
    "trigger_point": OKABE_ITO["vermillion"],
    "sports": OKABE_ITO["reddish_purple"],
    "swedish": OKABE_ITO["orange"],
    "none": "#7A7A7A",
    "sham": OKABE_ITO["sky_blue"],
}
_INK = "#222222"
_GRID = "#E5E5E5"
_RC: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "axes.edgecolor": _INK,
    "axes.labelcolor": _INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": _GRID,
    "grid.linewidth": 0.8,
    "xtick.color": _INK,
    "ytick.color": _INK,
    "legend.frameon": False,
    "axes.prop_cycle": cycler(color=list(PALETTE)),
}


@contextmanager
def theme() -> Iterator[None]:
    """Context manager applying the package's plot style (palette, fonts, light grid, no top/right spines).

    Every plotting function uses it; call it yourself to give your own figures the same look.

    Examples
    --------
    >>> from massage_outcomes import plot
    >>> with plot.theme():
    ...     pass
    """
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield


def colours_for(levels: Sequence[Any]) -> dict[Any, str]:
    """A colour per level: the fixed colour of a known arm, intent or technique, else the next palette colour.

    Examples
    --------
    >>> from massage_outcomes.plot import colours_for
    >>> colours_for(["therapeutic", "relaxation", "usual_care"])["relaxation"]
    '#E69F00'
    """
    used = {KNOWN_COLOURS[str(lv)] for lv in levels if str(lv) in KNOWN_COLOURS}
    spare = iter([c for c in PALETTE if c not in used] + list(PALETTE))
    out: dict[Any, str] = {}
    for lv in levels:
        out[lv] = KNOWN_COLOURS.get(str(lv)) or next(spare)
    return out


_LEVEL_RANK = {"therapeutic": 0, "structural": 0, "massage": 0, "relaxation": 1, "swedish": 1, "sham": 2,
               "control": 3, "usual_care": 3, "none": 3, "wait_list": 3}


def order_levels(levels: Sequence[Any]) -> list[Any]:
    """Known arms/intents first in a fixed order (therapeutic, relaxation, sham, control), others as given.

    Examples
    --------
    >>> from massage_outcomes.plot import order_levels
    >>> order_levels(["relaxation", "therapeutic", "usual_care"])
    ['therapeutic', 'relaxation', 'usual_care']
    """
    given = list(levels)
    if not any(str(lv) in _LEVEL_RANK for lv in given):
        return given
    return sorted(given, key=lambda lv: (_LEVEL_RANK.get(str(lv), 2.5), given.index(lv)))


def _plain(text: Any) -> str:
    """Data-derived text as matplotlib shows it literally: a ``$`` would start mathtext (and can fail the draw)."""
    return re.sub(r"(?<!\\)\$", r"\\$", str(text))  # once: text escaped already stays as it is


def _pretty(level: Any) -> str:
    return _plain(level).replace("_", " ")


def instrument_label(instrument: str | _instruments.Instrument | None, *, what: str = "score") -> str:
    """An axis label naming the instrument, its range, unit and direction.

    Parameters
    ----------
    instrument : registered key or :class:`~massage_outcomes.instruments.Instrument`; None gives ``what``.
    what : "score", "change" (follow-up − baseline), "improvement" or any other noun for the quantity shown.

    Examples
    --------
    >>> from massage_outcomes.plot import instrument_label
    >>> instrument_label("rmdq", what="change")
    'Change in Roland-Morris Disability Questionnaire\\n(0–24 points, lower is better)'
    """
    if instrument is None:
        return what
    inst = _instruments.get(instrument)
    arrow = "lower is better" if inst.direction == "lower" else "higher is better"
    if what == "score":
        head = inst.name
    elif what == "change":
        head = f"Change in {inst.name}"
    elif what == "improvement":
        head = f"Improvement in {inst.name}"
    else:
        head = f"{what} ({inst.name})"
    return f"{head}\n({inst.min:g}–{inst.max:g} {inst.unit}, {arrow})"


def favours_labels(
    *,
    instrument: str | _instruments.Instrument | None = None,
    compare: tuple[str, str] | None = None,
    better: Literal["lower", "higher"] | None = None,
) -> tuple[str, str]:
    """The words for the left and right of a forest plot's null line.

    A between-group difference ``a − b`` on a lower-is-better instrument favours ``a`` when negative. ``better``
    overrides the instrument (use "higher" for a risk ratio of responders, "lower" for published SMDs where
    negative favours the treatment).

    Examples
    --------
    >>> from massage_outcomes.plot import favours_labels
    >>> favours_labels(instrument="rmdq", compare=("therapeutic", "relaxation"))
    ('favours therapeutic', 'favours relaxation')
    >>> favours_labels(better="higher", compare=("massage", "control"))
    ('favours control', 'favours massage')
    """
    a, b = compare if compare is not None else ("first", "second")
    a, b = _pretty(a), _pretty(b)
    if better is None:
        if instrument is None:
            return (f"favours {a}" if compare else "", f"favours {b}" if compare else "")
        better = _instruments.get(instrument).direction
    if better == "lower":
        return f"favours {a}", f"favours {b}"
    return f"favours {b}", f"favours {a}"


def _new_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _fig, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ArgumentError(
            f"{what}: the table has no column(s) {missing}; it has {list(frame.columns)}. "
            "Pass the column names as keyword arguments (e.g. estimate=..., ci_low=...)."
        )


def _num(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s  # never "-0.00"


def _fmt_ci(est: float, lo: float, hi: float, digits: int) -> str:
    if not np.isfinite(est):
        return "n/a"
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{_num(est, digits)} [{_num(lo, digits)}, {_num(hi, digits)}]"
    return _num(est, digits)


def _as_frame(obj: pd.DataFrame | pd.Series | Mapping[str, Any] | None) -> pd.DataFrame | None:
    if obj is None:
        return None
    if isinstance(obj, pd.DataFrame):
        return obj.reset_index(drop=True)
    if isinstance(obj, pd.Series):
        return obj.to_frame().T.reset_index(drop=True)
    return pd.DataFrame([dict(obj)])


# --------------------------------------------------------------------------------------------------- forest
def forest(
    table: pd.DataFrame,
    *,
    label: str | Sequence[str] = "label",
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    weight: str | None = "weight",
    group: str | None = None,
    pooled: pd.DataFrame | pd.Series | Mapping[str, Any] | None = None,
    pooled_label: str = "Pooled",
    instrument: str | _instruments.Instrument | None = None,
    compare: tuple[str, str] | None = None,
    better: Literal["lower", "higher"] | None = None,
    favours: tuple[str, str] | None = None,
    null: float | None = None,
    log: bool = False,
    xlabel: str | None = None,
    title: str | None = None,
    digits: int = 2,
    annotate: bool = True,
    ax: Axes | None = None,
    interval: str | None = None,
) -> Axes:
    """Forest plot of effect estimates with confidence intervals, optional pooled diamond(s).

    Parameters
    ----------
    table : one row per study, clinic or group (an :func:`~massage_outcomes.effect_sizes` table, a published
        evidence table, or the per-study part of a pooling result).
    label : column (or columns, joined with " · ") naming each row; when absent, the ``by`` columns are used.
    estimate, ci_low, ci_high : column names of the estimate and its interval.
    weight : column giving each row's weight (square area is proportional to it); None or absent gives equal squares.
    group : column splitting rows into blocks with a heading each (e.g. "condition"); a pooled row with the same
        value in ``group`` is drawn as that block's diamond.
    pooled : pooled estimate(s) from :func:`~massage_outcomes.pool` (columns estimate, ci_low, ci_high; optional
        pi_low/pi_high for a prediction interval, drawn as a thin line through the diamond). With ``log=True`` a
        pool of ratios is drawn from its ``exp_*`` columns (pool() estimates ratios on the log scale).
    instrument, compare, better : give the "favours …" words under the axis (see :func:`favours_labels`).
    favours : (left, right) texts to print under the axis verbatim instead (e.g. ("less pain", "more pain")).
    interval : what the bars are (e.g. "95% CI (unadjusted)", "95% simultaneous CI (Tukey)":
        :func:`massage_outcomes.narrative.interval_label`), named in the x label and above the printed intervals.
    null : position of the no-effect line (0 for differences; 1 when ``log=True`` for ratios).
    log : log-scaled axis (risk ratios, odds ratios).
    digits : decimals of the "estimate [low, high]" text column.

    Returns
    -------
    matplotlib.axes.Axes
        Intervals are Line2D artists with gid "ci"; squares gid "point"; diamonds are Polygons with gid "pooled".

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes import plot
    >>> t = pd.DataFrame({"label": ["A", "B", "C"], "estimate": [1.8, 2.2, 1.2],
    ...                   "ci_low": [1.0, 1.2, 0.7], "ci_high": [3.2, 4.0, 2.0]})
    >>> ax = plot.forest(t, log=True, better="higher", compare=("massage", "control"), xlabel="Risk ratio")
    >>> sum(line.get_gid() == "ci" for line in ax.lines)
    3
    """
    _require(table, [estimate, ci_low, ci_high], "forest")
    data = table.reset_index(drop=True).copy()
    labels_cols = [label] if isinstance(label, str) else list(label)
    if all(c in data.columns for c in labels_cols):
        names = data[labels_cols].astype(str).agg(" · ".join, axis=1).map(_pretty)
    else:
        names = pd.Series([f"row {i + 1}" for i in range(len(data))])
    null_value = (1.0 if log else 0.0) if null is None else float(null)
    cols = (estimate, ci_low, ci_high)
    pooled_df = _forest_pooled(pooled, cols, log=log)
    entries = _forest_entries(data, pooled_df, group)
    n = len(entries)
    longest = max([len(str(x)) for x in names] + [len(pooled_label), 10])
    with theme():
        ax = _new_ax(ax, (5.5 + 0.075 * longest, 1.4 + 0.32 * n))
        w = None
        if weight is not None and weight in data.columns:
            w = pd.to_numeric(data[weight], errors="coerce").to_numpy(dtype=float)
            wmax = np.nanmax(w) if np.isfinite(w).any() else np.nan
            w = np.where(np.isfinite(w) & (wmax > 0), w / wmax, 0.5) if np.isfinite(wmax) else None
        ticks, ticklabels, texts = _draw_forest_entries(ax, entries, data, names, w, cols, indent=group is not None,
                                                        pooled_label=pooled_label, digits=digits)
        _forest_axes(ax, entries, ticks, ticklabels, null_value=null_value, log=log)
        if annotate:
            _forest_texts(ax, texts, interval)
        left, right = favours if favours is not None else favours_labels(instrument=instrument, compare=compare,
                                                                          better=better)
        label_text = xlabel if xlabel is not None else ("Ratio" if log else "Difference")
        if instrument is not None and xlabel is None:
            inst = _instruments.get(instrument)
            label_text = f"{label_text} in {inst.name} ({inst.unit})" if not log else label_text
        if interval:
            label_text = f"{label_text}; bars: {interval}"
        ax.set_xlabel(label_text)
        if left or right:
            for text, ha, dx in ((f"← {left}", "right", -4), (f"{right} →", "left", 4)):
                ax.annotate(text, xy=(null_value, 0.0), xycoords=("data", "axes fraction"), xytext=(dx, -22),
                            textcoords="offset points", ha=ha, va="top", fontsize=8.5, color="#555555",
                            gid="favours", annotation_clip=False)
            ax.xaxis.labelpad = 20
        if title:
            ax.set_title(title, loc="left", pad=18 if (annotate and interval) else 6)
    return ax


def _forest_pooled(pooled: Any, cols: tuple[str, str, str], *, log: bool) -> pd.DataFrame | None:
    """The pooled rows as a frame on the axis' scale (a pool() of ratios is drawn from its exp_* columns)."""
    estimate, ci_low, ci_high = cols
    pooled_df = _as_frame(pooled)
    if pooled_df is not None and log and "exp_estimate" in pooled_df.columns \
            and pooled_df["exp_estimate"].notna().all():
        # a pool() of ratios is on the log scale; its exp_* columns are on the ratio scale this axis shows
        pooled_df = pooled_df.assign(**{
            estimate: pooled_df["exp_estimate"], ci_low: pooled_df["exp_ci_low"], ci_high: pooled_df["exp_ci_high"],
            **({"pi_low": pooled_df["exp_pi_low"], "pi_high": pooled_df["exp_pi_high"]}
               if "exp_pi_low" in pooled_df.columns else {})})
    if pooled_df is not None:
        _require(pooled_df, list(cols), "forest (pooled)")
    return pooled_df


def _forest_entries(data: pd.DataFrame, pooled_df: pd.DataFrame | None, group: str | None) -> list[tuple[str, Any]]:
    """The forest's lines from the top, as (kind, payload): each block an optional heading, its rows, and its
    pooled diamond(s); pooled rows that name no block come last."""
    entries: list[tuple[str, Any]] = []
    blocks = [(None, data.index)] if group is None else [
        (g, idx) for g, idx in data.groupby(group, sort=False, observed=True).groups.items()
    ]
    for g, idx in blocks:
        if group is not None:
            entries.append(("heading", _pretty(g)))
        for i in idx:
            entries.append(("row", i))
        if pooled_df is not None:
            if group is not None and group in pooled_df.columns:
                for _, prow in pooled_df[pooled_df[group].astype(str) == str(g)].iterrows():
                    entries.append(("pooled", prow))
            elif group is None:
                for _, prow in pooled_df.iterrows():
                    entries.append(("pooled", prow))
    if group is not None and pooled_df is not None and group not in pooled_df.columns:
        for _, prow in pooled_df.iterrows():
            entries.append(("pooled", prow))
    return entries


def _draw_forest_entries(ax: Axes, entries: list[tuple[str, Any]], data: pd.DataFrame, names: pd.Series,
                         w: np.ndarray | None, cols: tuple[str, str, str], *, indent: bool, pooled_label: str,
                         digits: int) -> tuple[list[float], list[str], list[tuple[float, str]]]:
    """Squares with intervals for the rows, diamonds for the pooled rows; the y ticks, their labels and the
    interval texts."""
    estimate, ci_low, ci_high = cols
    ys = np.arange(len(entries))[::-1].astype(float)
    ticks: list[float] = []
    ticklabels: list[str] = []
    texts: list[tuple[float, str]] = []
    for y, (kind, payload) in zip(ys, entries, strict=True):
        ticks.append(y)
        if kind == "heading":
            ticklabels.append(payload)
            continue
        if kind == "row":
            row = data.loc[payload]
            est, lo, hi = (float(pd.to_numeric(row[c], errors="coerce")) for c in cols)
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [y, y], color=_INK, lw=1.2, gid="ci", solid_capstyle="butt")
            size = 4 + 8 * np.sqrt(w[payload]) if w is not None else 7
            if np.isfinite(est):
                ax.plot([est], [y], marker="s", ms=size, color=OKABE_ITO["blue"], mec=_INK, mew=0.5,
                        ls="none", gid="point")
            ticklabels.append("  " + names[payload] if indent else names[payload])
        else:  # pooled diamond
            prow = payload
            est, lo, hi = (float(prow[c]) for c in (estimate, ci_low, ci_high))
            if "pi_low" in prow.index and "pi_high" in prow.index and np.isfinite(prow["pi_low"]) \
                    and np.isfinite(prow["pi_high"]):
                ax.plot([float(prow["pi_low"]), float(prow["pi_high"])], [y, y], color=OKABE_ITO["vermillion"],
                        lw=1.0, gid="prediction")
            ax.add_patch(Polygon([(lo, y), (est, y + 0.32), (hi, y), (est, y - 0.32)], closed=True,
                                 facecolor=OKABE_ITO["vermillion"], edgecolor=_INK, lw=0.6, gid="pooled", zorder=3))
            own = "label" in prow.index and isinstance(prow["label"], str) and prow["label"]
            ticklabels.append(prow["label"] if own else pooled_label)
        texts.append((y, _fmt_ci(est, lo, hi, digits)))
    return ticks, ticklabels, texts


def _forest_axes(ax: Axes, entries: list[tuple[str, Any]], ticks: list[float], ticklabels: list[str], *,
                 null_value: float, log: bool) -> None:
    """The no-effect line, the x scale, and the y labels (headings and pooled rows in bold)."""
    ax.axvline(null_value, color=_INK, lw=0.8, ls="--", zorder=0)
    if log:
        ax.set_xscale("log")
        lo_x, hi_x = ax.get_xlim()
        nice = [v for v in (0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20) if lo_x <= v <= hi_x]
        ax.xaxis.set_major_locator(mticker.FixedLocator(nice))
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    else:
        ax.margins(x=0.08)
    ax.set_yticks(ticks, [_plain(t) for t in ticklabels])
    for tick, (kind, _p) in zip(ax.get_yticklabels(), entries, strict=True):
        if kind in ("heading", "pooled"):
            tick.set_fontweight("bold")
    ax.set_ylim(-0.8, len(entries) - 0.2)
    ax.grid(axis="y", visible=False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)


def _forest_texts(ax: Axes, texts: list[tuple[float, str]], interval: str | None) -> None:
    """The printed "estimate [low, high]" column right of the axes, headed by the interval's name."""
    for y, text in texts:
        ax.annotate(text, xy=(1.02, y), xycoords=("axes fraction", "data"), va="center", ha="left",
                    fontsize=8.5, color=_INK, annotation_clip=False, gid="ci_text")
    if interval:
        # above the column of printed intervals; the title moves up to make room (see forest)
        ax.annotate(f"estimate [{interval}]", xy=(1.02, 1.0), xycoords="axes fraction", xytext=(0, 3),
                    textcoords="offset points", va="bottom", ha="left", fontsize=8, color="#555555",
                    annotation_clip=False, gid="ci_heading")


# ----------------------------------------------------------------------------------------------- trajectories
def _emmeans_from_fit(fit: Any, at: Mapping[str, Any] | None) -> tuple[pd.DataFrame, str, str]:
    group, time = getattr(fit, "group", "arm"), getattr(fit, "time", "week")
    if at is None and getattr(fit, "time_kind", "") == "continuous" and hasattr(fit, "population_curves"):
        curves = fit.population_curves()  # a smooth curve rather than means at the average time
        return curves.rename(columns={"group": group, "time": time}), group, time
    frame = fit.emmeans(at=at) if at is not None else fit.emmeans()
    if not isinstance(frame, pd.DataFrame):
        frame = getattr(frame, "table", None) or frame.frame
    return frame, getattr(fit, "group", "arm"), getattr(fit, "time", "week")


def _first_present(frame: pd.DataFrame, candidates: Sequence[str], what: str) -> str:
    for c in candidates:
        if c in frame.columns:
            return c
    raise ArgumentError(f"trajectories: no {what} column among {list(candidates)} in {list(frame.columns)}; "
                        f"pass {what}=<column name>")


def trajectories(
    means: pd.DataFrame | Any,
    *,
    group: str | None = None,
    time: str | None = None,
    estimate: str | None = None,
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    at: Mapping[str, Any] | None = None,
    individual: pd.DataFrame | None = None,
    individual_time: str | None = None,
    value: str = "value",
    subject: Sequence[str] | str = ("study", "subject"),
    max_individuals: int = 150,
    individual_alpha: float = 0.12,
    seed: int = 0,
    instrument: str | _instruments.Instrument | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Marginal means per group over time with CI bands, faint individual trajectories beneath.

    Parameters
    ----------
    means : an emmeans-like frame (one row per group × time with estimate, ci_low, ci_high) or a fitted
        trajectory/MMRM model: its ``.emmeans(at=at)`` is drawn (for a continuous time without ``at``, its
        ``.population_curves()``), with the fit's ``group`` and ``time``.
    group, time, estimate : column names (defaults: the fit's, else "group"/"arm" and "time"/"week"/"visit";
        estimate "estimate" or "emmean").
    individual : an analysis frame (``ds.analysis_frame(instrument)``) whose subjects are drawn as thin lines
        (a random subset of at most ``max_individuals`` per group, chosen with ``seed``).
    individual_time : the time column in ``individual`` (default: ``time``).
    individual_alpha : opacity of the individual lines (raise it for a few smooth predicted curves).
    instrument : labels the y axis with the instrument's name, range, unit and direction.

    Returns
    -------
    matplotlib.axes.Axes
        One Line2D per group with gid "mean" (label = group), one band per group (gid "band"), one
        LineCollection per group of individual trajectories (gid "individual").

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes import plot
    >>> em = pd.DataFrame({"arm": ["a", "a", "b", "b"], "week": [0, 10, 0, 10], "estimate": [12, 7, 12, 9],
    ...                    "ci_low": [11, 6, 11, 8], "ci_high": [13, 8, 13, 10]})
    >>> ax = plot.trajectories(em, group="arm", time="week", instrument="rmdq")
    >>> [l.get_label() for l in ax.lines if l.get_gid() == "mean"]
    ['a', 'b']
    """
    if isinstance(means, pd.DataFrame):
        frame = means
        fit_group = fit_time = None
    else:
        frame, fit_group, fit_time = _emmeans_from_fit(means, at)
    group = group or fit_group or _first_present(frame, ["group", "arm", "intent"], "group")
    time = time or fit_time or _first_present(frame, ["time", "week", "visit", "day"], "time")
    estimate = estimate or _first_present(frame, ["estimate", "emmean", "mean"], "estimate")
    _require(frame, [group, time, estimate, ci_low, ci_high], "trajectories")
    frame = frame.copy()
    levels = list(pd.unique(frame[group].dropna()))
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        levels = [lv for lv in frame[group].cat.categories if lv in set(levels)]
    levels = order_levels(levels)
    colours = colours_for(levels)

    numeric_time = pd.api.types.is_numeric_dtype(frame[time])
    if numeric_time:
        def to_x(v: pd.Series) -> np.ndarray:
            return pd.to_numeric(v, errors="coerce").to_numpy(dtype=float)
        order: list[Any] = []
    else:
        if isinstance(frame[time].dtype, pd.CategoricalDtype):
            order = [c for c in frame[time].cat.categories if c in set(frame[time].astype(object))]
        else:
            order = list(pd.unique(frame[time].dropna()))
        pos = {str(k): i for i, k in enumerate(order)}

        def to_x(v: pd.Series) -> np.ndarray:
            return v.astype(object).map(lambda s: pos.get(str(s), np.nan)).to_numpy(dtype=float)

    with theme():
        ax = _new_ax(ax, (7.0, 4.5))
        if individual is not None:
            itime = individual_time or time
            subj = [subject] if isinstance(subject, str) else [s for s in subject if s in individual.columns]
            _require(individual, [group, itime, value, *subj], "trajectories (individual)")
            rng = np.random.default_rng(seed)
            ind = individual[[group, itime, value, *subj]].dropna(subset=[value, itime])
            for lv in levels:
                sub = ind[ind[group].astype(object) == lv]
                keys = sub[subj].drop_duplicates()
                if len(keys) > max_individuals:
                    keys = keys.iloc[np.sort(rng.choice(len(keys), max_individuals, replace=False))]
                sub = sub.merge(keys, on=subj).assign(_x=lambda d: to_x(d[itime]))
                # one sort puts each participant's points together in time order; split at subject boundaries
                sub = sub.sort_values([*subj, "_x"], kind="stable")
                codes = sub.groupby(subj, sort=False, observed=True).ngroup().to_numpy()
                pts = np.column_stack([sub["_x"].to_numpy(dtype=float), sub[value].to_numpy(dtype=float)])
                keep = np.isfinite(pts).all(axis=1) & (codes >= 0)
                pts, codes = pts[keep], codes[keep]
                segs = [seg for seg in np.split(pts, np.flatnonzero(np.diff(codes)) + 1) if len(seg) >= 2]
                if segs:
                    ax.add_collection(LineCollection(segs, colors=colours[lv], linewidths=0.5, alpha=individual_alpha,
                                                     gid="individual", zorder=1))
        for lv in levels:
            sub = frame[frame[group].astype(object) == lv]
            xs = to_x(sub[time])
            o = np.argsort(xs, kind="stable")
            xs = xs[o]
            est = pd.to_numeric(sub[estimate]).to_numpy(dtype=float)[o]
            lo = pd.to_numeric(sub[ci_low]).to_numpy(dtype=float)[o]
            hi = pd.to_numeric(sub[ci_high]).to_numpy(dtype=float)[o]
            ax.fill_between(xs, lo, hi, color=colours[lv], alpha=0.2, lw=0, gid="band", zorder=2)
            ax.plot(xs, est, marker="o", ms=4, lw=2, color=colours[lv], label=_pretty(lv), gid="mean", zorder=3)
            # matplotlib keeps the raw label for get_label(); store the level itself for tests/legends
            ax.lines[-1].set_label(str(lv))
        if not numeric_time:
            ax.set_xticks(range(len(order)), [_pretty(o) for o in order])
        ax.autoscale_view()
        ax.set_xlabel(xlabel or ("Weeks since baseline" if time == "week" else
                                 "Days since baseline" if time == "day" else _pretty(time).capitalize()))
        if ylabel is None:
            ylabel = ("Marginal mean, " + instrument_label(instrument)) if instrument is not None else "Marginal mean"
        ax.set_ylabel(ylabel)
        handles = [h for h in ax.lines if h.get_gid() == "mean"]
        ax.legend(handles, [_pretty(h.get_label()) for h in handles], title=_pretty(group), loc="best")
        if title:
            ax.set_title(title, loc="left")
    return ax


# ------------------------------------------------------------------------------------------------ estimation
def _draws_of(draws: Any) -> np.ndarray:
    for attr in ("draws", "bootstrap_draws", "boot_draws", "boot"):
        if hasattr(draws, attr) and getattr(draws, attr) is not None:
            draws = getattr(draws, attr)
            break
    arr = np.asarray(draws, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def estimation(
    data: Any,
    *,
    group: str,
    value: str = "value",
    compare: tuple[str, str],
    draws: Any = None,
    end: str | None = None,
    n_resamples: int = 2000,
    estimate: float | None = None,
    ci: tuple[float, float] | None = None,
    effect_label: str | None = None,
    instrument: str | _instruments.Instrument | None = None,
    what: str = "change",
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """Estimation plot: raw values per group beside the bootstrap distribution of their difference.

    The Gardner–Altman layout: the left panel shows every observation of the two groups (jittered, with each
    group's mean as a bar), the right panel the bootstrap distribution of the effect ``a − b`` (half violin),
    its point estimate and confidence interval, and the zero line.

    Parameters
    ----------
    data : one row per subject (e.g. the rows of an analysis frame at the primary visit), or a
        :class:`~massage_outcomes.Dataset` / analysis frame together with ``instrument`` and ``end``: then the
        rows at visit ``end`` are plotted and, when ``draws`` is None, the effect, its BCa interval and the draws
        are requested from :func:`~massage_outcomes.effect_sizes` (mean difference of ``value``, which must be
        "change" or "value", seeded with ``seed``).
    group, value : column of group labels and of the plotted values (e.g. "arm" and "change").
    compare : (a, b); the effect is ``a − b``.
    draws : the bootstrap draws of the effect as returned by the effects module (an array, or a result object with
        a ``draws`` attribute, e.g. ``effect_size(x, y, ci="bca", return_draws=True)``).
    end, n_resamples : the visit and number of resamples when the draws are requested here.
    estimate, ci : the effect and its interval (default: the result object's ``estimate``/``ci_low``/``ci_high``).
    effect_label : y label of the right panel (default "Difference (a − b)" in the instrument's unit).
    what : quantity on the left axis, for the label ("change", "score", "improvement").

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0]`` holds the raw data (one PathCollection per group, gid "raw"), ``fig.axes[1]`` the
        difference (violin gid "draws", interval Line2D gid "ci", point gid "effect").

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from massage_outcomes import plot
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"arm": ["a"] * 30 + ["b"] * 30, "change": np.r_[rng.normal(-4, 3, 30), rng.normal(-2, 3, 30)]})
    >>> fig = plot.estimation(d, group="arm", value="change", compare=("a", "b"),
    ...                       draws=rng.normal(-2, 0.7, 1000), estimate=-2.0, ci=(-3.4, -0.6), instrument="rmdq")
    >>> len(fig.axes)
    2
    """
    a, b = compare
    if hasattr(data, "analysis_frame") or (draws is None and isinstance(data, pd.DataFrame)
                                           and "instrument" in data.columns):
        if instrument is None or end is None:
            raise ArgumentError("estimation: with a Dataset or analysis frame, pass instrument=... and end=<visit>")
        frame = analysis_frame(data, str(getattr(instrument, "key", instrument)))
        if draws is None:
            from massage_outcomes.effects import effect_sizes

            row, boot = effect_sizes(frame, instrument=str(getattr(instrument, "key", instrument)),
                                     compare=(group, a, b), on="change" if value == "change" else "end",
                                     end=end, measure="mean_diff", ci="bca", n_resamples=n_resamples, rng=seed,
                                     return_draws=True)
            draws = np.asarray(boot)[:, 0]
            estimate = float(row["estimate"].iloc[0]) if estimate is None else estimate
            ci = (float(row["ci_low"].iloc[0]), float(row["ci_high"].iloc[0])) if ci is None else ci
        visit = frame["visit"].astype(object) if "visit" in frame.columns else pd.Series(np.nan, index=frame.index)
        data = frame[(visit == end) & frame[group].astype(object).isin([a, b])].dropna(subset=[value])
    if draws is None:
        raise ArgumentError("estimation: pass the bootstrap draws (draws=...) or a Dataset with instrument and end")
    _require(data, [group, value], "estimation")
    arr = _draws_of(draws)
    if estimate is None:
        estimate = float(getattr(draws, "estimate", np.nan))
    if ci is None:
        ci = (float(getattr(draws, "ci_low", np.nan)), float(getattr(draws, "ci_high", np.nan)))
    colours = colours_for([a, b])
    rng = np.random.default_rng(seed)
    with theme():
        fig, (ax_raw, ax_diff) = plt.subplots(1, 2, figsize=(7.5, 4.5), width_ratios=[2, 1.2],
                                              layout="constrained")
        for i, lv in enumerate((a, b)):
            vals = pd.to_numeric(data.loc[data[group].astype(object) == lv, value], errors="coerce").dropna()
            vals = vals.to_numpy(dtype=float)
            jitter = rng.uniform(-0.18, 0.18, size=len(vals))
            ax_raw.scatter(i + jitter, vals, s=12, color=colours[lv], alpha=0.6, edgecolors="none", gid="raw",
                           label=str(lv))
            if len(vals):
                ax_raw.plot([i - 0.28, i + 0.28], [vals.mean()] * 2, color=_INK, lw=2, gid="group_mean")
        ax_raw.set_xticks([0, 1], [f"{_pretty(a)}\n(n={int((data[group].astype(object) == a).sum())})",
                                   f"{_pretty(b)}\n(n={int((data[group].astype(object) == b).sum())})"])
        ax_raw.set_xlim(-0.6, 1.6)
        ax_raw.set_ylabel(instrument_label(instrument, what=what))
        ax_raw.grid(axis="x", visible=False)
        if len(arr) >= 2 and np.ptp(arr) > 0:
            parts = ax_diff.violinplot([arr], positions=[0], widths=0.9, showextrema=False, side="high")
            for body in parts["bodies"]:
                body.set_facecolor("#999999")
                body.set_alpha(0.5)
                body.set_gid("draws")
        lo, hi = ci
        if np.isfinite(lo) and np.isfinite(hi):
            ax_diff.plot([0, 0], [lo, hi], color=_INK, lw=2, gid="ci")
        if estimate is not None and np.isfinite(estimate):
            ax_diff.plot([0], [estimate], "o", color=_INK, ms=7, gid="effect")
        ax_diff.axhline(0, color=_INK, lw=0.8, ls="--")
        ax_diff.set_xlim(-0.5, 1.0)
        ax_diff.set_xticks([0], [f"{_pretty(a)}\nminus {_pretty(b)}"])
        ax_diff.grid(axis="x", visible=False)
        if effect_label is None:
            unit = f" ({_instruments.get(instrument).unit})" if instrument is not None else ""
            effect_label = f"Difference, {_pretty(a)} − {_pretty(b)}{unit}"
        ax_diff.set_ylabel(effect_label)
        if instrument is not None:
            left, right = favours_labels(instrument=instrument, compare=(a, b))
            ax_diff.annotate(f"↓ {left}\n↑ {right}", xy=(0.98, 0.02), xycoords="axes fraction", ha="right",
                             va="bottom", fontsize=8, color="#555555", gid="favours")
        if estimate is not None and np.isfinite(estimate):
            ax_diff.set_title(f"{_fmt_ci(estimate, lo, hi, 2)}", fontsize=9, fontweight="normal")
        if title:
            fig.suptitle(title, x=0.02, ha="left", fontweight="bold")
    return fig


# ------------------------------------------------------------------------------------------------ responders
def responders(
    table: pd.DataFrame,
    *,
    group: str = "arm",
    threshold: str = "threshold",
    rate: str = "rate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    percent: bool = True,
    instrument: str | _instruments.Instrument | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Responder rates with confidence intervals per arm, side by side at each threshold.

    Parameters
    ----------
    table : long table with one row per arm × threshold (rates as proportions in 0–1), e.g. the per-arm rates of
        :func:`~massage_outcomes.responders`.
    group, threshold, rate, ci_low, ci_high : column names.
    percent : show rates as percentages.

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar container per arm (its Line2D has gid "rate" and label = arm).

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes import plot
    >>> t = pd.DataFrame({"arm": ["a", "b"] * 2, "threshold": ["30%", "30%", "50%", "50%"],
    ...                   "rate": [0.6, 0.4, 0.4, 0.2], "ci_low": [0.5, 0.3, 0.3, 0.1], "ci_high": [0.7, 0.5, 0.5, 0.3]})
    >>> ax = plot.responders(t)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['30%', '50%']
    """
    _require(table, [group, threshold, rate, ci_low, ci_high], "responders")
    levels = order_levels(list(pd.unique(table[group].dropna())))
    thresholds = list(pd.unique(table[threshold].dropna()))
    colours = colours_for(levels)
    scale = 100.0 if percent else 1.0
    width = 0.8 / max(len(levels), 1)
    with theme():
        ax = _new_ax(ax, (max(5.0, 1.6 + 1.3 * len(thresholds)), 4.2))
        tpos = {str(t): i for i, t in enumerate(thresholds)}
        for j, lv in enumerate(levels):
            sub = table[table[group].astype(object) == lv]
            x = sub[threshold].astype(object).map(lambda t: tpos[str(t)]).to_numpy(dtype=float)
            x = x - 0.4 + width * (j + 0.5)
            r = pd.to_numeric(sub[rate]).to_numpy(dtype=float) * scale
            lo = pd.to_numeric(sub[ci_low]).to_numpy(dtype=float) * scale
            hi = pd.to_numeric(sub[ci_high]).to_numpy(dtype=float) * scale
            cont = ax.errorbar(x, r, yerr=np.vstack([r - lo, hi - r]), fmt="o", ms=6, capsize=3,
                               color=colours[lv], label=_pretty(lv))
            cont.lines[0].set_gid("rate")
        ax.set_xticks(range(len(thresholds)), [textwrap.fill(str(t), 22) for t in thresholds])
        ax.set_xlim(-0.6, len(thresholds) - 0.4)
        ax.set_ylim(0, 100 if percent else 1)
        ax.grid(axis="x", visible=False)
        ax.set_xlabel("Responder threshold" + (f" ({_instruments.get(instrument).name})" if instrument else ""))
        ax.set_ylabel("Responders (%)" if percent else "Proportion responding")
        ax.legend(title=_pretty(group), loc="upper right")
        if title:
            ax.set_title(title, loc="left")
    return ax


# --------------------------------------------------------------------------------------------------- heatmap
def heatmap(
    table: pd.DataFrame,
    *,
    row: str = "condition",
    col: str = "technique",
    value: str = "estimate",
    ci_low: str | None = "ci_low",
    ci_high: str | None = "ci_high",
    n: str | None = None,
    instrument: str | _instruments.Instrument | None = None,
    better: Literal["lower", "higher"] | None = None,
    value_label: str = "Effect size",
    digits: int = 2,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Condition × technique heatmap of effect sizes, annotated with each cell's estimate (and CI).

    The diverging colour map (PuOr, colour-blind safe) is centred on zero and oriented so that the colour of
    improvement is purple whatever the instrument's direction; empty cells are shown as "–" in light grey.

    Parameters
    ----------
    table : one row per condition × technique (e.g. ``effect_sizes(..., by=["condition", "technique"])``).
    row, col, value : columns for the rows, columns and colour of the heatmap.
    ci_low, ci_high : interval columns printed under each estimate when present (None to skip).
    n : column of group sizes to print in each cell (optional).
    instrument, better : direction of improvement of ``value`` (see :func:`favours_labels`).

    Returns
    -------
    matplotlib.axes.Axes
        The image has gid "heatmap"; every annotated cell is a Text with gid "cell".

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes import plot
    >>> t = pd.DataFrame({"condition": ["low_back_pain", "low_back_pain", "tmj"],
    ...                   "technique": ["swedish", "deep_tissue", "swedish"], "estimate": [-0.5, -0.8, -0.3]})
    >>> ax = plot.heatmap(t, ci_low=None, ci_high=None, instrument="pain_nrs")
    >>> sum(t.get_gid() == "cell" for t in ax.texts)
    3
    """
    _require(table, [row, col, value], "heatmap")
    rows = [r for r in (table[row].cat.categories if isinstance(table[row].dtype, pd.CategoricalDtype)
                        else pd.unique(table[row].dropna())) if r in set(table[row].astype(object))]
    cols = [c for c in (table[col].cat.categories if isinstance(table[col].dtype, pd.CategoricalDtype)
                        else pd.unique(table[col].dropna())) if c in set(table[col].astype(object))]
    grid = np.full((len(rows), len(cols)), np.nan)
    text = [["–"] * len(cols) for _ in rows]
    rpos = {str(r): i for i, r in enumerate(rows)}
    cpos = {str(c): j for j, c in enumerate(cols)}
    for _, rec in table.iterrows():
        i, j = rpos.get(str(rec[row])), cpos.get(str(rec[col]))
        if i is None or j is None:
            continue
        est = float(pd.to_numeric(rec[value], errors="coerce"))
        grid[i, j] = est
        s = f"{est:.{digits}f}" if np.isfinite(est) else "n/a"
        if ci_low and ci_high and ci_low in table.columns and ci_high in table.columns:
            lo, hi = float(rec[ci_low]), float(rec[ci_high])
            if np.isfinite(lo) and np.isfinite(hi):
                s += f"\n[{lo:.{digits}f}, {hi:.{digits}f}]"
        if n and n in table.columns and pd.notna(rec[n]):
            s += f"\nn={int(rec[n])}"
        text[i][j] = s
    if better is None:
        better = _instruments.get(instrument).direction if instrument is not None else "higher"
    cmap = mpl.colormaps["PuOr_r" if better == "lower" else "PuOr"].with_extremes(bad="#F2F2F2")
    finite = grid[np.isfinite(grid)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    vmax = vmax or 1.0
    with theme():
        ax = _new_ax(ax, (1.8 + 1.25 * len(cols), 1.2 + 0.75 * len(rows)))
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
        im.set_gid("heatmap")
        for i in range(len(rows)):
            for j in range(len(cols)):
                v = grid[i, j]
                dark = np.isfinite(v) and abs(v) > 0.6 * vmax
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8,
                        color="white" if dark else _INK, gid="cell" if np.isfinite(v) else "empty")
        ax.set_xticks(range(len(cols)), [_pretty(c) for c in cols], rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), [_pretty(r) for r in rows])
        ax.grid(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(_pretty(col).capitalize())
        ax.set_ylabel(_pretty(row).capitalize())
        cbar = figure_of(ax).colorbar(im, ax=ax, shrink=0.85)
        direction = "negative = improvement" if better == "lower" else "positive = improvement"
        name = f"{_instruments.get(instrument).name}\n" if instrument is not None else ""
        cbar.set_label(f"{value_label}, {name}({direction})", fontsize=9)
        if title:
            ax.set_title(title, loc="left")
    return ax


def save(fig_or_ax: Figure | Axes, path: Any, *, dpi: int = 150) -> None:
    """Save a figure (or the figure of an Axes) as PNG/SVG/PDF with the package's settings, then close it."""
    fig = figure_of(fig_or_ax)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)


def figure_of(fig_or_ax: Figure | Axes) -> Figure:
    """The top-level Figure of a Figure or Axes."""
    if isinstance(fig_or_ax, Figure):
        return fig_or_ax
    fig = fig_or_ax.get_figure(root=True)
    if not isinstance(fig, Figure):  # pragma: no cover - an Axes always belongs to a figure
        raise ArgumentError("the Axes belongs to no figure")
    return fig

"""The CONSORT 2025 participant flow diagram, drawn with matplotlib from a :class:`~massage_outcomes.disposition.
Disposition`.

Four stages (enrolment, allocation, follow-up, analysis), one column of boxes per arm with counts and reasons, at
journal widths (single column 89 mm, double column 183 mm) with 7-point text. :func:`consort` returns the
Figure; :func:`save` writes it as PNG (300 dpi) and SVG (text kept as text, so that a journal can edit it).
``massage_outcomes.plot.consort`` is the same function.

Examples
--------
>>> import massage_outcomes as mo
>>> ds = mo.simulate_trial(n_per_arm=30, seed=4)
>>> fig = mo.plot.consort(ds, screened=150, excluded={"not meeting inclusion criteria": 45,
...                                                    "declined to participate": 15})
>>> float(fig.get_figwidth())
7.2
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from massage_outcomes.flow import ANALYSES, Disposition, disposition

__all__ = ["consort", "save", "flow_lines", "WIDTHS"]

#: journal figure widths in inches: single column (89 mm), 1.5 columns (120 mm), double column (183 mm)
WIDTHS = {"single": 3.5, "one_and_half": 4.72, "double": 7.2}
_ANALYSIS_NAMES = {"mmrm": "MMRM", "ancova": "ANCOVA", "lmm": "mixed model"}
_STAGE_FILL = "#D6E6F4"
_EDGE = "#333333"


def _inst_name(key: str) -> str:
    try:
        from massage_outcomes import instruments

        inst = instruments.get(key)
        short = {"pain_nrs": "pain NRS", "pain_vas": "pain VAS", "rmdq": "RMDQ", "rmdq23": "RMDQ-23", "odi": "ODI",
                 "ndi": "NDI", "hit6": "HIT-6"}
        return short.get(inst.key, inst.name)
    except Exception:  # noqa: BLE001 - unregistered instrument: its key
        return key


def _label(visit: str | None) -> str:
    return str(visit).replace("_", " ") if visit is not None else ""


def _n(n: int | str) -> str:
    """"(n = 12)" with no-break spaces, so that a wrapped line never splits a count from its n."""
    return f"(n\u00a0=\u00a0{n})"


def _reason_lines(reasons: Mapping[str, int], bullet: str = "–") -> list[str]:
    return [f"  {bullet} {r} {_n(n)}" for r, n in reasons.items()]


# ------------------------------------------------------------------------------------------- the box contents
def flow_lines(disp: Disposition, arm: str, *, arm_label: str | None = None) -> dict[str, list[str]]:
    """The text lines of one arm's allocation, follow-up and analysis boxes (what the diagram prints).

    Returns
    -------
    dict
        ``allocation``, ``follow-up``, ``analysis``: lists of lines (a line starting with two spaces is a reason,
        indented under the count above it).
    """
    label = arm_label or arm.replace("_", " ")
    alloc = [f"Allocated to {label} {_n(disp.count('allocated', arm=arm))}",
             f"Received allocated intervention {_n(disp.count('received', arm=arm))}"]
    nr = disp.count("not_received", arm=arm)
    alloc.append(f"Did not receive allocated intervention {_n(nr)}")
    alloc += _reason_lines(disp.reasons("not_received", arm=arm))

    pv = disp.primary_visit
    follow = [f"Lost to follow-up by {_label(pv)} {_n(disp.count('lost', arm=arm))}"]
    follow += _reason_lines(disp.reasons("lost", arm=arm))
    after = disp.counts[(disp.counts["item"] == "lost_after") & (disp.counts["arm"] == arm)]
    if len(after):
        follow.append("  last assessed at " + ", ".join(
            f"{_label(v)} {_n(n)}" for v, n in zip(after["visit"], after["n"], strict=True)))
    missed = disp.count("missed", arm=arm)
    if missed:
        follow.append(f"Missed {_label(pv)}, assessed later {_n(missed)}")
    follow.append(f"Discontinued intervention {_n(disp.count('discontinued', arm=arm))}")
    follow += _reason_lines(disp.reasons("discontinued", arm=arm))
    if disp.visits:
        follow.append("Assessed at " + ", ".join(f"{_label(v)} {_n(disp.count('assessed', arm=arm, visit=v))}"
                                                 for v in disp.visits))

    return {"allocation": alloc, "follow-up": follow, "analysis": _analysis_lines(disp, arm)}


def _analysis_lines(disp: Disposition, arm: str) -> list[str]:
    prim = str(disp.options.get("primary_analysis", "mmrm"))
    order = [prim, *[a for a in ANALYSES if a != prim]]
    present = [a for a in order if ((disp.counts["analysis"] == a) & (disp.counts["arm"] == arm)).any()]
    if not present or not disp.instruments:
        return ["Analysed: no outcome analyses"]
    lines: list[str] = []
    others: list[str] = []
    for k, name in enumerate(present):
        per = {inst: disp.count("analysed", arm=arm, analysis=name, instrument=inst) for inst in disp.instruments}
        what = _ANALYSIS_NAMES.get(name, name) + (f" at {_label(disp.primary_visit)}" if name == "ancova" else "")
        same = len(set(per.values())) == 1
        if k > 0:
            others.append(f"{what} {_n(next(iter(per.values())))}" if same else
                          f"{what} (" + ", ".join(f"{_inst_name(i)} {n}" for i, n in per.items()) + ")")
            continue
        insts = " and ".join(_inst_name(i) for i in per)
        if same:
            lines += [f"Analysed {_n(next(iter(per.values())))}", f"  {what} of {insts}"]
        else:
            lines += [f"Analysed, {what}: " + "; ".join(f"{_inst_name(i)} {_n(n)}" for i, n in per.items())]
        for inst in (disp.instruments if not same else disp.instruments[:1]):
            ex = disp.count("excluded_from_analysis", arm=arm, analysis=name, instrument=inst)
            lines.append(f"Excluded from analysis {_n(ex)}" + (f", {_inst_name(inst)}" if not same else ""))
            lines += _reason_lines(disp.reasons("excluded_from_analysis", arm=arm, analysis=name, instrument=inst))
    if others:
        lines.append("Other analyses: " + "; ".join(others))
    return lines


# ----------------------------------------------------------------------------------------------------- layout
@dataclass
class _Box:
    x: float  # left, inches
    y: float  # top, inches (from the top of the figure)
    w: float
    lines: list[str]
    h: float = 0.0
    bold_first: bool = True


class _Measure:
    """Wraps and measures text at the diagram's font size with the Agg renderer (inches)."""

    def __init__(self, fontsize: float) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fontsize = fontsize
        self.fig = Figure(figsize=(4, 4), dpi=100)
        FigureCanvasAgg(self.fig)
        self.renderer = self.fig.canvas.get_renderer()  # type: ignore[attr-defined]
        probe = "Allocated to relaxation massage (n = 60) lost follow-up"
        self.char_w = self.width(probe) / len(probe)
        self.line_h = self.height("Ag\nAg") / 2.0

    def _extent(self, text: str) -> Any:
        t = self.fig.text(0, 0, text, fontsize=self.fontsize, linespacing=1.25)
        bb = t.get_window_extent(self.renderer)
        t.remove()
        return bb

    def width(self, text: str) -> float:
        return float(self._extent(text).width) / self.fig.dpi

    def height(self, text: str) -> float:
        return float(self._extent(text).height) / self.fig.dpi

    def _wrap_at(self, lines: Sequence[str], width: float) -> list[str]:
        out: list[str] = []
        for line in lines:
            indent = len(line) - len(line.lstrip(" "))
            chars = max(12, int(width / self.char_w) - indent)
            parts = textwrap.wrap(line.strip(), chars) or [""]
            out += [" " * (indent + (2 if i and indent else 0)) + part for i, part in enumerate(parts)]
        return out

    def wrap(self, lines: Sequence[str], width: float) -> list[str]:
        """Wrap to ``width`` inches: by the mean character width, narrower until the widest line fits."""
        w = width
        out = self._wrap_at(lines, w)
        for _ in range(8):
            if all(self.width(x) <= width for x in out):
                break
            w *= 0.93
            out = self._wrap_at(lines, w)
        return out


def _draw_box(ax: Any, box: _Box, fontsize: float, pad: float) -> None:
    ax.add_patch(FancyBboxPatch((box.x, -box.y - box.h), box.w, box.h, boxstyle="square,pad=0",
                                fc="white", ec=_EDGE, lw=0.7))
    y = -box.y - pad
    for i, line in enumerate(box.lines):
        indent = len(line) - len(line.lstrip(" "))
        line = "\u00a0" * indent + line[indent:]  # SVG viewers collapse leading spaces, not no-break ones
        ax.text(box.x + pad, y, line, fontsize=fontsize, va="top", ha="left",
                fontweight="bold" if (i == 0 and box.bold_first) else "normal", linespacing=1.25)
        y -= box.h_line  # type: ignore[attr-defined]


def _arrow(ax: Any, x0: float, y0: float, x1: float, y1: float, head: bool = True) -> None:
    ax.add_patch(FancyArrowPatch((x0, -y0), (x1, -y1), arrowstyle="-|>" if head else "-", mutation_scale=7,
                                 lw=0.7, color=_EDGE, shrinkA=0, shrinkB=0))


def consort(
    data: Any,
    *,
    width: str | float = "auto",
    fontsize: float = 7.0,
    arm_labels: Mapping[str, str] | None = None,
    title: str | None = None,
    **disposition_options: Any,
) -> Figure:
    """Draw the CONSORT 2025 flow diagram: enrolment, allocation, follow-up and analysis, one column per arm.

    Parameters
    ----------
    data : Disposition or Dataset
        A :func:`~massage_outcomes.disposition` result, or a Dataset (then ``disposition_options`` go to
        :func:`~massage_outcomes.disposition`: ``screened``, ``excluded``, ``events``, ``primary_visit``, ...).
    width : {"auto", "double", "one_and_half", "single"} or float
        Figure width: a journal column width (see :data:`WIDTHS`) or inches; "auto" is a single column for one or
        two arms, double for more. Text stays ``fontsize`` points at
        that width, so print the figure at 100%.
    fontsize : float
        Text size in points (journals ask for 6–8 pt at final size).
    arm_labels : dict, optional
        ``{arm: label}`` shown in the allocation boxes ("therapeutic" → "structural massage").
    title : str, optional
        A title above the diagram (journals usually want none: the caption carries it).

    Returns
    -------
    matplotlib.figure.Figure
        Its height follows the content. Save with :func:`save` (PNG and SVG).

    Notes
    -----
    The enrolment boxes (assessed for eligibility, excluded with reasons) appear only when ``screened`` or
    ``excluded`` was given: trial data cannot show them. Every other number is a count of the Disposition, so the
    diagram and :attr:`Disposition.counts` cannot disagree. A reason ending in "(derived)" was inferred by the
    library from the sessions and measurements (e.g. "no week-10 measurement (derived)"); the others are printed as
    the ``events`` table (or a ``DCSREAS`` column) states them, "reason not recorded" when it gives none.

    Examples
    --------
    >>> import massage_outcomes as mo
    >>> fig = mo.plot.consort(mo.load_sample("trial"))
    >>> bool(fig.get_figheight() > 3)
    True
    """
    disp = data if isinstance(data, Disposition) else disposition(data, **disposition_options)
    if disposition_options and isinstance(data, Disposition):
        raise TypeError(f"options {sorted(disposition_options)} apply only when data is a Dataset")
    if width == "auto":
        width = "single" if len(disp.arms) <= 2 else "double"
    if isinstance(width, str):
        if width not in WIDTHS:
            raise ValueError(f"width={width!r}; use one of {sorted(WIDTHS)} or a number of inches")
        width_in = WIDTHS[width]
    else:
        width_in = float(width)
    labels = dict(arm_labels or {})
    m = _Measure(fontsize)
    pad, gap, banner_h, margin = 0.05, 0.16, m.line_h + 0.08, 0.04
    arms = disp.arms
    k = max(1, len(arms))
    col_gap = 0.1
    col_w = (width_in - 2 * margin - (k - 1) * col_gap) / k
    boxes: list[_Box] = []
    banners: list[tuple[str, float]] = []
    arrows: list[tuple[float, float, float, float, bool]] = []
    y = margin + (m.line_h * 1.6 if title else 0.0)

    def make(x: float, yy: float, w: float, lines: Sequence[str], bold_first: bool = True) -> _Box:
        wrapped = m.wrap(lines, w - 2 * pad)
        b = _Box(x, yy, w, wrapped, bold_first=bold_first)
        b.h = len(wrapped) * m.line_h + 2 * pad
        b.h_line = m.line_h  # type: ignore[attr-defined]
        boxes.append(b)
        return b

    # ---- enrolment
    banners.append(("Enrolment", y))
    y += banner_h + gap * 0.6
    centre_w = min(width_in * (0.42 if k > 2 else 0.5), 2.6)
    cx = (width_in - centre_w) / 2 if not (disp.screened is not None or disp.excluded) else margin + 0.15 * width_in
    if disp.screened is not None or disp.excluded:
        screened = f"{disp.screened}" if disp.screened is not None else "not given"
        top = make(cx, y, centre_w, [f"Assessed for eligibility {_n(screened)}"])
        ex_lines = [f"Excluded {_n(disp.count('excluded'))}"] + _reason_lines(disp.reasons("excluded"), "•")
        ex_x = cx + centre_w + 0.25
        ex = make(ex_x, top.y + top.h + gap * 0.5, width_in - margin - ex_x, ex_lines)
        mid = ex.y + ex.h / 2
        arrows.append((cx + centre_w / 2, mid, ex_x, mid, True))
        y_rand = ex.y + ex.h + gap * 0.5
        arrows.append((cx + centre_w / 2, top.y + top.h, cx + centre_w / 2, y_rand, True))
    else:
        y_rand = y
    rand = make(cx, y_rand, centre_w, [f"Randomised {_n(disp.count('randomized'))}"])
    y = rand.y + rand.h + gap
    split_y = y
    y += gap * 0.5

    # ---- one column per arm, three stages
    xs = [margin + i * (col_w + col_gap) for i in range(k)]
    lines = {arm: flow_lines(disp, arm, arm_label=labels.get(arm)) for arm in arms}
    prev_bottom: dict[str, float] = {}
    for stage, name in (("allocation", "Allocation"), ("follow-up", "Follow-up"), ("analysis", "Analysis")):
        banners.append((name, y))
        y += banner_h + gap * 0.6
        made = [make(xs[i], y, col_w, lines[arm][stage]) for i, arm in enumerate(arms)]
        for i, (arm, b) in enumerate(zip(arms, made, strict=True)):
            cxa = xs[i] + col_w / 2
            if stage == "allocation":
                arrows.append((cxa, split_y, cxa, b.y, True))
            else:
                arrows.append((cxa, prev_bottom[arm], cxa, b.y, True))
            prev_bottom[arm] = b.y + b.h
        y = max(b.y + b.h for b in made) + gap
    height = y - gap + margin

    fig = Figure(figsize=(width_in, height), dpi=100)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width_in)
    ax.set_ylim(-height, 0)
    ax.axis("off")
    if title:
        ax.text(width_in / 2, -margin, title, fontsize=fontsize + 1.5, ha="center", va="top", fontweight="bold")
    for name, by in banners:
        ax.add_patch(FancyBboxPatch((margin, -by - banner_h), width_in - 2 * margin, banner_h,
                                    boxstyle="round,pad=0,rounding_size=0.04", fc=_STAGE_FILL, ec="none",
                                    zorder=3))
        ax.text(width_in / 2, -by - banner_h / 2, name, fontsize=fontsize + 0.5, ha="center", va="center",
                fontweight="bold", zorder=4)
    # the randomisation split: down from the box, across the arm centres, down into each allocation box
    centres = [x + col_w / 2 for x in xs]
    ax.plot([rand.x + rand.w / 2] * 2, [-(rand.y + rand.h), -split_y], color=_EDGE, lw=0.7)
    ax.plot([min(centres + [rand.x + rand.w / 2]), max(centres + [rand.x + rand.w / 2])], [-split_y] * 2,
            color=_EDGE, lw=0.7)
    for x0, y0, x1, y1, head in arrows:
        _arrow(ax, x0, y0, x1, y1, head)
    for b in boxes:
        _draw_box(ax, b, fontsize, pad)
    fig.disposition = disp  # type: ignore[attr-defined]  # the numbers drawn, for tests and the report
    return fig


def save(fig: Figure, path: str | Path, *, formats: Sequence[str] = ("png", "svg"), dpi: int = 300) -> dict[str, Path]:
    """Write ``fig`` as ``<path>.png`` (``dpi``) and ``<path>.svg`` (editable text); returns {format: path}."""
    stem = Path(path)
    stem = stem.with_suffix("") if stem.suffix.lower() in (".png", ".svg", ".pdf") else stem
    stem.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "massage_outcomes"}):
        for fmt in formats:
            p = stem.with_suffix(f".{fmt}")
            meta = {"Date": None} if fmt == "svg" else {}
            fig.savefig(p, format=fmt, dpi=dpi, facecolor="white", metadata=meta)
            out[fmt] = p
    return out

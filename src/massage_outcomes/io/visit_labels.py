"""Visit labels as real files write them, to days since baseline: the parser :func:`massage_outcomes.describe`
uses to propose a read plan.

================================================  =========================================================
label (any case, spaces/underscores/dashes)        day
================================================  =========================================================
``baseline``, ``base``, ``bl``, ``week 0``         0 (timing ``baseline``)
``screening``, ``scr``                             0 (timing ``baseline``; ``describe`` asks when a file also
                                                   has a baseline)
``day 15``, ``d15``                                15
``week 4``, ``wk4``, ``w4``, ``6 weeks``, ``6wk``  7 × n
``month 3``, ``3 months``, ``m3``, ``3mo``         30.4375 × n, rounded to whole days (91)
``1 year``, ``yr1``, ``y1``, ``12 months``         365.25 × n, rounded (365)
``V2``, ``visit 2``, ``end of treatment``,         undecidable: no day, a TODO asking for it
``EOT``, ``post-treatment``, ``follow-up``
================================================  =========================================================

Examples
--------
>>> [parse_visit(v).day for v in ["Baseline", "wk4", "6 weeks", "3 months", "yr1", "Day 15"]]
[0.0, 28.0, 42.0, 91.0, 365.0, 15.0]
>>> parse_visit("V2").day is None, parse_visit("V2").todo
(True, "visit 'V2': on which day (since baseline) is it? The label does not say")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["VisitLabel", "parse_visit", "split_visit_suffix"]

_UNIT_DAYS = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}
_UNITS = {"day": "d", "days": "d", "d": "d", "week": "w", "weeks": "w", "wk": "w", "wks": "w", "w": "w",
          "month": "m", "months": "m", "mo": "m", "mos": "m", "mth": "m", "mths": "m", "m": "m",
          "year": "y", "years": "y", "yr": "y", "yrs": "y", "y": "y"}
_UNIT_NAMES = {"d": "day", "w": "week", "m": "month", "y": "year"}
_UNIT_RX = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_UNIT_FIRST = re.compile(rf"^(?P<unit>{_UNIT_RX})(?P<num>\d+(?:\.\d+)?)$")
_NUM_FIRST = re.compile(rf"^(?P<num>\d+(?:\.\d+)?)(?P<unit>{_UNIT_RX})$")
_BASELINE = {"baseline", "base", "bl", "bsl", "pre_treatment_baseline", "t0", "week0", "w0", "day0", "d0",
             "wk0", "month0", "m0"}
_SCREENING = {"screening", "scr", "screen"}
_UNDECIDABLE = re.compile(r"^(v|visit|t|time|tp|timepoint)\d+$|^(end_?of_?treatment|eot|eos|end_?of_?study|"
                          r"post_?treatment|posttreatment|post_?intervention|follow_?up|fu|fup|final|discharge)$")


@dataclass(frozen=True)
class VisitLabel:
    """A parsed visit label: ``day`` (None when undecidable), ``timing``, and the question to ask when unsure."""

    label: str
    day: float | None
    timing: str
    todo: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", re.sub(r"[^a-z0-9]+", "_", self.label.lower()).strip("_"))


def _squash(label: str) -> str:
    return re.sub(r"[\s\-_.]+", "", str(label).strip().lower())


def parse_visit(label: object) -> VisitLabel:
    """Parse one visit label (see the module table). An undecidable label has ``day=None`` and a ``todo``."""
    text = str(label).strip()
    s = _squash(text)
    if s in _BASELINE:
        return VisitLabel(text, 0.0, "baseline", name="baseline")
    if s in _SCREENING:
        return VisitLabel(text, 0.0, "baseline", name="screening")
    m = _UNIT_FIRST.match(s) or _NUM_FIRST.match(s)
    if m:
        n = float(m.group("num"))
        unit = _UNITS[m.group("unit")]
        days = float(round(n * _UNIT_DAYS[unit]))
        name = "baseline" if days == 0 else f"{_UNIT_NAMES[unit]}_{n:g}"
        return VisitLabel(text, days, "baseline" if days == 0 else "followup", name=name)
    if _UNDECIDABLE.match(s):
        return VisitLabel(text, None, "followup",
                          f"visit {text!r}: on which day (since baseline) is it? The label does not say")
    return VisitLabel(text, None, "followup", f"{text!r} is not a visit label this parser knows: give its day")


def split_visit_suffix(column: str) -> tuple[str, VisitLabel] | None:
    """``"pain_week_6"`` → ``("pain", week 6)``: the longest trailing part of a column name that is a visit label
    (after ``_``, a space or a dash), with what comes before it; None when no tail is a known visit.

    Examples
    --------
    >>> stem, visit = split_visit_suffix("NDI 3 months")
    >>> stem, visit.day
    ('NDI', 91.0)
    >>> split_visit_suffix("age") is None
    True
    """
    parts = re.split(r"([\s_\-]+)", str(column).strip())
    words = parts[::2]
    for k in range(1, len(words)):
        stem = "".join(parts[: 2 * k - 1]).strip(" _-")
        tail = "".join(parts[2 * k:])
        parsed = parse_visit(tail)
        if stem and (parsed.day is not None or parsed.todo and not parsed.todo.endswith("give its day")):
            return stem, parsed
    # a unit glued to the stem: "pain6wk", "ndiBL"
    m = re.match(rf"^(?P<stem>[A-Za-z][A-Za-z_]*?)_?(?P<tail>(?:{_UNIT_RX})\d+|\d+(?:{_UNIT_RX})|bl|baseline)$",
                 str(column).strip(), re.IGNORECASE)
    if m and m.group("stem"):
        parsed = parse_visit(m.group("tail"))
        if parsed.day is not None:
            return m.group("stem"), parsed
    return None

"""The manuscript pieces of the report: the flow diagram, the paper's tables, the CONSORT-Outcomes methods, and the
Word report (``report.docx``) that holds them with the figures and the analysis tables.

:func:`paper_tables` composes, from the summary tables, Table 1 (with SMDs), one outcomes table per instrument, the
sensitivity table when sensitivity results exist (a ``sensitivity`` table in the tidy shape of
:func:`massage_outcomes.paper.sensitivity_table`) and the CONSORT-Outcomes checklist; :func:`consort_figure` the
flow diagram; :func:`html_sections` their HTML for ``report.html``; :func:`write_docx` the Word report. Nothing here
computes a statistic: every number comes from a result table or the Disposition's counts.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from massage_outcomes.consort_outcomes import ITEM_NUMBERS_CONFIRMED

__all__ = ["PaperTable", "paper_tables", "consort_figure", "html_sections", "write_docx"]


@dataclass
class PaperTable:
    """A display table for the paper: its name, text frame, caption and footnotes."""

    name: str
    frame: pd.DataFrame
    caption: str
    footnotes: list[str] = field(default_factory=list)


def _inst_name(key: str) -> str:
    from massage_outcomes.paper import instrument_footnote

    return instrument_footnote(key).split(":")[0]


def _method_note(methods: Mapping[str, str], key: str) -> list[str]:
    return [methods[key]] if key in methods else []


def paper_tables(ds: Any, tabs: Mapping[str, pd.DataFrame], *, methods: Mapping[str, str] | None = None,
                 reporting: Any = None) -> list[PaperTable]:
    """The paper's tables from the summary tables (see the module docstring), in the order a paper shows them."""
    from massage_outcomes import tables as _tables
    from massage_outcomes.paper import instrument_footnote, outcomes_table, sensitivity_table

    methods = dict(methods or {})
    out: list[PaperTable] = []
    t1 = tabs.get("table1_baseline")
    if t1 is not None and not _tables.is_note(t1):
        notes = ["Values are n (%), mean (SD) or median [IQR]; no significance tests (CONSORT)."]
        if "SMD" in t1.columns:
            notes.append("SMD: standardized mean difference between arms (R tableone's convention; with more than "
                         "two arms, the average over pairs of arms).")
        out.append(PaperTable("table1", t1, "Baseline characteristics by arm", notes))
    mmrm = tabs.get("mmrm")
    resp = tabs.get("responders")
    if mmrm is not None and not _tables.is_note(mmrm) and "instrument" in mmrm.columns:
        for key in pd.unique(mmrm["instrument"].astype(str)):
            try:
                frame = outcomes_table(ds, contrasts=mmrm, instrument=key,
                                       responders=resp if resp is not None and not _tables.is_note(resp) else None)
            except Exception as exc:  # noqa: BLE001 - one instrument's table must not sink the others
                frame = _tables.note_frame(f"outcomes_{key}", f"outcomes table could not be built: {exc}")
            notes = [instrument_footnote(key),
                     "Observed mean (SD) and number of participants assessed per arm and visit. Differences: "
                     "estimated marginal mean differences between arms from the primary model, with 95% "
                     "confidence intervals."]
            notes += _method_note(methods, "mmrm")
            if resp is not None and "responders" in str(frame.iloc[:, 0].tolist()):
                notes += _method_note(methods, "responders")
            out.append(PaperTable(f"outcomes_{key}", frame, f"{_inst_name(key)}: outcomes by arm and visit", notes))
    sens = tabs.get("sensitivity")
    if sens is not None and not _tables.is_note(sens) and len(sens):
        try:
            frame = sensitivity_table(sens, primary=mmrm if mmrm is not None and not _tables.is_note(mmrm) else None)
            out.append(PaperTable("sensitivity", frame, "Sensitivity analyses of the between-arm differences",
                                  _method_note(methods, "sensitivity")))
        except Exception as exc:  # noqa: BLE001 - e.g. a sensitivity table in another shape
            out.append(PaperTable("sensitivity", _tables.note_frame("sensitivity", str(exc)),
                                  "Sensitivity analyses", []))
    if reporting is not None:
        check = reporting.checklist[["item", "section", "description", "status", "where"]]
        out.append(PaperTable("consort_outcomes", check.rename(columns={"where": "where / what to add"}),
                              "CONSORT-Outcomes 2022 checklist",
                              ["Items the data and the analysis options determine are covered in the methods "
                               "section; the others are for the authors to add (Butcher et al. 2022, JAMA "
                               "328:2252-2264; descriptions paraphrased)."]
                              + ([] if ITEM_NUMBERS_CONFIRMED else
                                 ["The item numbers are not yet confirmed against the published checklist: check "
                                  "them before filing this checklist with a manuscript."])))
    return out


def consort_figure(ds: Any, *, primary_visit: str | None = None,
                   options: Mapping[str, Any] | None = None) -> tuple[Any, str, Any]:
    """(figure, caption, disposition) of the CONSORT flow diagram."""
    from massage_outcomes.consort import consort
    from massage_outcomes.flow import disposition

    disp = disposition(ds, primary_visit=primary_visit, **dict(options or {}))
    fig = consort(disp)
    enrol = "" if disp.screened is not None or disp.excluded else (
        " Numbers assessed for eligibility and excluded before randomisation are not in the data; add them "
        "(disposition(screened=..., excluded=...)).")
    caption = (f"CONSORT flow diagram: participants randomised, allocated, followed up to "
               f"{str(disp.primary_visit).replace('_', ' ')} and analysed, per arm." + enrol)
    return fig, caption, disp


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = [" ".join(str(x) for x in c if str(x)).strip() for c in frame.columns]
    return frame


def html_sections(paper: Sequence[PaperTable], reporting: Any, *, first_table: int = 1) -> tuple[list[tuple[str, str]], str]:
    """(table-of-contents entries (id, title), HTML) for the paper tables and the CONSORT-Outcomes methods."""
    from massage_outcomes import tables as _tables

    esc = html.escape
    toc: list[tuple[str, str]] = []
    parts: list[str] = []
    if paper:
        toc.append(("paper", "Tables for the paper"))
        parts.append('<h2 id="paper">Tables for the paper</h2>')
    for k, t in enumerate(paper, start=first_table):
        anchor = f"p-{t.name}"
        toc.append((anchor, f"Table {k}. {t.caption}"))
        parts.append(f'<h3 id="{esc(anchor)}">Table {k}. {esc(t.caption)}</h3>')
        if _tables.is_note(t.frame):
            parts.append(f'<p class="note">{esc(str(t.frame["note"].iloc[0]))}</p>')
            continue
        parts.append('<div class="scroll">' + _tables.to_html(_flat(t.frame), digits=2) + "</div>")
        parts += [f'<p class="meta">{esc(n)}</p>' for n in t.footnotes]
    if reporting is not None:
        toc.append(("consort-outcomes", "Outcome definitions (CONSORT-Outcomes 2022)"))
        parts.append('<h2 id="consort-outcomes">Outcome definitions (CONSORT-Outcomes 2022)</h2>')
        for inst, lines in reporting.paragraphs().items():
            title = "All outcomes" if inst == "all outcomes" else _inst_name(inst)
            parts.append(f"<h3>{esc(title)}</h3><ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>")
    return toc, "\n".join(parts)


def _notes_to_footnotes(frame: pd.DataFrame, max_notes: int = 4) -> tuple[pd.DataFrame, list[str]]:
    """A ``note`` column with a few distinct texts becomes lettered footnotes (the cells keep the letter)."""
    if "note" not in frame.columns:
        return frame, []
    notes = [str(n) for n in pd.unique(frame["note"].dropna()) if str(n).strip()]
    if not notes:
        return frame.drop(columns="note"), []
    if len(notes) > max_notes:
        return frame, []
    letter = {n: chr(ord("a") + i) for i, n in enumerate(notes)}
    marks = frame["note"].map(lambda n: letter.get(str(n), "") if pd.notna(n) else "")
    return frame.assign(note=marks), [f"{letter[n]} {n}" for n in notes]


def write_docx(
    path: str | Path,
    ds: Any,
    tabs: Mapping[str, pd.DataFrame],
    figures: Mapping[str, tuple[bytes, str]],
    *,
    paper: Sequence[PaperTable],
    reporting: Any = None,
    methods: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    title: str = "massage-outcomes report",
    source: str | None = None,
    display: Any = None,
    versions: Mapping[str, str],
    summary: str,
    table_titles: Mapping[str, str],
) -> Path:
    """Write the Word report: flow diagram, paper tables, figures, methods (with CONSORT-Outcomes), checklist,
    and every analysis table in an appendix; captions numbered.

    Parameters
    ----------
    figures : {name: (png bytes, caption)}; ``"consort"`` first when present.
    paper : the :func:`paper_tables`.
    display : ``(name, frame) -> frame``, the columns of each analysis table to show (the HTML report's choice).
    versions, summary, table_titles : the package versions, the one-line description of the data (plain text) and
        the analysis tables' titles, as the HTML report states them.
    """
    from massage_outcomes import tables as _tables
    from massage_outcomes.word import DocxReport

    doc = DocxReport(title=title)
    doc.paragraph(f"Generated {_dt.date.today().isoformat()} by massage_outcomes {versions['massage_outcomes']}"
                  + (f" from {source}" if source else "") + ".", italic=True, size=9)
    doc.paragraph(summary)
    paper_by_name = {t.name: t for t in paper}
    if "consort" in figures:
        doc.heading("Participant flow", 1)
        png, caption = figures["consort"]
        doc.figure(png, caption=caption)
    doc.heading("Results", 1)
    for t in paper:
        if t.name == "consort_outcomes":
            continue
        if _tables.is_note(t.frame):
            doc.paragraph(f"{t.caption}: {t.frame['note'].iloc[0]}", italic=True)
            continue
        doc.table(t.frame, caption=t.caption, footnotes=t.footnotes, first_column_bold=t.name.startswith("outcomes"))
    others = {k: v for k, v in figures.items() if k != "consort"}
    if others:
        doc.heading("Figures", 1)
        for _name, (png, caption) in others.items():
            doc.figure(png, caption=caption)
    doc.heading("Methods", 1)
    if reporting is not None:
        doc.heading("Outcomes", 2)
        for inst, lines in reporting.paragraphs().items():
            doc.paragraph("All outcomes" if inst == "all outcomes" else _inst_name(inst), bold=True)
            for line in lines:
                doc.paragraph(line)
    doc.heading("Statistical analysis", 2)
    doc.bullets((methods or {}).values())
    if options:
        doc.paragraph("Options: " + ", ".join(f"{k}={v}" for k, v in options.items()) + ".")
    doc.paragraph("Software: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    if problems:
        doc.heading("Sections that could not be computed", 2)
        doc.bullets(f"{k}: {v.splitlines()[0] if v else ''}" for k, v in problems.items())
    if "consort_outcomes" in paper_by_name:
        t = paper_by_name["consort_outcomes"]
        doc.table(t.frame, caption=t.caption, footnotes=t.footnotes)
    doc.heading("Appendix: analysis tables", 1)
    for name, frame in tabs.items():
        caption = table_titles.get(name, name.replace("_", " "))
        if name == "table1_baseline":
            continue
        if _tables.is_note(frame):
            doc.paragraph(f"{caption}: {frame['note'].iloc[0]}", italic=True)
            continue
        shown = display(name, frame) if display is not None else frame
        shown, notes = _notes_to_footnotes(shown[[c for c in shown.columns if not shown[c].isna().all()]])
        doc.table(shown.head(200), caption=caption, font_pt=7.0,
                  footnotes=(_method_note(methods or {}, name) + notes + ([f"First 200 of {len(frame)} rows; "
                             f"tables/{name}.csv has all of them."] if len(frame) > 200 else [])))
    return doc.save(path)

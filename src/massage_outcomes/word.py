"""Word output: real Word tables (python-docx) for the paper, with numbered captions and footnotes.

Every table is a Word table, not a picture: a header row (two when the columns have two levels, with the upper
labels merged across their columns) that repeats on each page, three horizontal rules (above and below the header,
below the body), numbers aligned on their decimal point (the integer part of each cell's first number ends at one
tab stop, so "45.2 (11.0)", "31 (25.8%)" and "−1.23 [−2.01, −0.45]" line up), and footnotes under the table naming
the model and options. Captions are "Table n." / "Figure n." with Word SEQ fields (Word's list of tables finds
them; the number is also written, so every viewer shows it). Wide tables get a landscape page.

:class:`DocxReport` builds a document step by step; :func:`table_to_docx` writes one table to a file.

Examples
--------
>>> import pandas as pd
>>> from massage_outcomes.word import DocxReport
>>> doc = DocxReport(title="Results")
>>> frame = pd.DataFrame({"arm": ["therapeutic", "usual care"], "mean (SD)": ["7.9 (4.6)", "10.2 (5.1)"]})
>>> doc.table(frame, caption="RMDQ at week 26", footnotes=["RMDQ: 0-24, lower is better."])
1
>>> path = doc.save("results.docx")
>>> import docx
>>> docx.Document(str(path)).tables[0].cell(2, 1).text.replace("\\t", "")
'10.2 (5.1)'
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DocxReport", "table_to_docx", "split_number", "FONT"]

FONT = "Arial"  # Word has it; LibreOffice renders it with the metric-compatible Liberation Sans
_BODY_PT, _TABLE_PT, _NOTE_PT = 10.0, 8.5, 7.5
_DIGIT_EM = 0.556  # Arial's digit advance (tabular), em
_CHAR_EM = 0.55  # advance of text, em, with room for wide letters (column widths)
_CELL_MARGIN_IN = 0.06
_NUMBER = re.compile(r"^(\s*[<>≤≥]?\s*[−\-+]?\d[\d,]*)(.*)$", re.S)
_PAGES = {"A4": (8.27, 11.69), "letter": (8.5, 11.0)}


def split_number(text: str) -> tuple[str, str] | None:
    """Split a cell at the end of its first number's integer part: ``"45.2 (11.0)"`` → ``("45", ".2 (11.0)")``;
    None when the cell does not start with a number.

    Examples
    --------
    >>> split_number("−1.23 [−2.01, −0.45]"), split_number("<0.001"), split_number("n/a")
    (('−1', '.23 [−2.01, −0.45]'), ('<0', '.001'), None)
    """
    m = _NUMBER.match(text)
    return (m.group(1), m.group(2)) if m else None


def _numeric_columns(cells: pd.DataFrame) -> list[bool]:
    """A column is aligned on the decimal point when at least 80% of its non-empty cells start with a number."""
    out = []
    for col in cells.columns:
        vals = [str(v) for v in cells[col] if str(v).strip() not in ("", "–", "-")]
        hits = sum(split_number(v) is not None for v in vals)
        out.append(bool(vals) and hits >= 0.8 * len(vals))
    return out


def _header_levels(frame: pd.DataFrame) -> list[list[str]]:
    """Header rows (one per column level); underscores in names read as spaces ("ci_low" → "ci low")."""
    cols = frame.columns
    if isinstance(cols, pd.MultiIndex):
        return [[str(c[i]).replace("_", " ") if not pd.isna(c[i]) else "" for c in cols] for i in range(cols.nlevels)]
    return [[str(c).replace("_", " ") for c in cols]]


def _text_cells(frame: pd.DataFrame, digits: int, p_digits: int) -> pd.DataFrame:
    from massage_outcomes.tables import format_frame

    flat = frame.copy()
    flat.columns = [f"c{i}" for i in range(frame.shape[1])]
    orig = [str(c[-1]) if isinstance(c, tuple) else str(c) for c in frame.columns]
    # format_frame keys its rules (p-values, counts, df) on the column names: format under the real names
    out = []
    for i, name in enumerate(orig):
        col = format_frame(pd.DataFrame({name: flat[f"c{i}"]}), digits=digits, p_digits=p_digits, style="display")
        out.append(col.iloc[:, 0].rename(f"c{i}"))
    return pd.concat(out, axis=1) if out else flat.astype(object)


class DocxReport:
    """A Word document assembled in order: headings, paragraphs, tables, figures; captions numbered.

    Parameters
    ----------
    title : str, optional
        The document title (first line, Title style).
    page : {"A4", "letter"}
        Paper size; margins are 2 cm.
    """

    def __init__(self, *, title: str | None = None, page: str = "A4") -> None:
        import docx
        from docx.shared import Cm, Inches, Pt

        if page not in _PAGES:
            raise ValueError(f"page={page!r}; use one of {sorted(_PAGES)}")
        self._docx = docx
        self.doc = docx.Document()
        self.n_tables = 0
        self.n_figures = 0
        self._in_table_notes = False  # footnotes stay on the table's (landscape) page
        self._page = _PAGES[page]
        sec = self.doc.sections[0]
        sec.page_width, sec.page_height = Inches(self._page[0]), Inches(self._page[1])
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(sec, side, Cm(2))
        normal = self.doc.styles["Normal"]
        normal.font.name = FONT
        normal.font.size = Pt(_BODY_PT)
        self._set_east_asian_font(normal)
        for name in ("Title", "Heading 1", "Heading 2", "Heading 3", "Caption"):
            try:
                st = self.doc.styles[name]
            except KeyError:  # pragma: no cover - python-docx's default template has them all
                continue
            st.font.name = FONT
            self._set_east_asian_font(st)
        from docx.shared import RGBColor

        caption = self.doc.styles["Caption"]
        caption.font.color.rgb = RGBColor(0x22, 0x22, 0x22)
        caption.font.size = Pt(9)
        caption.font.italic = False
        if title:
            self.doc.add_heading(title, level=0)

    # --------------------------------------------------------------------------------------------- basics
    @staticmethod
    def _set_east_asian_font(style: Any) -> None:
        from docx.oxml.ns import qn

        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
            fonts.set(qn(attr), FONT)
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:cstheme", "w:eastAsiaTheme"):
            fonts.attrib.pop(qn(attr), None)

    @property
    def text_width(self) -> float:
        """Usable width of the current section, inches."""
        sec = self.doc.sections[-1]
        return float(((sec.page_width or 0) - (sec.left_margin or 0) - (sec.right_margin or 0)) / 914400)

    def heading(self, text: str, level: int = 1) -> None:
        self._portrait()
        self.doc.add_heading(text, level=level)

    def paragraph(self, text: str = "", *, bold: bool = False, italic: bool = False, size: float | None = None,
                  style: str | None = None) -> Any:
        from docx.shared import Pt

        if not self._in_table_notes:
            self._portrait()
        p = self.doc.add_paragraph(style=style)
        if text:
            run = p.add_run(text)
            run.bold, run.italic = bold, italic
            if size:
                run.font.size = Pt(size)
        return p

    def bullets(self, items: Iterable[str]) -> None:
        self._portrait()
        for item in items:
            self.doc.add_paragraph(str(item), style="List Bullet")

    def page_break(self) -> None:
        self.doc.add_page_break()

    # ------------------------------------------------------------------------------------------- captions
    def _caption(self, kind: str, number: int, text: str) -> None:
        """"Table 3. text" with a SEQ field (its cached result is the number, so every viewer shows it)."""
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        p = self.doc.add_paragraph(style="Caption")
        p.paragraph_format.keep_with_next = kind == "Table"
        lead = p.add_run(f"{kind} ")
        lead.bold = True

        def fld(tag: str, **attrs: str) -> Any:
            el = OxmlElement(tag)
            for k, v in attrs.items():
                el.set(qn(k), v)
            return el

        begin = p.add_run()
        begin.bold = True
        begin._r.append(fld("w:fldChar", **{"w:fldCharType": "begin"}))
        instr = p.add_run()
        t = fld("w:instrText", **{"xml:space": "preserve"})
        t.text = f" SEQ {kind} \\* ARABIC "
        instr._r.append(t)
        sep = p.add_run()
        sep._r.append(fld("w:fldChar", **{"w:fldCharType": "separate"}))
        num = p.add_run(str(number))
        num.bold = True
        end = p.add_run()
        end._r.append(fld("w:fldChar", **{"w:fldCharType": "end"}))
        dot = p.add_run(". ")
        dot.bold = True
        body = p.add_run(text)
        body.bold = False

    # -------------------------------------------------------------------------------------- figures, file
    def figure(self, image: str | Path | bytes, *, caption: str, width: float | None = None) -> int:
        """Add a picture (PNG path or bytes) with a numbered "Figure n." caption below it; returns the number."""
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Inches

        self._portrait()
        self.n_figures += 1
        stream: Any = io.BytesIO(image) if isinstance(image, bytes) else str(image)
        self.doc.add_picture(stream, width=Inches(min(width or self.text_width, self.text_width)))
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        self.doc.paragraphs[-1].paragraph_format.keep_with_next = True
        self._caption("Figure", self.n_figures, caption)
        return self.n_figures

    def save(self, path: str | Path) -> Path:
        """Write the document; returns its path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.doc.core_properties.author = "massage_outcomes"
        self.doc.save(str(p))
        return p

    # --------------------------------------------------------------------------------------------- tables
    def table(self, frame: pd.DataFrame, *, caption: str, footnotes: Sequence[str] = (), digits: int = 2,
              p_digits: int = 3, landscape: bool | None = None, first_column_bold: bool = False,
              font_pt: float = _TABLE_PT) -> int:
        """Add ``frame`` as a Word table under a numbered caption; returns the table's number.

        Parameters
        ----------
        frame : DataFrame
            Any table; numeric columns are rounded here (``digits``, p-values ``p_digits``) with the library's
            one formatter (:func:`~massage_outcomes.tables.format_frame`); text cells are kept. Two-level
            columns give two header rows.
        caption : str
            The caption text after "Table n.".
        footnotes : list of str
            Lines printed under the table in small type (the model, its options, abbreviations).
        landscape : bool, optional
            Put the table on a landscape page (default: when it would not fit the portrait text width).
            Consecutive landscape tables share landscape pages.
        font_pt : float
            Text size of the table (8.5 pt; smaller for wide appendix tables).
        """
        self.n_tables += 1
        cells = _text_cells(frame, digits, p_digits)
        heads = _header_levels(frame)
        widths, tabs, floors = self._column_layout(cells, heads, font_pt)
        portrait = self.text_width if self._is_portrait() else self._page[0] - 2 * 0.787
        if landscape is None:
            landscape = not _fit(widths, floors, portrait)[1]
        self._orient(landscape=landscape)  # back to portrait only when the next content needs it
        widths = _fit(widths, floors, self.text_width)[0]
        self._caption("Table", self.n_tables, caption)
        self._fill_table(cells, heads, widths, tabs, first_column_bold, font_pt)
        self._in_table_notes = True
        try:
            for note in footnotes:
                p = self.paragraph(str(note), size=_NOTE_PT)
                p.paragraph_format.space_after = 0
            self.paragraph("")
        finally:
            self._in_table_notes = False
        return self.n_tables

    def _portrait(self) -> None:
        if not self._is_portrait():
            self._orient(landscape=False)

    def _is_portrait(self) -> bool:
        sec = self.doc.sections[-1]
        return bool((sec.page_width or 0) < (sec.page_height or 0))

    def _orient(self, *, landscape: bool) -> None:
        from docx.enum.section import WD_ORIENT, WD_SECTION
        from docx.shared import Inches

        if landscape == (not self._is_portrait()):
            return
        sec = self.doc.add_section(WD_SECTION.NEW_PAGE)
        w, h = self._page
        sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
        sec.page_width, sec.page_height = (Inches(h), Inches(w)) if landscape else (Inches(w), Inches(h))

    @staticmethod
    def _column_layout(cells: pd.DataFrame, heads: list[list[str]], font_pt: float = _TABLE_PT
                       ) -> tuple[list[float], list[float | None], list[float]]:
        """Column widths (inches), per numeric column the decimal tab position from the cell's left edge, and the
        narrowest each column may become (numeric columns: their width; text columns: their longest word)."""
        em = font_pt / 72.0
        numeric = _numeric_columns(cells)
        widths: list[float] = []
        tabs: list[float | None] = []
        floors: list[float] = []
        for j, col in enumerate(cells.columns):
            vals = [str(v) for v in cells[col]]
            head = heads[-1][j]
            head_w = min(len(head), 18) * _CHAR_EM * em  # long headers wrap
            if numeric[j]:
                parts = [split_number(v) or ("", v) for v in vals]
                lead = max((len(a.strip()) for a, _ in parts), default=0) * _DIGIT_EM * em
                rest = max((len(b) for _, b in parts), default=0) * _CHAR_EM * em
                tab = _CELL_MARGIN_IN + 1.15 * lead + 0.03  # room to spare: an overfull integer part would push
                # the rest to the next default tab stop
                width = max(tab + rest, head_w) + 2 * _CELL_MARGIN_IN + 0.04
                if head_w > tab + rest:  # centre the aligned block under a wide header
                    tab += (head_w - tab - rest) / 2
                tabs.append(tab)
                floors.append(width)
            else:
                pad = 2 * _CELL_MARGIN_IN + 0.04
                width = max([head_w, *(min(len(v), 30) * _CHAR_EM * em for v in vals)]) + pad
                words = [len(w) for v in [*vals, head] for w in v.split()]
                short = min(max((len(v) for v in vals), default=1), 12)  # short cells ("week 26") stay whole
                floors.append(min(width, max([*words, short], default=1) * _CHAR_EM * em + pad))
                tabs.append(None)
            widths.append(width)
        return widths, tabs, floors

    def _fill_table(self, cells: pd.DataFrame, heads: list[list[str]], widths: list[float],
                    tabs: list[float | None], first_column_bold: bool, font_pt: float) -> None:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
        from docx.shared import Inches, Pt

        n_head = len(heads)
        table = self.doc.add_table(rows=n_head + len(cells), cols=cells.shape[1])
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        for j, w in enumerate(widths):
            table.columns[j].width = Inches(w)  # the grid (LibreOffice reads it); cells below (Word reads those)
        for row in table.rows:
            for j, cell in enumerate(row.cells):
                cell.width = Inches(widths[j])
        for i, level in enumerate(heads):
            row = table.rows[i]
            _repeat_header(row)
            j = 0
            while j < len(level):
                k = j
                while i < n_head - 1 and k + 1 < len(level) and level[k + 1] == level[j] and level[j]:
                    k += 1
                cell = row.cells[j] if k == j else row.cells[j].merge(row.cells[k])
                para = cell.paragraphs[0]
                para.text = ""
                run = para.add_run(level[j])
                run.bold = True
                run.font.size = Pt(font_pt)
                para.paragraph_format.space_before = para.paragraph_format.space_after = Pt(1)
                para.alignment = WD_ALIGN_PARAGRAPH.CENTER if (tabs[j] is not None or k > j) else WD_ALIGN_PARAGRAPH.LEFT
                j = k + 1
        rows = list(table.rows)
        for r, values in enumerate(cells.itertuples(index=False), start=n_head):
            row = rows[r]
            _no_split(row)
            row_cells = row.cells  # python-docx rebuilds this list on every access
            for j, value in enumerate(values):
                para = row_cells[j].paragraphs[0]
                text = str(value)
                tab = tabs[j]
                parts = split_number(text) if tab is not None else None
                if parts is not None and tab is not None:
                    stops = para.paragraph_format.tab_stops
                    # the integer part ends just before the stop where the rest begins: a second tab always
                    # moves forward to a stop strictly after the current position, so the right stop sits
                    # 0.002 in before the left one
                    stops.add_tab_stop(Inches(tab - _CELL_MARGIN_IN - 0.002), WD_TAB_ALIGNMENT.RIGHT)
                    stops.add_tab_stop(Inches(tab - _CELL_MARGIN_IN), WD_TAB_ALIGNMENT.LEFT)
                    run = para.add_run("\t" + parts[0].strip() + "\t" + parts[1])
                elif tab is not None:
                    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
                    run = para.add_run(text)
                else:
                    run = para.add_run(text)
                run.font.size = Pt(font_pt)
                run.bold = first_column_bold and j == 0
                pf = para.paragraph_format
                pf.space_before = pf.space_after = Pt(0.5)
        _rules(table, n_head)


def _fit(widths: list[float], floors: list[float], available: float) -> tuple[list[float], bool]:
    """Narrow the text columns (they wrap; never below their longest word, ``floors``) to fit ``available``
    inches. Returns the widths and whether they fit; a table that does not fit is scaled to ``available``."""
    need = sum(widths)
    if need <= available:
        return list(widths), True
    slack = [max(0.0, w - f) for w, f in zip(widths, floors, strict=True)]
    total_slack = sum(slack)
    cut = min(need - available, total_slack)
    out = [w - (cut * sl / total_slack if total_slack > 0 else 0.0) for w, sl in zip(widths, slack, strict=True)]
    total = sum(out)
    if total <= available * 1.001:
        return out, True
    return [w * available / total for w in out], False


def _repeat_header(row: Any) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _no_split(row: Any) -> None:
    from docx.oxml import OxmlElement

    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _rules(table: Any, n_head: int) -> None:
    """Three horizontal rules: above the header, below it, below the last row; no other borders."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    rows = table.rows
    last = len(rows) - 1

    def border(cell: Any, side: str, size: int) -> None:
        tc_pr = cell._tc.get_or_add_tcPr()
        borders = tc_pr.find(qn("w:tcBorders"))
        if borders is None:
            borders = OxmlElement("w:tcBorders")
            tc_pr.append(borders)
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")
        borders.append(el)

    for cell in rows[0].cells:
        border(cell, "top", 8)
    for cell in rows[n_head - 1].cells:
        border(cell, "bottom", 6)
    for cell in rows[last].cells:
        border(cell, "bottom", 8)


def table_to_docx(frame: pd.DataFrame, path: str | Path, *, caption: str, footnotes: Sequence[str] = (),
                  digits: int = 2, p_digits: int = 3) -> Path:
    """Write one table as a Word document (``Table 1.`` caption, footnotes under it).

    Examples
    --------
    >>> import pandas as pd
    >>> from massage_outcomes.word import table_to_docx
    >>> table_to_docx(pd.DataFrame({"x": [1.5]}), "t.docx", caption="One number").name
    't.docx'
    """
    doc = DocxReport()
    doc.table(frame, caption=caption, footnotes=footnotes, digits=digits, p_digits=p_digits)
    return doc.save(path)

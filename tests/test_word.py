"""Word output (word.py): real tables that reopen with python-docx, numbered captions, decimal alignment."""

from __future__ import annotations

import docx
import pandas as pd
import pytest
from docx.enum.text import WD_TAB_ALIGNMENT

from massage_outcomes.word import DocxReport, split_number, table_to_docx


@pytest.mark.parametrize(("text", "expected"), [
    ("45.2 (11.0)", ("45", ".2 (11.0)")),
    ("31 (25.8%)", ("31", " (25.8%)")),
    ("−1.23 [−2.01, −0.45]", ("−1", ".23 [−2.01, −0.45]")),
    ("-0.5", ("-0", ".5")),
    ("<0.001", ("<0", ".001")),
    ("1,204", ("1,204", "")),
    ("all", None),
    ("–", None),
])
def test_split_number(text, expected):
    assert split_number(text) == expected


def _frame():
    cols = pd.MultiIndex.from_tuples([("", "visit"), ("therapeutic", "mean (SD)"), ("therapeutic", "n"),
                                      ("usual care", "mean (SD)"), ("usual care", "n"), ("", "p_value")])
    return pd.DataFrame([["week 4", "9.1 (4.2)", 58, "11.2 (4.9)", 57, 0.00012],
                         ["week 26", "7.9 (4.6)", 52, "10.2 (5.1)", 50, 0.4]], columns=cols)


def test_table_reopens_with_two_header_rows_and_footnotes(tmp_path):
    doc = DocxReport(title="t")
    assert doc.table(pd.DataFrame({"a": ["x"], "b": [1.25]}), caption="first") == 1
    assert doc.table(_frame(), caption="RMDQ by visit", footnotes=["MMRM (unstructured, REML)."]) == 2
    path = doc.save(tmp_path / "t.docx")
    back = docx.Document(str(path))
    assert len(back.tables) == 2
    t = back.tables[1]
    assert len(t.rows) == 4 and len(t.columns) == 6
    top = [c.text for c in t.rows[0].cells]
    assert top[1] == top[2] == "therapeutic" and top[3] == top[4] == "usual care"  # merged across its columns
    assert [c.text for c in t.rows[1].cells] == ["visit", "mean (SD)", "n", "mean (SD)", "n", "p value"]
    body = [[c.text.replace("\t", "") for c in r.cells] for r in t.rows[2:]]
    assert body[0] == ["week 4", "9.1 (4.2)", "58", "11.2 (4.9)", "57", "<0.001"]
    assert body[1][-1] == "0.400"
    # header rows repeat on each page
    for r in t.rows[:2]:
        assert r._tr.trPr.xml.count("tblHeader") == 1
    texts = [p.text for p in back.paragraphs]
    assert "Table 1. first" in texts and "Table 2. RMDQ by visit" in texts
    assert "MMRM (unstructured, REML)." in texts
    assert back.element.xml.count("SEQ Table") == 2


def test_numbers_are_aligned_on_their_decimal_point(tmp_path):
    path = table_to_docx(_frame(), tmp_path / "one.docx", caption="c")
    t = docx.Document(str(path)).tables[0]
    cell = t.rows[2].cells[1].paragraphs[0]
    stops = list(cell.paragraph_format.tab_stops)
    assert [s.alignment for s in stops] == [WD_TAB_ALIGNMENT.RIGHT, WD_TAB_ALIGNMENT.LEFT]
    assert cell.text == "\t9\t.1 (4.2)"
    # every row of a column uses the same stops, so the decimal points line up
    other = t.rows[3].cells[1].paragraphs[0].paragraph_format.tab_stops
    assert [s.position for s in other] == [s.position for s in stops]
    assert t.rows[2].cells[0].paragraphs[0].text == "week 4"  # text columns are not tabbed


def test_wide_table_gets_a_landscape_page_and_figures_are_numbered(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    png = tmp_path / "f.png"
    fig.savefig(png)
    plt.close(fig)
    doc = DocxReport()
    doc.table(pd.DataFrame({f"column_{i}": [1.2345 * i] for i in range(14)}), caption="wide")
    assert doc.figure(png, caption="a line") == 1
    path = doc.save(tmp_path / "w.docx")
    back = docx.Document(str(path))
    sections = back.sections
    assert len(sections) == 3  # portrait, landscape for the table, portrait again
    assert sections[1].page_width > sections[1].page_height
    assert sections[2].page_width < sections[2].page_height
    assert len(back.inline_shapes) == 1
    assert "Figure 1. a line" in [p.text for p in back.paragraphs]
    with pytest.raises(ValueError, match="page="):
        DocxReport(page="A5")

"""The report's paper parts: report.docx reopens with the expected Word tables, figures and numbered captions;
report.html gains the flow diagram, the paper tables, the CONSORT-Outcomes methods and a table of contents."""

from __future__ import annotations

import re
import warnings

import docx
import pandas as pd
import pytest

import massage_outcomes as mo
from massage_outcomes import report

ARMS = ["therapeutic", "relaxation", "usual_care"]


@pytest.fixture(scope="module")
def small():
    """The sample trial's first 15 subjects per arm (keeps the report's model fits quick)."""
    ds = mo.load_sample("trial")
    keep = ds.subjects.groupby("arm").head(15)[["study", "subject"]]
    sessions = ds.sessions.merge(keep)
    outcomes = ds.outcomes.merge(keep)
    return mo.Dataset(ds.subjects.merge(keep), sessions, outcomes)


@pytest.fixture(scope="module")
def written(small, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    lost = small.subjects["subject"].iloc[0]
    events = pd.DataFrame({"subject": [lost], "event": ["withdrew"], "reason": ["moved away"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = report.write_report(small, out, formats=("csv", "docx"),
                                     disposition_options={"screened": 70, "excluded": {"declined": 25},
                                                          "events": events})
    return small, out, result


def _captions(document, kind):
    return [p.text for p in document.paragraphs if p.text.startswith(f"{kind} ")
            and re.match(rf"{kind} \d+\. ", p.text)]


def test_docx_reopens_with_the_papers_tables(written):
    ds, out, result = written
    assert result["docx"] == out / "report.docx"
    d = docx.Document(str(result["docx"]))
    tables = _captions(d, "Table")
    assert [int(re.match(r"Table (\d+)\.", t).group(1)) for t in tables] == list(range(1, len(tables) + 1))
    assert tables[0] == "Table 1. Baseline characteristics by arm"
    assert any("Roland-Morris Disability Questionnaire: outcomes by arm and visit" in t for t in tables)
    assert "CONSORT-Outcomes 2022 checklist" in " ".join(tables)
    assert len(d.tables) == len(tables)
    t1 = d.tables[0]
    assert [c.text for c in t1.rows[0].cells][-1] == "SMD"
    # the outcomes table of the RMDQ: arms in the header, the Dataset's own means and counts in the body
    rmdq = d.tables[[i for i, t in enumerate(tables) if "Roland-Morris" in t and "outcomes" in t][0]]
    top = [c.text for c in rmdq.rows[0].cells]
    assert top[1] == top[2] == "therapeutic" and "usual care" in top
    summ = ds.summary()
    row = summ[(summ["instrument"] == "rmdq") & (summ["arm"] == "relaxation") & (summ["visit"] == "week_26")].iloc[0]
    cells = {r.cells[0].text: [c.text.replace("\t", "") for c in r.cells] for r in rmdq.rows[2:]}
    assert cells["week 26"][3:5] == [f"{row['mean']:.1f} ({row['sd']:.1f})", str(int(row["n_subjects"]))]
    assert any(k.startswith("responders") for k in cells)
    checklist = d.tables[[i for i, t in enumerate(tables) if "CONSORT-Outcomes" in t][0]]
    assert len(checklist.rows) == 1 + 17
    status = {r.cells[0].text.replace("\t", ""): r.cells[3].text for r in checklist.rows[1:]}
    assert status["6a.3"] == "covered" and status["6a.9"] == "to add by the authors"


def test_docx_has_the_flow_diagram_and_every_figure(written):
    _ds, out, result = written
    d = docx.Document(str(result["docx"]))
    figures = _captions(d, "Figure")
    assert figures[0].startswith("Figure 1. CONSORT flow diagram")
    assert len(d.inline_shapes) == len(figures) == len(list((out / "figures").glob("*.png")))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "Minimal important change: an improvement of 5 points" in text  # CONSORT-Outcomes statements
    assert "Analysis population" in text and "MMRM per instrument" in text
    assert (out / "figures" / "consort.svg").exists()


def test_html_report_has_a_table_of_contents_and_the_paper_sections(written):
    _ds, out, result = written
    page = result["html"].read_text(encoding="utf-8")
    nav = page.split("<nav>")[1].split("</nav>")[0]
    anchors = re.findall(r'href="#([^"]+)"', nav)
    for a in anchors:
        assert f'id="{a}"' in page, a  # every entry of the contents leads somewhere
    assert "f-consort" in anchors and "p-table1" in anchors and "consort-outcomes" in anchors
    assert "<strong>Figure 1.</strong> CONSORT flow diagram" in page
    assert "Outcome definitions (CONSORT-Outcomes 2022)" in page


def test_between_arm_forest_names_the_arms_each_side_favours():
    eff = pd.DataFrame({"contrast": ["therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"],
                        "estimate": [0.05, -0.63, -0.69], "ci_low": [-0.31, -0.99, -1.07], "ci_high": [0.41, -0.26, -0.32]})
    fig = report._between_arm_forest(eff, "rmdq", "hedges_g")
    words = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "first-named" not in words
    assert words.count("favours therapeutic") == 2 and "favours relaxation" in words  # RMDQ: lower is better
    assert words.count("favours usual care") == 2
    assert "Roland-Morris" in fig.texts[0].get_text() or any("Roland-Morris" in t.get_text() for t in fig.texts)


def test_checklist_footnote_says_when_item_numbers_are_unconfirmed(monkeypatch):
    from massage_outcomes import manuscript
    from massage_outcomes.consort_outcomes import consort_outcomes

    ds = mo.load_sample("trial")
    reporting = consort_outcomes(ds)
    notes = [t for t in manuscript.paper_tables(ds, {}, reporting=reporting) if t.name == "consort_outcomes"][0].footnotes
    assert any("not yet confirmed" in n for n in notes)
    monkeypatch.setattr(manuscript, "ITEM_NUMBERS_CONFIRMED", True)
    notes = [t for t in manuscript.paper_tables(ds, {}, reporting=reporting) if t.name == "consort_outcomes"][0].footnotes
    assert not any("not yet confirmed" in n for n in notes)

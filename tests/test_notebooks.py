"""The notebooks: paired .ipynb/.py files in sync, executed as users run them, and their conclusions checked for
content against tables recomputed here (issue 17.1, 17.7: a test that only runs a notebook is not enough).

Each notebook runs once (nbclient, kernel python3, notebooks/ as the working directory, from its .ipynb as
``jupyter nbconvert --execute`` runs it); set MO_NOTEBOOK_OUT=<dir> to keep the executed copies.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

import massage_outcomes as mo  # noqa: E402
from massage_outcomes import narrative, tables  # noqa: E402

HERE = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(HERE.glob("[0-9][0-9]_*.py"))
TIMEOUT = 600  # per cell, generous for a loaded CI machine; each notebook takes well under a minute alone
_EXECUTED: dict[str, nbformat.NotebookNode] = {}


def test_the_notebooks_are_there():
    assert {"01", "02", "03", "04", "05", "06", "07"} <= {p.stem[:2] for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_ipynb_pair_is_in_sync_and_stripped(path):
    """issue 17.7: `jupyter nbconvert --execute notebooks/0X_....ipynb` needs an .ipynb; it must say what the .py
    says (edit either, then `jupytext --sync notebooks/*.py`) and carry no outputs."""
    pair = path.with_suffix(".ipynb")
    assert pair.exists(), f"{pair.name} is missing: run `jupytext --sync {path.relative_to(HERE.parent)}`"
    text, book = jupytext.read(path), nbformat.read(pair, as_version=4)
    assert [(c.cell_type, c.source) for c in text.cells] == [(c.cell_type, c.source) for c in book.cells], (
        f"{pair.name} and {path.name} differ: run `jupytext --sync {path.relative_to(HERE.parent)}`")
    for cell in book.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{pair.name} has outputs: strip them"
    assert book.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


def _execute(path: Path) -> nbformat.NotebookNode:
    if path.stem in _EXECUTED:
        return _EXECUTED[path.stem]
    nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    env_backup = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures become outputs
    try:
        # kernel "python3": jupyter_client starts it with this interpreter, so the notebook sees the package
        # installed in the environment under test
        client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        if env_backup is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backup
    out_dir = os.environ.get("MO_NOTEBOOK_OUT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(out_dir) / f"{path.stem}.ipynb")
    _EXECUTED[path.stem] = nb
    return nb


def _conclusions(stem: str) -> list[str]:
    path = next(p for p in NOTEBOOKS if p.stem.startswith(stem))
    nb = _execute(path)
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    text = "".join(o.get("text", "") for o in last.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")
    lines = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    assert lines, f"{path.name} printed no conclusions"
    for line in lines:  # nothing a reader could mistake for a result
        assert "nan" not in line.lower().split() and "nan%" not in line and " 0 of 0 " not in f" {line} ", line
        assert not re.search(r"\bnan\b|\binf\b", line), line
    return lines


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = _execute(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "Question" in first.source, "a notebook opens with its question"
    assert any("Conclusions" in c.source for c in nb.cells if c.cell_type == "markdown")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def _numbers(text: str) -> list[float]:
    return [float(x.replace("−", "-")) for x in re.findall(r"[−+-]?\d+(?:\.\d+)?", text)]


# ---------------------------------------------------------------------------------------- recomputed tables
@pytest.fixture(scope="module")
def trial() -> mo.Dataset:
    return mo.load_sample("trial")


@pytest.fixture(scope="module")
def mmrm_rmdq(trial):
    return mo.fit_mmrm(trial, instrument="rmdq", visit="visit", group="arm", adjust_baseline=True,
                       covariance="unstructured")


CONTRASTS = ["therapeutic - relaxation", "therapeutic - usual_care", "relaxation - usual_care"]


def test_01_conclusions_are_the_tables(trial, mmrm_rmdq):
    lines = _conclusions("01")
    primary = tables.primary_visit(trial)
    assert primary == "week_10"  # issue 17.5: the report and notebook 01 read the same primary visit
    c = mmrm_rmdq.contrasts(CONTRASTS, adjust="holm")
    c = c[c["visit"].astype(str) == primary].set_index("contrast")
    for contrast in CONTRASTS:
        expect = f"MMRM at {primary}: " + narrative.contrast_sentence(c.loc[contrast], label=contrast.replace(" - ", " − "))
        assert expect in lines
    row = c.loc["therapeutic - relaxation"]
    tr_line = next(line for line in lines if line.startswith(f"MMRM at {primary}: therapeutic − relaxation"))
    assert _numbers(tr_line.split(":", 1)[1])[:3] == [round(float(row[k]), 1) for k in ("estimate", "ci_low", "ci_high")]
    n90 = mmrm_rmdq.contrasts(CONTRASTS, adjust="none", level=0.90, effect_size=False)
    tr90 = n90[(n90["visit"].astype(str) == primary)].set_index("contrast").loc["therapeutic - relaxation"]
    verdict = narrative.margin_verdict(tr90, 2.0)
    assert any(verdict in line for line in lines) and "90% CI" in verdict  # issue 17.2: TOST reads the 90% CI
    assert verdict.startswith("equivalent")  # as Cherkin 2011, once the interval is the right one
    frame = trial.analysis_frame("rmdq")
    for contrast in CONTRASTS:
        a, b = contrast.split(" - ")
        g = mo.effect_sizes(frame, instrument="rmdq", compare=("arm", a, b), on="ancova", end=primary).iloc[0]
        assert "Baseline-adjusted " + narrative.effect_sentence(g, measure="Hedges' g", label=contrast) + "." in \
            [f"{line}" for line in lines]
    for contrast in ("therapeutic - usual_care", "relaxation - usual_care"):
        a, b = contrast.split(" - ")
        r = mo.responders(frame, instrument="rmdq", compare=("arm", a, b), end=primary).iloc[0]
        assert f"{r['rate_1']:.0%} versus {r['rate_2']:.0%}" in next(line for line in lines if f"{a} versus {b}" in line)


def test_02_conclusions_are_the_tables():
    lines = _conclusions("02")
    pain = mo.load_sample("clinic").analysis_frame("pain_nrs")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        immediate = mo.effect_sizes(pain, instrument="pain_nrs", by=["condition", "technique"], start="pre",
                                    end="post", adjust="holm")
        course = mo.effect_sizes(pain, instrument="pain_nrs", by=["condition"], start="baseline", end="last",
                                 adjust="holm")
        per_clinic = mo.effect_sizes(pain, instrument="pain_nrs", by=["condition", "clinic"], start="pre", end="post")
        pooled = mo.pool(per_clinic[per_clinic["reliable"]], method="REML", test="knha", by="condition")
    ok = immediate[immediate["reliable"]]
    assert f"estimated reliably in {len(ok)} of {len(immediate)} condition × technique cells" in lines[0]
    assert f"{int((ok['p_adjusted'] < 0.05).sum())} of {len(ok)} cells show a change" in lines[0]
    c_ok = course[course["reliable"]]
    assert len(c_ok) == 7  # issue 17.1: the informational missing-data note no longer empties the table
    fell = next(line for line in lines if "course of care" in line)
    assert f"pain fell in {int((c_ok['ci_high'] < 0).sum())} of {len(c_ok)} conditions" in fell
    assert _numbers(fell.split("ranged", 1)[1]) == [round(c_ok["estimate"].min(), 2), round(c_ok["estimate"].max(), 2)]
    p_ok = pooled[pooled["reliable"]]
    pooled_line = next(line for line in lines if line.startswith("Pooled across clinics"))
    assert f"{int((p_ok['ci_high'] < 0).sum())} of {len(p_ok)} conditions" in pooled_line
    assert f"median I² = {np.nanmedian(p_ok['I2']):.0f}%" in pooled_line


def test_03_conclusions_are_the_tables(trial):
    lines = _conclusions("03")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_int = mo.fit_trajectories(trial, instrument="pain_nrs", time="week", random="intercept")
        f_slope = mo.fit_trajectories(trial, instrument="pain_nrs", time="week", random="slope")
        lrt = f_int.lrt(f_slope)
        f_knot = mo.fit_trajectories(trial, instrument="pain_nrs", time="week", random="slope",
                                     time_basis=("piecewise", 10))
        lmm_c = f_knot.contrasts(CONTRASTS, at={"week": [4, 10, 26]}, adjust="holm")
        mmrm = mo.fit_mmrm(trial, instrument="pain_nrs", visit="visit", group="arm", adjust_baseline=True)
        mmrm_c = mmrm.contrasts(CONTRASTS, adjust="holm")
    assert f"χ² = {narrative.number(lrt['chisq'].iloc[1])} on {lrt['df'].iloc[1]:.0f} df, " \
           f"{narrative.p_text(lrt['p_value'].iloc[1])}" in lines[0]
    week_of = {"week_4": 4.0, "week_10": 10.0, "week_26": 26.0}
    side = lmm_c.merge(mmrm_c.assign(week=mmrm_c["visit"].astype(str).map(week_of)), on=["contrast", "week"],
                       suffixes=("_lmm", "_mmrm"))
    side = side[side["reliable_lmm"]]
    agree = int((np.sign(side["estimate_lmm"]) == np.sign(side["estimate_mmrm"])).sum())
    gap = float((side["estimate_lmm"] - side["estimate_mmrm"]).abs().max())
    last = next(line for line in lines if line.startswith("Mixed model and MMRM"))
    assert f"agree in sign for {agree} of {len(side)} visit contrasts" in last
    assert f"is {narrative.number(gap)} points" in last


def test_04_conclusions_are_the_tables():
    lines = _conclusions("04")
    pub = pd.read_csv(HERE.parent / "data" / "published" / "published_evidence.csv")
    no_ci = pub["ci_low"].isna() | pub["ci_high"].isna()
    assert lines[0] == (f"The file holds {len(pub)} published estimates from {pub['study'].nunique()} studies: "
                        f"{int((pub['provenance'] == 'P').sum())} read in the primary source, "
                        f"{int((pub['provenance'] == 'S').sum())} second-hand; {int(no_ci.sum())} have no confidence "
                        "interval and cannot be pooled.")
    ch = pub[(pub["study"] == "Cherkin2011") & (pub["outcome"] == "rmdq")].set_index("contrast")
    r = ch.loc["relaxation - usual_care"]
    assert narrative.ci_text(r["estimate"], r["ci_low"], r["ci_high"], digits=1, signed=True) in lines[1]
    furlan = pub[(pub["study"] == "Furlan2015") & (pub["outcome"] == "pain") & (pub["timepoint"] == "short term")
                 & pub["contrast"].str.contains("inactive")]
    pooled = mo.pool(furlan, method="REML", test="knha", se=None, ci_low="ci_low", ci_high="ci_high",
                     measure="measure").iloc[0]
    pain = next(line for line in lines if line.startswith("Pain, short term"))
    assert narrative.ci_text(pooled["estimate"], pooled["ci_low"], pooled["ci_high"]) in pain
    assert f"from {int(pooled['k'])} independent" in pain


def test_07_conclusions_are_the_tables(trial, mmrm_rmdq):
    lines = _conclusions("07")
    primary = tables.primary_visit(trial)
    tk = mmrm_rmdq.contrasts("pairwise", adjust="tukey", effect_size=False)
    bf = mmrm_rmdq.contrasts("pairwise", adjust="bonferroni", effect_size=False)
    tk, bf = (t[t["visit"].astype(str) == primary].reset_index(drop=True) for t in (tk, bf))
    excl = int(((tk["ci_low"] > 0) | (tk["ci_high"] < 0)).sum())
    excl_t = int(((tk["sci_low"] > 0) | (tk["sci_high"] < 0)).sum())
    excl_b = int(((bf["sci_low"] > 0) | (bf["sci_high"] < 0)).sum())
    assert lines[0] == (f"At {primary} the unadjusted 95% interval excludes zero for {excl} of {len(tk)} pairwise "
                        f"contrasts; Tukey's simultaneous 95% interval for {excl_t}, Bonferroni's for {excl_b}.")
    ratio = ((tk["sci_high"] - tk["sci_low"]) / (tk["ci_high"] - tk["ci_low"])).mean()
    assert f"on average {ratio:.2f} times as wide" in lines[1] and ratio > 1
    for _, row in tk.iterrows():
        line = next(x for x in lines if x.startswith(row["contrast"].replace(" - ", " − ") + ":"))
        nums = _numbers(line.split(":", 1)[1])
        assert nums[:3] == [round(float(row[k]), 1) for k in ("estimate", "ci_low", "ci_high")]
        assert f"[{narrative.number(row['sci_low'], 1)}, {narrative.number(row['sci_high'], 1)}] Tukey" in line
        assert narrative.p_text(row["p_adjusted"], label="Tukey-adjusted p") in line
    n90 = mmrm_rmdq.contrasts("therapeutic - relaxation", adjust="none", level=0.90, effect_size=False)
    tr90 = n90[n90["visit"].astype(str) == primary].iloc[0]
    assert narrative.margin_verdict(tr90, 2.0) in lines[-1]


def test_05_conclusions_are_the_tables():
    """Notebook 05 (issue 10): its counts are the read's accounting and its effect size the table's."""
    lines = _conclusions("05")
    data = HERE.parent / "tests" / "data" / "real_like" / "wide_trial.csv"
    plan = mo.describe(data)
    plan["instruments"]["neck_pain"].update(range=[0, 10], direction="lower")
    plan["measurements"]["Neck pain end of treatment"]["day"] = 70
    plan["arm"]["intent"]["Massage"] = "therapeutic"
    ds = mo.read(data, mapping=plan)
    src = ds.source
    cells = len(pd.read_csv(data)) * len(plan["measurements"])
    assert _numbers(lines[0])[:4] == [src["rows_kept"], cells, src["empty_cells"], src["rows_rejected"]]
    assert _numbers(lines[0])[4] == len(ds.subjects)
    row = mo.effect_sizes(ds, instrument="ndi", compare=("arm", "Massage", "Usual care"), end="week_6").full.iloc[0]
    got = _numbers(lines[1].split("Hedges' g", 1)[1])
    assert np.allclose(got[:3], [row["estimate"], row["ci_low"], row["ci_high"]], atol=0.006)
    assert row["favours"] in lines[1]


def test_06_conclusions_are_the_tables(trial):
    """Notebook 06 (issue 12): each sentence is the recomputed MMRM, imputation, delta and tipping-point row."""
    from massage_outcomes.sensitivity import dropout_events, tipping_deltas

    lines = _conclusions("06")
    primary, contrast, label = tables.primary_visit(trial), "therapeutic - usual_care", "therapeutic − usual_care"
    mmrm = mo.fit_mmrm(trial, instrument="rmdq", visit="visit", group="arm", adjust_baseline=True)
    c = mmrm.contrasts([contrast, "relaxation - usual_care"], adjust="holm", effect_size=False)
    row = c[c["visit"].astype(str) == primary].set_index("contrast").loc[contrast]
    assert lines[0] == f"Primary MMRM (MAR) at {primary}: " + narrative.contrast_sentence(row, label=label)
    dropouts = dropout_events(trial, instrument="rmdq", strategy="MAR")
    assert len(dropouts) > 0
    rows = {}
    for s in ("MAR", "JR", "CR", "CIR"):
        ev = mo.intercurrent_events(trial, instrument="rmdq", events=dropouts.table.assign(strategy=s))
        res = mo.impute(trial, instrument="rmdq", reference="usual_care", events=ev)
        r = res.results
        rows[s] = r[(r["visit"] == primary) & (r["contrast"] == contrast)].iloc[0]
        line = next(x for x in lines if x.startswith(f"{s} ("))
        assert line.endswith(narrative.contrast_sentence(rows[s], label=label))
        assert _numbers(line.split(":", 1)[1])[:3] == [round(float(rows[s][k]), 1) for k in ("estimate", "ci_low", "ci_high")]
    # the strategies differ from each other (the imputations are not all the same)
    assert len({round(float(r["estimate"]), 6) for r in rows.values()}) > 1
    excl = sum(bool(r["ci_low"] > 0 or r["ci_high"] < 0) for r in rows.values())
    assert any(f"excludes 0 under {excl} of 4 imputation strategies" in x for x in lines)
    ev = mo.intercurrent_events(trial, instrument="rmdq", events=dropouts.table.assign(strategy="MAR"))
    res_mar = mo.impute(trial, instrument="rmdq", reference="usual_care", events=ev)
    d = res_mar.pool(delta={"therapeutic": 2.0})
    d = d[(d["visit"] == primary) & (d["contrast"] == contrast)].iloc[0]
    assert d["estimate"] > rows["MAR"]["estimate"]  # worse outcomes for the treated dropouts shrink the benefit
    assert next(x for x in lines if x.startswith("Delta-adjusted")).endswith(narrative.contrast_sentence(d, label=label))
    grid = mo.tipping_point(res_mar, deltas={"usual_care": [0.0], "therapeutic": [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]},
                            visit=primary, contrast=contrast)
    tip = float(tipping_deltas(grid)["tipping_therapeutic"].iloc[0])
    last = lines[-1]
    if np.isfinite(tip):
        assert f"are {narrative.number(tip, 1)} RMDQ points worse" in last
        assert 0 < tip < 12 and bool(grid["excludes_zero"].iloc[0]) and not bool(grid["excludes_zero"].iloc[-1])
    else:
        assert "over the whole grid" in last and bool(grid["excludes_zero"].all())

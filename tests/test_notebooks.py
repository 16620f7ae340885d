"""Execute every notebook (jupytext percent .py files) with nbclient: a notebook that errors fails CI.

Each runs in a fresh python3 kernel with notebooks/ as the working directory, reading only bundled data.
Set MO_NOTEBOOK_OUT=<dir> to keep the executed .ipynb files (with outputs) for inspection.
"""

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))
TIMEOUT = 600  # per cell, generous for a loaded CI machine; each notebook takes well under a minute alone


def test_there_are_four_notebooks():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nb = jupytext.read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "Question" in first.source, "a notebook opens with its question"
    assert any("Conclusions" in c.source for c in nb.cells if c.cell_type == "markdown")
    env_backup = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures become outputs
    try:
        # kernel "python3": jupyter_client starts it with this interpreter (sys.executable replaces the spec's
        # "python"), so the notebook sees the package installed in the environment under test
        client = nbclient.NotebookClient(
            nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
    finally:
        if env_backup is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backup
    out_dir = os.environ.get("MO_NOTEBOOK_OUT")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        import nbformat

        nbformat.write(nb, Path(out_dir) / f"{path.stem}.ipynb")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


"""Sphinx configuration of the massage_outcomes documentation (build: ``python docs/build.py``)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "src"))

import massage_outcomes  # noqa: E402

project = "massage_outcomes"
author = "massage_outcomes developers"
copyright = "massage_outcomes developers"  # noqa: A001 - Sphinx's name
version = release = massage_outcomes.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "jupyter_execute"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# Notebooks are rendered from outputs executed once (by the test suite, MO_NOTEBOOK_OUT, or by build.py);
# the documentation build never executes them again.
nb_execution_mode = "off"
nb_execution_raise_on_error = True
nb_merge_streams = True

autodoc_default_options = {"members": False, "undoc-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

html_theme = "pydata_sphinx_theme"
html_title = f"massage_outcomes {release}"
html_static_path: list[str] = []
html_theme_options = {"show_toc_level": 2, "navigation_with_keys": False, "secondary_sidebar_items": ["page-toc"]}
html_show_sourcelink = False
html_copy_source = False


def _copy_notebooks(app: object) -> None:
    """Put the executed notebooks (``$MO_NOTEBOOK_OUT`` or ``build/notebooks``) into ``docs/notebooks``."""
    src = Path(os.environ.get("MO_NOTEBOOK_OUT") or ROOT / "build" / "notebooks")
    dst = DOCS / "notebooks"
    dst.mkdir(exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    missing = [p.stem for p in sources if not (src / f"{p.stem}.ipynb").exists()]
    if missing:
        raise RuntimeError(
            f"executed notebooks missing in {src}: {missing}. Build with `python docs/build.py` (it executes "
            "them), or run `MO_NOTEBOOK_OUT=build/notebooks python -m pytest tests/test_notebooks.py` first.")
    for old in dst.glob("*.ipynb"):
        if old.stem not in {p.stem for p in sources}:
            old.unlink()  # a notebook that was renamed or removed
    for p in sources:
        shutil.copyfile(src / f"{p.stem}.ipynb", dst / f"{p.stem}.ipynb")


def setup(app: object) -> None:
    app.connect("builder-inited", _copy_notebooks)  # type: ignore[attr-defined]

# Cross-references are checked (sphinx-build -n) for the package's own fully qualified names; short names in
# docstrings (``save``, ``EVENTS``, attributes listed in a class docstring), module references and third-party
# names render as text without a link.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!massage_outcomes\.).*"),
    (r"py:mod", r".*"),
    (r"py:.*", r"massage_outcomes\.(effects|trajectories|io|dataset|validation)\.[A-Za-z_.]+"),
]

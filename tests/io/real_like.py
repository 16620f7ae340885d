"""The realistic export corpus (tests/data/real_like/), written fresh into a test's folder by its script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real_like"


def write_corpus(folder: Path) -> Path:
    """Run ``make_corpus.py`` into ``folder`` and return it."""
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(folder)
    return folder

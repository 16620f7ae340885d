"""The documentation build's internal link check (docs/build.py) finds missing pages and anchors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUILD = Path(__file__).resolve().parents[1] / "docs" / "build.py"


def _build_module():
    spec = importlib.util.spec_from_file_location("docs_build", BUILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_links_reports_missing_files_and_anchors(tmp_path):
    check_links = _build_module().check_links
    (tmp_path / "guide").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="guide/page.html#usage">ok</a> <a href="guide/page.html#nowhere">bad anchor</a>'
        '<a href="missing.html">bad file</a> <a href="https://example.org/x.html">external</a>'
        '<img src="img.png"> <a href="#top">self</a><h1 id="top">t</h1>', encoding="utf-8")
    (tmp_path / "guide" / "page.html").write_text('<h2 id="usage">u</h2><a href="../index.html">up</a>',
                                                  encoding="utf-8")
    bad = check_links(tmp_path)
    assert bad == ["index.html: guide/page.html#nowhere (no anchor #nowhere)",
                   "index.html: missing.html (no such file)", "index.html: img.png (no such file)"]
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    (tmp_path / "missing.html").write_text("<p>now here</p>", encoding="utf-8")
    assert check_links(tmp_path) == ["index.html: guide/page.html#nowhere (no anchor #nowhere)"]

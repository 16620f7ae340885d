"""Build the documentation site: ``python docs/build.py`` (output in ``docs/_build/html``; never committed).

1. Executed notebooks: each ``notebooks/NN_*.py`` is executed once into ``build/notebooks/NN_*.ipynb`` (or
   ``$MO_NOTEBOOK_OUT``) unless an executed copy newer than the source is there already: CI's test run writes them
   (``MO_NOTEBOOK_OUT=build/notebooks``), so CI executes every notebook once. ``--no-execute`` fails instead.
2. ``sphinx-build -W --keep-going -n``: any warning (a bad docstring, a broken cross-reference) fails the build.
3. Every internal link and image of the built site is checked: the file exists and the ``#anchor`` is in it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent


def execute_notebooks(out: Path, *, allow: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for src in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        target = out / f"{src.stem}.ipynb"
        if target.exists() and target.stat().st_mtime >= src.stat().st_mtime:
            continue
        if not allow:
            raise SystemExit(f"{target} is missing or older than {src.name}; run the notebook tests with "
                             f"MO_NOTEBOOK_OUT={out} first, or build without --no-execute")
        import jupytext
        import nbclient
        import nbformat

        print(f"executing {src.name} ...", flush=True)
        nb = jupytext.read(src)
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(src.parent)}}).execute()
        nbformat.write(nb, target)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(str(a[key]))
        for key in ("href", "src"):
            v = a.get(key)
            if v and (tag in ("a", "img", "script") or (tag == "link" and key == "href")):
                self.links.append(v)


def check_links(site: Path) -> list[str]:
    """Broken internal links of a built HTML site: (page, link) for a missing file or anchor."""
    parsed: dict[Path, _Links] = {}

    def parse(p: Path) -> _Links:
        if p not in parsed:
            h = _Links()
            h.feed(p.read_text(encoding="utf-8", errors="replace"))
            parsed[p] = h
        return parsed[p]

    bad = []
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.relative_to(site).parts:  # the theme's template fragments, not pages
            continue
        for link in parse(page).links:
            u = urlsplit(link)
            if u.scheme or link.startswith(("//", "data:", "mailto:", "javascript:")):
                continue
            target = page if not u.path else (page.parent / unquote(u.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                bad.append(f"{page.relative_to(site)}: {link} (no such file)")
                continue
            frag = unquote(u.fragment)
            if frag and target.suffix == ".html" and frag not in parse(target).ids:
                bad.append(f"{page.relative_to(site)}: {link} (no anchor #{frag})")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-execute", action="store_true", help="fail if an executed notebook is missing")
    ap.add_argument("--out", default=str(DOCS / "_build" / "html"))
    args = ap.parse_args(argv)
    nb_out = Path(os.environ.get("MO_NOTEBOOK_OUT") or ROOT / "build" / "notebooks")
    os.environ["MO_NOTEBOOK_OUT"] = str(nb_out)
    execute_notebooks(nb_out, allow=not args.no_execute)
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(DOCS), args.out]
    rc = subprocess.call(cmd, cwd=ROOT)
    if rc:
        return rc
    bad = check_links(Path(args.out))
    for line in bad:
        print("broken link:", line, file=sys.stderr)
    pages = len(list(Path(args.out).rglob("*.html")))
    print(f"documentation: {pages} pages in {args.out}; {len(bad)} broken internal links")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Render benchmark ``--json`` output into ``benchmarks/RESULTS.md``.

Each benchmark writes its results as JSON under ``benchmarks/_out/`` (ignored by git) and never touches a
tracked file. To record a run, render its JSON into RESULTS.md on purpose::

    python benchmarks/results.py benchmarks/_out/bench_effects.json [--title "quiet machine, final code"]

The run's section (between ``<!-- run:NAME -->`` and ``<!-- /run:NAME -->``, NAME from ``--name`` or the file's
stem) is replaced, or added above the history. Flat results become a ``metric | value`` table; lists of
records (e.g. bench_kernels' size ladders) a table with one row per record.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("RESULTS.md")
HISTORY = "## History"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and all(isinstance(x, int | float) for x in v):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return out


def render(data: dict[str, Any], depth: int = 4) -> list[str]:
    """Markdown for one JSON result: nested dicts become headed sections, lists of dicts tables."""
    lines: list[str] = []
    flat = {k: v for k, v in data.items() if not isinstance(v, dict) and not _records(v)}
    if flat:
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in flat.items()] + [""]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["#" * depth + f" {k}", ""] + render(v, depth + 1)
        elif _records(v):
            lines += _table(v) + [""]
    return lines


def _records(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", type=Path)
    ap.add_argument("--name", default=None, help="section name (default: the JSON file's stem)")
    ap.add_argument("--title", default="", help="a few words on the conditions of the run")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    data = json.loads(args.json.read_text())
    name = args.name or args.json.stem
    meta = data.get("meta", {})
    head = f"### {name}" + (f": {args.title}" if args.title else "")
    if meta.get("utc"):
        head += f" ({meta['utc']} UTC)"
    body = "\n".join([f"<!-- run:{name} -->", head, "", *render(data), f"<!-- /run:{name} -->"])
    text = args.results.read_text() if args.results.exists() else f"# Benchmark results\n\n{HISTORY}\n"
    pattern = re.compile(rf"<!-- run:{re.escape(name)} -->.*?<!-- /run:{re.escape(name)} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: body, text)
    elif HISTORY in text:
        text = text.replace(HISTORY, body + "\n\n" + HISTORY, 1)
    else:
        text = text.rstrip() + "\n\n" + body + "\n"
    args.results.write_text(text)
    print(f"{args.results}: section {name!r} written")


if __name__ == "__main__":
    main()

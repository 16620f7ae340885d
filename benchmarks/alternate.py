"""Compare builds on a busy machine: run one benchmark script on each build in turn, several rounds, in one go.

Timings on a shared machine drift by tens of percent within minutes, so a before/after comparison is only fair
when the two builds alternate under the same load. This runs ``SCRIPT ARGS...`` once per build per round, in
the order old, new, old, new, ... (each in a fresh interpreter with ``PYTHONPATH`` set to the build's ``src``),
keeps every run's JSON (under ``benchmarks/_out/alternate/``) and prints, for each numeric result whose name
contains one of ``--keys``, the range over the rounds per build.

Run::

    python benchmarks/alternate.py --build old=/path/to/old/src --build new=src --rounds 3 \\
        -- benchmarks/bench_effects.py --only b --repeat 3

Writes ``benchmarks/_out/alternate.json`` (``--json``): {build: {metric: [value per round]}}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("_out")


def flatten(data: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(data, int | float) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", required=True, metavar="NAME=SRC",
                    help="a build: its name and its src directory (give two or more)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", default="speedup,ratio", help="comma-separated parts of the metric names to show")
    ap.add_argument("--json", type=Path, default=OUT / "alternate.json")
    ap.add_argument("script", nargs=argparse.REMAINDER, help="-- SCRIPT ARGS...")
    args = ap.parse_args()
    script = [a for a in args.script if a != "--"]
    builds = dict(b.split("=", 1) for b in args.build)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
    (OUT / "alternate").mkdir(parents=True, exist_ok=True)
    for r in range(args.rounds):
        for name, src in builds.items():
            out = OUT / "alternate" / f"{name}-{r + 1}.json"
            env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
            print(f"round {r + 1}, {name}: {' '.join(script)}", flush=True)
            subprocess.run([sys.executable, *script, "--json", str(out)], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            runs[name].append(flatten(json.loads(out.read_text())))
    keys = [k for k in args.keys.split(",") if k]
    metrics = sorted({m for rs in runs.values() for r in rs for m in r if any(k in m for k in keys)})
    table: dict[str, dict[str, list[float]]] = {n: {m: [r[m] for r in rs if m in r] for m in metrics}
                                                for n, rs in runs.items()}
    width = max((len(m) for m in metrics), default=10)
    print(f"{'metric':<{width}}  " + "  ".join(f"{n + ' (min-max, median)':>28}" for n in builds))
    for m in metrics:
        cells = []
        for n in builds:
            v = sorted(table[n][m])
            cells.append(f"{v[0]:8.3g}-{v[-1]:<8.3g} ({v[len(v) // 2]:.3g})" if v else "-")
        print(f"{m:<{width}}  " + "  ".join(f"{c:>28}" for c in cells))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: read + validate a 5-million-row long CSV with ``mo.read`` versus ``pandas.read_csv(engine="pyarrow")``.

Goal (issue 2): ``mo.read`` takes at most 2x the time of pandas' pyarrow reader alone on the same file, and its
peak memory is at most 3x the final Dataset's memory.

Each measurement runs in a fresh subprocess so peak memory belongs to that reader alone: after imports the
kernel's peak mark is reset (``/proc/self/clear_refs``), and the peak (``VmHWM``) minus the resident size before
the read is the reader's peak working memory. The file is generated once from ``mo.simulate_clinic`` (all
conditions, techniques, therapists, clinics; pre/post session ratings) under ``benchmarks/_data/`` (not
committed).

How ``mo.read`` gets there, and what it measured, is in ``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/bench_read.py                 # 5,000,000 rows, 3 repeats
    python benchmarks/bench_read.py --rows 200000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

LONG_COLUMNS = ["study", "subject", "arm", "condition", "clinic", "age", "sex", "session", "technique", "intent",
                "therapist", "duration_min", "instrument", "visit", "day", "timing", "value"]


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so imports do not count; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_kb() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def generate(rows: int, path: Path) -> Path:
    """Write a long CSV of ``rows`` rows from the clinic simulator (repeated studies until long enough)."""
    import numpy as np
    import pandas as pd

    import massage_outcomes as mo

    path.parent.mkdir(parents=True, exist_ok=True)
    frames, total, k = [], 0, 0
    while total < rows:
        ds = mo.simulate_clinic(n_subjects=50_000, seed=100 + k, study=f"CLINIC-{k}")
        parts = [ds.analysis_frame(i) for i in ds.instruments]
        long = pd.concat(parts, ignore_index=True)
        long = long[[c for c in LONG_COLUMNS if c in long.columns]]
        frames.append(long)
        total += len(long)
        k += 1
    long = pd.concat(frames, ignore_index=True).iloc[:rows]
    # a subject cut in half at the end is fine: every row is still valid on its own
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(long, preserve_index=False)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    del np
    return path


def _child(kind: str, path: str) -> None:
    import gc

    import pandas as pd

    import massage_outcomes as mo
    from massage_outcomes.io import _read  # noqa: F401  (import cost outside the timing)

    gc.collect()
    base = _rss_kb()
    _reset_peak()
    t0 = time.perf_counter()
    if kind == "pandas":
        df = pd.read_csv(path, engine="pyarrow")
        elapsed = time.perf_counter() - t0
        final = int(df.memory_usage(deep=True).sum())
        n = len(df)
    else:
        ds = mo.read(path)
        elapsed = time.perf_counter() - t0
        final = sum(int(t.memory_usage(deep=True).sum()) for t in (ds.subjects, ds.sessions, ds.outcomes))
        n = ds.source["rows_read"]
        assert ds.source["rows_read"] == ds.source["rows_kept"] + ds.source["rows_rejected"]
    peak = _peak_kb()
    print(json.dumps({"kind": kind, "seconds": elapsed, "rows": n, "final_bytes": final,
                      "peak_bytes": (peak - base) * 1024, "base_bytes": base * 1024}))


def run(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=Path(__file__).with_name("_out") / "bench_read.json",
                    help="where the results go (JSON)")
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    path = DATA / f"long_{args.rows}.csv"
    if not path.exists():
        t = time.perf_counter()
        generate(args.rows, path)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
    results: dict[str, list[dict]] = {"pandas": [], "mo": []}
    for _ in range(args.repeats):
        for kind in ("pandas", "mo"):
            results[kind].append(run(kind, path))
    best = {k: min(v, key=lambda r: r["seconds"]) for k, v in results.items()}
    peak = {k: min(r["peak_bytes"] for r in v) for k, v in results.items()}
    time_ratio = best["mo"]["seconds"] / best["pandas"]["seconds"]
    mem_ratio = peak["mo"] / best["mo"]["final_bytes"]
    summary = {
        "rows": best["mo"]["rows"], "file_mb": path.stat().st_size / 1e6,
        "pandas_pyarrow_s": best["pandas"]["seconds"], "mo_read_s": best["mo"]["seconds"],
        "time_ratio": time_ratio, "time_goal": 2.0,
        "mo_peak_mb": peak["mo"] / 1e6, "mo_final_mb": best["mo"]["final_bytes"] / 1e6,
        "memory_ratio": mem_ratio, "memory_goal": 3.0,
        "pandas_peak_mb": peak["pandas"] / 1e6, "pandas_final_mb": best["pandas"]["final_bytes"] / 1e6,
        "pandas_memory_ratio": peak["pandas"] / best["pandas"]["final_bytes"],
    }
    for k, v in summary.items():
        print(f"{k:>22}: {v:.3f}" if isinstance(v, float) else f"{k:>22}: {v}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

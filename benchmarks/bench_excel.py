"""Benchmark: read one large workbook's sheet with openpyxl (read-only, the default reader) versus python-calamine
(pandas' ``engine="calamine"``), each in a fresh subprocess, with its peak memory; and each engine on a bomb-like
workbook (a sheet padded with whitespace that inflates ~1000-fold), which ``mo.read`` refuses from the central
directory before either engine starts (issue 18 item 1).

Usage::

    python benchmarks/bench_excel.py --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def _peak_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def generate(rows: int, path: Path) -> Path:
    import openpyxl

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("data")
    ws.append(["subject", "arm", "condition", "instrument", "visit", "day", "value", "age", "sex", "clinic"])
    for i in range(rows):
        ws.append([f"S{i // 4:06d}", "therapeutic" if i % 8 < 4 else "relaxation", "low_back_pain", "rmdq",
                   ("baseline", "week 4", "week 10", "week 26")[i % 4], (0, 28, 70, 182)[i % 4], (i * 7) % 25,
                   30 + i % 40, "female" if i % 3 else "male", f"clinic_{i % 5}"])
    wb.save(path)
    return path


def bomb(src: Path, path: Path, padding: int = 200 << 20) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data += b" " * padding
            out.writestr(info.filename, data)
    return path


def _child(kind: str, path: str) -> None:
    import pandas as pd

    import massage_outcomes as mo
    from massage_outcomes.io._formats import read_excel
    from massage_outcomes.io.limits import raised

    base = _rss_kb()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    t0 = time.perf_counter()
    if kind == "guarded":  # mo.read with the default limits: refused from the central directory
        try:
            mo.read(path)
            n = -1
        except mo.DataValidationError as err:
            n = 0
            assert "limit" in str(err), str(err)[:300]
    else:
        with raised(max_ratio=1e9, max_bytes=1 << 40):  # the engines themselves, past the guard
            if kind == "openpyxl":
                n = len(read_excel(Path(path)).frame)
            else:
                n = len(pd.read_excel(path, engine="calamine"))
    print(json.dumps({"kind": kind, "seconds": time.perf_counter() - t0, "rows": n,
                      "peak_mb": (_peak_kb() - base) / 1024}))


def run(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    book = DATA / f"bench_{args.rows}.xlsx"
    if not book.exists():
        generate(args.rows, book)
    bombed = bomb(book, DATA / f"bomb_{args.rows}.xlsx")
    print(f"workbook {book.stat().st_size / 1e6:.1f} MB; bomb {bombed.stat().st_size / 1e6:.1f} MB")
    for path in (book, bombed):
        for kind in ("openpyxl", "calamine"):
            print(path.name, run(kind, path))
    print(bombed.name, run("guarded", bombed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

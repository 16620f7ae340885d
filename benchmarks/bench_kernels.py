"""Where the compiled layer pays: each numba kernel against the numpy/scipy/pandas path, warm, over sizes.

For every kind in ``massage_outcomes.effects._kernels.THRESHOLDS`` this times the library call that dispatches
it, once on the numpy path (numba not used) and once compiled (every call compiled), at a ladder of sizes, and
reports both times, their ratio and the smallest size from which the compiled call was at least ``--margin``
times and ``--saving-ms`` faster (the rule behind ``_kernels.THRESHOLDS``). Both paths are warmed by one call first: the
one-off costs (importing numba and loading the cached kernels; compiling them on a new machine) are timed
separately, in fresh interpreters, and reported under ``cold``.

Run::

    OPENBLAS_NUM_THREADS=1 nice -n 10 /work/venv/bin/python benchmarks/bench_kernels.py [--quick] [--json PATH]

Results go to ``benchmarks/_out/bench_kernels.json`` (ignored by git) unless ``--json`` names another file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from massage_outcomes.effects import _kernels, intervals, summary
from massage_outcomes.effects.api import _arm_codes

OUT = Path(__file__).with_name("_out")


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Best wall-clock seconds of ``repeat`` runs (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def on_path(compiled: bool, fn: Callable[[], object], repeat: int) -> float:
    saved = _kernels.MODE
    _kernels.MODE = "always" if compiled else "never"
    try:
        return best_of(fn, repeat)
    finally:
        _kernels.MODE = saved


def _labels(rng: np.random.Generator, n: int, k: int = 715) -> pd.Series:
    return pd.Series(pd.array(np.char.add("T", rng.integers(0, k, n).astype(str)), dtype="str"))


def cases(quick: bool) -> dict[str, tuple[str, list[int], Callable[[int], Callable[[], object]]]]:
    """kind -> (what the size counts, sizes, size -> the call to time)."""
    rng = np.random.default_rng(1)
    rows = [1_000, 10_000, 100_000, 1_000_000] if not quick else [1_000, 10_000, 100_000]
    rows_fine = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000] if not quick else [1_000, 10_000, 100_000]

    def resample(size: int) -> Callable[[], object]:
        # 2,000 resamples of the two arms of one group, continuous values: size = 2000 × rows
        n_rows = max(size // 2000, 2)
        z = rng.normal(size=n_rows)
        offsets = np.array([0, n_rows // 2, n_rows])
        return lambda: _kernels.resampled_sums(z, offsets, 2000, 7)

    def nct(size: int) -> Callable[[], object]:
        df = rng.integers(10, 290, size).astype(float)
        t = rng.normal(0.0, 2.0, size)
        return lambda: intervals.nct_ncp_interval_p(t, df)

    def factorize(size: int) -> Callable[[], object]:
        frame = pd.DataFrame({"therapist": _labels(rng, size)})
        return lambda: summary._group_codes(frame, ["therapist"])

    def match(size: int) -> Callable[[], object]:
        arm = pd.Series(pd.array(np.array(["therapeutic", "relaxation", "other"])[rng.integers(0, 3, size)],
                                 dtype="str"))
        return lambda: _arm_codes(arm, "therapeutic", "relaxation")

    def combine(size: int) -> Callable[[], object]:
        frame = pd.DataFrame({
            "therapist": pd.Categorical.from_codes(rng.integers(0, 715, size), categories=[f"T{i}" for i in range(715)]),
            "condition": pd.Categorical.from_codes(rng.integers(0, 7, size), categories=list("abcdefg")),
        })
        return lambda: summary._group_codes(frame, ["therapist", "condition"])

    def arm_bins(size: int) -> Callable[[], object]:
        codes = rng.integers(-1, 5005, size)
        arm = rng.integers(-1, 2, size).astype(np.int8)
        return lambda: _kernels.arm_group_codes(codes, arm, 5005)

    def moments(size: int) -> Callable[[], object]:
        v = rng.normal(size=size)
        codes = rng.integers(-1, 10_010, size).astype(np.int32)
        return lambda: _kernels.grouped_moments(v, codes, 10_010)

    draws = ([40_000, 120_000, 400_000, 1_200_000, 4_000_000, 12_000_000, 40_000_000] if not quick
             else [40_000, 400_000, 4_000_000])
    groups = [10, 30, 100, 300, 1_000, 3_000, 10_000] if not quick else [30, 300, 3_000]
    return {
        "resample": ("row indices drawn (B x rows), one two-arm group, B = 2000", draws, resample),
        "nct": ("groups (df <= 300), both exact limits and the p-value", groups, nct),
        "factorize": ("rows of Arrow string labels (715 distinct), group codes", rows_fine, factorize),
        "match": ("rows of Arrow string arm labels matched to two arms", rows_fine, match),
        "combine": ("rows, two Categorical keys (715 x 7) combined into group codes", rows_fine, combine),
        "arm_bins": ("rows binned into (group, arm), 5,005 groups", rows, arm_bins),
        "moments": ("rows summed into 10,010 bins", rows_fine, moments),
    }


def threshold(rows: list[dict[str, float]], margin: float, saving: float) -> int | None:
    """The smallest size from which every larger measured size was at least ``margin`` times faster compiled
    and ``saving`` seconds faster (None: nowhere)."""
    best = None
    for row in reversed(rows):
        if row["ratio"] < margin or row["numpy_s"] - row["compiled_s"] < saving:
            break
        best = int(row["size"])
    return best


def cold() -> dict[str, float]:
    """Seconds in fresh interpreters: importing the package's effects; importing numba with the cached kernels;
    the first compiled call of each kind (cache load), all on top of the interpreter's own start."""
    env = dict(os.environ, MASSAGE_OUTCOMES_COMPILED="always")

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        return time.perf_counter() - t0

    base = run("pass")
    effects = run("import massage_outcomes.effects")
    numba_ = run("import massage_outcomes.effects._compiled")
    first = run("import numpy as np, pandas as pd\n"
                "from massage_outcomes.effects import _kernels, intervals\n"
                "z = np.arange(100.0); o = np.array([0, 50, 100])\n"
                "_kernels.resampled_sums(z, o, 200, 1)\n"
                "intervals.nct_ncp_interval_p(np.array([1.0, 2.0]), np.array([20.0, 30.0]))\n"
                "_kernels.grouped_moments(z, np.zeros(100, dtype=np.int64), 1)\n")
    return {"python_s": base, "import_effects_s": effects - base, "import_numba_kernels_s": numba_ - base,
            "first_compiled_calls_s": first - numba_}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, smaller sizes (a minute)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--margin", type=float, default=2.0, help="compiled must be this many times faster")
    ap.add_argument("--saving-ms", type=float, default=5.0, help="and this many milliseconds faster")
    ap.add_argument("--only", nargs="*", default=None, help="kinds to time (default: all)")
    ap.add_argument("--json", type=Path, default=OUT / "bench_kernels.json")
    args = ap.parse_args()
    if not _kernels.HAVE_NUMBA:
        sys.exit("numba is not installed: pip install 'massage_outcomes[fast]'")
    import numba

    results: dict[str, Any] = {"numba_threads": numba.get_num_threads(), "margin": args.margin,
                               "saving_ms": args.saving_ms, "load_before": os.getloadavg(), "kinds": {}}
    for kind, (unit, sizes, make) in cases(args.quick).items():
        if args.only and kind not in args.only:
            continue
        rows = []
        for size in sizes:
            fn = make(size)
            t_np = on_path(False, fn, args.repeat)
            t_c = on_path(True, fn, args.repeat)
            rows.append({"size": size, "numpy_s": t_np, "compiled_s": t_c, "ratio": t_np / t_c})
            print(f"{kind:10s} {size:>10,d}  numpy {t_np * 1e3:9.3f} ms  compiled {t_c * 1e3:9.3f} ms"
                  f"  ratio {t_np / t_c:6.2f}", flush=True)
        thr = threshold(rows, args.margin, args.saving_ms / 1e3)
        results["kinds"][kind] = {"unit": unit, "rows": rows, "threshold": thr,
                                  "current_threshold": _kernels.THRESHOLDS[kind]}
        print(f"{kind:10s} pays from {thr} (now {_kernels.THRESHOLDS[kind]})", flush=True)
    results["load_after"] = os.getloadavg()
    results["cold"] = cold()
    print("cold", json.dumps(results["cold"]), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

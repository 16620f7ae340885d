"""Benchmark (d) of issue 3: REML pooling of 5,000 studies in under a second, against metafor's rma().

metafor's rma() builds k x k weight and projection matrices, so one REML fit costs O(k^3) per Fisher-scoring
iteration; massage_outcomes.pool works with segment sums, O(k) per iteration, and pools every ``by`` group in
the same pass.

Run::

    /work/venv/bin/python benchmarks/bench_pooling.py            # Python timings only
    /work/venv/bin/python benchmarks/bench_pooling.py --with-r   # plus metafor's rma() on k = 250..2000 (needs Rscript)

Prints one line per measurement: what, k, groups, seconds (best of ``--repeat`` runs), and the ratio to metafor
where one is measured; writes them as JSON to ``benchmarks/_out/bench_pooling.json`` (``--json PATH``).
``--quick`` pools k = 5,000 once (checks the script).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from massage_outcomes.effects.pooling import pool


def make_studies(k: int, groups: int = 1, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, k) if groups > 1 else np.zeros(k, dtype=int)
    n = rng.integers(20, 400, k)
    se = np.sqrt(4.0 / n)  # SMD-like sampling variances
    theta = rng.normal(-0.4, 0.25, k)  # true effects, tau = 0.25
    return pd.DataFrame({"group": g, "estimate": rng.normal(theta, se), "se": se})


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_metafor(ks: list[int], repeat: int) -> dict[int, tuple[float, float, float]]:
    """(seconds, tau2, estimate) of rma(method="REML") per k (best of ``repeat``), run in a fresh Rscript."""
    if shutil.which("Rscript") is None:
        return {}
    out: dict[int, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            path = Path(tmp) / f"k{k}.csv"
            make_studies(k).to_csv(path, index=False)
            script = (
                "suppressPackageStartupMessages(library(metafor));"
                f"d <- read.csv('{path}');"
                f"t <- sapply(1:{repeat}, function(i) system.time(fit <<- rma(d$estimate, sei=d$se, method='REML'))[['elapsed']]);"
                "cat(sprintf('%.17g %.17g %.17g', min(t), fit$tau2, fit$beta))"
            )
            res = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=900)
            try:
                secs, tau2, beta = (float(x) for x in res.stdout.strip().split()[-3:])
                out[k] = (secs, tau2, beta)
            except (ValueError, IndexError):
                print(f"metafor k={k}: failed: {res.stderr.strip()[-200:]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--with-r", action="store_true", help="also time metafor's rma() on k = 250, 500, 1000, 2000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="k = 5,000 only, one repeat")
    ap.add_argument("--json", type=Path, default=Path(__file__).with_name("_out") / "bench_pooling.json")
    args = ap.parse_args()
    if args.quick:
        args.repeat = 1
    warnings.simplefilter("ignore")

    rows = []
    configs = [(5000, 1, "z"), (5000, 1, "knha"), (50_000, 1, "z"), (5000, 500, "knha"), (100_000, 5000, "knha")]
    for k, groups, test in configs[:1] if args.quick else configs:
        df = make_studies(k, groups)
        secs = best_of(lambda df=df, groups=groups, test=test: pool(
            df, method="REML", test=test, by="group" if groups > 1 else None), args.repeat)
        rows.append({"what": f"pool REML test={test}", "k": k, "groups": groups, "seconds": secs})
        if k == 5000 and groups == 1 and test == "z":
            res = pool(df, method="REML")
            print(f"k=5000 REML: estimate={res.estimate[0]:.5f} tau2={res.tau2[0]:.5f} "
                  f"iterations={res.iterations[0]} converged={bool(res.converged[0])}")
    py_by_k: dict[int, float] = {}
    for k in () if args.quick else (250, 500, 1000, 2000):
        df = make_studies(k)
        py_by_k[k] = best_of(lambda df=df: pool(df, method="REML"), args.repeat)
    if args.with_r:
        r_by_k = time_metafor([250, 500, 1000, 2000], repeat=1 if args.repeat < 3 else 3)
        for k, (secs, r_tau2, r_beta) in r_by_k.items():
            ours = pool(make_studies(k), method="REML").iloc[0]
            rows.append({"what": "metafor rma REML", "k": k, "groups": 1, "seconds": secs,
                         "ratio_vs_pool": secs / py_by_k[k],
                         "rel_diff_tau2": abs(ours["tau2"] - r_tau2) / r_tau2,
                         "rel_diff_estimate": abs(ours["estimate"] - r_beta) / abs(r_beta)})
            rows.append({"what": "pool REML test=z", "k": k, "groups": 1, "seconds": py_by_k[k]})
        if len(r_by_k) >= 2:
            ks = np.array(sorted(r_by_k), dtype=float)
            ts = np.array([r_by_k[int(x)][0] for x in ks])
            slope, icpt = np.polyfit(np.log(ks), np.log(ts), 1)
            rows.append({"what": f"metafor extrapolated (t ~ k^{slope:.2f})", "k": 5000, "groups": 1,
                         "seconds": float(np.exp(icpt) * 5000**slope)})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 140, "display.max_columns", 10):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    under = table[(table.what == "pool REML test=z") & (table.k == 5000) & (table.groups == 1)].seconds.iloc[0]
    print(f"\n(d) REML pooling of 5,000 studies: {under:.4f} s ({'PASS' if under < 1 else 'FAIL'}: target < 1 s)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": rows, "pool_reml_k5000_s": under}, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: reference-based imputation, ours against R's rbmi (1.5.2 on mmrm 0.3.18), in one run.

Same simulated trial for both (two arms, baseline, four visits, about 30% monotone dropout with a jump-to-reference
event at dropout), at each size:

- conditional mean imputation with jackknife (``impute(..., method="condmean")`` / ``method_condmean(type =
  "jackknife")``): one REML fit per subject plus one;
- approximate Bayesian MI with 100 imputations (``method="approxbayes"`` / ``method_approxbayes(n_samples =
  100)``).

Each timing covers the imputation model fits, the imputation, the per-visit ANCOVA and the pooling (inside R for
rbmi, so R's start-up is not counted; rbmi runs with mmrm's default optimizer, as users run it). Both sides
report the week-12 jump-to-reference estimate so the runs can be seen to agree.

Run: ``/work/venv/bin/python benchmarks/bench_sensitivity.py [--sizes 100 300] [--json out.json]``
(needs ``R_LIBS=/work/Rlib`` or rbmi installed; without R only our timings are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

VISITS = ["week_2", "week_4", "week_8", "week_12"]

R_CODE = r"""
suppressPackageStartupMessages({library(rbmi); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1]); ev <- read.csv(args[2])
d$subject <- factor(d$subject); d$arm <- factor(d$arm, levels = c("control", "massage"))
d$visit <- factor(d$visit, levels = c("week_2", "week_4", "week_8", "week_12"))
e <- data.frame(subject = ev$subject, visit = factor(ev$visit, levels = levels(d$visit)), strategy = "JR")
vars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value",
                 covariates = c("baseline*visit", "arm*visit"), strategy = "strategy")
avars <- set_vars(subjid = "subject", visit = "visit", group = "arm", outcome = "value", covariates = "baseline")
run <- function(method) {
  t <- system.time({
    dr <- draws(data = d, data_ice = e, vars = vars, method = method, quiet = TRUE)
    p <- pool(analyse(impute(dr, references = c(control = "control", massage = "control")), fun = ancova,
                      vars = avars))
  })[["elapsed"]]
  list(seconds = t, estimate = p$pars$trt_week_12$est)
}
set.seed(1)
out <- list(condmean = run(method_condmean(type = "jackknife")), approxbayes = run(method_approxbayes(n_samples = 100)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[3])
"""


def make_data(n_subjects: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    T = len(VISITS)
    arm = np.array(["control", "massage"])[np.arange(n_subjects) % 2]
    base = rng.normal(14.0, 4.0, n_subjects)
    S = 9.0 * (0.4 + 0.6 * np.eye(T))
    y = 4.0 + 0.6 * base[:, None] - np.array([0.5, 1.0, 1.5, 2.0]) - (arm == "massage")[:, None] * np.array(
        [0.5, 1.5, 2.5, 3.0]) + rng.multivariate_normal(np.zeros(T), S, n_subjects)
    drop = np.where(rng.random(n_subjects) < 0.3, rng.integers(1, T, n_subjects), T)
    value = np.where(np.arange(T)[None, :] < drop[:, None], y, np.nan)
    subj = np.array([f"P{i:05d}" for i in range(n_subjects)])
    long = pd.DataFrame({"subject": np.repeat(subj, T), "arm": np.repeat(arm, T), "visit": np.tile(VISITS, n_subjects),
                         "baseline": np.repeat(base, T), "value": value.ravel()})
    ev = pd.DataFrame({"subject": subj[drop < T], "visit": np.asarray(VISITS)[drop[drop < T]]})
    return long, ev


def ours(long: pd.DataFrame, ev: pd.DataFrame) -> dict[str, dict[str, float]]:
    from massage_outcomes.sensitivity import impute, intercurrent_events

    long = long.assign(visit=pd.Categorical(long["visit"], categories=VISITS, ordered=True))
    events = intercurrent_events(long, events=ev, strategy="JR")
    out = {}
    for method, kw in (("condmean", {}), ("approxbayes", {"n_imputations": 100, "rng": 1})):
        t0 = time.perf_counter()
        r = impute(long, reference="control", events=events, method=method, **kw).results  # type: ignore[arg-type]
        out[method] = {"seconds": time.perf_counter() - t0,
                       "estimate": float(r.loc[r["visit"] == "week_12", "estimate"].iloc[0])}
    return out


def rbmi(long: pd.DataFrame, ev: pd.DataFrame, tmp: Path) -> dict[str, dict[str, float]] | None:
    if shutil.which("Rscript") is None:
        return None
    long.to_csv(tmp / "d.csv", index=False, na_rep="NA")
    ev.to_csv(tmp / "e.csv", index=False)
    (tmp / "bench.R").write_text(R_CODE)
    env = {**os.environ, "R_LIBS": os.environ.get("R_LIBS", "/work/Rlib")}
    res = subprocess.run(["Rscript", str(tmp / "bench.R"), str(tmp / "d.csv"), str(tmp / "e.csv"),
                          str(tmp / "out.json")], env=env, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads((tmp / "out.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    ours(*make_data(60, seed=9))  # warm imports and caches
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for n in args.sizes:
            long, ev = make_data(n)
            a = ours(long, ev)
            b = rbmi(long, ev, Path(td))
            for method in ("condmean", "approxbayes"):
                row = {"subjects": n, "method": method, "ours_s": a[method]["seconds"],
                       "ours_estimate": a[method]["estimate"]}
                if b is not None:
                    row |= {"rbmi_s": b[method]["seconds"], "rbmi_estimate": b[method]["estimate"],
                            "rbmi_over_ours": b[method]["seconds"] / a[method]["seconds"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

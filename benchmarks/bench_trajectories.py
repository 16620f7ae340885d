"""Benchmark: correlated random intercept + slope LMM, 6 visits, 1,000 / 10,000 / 50,000 subjects.

Same data for every tool, each tool in its own subprocess (so its peak memory is its own):

- ours: ``massage_outcomes.fit_trajectories`` (REML; time includes building the design with formulaic; the
  Satterthwaite df, computed on first access to ``fixed_effects``, are timed separately);
- statsmodels ``MixedLM`` (``method="lbfgs"``), skipped at a size when it exceeds ``--sm-timeout`` seconds;
- lme4 ``lmer`` via Rscript (only the ``lmer`` call is timed, inside R);
- ``mixedlm_rs`` (Rust; statsmodels-compatible formula API).

Model: ``value ~ arm * week + (week | subject)``, REML. Prints a table of seconds, log-likelihoods and peak RSS
and the ratios to ours.

Run: ``/work/venv/bin/python benchmarks/bench_trajectories.py [--sizes 1000 10000 50000]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from peers import run_json


def make_data(n_subjects: int, seed: int = 1) -> pd.DataFrame:
    """Three arms, visits at weeks 0, 2, 4, 6, 10, 26, correlated subject intercepts and slopes."""
    rng = np.random.default_rng(seed)
    weeks = np.array([0.0, 2, 4, 6, 10, 26])
    arm = np.array(["relaxation", "therapeutic", "usual_care"])[np.arange(n_subjects) % 3]
    subj = np.repeat(np.arange(n_subjects), len(weeks))
    week = np.tile(weeks, n_subjects)
    b = rng.multivariate_normal([0, 0], [[4.0, -0.1], [-0.1, 0.02]], n_subjects)
    slope = np.select([arm == "therapeutic", arm == "relaxation"], [-0.3, -0.15], -0.05)
    y = 12 + b[subj, 0] + (slope[subj] + b[subj, 1]) * week + rng.normal(0, 1.5, len(subj))
    return pd.DataFrame({"subject": [f"S{i:06d}" for i in subj], "arm": arm[subj], "week": week, "value": y})


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(tool: str, path: str) -> dict:
    data = pd.read_csv(path)
    small = data.iloc[:600]
    for _ in range(2):  # first pass warms imports and caches (every Python tool alike), second pass is timed
        d = small if _ == 0 else data
        res = _run(tool, d)
    return res


def _run(tool: str, data: pd.DataFrame) -> dict:
    if tool == "ours":
        import massage_outcomes as mo

        t0 = time.perf_counter()
        fit = mo.fit_trajectories(data, time="week", group="arm", random="slope", timing=None)
        t1 = time.perf_counter()
        _ = fit.fixed_effects
        t2 = time.perf_counter()
        return {"seconds": t1 - t0, "satterthwaite_seconds": t2 - t1, "loglik": fit.loglik,
                "converged": fit.converged, "maxrss_mb": _maxrss_mb()}
    if tool == "statsmodels":
        import warnings

        import statsmodels.formula.api as smf

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = smf.mixedlm("value ~ arm * week", data, groups=data["subject"], re_formula="~week").fit(
                reml=True, method="lbfgs"
            )
        return {"seconds": time.perf_counter() - t0, "loglik": float(res.llf), "maxrss_mb": _maxrss_mb()}
    if tool == "mixedlm_rs":
        import warnings

        import mixedlm_rs

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = mixedlm_rs.mixedlm("value ~ arm * week", data, groups=data["subject"], re_formula="~week").fit(
                reml=True
            )
        return {"seconds": time.perf_counter() - t0, "loglik": float(res.llf), "maxrss_mb": _maxrss_mb()}
    raise ValueError(tool)


R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
d <- read.csv(commandArgs(TRUE)[1])
d$arm <- factor(d$arm)
t <- system.time(f <- lmer(value ~ arm * week + (week | subject), d, REML = TRUE))[["elapsed"]]
cat(sprintf('{"seconds": %.6f, "loglik": %.10f, "maxrss_mb": %.1f}\n', t, as.numeric(logLik(f)),
    as.numeric(sub("kB", "", system(paste("grep VmHWM /proc", Sys.getpid(), "status", sep = "/"),
                                         intern = TRUE) |> sub(pattern = "VmHWM:", replacement = ""))) / 1024))
"""


def run_tool(tool: str, path: str, timeout: float) -> dict:
    if tool == "lme4":
        if shutil.which("Rscript") is None:
            return {"skipped": "Rscript not found"}
        cmd = ["Rscript", "-e", R_SCRIPT, path]
    else:
        cmd = [sys.executable, __file__, "--worker", tool, path]
    return run_json(cmd, timeout=timeout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    ap.add_argument("--tools", nargs="+", default=["ours", "mixedlm_rs", "lme4", "statsmodels"])
    ap.add_argument("--sm-timeout", type=float, default=300.0)
    ap.add_argument("--out", help="also write the results table as JSON to this path")
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "CSV"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    rows = []
    timed_out: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = os.path.join(tmp, f"lmm_{n}.csv")
            make_data(n).to_csv(path, index=False)
            for tool in args.tools:
                timeout = args.sm_timeout if tool == "statsmodels" else 1800.0
                if tool in timed_out:  # it already exceeded its limit at a smaller size
                    r = {"skipped": f"> {timeout:.0f} s at a smaller size"}
                else:
                    r = run_tool(tool, path, timeout)
                if str(r.get("skipped", "")).startswith(">"):
                    timed_out.add(tool)
                r.update(tool=tool, n_subjects=n)
                rows.append(r)
                print(json.dumps(r), flush=True)
    res = pd.DataFrame(rows)
    for col in ("seconds", "loglik"):
        if col not in res:
            res[col] = np.nan
    ours = res[res.tool == "ours"].set_index("n_subjects")
    res["ratio_to_ours"] = res["seconds"] / res["n_subjects"].map(ours["seconds"])
    res["loglik_diff_vs_ours"] = res["loglik"] - res["n_subjects"].map(ours["loglik"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(res.to_string(index=False))
    if args.out:
        Path(args.out).write_text(res.to_json(orient="records", indent=1))


if __name__ == "__main__":
    main()

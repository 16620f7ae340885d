"""Does a change to fit_mmrm slow the ordinary (one covariance, unweighted) fit? Times the unstructured REML fit
of bench_mmrm.py's data (1,000 subjects × 10 visits by default) under two source trees in alternating rounds,
each round in a fresh subprocess, and reports wall and CPU (user+sys) seconds and their ratio. It also times
this tree's ``covariance_by="arm"`` fit (two unstructured covariances, 110 parameters) and, with ``--mmrm``, R's
mmrm 0.3.18 fitting the same grouped model (``us(visit | arm / subject)``, its default optimizer) once per round,
for the ratio of the grouped fits.

    cd <worktree> && OPENBLAS_NUM_THREADS=1 /work/venv/bin/python benchmarks/bench_mmrm_versions.py \
        --baseline /work/main/src --rounds 4 [--mmrm]     (mmrm needs R_LIBS=/work/Rlib)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from bench_mmrm import make_data  # noqa: E402
from peers import run_json  # noqa: E402

CHILD = r"""
import json, sys, time, resource
import pandas as pd
import massage_outcomes as mo
d = pd.read_csv(sys.argv[1]); d["visit"] = pd.Categorical(d["visit"], categories=sorted(d["visit"].unique()))
kw = json.loads(sys.argv[2])
mo.fit_mmrm(d[d["subject"].isin(d["subject"].unique()[:100])], covariance="unstructured", covariates=["race"], **kw)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
fit = mo.fit_mmrm(d, covariance="unstructured", covariates=["race"], **kw); fe = fit.fixed_effects
t1 = time.perf_counter(); r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({"wall": t1 - t0, "cpu": cpu, "loglik": fit.loglik, "converged": fit.converged}))
"""


R_GROUPED = r"""
suppressPackageStartupMessages(library(mmrm))
d <- read.csv(commandArgs(TRUE)[1])
d$arm <- factor(d$arm); d$race <- factor(d$race); d$subject <- factor(d$subject)
d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
t0 <- proc.time()
fit <- mmrm(value ~ arm * visit + baseline + race + us(visit | arm / subject), data = d)
s <- summary(fit)$coefficients
t <- proc.time() - t0
cat(sprintf('{"wall": %.6f, "cpu": %.6f, "loglik": %.10f, "converged": %s}\n', t[["elapsed"]],
    t[["user.self"]] + t[["sys.self"]], as.numeric(logLik(fit)), tolower(fit$opt_details$convergence == 0)))
"""


def one(src: str, path: str, kw: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": src, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
    out = subprocess.run([sys.executable, "-c", CHILD, path, json.dumps(kw)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", required=True, help="the src/ folder of the code to compare with")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--visits", type=int, default=10)
    ap.add_argument("--mmrm", action="store_true", help="also time mmrm's grouped fit (Rscript)")
    a = ap.parse_args()
    this = str((HERE.parent / "src").resolve())
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "data.csv")
        make_data(a.subjects, a.visits).to_csv(path, index=False)
        res: dict[str, list[dict]] = {"this": [], "baseline": [], "this_grouped": [],
                                      **({"mmrm_grouped": []} if a.mmrm else {})}
        for r in range(a.rounds):
            order = [("this", this), ("baseline", a.baseline)]
            for name, src in order if r % 2 == 0 else order[::-1]:
                res[name].append(one(src, path, {}))
            res["this_grouped"].append(one(this, path, {"covariance_by": "arm"}))
            if a.mmrm:
                res["mmrm_grouped"].append(run_json(["Rscript", "-e", R_GROUPED, path], timeout=1800))
    load = os.getloadavg()
    summary = {k: {"wall_min": min(x["wall"] for x in v), "cpu_min": min(x["cpu"] for x in v),
                   "loglik": v[0]["loglik"], "converged": v[0]["converged"]} for k, v in res.items()}
    summary["ratio_this_over_baseline"] = {
        "wall": summary["this"]["wall_min"] / summary["baseline"]["wall_min"],
        "cpu": summary["this"]["cpu_min"] / summary["baseline"]["cpu_min"]}
    if a.mmrm:
        summary["ratio_mmrm_grouped_over_this_grouped"] = {
            k: summary["mmrm_grouped"][f"{k}_min"] / summary["this_grouped"][f"{k}_min"] for k in ("wall", "cpu")}
    summary["load_after"] = load
    summary["rounds"] = {k: [(round(x["wall"], 3), round(x["cpu"], 3)) for x in v] for k, v in res.items()}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

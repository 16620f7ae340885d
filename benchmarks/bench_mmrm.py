"""Benchmark: unstructured MMRM on a bcva_data-shaped simulation (1,000 subjects x 10 visits) against R's mmrm.

The same simulated data (seeded; two arms, three races, a baseline, MAR dropout and gaps; nothing is taken from
mmrm's data) for every tool, each in its own process, in one run:

- ours: ``massage_outcomes.fit_mmrm(covariance="unstructured")`` with Satterthwaite df (``fixed_effects``
  included), and again with ``ddf="kenward-roger"``; each timed after a warm-up fit on a small subset;
- mmrm 0.3.18 (``R_LIBS=/work/Rlib``): ``mmrm(value ~ arm * visit + baseline + race + us(visit | subject))``
  with Satterthwaite and with Kenward-Roger (only the ``mmrm`` call and ``summary`` are timed, inside R);
- optionally nlme::gls (``corSymm`` + ``varIdent``), with ``--tools ... gls``.

Prints one JSON line per tool, then the table with ``ratio_to_ours`` (the peer's seconds / ours for the same df
method) and the log-likelihood difference; ``--json PATH`` writes it (default ``benchmarks/_out/bench_mmrm.json``).

Run: ``/work/venv/bin/python benchmarks/bench_mmrm.py [--subjects 1000] [--visits 10] [--repeat 3]``
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

OUT = Path(__file__).parent / "_out" / "bench_mmrm.json"


def make_data(n_subjects: int, n_visits: int, seed: int = 7) -> pd.DataFrame:
    """bcva_data-like: two arms, three races, a baseline, AR-ish correlation with rising SD, MAR dropout."""
    rng = np.random.default_rng(seed)
    visits = [f"VIS{j + 1:02d}" for j in range(n_visits)]
    arm = rng.choice(["CTL", "TRT"], n_subjects)
    race = rng.choice(["Asian", "Black", "White"], n_subjects)
    baseline = rng.normal(75.0, 10.0, n_subjects)
    sd = np.linspace(2.0, 5.0, n_visits)
    lag = np.abs(np.subtract.outer(np.arange(n_visits), np.arange(n_visits)))
    corr = 0.3 + 0.6 * 0.8**lag
    np.fill_diagonal(corr, 1.0)
    err = rng.multivariate_normal(np.zeros(n_visits), corr * np.outer(sd, sd), n_subjects)
    mean = (5.0 + 0.1 * baseline[:, None] + np.arange(n_visits) * 0.5
            + (arm == "TRT")[:, None] * np.linspace(0.2, 1.5, n_visits) + (race == "Black")[:, None] * 0.8)
    y = mean + err
    keep = np.ones_like(y, dtype=bool)
    for j in range(1, n_visits):
        p_drop = 0.06 / (1.0 + np.exp((y[:, j - 1] - mean[:, j - 1].mean()) / 2.0))
        keep[:, j] = keep[:, j - 1] & (rng.random(n_subjects) > p_drop)
    keep &= rng.random(y.shape) > 0.03
    frame = pd.DataFrame({
        "subject": np.repeat([f"S{i:05d}" for i in range(n_subjects)], n_visits),
        "arm": np.repeat(arm, n_visits), "race": np.repeat(race, n_visits), "visit": np.tile(visits, n_subjects),
        "baseline": np.repeat(baseline, n_visits), "value": y.reshape(-1),
    })
    return frame[keep.reshape(-1)].reset_index(drop=True)


def ours(path: str, ddf: str, repeat: int) -> dict:
    import massage_outcomes as mo

    data = pd.read_csv(path)
    visits = sorted(data["visit"].unique())
    data["visit"] = pd.Categorical(data["visit"], categories=visits)
    warm = data[data["subject"].isin(data["subject"].unique()[:100])]
    mo.fit_mmrm(warm, covariance="unstructured", covariates=["race"], ddf=ddf).fixed_effects  # noqa: B018
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = mo.fit_mmrm(data, covariance="unstructured", covariates=["race"], ddf=ddf)
        fe = fit.fixed_effects
        times.append(time.perf_counter() - t0)
    return {"seconds": min(times), "loglik": fit.loglik, "converged": fit.converged,
            "se_first": float(fe["se"].iloc[1]), "df_first": float(fe["df"].iloc[1])}


R_SCRIPT = r"""
suppressPackageStartupMessages(library(mmrm))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); method <- args[2]; repeats <- as.integer(args[3])
d$arm <- factor(d$arm); d$race <- factor(d$race); d$subject <- factor(d$subject)
d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
f <- value ~ arm * visit + baseline + race + us(visit | subject)
times <- numeric(0)
for (r in seq_len(repeats)) {
  t <- system.time({fit <- mmrm(f, data = d, method = method); s <- summary(fit)$coefficients})[["elapsed"]]
  times <- c(times, t)
}
cat(sprintf('{"seconds": %.6f, "loglik": %.10f, "converged": %s, "se_first": %.10f, "df_first": %.8f}\n',
    min(times), as.numeric(logLik(fit)), tolower(fit$opt_details$convergence == 0), s[2, "Std. Error"],
    s[2, "df"]))
"""

GLS_SCRIPT = r"""
suppressPackageStartupMessages(library(nlme))
args <- commandArgs(TRUE)
d <- read.csv(args[1]); d$arm <- factor(d$arm); d$race <- factor(d$race)
d$visit <- factor(d$visit, levels = sort(unique(d$visit))); d$vi <- as.integer(d$visit)
t <- system.time(fit <- gls(value ~ arm * visit + baseline + race, data = d, method = "REML",
                            correlation = corSymm(form = ~ vi | subject), weights = varIdent(form = ~ 1 | visit)))
cat(sprintf('{"seconds": %.6f, "loglik": %.10f, "converged": true}\n', t[["elapsed"]], as.numeric(logLik(fit))))
"""


def run(tool: str, path: str, repeat: int, timeout: float) -> dict:
    env = dict(os.environ)
    if tool in ("ours", "ours_kr"):
        cmd = [sys.executable, __file__, "--worker", "kenward-roger" if tool == "ours_kr" else "satterthwaite",
               path, str(repeat)]
    elif shutil.which("Rscript") is None:
        return {"skipped": "Rscript not found"}
    elif tool in ("mmrm", "mmrm_kr"):
        env["R_LIBS"] = env.get("R_LIBS", "/work/Rlib")
        cmd = ["Rscript", "-e", R_SCRIPT, path, "Kenward-Roger" if tool == "mmrm_kr" else "Satterthwaite",
               str(repeat)]
    elif tool == "gls":
        cmd = ["Rscript", "-e", GLS_SCRIPT, path]
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    return run_json(cmd, timeout=timeout, env=env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=1000)
    ap.add_argument("--visits", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="timed fits per tool (the minimum is reported)")
    ap.add_argument("--tools", nargs="+", default=["ours", "mmrm", "ours_kr", "mmrm_kr"])
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--json", default=str(OUT), help="where to write the results (never a tracked file)")
    ap.add_argument("--worker", nargs=3, metavar=("DDF", "CSV", "REPEAT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(ours(args.worker[1], args.worker[0], int(args.worker[2]))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mmrm.csv")
        data = make_data(args.subjects, args.visits)
        data.to_csv(path, index=False)
        for tool in args.tools:
            r = run(tool, path, args.repeat, args.timeout)
            r.update(tool=tool, n_subjects=args.subjects, n_visits=args.visits, n_obs=len(data))
            rows.append(r)
            print(json.dumps(r), flush=True)
    res = pd.DataFrame(rows)
    for col in ("seconds", "loglik"):
        if col not in res:
            res[col] = np.nan
    base = {t: res.loc[res.tool == t, "seconds"].min() for t in ("ours", "ours_kr")}
    ll = res.loc[res.tool == "ours", "loglik"].min()
    res["ratio_to_ours"] = [s / base["ours_kr" if t.endswith("_kr") else "ours"] for t, s in zip(res.tool, res.seconds,
                                                                                                  strict=True)]
    res["loglik_minus_ours"] = res["loglik"] - ll
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(res.to_string(index=False))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    meta = {"utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "load_1min": os.getloadavg()[0],
            "repeat": args.repeat}
    payload = {"meta": meta, "results": json.loads(res.to_json(orient="records"))}
    Path(args.json).write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()

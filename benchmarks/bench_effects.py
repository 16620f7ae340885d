"""Benchmarks (a)-(c) of issue 3: grouped effect sizes against a bare pandas groupby and a pingouin loop.

(a) 1M rows, 35 condition × technique groups, Hedges' g with exact (noncentral t) CIs: time relative to a bare
    pandas groupby computing n/mean/var on the same frame (the floor), and to looping pingouin's
    ``compute_effsize`` + ``compute_esci`` over the groups.
(b) 1M rows, 5,000 therapist × condition groups: ratio to the pingouin loop over *all* groups (default; the loop
    has a fixed cost of about 0.25 s for pandas to split the frame, so timing a few hundred groups and
    extrapolating linearly overstated it about 5-fold). The frame has the dtypes ``Dataset.analysis_frame``
    gives: ``therapist`` and ``arm`` are plain strings, ``condition`` a Categorical. The main line is what a user
    gets by default: exact (noncentral t) intervals. Further lines: the same data with ``ci="normal"`` (like for
    like: pingouin's ``compute_esci`` is a normal-approximation interval), and with ``therapist`` and ``arm`` as
    Categoricals (as a store of coded data would give them), exact intervals.
(c) BCa bootstrap, 2,000 resamples, 35 groups over 100k rows: ratio to looping
    ``pingouin.compute_bootci(method="bca")`` (timed on ``--boot-groups`` groups and extrapolated), and the
    difference of the intervals on those groups in units of the bootstrap SE (Monte Carlo error). Run for
    integer-valued changes (a 0–10 pain scale: the multinomial-over-distinct-values path) and continuous ones.
    Continuous data need all 2,000 × 100k = 200M row indices drawn and summed. In numpy that cost about 3.5 ns
    per index however the chunks were sized (tried: 8k-256k draws per chunk, preallocated buffers, complex64
    gathers, uint16 bounded integers, float-to-index conversion, bincount counts times a matrix product), i.e.
    ~0.7 s, about 26x pingouin. With the ``[fast]`` extra a compiled (numba) kernel draws each index
    (xoshiro256** per resample, Lemire's bounded integers with rejection: exactly uniform) and adds the row into
    the resample's sums without an index array, parallel over resamples (``effects/_compiled.py``); a line with
    numba on one thread shows the CPU cost without the parallel overhead.

The sizes here are above ``massage_outcomes.effects._kernels.THRESHOLDS``, so with numba installed every kernel
runs compiled, as it would for a user's data of this size; without numba the same numbers come from numpy/scipy.
Measured results, and the history of how they were reached, are in ``benchmarks/RESULTS.md``.

Run::

    OPENBLAS_NUM_THREADS=1 /work/venv/bin/python benchmarks/bench_effects.py [--repeat 3] [--boot-groups 4]
        [--only a|b|c] [--quick] [--json PATH]

Each timing (ours, pandas and the pingouin loops of (a) and (b)) is the best of ``--repeat`` runs; the
pingouin bootstrap of (c) runs once per group. (b) and (c) also report process (CPU) seconds and their
ratio, steadier than wall time when other jobs share the machine. ``--quick`` runs a tenth of the rows (a
smoke test of the script, not a measurement). Results are written as JSON to ``benchmarks/_out/bench_effects.json``
(ignored by git) or ``--json PATH``; ``python benchmarks/results.py PATH`` renders them into RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from massage_outcomes.effects import _kernels
from massage_outcomes.effects.api import grouped_effects

OUT = Path(__file__).with_name("_out")
SCALE = 1.0  # --quick: 0.1

CONDITIONS = ["low_back_pain", "sciatica", "tension_headache", "migraine", "carpal_tunnel", "tmj", "post_surgical_rehab"]
TECHNIQUES = ["deep_tissue", "myofascial_release", "trigger_point", "sports", "swedish"]
ARMS = ("therapeutic", "relaxation")


def make_frame(n_rows: int, *, therapists: int = 0, integer: bool = True, seed: int = 1) -> pd.DataFrame:
    """One row per subject: condition, technique (categoricals), arm (str), therapist (str), change."""
    rng = np.random.default_rng(seed)
    cond = rng.integers(0, len(CONDITIONS), n_rows)
    tech = rng.integers(0, len(TECHNIQUES), n_rows)
    arm = rng.integers(0, 2, n_rows)
    effect = -0.3 * arm + 0.05 * tech - 0.02 * cond
    raw = rng.normal(-1.5 + effect, 2.0)
    change = np.clip(np.round(raw), -10, 10) if integer else raw
    frame = pd.DataFrame({
        "condition": pd.Categorical.from_codes(cond, categories=CONDITIONS),
        "technique": pd.Categorical.from_codes(tech, categories=TECHNIQUES),
        "arm": pd.array(np.array(ARMS)[1 - arm], dtype="str"),
        "change": change.astype(float),
    })
    if therapists:
        frame["therapist"] = pd.array(np.char.add("T", rng.integers(0, therapists, n_rows).astype(str)), dtype="str")
    return frame


CPU: dict[str, float] = {}  # process (CPU) seconds of the last best_of / pingouin loop, for a shared machine


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Best wall-clock seconds of ``repeat`` runs (the best CPU seconds are left in ``CPU["last"]``)."""
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU["last"] = min(cpu)
    return min(times)


def pingouin_loop(frame: pd.DataFrame, by: list[str], max_groups: int | None = None) -> tuple[float, int, int]:
    """Seconds to loop pingouin compute_effsize + compute_esci over (up to max_groups of) the groups."""
    import pingouin as pg

    groups = frame.groupby(by, observed=True, sort=False)
    total = groups.ngroups
    t0, c0 = time.perf_counter(), time.process_time()
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _key, sub in groups:
            arm = sub["arm"].to_numpy()
            v = sub["change"].to_numpy()
            x, y = v[arm == ARMS[0]], v[arm == ARMS[1]]
            g = pg.compute_effsize(x, y, eftype="hedges")
            pg.compute_esci(stat=g, nx=len(x), ny=len(y), eftype="hedges", confidence=0.95)
            done += 1
            if max_groups is not None and done >= max_groups:
                break
    CPU["pingouin_loop"] = min(CPU.get("pingouin_loop", np.inf), time.process_time() - c0)
    return time.perf_counter() - t0, done, total


def ours(frame: pd.DataFrame, by: list[str], **kw: object) -> tuple[pd.DataFrame, object, object]:
    return grouped_effects(frame, value="change", by=by, compare=("arm", *ARMS), measure="hedges_g", **kw)  # type: ignore[arg-type]


def bench_a(repeat: int) -> dict[str, float]:
    frame = make_frame(int(1_000_000 * SCALE), integer=False)
    by = ["condition", "technique"]
    t_ours = best_of(lambda: ours(frame, by, ci="exact"), repeat)
    t_floor3 = best_of(lambda: frame.groupby(by + ["arm"], observed=True)["change"].agg(["count", "mean", "var"]), repeat)
    t_floor2 = best_of(lambda: frame.groupby(by, observed=True)["change"].agg(["count", "mean", "var"]), repeat)
    t_pg, done, total = min(pingouin_loop(frame, by) for _ in range(repeat))
    return {
        "rows": len(frame), "groups": total, "ours_s": t_ours,
        "pandas_groupby_by+arm_s": t_floor3, "pandas_groupby_by_only_s": t_floor2,
        "ratio_to_groupby_by+arm": t_ours / t_floor3, "ratio_to_groupby_by_only": t_ours / t_floor2,
        "pingouin_loop_s": t_pg, "speedup_vs_pingouin": t_pg / t_ours,
    }


def bench_b(repeat: int, sample_groups: int | None) -> dict[str, float]:
    frame = make_frame(int(1_000_000 * SCALE), therapists=715, integer=False, seed=2)  # 715 x 7 conditions = 5,005 groups
    by = ["therapist", "condition"]
    tab, res, _ = ours(frame, by, ci="exact")
    t_ours = best_of(lambda: ours(frame, by, ci="exact"), repeat)
    c_ours = CPU["last"]
    # like for like: pingouin's compute_esci is a normal-approximation interval (our default is the exact one)
    t_normal = best_of(lambda: ours(frame, by, ci="normal"), repeat)
    c_normal = CPU["last"]
    coded = frame.assign(therapist=frame["therapist"].astype("category"), arm=frame["arm"].astype("category"))
    t_coded = best_of(lambda: ours(coded, by, ci="exact"), repeat)
    c_coded = CPU["last"]
    CPU.pop("pingouin_loop", None)
    t_pg, done, total = min(pingouin_loop(frame, by, max_groups=sample_groups) for _ in range(repeat))
    t_pg_all = t_pg / done * total
    c_pg_all = CPU["pingouin_loop"] / done * total
    return {
        "cpu_ours_s": c_ours, "cpu_pingouin_s": c_pg_all, "cpu_speedup_vs_pingouin": c_pg_all / c_ours,
        "rows": len(frame), "groups": total, "therapist_arm_dtype": str(frame["therapist"].dtype),
        "ours_s": t_ours, "pingouin_groups_timed": done, "pingouin_timed_s": t_pg,
        "pingouin_all_groups_s" if done == total else "pingouin_extrapolated_s": t_pg_all,
        "speedup_vs_pingouin": t_pg_all / t_ours,
        "ours_categorical_therapist_arm_s": t_coded, "speedup_vs_pingouin_categorical": t_pg_all / t_coded,
        "cpu_speedup_vs_pingouin_categorical": c_pg_all / c_coded,
        "ours_normal_ci_s": t_normal, "speedup_vs_pingouin_normal_ci_like_for_like": t_pg_all / t_normal,
        "cpu_speedup_vs_pingouin_normal_ci_like_for_like": c_pg_all / c_normal,
        "rows_with_notes": int((np.asarray(res.note) != "").sum()),  # type: ignore[attr-defined]
    }


def bench_c(repeat: int, boot_groups: int, integer: bool) -> dict[str, float | list[float]]:
    import pingouin as pg

    frame = make_frame(int(100_000 * SCALE), integer=integer, seed=3)
    by = ["condition", "technique"]
    B = 2000

    def run() -> tuple[pd.DataFrame, object, object]:
        return ours(frame, by, ci="bca", n_resamples=B, rng=7)

    tab, res, _ = run()
    t_ours = best_of(run, repeat)
    c_ours = CPU["last"]
    single: dict[str, float] = {}
    try:  # the compiled resampler on one thread: the CPU cost without the parallel overhead
        import numba

        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            single["ours_one_thread_s"] = best_of(run, repeat)
            single["cpu_ours_one_thread_s"] = CPU["last"]
        finally:
            numba.set_num_threads(threads)
    except ImportError:
        pass
    diffs = []
    t_pg = c_pg = 0.0
    for gi in range(boot_groups):
        key = tab.iloc[gi]
        sub = frame[(frame["condition"] == key["condition"]) & (frame["technique"] == key["technique"])]
        arm = sub["arm"].to_numpy()
        x = sub["change"].to_numpy()[arm == ARMS[0]]
        y = sub["change"].to_numpy()[arm == ARMS[1]]
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lo, hi = pg.compute_bootci(x, y, func="hedges", method="bca", n_boot=B, seed=11, confidence=0.95)
        t_pg += time.perf_counter() - t0
        c_pg += time.process_time() - c0
        # pingouin rounds its interval to 2 decimals (its `decimals` default); compare against that rounding
        se = float(res.se[gi])  # type: ignore[attr-defined]
        diffs += [abs(float(res.ci_low[gi]) - lo) / se, abs(float(res.ci_high[gi]) - hi) / se]  # type: ignore[attr-defined]
    t_pg_all = t_pg / boot_groups * len(tab)
    c_pg_all = c_pg / boot_groups * len(tab)
    return {
        "cpu_ours_s": c_ours, "cpu_pingouin_extrapolated_s": c_pg_all, "cpu_speedup_vs_pingouin": c_pg_all / c_ours,
        "rows": len(frame), "groups": len(tab), "integer_values": integer, "n_resamples": B, "ours_s": t_ours,
        "pingouin_groups_timed": boot_groups, "pingouin_timed_s": t_pg, "pingouin_extrapolated_s": t_pg_all,
        "speedup_vs_pingouin": t_pg_all / t_ours,
        "max_ci_difference_in_bootstrap_se": max(diffs),
        **single,
        **({"speedup_vs_pingouin_one_thread": t_pg_all / single["ours_one_thread_s"],
            "cpu_speedup_vs_pingouin_one_thread": c_pg_all / single["cpu_ours_one_thread_s"]} if single else {}),
    }


def meta(args: argparse.Namespace) -> dict[str, object]:
    """What a result needs to be read later: when, where, with what."""
    import datetime
    import os
    import subprocess
    import sys

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {
        "script": "bench_effects.py", "utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": commit, "args": " ".join(sys.argv[1:]), "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(), "numba": _kernels.HAVE_NUMBA, "quick": bool(args.quick),
        "package": str(Path(_kernels.__file__).parents[2]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample-groups", type=int, default=None,
                    help="pingouin groups timed in (b) (default: all; a subset is extrapolated linearly)")
    ap.add_argument("--boot-groups", type=int, default=4,
                    help="pingouin bootstrap groups timed in (c) and extrapolated linearly (no shared set-up cost)")
    ap.add_argument("--only", choices=["a", "b", "c"], default=None)
    ap.add_argument("--quick", action="store_true", help="a tenth of the rows: checks the script, measures nothing")
    ap.add_argument("--json", type=Path, default=OUT / "bench_effects.json", help="where the results go")
    args = ap.parse_args()
    global SCALE
    SCALE = 0.1 if args.quick else 1.0
    results: dict[str, object] = {"meta": meta(args)}
    if args.only in (None, "a"):
        results["a"] = bench_a(args.repeat)
        print("(a)", json.dumps(results["a"], indent=1), flush=True)
    if args.only in (None, "b"):
        results["b"] = bench_b(args.repeat, args.sample_groups)
        timed = results["b"]["pingouin_groups_timed"]  # type: ignore[index]
        print(f"(b) pingouin timed on {timed} of {results['b']['groups']} groups"  # type: ignore[index]
              + ("" if timed == results["b"]["groups"] else " and extrapolated linearly"), flush=True)  # type: ignore[index]
        print("(b)", json.dumps(results["b"], indent=1), flush=True)
    if args.only in (None, "c"):
        results["c_integer"] = bench_c(args.repeat, args.boot_groups, integer=True)
        print("(c, integer)", json.dumps(results["c_integer"], indent=1), flush=True)
        results["c_continuous"] = bench_c(args.repeat, args.boot_groups, integer=False)
        print("(c, continuous)", json.dumps(results["c_continuous"], indent=1), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()

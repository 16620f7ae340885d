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
    ~0.7 s, about 26x pingouin. Now a compiled (numba) kernel draws each index (xoshiro256** per resample,
    Lemire's bounded integers with rejection: exactly uniform) and adds the row into the resample's sums without
    an index array, parallel over resamples (``effects/_kernels.py``); a line with numba on one thread shows the
    CPU cost without the parallel overhead.

Measured 2026-11-27 09:50-10:05 UTC on the 2-vCPU machine, load 0.5-1.1 (another job on and off), five full
runs (``--repeat 5``; ranges over the runs; "CPU" = ratio of process CPU seconds):

(a) ours 24-33 ms, 0.25-0.45x the bare groupby by+arm (67-105 ms); 5.7-10.6x the pingouin loop (0.16-0.25 s
    for 35 groups).
(b) exact intervals (default), string labels: 41-53x wall, 36-46x CPU (ours 38-47 ms, pingouin loop 1.7-2.0 s);
    ci="normal" (like for like with compute_esci): 44-60x wall, 41-55x CPU; Categorical therapist/arm, exact:
    77-92x wall, 66-80x CPU. Goal 100x: NOT met. Before this session: 17x (string labels), 26x (Categoricals).
    Where the time went: exact nct limits 39-44 ms -> 6-8 ms (the same secant iteration compiled, the CDF from
    the AS 243 series for df <= 300, one incomplete beta per group); factorizing 1M string labels 25 ms ->
    11-15 ms (compiled hash over the Arrow buffers; near this machine's memory bandwidth); combining the key
    codes ~7.5 -> ~2.5 ms; arm labels 19 -> 4-7 ms; moments per group 8-14 -> 2-5 ms (the same bits as
    bincount). Left for string labels, roughly: 12 ms factorizing, 6 ms intervals (nct 5, p-values 1), 4 ms
    moments, 4 ms arm labels, 3 ms combining codes, the rest in pandas and small arrays.
(c) integer data: 72-98x wall and CPU. Continuous data, 2 threads: 65-91x wall, 42-51x CPU (ours 0.19-0.28 s
    wall, 0.33-0.44 s CPU: the two vCPUs scale poorly); numba on one thread: 52-57x wall and CPU (0.32-0.36 s;
    44x in one disturbed run). Before: 26x. Intervals agree with pingouin within 0.19-0.20 bootstrap SE on the
    timed groups (pingouin rounds to 2 decimals).

A run on the quiet machine at 10:40 UTC (``--repeat 3``, bench_effects.last.json): (a) 0.21x the groupby by+arm,
11.7x pingouin; (b) exact 47.6x (34 ms vs 1.64 s), normal 53.6x, Categorical 80.8x; (c) integer 59.6x,
continuous 81.4x wall / 50.4x CPU, 50.7x on one thread.

2026-11-27 10:43-10:44 UTC, after the parallel row passes (three runs of ``--repeat 3``, load ~0.9: another job
held about one vCPU; bench_effects.last.json is the third run). The pingouin loop of (b) took 1.8-2.3 s here.
(b) exact, string labels: 65-81x wall (ours 24-29 ms), 41-56x CPU; ci="normal": 76-104x wall, 52-74x CPU;
    Categorical therapist/arm, exact: 95-121x wall (18.5-19 ms), 69-91x CPU. 100x for the default (exact,
    strings): NOT met. What changed: the string factorization learns the labels on the first 16k rows, then
    looks the other rows up read-only in parallel over fixed 64k-row blocks, and rows with a new label are
    numbered serially in row order (the codes of one serial pass on any thread count); short labels (<= 8
    bytes) are keyed by one word and matched by hash and length alone (a bijection there): 12.7 ms -> 6.7-7.3
    ms on one thread, 4.3-5.8 ms on two; key combination parallel and renumbered in place in int32: ~3 ->
    1.35-1.6 ms; arm labels as int8 with unclamped loads: 4-7 -> 2.0-2.6 ms; uniques sorted by Arrow and
    log-beta once per distinct df: ~1.3 ms less. Every result is bit for bit what it was before. Left, measured
    on the (b) data on a quiet moment (total 20.6 ms): factorizing 4.3, combining 1.35, the rest of the keys
    1.3, arm labels 2.1, moments 4.0, intervals 5.5 (noncentral t ~4, p-values, J and se ~1.5), the rest
    ~2. The moments stay serial: summed over fixed row chunks in parallel (same bits on any thread count,
    ``_kernels.MOMENT_CHUNK``) they took 2.4-2.6 ms, but regrouping the sums moved a near-zero g (-5.9e-6) by
    1.3e-10 of itself (1.4e-15 absolute), beyond the 1e-12 relative stability required, so that is off by
    default. 100x needs ~17 ms at these pingouin times: it would take fusing the label, arm and moment passes
    into one (several row passes fewer), not more threads on this 2-vCPU machine, where the CPU ratio falls
    as threads are added. (a) 0.16-0.21x the groupby, 12-15x pingouin; (c) integer 72-75x, continuous 62-107x
    wall, 41-59x CPU, 52-59x on one thread (code unchanged by this work; the ratio moves with pingouin's
    time: a run minutes before gave 44.7x wall, pingouin extrapolated to 14.2 s against 19.9 s in the run
    of 10:40, ours 0.32 s on one thread in both).

2026-11-27 11:40-12:30 UTC, after a second round on (b). With the final code, fourteen runs between 12:04 and
12:30 (eleven ``--only b --repeat 5``, three full ``--repeat 3``; bench_effects.last.json is the full run of
12:17); the pingouin loop of (b) took 1.60-2.10 s in them. The machine went through busy phases (another tenant: the
same call took 13.3 ms in one minute and 17-24 ms in the next, with no change and no page faults), and those
hit our memory-bound passes harder than pingouin's interpreter-bound loop.
(b) exact (default), string labels: 87-129x wall, median 101.5x, >= 100x in 9 of 14 runs (ours 13.5-21.6
    ms); 48-74x CPU. ci="normal" (like for like: pingouin's compute_esci is a normal-approximation interval):
    108-159x wall in 13 of 14, 99.8x in one. Categorical therapist/arm, exact: 127-188x. Interleaved in one
    session, the same call took 19.5 ms with the code of 10:45 and 13.4 ms now (best of 25, three
    alternations, quiet minutes).
    What changed, each checked bit for bit unless said:
    - noncentral-t limits: each group's series terms (they depend on |t| and df only) computed once and
      shared by both limits and every secant step: the kernel 2.9 -> 2.0 ms;
    - the p-value of the pooled t taken from the interval's own incomplete beta (p = 1 - I_x(1/2, df/2)
      where p >= 1e-3, stdtr below; within 1.8e-12 of stdtr, which is the one off near t = 0 on df = 1): one
      scipy call fewer (~1 ms), and the remaining large scipy calls in two halves on two threads (scipy
      releases the GIL): the incomplete beta 1.04 -> 0.56 ms;
    - moments summed per fixed 2**18-row chunk in parallel (``_kernels.MOMENT_CHUNK``): 4.2 -> 2.4 ms; the
      same bits on any thread count and up to one chunk, closer to exact sums beyond it (worst mean error
      8.9e-16 against 2.2e-15 for the row-order sum), so the earlier bit-identity with bincount was dropped;
    - string look-up: short labels (<= 7 bytes) tagged by their bytes and length, tag and id side by side in
      the table, matched inline, longer labels in a call: 5.9 -> 3.7 ms per 1M labels on one thread (the
      serial learning loop had been 7x slower than it should, from an inlined probe function);
    - between-group moments binned on the raw combined key codes (no renumbering pass), J and log-beta once
      per distinct df by counting, uniques kept as an Arrow array, the key table built once: ~1.5-2 ms of
      fixed cost less.
    Tried and dropped, measured: (1) one kernel computing each row's combined key and arm bin inside both
    moment passes (no code array written): 9.1 against 6.75 ms on one thread for the passes it replaced;
    (2) the arm bins made in the key-combination pass: 4.69 against 4.37 ms (the 4 MB intermediates stay in
    the 32 MB L3, so a separate pass over them is nearly free); (3) no validity array for columns without
    nulls: slower in three alternations; (4) reciprocal tables for the series' divisions, and 0.5 - p for
    expm1 in the series: no gain. Left (quiet, two threads, ~13.3 ms): label look-up ~2.2, arm labels ~1.7,
    moments ~2.4, key combination ~1.1, noncentral t ~1.7, incomplete beta ~0.6, Python/pandas ~3.
    (a) 0.10-0.15x the groupby by+arm, 16-26x pingouin; (c) integer 65-70x, continuous 90-104x wall /
    49-58x CPU, 48-56x on one thread; intervals within 0.19-0.20 bootstrap SE of pingouin's.

Run::

    OPENBLAS_NUM_THREADS=1 /work/venv/bin/python benchmarks/bench_effects.py [--repeat 3] [--boot-groups 4]

Each timing (ours, pandas and the pingouin loops of (a) and (b)) is the best of ``--repeat`` runs; the
pingouin bootstrap of (c) runs once per group. (b) and (c) also report process (CPU) seconds and their
ratio, steadier than wall time when other jobs share the machine. Results are also written to
benchmarks/bench_effects.last.json.
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

from massage_outcomes.effects.api import grouped_effects

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
    frame = make_frame(1_000_000, integer=False)
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
    frame = make_frame(1_000_000, therapists=715, integer=False, seed=2)  # 715 x 7 conditions = 5,005 groups
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

    frame = make_frame(100_000, integer=integer, seed=3)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample-groups", type=int, default=None,
                    help="pingouin groups timed in (b) (default: all; a subset is extrapolated linearly)")
    ap.add_argument("--boot-groups", type=int, default=4,
                    help="pingouin bootstrap groups timed in (c) and extrapolated linearly (no shared set-up cost)")
    ap.add_argument("--only", choices=["a", "b", "c"], default=None)
    args = ap.parse_args()
    results: dict[str, object] = {}
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
    out = Path(__file__).with_name("bench_effects.last.json")
    previous = json.loads(out.read_text()) if out.exists() and args.only else {}
    previous.update(results)  # --only refreshes its own entries and keeps the others
    out.write_text(json.dumps(previous, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()

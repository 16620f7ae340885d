"""Issue 11: effect sizes on a registry that stays on disk, against a bare DuckDB GROUP BY, and the dask path.

The script generates (never commits) a hive-partitioned Parquet registry in ``--dir`` (default
``benchmarks/_data/registry``, ignored by git) with DuckDB itself: ``--rows`` measurements (default 100M, as the
issue asks) of ``--per-subject`` measurements each (baseline, then follow-ups at weekly visits; default 50 →
2M subjects), 300 clinics, 7 conditions × 5 techniques, 2 arms, therapists. Then, each in a fresh subprocess (so
peak RSS is the measurement's own):

(a) ours: ``mo.scan(dir).effect_sizes(instrument="pain_nrs", by=["condition", "technique", "clinic"],
    compare=("arm", "therapeutic", "usual_care"))`` -- Hedges' g with exact (noncentral t) intervals for 10,500
    groups -- against the floor: a bare DuckDB query on the same files computing the same per-subject change
    and per-group n/mean/variance (no estimator). Ratio of wall times in one run; peak RSS of each.
(b) the dask path: the same call with ``engine="dask"`` on a 2-worker ``distributed.LocalCluster`` (one thread
    and 2 GB each), same files, or with ``--dask-glob`` a stated subset of them (then DuckDB runs on that subset
    too, for the ratio).

Each round prints wall and CPU time (user + sys of the measured part) and the load average; rounds alternate
who goes first.

Not measured: the mixed model on scans (issue 11 item 2's ``fit_trajectories``; not built yet), hence no
lme4/statsmodels/mixedlm-rs lines.

Run::

    OPENBLAS_NUM_THREADS=1 /work/venv/bin/python benchmarks/bench_scale.py [--rows 100000000] [--repeat 3]
        [--skip-dask] [--dask-glob 'clinic_id=1[0-2][0-9]/*.parquet'] [--keep] [--reuse] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).with_name("_out")
DATA = Path(__file__).with_name("_data")
CONDITIONS = ["low_back_pain", "sciatica", "tension_headache", "migraine", "carpal_tunnel", "tmj", "post_surgical_rehab"]
TECHNIQUES = ["deep_tissue", "myofascial_release", "trigger_point", "sports", "swedish"]
KW = dict(instrument="pain_nrs", by=["condition", "technique", "clinic"], compare=("arm", "therapeutic", "usual_care"))


CLINICS = 300


def _batch_sql(lo: int, hi: int, subjects: int, per_subject: int) -> str:
    """The rows of the subjects whose clinic is in [lo, hi): subjects first (few), then their visits."""
    conds = "[" + ", ".join(f"'{c}'" for c in CONDITIONS) + "]"
    techs = "[" + ", ".join(f"'{t}'" for t in TECHNIQUES) + "]"
    return f"""
    WITH p AS (SELECT s, hash(s) AS h, hash(s * 7919 + 13) AS h2 FROM range({subjects}) t(s)),
    q AS (SELECT s, h, h2, (h // 7) % {CLINICS} AS c FROM p WHERE (h // 7) % {CLINICS} >= {lo}
          AND (h // 7) % {CLINICS} < {hi}),
    a AS (SELECT s, h, h2, c, k FROM q, range({per_subject}) v(k))
    SELECT 'REG' AS study, 'P' || s AS subject,
           CASE WHEN h % 2 = 0 THEN 'therapeutic' ELSE 'usual_care' END AS arm,
           list_extract({conds}, (h2 % 7 + 1)::INT) AS condition,
           c AS clinic_id, 'clinic_' || c AS clinic,
           list_extract({techs}, ((h2 // 7) % 5 + 1)::INT) AS technique,
           'TH' || c || '_' || (h2 % 4) AS therapist,
           CASE WHEN k = 0 THEN 'baseline' ELSE 'week_' || k END AS visit,
           (7 * k)::DOUBLE AS day, CASE WHEN k = 0 THEN 'baseline' ELSE 'followup' END AS timing,
           'pain_nrs' AS instrument,
           greatest(0, least(10, round(6.5 - k * (CASE WHEN h % 2 = 0 THEN 0.06 ELSE 0.04 END)
               + 1.6 * sqrt(-2 * ln(random() + 1e-12)) * cos(2 * pi() * random())))) AS value
    FROM a"""


def generate(directory: Path, rows: int, per_subject: int, seed: float = 0.42, batches: int = 20) -> float:
    """Write the registry with DuckDB, streamed: ``batches`` COPYs of the subjects of a range of clinics (about
    rows/batches rows each, one Parquet file per clinic folder), within a 2 GB DuckDB memory limit, so no step
    holds the registry in memory (one COPY partitioning all 100M rows at once spilled 9 GB). Returns seconds.
    The values are random (``seed`` seeds DuckDB, whose threads make them differ between runs)."""
    import duckdb

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{directory.parent / '_duckdb_tmp'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SELECT setseed({seed})")
    edges = [round(i * CLINICS / batches) for i in range(batches + 1)]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        q = _batch_sql(lo, hi, rows // per_subject, per_subject)
        con.execute(f"COPY ({q}) TO '{directory}' (FORMAT PARQUET, PARTITION_BY (clinic_id), OVERWRITE_OR_IGNORE)")
    con.close()
    return time.perf_counter() - t0


BARE = """
import sys, time, duckdb, resource
d = sys.argv[1]
r0 = resource.getrusage(resource.RUSAGE_SELF)
c0 = r0.ru_utime + r0.ru_stime
con = duckdb.connect()
if sys.argv[2] != "none":
    con.execute(f"SET memory_limit = '{sys.argv[2]}'")
t0 = time.perf_counter()
src = f"read_parquet('{d}/**/*.parquet', hive_partitioning=true)"
q = f'''WITH s AS (SELECT study, subject, avg(value) v0, any_value(condition) condition, any_value(technique) technique,
  any_value(clinic) clinic, any_value(arm) arm FROM {src} WHERE timing = 'baseline' GROUP BY ALL),
e AS (SELECT study, subject, avg(value) v1, any_value(condition) condition, any_value(technique) technique,
  any_value(clinic) clinic, any_value(arm) arm FROM {src} WHERE visit = (SELECT max_by(visit, day) FROM {src}) GROUP BY ALL)
SELECT condition, technique, clinic, arm, count(v1 - v0) n, avg(v1 - v0) m, var_samp(v1 - v0) v
FROM e JOIN s USING (study, subject, condition, technique, clinic, arm) GROUP BY ALL'''
res = con.sql(q).fetchall()
import resource
r = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, len(res), int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024, r.ru_utime + r.ru_stime - c0)
"""

OURS = """
import sys, time, warnings
warnings.simplefilter("ignore")
import massage_outcomes as mo
import massage_outcomes.scale.effects, massage_outcomes.scale.plan  # noqa: E401 - imports outside the timing
KW = {kw!r}


def main(d, engine, limit):
    if engine == "dask":
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit="2GB")
        Client(cluster)
    import resource
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    opts = dict(memory_limit=None if limit == "none" else limit) if engine == "duckdb" else {{}}
    tab = mo.scan(d, engine=engine, progress=False, **opts).effect_sizes(**KW)
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(time.perf_counter() - t0, len(tab), int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024,
          r.ru_utime + r.ru_stime - r0.ru_utime - r0.ru_stime)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
"""


def _child(code: str, *args: str) -> tuple[float, int, float, float]:
    """(seconds, result rows, peak RSS in MB of the child process itself: VmHWM, read by the child; not
    ru_maxrss, which Linux carries over exec from the parent that generated the data; CPU seconds, user + sys,
    of the measured part; worker processes of a dask cluster not included)."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    secs, n, rss, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(secs), int(n), float(rss), float(cpu)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _dask(a: argparse.Namespace, ours_code: str, o: tuple[float, int, float, float], res: dict[str, object]) -> None:
    """(b): the dask path on the whole registry, or on ``--dask-glob`` (a subset of its files), then the DuckDB
    path on the same files for the ratio."""
    path = str(a.dir / a.dask_glob) if a.dask_glob else str(a.dir)
    load = _load()
    d = _child(ours_code, path, "dask", "none")
    same = o if not a.dask_glob else _child(ours_code, path, "duckdb", a.memory_limit)
    res.update(dask_files=a.dask_glob or "all", dask_s=d[0], dask_cpu_client_s=d[3], dask_load=load,
               dask_duckdb_s=same[0], dask_ratio=d[0] / same[0], dask_groups=d[1])
    print(f"(b) dask, 2-worker LocalCluster (2 GB per worker), files {a.dask_glob or 'all'}: {d[0]:.2f} s wall "
          f"(client CPU {d[3]:.2f} s; workers not included), {d[1]:,} groups; DuckDB on the same files "
          f"{same[0]:.2f} s -> {d[0] / same[0]:.1f}x; load {load}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000_000)
    ap.add_argument("--per-subject", type=int, default=50)
    ap.add_argument("--dir", type=Path, default=DATA / "registry")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--dask-glob", default="", help="run (b) on these files of the registry only, e.g. "
                    "'clinic_id=1[0-2][0-9]/*.parquet' (30 clinics, 10M rows)")
    ap.add_argument("--keep", action="store_true", help="keep the generated registry")
    ap.add_argument("--reuse", action="store_true", help="reuse a registry of the same size kept by --keep")
    ap.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for both sides ('none': DuckDB's)")
    ap.add_argument("--json", type=Path, default=OUT / "bench_scale.json")
    a = ap.parse_args()
    marker = a.dir / "_rows.txt"
    if a.reuse and marker.exists() and marker.read_text() == f"{a.rows} {a.per_subject}":
        gen = 0.0
    else:
        gen = generate(a.dir, a.rows, a.per_subject)
        marker.write_text(f"{a.rows} {a.per_subject}")
    size = sum(f.stat().st_size for f in a.dir.rglob("*.parquet")) / 2**20
    print(f"registry: {a.rows:,} rows, {a.rows // a.per_subject:,} subjects, {size:.0f} MB of Parquet, "
          f"generated in {gen:.1f} s")
    ours_code = OURS.format(kw=KW)
    res: dict[str, object] = {"rows": a.rows, "subjects": a.rows // a.per_subject, "parquet_mb": size,
                              "memory_limit": a.memory_limit}
    bare, ours, rounds = [], [], []
    for i in range(a.repeat):  # alternate (and swap who goes first), so a busy machine slows both alike
        pair = [("bare", BARE, ("none",)), ("ours", ours_code, ("duckdb",))]
        for who, code, extra in (pair if i % 2 == 0 else pair[::-1]):
            load = _load()
            r = _child(code, str(a.dir), *extra, a.memory_limit) if who == "ours" else _child(code, str(a.dir), a.memory_limit)
            (ours if who == "ours" else bare).append(r)
            rounds.append(dict(who=who, wall_s=r[0], cpu_s=r[3], rss_mb=r[2], load=load))
            print(f"  round {i + 1} {who}: {r[0]:.2f} s wall, {r[3]:.2f} s CPU, {r[2]:.0f} MB peak, load {load}",
                  flush=True)
    b, o = min(bare), min(ours)
    res.update(bare_s=b[0], ours_s=o[0], ratio=o[0] / b[0], groups=o[1], bare_groups=b[1],
               ours_cpu_s=min(x[3] for x in ours), bare_cpu_s=min(x[3] for x in bare),
               ours_rss_mb=max(x[2] for x in ours), bare_rss_mb=max(x[2] for x in bare), rounds=rounds)
    print(f"(a) effect sizes, {o[1]:,} groups, exact CIs: ours {o[0]:.2f} s, bare DuckDB GROUP BY {b[0]:.2f} s "
          f"-> {o[0] / b[0]:.2f}x wall, {res['ours_cpu_s'] / res['bare_cpu_s']:.2f}x CPU (best of {a.repeat}; "
          f"DuckDB memory_limit {a.memory_limit}); peak RSS ours {res['ours_rss_mb']:.0f} MB, bare "
          f"{res['bare_rss_mb']:.0f} MB")
    if not a.skip_dask:
        _dask(a, ours_code, o, res)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=1))
    if not a.keep:
        shutil.rmtree(a.dir)


if __name__ == "__main__":
    main()

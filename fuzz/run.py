"""The long fuzzing run (issue 18 item 8): mutate the seed files for a while and save every finding.

Usage::

    python fuzz/run.py --seconds 600 --seed 1          # seeded mutations (no extra dependency)
    python fuzz/run.py --atheris -atheris_runs=20000    # coverage-guided, with atheris

Each finding (a broken invariant, see ``fuzz/mutations.py``) is written to ``tests/data/hostile/`` under a name
made from its bytes; ``tests/io/test_hostile_fuzz.py`` reads every file there as a regression test. The run
prints its figures: examples tried, datasets, refusals, findings.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mutations import Finding, check, mutate, regression_name, seeds  # noqa: E402

REGRESSIONS = HERE.parent / "tests" / "data" / "hostile"


def _save(name: str, data: bytes, why: str) -> Path:
    REGRESSIONS.mkdir(parents=True, exist_ok=True)
    path = REGRESSIONS / regression_name(name, data)
    path.write_bytes(data)
    print(f"FINDING {path.name}: {why}", flush=True)
    return path


def seeded(seconds: float, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    base = seeds()
    names = sorted(base)
    counts = {"tried": 0, "dataset": 0, "refused": 0, "findings": 0}
    t_end = time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as tmp:
        while time.monotonic() < t_end:
            name = rng.choice(names)
            data = mutate(name, base[name], rng)
            counts["tried"] += 1
            try:
                outcome = check(name, data, Path(tmp))
                counts[outcome.kind] += 1
            except Finding as why:
                counts["findings"] += 1
                _save(name, data, str(why)[:300])
    return counts


def with_atheris(argv: list[str]) -> None:  # pragma: no cover - a long run outside CI
    import atheris

    base = seeds()
    names = sorted(base)
    tmp = Path(tempfile.mkdtemp())

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        name = names[fdp.ConsumeIntInRange(0, len(names) - 1)]
        rng = random.Random(fdp.ConsumeInt(4))
        body = mutate(name, base[name], rng) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.remaining_bytes())
        try:
            check(name, body, tmp)
        except Finding as why:
            _save(name, body, str(why)[:300])
            raise

    atheris.instrument_all()  # coverage feedback from every loaded Python module (the package included)
    atheris.Setup(argv, one)
    atheris.Fuzz()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--atheris", action="store_true")
    args, rest = ap.parse_known_args()
    if args.atheris:
        with_atheris([sys.argv[0], *rest])
        return 0
    t0 = time.monotonic()
    counts = seeded(args.seconds, args.seed)
    print(f"{counts['tried']} examples in {time.monotonic() - t0:.0f} s: {counts['dataset']} read, "
          f"{counts['refused']} refused with a located DataValidationError, {counts['findings']} findings")
    return 1 if counts["findings"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

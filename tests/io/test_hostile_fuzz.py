"""The fuzzing harness in CI (issue 18 item 8): byte mutations of valid files of every text and zip format, and
the one invariant (see ``fuzz/mutations.py``): a load whose rows read = kept + rejected with every kept number
as written, or a ``DataValidationError`` naming the file, row and column; never another exception, a hang or a
changed number. A fixed seed and a bounded number of examples here; the long run is ``fuzz/run.py``, whose
findings are the regression files under ``tests/data/hostile/``.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "tests" / "data" / "hostile"


def _harness():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("mo_fuzz_mutations", ROOT / "fuzz" / "mutations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz = _harness()
SEEDS = fuzz.seeds()


@pytest.mark.parametrize("path", sorted(REGRESSIONS.glob("*.*")), ids=lambda p: p.name)
def test_fuzzer_findings_stay_fixed(path: Path, tmp_path: Path) -> None:
    name = path.name.split("-")[0] + path.suffix
    fuzz.check(name, path.read_bytes(), tmp_path)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_file_reads(name: str, tmp_path: Path) -> None:
    assert fuzz.check(name, SEEDS[name], tmp_path).kind == "dataset"


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), which=st.sampled_from(sorted(SEEDS)))
def test_mutated_files_keep_the_invariant(tmp_path_factory: pytest.TempPathFactory, seed: int, which: str) -> None:
    data = fuzz.mutate(which, SEEDS[which], random.Random(seed))
    fuzz.check(which, data, tmp_path_factory.mktemp("fuzz"))


def test_the_invariant_catches_a_changed_number(tmp_path: Path) -> None:
    """The oracle itself: a kept value that is not written in the file is a finding."""
    import massage_outcomes as mo

    class Changed:
        source = {"rows_read": 1, "rows_kept": 1, "rows_rejected": 0, "encoding": "utf-8", "delimiter": ","}
        outcomes = mo.simulate_trial(n_per_arm=2, seed=1).outcomes.head(1).assign(value=5.0)
        rejected = outcomes.head(0)

    path = tmp_path / "x.csv"
    path.write_text("subject,value\n1,0x5\n", encoding="utf-8")
    with pytest.raises(fuzz.Finding, match="not written as such"):
        fuzz._check_dataset(Changed(), path, "x.csv")

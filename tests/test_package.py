"""The package's face: what dir() shows and what the README names (issue 17.11)."""

from __future__ import annotations

from pathlib import Path

import massage_outcomes as mo


def test_dir_shows_the_public_names_only():
    names = dir(mo)
    for helper in ("Any", "importlib", "annotations"):
        assert helper not in names
    for public in ("read", "effect_sizes", "fit_mmrm", "multiplicity", "ResultFrame", "__version__"):
        assert public in names
    assert set(names) == set(mo.__all__)


def test_readme_names_modules_that_exist():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    src = Path(mo.__file__).parent
    import re

    for name in set(re.findall(r"`([a-z_]+\.py)`", readme)):
        assert list(src.rglob(name)) or name in ("make_sample_data.py",), f"README names {name}, which does not exist"

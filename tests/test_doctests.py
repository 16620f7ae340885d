"""Every docstring example in the package runs (STYLE.md: examples are doctests executed in CI)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import massage_outcomes

matplotlib.use("Agg")

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(massage_outcomes.__path__, prefix="massage_outcomes.")
    if not info.name.rsplit(".", 1)[-1].startswith("__")
)


# modules that need an optional extra, and the package that extra brings
OPTIONAL = {"massage_outcomes.effects._compiled": "numba"}  # [fast]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"

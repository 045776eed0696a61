"""The package's layers only point down (the contract in pyproject.toml, checked by import-linter)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

import simlab

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("simlab", "strategies", cache_dir=None)


def test_import_linter_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0, \
        "an import runs up the layers, across siblings or in a cycle; run `lint-imports` for the chain"


def test_every_subpackage_sits_in_a_layer():
    layers = next(c for c in CONTRACTS if c["type"] == "layers")["layers"]
    named = {part.strip().strip("()") for layer in layers for part in layer.split("|")}
    top = {f"simlab.{p.stem}" for p in Path(simlab.__file__).parent.iterdir()
           if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    assert top - named == set(), "a package or module of simlab is in no layer of the contract"


def test_nothing_below_the_command_line_imports_the_root_package(graph):
    importers = graph.find_modules_that_directly_import("simlab")
    assert {m for m in importers if not m.startswith("simlab.cli")} == set()


def test_help_does_not_load_the_numerical_stack():
    code = ("import sys; from simlab.cli import build_parser; build_parser().format_help(); "
            "print(sorted(m for m in ('numpy', 'pandas', 'numba', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_run_does_not_load_plotting_or_statistics():
    """A backtest needs neither matplotlib (figures are drawn when a run is saved) nor scipy.stats."""
    code = ("import sys, simlab; simlab.run({'name': 'lean', 'data': {'source': 'synthetic', 'n_assets': 4, "
            "'n_days': 60, 'seed': 1, 'benchmark': None}, 'pipeline': [{'type': 'equal_weight'}]}); "
            "print(sorted(m for m in ('matplotlib', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"

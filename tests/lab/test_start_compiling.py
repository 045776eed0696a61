"""``simlab.run`` hands the kernel groups its Steps name to a second process at once."""

from __future__ import annotations

from pathlib import Path

from simlab.config.loader import load_config
from simlab.kernels import prefetch
from simlab.lab import run as run_module

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "experiments"


def _groups(monkeypatch, config) -> list[str]:
    handed: list[list[str]] = []
    monkeypatch.setattr(prefetch, "start", lambda groups: handed.append(list(groups)) or [])
    run_module.start_compiling(load_config(config))
    return list(dict.fromkeys(handed[0]))


def test_optimizers_name_the_qp_and_hrp_the_leaf_ordering_in_scenario_order(monkeypatch):
    assert _groups(monkeypatch, CONFIGS / "allocator_phases.yaml") == ["leaf_order", "qp"]


def test_rule_based_steps_name_nothing(monkeypatch):
    assert _groups(monkeypatch, CONFIGS / "quickstart.yaml") == []


def test_cvxpy_only_and_unordered_hrp_name_nothing(monkeypatch):
    raw = {"name": "t", "data": {"source": "builtin:sp500_20", "start": "2015-01-01", "end": "2016-01-01"},
           "schedule": {"frequency": "monthly"},
           "pipeline": [{"type": "min_variance", "solver": "cvxpy"},
                        {"type": "hierarchical_risk_parity", "optimal_ordering": False}]}
    assert _groups(monkeypatch, raw) == []

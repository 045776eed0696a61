"""Build the batched pipeline: scenarios grouped by structure, Steps with per-scenario fields.

Scenarios whose pipelines have the same Step types (and the same non-numeric settings)
and the same kind of cost model form one group. Inside a group, a numeric field that
differs across scenarios becomes an array (B_g,), so one Step call serves the group. A
strategy is computed once per distinct strategy config and shared by every scenario
that uses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from simlab.config import registry
from simlab.config.scenarios import Scenario
from simlab.costs.base import CostModel, NoCost
from simlab.contract.step import Step


@dataclass(frozen=True)
class Group:
    """Scenarios that run through one batched pipeline."""

    rows: np.ndarray  # (B_g,) positions in the batch axis
    names: tuple[str, ...]
    steps: tuple[Step, ...]
    step_labels: tuple[str, ...]
    cost: CostModel
    strategy_index: np.ndarray  # (B_g,) index into the distinct strategies, -1 for none
    whole: bool = False  # the group is the whole batch, in order (views instead of copies)

    @cached_property
    def one_strategy(self) -> bool:
        """Every scenario of the group reads the same strategy's signal."""
        return bool((self.strategy_index == self.strategy_index[0]).all())

    @property
    def sel(self) -> slice | np.ndarray:
        """Index of the group's scenarios in the batch axis: a slice (a view) when whole."""
        return slice(None) if self.whole else self.rows


def _shape_of(entry: dict | None) -> Any:
    if entry is None:
        return None
    return {k: ("<number>" if registry.is_number(v) else v) for k, v in entry.items()}


def _signature(s: Scenario) -> str:
    return json.dumps([_shape_of(s.costs), [_shape_of(e) for e in s.pipeline]], sort_keys=True, default=str)


def distinct_strategies(scenarios: list[Scenario]) -> tuple[list[dict], np.ndarray]:
    """The distinct strategy configs and, per scenario, the index of its own (-1: none)."""
    keys: dict[str, int] = {}
    configs, index = [], []
    for s in scenarios:
        if s.strategy is None:
            index.append(-1)
            continue
        key = json.dumps(s.strategy, sort_keys=True, default=str)
        if key not in keys:
            keys[key] = len(configs)
            configs.append(s.strategy)
        index.append(keys[key])
    return configs, np.asarray(index, dtype=np.int64)


def build_groups(scenarios: list[Scenario], strategy_index: np.ndarray) -> list[Group]:
    """Group scenarios by pipeline structure and build each group's batched components."""
    by_signature: dict[str, list[int]] = {}
    for i, s in enumerate(scenarios):
        by_signature.setdefault(_signature(s), []).append(i)
    groups = []
    for members in by_signature.values():
        chosen = [scenarios[i] for i in members]
        steps = tuple(
            registry.build_batch("step", [s.pipeline[k] for s in chosen], f"pipeline[{k}]")
            for k in range(len(chosen[0].pipeline))
        )
        labels = tuple(f"{k}:{e['type']}" for k, e in enumerate(chosen[0].pipeline))
        cost = NoCost() if chosen[0].costs is None else registry.build_batch("cost", [s.costs for s in chosen], "costs")
        rows = np.asarray(members, dtype=np.int64)
        whole = len(rows) == len(scenarios)
        groups.append(Group(rows, tuple(s.name for s in chosen), steps, labels, cost, strategy_index[rows], whole))
    return groups

"""Expand ``scenarios:`` (a grid, a named list, or both) into the batch axis B.

Each scenario is the experiment's ``strategy``, ``costs`` and ``pipeline`` (or ``sleeves``)
with overrides applied and re-validated. Only those keys can vary inside one batch; what changes
the data, the calendar or the fills (``data``, ``schedule``, ``execution``) cannot.
Names are readable and stable: ``top_n=3,bps=10`` for a grid point, the given ``name``
for a list entry, both joined by ``/`` when a list is crossed with a grid.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from simlab.config import registry
from simlab.config.schema import check_sleeves
from simlab.errors import ConfigError

BATCHABLE = ("strategy", "costs", "pipeline", "sleeves")


@dataclass(frozen=True)
class Scenario:
    """One point of the batch axis: resolved component entries and a name."""

    name: str
    strategy: dict[str, Any] | None
    costs: dict[str, Any] | None
    pipeline: tuple[dict[str, Any], ...]
    sleeves: tuple[dict[str, Any], ...] | None = None  # name, weight, strategy, pipeline; then pipeline is ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the saved config."""
        out = {
            "name": self.name,
            "strategy": self.strategy,
            "costs": self.costs,
            "pipeline": list(self.pipeline),
        }
        if self.sleeves is not None:
            out["sleeves"] = [dict(s, pipeline=list(s["pipeline"])) for s in self.sleeves]
        return out

    def steps(self) -> list[tuple[str, dict[str, Any]]]:
        """(where, entry) of every pipeline Step, a sleeve's included (``sleeves[1].pipeline[0]``)."""
        if self.sleeves is None:
            return [(str(i), e) for i, e in enumerate(self.pipeline)]
        return [(f"sleeves[{k}].pipeline[{i}]", e) for k, s in enumerate(self.sleeves) for i, e in enumerate(s["pipeline"])]


def expand(exp) -> list[Scenario]:
    """All scenarios of an experiment, in grid order; one unnamed scenario if none.

    ``exp``'s strategy, costs and pipeline entries are already resolved: a scenario
    re-validates only the components its overrides touch, so every value is checked once.
    """
    base = {"strategy": exp.strategy, "costs": exp.costs, "pipeline": exp.pipeline}
    if exp.sleeves is not None:
        base["sleeves"] = [s.model_dump() for s in exp.sleeves]
    grid_points = _grid_points(exp.scenarios.grid)
    entries = exp.scenarios.list or [{"name": ""}]
    out = []
    for entry in entries:
        entry = dict(entry)
        label = str(entry.pop("name", ""))
        for grid_name, grid_over in grid_points:
            name = "/".join(p for p in (label, grid_name) if p) or exp.name
            tree = copy.deepcopy(base)
            overrides = {**entry, **grid_over}
            _check_sleeve_paths(tree, overrides)
            for path, value in overrides.items():
                _set_path(tree, path, value)
            out.append(_resolve(name, tree, _touched(overrides)))
    _check_unique([s.name for s in out])
    return out


def _check_sleeve_paths(tree: dict, overrides: dict) -> None:
    """In a book with sleeves, ``strategy`` and ``pipeline`` belong to a sleeve: say so."""
    if "sleeves" not in tree:
        return
    for path, value in overrides.items():
        head = str(path).split(".")[0]
        if head in ("strategy", "pipeline") and value not in (None, []):  # a saved scenario lists them empty
            raise ConfigError(f"scenarios: {path!r}: {head!r} cannot be set in a book with sleeves; vary "
                              f"sleeves.<i>.{path} (e.g. sleeves.0.{path})")


def _touched(overrides: dict) -> set[tuple]:
    """The components an override set changes: ``("strategy",)``, ``("pipeline", 2)``, ..."""
    touched = set()
    for path in overrides:
        parts = str(path).split(".")
        if parts[0] == "pipeline" and len(parts) > 1 and parts[1].isdigit():
            touched.add(("pipeline", int(parts[1])))
        else:
            touched.add((parts[0],))
    return touched


def _grid_points(grid: dict[str, list]) -> list[tuple[str, dict]]:
    if not grid:
        return [("", {})]
    for path, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"scenarios.grid.{path}: expected a non-empty list of values")
    labels = short_labels(list(grid))
    points = []
    for combo in itertools.product(*grid.values()):
        name = ",".join(f"{labels[p]}={format_value(v)}" for p, v in zip(grid, combo))
        points.append((name, dict(zip(grid, combo))))
    return points


def short_labels(paths: list[str]) -> dict[str, str]:
    """Each dotted path's last part as its label, or the whole path where two parts clash."""
    last = [p.split(".")[-1] for p in paths]
    return {p: (s if last.count(s) == 1 else p) for p, s in zip(paths, last)}


def format_value(value: Any) -> str:
    """A value as it appears in a scenario or variant name (``3``, ``0.5``, a component's type)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    if isinstance(value, dict) and "type" in value:
        return str(value["type"])
    return str(value)


def _set_path(tree: dict, path: str, value: Any) -> None:
    parts = str(path).split(".")
    if parts[0] not in BATCHABLE:
        raise ConfigError(
            f"scenarios: {path!r} cannot vary inside one batch; only keys under "
            f"{', '.join(BATCHABLE)} can (vary data, schedule or execution with a sweep)"
        )
    node: Any = tree
    for i, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: i + 1]))
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, path)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"scenarios: {path!r}: {parts[0]!r} is not set in the experiment, so it cannot vary")


def _child(node: Any, part: str, where: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, where)]
    if not isinstance(node, dict):
        raise ConfigError(f"scenarios: {where!r} is not set in the experiment, so it cannot vary")
    if part not in node:
        node[part] = {}
    return node[part]


def _index(node: list, part: str, where: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"scenarios: {where!r}: {part!r} is not an index below {len(node)}")
    return int(part)


def _resolve(name: str, tree: dict, touched: set[tuple]) -> Scenario:
    def again(key: tuple) -> bool:
        return key in touched or key[:1] in touched

    if "sleeves" in tree:
        return _resolve_sleeves(name, tree, again(("sleeves",)), again(("costs",)))
    try:
        strategy = tree["strategy"]
        if strategy and again(("strategy",)):
            strategy = registry.resolve("strategy", strategy, "strategy")
        costs = tree["costs"]
        if costs and again(("costs",)):
            costs = registry.resolve("cost", costs, "costs")
        if not isinstance(tree["pipeline"], list) or not tree["pipeline"]:
            raise ConfigError("pipeline: expected a non-empty list of steps")
        pipeline = tuple(
            registry.resolve("step", e, f"pipeline[{i}]") if again(("pipeline", i)) else e
            for i, e in enumerate(tree["pipeline"])
        )
        check_chain(strategy, pipeline)
    except ConfigError as err:
        err.add_note(f"in scenario {name!r}")
        raise
    return Scenario(name=name, strategy=strategy or None, costs=costs or None, pipeline=pipeline)


def _resolve_sleeves(name: str, tree: dict, touched: bool, costs_touched: bool) -> Scenario:
    """A scenario of a book with sleeves: each sleeve's components re-validated when an override touched them."""
    try:
        for key in ("strategy", "pipeline"):
            if tree.get(key):
                raise ConfigError(f"scenarios: {key!r} cannot be set in a book with sleeves; "
                                  f"vary sleeves.<i>.{key} instead")
        costs = tree["costs"]
        if costs and costs_touched:
            costs = registry.resolve("cost", costs, "costs")
        sleeves = tree["sleeves"]
        if touched:
            sleeves = [{**s, **resolve_sleeve(s, i)} for i, s in enumerate(sleeves)]
            try:
                check_sleeves(sleeves)
            except ValueError as err:
                raise ConfigError(str(err)) from None
        for k, sleeve in enumerate(sleeves):
            try:
                check_chain(sleeve["strategy"], tuple(sleeve["pipeline"]))
            except ConfigError as err:
                raise ConfigError(f"sleeves[{k}].{err}") from None
    except ConfigError as err:
        err.add_note(f"in scenario {name!r}")
        raise
    frozen = tuple({**s, "pipeline": tuple(s["pipeline"])} for s in sleeves)
    return Scenario(name=name, strategy=None, costs=costs or None, pipeline=(), sleeves=frozen)


def resolve_sleeve(sleeve: dict[str, Any], i: int) -> dict[str, Any]:
    """A sleeve's strategy and pipeline resolved against the registry (errors name ``sleeves[i]``)."""
    where = f"sleeves[{i}]"
    strategy = sleeve.get("strategy")
    if strategy is not None:
        strategy = registry.resolve("strategy", strategy, f"{where}.strategy")
    if not isinstance(sleeve.get("pipeline"), list) or not sleeve["pipeline"]:
        raise ConfigError(f"{where}.pipeline: expected a non-empty list of steps")
    pipeline = [registry.resolve("step", e, f"{where}.pipeline[{k}]") for k, e in enumerate(sleeve["pipeline"])]
    return {"strategy": strategy, "pipeline": pipeline}


BASE_FEATURES = frozenset({"prices", "returns", "book", "nav_history"})  # what every Step may read


def check_chain(strategy: dict | None, pipeline: tuple[dict, ...]) -> None:
    """Every Step's ``requires`` must be met by the data, the strategy or an earlier Step."""
    available = set(BASE_FEATURES) | ({"signal"} if strategy else set())
    steps = registry.registry("step")
    for i, entry in enumerate(pipeline):
        cls = steps[entry["type"]]
        missing = set(cls.requires) - available
        if missing:
            need = ", ".join(sorted(missing))
            hint = " (add a strategy: block)" if "signal" in missing else ""
            raise ConfigError(f"pipeline[{i}] ({entry['type']}) requires {need}, which nothing before it provides{hint}")
        available |= set(cls.provides)


def _check_unique(names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"scenarios: two scenarios are named {name!r}; names must be unique")
        seen.add(name)

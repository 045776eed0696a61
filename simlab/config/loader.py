"""Load an experiment from YAML, a path, a dict or a model; resolve it; hash it.

The resolved config, every default filled and every scenario expanded, is the identity
of a run: it is saved with the run and its hash names the run folder.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from simlab.config import registry, validation
from simlab.config.scenarios import Scenario, expand
from simlab.config.schema import Experiment
from simlab.errors import ConfigError


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"duplicate key {key!r} on line {line}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class Config:
    """A validated experiment with its scenarios expanded and components resolved."""

    experiment: Experiment
    scenarios: tuple[Scenario, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.experiment.name

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain YAML-able data (the run's identity).

        Scenarios appear expanded, as a named ``list`` with every component resolved, so
        the saved file loads back to the same scenarios and the same hash.
        """
        out = self.experiment.model_dump(mode="json")
        out["scenarios"] = {"grid": {}, "list": [s.to_dict() for s in self.scenarios]}
        return out

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file into a dict; duplicate keys and non-mapping files are errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with path.open() as fh:
        try:
            data = yaml.load(fh, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level; got {type(data).__name__}")
    return data


def load_config(source: str | Path | dict | Experiment | Config) -> Config:
    """Validate an experiment and resolve its scenarios; bad input raises ConfigError."""
    if isinstance(source, Config):
        return source
    path = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        source = read_yaml(path)
    raw = source.model_dump() if isinstance(source, Experiment) else copy.deepcopy(source)
    try:
        experiment = Experiment.model_validate(raw)
    except pydantic.ValidationError as err:
        raise ConfigError(validation.describe(err, valid_keys=validation.model_keys(Experiment))) from None
    experiment = _resolve_components(experiment)
    return Config(experiment=experiment, scenarios=tuple(expand(experiment)), path=path)


def _resolve_components(exp: Experiment) -> Experiment:
    strategy = None if exp.strategy is None else registry.resolve("strategy", exp.strategy, "strategy")
    costs = None if exp.costs is None else registry.resolve("cost", exp.costs, "costs")
    pipeline = [registry.resolve("step", e, f"pipeline[{i}]") for i, e in enumerate(exp.pipeline)]
    update = {"strategy": strategy, "costs": costs, "pipeline": pipeline}
    if exp.realized_costs is not None:
        model = registry.resolve("cost", exp.realized_costs.model, "realized_costs.model")
        update["realized_costs"] = exp.realized_costs.model_copy(update={"model": model})
    return exp.model_copy(update=update)

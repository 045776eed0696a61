"""Load an experiment from YAML, a path, a dict or a model; resolve it; hash it.

The resolved config, every default filled and every scenario expanded, is the identity
of a run: it is saved with the run and its hash names the run folder.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from simlab.config import paths, registry, validation
from simlab.config.scenarios import Scenario, expand, resolve_sleeve
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
        if out["data"].get("calendar") == "trading_days":
            # the default calendar is left out, so that experiments written before the key
            # existed keep their hash and run id
            del out["data"]["calendar"]
        out["scenarios"] = {"grid": {}, "list": [s.to_dict() for s in self.scenarios]}
        return out

    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`, each file it reads named by its
        content (``sha256:...``) rather than its location: the same experiment on the same
        files has the same hash in any clone and from any folder (:func:`paths.by_content`)."""
        text = json.dumps(paths.by_content(self.to_dict()), sort_keys=True, default=str)
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
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: not a YAML text file ({err.reason} at byte {err.start})") from None
        except ValueError as err:  # a date YAML recognises but the calendar has not (2021-02-30)
            raise ConfigError(f"{path}: {err} (an impossible date?); write dates as YYYY-MM-DD") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level; got {type(data).__name__}")
    return data


def load_config(source: str | Path | dict | Experiment | Config, base: str | Path | None = None) -> Config:
    """Validate an experiment and resolve its scenarios; bad input raises ConfigError.

    Parameters
    ----------
    source : path, dict, Experiment or Config
        A YAML file, or the experiment as plain data.
    base : path, optional
        Folder that relative file paths resolve against: the config file's folder for a
        file, else ``base``, else the working directory (:mod:`simlab.config.paths`).

    Returns
    -------
    Config
        With every file path absolute and ``file_sha256`` filled.
    """
    if isinstance(source, Config):
        return source
    path = None
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser().resolve()
        source = read_yaml(path)
        base = path.parent
    raw = source.model_dump() if isinstance(source, Experiment) else copy.deepcopy(source)
    validation.check_finite(raw)
    raw = paths.resolve_paths(raw, Path(base).resolve() if base is not None else Path.cwd())
    try:
        experiment = Experiment.model_validate(raw)
    except pydantic.ValidationError as err:
        raise ConfigError(validation.describe(err, valid_keys=validation.model_keys(Experiment))) from None
    experiment = _with_file_hashes(experiment)
    experiment = _resolve_components(experiment)
    scenarios = tuple(expand(experiment))
    _check_modules(scenarios)
    return Config(experiment=experiment, scenarios=scenarios, path=path)


def with_overrides(raw: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """A copy of a raw experiment with ``a.b=value`` assignments applied (the value read as
    YAML: ``10`` an int, ``[3, 5]`` a list, ``null`` None; list items by index:
    ``pipeline.0.top_n=4``).

    Raises
    ------
    ConfigError
        An assignment without ``=``, or a path through something that is not a mapping or list.
    """
    out = copy.deepcopy(raw)
    for assignment in assignments:
        path, sep, text = assignment.partition("=")
        if not sep or not path.strip():
            raise ConfigError(f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. costs.bps=5")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {assignment!r}: the value is not valid YAML: {err}") from None
        node: Any = out
        parts = path.strip().split(".")
        for i, part in enumerate(parts):
            key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
            if isinstance(node, list) and not (isinstance(key, int) and key < len(node)):
                raise ConfigError(f"--set {path}: {'.'.join(parts[:i]) or 'the config'} is a list of "
                                  f"{len(node)}; {part!r} is not an index in it")
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {path}: {'.'.join(parts[:i])} is not a mapping")
            if i == len(parts) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and node.get(key) is None:
                    node[key] = {}
                node = node[key]
    return out


def load_with_overrides(path: str | Path, assignments: list[str]) -> Config:
    """The experiment at ``path`` with ``--set`` assignments applied (:func:`with_overrides`);
    its relative paths still resolve beside the file."""
    if not assignments:
        return load_config(path)
    path = Path(path).expanduser().resolve()
    return load_config(with_overrides(read_yaml(path), assignments), base=path.parent)


def _with_file_hashes(exp: Experiment) -> Experiment:
    data = exp.data
    hashes = paths.file_hashes(exp.universe, [data.source, data.benchmark, *data.macro.values()])
    for path, recorded in exp.file_sha256.items():
        if path in hashes and hashes[path] != recorded:
            raise ConfigError(
                f"{path} has changed since this config was saved (file_sha256 {recorded[:12]}..., the "
                f"file now {hashes[path][:12]}...); restore the file, or delete its file_sha256 entry "
                "to run with the file as it is now"
            )
    return exp.model_copy(update={"file_sha256": hashes})


def _check_modules(scenarios: tuple[Scenario, ...]) -> None:
    """Every optional module a pipeline Step needs is installed (a Step's ``required_modules``),
    so that a missing solver never turns into a silent fallback at run time."""
    for scenario in scenarios:
        for i, entry in scenario.steps():
            needs = getattr(registry.lookup("step", entry["type"], f"pipeline[{i}]"), "required_modules", None)
            missing = [m for m in (needs(entry) if needs else ()) if importlib.util.find_spec(m) is None]
            if missing:
                where = f"scenario {scenario.name!r}: " if len(scenarios) > 1 else ""
                raise ConfigError(
                    f"{where}pipeline[{i}] ({entry['type']}): needs {', '.join(missing)}, which "
                    f"{'is' if len(missing) == 1 else 'are'} not installed; install the optimizers with "
                    "pip install 'simlab[opt]' (from a clone: pip install -e '.[opt]')"
                )


def _resolve_components(exp: Experiment) -> Experiment:
    strategy = None if exp.strategy is None else registry.resolve("strategy", exp.strategy, "strategy")
    costs = None if exp.costs is None else registry.resolve("cost", exp.costs, "costs")
    pipeline = None if exp.pipeline is None else [
        registry.resolve("step", e, f"pipeline[{i}]") for i, e in enumerate(exp.pipeline)]
    update = {"strategy": strategy, "costs": costs, "pipeline": pipeline}
    if exp.sleeves is not None:
        update["sleeves"] = [s.model_copy(update=resolve_sleeve(s.model_dump(), i)) for i, s in enumerate(exp.sleeves)]
    if exp.realized_costs is not None:
        model = registry.resolve("cost", exp.realized_costs.model, "realized_costs.model")
        update["realized_costs"] = exp.realized_costs.model_copy(update={"model": model})
    return exp.model_copy(update=update)


def read_model_list(path: str | Path, key: str, model: type[pydantic.BaseModel]) -> tuple:
    """The list under ``key`` in a YAML file, each item validated as ``model``.

    A missing or empty list, or an invalid item, is a ConfigError naming the file, the key,
    the item's index and the model's fields.
    """
    items = read_yaml(path).get(key)
    fields = ", ".join(model.model_fields)
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: expected '{key}:' with a list of {{{fields}}}")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(model.model_validate(item))
        except pydantic.ValidationError as err:
            raise ConfigError(validation.describe(err, f"{path}: {key}[{i}]", validation.model_keys(model))) from None
    return tuple(out)


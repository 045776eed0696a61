"""One registry per kind of component: step, strategy, cost, detector (regime detectors).

A component is a frozen dataclass (or a frozen pydantic model, as the detectors are) with
explicit fields, added under a snake_case key with ``@register(kind, key)``. Registering a
key twice, or a class whose constructor takes ``*args``/``**kwargs``, is an error.
Building from a YAML entry (``{type: position_limit, max_weight: 0.25}``) reports unknown
keys by their path with the nearest valid field, missing required fields, and values that
fail the field's type or constraint.

Field constraints are declared with ``typing.Annotated[float, pydantic.Field(gt=0)]``;
pydantic validates one scenario's plain values. The engine then builds the batched
component, whose numeric fields may hold one value per scenario (arrays of shape (B,)).

Discovery: the registry imports none of its plugins. Packages that hold components (the
built-ins included) declare a module in the entry-point group ``simlab.components``
(``pyproject.toml``); the first lookup imports every declared module once, and their
``@register`` decorators fill the tables. A third-party package plugs in the same way.
Registering the same class again (a notebook cell run twice) replaces it quietly; a
different class under a taken key is an error naming both.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from importlib import metadata
from typing import Any

import numpy as np
import pydantic

from simlab.config import validation
from simlab.errors import ConfigError, SimlabError

KINDS = ("step", "strategy", "cost", "detector")
ENTRY_POINT_GROUP = "simlab.components"
_REGISTRIES: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}
_ADAPTERS: dict[type, pydantic.TypeAdapter] = {}
_loaded: set[str] = set()  # entry points already imported
_discovered = False  # the entry points were read (reading them costs milliseconds: once per process)


def register(kind: str, key: str):
    """Class decorator adding a frozen dataclass or pydantic model to the ``kind`` registry under ``key``."""
    if kind not in _REGISTRIES:
        raise ValueError(f"unknown component kind {kind!r}; valid kinds: {', '.join(KINDS)}")

    def add(cls: type) -> type:
        _check_component(cls, kind, key)
        other = _REGISTRIES[kind].get(key)
        if other is not None and not _same_definition(other, cls):
            raise ValueError(
                f"{kind} {key!r} is already registered by {other.__module__}.{other.__qualname__}"
            )
        cls.key = key
        _REGISTRIES[kind][key] = cls
        _ADAPTERS.pop(other, None)
        return cls

    return add


def _same_definition(old: type, new: type) -> bool:
    """True when ``new`` is ``old`` defined again (same module and qualified name)."""
    return (old.__module__, old.__qualname__) == (new.__module__, new.__qualname__)


def _is_model(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, pydantic.BaseModel)


def _check_component(cls: type, kind: str, key: str) -> None:
    frozen = (cls.model_config.get("frozen", False) if _is_model(cls)
              else dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen)
    if not frozen:
        raise TypeError(f"{kind} {key!r}: {cls.__qualname__} must be a frozen dataclass or pydantic model")
    for param in inspect.signature(cls).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{kind} {key!r}: {cls.__qualname__} may not take *args or **kwargs")


def _ensure_loaded() -> None:
    """Import every module declared in the ``simlab.components`` entry-point group, once."""
    global _discovered
    if _discovered:
        return
    points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    if not points:
        raise SimlabError(
            f"no components are declared in the entry-point group {ENTRY_POINT_GROUP!r}: simlab is not "
            "installed; install it from the repository root with: pip install -e ."
        )
    for point in points:
        if point.value not in _loaded:
            point.load()
            _loaded.add(point.value)
    _discovered = True


def refresh() -> None:
    """Read the entry points again on the next lookup, so that newly installed plugins are found."""
    global _discovered
    _discovered = False


def registry(kind: str) -> dict[str, type]:
    """Key -> class for one kind (a copy)."""
    _ensure_loaded()
    return dict(_REGISTRIES[kind])


def lookup(kind: str, key: Any, path: str) -> type:
    """The class registered as ``key``, or a ConfigError naming ``path`` and the choices."""
    table = registry(kind)
    if key in table:
        return table[key]
    choices = sorted(table)
    hint = difflib.get_close_matches(str(key), choices, n=1)
    near = f" Did you mean {hint[0]!r}?" if hint else ""
    raise ConfigError(
        f"{_at(path, 'type')}unknown {kind} {key!r}.{near} Valid {kind}s: {', '.join(choices)}"
    )


def fields_of(cls: type) -> dict[str, Any]:
    """The constructor fields of a component class (dataclass Fields or pydantic FieldInfos)."""
    if _is_model(cls):
        return dict(cls.model_fields)
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def resolve(kind: str, entry: Any, path: str) -> dict[str, Any]:
    """Validate one config entry; return it with every default filled (``type`` first)."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{_at(path)}expected a mapping with a 'type' key; got {entry!r}")
    if "type" not in entry:
        raise ConfigError(f"{_at(path)}missing 'type'; valid {kind}s: {', '.join(sorted(registry(kind)))}")
    cls = lookup(kind, entry["type"], path)
    params = {k: v for k, v in entry.items() if k != "type"}
    _check_keys(cls, params, path)
    validated = _validate(cls, params, path)
    out = {"type": entry["type"]}
    out.update({name: getattr(validated, name) for name in fields_of(cls)})
    return out


def _check_keys(cls: type, params: dict, path: str) -> None:
    valid = list(fields_of(cls)) or ["(none)"]
    for key in params:
        if key not in valid:
            near = validation.suggestion(key, valid)
            raise ConfigError(f"{_at(path, key)}unknown key for {cls.key!r}.{near}")


def _validate(cls: type, params: dict, path: str):
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = pydantic.TypeAdapter(cls)
    try:
        return adapter.validate_python(params)
    except pydantic.ValidationError as err:
        raise ConfigError(validation.describe(err, path)) from None


def _at(path: str, *keys: Any) -> str:
    """``'path.key: '``, the location prefix of a message; empty without a path (a nested
    entry whose parent names the place)."""
    where = ".".join(str(k) for k in (path, *keys) if k != "")
    return f"{where}: " if where else ""


def build(kind: str, resolved: dict[str, Any]) -> Any:
    """Construct a component from one resolved entry (see :func:`resolve`)."""
    return build_batch(kind, [resolved])


def build_batch(kind: str, entries: list[dict[str, Any]], path: str = "") -> Any:
    """Construct one component serving B scenarios from their resolved entries.

    The entries (each already validated by :func:`resolve`) must share their type and
    keys; a numeric field that differs across them becomes an array (B,). The batched
    constructor runs the component's own cross-field checks on those arrays; a failure
    there is a ConfigError naming ``path``, never a traceback.
    """
    cls = registry(kind)[entries[0]["type"]]
    expected = {"type", *fields_of(cls)}
    for entry in entries:
        if entry.get("type") != entries[0]["type"] or set(entry) != expected:
            raise ConfigError(f"{path or kind}: build_batch needs entries resolved for one {cls.key!r}; got {entry!r}")
    params = {name: _batched([e[name] for e in entries]) for name in fields_of(cls)}
    try:
        return cls(**params)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path or kind} ({cls.key}): {err}") from None


def _batched(values: list[Any]) -> Any:
    """One value when all scenarios agree, else a float array (B,) of numbers."""
    if len(values) == 1 or all(v == values[0] for v in values):
        return values[0]
    if not all(is_number(v) for v in values):
        raise ConfigError(f"only numeric fields can differ inside one batch; got {values!r}")
    return np.asarray(values, dtype=float)


def is_number(value: Any) -> bool:
    """A plain number (not a bool): the kind of field a scenario grid may vary in one batch."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def describe(kind: str) -> list[tuple[str, str]]:
    """(key, first docstring line) for every registered component of ``kind``."""
    rows = []
    for key, cls in sorted(registry(kind).items()):
        doc = (cls.__doc__ or "").strip().splitlines()
        rows.append((key, doc[0] if doc else ""))
    return rows


def unregister(kind: str, key: str) -> None:
    """Remove ``key`` from the ``kind`` registry (a test's temporary component); absent is fine."""
    cls = _REGISTRIES[kind].pop(key, None)
    _ADAPTERS.pop(cls, None)

"""One wording for every validation error: ``<where>: <what was wrong>; got <value>``.

Every pydantic error simlab reports (experiments, components, universes, regime detectors,
stress windows) is worded here, so a researcher reads the same sentence shapes everywhere:

- an unknown key: ``pipeline[1].max_wieght: unknown key. Did you mean 'max_weight'? Valid keys: ...``
- a missing key: ``data.source: required key is missing``
- a bad value: ``pipeline[0].top_n: Input should be greater than or equal to 1; got 0``
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Callable, Sequence

import pydantic

from simlab.errors import ConfigError

ValidKeys = Callable[[Sequence[str]], Sequence[str]]


def describe(err: pydantic.ValidationError, where: str = "", valid_keys: ValidKeys | None = None) -> str:
    """Every problem in ``err``, one line each, located under ``where``.

    ``valid_keys(loc)`` lists the keys accepted beside an unknown key at ``loc`` (its parent's
    fields) so the line can suggest the nearest one; without it unknown keys get no hint.
    """
    return "\n".join(describe_item(item, where, valid_keys) for item in err.errors())


def describe_item(item: dict, where: str = "", valid_keys: ValidKeys | None = None) -> str:
    """One pydantic error item as ``<where>.<loc>: <problem>``."""
    loc = location(item)
    path = ".".join(p for p in (where, ".".join(loc)) if p)
    text = problem(item, valid_keys(loc) if valid_keys and item["type"] == "extra_forbidden" else ())
    return f"{path}: {text}" if path else text


def location(item: dict) -> list[str]:
    """The error's location as key names (pydantic's ``[key]`` markers dropped)."""
    return [str(p) for p in item["loc"] if p != "[key]"]


def problem(item: dict, valid: Sequence[str] = ()) -> str:
    """What is wrong, without the location: unknown key, missing key, or the bad value."""
    if item["type"] == "extra_forbidden":
        return "unknown key." + suggestion(location(item)[-1] if item["loc"] else "", valid)
    if item["type"] == "missing":
        return "required key is missing"
    message = item["msg"].removeprefix("Value error, ")
    if not item["loc"]:  # a check on the whole experiment: its message names the keys
        return message
    return f"{message}; got {item.get('input')!r}"


def suggestion(name: str, valid: Sequence[str]) -> str:
    """`` Did you mean 'x'? Valid keys: a, b`` (empty when nothing is known to be valid)."""
    if not valid:
        return ""
    hint = difflib.get_close_matches(str(name), list(valid), n=1)
    near = f" Did you mean {hint[0]!r}?" if hint else ""
    return f"{near} Valid keys: {', '.join(valid)}"


def model_keys(model: type) -> ValidKeys:
    """``valid_keys`` for a pydantic model: the fields of the model the location points into."""

    def keys(loc: Sequence[str]) -> Sequence[str]:
        node: object = model
        for part in loc[:-1]:
            if str(part).isdigit():  # an item of a list of models
                continue
            field = getattr(node, "model_fields", {}).get(part)
            node = None if field is None else _model_in(field.annotation)
            if node is None:
                return ()
        return list(getattr(node, "model_fields", {}))

    return keys


def _model_in(annotation) -> type | None:
    """The pydantic model an annotation holds: itself, or inside ``X | None``, ``list[X]``, ``Annotated``."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def check_finite(tree, where: str = "") -> None:
    """Raise ConfigError at the first NaN or infinite number in a config tree, naming its key
    (a non-finite cost or limit would reach the book as a NaN NAV); ``null`` means no limit."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        path = f"{where}.{key}" if where else str(key)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{path}: {value} is not a finite number; give a number (or null where "
                              "the key allows no limit)")
        check_finite(value, path)

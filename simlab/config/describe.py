"""A registered component described for a person: fields, types, defaults, limits, docstring.

Used by ``simlab show``. Limits come from the field annotations (``Field(ge=0, le=1)``)
through pydantic's JSON Schema of the component; the docstring loses its reST markup.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pydantic

from simlab.config import registry

_LIMITS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))


def plain(doc: str) -> str:
    """reST inline markup removed: ``x`` -> x, :func:`a.b` -> a.b, :class:`~a.B` -> B."""
    doc = re.sub(r":\w+:`~?([^`<]*?)(?:\s*<[^>]*>)?`", lambda m: m.group(1).split(".")[-1]
                 if m.group(0).find("~") >= 0 else m.group(1), doc)
    return doc.replace("``", "")


def field_rows(kind: str, name: str) -> list[dict[str, Any]]:
    """One row per field: ``name``, ``type``, ``default`` (``required`` if none), ``limits``."""
    cls = registry.lookup(kind, name, "")
    schema = pydantic.TypeAdapter(cls).json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    declared = registry.fields_of(cls)
    rows = []
    for field, spec in schema.get("properties", {}).items():
        if field == "type":
            continue
        rows.append({"name": field, "type": _type(spec, defs),
                     "default": "required" if field in required else repr(_default(declared.get(field), spec)),
                     "limits": _limits(spec)})
    return rows


def _default(declared, spec: dict) -> Any:
    """A field's default, a default factory's value included."""
    if "default" in spec:
        return spec["default"]
    factory = getattr(declared, "default_factory", None)
    return factory() if callable(factory) else None


def _type(spec: dict, defs: dict) -> str:
    if "$ref" in spec:
        return spec["$ref"].split("/")[-1]
    if "enum" in spec:
        return " | ".join(map(repr, spec["enum"]))
    if "anyOf" in spec:
        return " | ".join(_type(s, defs) for s in spec["anyOf"])
    if spec.get("type") == "array":
        return f"list[{_type(spec.get('items', {}), defs)}]"
    return spec.get("type", "any")


def _limits(spec: dict) -> str:
    parts = [f"{op} {spec[key]}" for key, op in _LIMITS if key in spec]
    for option in spec.get("anyOf", []):
        parts += [f"{op} {option[key]}" for key, op in _LIMITS if key in option]
    return ", ".join(dict.fromkeys(parts))


def component_page(kind: str, name: str) -> str:
    """The text ``simlab show`` prints for one component."""
    cls = registry.lookup(kind, name, "")
    rows = field_rows(kind, name)
    width = max([len(r["name"]) for r in rows] + [5])
    lines = [f"{name} ({kind}, {cls.__module__}.{cls.__qualname__})", ""]
    lines += [plain(inspect.getdoc(cls) or "(no docstring)"), "", "fields:" if rows else "no fields"]
    for r in rows:
        limits = f"  [{r['limits']}]" if r["limits"] else ""
        lines.append(f"  {r['name']:<{width}}  {r['type']} = {r['default']}{limits}")
    return "\n".join(lines)

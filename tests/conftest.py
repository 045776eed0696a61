"""Shared fixtures: temporary component registration and CSV markets."""

from __future__ import annotations

import pytest

from simlab.config import registry


@pytest.fixture
def register_temporarily():
    """``register_temporarily(kind, key)(cls)``: register for this test only, removed after."""
    added: list[tuple[str, str]] = []

    def decorate(kind: str, key: str):
        registry.registry(kind)  # load the built-ins first, so a clash is a real clash

        def add(cls):
            out = registry.register(kind, key)(cls)
            added.append((kind, key))
            return out

        return add

    yield decorate
    for kind, key in added:
        registry._REGISTRIES[kind].pop(key, None)

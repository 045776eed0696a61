"""Discovery: built-ins and plugins arrive through the ``simlab.components`` entry points."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import metadata

import pytest

from simlab.config import registry
from simlab.contract.step import Step
from simlab.errors import SimlabError


def test_builtins_are_declared_as_entry_points_not_imported_by_the_registry():
    declared = {p.value for p in metadata.entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert {"simlab.costs", "simlab.portfolio", "simlab.risk", "strategies"} <= declared
    source = open(registry.__file__).read()
    assert "import simlab.portfolio" not in source and "import strategies" not in source


PLUGIN = '''
from dataclasses import dataclass

from simlab.config.registry import register
from simlab.contract.step import Step


@register("step", "plugin_hold")
@dataclass(frozen=True)
class PluginHold(Step):
    """Keep the weights as they are."""

    def __call__(self, weights, ctx):
        return weights, {}
'''


def test_a_third_party_module_plugs_in_through_its_entry_point(monkeypatch, tmp_path):
    (tmp_path / "simlab_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    point = metadata.EntryPoint(name="plugin", value="simlab_test_plugin", group=registry.ENTRY_POINT_GROUP)
    builtins = tuple(metadata.entry_points(group=registry.ENTRY_POINT_GROUP))
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: (*builtins, point))
    registry.refresh()  # as after installing a plugin in a running session
    assert "simlab_test_plugin" not in sys.modules and "plugin_hold" not in registry._REGISTRIES["step"]
    try:
        assert registry.registry("step")["plugin_hold"].__module__ == "simlab_test_plugin"
    finally:
        registry._REGISTRIES["step"].pop("plugin_hold", None)
        sys.modules.pop("simlab_test_plugin", None)
        registry.refresh()


def test_without_entry_points_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: ())
    registry.refresh()
    try:
        with pytest.raises(SimlabError, match=r"pip install -e \."):
            registry.registry("step")
    finally:
        monkeypatch.undo()
        registry.refresh()
        registry.registry("step")


def test_a_class_defined_again_replaces_itself_quietly():
    def define():
        @dataclass(frozen=True)
        class NotebookStep(Step):
            """A Step a notebook cell defines, run twice."""

            def __call__(self, weights, ctx):
                return weights, {}

        return NotebookStep

    first = registry.register("step", "notebook_step")(define())
    try:
        second = registry.register("step", "notebook_step")(define())
        assert second is not first and registry.registry("step")["notebook_step"] is second
    finally:
        registry._REGISTRIES["step"].pop("notebook_step", None)

"""The component registry: what may be registered, and building from YAML entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pytest
from pydantic import Field

from simlab.config import registry
from simlab.errors import ConfigError
from simlab.contract.step import Step


@dataclass(frozen=True)
class _Good(Step):
    """Test Step with one constrained field."""

    weight: Annotated[float, Field(gt=0, le=1)] = 0.5
    label: str = "x"

    def __call__(self, weights, ctx):
        return weights, {}


def test_register_and_resolve_a_step(register_temporarily):
    cls = register_temporarily("step", "registry_test_good")(_Good)
    assert cls is _Good and _Good.key == "registry_test_good"
    assert registry.registry("step")["registry_test_good"] is _Good
    resolved = registry.resolve("step", {"type": "registry_test_good"}, "pipeline[0]")
    assert resolved == {"type": "registry_test_good", "weight": 0.5, "label": "x"}
    assert list(resolved) == ["type", "weight", "label"]  # type first, then fields in order
    built = registry.build("step", {"type": "registry_test_good", "weight": np.array([0.1, 0.2]), "label": "y"})
    assert isinstance(built, _Good) and built.label == "y"
    with pytest.raises(ConfigError, match=r"pipeline\[2\]\.weight: .*less than or equal to 1; got 3"):
        registry.resolve("step", {"type": "registry_test_good", "weight": 3}, "pipeline[2]")
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.wieght: unknown key for 'registry_test_good'\. Did you mean 'weight'\?"):
        registry.resolve("step", {"type": "registry_test_good", "wieght": 0.3}, "pipeline[0]")


def test_registration_is_removed_after_the_test():
    assert "registry_test_good" not in registry.registry("step")


def test_duplicate_key_raises_and_keeps_the_original():
    original = registry.registry("step")["equal_weight"]

    @dataclass(frozen=True)
    class Impostor(Step):
        def __call__(self, weights, ctx):
            return weights, {}

    with pytest.raises(ValueError, match=r"step 'equal_weight' is already registered by simlab\.portfolio\.allocators\.EqualWeight"):
        registry.register("step", "equal_weight")(Impostor)
    assert registry.registry("step")["equal_weight"] is original


def test_same_key_in_another_kind_is_fine(register_temporarily):
    @dataclass(frozen=True)
    class FlatStrategy:
        def signal(self, md):
            return md.close * 0.0

    register_temporarily("strategy", "equal_weight")(FlatStrategy)
    assert registry.registry("strategy")["equal_weight"] is FlatStrategy
    assert registry.registry("step")["equal_weight"] is not FlatStrategy


def test_kwargs_constructor_raises():
    @dataclass(frozen=True, init=False)
    class Loose(Step):
        def __init__(self, **kwargs):
            pass

    with pytest.raises(TypeError, match=r"step 'registry_test_loose': .*Loose may not take \*args or \*\*kwargs"):
        registry.register("step", "registry_test_loose")(Loose)
    assert "registry_test_loose" not in registry.registry("step")


def test_varargs_constructor_raises():
    @dataclass(frozen=True, init=False)
    class Positional(Step):
        def __init__(self, *args):
            pass

    with pytest.raises(TypeError, match=r"may not take \*args or \*\*kwargs"):
        registry.register("step", "registry_test_positional")(Positional)


def test_non_frozen_dataclass_raises():
    @dataclass
    class Mutable:
        x: float = 1.0

        def __call__(self, weights, ctx):
            return weights, {}

    with pytest.raises(TypeError, match=r"step 'registry_test_mutable': .*Mutable must be a frozen dataclass"):
        registry.register("step", "registry_test_mutable")(Mutable)
    assert "registry_test_mutable" not in registry.registry("step")


def test_frozen_pydantic_models_register_and_mutable_ones_do_not(register_temporarily):
    import pydantic

    class Frozen(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
        level: Annotated[float, Field(gt=0)] = 1.0

    class Mutable(pydantic.BaseModel):
        level: float = 1.0

    register_temporarily("detector", "registry_test_frozen_model")(Frozen)
    resolved = registry.resolve("detector", {"type": "registry_test_frozen_model"}, "regime")
    assert resolved == {"type": "registry_test_frozen_model", "level": 1.0}
    assert registry.build("detector", resolved) == Frozen()
    with pytest.raises(ConfigError, match=r"^regime\.level: Input should be greater than 0; got -1"):
        registry.resolve("detector", {"type": "registry_test_frozen_model", "level": -1}, "regime")
    with pytest.raises(ConfigError, match=r"^levle: unknown key for 'registry_test_frozen_model'\. Did you mean 'level'"):
        registry.resolve("detector", {"type": "registry_test_frozen_model", "levle": 2}, "")
    with pytest.raises(TypeError, match=r"Mutable must be a frozen dataclass or pydantic model"):
        registry.register("detector", "registry_test_mutable_model")(Mutable)
    assert "registry_test_mutable_model" not in registry.registry("detector")


def test_plain_class_raises():
    class NotADataclass:
        pass

    with pytest.raises(TypeError, match="must be a frozen dataclass"):
        registry.register("cost", "registry_test_plain")(NotADataclass)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match=r"unknown component kind 'stepp'; valid kinds: step, strategy, cost"):
        registry.register("stepp", "x")


def test_entry_must_be_a_mapping_with_a_type():
    with pytest.raises(ConfigError, match=r"pipeline\[0\]: expected a mapping with a 'type' key; got 'equal_weight'"):
        registry.resolve("step", "equal_weight", "pipeline[0]")
    with pytest.raises(ConfigError, match=r"costs: missing 'type'; valid costs: .*flat"):
        registry.resolve("cost", {"bps": 3}, "costs")


def test_builtin_components_are_registered():
    steps = registry.registry("step")
    assert {"equal_weight", "equal_weight_top_n", "signal_weighted", "position_limit"} <= set(steps)
    assert {"flat", "none"} <= set(registry.registry("cost"))
    assert "momentum" in registry.registry("strategy")
    for key, doc in registry.describe("step"):
        assert doc, f"step {key!r} has no docstring"
    # a copy: changing it does not register anything
    steps["registry_test_copy"] = _Good
    assert "registry_test_copy" not in registry.registry("step")

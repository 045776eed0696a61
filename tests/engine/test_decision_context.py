"""The engine's decision context, built without the frozen ``__init__``, is a whole StepContext."""

from __future__ import annotations

import dataclasses

import simlab
from simlab.contract.step import StepContext
from simlab.portfolio.allocators import EqualWeight

CONFIG = {
    "name": "context",
    "data": {"source": "synthetic", "n_assets": 5, "n_days": 120, "seed": 3, "benchmark": None},
    "execution": {"lag": 0},
    "pipeline": [{"type": "equal_weight"}],
}


def test_the_engines_context_has_every_field_and_equals_one_built_by_init(monkeypatch):
    seen, call = [], EqualWeight.__call__

    def recording(self, weights, ctx):
        seen.append(ctx)
        return call(self, weights, ctx)

    monkeypatch.setattr(EqualWeight, "__call__", recording)
    simlab.run(CONFIG)
    assert len(seen) > 3
    names = {f.name for f in dataclasses.fields(StepContext)}
    for ctx in seen:
        assert set(vars(ctx)) == names
        again = StepContext(**{name: getattr(ctx, name) for name in names})
        assert again == ctx and again.features == {} and again.memory == {}
        assert ctx.memory is not seen[0].memory or ctx is seen[0]  # a fresh memory per context
        assert not ctx.weights.flags.writeable and not ctx.nav.flags.writeable

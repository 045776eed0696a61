"""Allocators, sizing and rebalancing policies: the Steps that decide the target weights."""

from simlab.portfolio import allocators  # noqa: F401  (registers the allocator Steps)
from simlab.portfolio import allocators_risk  # noqa: F401  (registers the phase-2 allocator Steps)
from simlab.portfolio import allocators_opt  # noqa: F401  (registers the phase-3 allocator Steps)
from simlab.portfolio import policies  # noqa: F401  (registers the rebalancing policies)
from simlab.portfolio import sizing  # noqa: F401  (registers the sizing Steps)
from simlab.contract.step import Step, StepContext, per_scenario

__all__ = ["Step", "StepContext", "per_scenario"]

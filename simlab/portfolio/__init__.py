"""Allocators, the Step contract, weight arithmetic and order generation."""

from simlab.portfolio import allocators  # noqa: F401  (registers the allocator Steps)
from simlab.portfolio.step import Step, StepContext, per_scenario

__all__ = ["Step", "StepContext", "per_scenario"]

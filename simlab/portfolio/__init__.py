"""Layer 3: allocators, sizing and rebalancing policies: the Steps that decide the target weights.

``allocators`` (phase 1 rules), ``allocators_risk`` (phase 2, risk-based), ``allocators_opt``,
``allocators_factor`` (factor risk models) and ``solvers`` (phase 3 optimizers with their
fallback chain), ``optimize`` (the same estimators as plain functions on pandas objects),
``sizing``, ``policies`` (drift band, cooldown, signal change, trade threshold) and
``calendar`` (the decision days).
Importing the package registers its components (the ``simlab.components`` entry point).
"""

from simlab.portfolio import allocators  # noqa: F401  (registers the allocator Steps)
from simlab.portfolio import allocators_risk  # noqa: F401  (registers the phase-2 allocator Steps)
from simlab.portfolio import allocators_opt  # noqa: F401  (registers the phase-3 allocator Steps)
from simlab.portfolio import allocators_factor  # noqa: F401  (registers the factor-model allocator Steps)
from simlab.portfolio import benchmark_relative  # noqa: F401  (registers the benchmark-relative Steps)
from simlab.portfolio import black_litterman_views  # noqa: F401  (registers black_litterman_views)
from simlab.portfolio import estimator  # noqa: F401  (registers the estimator Step)
from simlab.portfolio import policies  # noqa: F401  (registers the rebalancing policies)
from simlab.portfolio import sizing  # noqa: F401  (registers the sizing Steps)
from simlab.portfolio import static  # noqa: F401  (registers the static Step)
from simlab.contract.step import Step, StepContext, per_scenario

__all__ = ["Step", "StepContext", "per_scenario"]

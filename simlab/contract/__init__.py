"""Layer 2b: the component contract every pipeline Step is written against.

:class:`Step` (configuration only, ``(weights, ctx) -> (weights, diagnostics)``), the
:class:`StepContext` it may read (market data up to the decision day through one
point-in-time view), the ``HOLD`` diagnostics key and the per-scenario field helpers;
the roles a diagnostics key may declare (:mod:`~simlab.contract.roles`) and the
:class:`~simlab.contract.cost.CostContext` a cost model reads.
It sits below every package of Steps (costs, portfolio, risk, execution) so that they
share it without importing one another.
"""

from simlab.contract.cost import CostContext
from simlab.contract.roles import Role, role_of
from simlab.contract.step import HOLD, Step, StepContext, per_scenario, scenario_values, year_of

__all__ = ["HOLD", "CostContext", "Role", "Step", "StepContext", "per_scenario", "role_of", "scenario_values",
           "year_of"]

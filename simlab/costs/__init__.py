"""Cost models, one per module, each registered under the ``cost`` kind."""

from simlab.costs import flat  # noqa: F401  (registers flat and none)
from simlab.costs import borrow, composite, spread, sqrt_impact  # noqa: F401  (register them)
from simlab.costs.base import CostModel, NoCost

__all__ = ["CostModel", "NoCost"]

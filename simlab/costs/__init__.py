"""Layer 3: cost models, one per module, each registered under the ``cost`` kind.

``base`` (the CostModel protocol, NoCost), ``flat`` (and ``none``), ``spread``, ``sqrt_impact``,
``borrow``, ``composite`` and ``adaptive`` (impact recalibrated from realized fills). A model reads the :class:`~simlab.contract.cost.CostContext`
the execution layer builds; the two packages do not import each other.
Importing the package registers its components (the ``simlab.components`` entry point).
"""

from simlab.costs import flat  # noqa: F401  (registers flat and none)
from simlab.costs import adaptive, borrow, composite, spread, sqrt_impact  # noqa: F401  (register them)
from simlab.costs.base import CostModel, NoCost

__all__ = ["CostModel", "NoCost"]

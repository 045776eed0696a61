"""The cost-model contract.

A cost model is a frozen dataclass registered under the ``cost`` kind. Called on the
signed traded value (B, N) of one fill day, with the traded shares, the fill prices and a
:class:`~simlab.contract.cost.CostContext` (the fill row, and the trailing ADV and
volatility a model declared in ``requires``), it returns the non-negative money cost of
each trade, (B, N). Numeric fields may hold one value per scenario;
:func:`simlab.contract.step.per_scenario` makes them broadcast.

A model's cost should shrink at least in proportion when a trade is scaled down
(``cost(s * x) <= s * cost(x)`` for ``0 <= s <= 1``: true of linear models and of models
growing faster than linearly with ``cost(0) = 0``, such as square-root impact); the fills
(:mod:`simlab.execution.fills`) rely on it when they scale buys down to the cash available.
A fixed minimum per trade breaks it, by at most that minimum per scaled buy (see ``spread``).

Holding costs (a borrow fee on shorts) are not fill costs: a model with ``accrues = True``
provides ``daily_rate(B, meta, N, periods_per_year=252.0)``, the (B, N) fee per day per
unit of short value (``periods_per_year``: days a year of the data's calendar, 365 on
``data.calendar: every_day``), and the daily accounting charges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from simlab.contract.cost import CostContext


@dataclass(frozen=True)
class CostModel:
    """Base of every cost model; ``requires`` lists what it reads from the CostContext."""

    key: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()
    accrues: ClassVar[bool] = False

    def __call__(self, value: np.ndarray, shares: np.ndarray, price: np.ndarray,
                 ctx: CostContext | None = None) -> np.ndarray:
        """Money cost (B, N) of trading ``value`` (B, N) = ``shares`` (B, N) x ``price`` (N,)."""
        raise NotImplementedError

    def linear_rate(self, n_scenarios: int) -> np.ndarray | None:
        """Cost per unit of traded value (B,) when the model is exactly that linear, else None.

        A linear model lets the engine fill in one compiled kernel instead of numpy steps.
        """
        return None


@dataclass(frozen=True)
class NoCost(CostModel):
    """Trading is free."""

    def __call__(self, value, shares, price, ctx=None):
        return np.zeros_like(value)

    def linear_rate(self, n_scenarios):
        return np.zeros(n_scenarios)

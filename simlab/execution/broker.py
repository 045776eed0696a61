"""The broker: fills each group's orders on a fill day, under its cost model and the participation cap.

Built once per run from what does not change during it: the execution settings, each
group's cost model (and its linear rate, when it has one, for the compiled fill kernel),
the trailing series the cost models read and the participation cap. The engine hands the
cost models in, already built; this package only calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.data.market import MarketData
from simlab.execution.book import Book
from simlab.execution.cost_inputs import CostInputs
from simlab.execution.fills import Fill, fill_linear, plan_fill
from simlab.execution.participation import ParticipationCap


@dataclass(frozen=True)
class Prices:
    """The fill prices of every row, (T, N) each."""

    close: np.ndarray  # raw close, NaN where the asset does not trade
    value: np.ndarray  # forward-filled, 0 before listing
    tradeable: np.ndarray  # bool, a price that day


@dataclass(frozen=True)
class Broker:
    """Fills for the groups of one run; ``cost_models[k]`` prices group k's trades.

    Attributes
    ----------
    execution : the ExecutionConfig (lots, minimum trade value, leverage, cap).
    prices : the fill prices.
    cost_models : one cost model per group.
    linear_rates : per group, the (B_g,) cost per unit of traded value, or None when the
        model is not linear (then the numpy path runs it on a CostContext).
    cost_inputs : the trailing series the cost models require.
    cap : the participation cap, or None.
    """

    execution: object
    prices: Prices
    cost_models: tuple
    linear_rates: tuple
    cost_inputs: CostInputs
    cap: ParticipationCap | None

    @classmethod
    def build(cls, md: MarketData, execution, prices: Prices, cost_models, scenario_rows) -> Broker:
        """The broker of a run on ``md``; ``cost_models`` and ``scenario_rows`` (B_g,) one per group."""
        models = tuple(cost_models)
        rates = tuple(model.linear_rate(len(rows)) for model, rows in zip(models, scenario_rows))
        return cls(execution, prices, models, rates, CostInputs.build(md, models),
                   ParticipationCap.build(md, execution))

    @property
    def capped(self) -> bool:
        """Whether trades are clipped to a participation cap."""
        return self.cap is not None

    def fill(self, group: int, book: Book, rows: np.ndarray | slice, row: int, targets: np.ndarray) -> Fill:
        """Group ``group``'s fill at ``row`` of the books ``rows`` toward ``targets`` (B_g, N) weights.

        Every scenario of the group is planned (rows are independent); the caller masks out
        those that hold with :meth:`Fill.only`.
        """
        prices = self.prices
        max_shares = None if self.cap is None else self.cap.max_shares(row, prices.close[row])
        rate = self.linear_rates[group]
        if rate is None:
            return plan_fill(book.holdings[rows], book.cash[rows], book.nav[row, rows], prices.close[row], targets,
                             self.cost_models[group], self.execution, self.cost_inputs.context(row), max_shares)
        return fill_linear(book.holdings[rows], book.cash[rows], book.nav[row, rows], prices.value[row],
                           prices.tradeable[row], np.ascontiguousarray(targets), rate, self.execution, max_shares)

"""The broker: fills each group's orders on a fill day, under its cost model and the participation cap.

Built once per run from what does not change during it: the execution settings, each
group's cost model (and its linear rate, when it has one, for the compiled fill kernel),
the trailing series the cost models read and the participation cap. The engine hands the
cost models in, already built; this package only calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from simlab.contract.cost import FillHistory
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
    realized : the "true" cost model of the run (realized costs), or None: realized = estimated.
    noise : log-standard deviation of the realized costs' lognormal noise (mean 1).
    seed : the noise's seed (with the fill row and the scenario's position in the batch).
    histories : per group, the realized fills so far (kept only for models that require them).
    """

    execution: object
    prices: Prices
    cost_models: tuple
    linear_rates: tuple
    cost_inputs: CostInputs
    cap: ParticipationCap | None
    realized: object = None
    noise: float = 0.0
    seed: int = 0
    histories: list = field(default_factory=list)

    @classmethod
    def build(cls, md: MarketData, execution, prices: Prices, cost_models, scenario_rows,
              realized=None, noise: float = 0.0, seed: int = 0) -> Broker:
        """The broker of a run on ``md``; ``cost_models`` and ``scenario_rows`` (B_g,) one per group;
        ``realized`` the true cost model (None: fills cost what the models estimate)."""
        models = tuple(cost_models)
        rates = tuple(model.linear_rate(len(rows)) for model, rows in zip(models, scenario_rows))
        inputs = CostInputs.build(md, models + ((realized,) if realized is not None else ()))
        histories = [FillHistory.empty() if "fill_history" in m.requires else None for m in models]
        return cls(execution, prices, models, rates, inputs, ParticipationCap.build(md, execution),
                   realized, noise, seed, histories)

    def realize(self, row: int, fill: Fill, scenario_rows: np.ndarray) -> Fill:
        """``fill`` with its realized cost: the true model's times the noise, or unchanged without one."""
        if self.realized is None:
            return fill
        price = self.prices.value[row]
        value = fill.shares * price
        cost = np.asarray(self.realized(value, fill.shares, price, self.cost_inputs.context(row)), dtype=float)
        if self.noise > 0:
            draws = np.stack([np.random.default_rng([self.seed, row, int(b)]).standard_normal(value.shape[1])
                              for b in scenario_rows])
            cost = cost * np.exp(self.noise * draws - 0.5 * self.noise ** 2)
        return replace(fill, cost=np.where(fill.shares != 0, cost, 0.0))

    def calibration(self, group: int, row: int, n_scenarios: int) -> dict:
        """What group ``group``'s cost model has learned by ``row`` (its ``calibration``), or {}."""
        model = self.cost_models[group]
        if not hasattr(model, "calibration") or not self.histories or self.histories[group] is None:
            return {}
        ctx = replace(self.cost_inputs.context(row), fill_history=self.histories[group])
        return model.calibration(n_scenarios, ctx)

    def remember(self, group: int, row: int, fill: Fill) -> None:
        """Add a booked fill to group ``group``'s history, when its cost model learns from fills."""
        hist = self.histories[group] if self.histories else None
        if hist is None:
            return
        b, n = np.nonzero(fill.shares)
        ctx = self.cost_inputs.context(row)
        adv = np.full(len(n), np.nan) if ctx.adv is None else ctx.adv[n]
        vol = np.full(len(n), np.nan) if ctx.volatility is None else ctx.volatility[n]
        price = self.prices.value[row]
        self.histories[group] = FillHistory(
            row=np.r_[hist.row, np.full(len(n), row)], scenario=np.r_[hist.scenario, b],
            asset=np.r_[hist.asset, n], value=np.r_[hist.value, fill.shares[b, n] * price[n]],
            adv=np.r_[hist.adv, adv], volatility=np.r_[hist.volatility, vol],
            realized=np.r_[hist.realized, fill.cost[b, n]])

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
            ctx = self.cost_inputs.context(row)
            if self.histories and self.histories[group] is not None:
                ctx = replace(ctx, fill_history=self.histories[group])
            return plan_fill(book.holdings[rows], book.cash[rows], book.nav[row, rows], prices.close[row], targets,
                             self.cost_models[group], self.execution, ctx, max_shares)
        return fill_linear(book.holdings[rows], book.cash[rows], book.nav[row, rows], prices.value[row],
                           prices.tradeable[row], np.ascontiguousarray(targets), rate, self.execution, max_shares)

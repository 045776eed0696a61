"""What fills and holding costs read besides prices: trailing liquidity and volatility, borrow rates.

All of it is known before each fill's close. The cost models themselves live in
:mod:`simlab.costs`; here they are only asked, duck-typed, what they need (``requires``,
``accrues``, ``daily_rate``), so this package never imports that one: the engine hands the
built models in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simlab.contract.cost import CostContext
from simlab.data.market import MarketData


def trailing_adv(md: MarketData, window: int = 20) -> np.ndarray:
    """(T, N) mean daily traded value over the ``window`` days before each row.

    From ``close * volume`` when the data has volume; otherwise the universe's ``adv``
    column (money per day) for every row; NaN where neither is known.
    """
    shape = md.close.shape
    if md.volume is not None:
        traded = (md.close * md.volume).rolling(window, min_periods=max(1, window // 2)).mean()
        return traded.shift(1).to_numpy(dtype=np.float64)
    if md.meta is not None and "adv" in md.meta:
        adv = pd.to_numeric(md.meta["adv"].reindex(md.assets), errors="coerce").to_numpy(dtype=np.float64)
        return np.broadcast_to(adv, shape)
    return np.full(shape, np.nan)


def trailing_volatility(md: MarketData, window: int = 20) -> np.ndarray:
    """(T, N) standard deviation (ddof=1) of daily returns over the ``window`` days before each row."""
    vol = md.returns().rolling(window, min_periods=max(2, window // 2)).std()
    return vol.shift(1).to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class CostInputs:
    """The trailing series the run's cost models declared in ``requires``, computed once.

    Attributes
    ----------
    assets : (N,) asset names.
    meta : asset metadata or None.
    adv : (T, N) trailing ADV (20 days), or None when no model requires ``adv``.
    volatility : (T, N) trailing volatility (20 days), or None when no model requires it.
    """

    assets: tuple[str, ...]
    meta: pd.DataFrame | None
    adv: np.ndarray | None = None
    volatility: np.ndarray | None = None

    @classmethod
    def build(cls, md: MarketData, cost_models) -> CostInputs:
        """What ``cost_models`` (an iterable of cost models) read, for every row of ``md``."""
        needs = set().union(*(model.requires for model in cost_models))
        return cls(
            assets=tuple(md.assets), meta=md.meta,
            adv=trailing_adv(md) if "adv" in needs else None,
            volatility=trailing_volatility(md) if "volatility" in needs else None,
        )

    def context(self, row: int) -> CostContext:
        """The :class:`~simlab.contract.cost.CostContext` of a fill on ``row``."""
        return CostContext(row=row, assets=self.assets, adv=_row(self.adv, row),
                           volatility=_row(self.volatility, row), meta=self.meta)


def borrow_rates(cost_models, scenario_rows, n_scenarios: int, n_assets: int, meta,
                 periods: float = 252.0) -> np.ndarray:
    """(B, N) daily fee per unit of short value, or an empty (0, 0) array when nothing accrues.

    ``cost_models`` and ``scenario_rows`` pair each model with the batch rows it prices; a
    model with ``accrues = True`` gives its ``daily_rate`` over ``periods`` days a year (the
    data's calendar), the others charge nothing.
    """
    if not any(getattr(model, "accrues", False) for model in cost_models):
        return np.empty((0, 0))
    rate = np.zeros((n_scenarios, n_assets))
    for model, rows in zip(cost_models, scenario_rows):
        if getattr(model, "accrues", False):
            rate[rows] = model.daily_rate(len(rows), meta, n_assets, periods_per_year=periods)
    return rate


def _row(values: np.ndarray | None, row: int) -> np.ndarray | None:
    return None if values is None else values[row]


def financing_rates(execution, n_scenarios: int, periods: float = 252.0) -> np.ndarray | None:
    """(B, 2) daily interest rates ``[on negative cash, on positive cash]`` from the execution
    config's annual ``cash_borrow_rate`` and ``cash_credit_rate`` over ``periods_per_year``
    (``periods``, the calendar's days a year, where it is not set); None when cash is not financed. The day's interest is ``cash * rate``: negative cash
    times the borrow rate is a payment, positive cash times the credit rate an income.
    """
    if not execution.financed:
        return None
    per_year = periods if execution.periods_per_year is None else execution.periods_per_year
    daily = np.array([execution.cash_borrow_rate, execution.cash_credit_rate]) / per_year
    return np.ascontiguousarray(np.broadcast_to(daily, (n_scenarios, 2)))


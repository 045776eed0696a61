r"""Borrow fees: the annual fee a short seller pays on the value of the shares it borrowed.

A borrow fee is a holding cost, not a trading cost: it accrues every day a short position
is open, in proportion to its value, and a trade alone cannot say how long the short will
stay open. So :class:`BorrowFee` charges nothing at a fill (its fill-time cost is exactly
zero) and provides the daily accrual instead:

.. math::

    \text{fee}_{b,n}(d) = \frac{r_n}{\text{periods}}\;\max(-h_{b,n}(d), 0)\;p_n(d)

for the shares :math:`h_{b,n}(d)` held short by scenario :math:`b` in asset :math:`n` over day
:math:`d` (the holdings carried into day :math:`d`, after the previous day's fills), valued
at the day's close :math:`p_n(d)`; :math:`r_n` is ``rate``, or ``hard_to_borrow_rate`` for an
asset the universe marks ``hard_to_borrow``. The fee is paid from cash at that close.

The engine charges it through its daily accounting (``accrues = True`` marks a model that
needs that); :func:`borrow_accrual` is the reference computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from simlab.config.registry import register
from simlab.costs.base import CostModel
from simlab.errors import DataError
from simlab.contract.step import per_scenario


def borrow_accrual(holdings: np.ndarray, price: np.ndarray, daily_rate: np.ndarray) -> np.ndarray:
    """(B, N) fee for one day: ``daily_rate * max(-holdings, 0) * price``, 0 where the price is unknown.

    ``holdings`` (B, N) shares held over the day, ``price`` (N,) the day's close,
    ``daily_rate`` (N,) or (B, N) annual rate divided by the periods per year.
    """
    short_value = np.maximum(-holdings, 0.0) * np.where(np.isfinite(price), price, 0.0)[None, :]
    return daily_rate * short_value


@register("cost", "borrow")
@dataclass(frozen=True)
class BorrowFee(CostModel):
    """Annual fee on the value of short positions, accrued daily (see the module docstring).

    ``rate`` applies to every asset, ``hard_to_borrow_rate`` to those the universe marks
    ``hard_to_borrow: true``; both are annual fractions of the short value, accrued over
    ``periods`` days a year (default: the data's calendar, 252 trading days, or 365 on
    ``data.calendar: every_day``). A fill pays nothing.
    """

    rate: Annotated[float, Field(ge=0)] = 0.0025
    hard_to_borrow_rate: Annotated[float, Field(ge=0)] = 0.05
    periods: Annotated[float, Field(gt=0)] | None = None
    accrues: ClassVar[bool] = True

    def __call__(self, value, shares, price, ctx=None):
        return np.zeros_like(value, dtype=float)

    def linear_rate(self, n_scenarios):
        return np.zeros(n_scenarios)

    def daily_rate(self, n_scenarios: int, meta: pd.DataFrame | None, n_assets: int,
                   periods_per_year: float = 252.0) -> np.ndarray:
        """(B, N) fee per day per unit of short value; ``periods_per_year`` is the data calendar's
        year, used where ``periods`` is None."""
        hard = np.zeros(n_assets, dtype=bool)
        if meta is not None and "hard_to_borrow" in meta:
            if len(meta) != n_assets:
                raise DataError(f"asset metadata has {len(meta)} rows for {n_assets} assets; expected one per asset")
            hard = meta["hard_to_borrow"].fillna(False).to_numpy(dtype=bool)
        annual = np.where(hard[None, :], per_scenario(self.hard_to_borrow_rate, n_scenarios),
                          per_scenario(self.rate, n_scenarios))
        periods = periods_per_year if self.periods is None else self.periods
        return annual / per_scenario(periods, n_scenarios)

    def accrual(self, holdings: np.ndarray, price: np.ndarray, meta: pd.DataFrame | None = None) -> np.ndarray:
        """(B, N) money the short positions ``holdings`` (B, N) cost over one day at close ``price`` (N,)."""
        b, n = holdings.shape
        return borrow_accrual(holdings, price, self.daily_rate(b, meta, n))

"""From target weights to fills: lots, minimum trade value, sells before buys, cash.

The rules, for B scenarios on one fill day, at that day's close prices:

1. Target shares are ``weight * NAV / price``, NAV valued at the fill prices (as
   vectorbt's ``targetpercent``). Assets without a price that day cannot trade: their
   holdings stay and the order is reported as blocked.
2. Without fractional shares each trade is rounded toward zero to whole lots (a book
   holding 28.57 shares with a target of 57.14 buys 28).
3. A trade worth less than ``min_trade_value`` is skipped, and so is rounding dust (a
   trade worth at most 1e-12 of NAV).
4. Sells fill first and their proceeds, net of costs, join the cash.
   With a participation cap, each trade is first clipped to the cap (in shares) and the
   rest is returned as ``unfilled``, carried to the next day (:meth:`~simlab.execution.orders.Order.rest`).
5. Buys (and their costs) are then scaled down together, by one factor per scenario, to
   fit the cash plus any allowed borrowing (``(leverage - 1) * NAV``); with lots the scaled
   buys are rounded down again, and a scaled buy that falls under ``min_trade_value`` is
   dropped. Cash never goes below the borrowing allowance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simlab.execution.lots import round_down_lots, round_lots
from simlab.kernels.accounting import DUST, fill_linear_nb


@dataclass(frozen=True)
class Fill:
    """What one fill day did, per scenario and asset."""

    shares: np.ndarray  # (B, N) signed shares traded
    cost: np.ndarray  # (B, N) money paid in costs, >= 0
    buy_scale: np.ndarray  # (B,) factor applied to buys to fit the cash, 1.0 if none
    blocked: np.ndarray  # (B, N) bool, wanted to trade but the asset had no price
    unfilled: np.ndarray  # (B, N) signed shares the participation cap held back

    def only(self, trade: np.ndarray) -> Fill:
        """This fill for the scenarios where ``trade`` (B,) is True; the others trade nothing."""
        keep = trade[:, None]
        return Fill(shares=np.where(keep, self.shares, 0.0), cost=np.where(keep, self.cost, 0.0),
                    buy_scale=np.where(trade, self.buy_scale, 1.0), blocked=self.blocked & keep,
                    unfilled=np.where(keep, self.unfilled, 0.0))


def plan_fill(holdings, cash, nav, price, target, cost_model, execution, cost_ctx=None, max_shares=None) -> Fill:
    """Shares to trade and their costs for one fill day (see the module docstring).

    ``holdings`` (B, N), ``cash`` (B,), ``nav`` (B,) valued at ``price`` (N,) (NaN where the
    asset does not trade), ``target`` (B, N) weights, ``execution`` an ExecutionConfig,
    ``cost_ctx`` the :class:`simlab.contract.cost.CostContext` handed to the cost model,
    ``max_shares`` (N,) the participation cap in shares per trade (None: no cap).
    """
    tradeable = np.isfinite(price) & (price > 0)
    safe_price = np.where(tradeable, price, 1.0)
    wanted = round_lots(target * nav[:, None] / safe_price - holdings, execution)
    blocked = blocked_orders(tradeable, target, holdings)
    delta = np.where(tradeable[None, :], wanted, 0.0)
    traded = np.abs(delta * safe_price)
    dust = (traded < execution.min_trade_value) | (traded <= DUST * np.abs(nav)[:, None])
    delta = np.where(dust, 0.0, delta)
    unfilled = np.zeros_like(delta)
    if max_shares is not None:
        capped = round_lots(np.clip(delta, -max_shares, max_shares), execution)
        unfilled, delta = delta - capped, capped
    sells = np.minimum(delta, 0.0)
    sell_cost = cost_model(sells * safe_price, sells, safe_price, cost_ctx)
    available = cash - (sells * safe_price).sum(axis=1) - sell_cost.sum(axis=1)
    available = available + (execution.leverage - 1.0) * nav
    buys, buy_cost, scale = _fit_buys(np.maximum(delta, 0.0), safe_price, available, cost_model, execution, cost_ctx)
    return Fill(shares=sells + buys, cost=sell_cost + buy_cost, buy_scale=scale, blocked=blocked, unfilled=unfilled)


def blocked_orders(tradeable: np.ndarray, target: np.ndarray, holdings: np.ndarray) -> np.ndarray:
    """(B, N) orders that cannot fill: no price that day, and a target or a holding to trade."""
    if tradeable.all():
        return np.zeros(target.shape, dtype=bool)
    return ~tradeable[None, :] & ((target != 0) | (holdings != 0))


def fill_linear(holdings, cash, nav, price, tradeable, target, fee_rate, execution, max_shares=None) -> Fill:
    """:func:`plan_fill` for costs linear in traded value, in one compiled kernel."""
    shares, cost, unfilled = np.empty_like(holdings), np.empty_like(holdings), np.empty_like(holdings)
    scale = np.empty(len(cash))
    cap = _no_cap(len(price)) if max_shares is None else np.asarray(max_shares, dtype=np.float64)
    fill_linear_nb(holdings, cash, nav, price, tradeable, target, fee_rate, execution.fractional,
                   execution.lot_size, execution.min_trade_value, execution.leverage, cap,
                   shares, cost, scale, unfilled)
    return Fill(shares=shares, cost=cost, buy_scale=scale, blocked=blocked_orders(tradeable, target, holdings),
                unfilled=unfilled)


_NO_CAPS: dict[int, np.ndarray] = {}


def _no_cap(n_assets: int) -> np.ndarray:
    """(N,) infinite caps, one array per size (the kernel only reads it)."""
    cap = _NO_CAPS.get(n_assets)
    if cap is None:
        cap = _NO_CAPS[n_assets] = np.full(n_assets, np.inf)
    return cap


def _fit_buys(buys, price, available, cost_model, execution, cost_ctx):
    value = buys * price
    cost = cost_model(value, buys, price, cost_ctx)
    need = (value + cost).sum(axis=1)
    over = (need > available) & (need > 0)
    if not over.any():
        return buys, cost, np.ones(len(need))
    scale = np.where(over, np.clip(available / np.where(over, need, 1.0), 0.0, 1.0), 1.0)
    scaled = round_down_lots(buys * scale[:, None], execution)
    scaled = np.where(scaled * price < execution.min_trade_value, 0.0, scaled)
    buys = np.where(over[:, None], scaled, buys)
    cost = cost_model(buys * price, buys, price, cost_ctx)
    return buys, cost, scale


def fill_diagnostics(fill: Fill, capped: bool) -> dict:
    """What a fill day reports per scenario: buy scale, blocked orders, costs; with a cap, what it held back."""
    diag = {"buy_scale": fill.buy_scale, "blocked_orders": fill.blocked.sum(axis=1), "cost": fill.cost.sum(axis=1)}
    if capped and fill.unfilled.any():
        diag["unfilled_orders"] = (fill.unfilled != 0).sum(axis=1)
        diag["unfilled"] = fill.unfilled
    return diag

"""Assertions about a finished run: the book replayed from its trades, identity up to a date.

:func:`replay_book` rebuilds holdings and cash from ``Result.trades`` alone (the trade log
is the audit trail), so NAV can be checked against ``cash + holdings @ price`` without
trusting the engine's own book.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def valuation_prices(res) -> np.ndarray:
    """(T, N) closes forward-filled on the simulated dates, NaN -> 0 (an unlisted asset is worth 0)."""
    close = res.market.close.ffill().reindex(index=res.dates, columns=list(res.assets))
    return np.nan_to_num(close.to_numpy(dtype=float))


def replay_book(res) -> tuple[np.ndarray, np.ndarray]:
    """Holdings (T, B, N) and cash (T, B) at each close, rebuilt from ``res.trades``.

    Cash starts at ``execution.init_cash``; each trade moves ``-value - cost`` into cash and
    ``shares`` into the holding of its scenario and asset on its date.
    """
    dates, scenarios, assets = res.dates, list(res.scenarios), list(res.assets)
    shape = (len(dates), len(scenarios), len(assets))
    shares = np.zeros(shape)
    flows = np.zeros(shape[:2])
    trades = res.trades
    if len(trades):
        t = dates.get_indexer(pd.DatetimeIndex(trades["date"]))
        if (t < 0).any():
            raise AssertionError(f"trade dated outside the simulated dates: {trades['date'][t < 0].iloc[0]}")
        b = pd.Index(scenarios).get_indexer(trades["scenario"])
        n = pd.Index(assets).get_indexer(trades["asset"])
        np.add.at(shares, (t, b, n), trades["shares"].to_numpy(dtype=float))
        np.add.at(flows, (t, b), -(trades["value"].to_numpy(dtype=float) + trades["cost"].to_numpy(dtype=float)))
    cash = res.config.experiment.execution.init_cash + np.cumsum(flows, axis=0)
    return np.cumsum(shares, axis=0), cash


def assert_nav_identity(res, rtol: float = 1e-9) -> None:
    """Every day and scenario: NAV == cash + holdings @ forward-filled close (from the trades)."""
    holdings, cash = replay_book(res)
    price = valuation_prices(res)
    expected = cash + np.einsum("tbn,tn->tb", holdings, price)
    nav = res.nav.to_numpy()
    scale = np.maximum(np.abs(nav), 1.0)
    bad = np.abs(nav - expected) > rtol * scale
    if bad.any():
        t, b = np.argwhere(bad)[0]
        raise AssertionError(
            f"NAV identity broken on {res.dates[t].date()} for {res.scenarios[b]!r}: "
            f"nav {nav[t, b]!r}, cash + holdings @ price {expected[t, b]!r}"
        )


def assert_no_overdraft(res, rtol: float = 1e-9) -> None:
    """Cash (replayed from the trades) never below ``-(leverage - 1) * NAV - rtol * NAV``."""
    _, cash = replay_book(res)
    nav = res.nav.to_numpy()
    leverage = res.config.experiment.execution.leverage
    floor = -(leverage - 1.0) * nav - rtol * np.abs(nav)
    bad = cash < floor
    if bad.any():
        t, b = np.argwhere(bad)[0]
        raise AssertionError(
            f"cash {cash[t, b]!r} below the floor {floor[t, b]!r} on {res.dates[t].date()} "
            f"for {res.scenarios[b]!r} (NAV {nav[t, b]!r}, leverage {leverage})"
        )


def assert_costs_nonnegative(res) -> None:
    """Every trade's cost is finite and >= 0."""
    cost = res.trades["cost"].to_numpy(dtype=float)
    assert np.isfinite(cost).all(), "non-finite trade cost"
    assert (cost >= 0).all(), f"negative trade cost {cost.min()!r}"


def _upto(frame: pd.DataFrame, date) -> pd.DataFrame:
    out = frame[pd.DatetimeIndex(frame["date"]) <= pd.Timestamp(date)]
    return out.reset_index(drop=True)


def assert_identical_through(a, b, date) -> None:
    """Two runs agree exactly (bit for bit) on everything dated at or before ``date``.

    Compared: trades, diagnostics rows, end-of-day weights and NAV.
    """
    date = pd.Timestamp(date)
    pd.testing.assert_frame_equal(_upto(a.trades, date), _upto(b.trades, date), check_exact=True)
    pd.testing.assert_frame_equal(_upto(a.diagnostics, date), _upto(b.diagnostics, date), check_exact=True)
    pd.testing.assert_frame_equal(a.nav.loc[:date], b.nav.loc[:date], check_exact=True)
    xr.testing.assert_identical(a.weights.sel(date=slice(None, date)), b.weights.sel(date=slice(None, date)))


def assert_runs_identical(a, b) -> None:
    """Two runs agree exactly on NAV, weights, trades and diagnostics."""
    pd.testing.assert_frame_equal(a.nav, b.nav, check_exact=True)
    pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=True)
    pd.testing.assert_frame_equal(a.diagnostics, b.diagnostics, check_exact=True)
    xr.testing.assert_identical(a.weights, b.weights)

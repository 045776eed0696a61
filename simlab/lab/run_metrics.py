"""The metrics table of a replay: the run's returns and trading, the start day left out.

The holdings metrics (``effective_assets``, ``diversification_ratio``,
``position_hit_rate``) read the (date, scenario, asset) weights. Where that cube has more
than :data:`WEIGHTS_BLOCK_CELLS` cells (1,000 scenarios of 100 assets over 20 years are
504 million: 4 GB, and several times that in temporaries) they are computed a block of
scenarios at a time; each is a per-scenario figure, so the table is the same.
"""

from __future__ import annotations

import pandas as pd

from simlab.analysis import metrics as _metrics
from simlab.data.instruments import PERIODS
from simlab.engine.result import Replay

__all__ = ["run_metrics"]

WEIGHTS_BLOCK_CELLS = 20_000_000
HOLDINGS = ("effective_assets", "diversification_ratio", "position_hit_rate")


def run_metrics(replay: Replay, risk_free: float) -> pd.DataFrame:
    """The metrics table of a replay, the start day left out (``Result.metrics``); annualised over
    the data's calendar (``data.calendar``: 252 trading days, or 365 for ``every_day``).

    Where the experiment finances cash, ``total_financing`` is the interest earned (+) or
    paid (-) on cash over the run, money like ``total_costs``.
    """
    bench = replay.benchmark_returns
    returns = _metrics.drop_start_day(replay.returns)
    ones = pd.DataFrame(1.0, index=returns.index, columns=returns.columns).where(
        returns.notna().cummax())
    n_days, n_scenarios, n_assets = len(replay.dates), len(replay.scenarios), len(replay.assets)
    block = max(1, WEIGHTS_BLOCK_CELLS // max(1, n_days * n_assets))
    whole = block >= n_scenarios
    table = _metrics.summary(
        returns, benchmark_returns=None if bench is None else bench.iloc[1:],
        traded_value=_metrics.start_day_shares(replay.daily_traded_value(), replay.nav, returns),
        costs=_metrics.start_day_shares(replay.daily_costs(), replay.nav, returns), nav=ones,
        weights=replay.weights.isel(date=slice(1, None)) if whole else None,
        asset_returns=replay.market.returns(), risk_free=risk_free,
        periods=PERIODS[replay.config.experiment.data.calendar],
    )
    if not whole:
        table = _with_holdings(table, replay, block)
    table["total_costs"] = _metrics.total_costs(replay.daily_costs()).reindex(table.index)
    if replay.config.experiment.execution.financed:
        table["total_financing"] = replay.daily_financing().sum().reindex(table.index)
    return table


def _with_holdings(table: pd.DataFrame, replay: Replay, block: int) -> pd.DataFrame:
    """``table`` with the holdings metrics, computed ``block`` scenarios at a time, in the
    place :func:`simlab.analysis.metrics.summary` gives them."""
    asset_returns = replay.market.returns()
    covariances: dict = {}  # the diversification ratio's estimates, shared by the blocks
    parts = []
    for start in range(0, len(replay.scenarios), block):
        weights = replay.weights_of(slice(start, start + block)).isel(date=slice(1, None))
        parts.append(pd.DataFrame({
            "effective_assets": _metrics.effective_assets(weights),
            "diversification_ratio": _metrics.diversification_ratio(weights, asset_returns,
                                                                    covariances=covariances),
            "position_hit_rate": _metrics.position_hit_rate(weights, asset_returns),
        }))
        del weights
    holdings = pd.concat(parts).reindex(table.index)
    at = list(table.columns).index("max_drawdown_uncompounded") + 1
    for offset, name in enumerate(HOLDINGS):
        table.insert(at + offset, name, holdings[name])
    return table

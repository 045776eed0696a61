"""The metrics table of a replay: the run's returns and trading, the start day left out.

The holdings metrics (``effective_assets``, ``diversification_ratio``,
``position_hit_rate``) are computed from the run's holdings snapshots
(:func:`simlab.analysis.metrics.holdings_metrics`), never from the (date, scenario, asset)
weights: 1,000 scenarios of 100 assets over 20 years are 504 million weights, 4 GB.
"""

from __future__ import annotations

import pandas as pd

from simlab.analysis import metrics as _metrics
from simlab.data.instruments import PERIODS
from simlab.engine.result import Replay

__all__ = ["run_metrics"]

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
    costs = replay.daily_costs()
    table = _metrics.summary(
        returns, benchmark_returns=None if bench is None else bench.iloc[1:],
        traded_value=_metrics.start_day_shares(replay.daily_traded_value(), replay.nav, returns),
        costs=_metrics.start_day_shares(costs, replay.nav, returns), nav=ones,
        risk_free=risk_free, periods=PERIODS[replay.config.experiment.data.calendar],
    )
    holdings = _holdings(replay).reindex(table.index)
    at = list(table.columns).index("max_drawdown_uncompounded") + 1
    for offset, name in enumerate(HOLDINGS):
        table.insert(at + offset, name, holdings[name])
    table["total_costs"] = _metrics.total_costs(costs).reindex(table.index)
    if replay.config.experiment.execution.financed:
        table["total_financing"] = replay.daily_financing().sum().reindex(table.index)
    return table


def _holdings(replay: Replay) -> pd.DataFrame:
    """The holdings metrics of every scenario from the replay's holdings snapshots, the start day
    left out (as :func:`simlab.analysis.metrics.summary` gives them from ``weights[1:]``)."""
    snapshots, snapshot_of_day, price, nav = replay.holdings_snapshots()
    asset_returns = replay.market.returns().reindex(index=replay.dates, columns=list(replay.assets))
    return _metrics.holdings_metrics(snapshots, snapshot_of_day[1:], price[1:], nav[1:],
                                     asset_returns.to_numpy(dtype="float64", na_value=float("nan"))[1:],
                                     replay.scenarios)

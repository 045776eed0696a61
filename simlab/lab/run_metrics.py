"""The metrics table of a replay: the run's returns and trading, the start day left out."""

from __future__ import annotations

import pandas as pd

from simlab.analysis import metrics as _metrics
from simlab.data.instruments import PERIODS
from simlab.engine.result import Replay

__all__ = ["run_metrics"]


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
    table = _metrics.summary(
        returns, benchmark_returns=None if bench is None else bench.iloc[1:],
        traded_value=_metrics.start_day_shares(replay.daily_traded_value(), replay.nav, returns),
        costs=_metrics.start_day_shares(replay.daily_costs(), replay.nav, returns), nav=ones,
        weights=replay.weights.isel(date=slice(1, None)), asset_returns=replay.market.returns(),
        risk_free=risk_free, periods=PERIODS[replay.config.experiment.data.calendar],
    )
    table["total_costs"] = _metrics.total_costs(replay.daily_costs()).reindex(table.index)
    if replay.config.experiment.execution.financed:
        table["total_financing"] = replay.daily_financing().sum().reindex(table.index)
    return table

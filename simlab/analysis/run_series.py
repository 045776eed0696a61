"""Daily series a report draws from a finished run.

From the returns, the NAV and the trades: the rolling Sharpe ratio, monthly returns,
trailing turnover and cumulative costs. From the diagnostics the Steps record: the regime
of each decision and the constraints' utilization, held between decisions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simlab.contract.roles import Role
from simlab.data.instruments import PERIODS

__all__ = ["UTIL_PREFIX", "WINDOW", "cumulative_costs", "days_word", "monthly_returns", "periods_of",
           "regime_labels", "role_diagnostics", "rolling_beta", "rolling_sharpe", "rolling_volatility",
           "scalar_diagnostics", "step_name", "trade_table", "trailing_turnover", "utilization", "worst_drawdowns"]

WINDOW = 252
"""Trading days in the rolling windows (one year) on the default calendar; see :func:`periods_of`."""
UTIL_PREFIX = "util_"
"""Dropped from a utilization key in its column label (``util_gross`` -> ``gross``)."""


# ----------------------------------------------------------------------------
# The run's year
# ----------------------------------------------------------------------------


def periods_of(result) -> int:
    """Daily observations in a year of ``result``'s data calendar: 252 on ``trading_days``, 365 on ``every_day``.

    Every annualised number of a run, and every window of "one year", uses this count
    (as ``res.metrics()`` does). A result without a config is on trading days.
    """
    data = getattr(getattr(getattr(result, "config", None), "experiment", None), "data", None)
    return PERIODS[getattr(data, "calendar", "trading_days")]


def days_word(periods: int) -> str:
    """How a report names a row of the data: ``trading days`` for 252 a year, ``days`` otherwise."""
    return "trading days" if periods == PERIODS["trading_days"] else "days"


# ----------------------------------------------------------------------------
# From returns, NAV and trades
# ----------------------------------------------------------------------------


def rolling_sharpe(returns, window: int = WINDOW, risk_free: float = 0.0, periods: float = 252):
    """Annualized Sharpe ratio over the trailing ``window`` days (NaN before a full window).

    ``risk_free`` is an annual rate, as in :func:`simlab.analysis.metrics.sharpe`; the
    deviation has ``ddof=1``.
    """
    excess = returns - ((1.0 + risk_free) ** (1.0 / periods) - 1.0)
    roll = excess.rolling(window, min_periods=window)
    std = roll.std(ddof=1)
    return (roll.mean() / std.where(std > 0)) * np.sqrt(periods)


def rolling_volatility(returns, window: int = WINDOW, periods: float = 252):
    """Annualized volatility over the trailing ``window`` days (``ddof=1``; NaN before a full window)."""
    return returns.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(periods)


def rolling_beta(returns: pd.DataFrame, benchmark: pd.Series, window: int = WINDOW) -> pd.DataFrame:
    """Beta to the benchmark over the trailing ``window`` days: ``cov(r, b) / var(b)``, both ``ddof=1``,
    as :func:`simlab.analysis.metrics.beta` on each window (NaN before a full window)."""
    b = benchmark.reindex(returns.index)
    var = b.rolling(window, min_periods=window).var(ddof=1)
    cov = returns.apply(lambda col: col.rolling(window, min_periods=window).cov(b, ddof=1))
    return cov.div(var.where(var > 0), axis=0)


def worst_drawdowns(returns: pd.Series, top: int = 5) -> pd.DataFrame:
    """The ``top`` deepest drawdown episodes of one scenario, deepest first.

    An episode runs from a peak of compounded value (the start, 1.0, is a peak) to the first
    close back at or above it. Columns: ``peak`` (last date at the peak; NaT for the start
    value), ``start`` (first date below it), ``trough``, ``recovery`` (NaT while still below),
    ``depth`` (fall at the trough, a positive fraction as
    :func:`simlab.analysis.metrics.max_drawdown`) and ``days`` (trading days from the peak to the
    recovery, or to the last date).
    """
    r = returns.dropna()
    wealth = (1.0 + r).cumprod().to_numpy()
    peak = np.maximum(np.maximum.accumulate(wealth), 1.0)
    under = wealth < peak
    dates = r.index
    rows = []
    i = 0
    while i < len(wealth):
        if not under[i]:
            i += 1
            continue
        end = i
        while end < len(wealth) and under[end]:
            end += 1
        depth = 1.0 - wealth[i:end] / peak[i:end]
        low = i + int(np.argmax(depth))
        recovered = end < len(wealth)
        rows.append({"peak": dates[i - 1] if i > 0 else pd.NaT, "start": dates[i], "trough": dates[low],
                     "recovery": dates[end] if recovered else pd.NaT, "depth": float(depth.max()),
                     "days": (end if recovered else len(wealth) - 1) - (i - 1)})
        i = end
    table = pd.DataFrame(rows, columns=["peak", "start", "trough", "recovery", "depth", "days"])
    return table.sort_values("depth", ascending=False, kind="stable").head(top).reset_index(drop=True)


def trade_table(trades: pd.DataFrame, scenarios) -> pd.DataFrame:
    """Fills per scenario: count, buys, sells, assets traded, traded value and costs (money),
    mean cost in basis points of traded value, first and last fill date."""
    rows = {}
    for name in scenarios:
        t = trades[trades["scenario"] == name]
        value = float(t["value"].abs().sum())
        cost = float(t["cost"].sum())
        rows[name] = {"fills": len(t), "buys": int((t["shares"] > 0).sum()), "sells": int((t["shares"] < 0).sum()),
                      "assets": int(t["asset"].nunique()), "traded_value": value, "costs": cost,
                      "cost_bps": 1e4 * cost / value if value > 0 else np.nan,
                      "first": t["date"].min() if len(t) else pd.NaT, "last": t["date"].max() if len(t) else pd.NaT}
    return pd.DataFrame.from_dict(rows, orient="index")


def monthly_returns(returns: pd.Series) -> pd.DataFrame:
    """Compounded returns per month: index years, columns months 1..12 and ``year``."""
    r = returns.dropna()
    grouped = (1.0 + r).groupby([r.index.year, r.index.month]).prod() - 1.0
    table = grouped.unstack().reindex(columns=range(1, 13))
    table["year"] = (1.0 + r).groupby(r.index.year).prod() - 1.0
    table.index.name = "year"
    return table


def _previous_nav(nav: pd.DataFrame) -> pd.DataFrame:
    """NAV at the previous close; the first day uses its own NAV."""
    return nav.shift(1).fillna(nav)


def trailing_turnover(traded_value: pd.DataFrame, nav: pd.DataFrame, window: int = WINDOW) -> pd.DataFrame:
    """One-way turnover over the trailing ``window`` days: sum of ``0.5 * traded / NAV_prev``.

    The convention of :func:`simlab.analysis.metrics.annual_turnover`; the first year sums
    what has been traded so far.
    """
    return (0.5 * traded_value / _previous_nav(nav)).rolling(window, min_periods=1).sum()


def cumulative_costs(costs: pd.DataFrame, nav: pd.DataFrame) -> pd.DataFrame:
    """Costs paid since the start, each day's over the previous close's NAV, summed."""
    return (costs / _previous_nav(nav)).cumsum()


# ----------------------------------------------------------------------------
# From the diagnostics
# ----------------------------------------------------------------------------


def scalar_diagnostics(result, wanted) -> pd.DataFrame:
    """Per-scenario diagnostics (no asset) whose key satisfies ``wanted(key)``."""
    diag = result.diagnostics
    if diag.empty:
        return diag
    keys = [k for k in diag["key"].unique() if wanted(str(k))]
    return diag[diag["key"].isin(keys) & diag["asset"].isna()]


def role_diagnostics(result, role: Role) -> pd.DataFrame:
    """Per-scenario diagnostics (no asset) of the declared ``role``; none from a table without roles."""
    diag = result.diagnostics
    if diag.empty or "role" not in diag:
        return diag.iloc[:0]
    return diag[(diag["role"] == role) & diag["asset"].isna()]


def _daily(rows: pd.DataFrame, dates: pd.DatetimeIndex, columns: str) -> pd.DataFrame:
    """Decision-day values held until the next decision, on every date of the run."""
    wide = rows.pivot_table(index="date", columns=columns, values="value", aggfunc="last", sort=False)
    return wide.sort_index().reindex(dates, method="ffill")


def step_name(step: str) -> str:
    """``3:vix_regime`` -> ``vix_regime``."""
    return step.split(":", 1)[-1]


def regime_labels(result, scenario: str) -> tuple[pd.Series | None, dict[int, str]]:
    """Daily regime label of ``scenario`` (key ``regime`` of the first Step reporting one),
    and legend names of the labels (``regime 2, stress`` where the Step reports ``stress``)."""
    rows = scalar_diagnostics(result, lambda k: k in ("regime", "stress"))
    rows = rows[rows["scenario"] == scenario]
    if not (rows["key"] == "regime").any():
        return None, {}
    step = rows.loc[rows["key"] == "regime", "step"].iloc[0]
    wide = _daily(rows[rows["step"] == step], result.dates, "key")
    label = wide["regime"]
    names = {}
    for k in np.unique(label.dropna()):
        stressed = "stress" in wide and bool((wide.loc[label == k, "stress"] > 0).any())
        names[int(k)] = f"regime {int(k)}" + (", stress" if stressed else "")
    return label, names


def utilization(result, scenario: str) -> pd.DataFrame | None:
    """Daily constraint utilization of ``scenario``: every diagnostics value of role ``utilization``.

    Columns are the keys (``util_`` dropped; a key ``utilization`` is named after its Step),
    prefixed by the Step's name when several Steps report; None when no Step reports one.
    """
    rows = role_diagnostics(result, Role.UTILIZATION)
    rows = rows[rows["scenario"] == scenario]
    if rows.empty:
        return None
    several = rows["step"].nunique() > 1
    key = rows["key"].str.removeprefix(UTIL_PREFIX)
    step = rows["step"].map(step_name)
    label = np.where(key == "utilization", step, (step + ":" + key) if several else key)
    return _daily(rows.assign(label=label), result.dates, "label")

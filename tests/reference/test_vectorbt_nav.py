"""simlab's simulator against vectorbt's ``Portfolio.from_orders`` on the built-in stocks.

Both engines get the same target weights on the same days and must produce the same
daily NAV. The targets for vectorbt are built here with plain pandas, never read back
from simlab (its ``res.weights`` would make the comparison circular):

- equal weight: 1/20 on the first trading day of each month, NaN (no order) otherwise;
- momentum top 5: ``signal = close.shift(21) / close.shift(252) - 1``, the 5 highest
  finite signals on each rebalance day (ties keep the asset order), 1/5 each, 0 elsewhere.

vectorbt runs with ``size_type="targetpercent"``, one group with shared cash and
``call_seq="auto"`` (sells before buys), which is simlab's fill rule as long as cash
covers every buy, i.e. without fees. With fees the two engines differ by design (see
``FEE_RTOL_EQUAL_WEIGHT`` below).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.data import load

pytestmark = pytest.mark.peers
vbt = pytest.importorskip("vectorbt")

INIT_CASH = 1_000_000.0
NO_FEE_RTOL = 1e-9
N_ASSETS = 20
TOP_N = 5
LOOKBACK, SKIP = 252, 21
BPS = 10.0

# Tolerances with fees (10 bps). With fees the engines spend the last few basis points of
# a rebalance differently: vectorbt processes orders one by one, recomputes each
# targetpercent size from a portfolio value already reduced by the fees paid earlier in
# the same rebalance, and fills buys in call order until cash runs out; simlab sizes every
# order from the NAV before the rebalance and scales all buys down by one common factor so
# that buys plus costs fit the cash. Each rebalance therefore misallocates an amount of
# the order of bps x turnover between assets; it earns the spread between the assets'
# returns until the next rebalance, and these small differences add up over the span.
# Measured max relative NAV difference (daily, whole span 1990-2022 / from 1995):
#   equal weight  1.6e-4 / 1.1e-4  (total fee drag 2.3 % of final NAV)
#   momentum top5 6.6e-4 / 7.1e-4  (total fee drag 17 %: far higher turnover)
# The bounds leave 4-6x headroom over those and stay tight enough to catch a cost bug: with
# simlab at 11 bps against vectorbt at 10 bps the difference is 2.2e-3 (equal weight) and
# 1.9e-2 (momentum), both above their bound (``test_fee_bound_detects_a_wrong_rate``).
FEE_RTOL_EQUAL_WEIGHT = 1e-3
FEE_RTOL_MOMENTUM = 3e-3
# The total fees paid differ by the same mechanism; measured 2.5e-4 (equal weight) and
# 3.5e-4 (momentum) relative.
FEE_TOTAL_RTOL = 2e-3

START_1995 = "1995-01-01"
EQUAL_WEIGHT = [{"type": "equal_weight"}]
MOMENTUM = {"type": "momentum", "lookback": LOOKBACK, "skip": SKIP}
TOP_N_PIPELINE = [{"type": "equal_weight_top_n", "top_n": TOP_N}]


@pytest.fixture(scope="module")
def close() -> pd.DataFrame:
    """Adjusted closes of the 20 built-in S&P 500 stocks, 1990-01-02 .. 2022-12-28."""
    prices = load("builtin:sp500_20").close
    assert prices.shape[1] == N_ASSETS
    assert prices.notna().all().all(), "the comparison assumes every stock trades every day"
    return prices


@pytest.fixture(scope="module")
def equal_weight_targets(close) -> pd.DataFrame:
    """1/20 on each month's first trading day, NaN elsewhere."""
    targets = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
    targets[_rebalance_days(close.index)] = 1.0 / N_ASSETS
    return targets


@pytest.fixture(scope="module")
def momentum_targets(close) -> pd.DataFrame:
    """1/5 on the 5 best 12-1 momentum names on each rebalance day, NaN off rebalance days."""
    signal = close.shift(SKIP) / close.shift(LOOKBACK) - 1.0
    # method="first": equal signals rank in column order, NaN signals get no rank
    rank = signal.rank(axis=1, method="first", ascending=False)
    chosen = rank <= TOP_N
    count = chosen.sum(axis=1)
    targets = chosen.div(count.where(count > 0), axis=0).fillna(0.0)
    targets[~_rebalance_days(close.index)] = np.nan
    return targets


def _rebalance_days(dates: pd.DatetimeIndex) -> np.ndarray:
    """Boolean mask of the first trading day of each calendar month."""
    month = dates.to_period("M")
    return np.r_[True, month[1:] != month[:-1]]


def _config(pipeline, *, lag=0, start=None, bps=None, strategy=None) -> dict:
    cfg = {
        "name": "vbt_reference",
        "data": {"source": "builtin:sp500_20", "benchmark": None, "start": start},
        "schedule": {"frequency": "monthly", "day": "first"},
        "execution": {"lag": lag, "init_cash": INIT_CASH, "fractional": True},
        "pipeline": pipeline,
    }
    if bps is not None:
        cfg["costs"] = {"type": "flat", "bps": bps}
    if strategy is not None:
        cfg["strategy"] = strategy
    return cfg


def _simlab(pipeline, **kwargs) -> simlab.Result:
    return simlab.run(_config(pipeline, **kwargs))


def _vectorbt(close: pd.DataFrame, targets: pd.DataFrame, fees: float = 0.0):
    return vbt.Portfolio.from_orders(
        close, size=targets, size_type="targetpercent", group_by=True, cash_sharing=True,
        call_seq="auto", init_cash=INIT_CASH, fees=fees, freq="1D",
    )


def _span(close, targets, start, lag=0):
    """Prices and targets over the simulated span; with a lag the orders move ``lag`` rows."""
    prices = close if start is None else close.loc[start:]
    return prices, targets.loc[prices.index].shift(lag)


def _nav_gap(res: simlab.Result, portfolio) -> pd.Series:
    """Daily relative difference between simlab's and vectorbt's NAV (same dates enforced)."""
    ours = res.nav.iloc[:, 0]
    theirs = portfolio.value()
    pd.testing.assert_index_equal(ours.index, theirs.index, check_names=False)
    assert np.isfinite(ours).all() and (ours > 0).all()
    return (ours / theirs - 1.0).abs()


def _assert_nav_close(res, portfolio, rtol):
    gap = _nav_gap(res, portfolio)
    assert gap.max() <= rtol, f"max relative NAV gap {gap.max():.3e} on {gap.idxmax().date()} > {rtol:g}"


@pytest.mark.parametrize("start", [None, START_1995], ids=["1990", "1995"])
def test_equal_weight_no_fees(close, equal_weight_targets, start):
    res = _simlab(EQUAL_WEIGHT, start=start)
    prices, targets = _span(close, equal_weight_targets, start)
    assert res.nav.index[0] == prices.index[0]
    _assert_nav_close(res, _vectorbt(prices, targets), NO_FEE_RTOL)
    assert res.nav.iloc[0, 0] == pytest.approx(INIT_CASH, rel=1e-12)


def test_equal_weight_trades_match(close, equal_weight_targets):
    """Same fills: the same days and assets, and the same signed shares at the same prices."""
    res = _simlab(EQUAL_WEIGHT)
    orders = _vectorbt(close, equal_weight_targets).orders.values  # record array
    theirs = np.zeros(close.shape)
    sign = np.where(orders["side"] == 0, 1.0, -1.0)  # 0 buy, 1 sell
    np.add.at(theirs, (orders["idx"], orders["col"]), sign * orders["size"])
    np.testing.assert_array_equal(orders["price"], close.to_numpy()[orders["idx"], orders["col"]])

    trades = res.trades
    assert set(trades["reason"]) == {"rebalance"}
    rows = close.index.get_indexer(pd.DatetimeIndex(trades["date"]))
    cols = close.columns.get_indexer(trades["asset"].astype(str))
    assert (rows >= 0).all() and (cols >= 0).all()
    ours = np.zeros(close.shape)
    np.add.at(ours, (rows, cols), trades["shares"].to_numpy())
    np.testing.assert_array_equal(trades["price"].to_numpy(), close.to_numpy()[rows, cols])

    traded_days = np.flatnonzero((ours != 0).any(axis=1))
    np.testing.assert_array_equal(traded_days, np.flatnonzero(_rebalance_days(close.index)))
    # compare traded value, so that near-zero trades of cheap stocks do not dominate
    np.testing.assert_allclose(ours * close.to_numpy(), theirs * close.to_numpy(), rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("start", [None, START_1995], ids=["1990", "1995"])
def test_equal_weight_fees_within_bound(close, equal_weight_targets, start):
    res = _simlab(EQUAL_WEIGHT, start=start, bps=BPS)
    prices, targets = _span(close, equal_weight_targets, start)
    portfolio = _vectorbt(prices, targets, fees=BPS * 1e-4)
    _assert_nav_close(res, portfolio, FEE_RTOL_EQUAL_WEIGHT)
    ours_fees = res.trades["cost"].sum()
    assert ours_fees > 0
    assert ours_fees == pytest.approx(portfolio.orders.values["fees"].sum(), rel=FEE_TOTAL_RTOL)


@pytest.mark.parametrize("start", [None, START_1995], ids=["1990", "1995"])
def test_momentum_top5_no_fees(close, momentum_targets, start):
    res = _simlab(TOP_N_PIPELINE, start=start, strategy=MOMENTUM)
    prices, targets = _span(close, momentum_targets, start)
    _assert_nav_close(res, _vectorbt(prices, targets), NO_FEE_RTOL)
    # the comparison means something only if the portfolio really rotates
    held = res.trades.groupby("date")["asset"].nunique()
    assert held.max() >= TOP_N and res.trades["asset"].nunique() > TOP_N


def test_momentum_top5_fees_within_bound(close, momentum_targets):
    res = _simlab(TOP_N_PIPELINE, bps=BPS, strategy=MOMENTUM)
    portfolio = _vectorbt(close, momentum_targets, fees=BPS * 1e-4)
    _assert_nav_close(res, portfolio, FEE_RTOL_MOMENTUM)
    assert res.trades["cost"].sum() == pytest.approx(
        portfolio.orders.values["fees"].sum(), rel=FEE_TOTAL_RTOL
    )


@pytest.mark.parametrize("case", ["equal_weight", "momentum"])
@pytest.mark.parametrize("start", [None, START_1995], ids=["1990", "1995"])
def test_lag_one_equals_shifted_targets(close, equal_weight_targets, momentum_targets, case, start):
    """Decided at the close of t, filled at the close of t+1 == vectorbt with targets one row later."""
    if case == "equal_weight":
        res, targets = _simlab(EQUAL_WEIGHT, lag=1, start=start), equal_weight_targets
    else:
        res, targets = _simlab(TOP_N_PIPELINE, lag=1, start=start, strategy=MOMENTUM), momentum_targets
    prices, shifted = _span(close, targets, start, lag=1)
    _assert_nav_close(res, _vectorbt(prices, shifted), NO_FEE_RTOL)
    # and lag 1 is a different path from lag 0, so the check is not vacuous
    same_day = _vectorbt(prices, _span(close, targets, start)[1])
    assert _nav_gap(res, same_day).max() > 1e-4


@pytest.mark.parametrize(
    ("case", "bound"), [("equal_weight", FEE_RTOL_EQUAL_WEIGHT), ("momentum", FEE_RTOL_MOMENTUM)]
)
def test_fee_bound_detects_a_wrong_rate(close, equal_weight_targets, momentum_targets, case, bound):
    """The fee tolerances are loose enough for the fill-rule difference, not for 1 bps too much."""
    if case == "equal_weight":
        res, targets = _simlab(EQUAL_WEIGHT, bps=BPS + 1), equal_weight_targets
    else:
        res, targets = _simlab(TOP_N_PIPELINE, bps=BPS + 1, strategy=MOMENTUM), momentum_targets
    assert _nav_gap(res, _vectorbt(close, targets, fees=BPS * 1e-4)).max() > bound

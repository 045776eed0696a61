"""The signal strategies: hand-computed values, NaN where history is lacking, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.config import registry
from simlab.data.market import MarketData
from simlab.errors import ConfigError
from simlab.testing.builders import price_frame
from strategies.long_term_reversal import LongTermReversal
from strategies.low_volatility import LowVolatility
from strategies.trend import Trend
from strategies.value_momentum import ValueMomentum, cross_sectional_zscore


def market(values, columns=("A", "B", "C")) -> MarketData:
    close = pd.DataFrame(np.asarray(values, dtype=float), columns=list(columns),
                         index=pd.bdate_range("2020-01-01", periods=len(values), name="date"))
    return MarketData(close=close)


# ---------------------------------------------------------------- long-term reversal


def test_reversal_is_minus_the_log_return_between_lookback_and_skip():
    md = market([[100, 50, 10], [110, 50, 20], [120, 40, 40], [130, 30, 80], [140, 20, 160]])
    sig = LongTermReversal(lookback=3, skip=1).signal(md)
    assert sig.iloc[:3].isna().all().all()
    # row 3: close[2] / close[0]; row 4: close[3] / close[1]
    expected = -np.log([[120 / 100, 40 / 50, 40 / 10], [130 / 110, 30 / 50, 80 / 20]])
    np.testing.assert_allclose(sig.iloc[3:].to_numpy(), expected, rtol=1e-12)
    assert LongTermReversal.proxy is True
    import strategies.long_term_reversal as module

    assert "VALUE PROXY" in module.__doc__ and "proxy" in LongTermReversal.__doc__


def test_reversal_is_nan_without_history_and_around_missing_prices():
    md = market([[100, np.nan, 10], [110, np.nan, 20], [120, 40, 40], [np.nan, 30, 80], [140, 20, 160]])
    sig = LongTermReversal(lookback=2, skip=0).signal(md)
    assert np.isnan(sig.loc[sig.index[2], "B"])  # B listed on row 2: no price 2 rows earlier
    assert np.isnan(sig.loc[sig.index[3], "A"])  # no close on row 3
    assert sig.loc[sig.index[4], "B"] == pytest.approx(-np.log(20 / 40))


def test_reversal_rejects_skip_not_below_lookback():
    with pytest.raises(ConfigError, match="skip"):
        registry.resolve("strategy", {"type": "long_term_reversal", "lookback": 252, "skip": 252}, "strategy")


# ---------------------------------------------------------------- low volatility


def test_low_volatility_is_minus_annualized_rolling_std():
    md = market([[100, 100, 100], [101, 102, 100], [100, 99, 100], [102, 104, 100]])
    sig = LowVolatility(window=3, periods=252).signal(md)
    assert sig.iloc[:3].isna().all().all()  # returns start on row 1: 3 returns by row 3
    r_a = np.array([101 / 100, 100 / 101, 102 / 100]) - 1
    r_b = np.array([102 / 100, 99 / 102, 104 / 99]) - 1
    expected = -np.array([np.std(r_a, ddof=1), np.std(r_b, ddof=1)]) * np.sqrt(252)
    np.testing.assert_allclose(sig.iloc[3, :2], expected)
    assert sig.iloc[3, 2] == 0.0  # a flat price has zero volatility: a real value, the highest score


def test_low_volatility_min_periods_tolerates_a_gap():
    close = price_frame(40, 2, seed=3, gaps=[(20, 0)])
    strict = LowVolatility(window=10).signal(MarketData(close=close))
    lenient = LowVolatility(window=10, min_periods=7).signal(MarketData(close=close))
    assert strict["A0"].iloc[20:31].isna().all() and strict["A0"].iloc[31:].notna().all()
    assert lenient["A0"].iloc[20:31].notna().all()
    assert strict["A1"].iloc[10:].notna().all()


# ---------------------------------------------------------------- trend


def test_trend_is_close_over_its_moving_average_minus_one():
    md = market([[10, 20, 5], [11, 18, 5], [12, 16, np.nan], [15, 14, 5]])
    sig = Trend(window=3).signal(md)
    assert sig.iloc[:2].isna().all().all()
    assert sig.iloc[2, 0] == pytest.approx(12 / 11 - 1)
    assert sig.iloc[3, 0] == pytest.approx(15 / ((11 + 12 + 15) / 3) - 1)
    assert sig.iloc[3, 1] == pytest.approx(14 / 16 - 1)
    assert sig.iloc[2:, 2].isna().all()  # a gap in the window: no silent value


# ---------------------------------------------------------------- value momentum


def test_cross_sectional_zscore_by_hand():
    panel = pd.DataFrame([[1.0, 2.0, 3.0, np.nan], [np.nan, np.nan, 5.0, 1.0], [4.0, 4.0, 4.0, np.nan]])
    z = cross_sectional_zscore(panel, min_periods=2)
    np.testing.assert_allclose(z.iloc[0, :3], [-1.0, 0.0, 1.0])
    assert np.isnan(z.iloc[0, 3])
    np.testing.assert_allclose(z.iloc[1, 2:], [np.sqrt(0.5), -np.sqrt(0.5)])  # ddof=1 over 2 values
    np.testing.assert_allclose(z.iloc[2, :3], 0.0)  # no dispersion: level, not missing
    assert cross_sectional_zscore(panel, min_periods=3).iloc[1].isna().all()


def _vm_market():
    # 4 assets, 6 days; value: lookback 4 skip 2, momentum: lookback 2 skip 0
    return market(
        [[100, 100, 100, 100], [90, 120, 100, 80], [80, 130, 110, 70], [85, 125, 120, np.nan],
         [95, 120, 115, 75], [100, 110, 130, 90]],
        columns=("A", "B", "C", "D"),
    )


def test_value_momentum_blends_the_z_scores_with_weights():
    md = _vm_market()
    strat = ValueMomentum(value_weight=0.25, momentum_weight=0.75, value_lookback=4, value_skip=2,
                          momentum_lookback=2, momentum_skip=0, min_periods=2)
    sig = strat.signal(md)
    close = md.close.to_numpy()
    value = -np.log(close[3] / close[1])  # row 5
    mom = close[5] / close[3] - 1
    zv = cross_sectional_zscore(pd.DataFrame([value]), 2).to_numpy()[0]
    zm = cross_sectional_zscore(pd.DataFrame([mom]), 2).to_numpy()[0]
    assert np.isnan(value[3]) and np.isnan(mom[3])  # D has no close on row 3
    np.testing.assert_allclose(sig.iloc[5, :3], 0.25 * zv[:3] + 0.75 * zm[:3])
    assert np.isnan(sig.iloc[5, 3])
    assert sig.iloc[:4].isna().all().all()  # value needs 4 rows of history


def test_value_momentum_require_all_and_min_periods():
    md = _vm_market()
    base = dict(value_lookback=4, value_skip=2, momentum_lookback=2, momentum_skip=0, min_periods=2)
    strict = ValueMomentum(**base).signal(md)
    lenient = ValueMomentum(**base, require_all=False).signal(md)
    # row 3: momentum exists for A..C, value does not yet: strict NaN, lenient = z(momentum)
    assert strict.iloc[3].isna().all()
    mom = md.close.iloc[3] / md.close.iloc[1] - 1
    np.testing.assert_allclose(lenient.iloc[3, :3], cross_sectional_zscore(pd.DataFrame([mom]), 2).iloc[0, :3])
    assert ValueMomentum(**{**base, "min_periods": 4}).signal(md).iloc[5].isna().all()  # only 3 assets


def test_value_momentum_with_one_weight_zero_is_that_z_score():
    md = _vm_market()
    sig = ValueMomentum(value_weight=0.0, momentum_weight=1.0, momentum_lookback=2, momentum_skip=0,
                        min_periods=2).signal(md)
    mom = md.close / md.close.shift(2) - 1
    pd.testing.assert_frame_equal(sig, cross_sectional_zscore(mom, 2))


def test_value_momentum_rejects_zero_weights():
    with pytest.raises(ConfigError, match="cannot both be 0"):
        registry.resolve("strategy", {"type": "value_momentum", "value_weight": 0, "momentum_weight": 0}, "strategy")


# ---------------------------------------------------------------- shared properties

SMALL = {
    "long_term_reversal": {"lookback": 60, "skip": 20},
    "value_momentum": {"value_lookback": 60, "value_skip": 20, "momentum_lookback": 30, "momentum_skip": 5},
    "low_volatility": {"window": 20},
    "trend": {"window": 20},
}


def _build(key):
    return registry.build("strategy", registry.resolve("strategy", {"type": key, **SMALL[key]}, "strategy"))


@pytest.mark.parametrize("key", sorted(SMALL))
def test_perturbing_future_prices_leaves_past_signals_unchanged(key):
    close = price_frame(150, 6, seed=11, listing={4: 30}, delisting={5: 120}, gaps=[(70, 1)])
    t = 100
    before = _build(key).signal(MarketData(close=close))
    shocked = close.copy()
    shocked.iloc[t + 1:] *= np.random.default_rng(0).uniform(0.5, 2.0, shocked.iloc[t + 1:].shape)
    after = _build(key).signal(MarketData(close=shocked))
    pd.testing.assert_frame_equal(before.iloc[: t + 1], after.iloc[: t + 1])
    assert not before.iloc[t + 1:].equals(after.iloc[t + 1:])


@pytest.mark.parametrize("key", sorted(SMALL))
def test_nan_where_an_asset_lacks_history_never_zero(key):
    close = price_frame(150, 6, seed=5, listing={4: 100})
    sig = _build(key).signal(MarketData(close=close))
    assert sig.shape == close.shape
    assert sig["A4"].iloc[:100].isna().all()  # not listed yet
    assert sig["A4"].iloc[100:110].isna().all()  # listed, but no window yet
    assert np.isfinite(sig.iloc[-1, :4]).all()
    assert (sig.iloc[-1, :4] != 0).all()

"""Continuous futures series: the roll rule, point in time, back adjustment, and errors naming the key."""

import numpy as np
import pandas as pd
import pytest

from simlab.data.futures import back_adjusted, continuous_future
from simlab.data.synthetic_instruments import generate_futures_chain, third_friday
from simlab.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def chain():
    md = generate_futures_chain(n_days=300, seed=1)
    return md.close, md.provenance["truth"]["expiries"]


def test_third_friday():
    assert third_friday(2021, 3) == pd.Timestamp("2021-03-19")
    assert third_friday(2022, 12) == pd.Timestamp("2022-12-16")


def test_roll_days_and_gaps(chain):
    close, expiries = chain
    cf = continuous_future("SF", close, expiries, days_before_expiry=5)
    first = cf.rolls.iloc[0]
    expiry_row = close.index.get_loc(pd.Timestamp(expiries[first["from"]]))
    assert close.index.get_loc(first["date"]) == expiry_row - 5
    assert cf.held[first["date"]] == first["to"]  # after the close of the roll day: the new contract
    assert (cf.rolls["gap"] > 0).all()  # positive carry: each roll meets contango
    row = close.index.get_loc(first["date"])
    assert cf.change.iloc[row] == pytest.approx(close[first["from"]].iloc[row] - close[first["from"]].iloc[row - 1])
    assert cf.change.iloc[row + 1] == pytest.approx(close[first["to"]].iloc[row + 1] - close[first["to"]].iloc[row])


@pytest.mark.parametrize("adjust", ["ratio", "difference"])
def test_continuous_is_point_in_time(chain, adjust):
    """Changing every price after day t changes nothing of the series up to t."""
    close, expiries = chain
    full = continuous_future("SF", close, expiries, adjust=adjust)
    t = 150
    perturbed = close.copy()
    perturbed.iloc[t + 1:] *= np.random.default_rng(0).uniform(0.8, 1.2, perturbed.shape[1])
    cut = continuous_future("SF", perturbed, expiries, adjust=adjust)
    pd.testing.assert_series_equal(full.continuous.iloc[: t + 1], cut.continuous.iloc[: t + 1])
    pd.testing.assert_series_equal(full.change.iloc[: t + 1], cut.change.iloc[: t + 1])


def test_back_adjusted_as_of_keeps_returns_and_ends_at_the_quote(chain):
    close, expiries = chain
    cf = continuous_future("SF", close, expiries, adjust="ratio")
    for as_of in (close.index[100], close.index[-1]):
        series = back_adjusted(cf, as_of, "ratio")
        assert series.iloc[-1] == pytest.approx(cf.quote[as_of])
        np.testing.assert_allclose(series.pct_change().iloc[1:], cf.continuous.loc[:as_of].pct_change().iloc[1:],
                                   rtol=1e-12, atol=1e-15)
    diff = continuous_future("SF", close, expiries, adjust="difference")
    series = back_adjusted(diff, close.index[-1], "difference")
    assert series.iloc[-1] == pytest.approx(diff.quote.iloc[-1])
    np.testing.assert_allclose(series.diff().iloc[1:], diff.change.iloc[1:], atol=1e-9)


def test_continuous_returns_are_the_held_contracts_own(chain):
    close, expiries = chain
    cf = continuous_future("SF", close, expiries)
    rets = cf.continuous.pct_change()
    for t in range(1, len(close)):
        held = cf.held.iloc[t - 1]
        assert rets.iloc[t] == pytest.approx(close[held].iloc[t] / close[held].iloc[t - 1] - 1, rel=1e-12)


def test_expiry_in_the_past_names_the_contract(chain):
    close, expiries = chain
    early = dict(expiries)
    name = next(iter(early))
    early[name] = pd.Timestamp("2019-06-21").date()
    with pytest.raises(ConfigError, match=rf"asset 'SF' \(future\), key 'instrument.contracts.{name}': expiry "
                                          r"2019-06-21 is in the past"):
        continuous_future("SF", close, early)
    wrong = dict(expiries)
    wrong[name] = (pd.Timestamp(expiries[name]) - pd.Timedelta(days=30)).date()
    with pytest.raises(ConfigError, match=rf"contracts.{name}': expiry .* is in the past while the contract still trades: it has a price on"):
        continuous_future("SF", close, wrong)


def test_missing_contract_and_short_chain(chain):
    close, expiries = chain
    with pytest.raises(ConfigError, match=r"key 'instrument.contracts.SF_X2099': no column 'SF_X2099'"):
        continuous_future("SF", close, {**expiries, "SF_X2099": pd.Timestamp("2099-01-01").date()})
    short = dict(list(expiries.items())[:2])
    with pytest.raises(ConfigError, match=r"key 'instrument.contracts': the chain ends"):
        continuous_future("SF", close[list(short)], short)


def test_no_price_on_roll_day(chain):
    close, expiries = chain
    cf = continuous_future("SF", close, expiries)
    first = cf.rolls.iloc[0]
    holed = close.copy()
    holed.loc[first["date"], first["to"]] = np.nan
    with pytest.raises(DataError, match=rf"no price for '{first['to']}' on {first['date'].date()}"):
        continuous_future("SF", holed, expiries)


def test_difference_series_below_zero_is_refused(chain):
    close, expiries = chain
    crash = close * np.linspace(1.0, 0.01, len(close))[:, None]  # roll gaps add up to more than the last price
    with pytest.raises(ConfigError, match=r"key 'instrument.adjust': the difference-adjusted series falls to"):
        continuous_future("SF", crash, expiries, adjust="difference")
    assert (continuous_future("SF", crash, expiries, adjust="ratio").continuous > 0).all()

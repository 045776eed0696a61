"""Instrument specs in universe files: the registry of kinds and errors that name the asset and the key."""

import pytest

from simlab.config.instruments import KINDS, EtfSpec, FutureSpec
from simlab.config.universe import parse_universe
from simlab.errors import ConfigError

FUTURE = {"kind": "future", "multiplier": 50, "margin": 0.1, "contracts": {"SF_H2021": "2021-03-19"}}


def _parse(instrument, asset="SF"):
    return parse_universe({"assets": {asset: {"instrument": instrument}, "AAPL": {}}}, "u.yaml")


def test_kinds_registry():
    assert list(KINDS) == ["equity", "etf", "future", "crypto"]


def test_equity_is_the_default_and_meta_is_unchanged():
    plain = parse_universe({"assets": {"AAPL": {"sector": "Information Technology"}, "KO": {}}})
    tagged = parse_universe({"assets": {"AAPL": {"sector": "Information Technology", "instrument": {"kind": "equity"}},
                                        "KO": {}}})
    assert plain.instruments == {} and tagged.instruments == {}
    assert plain.meta.equals(tagged.meta)
    assert "instrument" not in plain.meta.columns


def test_specs_are_parsed():
    u = parse_universe({"assets": {"SF": {"instrument": FUTURE}, "SPY": {"instrument": {"kind": "etf",
                                                                                        "expense_ratio": 0.0009}},
                                   "BTC": {"instrument": {"kind": "crypto"}}}})
    assert isinstance(u.instruments["SF"], FutureSpec) and u.instruments["SF"].roll.days_before_expiry == 5
    assert isinstance(u.instruments["SPY"], EtfSpec) and u.instruments["SPY"].fee_in_price is True
    assert u.instruments["BTC"].kind == "crypto"


def test_missing_multiplier_names_asset_and_key():
    spec = {k: v for k, v in FUTURE.items() if k != "multiplier"}
    with pytest.raises(ConfigError, match=r"universe u.yaml: asset 'SF' \(future\), key 'instrument.multiplier': "
                                          r"required key is missing"):
        _parse(spec)


def test_unknown_kind_suggests_the_nearest():
    with pytest.raises(ConfigError, match=r"asset 'SF', key 'instrument.kind': unknown kind 'futures'. Did you mean "
                                          r"'future'\? Valid kinds: equity, etf, future, crypto"):
        _parse({**FUTURE, "kind": "futures"})
    with pytest.raises(ConfigError, match=r"key 'instrument.kind': no 'kind'"):
        _parse({"multiplier": 50})


@pytest.mark.parametrize("change, match", [
    ({"multiplier": 0}, r"key 'instrument.multiplier': Input should be greater than 0"),
    ({"margin": 1.5}, r"key 'instrument.margin': Input should be less than or equal to 1"),
    ({"contracts": {}}, r"key 'instrument.contracts': empty"),
    ({"contracts": {"A": "2021-03-19", "B": "2021-03-19"}}, r"key 'instrument.contracts.B': expires on 2021-03-19"),
    ({"roll": {"days": 3}}, r"key 'instrument.roll.days': unknown key"),
    ({"expense_ratio": 0.01}, r"key 'instrument.expense_ratio': unknown key"),
])
def test_bad_future_specs(change, match):
    with pytest.raises(ConfigError, match=match):
        _parse({**FUTURE, **change})


def test_bad_etf_spec():
    with pytest.raises(ConfigError, match=r"asset 'SPY' \(etf\), key 'instrument.expense_ratio': Input should be "
                                          r"greater than or equal to 0"):
        _parse({"kind": "etf", "expense_ratio": -0.01}, asset="SPY")
    with pytest.raises(ConfigError, match=r"asset 'SPY' \(etf\), key 'instrument.expense_ratio': required key"):
        _parse({"kind": "etf"}, asset="SPY")

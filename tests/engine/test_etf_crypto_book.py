"""ETF expense ratios (in the price, or accrued by the book) and crypto on every calendar day."""

import numpy as np
import pandas as pd
import pytest
import yaml

import simlab
from simlab.data import load
from simlab.errors import ConfigError, DataError, SimlabWarning

ER = 0.0075
HOLD = [{"type": "equal_weight"}, {"type": "cooldown", "days": 100_000}]  # buy once, then hold


def _universe(tmp_path, assets: dict) -> str:
    path = tmp_path / "universe.yaml"
    path.write_text(yaml.safe_dump({"name": "u", "assets": assets}))
    return str(path)


def _hold(universe, data: dict, **extra) -> dict:
    return {"name": "hold", "data": {"benchmark": None, **data}, "universe": universe,
            "schedule": {"frequency": "monthly", "day": "first"}, "execution": {"lag": 0}, "pipeline": HOLD, **extra}


def test_synthetic_fund_trails_its_index_by_the_expense_ratio():
    md = load("synthetic:etf")
    ratio = md.close["ETF"] / md.close["IDX"]
    assert ratio.iloc[252] == pytest.approx(1 - ER, rel=1e-14)
    assert ratio.iloc[504 - 1] / ratio.iloc[251] == pytest.approx(1 - ER, rel=1e-14)


def test_accrued_fee_over_a_year_equals_the_expense_ratio(tmp_path):
    """A position of constant value pays exactly the expense ratio of it over 252 days."""
    dates = pd.bdate_range("2021-01-04", periods=253, name="date")
    flat = pd.DataFrame({"IDX": 100.0}, index=dates)
    universe = _universe(tmp_path, {"IDX": {"instrument": {"kind": "etf", "expense_ratio": ER, "fee_in_price": False}}})
    res = simlab.run(_hold(universe, {}), data=flat)
    nav = res.nav.iloc[:, 0]
    assert nav.iloc[0] == 1_000_000  # bought at the first close: the first fee is charged the next day
    assert nav.iloc[252] == pytest.approx(1_000_000 * (1 - ER), rel=1e-12)
    assert res.daily_costs().iloc[1:, 0].sum() == pytest.approx(ER * 1_000_000, rel=1e-12)


def test_fee_in_price_charges_nothing(tmp_path):
    """The fund's own price carries its fee: holding it trails holding the index by exactly the ratio."""
    universe = _universe(tmp_path, {"ETF": {"instrument": {"kind": "etf", "expense_ratio": ER}}})
    md = load("synthetic:etf", n_days=253)
    index = simlab.run(_hold(None, {}), data=md.close[["IDX"]])
    fund = simlab.run(_hold(universe, {}), data=md.close[["ETF"]])
    assert 1 - fund.nav.iloc[-1, 0] / index.nav.iloc[-1, 0] == pytest.approx(ER, rel=1e-12)
    assert fund.daily_costs().to_numpy().sum() == 0.0


def test_gross_data_accrues_the_fee_in_the_book(tmp_path):
    md = load("synthetic:etf", n_days=253)
    universe = _universe(tmp_path, {"IDX": {"instrument": {"kind": "etf", "expense_ratio": ER, "fee_in_price": False}}})
    gross = simlab.run(_hold(None, {}), data=md.close[["IDX"]]).nav.iloc[-1, 0]
    res = simlab.run(_hold(universe, {}), data=md.close[["IDX"]])
    drag = 1 - res.nav.iloc[-1, 0] / gross
    assert drag == pytest.approx(ER, rel=0.1)  # exactly ER of the position's average value
    value = (res.weights.sel(asset="IDX").values[:, 0] * res.nav.iloc[:, 0].to_numpy())
    assert res.daily_costs().iloc[1:, 0].sum() == pytest.approx(ER / 252 * value[1:].sum(), rel=1e-9)


@pytest.fixture(scope="module")
def crypto_run(tmp_path_factory):
    universe = _universe(tmp_path_factory.mktemp("u"), {"C0": {"instrument": {"kind": "crypto"}},
                                                        "C1": {"instrument": {"kind": "crypto"}}})
    cfg = {"name": "coins", "data": {"source": "synthetic:crypto", "calendar": "every_day", "benchmark": None},
           "universe": universe, "schedule": {"frequency": "monthly", "day": "first"}, "costs": {"type": "flat", "bps": 10},
           "pipeline": [{"type": "equal_weight"}]}
    return simlab.run(cfg)


def test_crypto_trades_and_moves_on_weekends(crypto_run):
    res = crypto_run
    assert (res.dates.day_of_week >= 5).sum() > 150
    weekend_trades = res.trades[res.trades["date"].dt.day_of_week >= 5]
    assert len(weekend_trades) > 0
    weekend_returns = res.returns.iloc[1:][res.dates[1:].day_of_week >= 5].iloc[:, 0]
    assert (weekend_returns != 0).mean() > 0.9


def test_crypto_metrics_annualise_over_365_days(crypto_run):
    res = crypto_run
    metrics = res.metrics().iloc[0]
    from simlab.analysis.metrics import drop_start_day

    r = drop_start_day(res.returns).iloc[:, 0].dropna().to_numpy()
    assert metrics["annual_volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(365), rel=1e-12)
    assert metrics["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(365), rel=1e-12)


def test_weekends_need_the_every_day_calendar(tmp_path):
    with pytest.raises(DataError, match=r"data.calendar: every_day"):
        load("synthetic:crypto")
    universe = _universe(tmp_path, {"C0": {"instrument": {"kind": "crypto"}}, "C1": {}})
    cfg = {"name": "c", "data": {"source": "synthetic:crypto", "calendar": "every_day"}, "universe": universe,
           "execution": {"fractional": False}, "pipeline": [{"type": "equal_weight"}]}
    with pytest.raises(ConfigError, match=r"execution.fractional: false .* asset 'C0' is crypto"):
        simlab.run(cfg)


def test_crypto_on_a_trading_day_calendar_is_warned(tmp_path):
    md = load("synthetic:crypto", calendar="every_day")
    weekdays = md.close[md.close.index.day_of_week < 5]
    universe = _universe(tmp_path, {"C0": {"instrument": {"kind": "crypto"}}, "C1": {}})
    with pytest.warns(SimlabWarning, match=r"asset 'C0' is crypto, which trades every calendar day"):
        simlab.run(_hold(universe, {}), data=weekdays)


def test_real_etfs_with_the_fee_in_price_run_bit_identical_to_equities(tmp_path):
    """The built-in factor ETFs tagged with their expense ratios (fee in price) trade exactly as untagged."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    tagged = str(root / "configs/universes/factor_etfs.yaml")
    plain = _universe(tmp_path, {a: {} for a in ("MTUM", "QUAL", "SIZE", "USMV", "VLUE")})
    cfg = {"name": "etfs", "data": {"source": "builtin:factor_etfs", "benchmark": None},
           "costs": {"type": "flat", "bps": 5}, "pipeline": [{"type": "equal_weight"}]}
    a = simlab.run({**cfg, "universe": tagged})
    b = simlab.run({**cfg, "universe": plain})
    assert a.market.instruments is not None and (a.market.instruments.kind == "etf").all()
    assert np.array_equal(a.nav.to_numpy(), b.nav.to_numpy())
    assert a.trades.equals(b.trades)

"""Futures in the book: no P&L at a roll, margin (not notional) in cash, daily settlement.

The reference P&L is computed here from the raw contract table with a plain loop over days
(which contract is held follows the roll rule written out again), independent of
:mod:`simlab.data.futures` and of the engine.
"""

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.data.synthetic_instruments import futures_universe, generate_futures_chain

MULT, MARGIN, ROLL_DAYS = 50.0, 0.1, 5


@pytest.fixture(scope="module")
def chain():
    return generate_futures_chain(n_days=400, seed=3)


def _universe_file(tmp_path, md, **kwargs):
    import yaml

    raw = futures_universe(md, multiplier=MULT, margin=MARGIN, days_before_expiry=ROLL_DAYS, **kwargs)
    spec = raw["assets"]["SF"]["instrument"]
    spec["contracts"] = {k: v.isoformat() for k, v in spec["contracts"].items()}
    path = tmp_path / "futures.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _config(universe, **overrides):
    cfg = {
        "name": "hold_future",
        "data": {"source": "synthetic:futures", "n_days": 400, "seed": 3, "benchmark": None},
        "universe": str(universe),
        "schedule": {"frequency": "quarterly", "day": "first"},
        "execution": {"lag": 1, "init_cash": 1_000_000, "fractional": False},
        "pipeline": [{"type": "equal_weight"}],
    }
    cfg.update(overrides)
    return cfg


def _reference_held(md) -> list[str]:
    """The contract held after each close, by the roll rule, with a plain loop."""
    expiries = md.provenance["truth"]["expiries"]
    dates = md.dates
    held, order = [], sorted(expiries, key=expiries.get)
    for t in range(len(dates)):
        for name in order:
            last = max(i for i, d in enumerate(dates) if d.date() <= expiries[name])
            if last - ROLL_DAYS > t or name == order[-1]:
                held.append(name)
                break
    return held


def test_roll_creates_no_pnl_jump(tmp_path, chain):
    """Every day without a fill, NAV moves by contracts x multiplier x the held contract's own change."""
    res = simlab.run(_config(_universe_file(tmp_path, chain)))
    close, held = chain.close, _reference_held(chain)
    contracts = pd.Series([np.nan] * len(res.dates), index=res.dates)
    for row, holdings in zip(res._rec.snapshot_rows, res._rec.snapshots):
        contracts.iloc[max(row - res._span.start, 0):] = holdings[0, 0]
    fill_days = set(res.trades["date"])
    nav = res.nav.iloc[:, 0]
    rows = {d: i for i, d in enumerate(chain.dates)}
    rolls = [d for d in res.dates[1:] if held[rows[d]] != held[rows[d] - 1]]
    assert len(rolls) >= 3
    checked = 0
    for day, prev in zip(res.dates[1:], res.dates[:-1]):
        if day in fill_days:
            continue
        contract = held[rows[prev]]  # held overnight into ``day``
        expected = contracts[prev] * MULT * (close.loc[day, contract] - close.loc[prev, contract])
        roll_cost = 0.0  # no cost model: a roll is free
        assert nav[day] - nav[prev] == pytest.approx(expected - roll_cost, abs=1e-6), day
        checked += 1
    assert checked > 300
    for day in rolls:  # and the naive front-month valuation would have jumped by the roll gap there
        gap = close.loc[day, held[rows[day]]] - close.loc[day, held[rows[day] - 1]]
        assert abs(contracts[day] * MULT * gap) > 1000


def test_cash_holds_margin_not_notional(tmp_path, chain):
    """After the first buy, cash is the initial cash less costs (no notional paid); NAV equals cash."""
    res = simlab.run(_config(_universe_file(tmp_path, chain), costs={"type": "flat", "bps": 5}))
    first = res.trades.iloc[0]
    assert first["value"] > 1e6 - first["price"]  # 1x NAV of notional, in whole contracts
    book = res._book
    day = res.dates.get_loc(first["date"]) + res._span.start
    assert book.nav[day, 0] == pytest.approx(1_000_000 - first["cost"], abs=1e-6)
    assert res._book.cash[0] == pytest.approx(book.nav[-1, 0], abs=1e-6)  # settled daily: NAV is cash
    margin = res.diagnostics.query("key == 'futures_margin'")["value"].iloc[0]
    assert margin == pytest.approx(MARGIN * first["value"])


def test_notional_beyond_nav_needs_only_margin(tmp_path, chain):
    """A 3x notional book fits in the margin (30% of NAV) without borrowing."""
    cfg = _config(_universe_file(tmp_path, chain),
                  pipeline=[{"type": "equal_weight"}, {"type": "volatility_target", "target": 5.0, "min_scale": 3.0,
                                                       "max_scale": 3.0}])
    res = simlab.run(cfg)
    first = res.trades.iloc[0]
    assert 3e6 - first["price"] < first["value"] <= 3e6  # 3x NAV of notional, in whole contracts
    assert res.diagnostics.query("key == 'margin_scale'")["value"].min() == 1.0


def test_margin_scales_orders_that_do_not_fit(tmp_path, chain):
    """At 50% margin a 3x notional target needs 1.5x NAV: the buy is scaled to 2x (all the cash posted)."""
    cfg = _config(_universe_file(tmp_path, chain).as_posix(),
                  pipeline=[{"type": "equal_weight"}, {"type": "volatility_target", "target": 5.0, "min_scale": 3.0,
                                                       "max_scale": 3.0}])
    import yaml
    path = tmp_path / "futures.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["assets"]["SF"]["instrument"]["margin"] = 0.5
    path.write_text(yaml.safe_dump(raw))
    res = simlab.run(cfg)
    first = res.trades.iloc[0]
    assert first["value"] <= 2e6 + 1e-6
    assert first["value"] > 2e6 - first["price"]  # whole contracts: within one contract of the room
    scale = res.diagnostics.query("key == 'margin_scale'")["value"].iloc[0]
    wanted = np.trunc(3e6 / first["price"]) * first["price"]  # the 3x target, in whole contracts
    assert scale == pytest.approx(1e6 / (0.5 * wanted), rel=1e-9)


def test_roll_costs_are_charged_on_both_legs(tmp_path, chain):
    res = simlab.run(_config(_universe_file(tmp_path, chain), costs={"type": "flat", "bps": 10}))
    rolls = res.diagnostics.query("key == 'roll_cost' and value > 0")
    assert len(rolls) >= 3
    day = rolls["date"].iloc[0]
    row = chain.dates.get_loc(day)
    held = _reference_held(chain)
    contracts = abs(res.weights.sel(date=day).values[0, 0] * res.nav.loc[day].iloc[0]
                    / (MULT * chain.close[held[row]].iloc[row]))
    legs = contracts * MULT * (chain.close[held[row - 1]].iloc[row] + chain.close[held[row]].iloc[row])
    assert rolls["value"].iloc[0] == pytest.approx(10e-4 * legs, rel=1e-9)
    assert res.daily_costs().loc[day].iloc[0] >= rolls["value"].iloc[0]


def test_shipped_example_runs():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    res = simlab.run(root / "configs/experiments/futures_trend.yaml")
    assert list(res.nav.columns) == ["hold", "trend"]
    np.testing.assert_allclose(res._book.cash, res._book.nav[-1], rtol=1e-12)  # settled daily: NAV is cash
    notional = res.diagnostics.query("key == 'futures_notional' and scenario == 'trend'")["value"]
    assert notional.max() > res.nav["trend"].max()  # more notional than NAV, without borrowing
    assert res.diagnostics.query("key == 'margin_scale'")["value"].min() == 1.0


def test_mixed_book_sets_the_futures_margin_aside_before_equities_buy(tmp_path, chain):
    """Targets of 100% equity and 100% futures notional: the futures' 10% margin is kept, equities get 90%."""
    data = chain.close.copy()
    data["EQ"] = chain.provenance["truth"]["spot"] / 30.0
    path = _universe_file(tmp_path, chain)
    import yaml
    raw = yaml.safe_load(path.read_text())
    raw["assets"]["EQ"] = {}
    path.write_text(yaml.safe_dump(raw))
    cfg = _config(path, data={"benchmark": None},
                  pipeline=[{"type": "equal_weight"}, {"type": "volatility_target", "target": 5.0, "min_scale": 2.0,
                                                       "max_scale": 2.0}])
    res = simlab.run(cfg, data=data)
    first = res.trades[res.trades["date"] == res.trades["date"].iloc[0]].set_index("asset")
    futures_value = first.loc["SF", "value"]
    assert 1e6 - first.loc["SF", "price"] < futures_value <= 1e6
    room = 1e6 - MARGIN * futures_value  # whole shares: within one share of the cash not posted
    assert room - first.loc["EQ", "price"] < first.loc["EQ", "value"] <= room
    assert res.diagnostics.query("key == 'margin_scale'")["value"].iloc[0] == 1.0
    assert res.nav.loc[first["date"].iloc[0]].iloc[0] == pytest.approx(1e6, rel=1e-12)  # no costs: nothing lost


def test_no_look_ahead_through_the_chain(tmp_path, chain):
    """Contract prices changed after day t change nothing the book did up to t."""
    universe = _universe_file(tmp_path, chain)
    cfg = _config(universe, data={"benchmark": None}, schedule={"frequency": "weekly", "day": "last"},
                  strategy={"type": "trend", "window": 50},
                  pipeline=[{"type": "equal_weight_above", "threshold": 0.0}])
    base = simlab.run(cfg, data=chain.close)
    t = 250
    bent = chain.close.copy()
    bent.iloc[t + 1:] *= np.random.default_rng(7).uniform(0.8, 1.2, bent.iloc[t + 1:].shape)
    other = simlab.run(cfg, data=bent)
    day = chain.dates[t]
    pd.testing.assert_frame_equal(base.nav.loc[:day], other.nav.loc[:day])
    before = base.trades[base.trades["date"] <= day].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, other.trades[other.trades["date"] <= day].reset_index(drop=True))
    assert not base.nav.equals(other.nav)


def test_the_book_refuses_futures():
    from pathlib import Path

    from simlab.config.loader import load_config
    from simlab.errors import ConfigError
    from simlab.lab.run import load_market
    from simlab.production.pipeline import run_pipeline, select_scenario
    from simlab.production.stores import open_store

    cfg = select_scenario(load_config(Path(__file__).resolve().parents[2] / "configs/experiments/futures_trend.yaml"),
                          "hold")
    with pytest.raises(ConfigError, match=r"the book \(simlab pipeline\) does not hold futures"):
        run_pipeline(cfg, load_market(cfg), open_store("memory://futures-book"), "2021-06-01")

"""Multi-strategy books: the book against its sleeves run on their own, netting, sleeve weights."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.errors import ConfigError
from simlab.lab.run import load_market
from simlab.testing.assertions import assert_nav_identity

ASSETS = ['AAPL', 'AMD', 'BAC', 'BBY', 'CVX', 'GE', 'HD', 'JNJ', 'JPM', 'KO',
          'LLY', 'MRK', 'MSFT', 'PEP', 'PFE', 'PG', 'RRC', 'UNH', 'WMT', 'XOM']
FIRST_HALF, SECOND_HALF = ASSETS[:10], ASSETS[10:]
INIT_CASH = 1_000_000.0
DATA = {"source": "builtin:sp500_20", "start": "2010-01-01", "end": "2012-12-31"}


def min_variance_on(assets: list[str]) -> dict:
    """A long-only minimum variance that may only hold ``assets`` (the others bounded at 0)."""
    return {"type": "min_variance", "max_weight": 1.0, "window": 126,
            "asset_bounds": {a: [0.0, 0.0] for a in ASSETS if a not in assets}}


SLEEVE_A = {"name": "a", "pipeline": [min_variance_on(FIRST_HALF)]}
SLEEVE_B = {"name": "b", "pipeline": [min_variance_on(SECOND_HALF)]}
# opposite signals on the same names: the top half by 12-1 momentum, and the bottom half
MOMENTUM = {"name": "momentum", "strategy": {"type": "momentum", "lookback": 252, "skip": 21},
            "pipeline": [{"type": "equal_weight_top_n", "top_n": 10}]}
REVERSAL = {"name": "reversal", "strategy": {"type": "long_term_reversal", "lookback": 252, "skip": 21},
            "pipeline": [{"type": "equal_weight_top_n", "top_n": 10}]}


def book(sleeves, weights=None, sleeve_weights=None, **extra) -> dict:
    sleeves = [dict(s, weight=w) for s, w in zip(sleeves, weights)] if weights else list(sleeves)
    out = {"name": "book", "data": dict(DATA), "costs": {"type": "flat", "bps": 10}, "sleeves": sleeves,
           "execution": {"init_cash": INIT_CASH}, **extra}
    if sleeve_weights is not None:
        out["sleeve_weights"] = sleeve_weights
    return out


def alone(sleeve) -> dict:
    """The sleeve as a plain experiment of its own, from the whole capital."""
    out = {"name": sleeve["name"], "data": dict(DATA), "costs": {"type": "flat", "bps": 10},
           "execution": {"init_cash": INIT_CASH}, "pipeline": sleeve["pipeline"]}
    if sleeve.get("strategy"):
        out["strategy"] = sleeve["strategy"]
    return out


@pytest.fixture(scope="module")
def drifting():
    return simlab.run(book([SLEEVE_A, SLEEVE_B], [0.3, 0.7], {"method": "fixed", "rebalance": False}))


@pytest.fixture(scope="module")
def rebalanced():
    return simlab.run(book([SLEEVE_A, SLEEVE_B], [0.3, 0.7]))


@pytest.fixture(scope="module")
def opposed():
    return simlab.run(book([MOMENTUM, REVERSAL], [0.5, 0.5]))


def test_drifting_sleeves_on_disjoint_assets_are_the_weighted_standalone_runs(drifting):
    """Fixed weights that drift (rebalance: false), disjoint assets, flat 10 bps, fractional
    shares: the book's NAV is 0.3 x sleeve a alone + 0.7 x sleeve b alone, every day."""
    a = simlab.run(alone(SLEEVE_A)).nav.iloc[:, 0]
    b = simlab.run(alone(SLEEVE_B)).nav.iloc[:, 0]
    expected = 0.3 * a + 0.7 * b
    nav = drifting.nav["book"]
    assert drifting.trades["asset"].nunique() > 10  # both sleeves traded
    np.testing.assert_allclose(nav.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=0)
    np.testing.assert_allclose(drifting.sleeves.nav[("book", "a")], 0.3 * a, rtol=1e-9)
    assert np.abs(drifting.sleeves.netting_saving.to_numpy()).max() < 1e-9 * INIT_CASH
    assert drifting.sleeves.transfers.abs().to_numpy().max() == 0.0


def test_rebalanced_fixed_weights_give_the_weighted_sleeve_returns(rebalanced):
    """Rebalanced to 30/70 at each decision (no netting: disjoint assets): the book's NAV is the sum
    of the sleeves' at every close, and from each decision on it grows as 0.3 r_a + 0.7 r_b."""
    sleeves = rebalanced.sleeves
    nav = rebalanced.nav["book"].to_numpy()
    parts = sleeves.nav["book"].to_numpy()
    np.testing.assert_allclose(nav, parts.sum(axis=1), rtol=1e-9)
    decided = sleeves.decided_weights["book"]
    np.testing.assert_array_equal(decided.to_numpy(), np.tile([0.3, 0.7], (len(decided), 1)))
    rows = rebalanced.dates.get_indexer(decided.index)
    assert sleeves.transfers.abs().to_numpy().sum() > 0
    for start, stop in zip(rows, list(rows[1:]) + [len(nav)]):
        np.testing.assert_allclose(parts[start] / nav[start], [0.3, 0.7], rtol=1e-12)
        growth = (parts[start + 1 : stop] / parts[start]) @ np.array([0.3, 0.7])
        np.testing.assert_allclose(nav[start + 1 : stop] / nav[start], growth, rtol=1e-9)


def test_netted_book_is_cheaper_when_sleeves_trade_against_each_other(opposed):
    """The top half by momentum against the bottom half (opposite signals): a name crossing the
    median is sold by one sleeve and bought by the other, and the book pays less than the sleeves."""
    sleeves = opposed.sleeves
    paid_by_sleeves = sleeves.trades["cost"].sum()
    paid_by_book = opposed.trades["cost"].sum()
    saving = sleeves.netting_saving["book"].to_numpy()
    assert paid_by_book < paid_by_sleeves
    assert saving.sum() == pytest.approx(paid_by_sleeves - paid_by_book, rel=1e-12)
    assert saving.sum() > 0.02 * paid_by_sleeves
    # the book's NAV: the sleeves' plus the saving so far
    expected = sleeves.nav["book"].sum(axis=1).to_numpy() + np.cumsum(saving)
    np.testing.assert_allclose(opposed.nav["book"].to_numpy(), expected, rtol=1e-9)


def test_the_book_trades_the_net_of_the_sleeves_at_the_cost_of_the_net(opposed):
    """Independently, with pandas: per date and asset, the book's shares are the sum of the
    sleeves' shares and its cost is 10 bps of the net traded value."""
    sleeve = opposed.sleeves.trades.groupby(["date", "asset"])[["shares", "value"]].sum()
    sleeve = sleeve[sleeve["shares"] != 0]
    mine = opposed.trades.set_index(["date", "asset"]).sort_index()
    pd.testing.assert_series_equal(mine["shares"], sleeve["shares"].sort_index(), rtol=1e-12)
    np.testing.assert_allclose(mine["cost"], 10e-4 * sleeve["value"].sort_index().abs(), rtol=1e-12)


def test_the_book_replays_from_its_own_trade_log(opposed, rebalanced):
    assert_nav_identity(opposed)
    assert_nav_identity(rebalanced)


def test_attribution_adds_up_to_the_book(opposed, rebalanced):
    for res in (opposed, rebalanced):
        table = res.sleeves.attribution().loc["book"]
        assert table["pnl"].sum() == pytest.approx(res.nav["book"].iloc[-1] - INIT_CASH, rel=1e-9)
        assert table["contribution"].sum() == pytest.approx(res.nav["book"].iloc[-1] / INIT_CASH - 1, rel=1e-9)
        assert table["transfers_in"].sum() == pytest.approx(0.0, abs=1e-6)
    metrics = opposed.sleeve_metrics()
    assert list(metrics.index.get_level_values("part")) == ["momentum", "reversal", "netting"]
    assert np.isfinite(metrics.loc[("book", "momentum"), "sharpe"])


def test_one_sleeve_at_full_weight_is_the_plain_run():
    res = simlab.run(book([MOMENTUM], [1.0]))
    plain = simlab.run(alone(MOMENTUM))
    np.testing.assert_allclose(res.nav["book"], plain.nav.iloc[:, 0], rtol=1e-12)
    np.testing.assert_allclose(res.trades["shares"], plain.trades["shares"], rtol=1e-12)


def _window_cov(res, decision: pd.Timestamp, lookback: int) -> pd.DataFrame:
    returns = res.sleeves.returns["book"]
    row = res.dates.get_loc(decision)
    return returns.iloc[row - lookback + 1 : row + 1].cov()


@pytest.mark.parametrize("method", ["risk_parity", "inverse_volatility", "min_variance"])
def test_sleeve_weights_from_trailing_sleeve_returns(method):
    """Each method's weights, recomputed with pandas from ``Result.sleeves.returns``."""
    res = simlab.run(book([MOMENTUM, REVERSAL], sleeve_weights={"method": method, "lookback": 63}))
    decided = res.sleeves.decided_weights["book"]
    from_returns = res.diagnostics.query("step == 'sleeves' and key == 'from_returns'").set_index("date")["value"]
    assert from_returns.iloc[0] == 0 and from_returns.iloc[-1] == 1  # 50/50 until 63 days of returns
    checked = 0
    for date in decided.index[from_returns.reindex(decided.index).to_numpy() == 1]:
        w = decided.loc[date].to_numpy()
        cov = _window_cov(res, date, 63).to_numpy()
        if method == "risk_parity":
            contrib = w * (cov @ w)
            np.testing.assert_allclose(contrib / contrib.sum(), [0.5, 0.5], atol=1e-8)
        elif method == "inverse_volatility":
            inv = 1 / np.sqrt(np.diag(cov))
            np.testing.assert_allclose(w, inv / inv.sum(), rtol=1e-10)
        else:  # two assets: w_a = (s_bb - s_ab) / (s_aa + s_bb - 2 s_ab), clipped to [0, 1]
            wa = np.clip((cov[1, 1] - cov[0, 1]) / (cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0, 1)
            np.testing.assert_allclose(w, [wa, 1 - wa], atol=1e-5)
        checked += 1
    assert checked >= 20
    assert np.abs(decided.to_numpy() - 0.5).max() > 0.05  # the weights moved off 50/50


def test_no_look_ahead_in_sleeve_weights():
    """Perturb every price after a cut date: the sleeve weights decided and the NAVs up to it do not change."""
    cfg = simlab.load_config(book([MOMENTUM, REVERSAL], sleeve_weights={"method": "risk_parity", "lookback": 63}))
    md = load_market(cfg)
    cut = pd.Timestamp("2011-09-01")
    rng = np.random.default_rng(5)
    after = md.close.index > cut
    noise = np.exp(np.cumsum(rng.normal(0, 0.03, size=(after.sum(), md.close.shape[1])), axis=0))
    close = md.close.copy()
    close.loc[after] = close.loc[after].to_numpy() * noise
    base = simlab.run(cfg, data=md)
    moved = simlab.run(cfg, data=replace(md, close=close))
    w0, w1 = base.sleeves.decided_weights, moved.sleeves.decided_weights
    upto = w0.index <= cut
    assert upto.sum() >= 15
    pd.testing.assert_frame_equal(w0[upto], w1[upto], check_exact=True)
    assert not np.allclose(w0[~upto].to_numpy(), w1[~upto].to_numpy())
    pd.testing.assert_frame_equal(base.sleeves.nav[base.dates <= cut], moved.sleeves.nav[moved.dates <= cut],
                                  check_exact=True)


def test_a_grid_over_a_sleeve_parameter_is_one_batch():
    res = simlab.run(book([MOMENTUM, REVERSAL], [0.5, 0.5],
                          scenarios={"grid": {"sleeves.0.pipeline.0.top_n": [3, 10]}}))
    assert res.scenarios == ("top_n=3", "top_n=10")
    five = simlab.run(book([MOMENTUM, REVERSAL], [0.5, 0.5]))
    np.testing.assert_allclose(res.nav["top_n=10"], five.nav["book"], rtol=1e-12)
    assert list(res.sleeves.nav.columns.get_level_values("sleeve")) == ["momentum", "reversal"] * 2


BAD = [
    ({"sleeves": [dict(MOMENTUM, weight=0.5), dict(REVERSAL, weight=0.6)]}, "sleeve weights must sum to 1"),
    ({"sleeves": [MOMENTUM, dict(REVERSAL, name="momentum")]}, "two sleeves are named 'momentum'"),
    ({"sleeves": [dict(MOMENTUM, weight=1.0), REVERSAL]}, "give a weight to every sleeve or to none"),
    ({"pipeline": [{"type": "equal_weight"}]}, "pipeline: a book with sleeves: takes no top-level pipeline"),
    ({"sleeves": [MOMENTUM, {"name": "x", "pipline": []}]}, "sleeves.1.pipline: unknown key"),
    ({"sleeves": [MOMENTUM, {"name": "x", "pipeline": [{"type": "equal_weight_topn"}]}]},
     "sleeves[1].pipeline[0]"),
    ({"sleeves": [MOMENTUM, {"name": "x", "pipeline": [{"type": "equal_weight_top_n"}]}]},
     "sleeves[1].pipeline[0] (equal_weight_top_n) requires signal"),
    ({"sleeves": [MOMENTUM, dict(REVERSAL, name="a/b")]}, "sleeves.1.name"),
    ({"sleeve_weights": {"method": "risk_parity", "rebalance": False}}, "needs rebalance: true"),
    ({"sleeve_weights": {"method": "equal"}}, "sleeve_weights.method"),
    ({"scenarios": {"grid": {"pipeline.0.top_n": [3, 5]}}}, "'pipeline' cannot be set in a book with sleeves"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_sleeve_configs_name_the_key(change, message):
    raw = book([MOMENTUM, REVERSAL])
    raw.update(copy.deepcopy(change))
    with pytest.raises(ConfigError) as err:
        simlab.load_config(raw)
    assert message in str(err.value)


def test_a_plain_experiment_refuses_sleeve_weights_and_needs_a_pipeline():
    with pytest.raises(ConfigError, match="sleeve_weights: applies only to a book with sleeves"):
        simlab.load_config({**alone(MOMENTUM), "sleeve_weights": {"method": "fixed"}})
    with pytest.raises(ConfigError, match="pipeline: required key is missing"):
        simlab.load_config({"data": dict(DATA)})


@pytest.mark.parametrize(("key", "value", "message"), [
    ("execution", {"max_participation": 0.1}, "execution.max_participation: not supported"),
    ("realized_costs", {"model": {"type": "flat", "bps": 5}}, "realized_costs: not supported"),
])
def test_what_a_book_with_sleeves_does_not_model_is_refused(key, value, message):
    with pytest.raises(ConfigError, match=message):
        simlab.run(book([MOMENTUM, REVERSAL], **{key: value}))


def test_the_saved_config_loads_back_to_the_same_run_id(tmp_path):
    cfg = simlab.load_config(book([MOMENTUM, REVERSAL], [0.4, 0.6], {"method": "risk_parity"},
                                  scenarios={"grid": {"sleeves.0.pipeline.0.top_n": [3, 5]}}))
    again = simlab.load_config(cfg.to_dict())
    assert again.config_hash() == cfg.config_hash()
    assert again.scenarios == cfg.scenarios


def test_the_run_folder_and_report_show_the_sleeves(opposed, tmp_path):
    folder = opposed.save(tmp_path / "run")
    long = pd.read_parquet(folder / "sleeves.parquet")
    assert list(long.columns) == ["date", "scenario", "sleeve", "nav", "weight", "return", "transfer", "cost"]
    assert len(long) == len(opposed.dates) * 2
    assert "## Sleeves" in (folder / "report.md").read_text()
    assert 'id="sleeves"' in (folder / "report.html").read_text()
    saved = simlab.load_run(folder)
    pd.testing.assert_frame_equal(saved.sleeves, long)
    table = saved.sleeve_metrics()
    assert table.loc[("book", "netting"), "pnl"] == pytest.approx(opposed.sleeves.netting_saving["book"].sum())
    from simlab.analysis.caveats import caveats

    assert any(c.startswith("Proxy strategy: long_term_reversal") for c in caveats(opposed))  # a sleeve's strategy


def test_a_sleeve_without_risk_falls_back_to_the_fixed_weights_out_loud():
    """A sleeve that never invests (its filter keeps nothing) has no variance: risk parity
    cannot weigh it, the fixed weights serve, and the run's health says so."""
    idle = {"name": "idle", "strategy": {"type": "momentum"},
            "pipeline": [{"type": "equal_weight_above", "threshold": 1e9}]}
    res = simlab.run(book([MOMENTUM, idle], [0.6, 0.4], {"method": "risk_parity", "lookback": 63}))
    np.testing.assert_allclose(res.sleeves.decided_weights.to_numpy(), np.tile([0.6, 0.4], (36, 1)))
    fallback = res.diagnostics.query("step == 'sleeves' and key == 'fallback'")
    assert (fallback["role"] == "fallback").all() and fallback["value"].sum() > 30
    assert any("sleeves.fallback fell back" in p for p in res.health().problems())


def test_whole_shares_weekly_and_a_cost_grid_still_add_up():
    res = simlab.run(book([MOMENTUM, REVERSAL], [0.5, 0.5], execution={"fractional": False, "init_cash": INIT_CASH},
                          schedule={"frequency": "weekly", "day": "friday"},
                          scenarios={"grid": {"costs.bps": [0, 10]}}))
    assert (res.trades["shares"] % 1 == 0).all()
    assert_nav_identity(res)
    saving = res.sleeves.netting_saving.sum()
    assert saving["bps=0"] == 0 and saving["bps=10"] > 0
    expected = res.sleeves.nav.T.groupby(level="scenario").sum().T + res.sleeves.netting_saving.cumsum()
    np.testing.assert_allclose(res.nav, expected[list(res.scenarios)], rtol=1e-9)


def test_a_sweep_varies_the_sleeve_weights_and_the_sleeves():
    from simlab.lab.sweep import expand_variants

    raw = book([MOMENTUM, REVERSAL], [0.5, 0.5], sweep={
        "sleeve_weights.method": ["fixed", "risk_parity"], "sleeves.0.weight,sleeves.1.weight": [[0.3, 0.7],
                                                                                                 [0.3, 0.8]]})
    variants = expand_variants(simlab.load_config(raw))
    assert [v.error is None for v in variants] == [True, False, True, False]
    assert "sleeve weights must sum to 1" in variants[1].error["message"]
    alone = book([MOMENTUM, REVERSAL], [0.3, 0.7], {"method": "risk_parity"})
    assert variants[2].config_hash == simlab.load_config(alone).config_hash()

"""The regime_constraints Step: config, limits per regime, backoff, turnover, diagnostics, runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.config import registry
from simlab.errors import ConfigError
from simlab.risk.constraints import CHECKED, MULTIPLIED, RegimeConstraints
from simlab.testing.assertions import assert_identical_through
from simlab.testing.builders import make_context, price_frame, write_prices

SECTORS = ("Energy", "Energy", "Financials", "Financials")


def build(**fields) -> RegimeConstraints:
    return registry.build("step", registry.resolve("step", {"type": "regime_constraints", **fields}, "pipeline[0]"))


def call(step, proposal, *, held=None, label=0, beta=None, cov=None, corr=None, bench_vol=0.01,
         last_rebalance=10):
    """Run ``step`` by hand with the given risk inputs in place of computed Features."""
    proposal = np.atleast_2d(np.asarray(proposal, dtype=float))
    b, n = proposal.shape
    held = proposal.copy() if held is None else np.atleast_2d(np.asarray(held, dtype=float))
    det = step.detector
    regime = np.r_[[label, label >= det.stress_from, 25.0, 1.0, 1.0, 21.0], step.limit_table()[label]]
    cov = np.diag(np.full(n, 1e-4)) if cov is None else cov
    sd = np.sqrt(np.diag(cov))
    features = {
        "regime": np.tile(regime, (b, 1)),
        "correlation": np.broadcast_to(cov if corr is None else corr * np.outer(sd, sd), (b, n, n)),
        "correlation_fallback": np.zeros(b, dtype=bool),
        "beta": np.broadcast_to(np.ones(n) if beta is None else np.asarray(beta, float), (b, n)),
        "covariance": np.broadcast_to(cov, (b, n, n)),
        "benchmark_vol": np.full(b, bench_vol),
        "styles": np.full((b, 3, n), np.nan),
    }
    ctx = make_context(weights=held)
    meta = pd.DataFrame({"sector": SECTORS[:n]}, index=ctx.assets)
    ctx = replace(ctx, features=features, meta=meta, last_rebalance=np.full(b, last_rebalance))
    return step(proposal, ctx)


# --------------------------------------------------------------------------- config


def test_defaults_are_filled_in_the_resolved_config():
    entry = registry.resolve("step", {"type": "regime_constraints"}, "pipeline[1]")
    assert entry["max_weight"] == 0.10 and entry["max_sector"] == 0.40 and entry["max_correlation"] == 0.85
    assert entry["max_gross"] == 1.0 and entry["max_turnover"] == 5.0 and entry["smoothing"] == 0.3
    assert entry["regime"]["type"] == "vix_threshold" and entry["regime"]["levels"] == [20.0, 30.0, 40.0]
    assert entry["multipliers"]["stress"] == {
        "single_name": 1.0, "sector": 0.6, "correlation": 0.7, "cluster": 1.0, "gross": 0.8, "turnover": 0.5}
    assert entry["multipliers"]["normal"] == dict.fromkeys(MULTIPLIED, 1.0)
    assert entry["beta"] == {"normal": [0.8, 1.2], "stress": [0.9, 1.1]}
    assert entry["volatility"] == {"normal": [0.8, 1.2], "stress": [0.5, 1.0]}
    assert entry["backoff"] == [[0.7, 1.0], [0.8, 0.9], [0.9, 0.7], [0.95, 0.5], [1.0, 0.25]]
    assert "gross" not in entry["backoff_on"]
    assert str(registry.build("step", entry)).startswith("{type: regime_constraints, regime: {")


def test_label_keys_override_their_state():
    step = build(regime={"type": "vix_threshold", "levels": [20, 30, 40]},
                 multipliers={"stress": {"gross": 0.8}, 3: {"gross": 0.5}})
    gross = [row[MULTIPLIED.index("gross")] for row in step.limit_table()]
    assert gross == [1.0, 1.0, 0.8, 0.5]


@pytest.mark.parametrize("fields, match", [
    ({"max_sector": -0.1}, r"pipeline\[1\]\.max_sector: Input should be greater than 0"),
    ({"max_weight": 0}, r"pipeline\[1\]\.max_weight: Input should be greater than 0"),
    ({"max_turnover": -5}, r"max_turnover: Input should be greater than 0"),
    ({"regime": {"type": "vix_threshold", "levels": [30, 20]}},
     r"pipeline\[1\]\.regime: levels must be strictly increasing; got 30.0 then 20.0"),
    ({"regime": {"type": "trend", "levels": [-0.05, 0.0]}}, "strictly decreasing"),
    ({"multipliers": {"stress": {"sectr": 0.6}}},
     r"multipliers: stress\.sectr: unknown constraint; valid: single_name"),
    ({"multipliers": {"stress": {"gross": -0.8}}}, r"multipliers: stress\.gross: must be a number > 0"),
    ({"multipliers": {"panic": {"gross": 0.5}}}, "unknown regime 'panic'"),
    ({"beta": {"normal": [1.2, 0.8], "stress": [0.9, 1.1]}},
     r"beta: normal: expected 0 <= low < high; got \[1.2, 0.8\]"),
    ({"volatility": {"normal": [0.8, 1.2]}}, r"volatility: needs a band for 'stress'"),
    ({"backoff": [[0.9, 0.7], [0.8, 0.9]]}, r"backoff: breakpoints: utilizations must be strictly increasing"),
    ({"backoff_on": ["sector", "leverage"]}, r"backoff_on: expected a list of constraints from single_name"),
    ({"smoothing": 0}, r"smoothing: Input should be greater than 0"),
    ({"max_sectr": 0.3}, r"max_sectr: unknown key for 'regime_constraints'. Did you mean 'max_sector'\?"),
])
def test_bad_config_is_a_config_error_naming_the_key(fields, match):
    cfg = {"data": {"source": "builtin:sp500_20"},
           "pipeline": [{"type": "equal_weight"}, {"type": "regime_constraints", **fields}]}
    with pytest.raises(ConfigError, match=match):
        simlab.load_config(cfg)


# --------------------------------------------------------------------------- limits per regime


def test_stress_limits_tighten_and_the_result_respects_them():
    step = build(max_weight=0.5, beta=None, volatility=None, correlation_regime=False)
    proposal = [0.15, 0.15, 0.1, 0.1]
    w_normal, d_normal = call(step, proposal, label=0)
    w_stress, d_stress = call(step, proposal, label=2)
    assert d_normal["util_sector"][0] == pytest.approx(0.3 / 0.4)
    assert d_stress["util_sector"][0] == pytest.approx(0.3 / 0.24)
    assert d_normal["factor_sector"][0] == pytest.approx(0.95)  # 75% of the limit
    assert d_stress["factor_sector"][0] == 0.25  # over the limit: the curve's floor
    np.testing.assert_allclose(w_normal, [[0.1425, 0.1425, 0.1, 0.1]])
    assert w_stress[0, :2].sum() <= 0.24 + 1e-12
    assert d_stress["multiplier_sector"][0] == 0.6 and d_stress["multiplier_gross"][0] == 0.8
    assert d_stress["stress"][0] == 1 and d_normal["stress"][0] == 0
    assert d_stress["max_final_util"][0] <= 1 + 1e-9


def test_gross_is_a_hard_cap_not_backed_off_by_default():
    step = build(beta=None, volatility=None, max_weight=0.5, max_sector=1.0, max_cluster=1.0)
    full = [0.25, 0.25, 0.25, 0.25]
    w, d = call(step, full, label=0)
    np.testing.assert_allclose(w, [full])  # a fully invested book at 100% of a 100% cap stays
    assert d["util_gross"][0] == pytest.approx(1.0) and d["factor_gross"][0] == 1.0
    w, d = call(step, full, held=full, label=2)
    assert np.abs(w).sum() == pytest.approx(0.8)  # stress: gross 0.8x, cut to the cap exactly
    assert d["projected"][0] == 1
    step = build(beta=None, volatility=None, max_weight=0.5, max_sector=1.0, max_cluster=1.0,
                 backoff_on=list(CHECKED))
    w, d = call(step, full, label=0, last_rebalance=-1)  # (first rebalance: no turnover budget)
    assert np.abs(w).sum() == pytest.approx(0.25) and d["factor_gross"][0] == 0.25  # when asked for


def test_turnover_budget_moves_part_of_the_way():
    step = build(beta=None, volatility=None, max_weight=1.0, max_sector=1.0, max_cluster=1.0)
    held = [0.25, 0.25, 0.25, 0.25]
    target = [0.5, 0.0, 0.5, 0.0]  # one-way turnover 0.5 against a budget of 5 / 12
    w, d = call(step, target, held=held)
    assert d["turnover_budget"][0] == pytest.approx(5 / 12)
    assert d["util_turnover"][0] == pytest.approx(0.5 / (5 / 12))
    assert d["factor_turnover"][0] == 0.25 and d["trade_fraction"][0] == 0.25
    np.testing.assert_allclose(w, [[0.3125, 0.1875, 0.3125, 0.1875]])
    # stress halves the budget: the same trade is cut to the budget at most
    w, d = call(step, target, held=held, label=2)
    assert d["turnover_budget"][0] == pytest.approx(2.5 / 12)
    # building the book from cash is exempt
    w, d = call(step, target, held=[0, 0, 0, 0], last_rebalance=-1)
    np.testing.assert_allclose(w, [target])


def test_forced_trades_restore_the_held_book_and_are_reported():
    step = build(beta=None, volatility=None, max_weight=0.3, max_sector=1.0, max_cluster=1.0, max_turnover=0.12)
    held = [0.45, 0.15, 0.2, 0.2]  # drifted above the 30% cap; the budget is 1% a rebalance
    w, d = call(step, [0.2, 0.2, 0.2, 0.2], held=held)
    assert d["turnover_forced"][0] == pytest.approx(0.075)  # 0.45 -> 0.30, whatever the budget
    assert d["turnover"][0] == pytest.approx(0.075 + 0.01)  # plus the budget, toward the target
    assert w[0, 0] < 0.3 and d["max_final_util"][0] <= 1 + 1e-9


def test_beta_band_drivers_and_factor_exposures():
    step = build(max_weight=0.6, max_sector=1.0, max_cluster=1.0, volatility=None)
    beta = [1.6, 1.4, 1.0, 0.9]
    w, d = call(step, [0.3, 0.3, 0.2, 0.2], beta=beta, label=2)  # stress band 0.9 .. 1.1
    x = (0.3 * 1.6 + 0.3 * 1.4 + 0.2 + 0.18)
    assert d["util_beta"][0] == pytest.approx((x - 1.0) / 0.1)
    assert d["beta"][0] <= 1.1 + 1e-9 and d["beta"][0] == pytest.approx((w[0] * beta).sum() / w.sum())
    assert w[0, 2] == pytest.approx(0.2) and w[0, 3] == pytest.approx(0.2)  # low-beta names untouched


def test_diagnostics_are_flat_per_scenario_arrays():
    step = build()
    rng = np.random.default_rng(0)
    proposal = rng.dirichlet(np.ones(4), size=3)
    w, d = call(step, proposal, beta=[1.3, 1.0, 0.9, 0.7], cov=np.diag([4e-4, 2e-4, 1e-4, 1e-4]))
    for key in ("regime", "stress", "regime_proxy", "proxy_days", "multiplier_gross", "multiplier_sector",
                "beta_lo", "volatility_hi", "max_final_util", "projected", "turnover", "turnover_forced",
                "trade_fraction", "exposure_size", "exposure_value", "exposure_momentum", "n_clusters",
                "correlation_fallback", "gross_out"):
        assert np.shape(d[key]) in ((3,), ()), key
    for name in CHECKED:
        assert np.shape(d[f"util_{name}"]) == (3,) and np.shape(d[f"factor_{name}"]) == (3,)
    assert d["scale"].shape == (3, 4)
    assert (d["max_final_util"] <= 1 + 1e-9).all()


# --------------------------------------------------------------------------- runs


def csv_market(tmp_path, n_days=320, seed=3):
    close = price_frame(n_days, 4, seed=seed, vol=0.015)
    bench = close.mean(axis=1).to_frame("bench")
    universe = tmp_path / "universe.yaml"
    universe.write_text("assets:\n" + "".join(f"  {a}: {{sector: {s}}}\n" for a, s in zip(close.columns, SECTORS)))
    return close, bench, universe


def experiment(close, bench, universe, folder, tag):
    step = {"type": "regime_constraints", "max_weight": 0.35, "beta_window": 60, "volatility_window": 30,
            "correlation_window": 60, "regime": {"type": "vix_threshold", "levels": [15, 25], "stress_from": 1}}
    return {
        "name": "pit", "universe": str(universe),
        "data": {"source": write_prices(close, folder, f"close_{tag}.csv"),
                 "benchmark": write_prices(bench, folder, f"bench_{tag}.csv")},
        "schedule": {"frequency": "monthly", "day": "last"}, "costs": {"type": "flat", "bps": 5},
        "pipeline": [{"type": "equal_weight"}, step],
    }


def test_step_in_a_run_is_point_in_time(tmp_path):
    close, bench, universe = csv_market(tmp_path)
    t = 230
    rng = np.random.default_rng(1)
    close2, bench2 = close.copy(), bench.copy()
    close2.iloc[t + 1:] *= rng.lognormal(0, 0.2, close2.iloc[t + 1:].shape)
    bench2.iloc[t + 1:] *= 1.5
    a = simlab.run(experiment(close, bench, universe, tmp_path, "a"))
    b = simlab.run(experiment(close2, bench2, universe, tmp_path, "b"))
    assert_identical_through(a, b, close.index[t])
    diag = a.diagnostics
    mine = diag[diag["step"] == "1:regime_constraints"]
    assert mine["key"].eq("util_sector").sum() >= 14
    assert (mine.loc[mine["key"] == "max_final_util", "value"] <= 1 + 1e-9).all()
    proxy = mine.loc[mine["key"] == "regime_proxy"].set_index("date")["value"]
    assert proxy.loc[close.index[21]:].eq(1).all()  # no VIX: every day past the proxy's warm-up


@pytest.fixture(scope="module")
def crisis_run():
    cfg = {
        "name": "crisis", "universe": "configs/universes/sp500_20.yaml",
        "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index", "macro": {"vix": "builtin:vix"},
                 "start": "2006-01-01", "end": "2008-12-31"},
        "costs": {"type": "flat", "bps": 10},
        "pipeline": [{"type": "equal_weight"}, {"type": "regime_constraints"}],
    }
    return simlab.run(cfg)


def test_builtin_data_utilization_higher_in_autumn_2008_than_in_2006(crisis_run):
    diag = crisis_run.diagnostics
    mine = diag[(diag["step"] == "1:regime_constraints") & diag["asset"].isna()]
    table = mine.pivot_table(index="date", columns="key", values="value")
    calm, crisis = table.loc["2006"], table.loc["2008-09":"2008-11"]
    for name in ("sector", "correlation", "beta", "volatility", "turnover"):
        assert crisis[f"util_{name}"].fillna(0).mean() > calm[f"util_{name}"].fillna(0).mean(), name
    worst = [f"util_{c}" for c in CHECKED]
    assert crisis[worst].max(axis=1).mean() > calm[worst].max(axis=1).mean()
    assert crisis["stress"].sum() >= 2 and calm["stress"].sum() == 0
    assert (table["regime_proxy"] == 1).all()  # 2006-2008: before the built-in VIX, the proxy stands in
    assert (table["max_final_util"] <= 1 + 1e-9).all()
    assert crisis["gross_out"].mean() < calm["gross_out"].mean()

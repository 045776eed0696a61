"""The factor_min_variance Step: same weights as the dense Step and cvxpy, caps, selection, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.data import generate_market
from simlab.errors import ConfigError
from simlab.features.factor_model import covariance_of
from simlab.portfolio.allocators_factor import FactorMinVariance
from simlab.portfolio.allocators_risk import MinVariance
from simlab.testing.assertions import assert_nav_identity
from simlab.testing.builders import context_with_features as ctx_with

N, K = 24, 3


def risk_model(seed=0, b=1):
    """(b, N, K + 1) factor model values in daily units, as the FactorRisk Feature serves them."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 0.01, (N, K))
    d = rng.uniform(1e-4, 4e-4, N)
    return np.broadcast_to(np.column_stack([X, d]), (b, N, K + 1)).copy()


def with_sectors(ctx, n_sectors=4):
    meta = pd.DataFrame({"sector": [f"S{i % n_sectors}" for i in range(N)]}, index=list(ctx.assets))
    return dataclasses.replace(ctx, meta=meta)


def test_same_weights_as_the_dense_min_variance_step():
    risk = risk_model(1)
    w, diag = FactorMinVariance(max_weight=0.15, solver="native")(np.zeros((1, N)), ctx_with({"risk": risk}, n_assets=N))
    dense = MinVariance(max_weight=0.15, solver="native")
    ref, _ = dense(np.zeros((1, N)), ctx_with({"cov": covariance_of(risk)}, n_assets=N))
    np.testing.assert_allclose(w, ref, atol=1e-6)
    assert diag["fallback_level"].tolist() == [0] and diag["attempt.factor_qp"].tolist() == [1]
    annual = covariance_of(risk[0]) * 252
    assert diag["ex_ante_vol"][0] == pytest.approx(np.sqrt(w[0] @ annual @ w[0]), rel=1e-12)


def test_sector_caps_match_cvxpy_on_the_dense_covariance():
    cp = pytest.importorskip("cvxpy")
    risk = risk_model(2)
    ctx = with_sectors(ctx_with({"risk": risk}, n_assets=N))
    w, _ = FactorMinVariance(max_weight=0.2, sector_cap=0.3, solver="native")(np.zeros((1, N)), ctx)
    x = cp.Variable(N)
    G = np.array([[1.0 if i % 4 == s else 0.0 for i in range(N)] for s in range(4)])
    prob = cp.Problem(cp.Minimize(cp.quad_form(x, covariance_of(risk[0]) * 252)),
                      [cp.sum(x) == 1, x >= 0, x <= 0.2, G @ x <= 0.3])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    np.testing.assert_allclose(w[0], x.value, atol=1e-6)
    assert (G @ w[0] <= 0.3 + 1e-9).all() and (G @ w[0]).max() == pytest.approx(0.3, abs=1e-9)


def test_cvxpy_solver_gives_the_native_weights():
    pytest.importorskip("cvxpy")
    risk = risk_model(3, b=2)
    ctx = with_sectors(ctx_with({"risk": risk}, n_assets=N, weights=np.full((2, N), 1.0 / N)))
    step = {"max_weight": 0.2, "sector_cap": 0.35, "turnover_penalty": np.array([0.0, 0.001])}
    native, _ = FactorMinVariance(**step, solver="native")(np.zeros((2, N)), ctx)
    ref, diag = FactorMinVariance(**step, solver="cvxpy")(np.zeros((2, N)), ctx)
    np.testing.assert_allclose(native, ref, atol=1e-6)
    assert diag["attempt.cvxpy"].tolist() == [1, 1]


def test_top_n_holds_only_the_highest_signals_and_utility_tilts_to_them():
    risk = risk_model(4)
    signal = np.arange(N, dtype=float)[None, :]
    ctx = ctx_with({"risk": risk}, n_assets=N, signal=signal)
    w, diag = FactorMinVariance(top_n=8, max_weight=0.3)(np.zeros((1, N)), ctx)
    assert (w[0, : N - 8] == 0).all() and w[0, N - 8:].sum() == pytest.approx(1.0, abs=1e-9)
    assert diag["n_active"].tolist() == [8]
    mv, _ = FactorMinVariance(objective="utility", risk_aversion=1.0, signal_ic=0.5, max_weight=0.3)(
        np.zeros((1, N)), ctx)
    assert mv[0] @ signal[0] > FactorMinVariance(max_weight=0.3)(np.zeros((1, N)), ctx)[0][0] @ signal[0]


def test_assets_without_a_model_are_not_held():
    risk = risk_model(5)
    risk[0, :3] = np.nan
    w, diag = FactorMinVariance(max_weight=0.3)(np.zeros((1, N)), ctx_with({"risk": risk}, n_assets=N))
    assert (w[0, :3] == 0).all() and diag["n_active"].tolist() == [N - 3]


def test_errors_name_what_is_missing():
    ctx = ctx_with({"risk": risk_model(6)}, n_assets=N)
    with pytest.raises(ConfigError, match="sector_cap < 1 needs a 'sector'"):
        FactorMinVariance(sector_cap=0.3)(np.zeros((1, N)), ctx)
    with pytest.raises(ConfigError, match="need a strategy signal"):
        FactorMinVariance(top_n=5)(np.zeros((1, N)), ctx)
    with pytest.raises(ConfigError, match="model 'fundamental' needs"):
        FactorMinVariance(model="fundamental")


def test_end_to_end_with_listings_and_sector_caps():
    md = generate_market(n_assets=60, n_days=700, seed=8, late_listing=0.3, delisting=0.2)
    cfg = {"name": "factor_e2e", "data": {"benchmark": None}, "schedule": {"frequency": "monthly"},
           "strategy": {"type": "momentum", "lookback": 126, "skip": 21},
           "pipeline": [{"type": "factor_min_variance", "n_factors": 3, "window": 126, "top_n": 20,
                         "sector_cap": 0.3, "max_weight": 0.1}],
           "scenarios": {"grid": {"pipeline.0.sector_cap": [0.2, 0.3]}},
           "costs": {"type": "flat", "bps": 5}}
    res = simlab.run(cfg, data=md)
    assert_nav_identity(res)
    w = res.weights.to_numpy()  # (T, B, N)
    sectors = md.meta["sector"].to_numpy()
    diag = res.diagnostics
    solved = diag[(diag.key == "fallback_level") & (diag.value == 0)]
    assert len(solved) > 20
    trades = res.trades  # rebalance fills (a delisting sale between them lets the others drift)
    for b, (name, cap) in enumerate(zip(res.nav.columns, [0.2, 0.3])):
        fills = np.flatnonzero(md.close.index.isin(trades.loc[(trades.scenario == name) & (trades.reason == "rebalance"), "date"]))
        for s in np.unique(sectors):
            assert (np.nansum(w[fills, b][:, sectors == s], axis=1) <= cap * (1 + 1e-3)).all()
    assert (np.nan_to_num(w)[np.isnan(md.close.to_numpy())[:, None, :].repeat(2, 1)] == 0).all()

"""Phase-3 allocator Steps: mean-variance, Black-Litterman, mean-CVaR, and a run through the engine."""

from __future__ import annotations

import dataclasses

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.errors import ConfigError
from simlab.features.covariance import Covariance
from simlab.features.returns import MeanReturn
from simlab.portfolio import optimize
from simlab.portfolio.allocators_opt import (
    BlackLitterman,
    MeanCVaR,
    MeanVariance,
    signal_alpha,
)
from simlab.contract.step import HOLD
from simlab.testing.assertions import assert_identical_through, assert_runs_identical
from simlab.testing.builders import csv_experiment, daily_cov, price_frame
from simlab.testing.builders import context_with_features as ctx_with

nan = np.nan



# --------------------------------------------------------------------------- expected returns


def test_signal_alpha_is_grinold_ic_vol_z():
    signal = np.array([[1.0, 2.0, 3.0, nan], [nan, nan, 1.0, nan]])
    vol = np.array([[0.2, 0.1, 0.3, 0.2]] * 2)
    alpha = signal_alpha(signal, vol, np.ones((2, 4), dtype=bool), 0.05)
    np.testing.assert_allclose(alpha[0, :3], 0.05 * vol[0, :3] * np.array([-1.0, 0.0, 1.0]))
    assert np.isnan(alpha[0, 3]) and np.isnan(alpha[1]).all()  # one finite signal: no z-score
    assert np.isnan(signal_alpha(None, vol, np.ones((2, 4), dtype=bool), 0.05)).all()


def test_mean_variance_declares_mean_only_for_history():
    assert set(MeanVariance().features(1)) == {"cov", "mean"}
    assert MeanVariance(mean_window=126).features(1)["mean"] == [MeanReturn(window=126)]
    assert set(MeanVariance(expected_returns="signal").features(2)) == {"cov"}
    assert MeanCVaR().features(1) == {"cov": [Covariance(estimator="ledoit_wolf", window=252)]}


# --------------------------------------------------------------------------- mean-variance


def test_mean_variance_step_matches_the_functional_form():
    cov = daily_cov(6, 1)
    mean = np.array([[0.0008, 0.0002, 0.0005, -0.0001, 0.0004, 0.0006]])
    ctx = ctx_with({"cov": cov[None], "mean": mean}, n_assets=6)
    for objective in ("max_sharpe", "utility"):
        step = MeanVariance(objective=objective, risk_aversion=3.0, max_weight=0.4)
        w, diag = step(np.zeros((1, 6)), ctx)
        c = pd.DataFrame(cov * 252)
        mu = pd.Series(mean[0] * 252)
        ref = (optimize.max_sharpe(mu, c, bounds=(0, 0.4)) if objective == "max_sharpe"
               else optimize.mean_variance(mu, c, risk_aversion=3.0, bounds=(0, 0.4)))
        np.testing.assert_allclose(w[0], ref, atol=1e-4)
        assert diag["fallback_level"][0] == 0 and diag["n_with_mu"][0] == 6


def test_mean_variance_signal_all_nan_falls_back_to_inverse_volatility():
    cov = daily_cov(4, 2)
    ctx = ctx_with({"cov": cov[None]}, signal=np.full((1, 4), nan))
    w, diag = MeanVariance(expected_returns="signal", max_weight=1.0)(np.zeros((1, 4)), ctx)
    vol = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(w[0], (1 / vol) / (1 / vol).sum(), atol=1e-12)
    assert diag["n_with_mu"][0] == 0 and diag["fallback_level"][0] == 1
    assert diag["attempt.cvxpy"][0] == 0  # nothing to solve: no attempt
    assert not diag[HOLD][0]


def test_mean_variance_without_a_strategy_uses_no_signal():
    cov = daily_cov(3, 3)
    ctx = ctx_with({"cov": cov[None]}, n_assets=3)
    w, diag = MeanVariance(expected_returns="signal")(np.zeros((1, 3)), ctx)
    assert np.isfinite(w).all() and diag["fallback_level"][0] == 1


def test_mean_variance_infeasible_bounds_and_turnover_penalty():
    cov = daily_cov(5, 4)
    mean = np.array([[0.0008, 0.0002, 0.0005, 0.0001, 0.0004]] * 2)
    current = np.full((2, 5), 0.2)
    ctx = ctx_with({"cov": np.stack([cov, cov]), "mean": mean}, weights=current)
    step = MeanVariance(objective="utility", max_weight=np.array([0.15, 1.0]), turnover_penalty=np.array([0.0, 0.05]))
    w, diag = step(np.zeros((2, 5)), ctx)
    np.testing.assert_array_equal(diag["bounds_infeasible"], [1.0, 0.0])
    np.testing.assert_allclose(w[0], 0.15)  # capped inverse volatility, 25% cash
    # a different Step: its own (empty) memory, so no warm start from the penalized solve
    free, _ = MeanVariance(objective="utility", max_weight=1.0)(np.zeros((2, 5)), replace(ctx, memory={}))
    assert np.abs(w[1] - current[1]).sum() < np.abs(free[1] - current[1]).sum()


def test_max_sharpe_with_negative_expected_returns_falls_back():
    cov = daily_cov(3, 5)
    ctx = ctx_with({"cov": cov[None], "mean": np.full((1, 3), -0.001)}, n_assets=3)
    w, diag = MeanVariance(max_weight=1.0)(np.zeros((1, 3)), ctx)
    assert diag["attempt.cvxpy"][0] == 3 and diag["attempt.native"][0] == 7  # infeasible; max_sharpe not native
    assert diag["fallback_level"][0] == 1 and abs(w.sum() - 1) < 1e-12


# --------------------------------------------------------------------------- Black-Litterman


def test_black_litterman_without_signal_is_the_prior_within_bounds():
    cov = daily_cov(4, 6)
    prior = {"A0": 0.4, "A1": 0.3, "A2": 0.2, "A3": 0.1}
    step = BlackLitterman(prior_weights=prior, max_weight=1.0, cash_buffer=1 - 1 / 1.05)
    w, diag = step(np.zeros((1, 4)), ctx_with({"cov": cov[None]}, n_assets=4))
    np.testing.assert_allclose(w[0], np.array([0.4, 0.3, 0.2, 0.1]) / 1.05, atol=1e-5)
    assert diag["n_views"][0] == 0


def test_black_litterman_views_tilt_toward_the_signal():
    cov = daily_cov(5, 7)
    signal = np.array([[2.0, 0.0, 0.0, 0.0, -2.0]])
    step = BlackLitterman(max_weight=1.0, view_confidence=0.8, signal_ic=0.1)
    w_views, diag = step(np.zeros((1, 5)), ctx_with({"cov": cov[None]}, signal=signal))
    w_prior, _ = step(np.zeros((1, 5)), ctx_with({"cov": cov[None]}, signal=np.full((1, 5), nan)))
    assert diag["n_views"][0] == 5
    assert w_views[0, 0] > w_prior[0, 0] and w_views[0, 4] < w_prior[0, 4]


def test_black_litterman_posterior_matches_the_functional_form():
    cov = daily_cov(4, 8)
    signal = np.array([[1.0, -0.5, 0.2, nan]])
    step = BlackLitterman(tau=0.1, delta=3.0, view_confidence=0.6, signal_ic=0.05)
    ctx = ctx_with({"cov": cov[None]}, signal=signal)
    c = cov * 252
    mu, post, n_views = step.posterior(ctx, c[None], np.ones((1, 4), dtype=bool))
    vol = np.sqrt(np.diag(c))
    prior = (1 / vol) / (1 / vol).sum()
    pi = pd.Series(3.0 * c @ prior)
    alpha = signal_alpha(signal, vol[None], np.ones((1, 4), dtype=bool), 0.05)[0]
    views = pd.Series(pi.to_numpy()[:3] + alpha[:3], index=[0, 1, 2])
    ref_mu, ref_post = optimize.black_litterman_posterior(pd.DataFrame(c), pi, views, 0.6, tau=0.1)
    np.testing.assert_allclose(mu[0], ref_mu, rtol=1e-12)
    np.testing.assert_allclose(post[0], ref_post, rtol=1e-12)
    assert n_views[0] == 3


def test_black_litterman_prior_weights_must_name_assets():
    cov = daily_cov(3, 9)
    with pytest.raises(ConfigError, match="prior_weights names"):
        BlackLitterman(prior_weights={"XX": 1.0})(np.zeros((1, 3)), ctx_with({"cov": cov[None]}, n_assets=3))


# --------------------------------------------------------------------------- mean-CVaR


def cvar_context(n_days=80, n_assets=4, seed=0, listing=None):
    close = price_frame(n_days, n_assets, seed=seed, listing=listing).to_numpy()
    returns = np.vstack([np.full((1, n_assets), nan), close[1:] / close[:-1] - 1])
    cov = np.cov(returns[-60:].T) if listing is None else np.where(np.isnan(returns[-60:]).any(0)[:, None], nan, 1.0)
    if listing is not None:
        good = ~np.isnan(returns[-60:]).any(0)
        cov = np.full((n_assets, n_assets), nan)
        cov[np.ix_(good, good)] = np.cov(returns[-60:, good].T)
    return ctx_with({"cov": cov[None]}, close=close)


def test_mean_cvar_step_matches_the_functional_form():
    ctx = cvar_context()
    w, diag = MeanCVaR(window=60, alpha=0.9, max_weight=0.6)(np.zeros((1, 4)), ctx)
    scen = pd.DataFrame(ctx.view.history("returns", 60))
    ref = optimize.mean_cvar(scen, alpha=0.9, bounds=(0, 0.6))
    np.testing.assert_allclose(w[0], ref, atol=1e-5)
    assert diag["attempt.cvxpy"][0] == 1 and diag["attempt.native"][0] == 7 and diag["n_scenarios"][0] == 60


def test_mean_cvar_asset_without_full_window_gets_zero():
    ctx = cvar_context(listing={2: 40})
    w, diag = MeanCVaR(window=60, max_weight=0.6)(np.zeros((1, 4)), ctx)
    assert w[0, 2] == 0.0 and abs(w.sum() - 1) < 1e-6 and diag["n_active"][0] == 3


def test_mean_cvar_utility_history_and_signal():
    ctx = cvar_context(seed=3)
    w, diag = MeanCVaR(window=60, objective="utility", risk_aversion=2.0, max_weight=0.6)(np.zeros((1, 4)), ctx)
    assert diag["fallback_level"][0] == 0 and abs(w.sum() - 1) < 1e-6
    ctx = dataclasses.replace(ctx, signal=np.full((1, 4), nan))
    w, diag = MeanCVaR(window=60, objective="utility", expected_returns="signal", max_weight=0.6)(np.zeros((1, 4)), ctx)
    assert diag["fallback_level"][0] == 1 and diag["n_active"][0] == 0 and np.isfinite(w).all()


# --------------------------------------------------------------------------- through the engine


PHASES = [
    {"name": "ivol", "pipeline": [{"type": "inverse_volatility", "window": 20}]},
    {"name": "ras", "pipeline": [{"type": "risk_adjusted_signal", "window": 20, "top_n": 2}]},
    {"name": "erc", "pipeline": [{"type": "risk_parity", "window": 40, "estimator": "sample"}]},
    {"name": "hrp", "pipeline": [{"type": "hierarchical_risk_parity", "window": 40}]},
    {"name": "minvar", "pipeline": [{"type": "min_variance", "window": 40, "max_weight": 0.5}]},
    {"name": "mv", "pipeline": [{"type": "mean_variance", "window": 40, "mean_window": 40, "max_weight": 0.5,
                                 "turnover_penalty": 0.001}]},
    {"name": "bl", "pipeline": [{"type": "black_litterman", "window": 40, "max_weight": 0.5}]},
    {"name": "cvar", "pipeline": [{"type": "mean_cvar", "window": 40, "max_weight": 0.5}]},
]


def phase_experiment(close, folder, name="prices.csv"):
    return csv_experiment(close, folder, name=name, strategy={"type": "momentum", "lookback": 20, "skip": 1},
                          costs={"type": "flat", "bps": 10}, schedule={"frequency": "monthly"},
                          pipeline=[{"type": "equal_weight"}], scenarios={"list": PHASES})


def test_every_phase_runs_in_one_batch_and_stays_point_in_time(tmp_path):
    close = price_frame(160, 5, seed=11, listing={4: 70})
    a = simlab.run(phase_experiment(close, tmp_path))
    w = a.weights.to_numpy()
    assert np.isfinite(w).all() and (w >= -1e-9).all() and (w.sum(axis=2) <= 1 + 1e-6).all()
    diag = a.diagnostics
    assert set(diag.scenario) >= {p["name"] for p in PHASES}
    listed = diag[(diag.key == "n_active") & (diag.date < close.index[70 + 41])]
    assert (listed.value <= 4).all()  # asset 4 has no covariance before a full window
    t = 110
    later = close.copy()
    later.iloc[t + 1:] *= np.random.default_rng(0).lognormal(0, 0.3, later.iloc[t + 1:].shape)
    b = simlab.run(phase_experiment(later, tmp_path, "later.csv"))
    assert_identical_through(a, b, close.index[t])


def test_solver_scenarios_are_bit_identical_when_run_again(tmp_path):
    """A compiled cvxpy problem is re-solved the same way on every run of the process."""
    close = price_frame(120, 4, seed=12)
    cfg = csv_experiment(close, tmp_path, strategy={"type": "momentum", "lookback": 20, "skip": 1},
                         pipeline=[{"type": "equal_weight"}], scenarios={"list": [
                             {"name": "ms", "pipeline": [{"type": "mean_variance", "window": 40, "mean_window": 40,
                                                         "max_weight": 0.6, "turnover_penalty": 0.001}]},
                             {"name": "cvar", "pipeline": [{"type": "mean_cvar", "window": 40, "max_weight": 0.6}]}]})
    assert_runs_identical(simlab.run(cfg), simlab.run(cfg))

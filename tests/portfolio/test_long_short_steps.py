"""The long-short Steps: the rank book, the optimizers' net, gross and beta rows, restricted names."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.config import registry
from simlab.data.market import PointInTimeView
from simlab.testing.builders import csv_experiment, make_context, price_frame


def build(**entry):
    """A Step from a config entry the way the engine builds it (validated, defaults filled)."""
    return registry.build("step", registry.resolve("step", entry, "pipeline[0]"))


def with_meta(ctx, **flags):
    meta = pd.DataFrame({k: v for k, v in flags.items()}, index=list(ctx.assets))
    return dataclasses.replace(ctx, meta=meta)


def test_rank_book_is_dollar_neutral_with_equal_legs():
    signal = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    w, diag = build(type="long_short_top_n", top_n=2)(np.zeros((1, 6)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0.5, 0.5, 0.0, 0.0, -0.5, -0.5]])
    assert diag["net"][0] == 0.0 and diag["gross"][0] == 2.0
    w, _ = build(type="long_short_top_n", top_n=2, bottom_n=1, long=1.3, short=0.3)(
        np.zeros((1, 6)), make_context(signal=signal))
    np.testing.assert_allclose(w, [[0.65, 0.65, 0.0, 0.0, 0.0, -0.3]])


def test_rank_book_never_shorts_a_restricted_name():
    signal = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    ctx = with_meta(make_context(signal=signal), restricted=[False] * 5 + [True],
                    hard_to_borrow=[False] * 4 + [True, False])
    w, diag = build(type="long_short_top_n", top_n=1)(np.zeros((1, 6)), ctx)
    np.testing.assert_allclose(w, [[1.0, 0, 0, 0, -1.0, 0]])  # the next-lowest is shorted instead
    assert diag["n_not_shortable"][0] == 1
    w, _ = build(type="long_short_top_n", top_n=1, short_hard_to_borrow=False)(np.zeros((1, 6)), ctx)
    np.testing.assert_allclose(w, [[1.0, 0, 0, -1.0, 0, 0]])


def test_rank_book_batches_like_separate_scenarios():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(3, 8))
    step = registry.build_batch("step", [registry.resolve("step", {"type": "long_short_top_n", "top_n": n}, "p")
                                         for n in (1, 2, 3)])
    batch, _ = step(np.zeros((3, 8)), make_context(signal=signal))
    for b, n in enumerate([1, 2, 3]):
        one, _ = build(type="long_short_top_n", top_n=n)(np.zeros((1, 8)), make_context(signal=signal[b:b + 1]))
        np.testing.assert_array_equal(batch[b], one[0])


def beta_context(n=6, t=300, seed=4):
    """A context over ``t`` days whose benchmark is the average asset plus noise; the
    Ledoit-Wolf-free sample covariance of the last 252 days, annualized by the Step."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, t)
    loads = np.linspace(0.5, 1.5, n)
    rets = market[:, None] * loads + rng.normal(0, 0.01, (t, n))
    close = 100 * np.cumprod(1 + rets, axis=0)
    bench = 100 * np.cumprod(1 + market)
    signal = rng.normal(size=(1, n))
    ctx = make_context(close=close, signal=signal)
    arrays = {"close": ctx.view.history("close"), "returns": ctx.view.history("returns"), "benchmark": bench}
    ctx = dataclasses.replace(ctx, view=PointInTimeView(arrays, ctx.view.dates, ctx.t))
    returns = pd.DataFrame(ctx.view.history("returns", 252))
    cov = returns.cov().to_numpy()[None]
    bench_ret = pd.Series(bench).pct_change().to_numpy()[-252:]
    beta = returns.apply(lambda c: c.cov(pd.Series(bench_ret))) / pd.Series(bench_ret).var()
    return dataclasses.replace(ctx, features={"cov": cov}), beta.to_numpy()


def test_beta_neutral_optimizer_holds_beta_at_zero():
    ctx, beta = beta_context()
    step = build(type="mean_variance", objective="utility", expected_returns="signal", risk_aversion=1.0,
                 min_weight=-0.3, max_weight=0.3, net=0.0, max_gross=1.0, beta_neutral=True, window=252)
    w, diag = step(np.zeros((1, 6)), ctx)
    assert diag["fallback_level"][0] == 0
    assert abs(w[0] @ beta) < 1e-8  # pandas' betas, computed independently
    assert abs(w[0].sum()) < 1e-8 and np.abs(w[0]).sum() <= 1.0 + 1e-8
    assert diag["gross"][0] == pytest.approx(np.abs(w[0]).sum())


def test_beta_neutral_without_a_benchmark_names_the_key():
    ctx, _ = beta_context()
    arrays = {"close": ctx.view.history("close"), "returns": ctx.view.history("returns")}
    ctx = dataclasses.replace(ctx, view=PointInTimeView(arrays, ctx.view.dates, ctx.t))
    step = build(type="min_variance", min_weight=-0.3, max_weight=0.3, beta_neutral=True)
    with pytest.raises(simlab.errors.ConfigError, match="data.benchmark"):
        step(np.zeros((1, 6)), ctx)


def test_optimizer_restricted_name_gets_no_new_short():
    ctx, _ = beta_context()
    current = np.array([[0.0, -0.1, 0.0, 0.0, 0.0, 0.0]])
    ctx = with_meta(dataclasses.replace(ctx, weights=current), restricted=[True, True] + [False] * 4)
    step = build(type="mean_variance", objective="utility", expected_returns="signal", risk_aversion=1.0,
                 min_weight=-0.3, max_weight=0.3, net=0.0, max_gross=1.0, window=252)
    lower, _ = step.bounds(ctx)
    np.testing.assert_allclose(lower[0], [0.0, -0.1, -0.3, -0.3, -0.3, -0.3])
    w, _ = step(current, ctx)
    assert w[0, 0] >= -1e-9 and w[0, 1] >= -0.1 - 1e-9
    ctx = with_meta(ctx, restricted=[True, True] + [False] * 4, hard_to_borrow=[False] * 5 + [True])
    lower, _ = dataclasses.replace(step, short_hard_to_borrow=False).bounds(ctx)
    np.testing.assert_allclose(lower[0], [0.0, -0.1, -0.3, -0.3, -0.3, 0.0])


def test_net_and_cash_buffer_together_are_refused():
    with pytest.raises(simlab.errors.ConfigError, match="net"):
        simlab.load_config({"name": "x", "data": {"source": "builtin:sp500_20"},
                            "pipeline": [{"type": "min_variance", "net": 0.5, "cash_buffer": 0.1}]})


def test_130_30_min_variance_runs_in_the_replay(tmp_path):
    rng = np.random.default_rng(2)
    market = rng.normal(0, 0.01, (400, 1))
    rets = market * np.linspace(0.3, 2.5, 8) + rng.normal(0, 0.004, (400, 8))  # high-beta names hedge
    close = pd.DataFrame(100 * np.cumprod(1 + rets, axis=0), index=price_frame(400, 8).index,
                         columns=price_frame(400, 8).columns)
    res = simlab.run(csv_experiment(close, tmp_path, pipeline=[
        {"type": "min_variance", "min_weight": -0.1, "max_weight": 0.4, "max_gross": 1.6, "window": 120}]))
    w = res.weights.isel(date=-1).values[0]
    assert abs(w.sum() - 1.0) < 0.02 and (w < 0).any() and np.abs(w).sum() <= 1.6 + 0.05
    diag = res.diagnostics
    levels = diag.query("key == 'fallback_level'")["value"]
    assert (levels.iloc[-10:] == 0).all()  # solved once the 120-day covariance exists


@pytest.mark.parametrize("kind", ["black_litterman", "min_variance", "mean_variance"])
def test_every_optimizer_step_honours_net_and_gross(kind):
    ctx, _ = beta_context()
    extra = {"mean_variance": {"objective": "utility", "expected_returns": "signal"}}.get(kind, {})
    net = 0.0 if kind != "min_variance" else 1.0  # a dollar-neutral minimum variance book is all cash
    step = build(type=kind, min_weight=-0.3, max_weight=0.4, net=net, max_gross=1.3, window=252, **extra)
    w, diag = step(np.zeros((1, 6)), ctx)
    assert diag["fallback_level"][0] == 0
    assert abs(w[0].sum() - net) < 1e-8 and np.abs(w[0]).sum() <= 1.3 + 1e-8 and (w[0] < -1e-6).any()


@pytest.mark.parametrize(("key", "params"), [
    ("mean_variance", {"objective": "utility", "expected_returns": "signal", "min_weight": -0.2, "max_weight": 0.4,
                       "net": 0.0, "max_gross": 1.0, "window": 60}),
    ("min_variance", {"min_weight": -0.2, "max_weight": 0.4, "max_gross": 1.6, "window": 60}),
    ("long_short_top_n", {"top_n": 3, "bottom_n": 2, "long": 1.3, "short": 0.3}),
])
def test_long_short_configurations_conform(key, params):
    """The conformance checks (batch equals separate calls, determinism, no look-ahead...)
    on the long-short configurations, not only on the long-only defaults."""
    from simlab.testing.conformance import component_checks

    cls = registry.registry("step")[key]
    for _, check in component_checks("step", cls, key, params):
        check()

"""Risk overlays, threshold by threshold: exactly at, just below and just above each one."""

from __future__ import annotations

import dataclasses

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from simlab.config import registry
from simlab.errors import ConfigError
from simlab.features.base import FeatureInputs
from simlab.risk.overlays import VixLevel, breaker_levels, drawdown_path, ewma_portfolio_variance
from simlab.risk.regime import VixThreshold
from simlab.testing.builders import make_context, price_frame

EPS = 1e-6


def step(entry: dict):
    """Build a Step from a config entry the way the engine does (validated, defaults filled)."""
    return registry.build("step", registry.resolve("step", entry, "pipeline[0]"))


def context(weights, *, close=None, nav=1.0, peak=1.0, meta=None, tradeable=None, features=None):
    ctx = make_context(weights=np.atleast_2d(weights), close=close, tradeable=tradeable)
    b = ctx.n_scenarios
    return replace(ctx, nav=np.broadcast_to(np.asarray(nav, float), (b,)).copy(),
                   peak_nav=np.broadcast_to(np.asarray(peak, float), (b,)).copy(),
                   meta=meta, features=features or {})


# ---------------------------------------------------------------------------------------
# position_limit
# ---------------------------------------------------------------------------------------


def test_position_limit_reports_capped_assets_and_excess_to_cash():
    w = np.array([[0.6, 0.3, 0.1, 0.0], [0.5, 0.5, 0.0, 0.0]])
    out, diag = step({"type": "position_limit", "max_weight": 0.4})(w, context(w))
    # A0's excess goes to A1 and A2 pro rata, which pushes A1 over the cap in turn
    np.testing.assert_allclose(out, [[0.4, 0.4, 0.2, 0.0], [0.4, 0.4, 0.0, 0.0]])
    assert diag["capped"].tolist() == [[1, 1, 0, 0], [1, 1, 0, 0]]
    np.testing.assert_allclose(diag["to_cash"], [0.0, 0.2])
    assert diag["n_capped"].tolist() == [2, 2]


# ---------------------------------------------------------------------------------------
# volatility_target
# ---------------------------------------------------------------------------------------


def returns_panel(n_rows=90, n_assets=4, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0003, 0.012, (n_rows, n_assets)) * np.linspace(0.5, 1.5, n_assets)


def test_ewma_portfolio_variance_matches_pandas():
    r = returns_panel()
    r[70, 1] = np.nan  # a missing return in a held asset drops that row for those who hold it
    w = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]])
    got = ewma_portfolio_variance(r, w, np.full(3, 20.0), np.full(3, 60.0), np.full(3, 20))
    for b in range(2):
        window = pd.DataFrame(r[-60:])
        port = window.fillna(0.0) @ w[b]
        port[window.loc[:, w[b] != 0].isna().any(axis=1)] = np.nan
        want = port.ewm(halflife=20, min_periods=20).var().iloc[-1]
        assert got[b] == pytest.approx(want, rel=1e-12)
    assert got[2] == 0.0  # an empty book has no variance


def test_ewma_portfolio_variance_is_the_quadratic_form_of_the_ewma_covariance():
    r = returns_panel()
    w = np.array([[0.4, 0.1, 0.3, 0.2]])
    cov = pd.DataFrame(r[-60:]).ewm(halflife=20).cov().loc[59].to_numpy()
    got = ewma_portfolio_variance(r, w, np.array([20.0]), np.array([60.0]), np.array([20]))
    assert got[0] == pytest.approx(w[0] @ cov @ w[0], rel=1e-12)


def test_per_scenario_lookback_and_halflife_equal_separate_calls():
    r = returns_panel()
    w = np.tile([[0.3, 0.3, 0.2, 0.2]], (2, 1))
    both = ewma_portfolio_variance(r, w, np.array([10.0, 30.0]), np.array([40.0, 80.0]), np.array([20, 20]))
    one = ewma_portfolio_variance(r[-40:], w[:1], np.array([10.0]), np.array([40.0]), np.array([20]))
    two = ewma_portfolio_variance(r[-80:], w[1:], np.array([30.0]), np.array([80.0]), np.array([20]))
    np.testing.assert_allclose(both, [one[0], two[0]], rtol=1e-12)


def vol_context(weights):
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (80, 3)), axis=0))
    return context(weights, close=close)


def annual_vol(ctx, weights):
    r = ctx.view.history("returns", 60)
    var = ewma_portfolio_variance(r, np.atleast_2d(weights), np.array([20.0]), np.array([60.0]), np.array([20]))
    return float(np.sqrt(var[0] * 252))


@pytest.mark.parametrize(
    ("bound", "ratio", "scale", "clamped"),
    [
        ("max_scale", 1.0, 1.5, 0.0),
        ("max_scale", 1.0 - EPS, 1.5 * (1 - EPS), 0.0),
        ("max_scale", 1.0 + EPS, 1.5, 1.0),
        ("min_scale", 1.0, 0.25, 0.0),
        ("min_scale", 1.0 + EPS, 0.25 * (1 + EPS), 0.0),
        ("min_scale", 1.0 - EPS, 0.25, -1.0),
    ],
)
def test_volatility_target_scale_clamps_at_its_bounds(bound, ratio, scale, clamped):
    w = np.array([[0.5, 0.3, 0.2]])
    ctx = dataclasses.replace(vol_context(w), leverage=2.0)  # room to lever up to max_scale
    vol = annual_vol(ctx, w)
    multiple = 1.5 if bound == "max_scale" else 0.25
    overlay = step({"type": "volatility_target", "target": vol * multiple * ratio})
    out, diag = overlay(w, ctx)
    assert diag["volatility"][0] == pytest.approx(vol, rel=1e-12)
    assert diag["scale"][0] == pytest.approx(scale, rel=1e-12)
    assert diag["clamped"][0] == clamped
    np.testing.assert_allclose(out, w * diag["scale"][0])


def test_volatility_target_scales_to_the_target_inside_the_bounds():
    w = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    ctx = dataclasses.replace(vol_context(w), leverage=2.0)
    out, diag = step({"type": "volatility_target", "target": 0.15})(w, ctx)
    for b in range(2):
        assert diag["scale"][b] == pytest.approx(np.clip(0.15 / annual_vol(ctx, w[b]), 0.25, 1.5))
    realized = [annual_vol(ctx, out[b]) for b in range(2)]
    np.testing.assert_allclose(realized, np.where(diag["clamped"] == 0, 0.15, realized), rtol=1e-9)


def test_volatility_target_leaves_the_book_alone_without_enough_history():
    w = np.array([[0.5, 0.5, 0.0]])
    ctx = context(w, close=100 * np.cumprod(np.full((10, 3), 1.01), axis=0))
    out, diag = step({"type": "volatility_target"})(w, ctx)
    np.testing.assert_array_equal(out, w)
    assert diag["vol_missing"][0] and np.isnan(diag["volatility"][0]) and diag["scale"][0] == 1.0


def test_volatility_target_max_gross_caps_a_levered_scale():
    w = np.array([[0.5, 0.3, 0.2]])
    ctx = dataclasses.replace(vol_context(w), leverage=2.0)
    out, diag = step({"type": "volatility_target", "target": 5.0, "max_gross": 1.0})(w, ctx)
    assert diag["scale"][0] == 1.5 and out.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("leverage", "margin", "weights", "scale", "capped"),
    [
        (1.0, None, [0.5, 0.3, 0.2], 1.0, 1.0),  # no borrowing: a full long book stays at 1
        (1.2, None, [0.5, 0.3, 0.2], 1.2, 1.0),  # cash down to -20% of NAV
        (1.2, None, [0.4, 0.2, 0.2], 1.5, 0.0),  # 80% invested: 1.5x needs 1.2x, allowed
        (1.0, 0.5, [0.5, -0.3, -0.2], 1.5, 0.0),  # dollar neutral, gross 1 -> 1.5 under the 2x margin
        (1.0, 0.8, [0.5, -0.3, -0.2], 1.25, 1.0),  # margin 80%: gross at most 1.25x
    ],
)
def test_volatility_target_levers_up_to_what_the_experiment_allows(leverage, margin, weights, scale, capped):
    w = np.array([weights])
    ctx = dataclasses.replace(vol_context(w), leverage=leverage, margin=margin)
    out, diag = step({"type": "volatility_target", "target": 50.0, "max_scale": 1.5})(w, ctx)
    assert diag["scale"][0] == pytest.approx(scale, rel=1e-12)
    assert diag["leverage_capped"][0] == capped
    np.testing.assert_allclose(out, w * scale, rtol=1e-12)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"min_scale": 2.0}, r"min_scale \(2\.0\) must not exceed max_scale \(1\.5\)"),
        ({"min_periods": 80}, r"min_periods \(80\) must not exceed lookback \(60\)"),
        ({"target": -0.1}, r"pipeline\[0\]\.target: .*greater than 0"),
    ],
)
def test_volatility_target_bad_settings(entry, match):
    with pytest.raises(ConfigError, match=match):
        step({"type": "volatility_target", **entry})


# ---------------------------------------------------------------------------------------
# drawdown_breaker
# ---------------------------------------------------------------------------------------

PEAK = 1_000_000.0


@pytest.mark.parametrize(
    ("threshold", "below", "past"),
    [(0.10, 1.00, 0.75), (0.20, 0.75, 0.50), (0.30, 0.50, 0.25)],
)
def test_drawdown_breaker_each_threshold(threshold, below, past):
    w = np.full((3, 4), 0.25)
    nav = PEAK * (1 - threshold) + np.array([0.0, 1.0, -1.0])  # exactly at, just shallower, just deeper
    assert (PEAK - nav[0]) / PEAK == threshold  # the "exactly at" drawdown is exact in floating point
    out, diag = step({"type": "drawdown_breaker", "hysteresis": 0.0})(w, context(w, nav=nav, peak=PEAK))
    np.testing.assert_array_equal(diag["exposure"], [below, below, past])
    np.testing.assert_allclose(out, w * np.array([below, below, past])[:, None])
    assert not diag["nav_history_missing"].any()


def test_drawdown_breaker_without_history_judges_today_and_says_so():
    w = np.full((1, 2), 0.5)
    out, diag = step({"type": "drawdown_breaker"})(w, context(w, nav=0.85 * PEAK, peak=PEAK))
    assert diag["level"][0] == 1 and diag["nav_history_missing"][0]
    np.testing.assert_allclose(out, 0.75 * w)


def levels(path, hysteresis=0.05, thresholds=(0.10, 0.20, 0.30)):
    dd = np.asarray(path, dtype=float)[:, None]
    return int(breaker_levels(dd, np.asarray(thresholds), np.array([hysteresis]))[0])


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ([0.0, 0.12], 1),
        ([0.0, 0.12, 0.0501], 1),            # recovered, but not past threshold - hysteresis
        ([0.0, 0.12, 0.05], 0),              # exactly at 0.10 - 0.05: re-armed
        ([0.0, 0.12, 0.04, 0.08], 0),        # re-armed, then shallower than 0.10 again: stays re-armed
        ([0.0, 0.12, 0.04, 0.1000001], 1),   # a fresh breach engages again
        ([0.0, 0.25, 0.16], 2),              # level 2 holds above 0.20 - 0.05
        ([0.0, 0.25, 0.15], 1),              # level 2 re-arms at 0.15, level 1 is still engaged
        ([0.0, 0.35, 0.26, 0.24], 2),        # 0.35 engaged all three; level 3 re-arms at or below 0.25
        ([0.0, 0.35, 0.0], 0),               # a new peak re-arms every level
        ([0.0, 0.35, 0.30, 0.20, 0.15], 1),  # stepping back up one level at a time
    ],
)
def test_breaker_rearms_only_below_threshold_minus_hysteresis(path, level):
    assert levels(path) == level


def reference_levels(dd, thresholds, hysteresis):
    """The rule as a day-by-day state machine."""
    state = 0
    for d in dd:
        state = max(state, int((d > np.asarray(thresholds)).sum()))
        while state > 0 and d <= thresholds[state - 1] - hysteresis:
            state -= 1
    return state


@pytest.mark.parametrize("seed", range(20))
def test_breaker_levels_equal_the_day_by_day_state_machine(seed):
    rng = np.random.default_rng(seed)
    nav = PEAK * np.exp(np.cumsum(rng.normal(-0.002, 0.02, (300, 4)), axis=0))
    dd = drawdown_path(nav, np.full(4, PEAK))
    thresholds, hysteresis = (0.10, 0.20, 0.30), np.array([0.0, 0.02, 0.05, 0.09])
    for t in (50, 150, 299):
        got = breaker_levels(dd[: t + 1], np.asarray(thresholds), hysteresis)
        want = [reference_levels(dd[: t + 1, b], thresholds, hysteresis[b]) for b in range(4)]
        assert got.tolist() == want


def test_drawdown_path_starts_from_a_peak_set_before_the_path():
    # the book never got back to its starting 100: the peak predates the path
    nav = np.array([[95.0], [90.0], [99.0]])
    np.testing.assert_allclose(drawdown_path(nav, np.array([100.0]))[:, 0], [0.05, 0.10, 0.01])
    # a peak inside the path: the running peak starts from the first close
    nav = np.array([[95.0], [90.0], [110.0], [99.0]])
    np.testing.assert_allclose(drawdown_path(nav, np.array([110.0]))[:, 0], [0.0, 1 - 90 / 95, 0.0, 0.10])


def test_drawdown_breaker_applies_hysteresis_on_the_nav_history():
    w = np.full((2, 2), 0.5)
    # scenario 0 fell 15% and recovered to 6% below the peak; scenario 1 only ever fell 6%
    history = PEAK * np.array([[1.0, 1.0], [0.85, 0.97], [0.94, 0.94]])
    base = context(w, nav=history[-1], peak=PEAK)
    ctx = replace(base, nav_history=history)
    out, diag = step({"type": "drawdown_breaker"})(w, ctx)
    np.testing.assert_array_equal(diag["level"], [1, 0])
    np.testing.assert_allclose(out, w * np.array([[0.75], [1.0]]))
    assert not diag["nav_history_missing"].any()
    np.testing.assert_allclose(diag["drawdown"], [0.06, 0.06])


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"thresholds": [0.2, 0.1, 0.3]}, r"thresholds must be in strictly increasing order; got \[0\.2, 0\.1, 0\.3\]"),
        ({"thresholds": [0.1, 0.1, 0.3]}, r"strictly increasing"),
        ({"exposures": [0.75, 0.5]}, r"exposures lists 2 values for 3 thresholds"),
        ({"exposures": [0.5, 0.75, 0.25]}, r"exposures \(reversed\) must be in increasing order"),
        ({"hysteresis": 0.1}, r"hysteresis \(0\.1\) must be below the first threshold \(0\.1\)"),
        ({"thresholds": [0.1, 1.2, 1.3]}, r"pipeline\[0\]\.thresholds\.1: .*less than 1"),
        ({"thresholds": []}, r"thresholds is empty"),
    ],
)
def test_drawdown_breaker_bad_settings(entry, match):
    with pytest.raises(ConfigError, match=match):
        step({"type": "drawdown_breaker", **entry})


# ---------------------------------------------------------------------------------------
# vix_regime
# ---------------------------------------------------------------------------------------


def meta(defensive):
    index = pd.Index([f"A{i}" for i in range(len(defensive))], name="asset")
    return pd.DataFrame({"defensive": defensive}, index=index)


def vix_call(weights, vix, entry=None, *, defensive=(False, False, True, True), tradeable=None):
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    vix = np.broadcast_to(np.asarray(vix, dtype=float), (w.shape[0],))
    feature = np.column_stack([vix, np.zeros_like(vix)])  # (B, 2): level, proxy flag
    ctx = context(w, meta=meta(list(defensive)), tradeable=tradeable, features={"vix": feature})
    return step({"type": "vix_regime", **(entry or {})})(w, ctx)


@pytest.mark.parametrize(
    ("vix", "moved"),
    [(24.999, 0.0), (25.0, 0.0), (25.001, 0.25), (29.999, 0.25), (30.0, 0.25), (30.001, 0.5), (80.0, 0.5)],
)
def test_vix_regime_each_threshold(vix, moved):
    w = [0.6, 0.4, 0.0, 0.0]
    out, diag = vix_call(w, vix)
    want = np.array([0.6 * (1 - moved), 0.4 * (1 - moved), moved / 2, moved / 2])
    np.testing.assert_allclose(out[0], want, atol=1e-15)
    assert diag["moved"][0] == pytest.approx(moved) and not diag["vix_missing"][0]
    assert out.sum() == pytest.approx(1.0)


def test_vix_regime_moves_a_fraction_of_the_whole_book():
    # 30% already defensive: 25% of the book leaves the non-defensive 70%, pro rata
    out, diag = vix_call([0.35, 0.35, 0.3, 0.0], 26.0)
    np.testing.assert_allclose(out[0], [0.225, 0.225, 0.425, 0.125])
    # more than the non-defensive part is asked for: all of it moves
    out, diag = vix_call([0.2, 0.0, 0.8, 0.0], 31.0)
    np.testing.assert_allclose(out[0], [0.0, 0.0, 0.9, 0.1])
    assert diag["moved"][0] == pytest.approx(0.2)


def test_vix_regime_skips_defensive_assets_absent_or_untradeable():
    entry = {"assets": ["A3", "ZZZ", "A2"]}
    out, diag = vix_call([0.5, 0.5, 0.0, 0.0], 26.0, entry, tradeable=[True, True, False, True])
    np.testing.assert_allclose(out[0], [0.375, 0.375, 0.0, 0.25])  # A2 has no price today, A3 takes it all
    assert diag["absent_defensive.ZZZ"] == 1.0
    assert diag["defensive_skipped"].tolist() == [[0.0, 0.0, 1.0, 0.0]]
    assert diag["n_defensive"][0] == 1 and not diag["no_defensive"][0]


@pytest.mark.parametrize(("when_none", "kept"), [("cash", 0.75), ("keep", 1.0)])
def test_vix_regime_without_any_defensive_asset(when_none, kept):
    w = [0.5, 0.5, 0.0, 0.0]
    out, diag = vix_call(w, 26.0, {"assets": ["ZZZ"], "when_none": when_none})
    np.testing.assert_allclose(out[0], np.array(w) * kept)
    assert diag["no_defensive"][0] and diag["absent_defensive.ZZZ"] == 1.0


def test_vix_regime_does_nothing_where_vix_is_missing():
    w = [[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]
    out, diag = vix_call(w, np.array([np.nan, 35.0]))
    np.testing.assert_allclose(out[0], w[0])
    assert diag["vix_missing"].tolist() == [True, False] and diag["level"].tolist() == [0, 2]


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"thresholds": [30, 25]}, r"thresholds must be in strictly increasing order"),
        ({"fractions": [0.5, 0.25]}, r"fractions must be in increasing order"),
        ({"fractions": [0.5]}, r"fractions lists 1 values for 2 thresholds"),
        ({"fractions": [0.25, 1.5]}, r"pipeline\[0\]\.fractions\.1: .*less than or equal to 1"),
        ({"when_none": "panic"}, r"pipeline\[0\]\.when_none"),
    ],
)
def test_vix_regime_bad_settings(entry, match):
    with pytest.raises(ConfigError, match=match):
        step({"type": "vix_regime", **entry})


def vix_market(tmp_path, vix_values):
    close = price_frame(40, 4, seed=2)
    vix = pd.Series(vix_values, index=close.index, name="vix")
    vix.rename_axis("date").to_frame().to_csv(tmp_path / "vix.csv")
    (tmp_path / "u.yaml").write_text("assets:\n  A0: {}\n  A1: {}\n  A2: {defensive: true}\n  A3: {}\n")
    return close


def test_vix_regime_in_a_run_moves_weight_on_high_vix_days(tmp_path):
    import simlab
    from simlab.testing.builders import csv_experiment

    vix_values = np.r_[np.full(20, 15.0), np.full(10, 32.0), np.full(10, np.nan)]
    close = vix_market(tmp_path, vix_values)
    cfg = csv_experiment(close, tmp_path, data={"macro": {"vix": f"csv:{tmp_path / 'vix.csv'}"}},
                         universe=str(tmp_path / "u.yaml"), schedule={"frequency": "daily"},
                         execution={"lag": 0},
                         pipeline=[{"type": "equal_weight"}, {"type": "vix_regime", "missing": "skip"}])
    res = simlab.run(cfg)
    w = res.weights.sel(scenario=res.scenarios[0])
    np.testing.assert_allclose(w.isel(date=5).to_numpy(), [0.25] * 4, atol=1e-12)
    # VIX 32: half the book leaves A0, A1 and A3 (0.75) for the defensive A2
    np.testing.assert_allclose(w.isel(date=25).to_numpy(), [0.25 / 3, 0.25 / 3, 0.75, 0.25 / 3], atol=1e-12)
    np.testing.assert_allclose(w.isel(date=35).to_numpy(), [0.25] * 4, atol=1e-12)
    d = res.diagnostics
    missing = d[(d.step == "1:vix_regime") & (d.key == "vix_missing")].set_index("date").value
    assert missing.iloc[:30].eq(0).all() and missing.iloc[30:].eq(1).all()


def vix_inputs(vix, benchmark):
    n = len(vix)
    close = np.full((n, 1), 100.0)
    return FeatureInputs(dates=pd.bdate_range("2020-01-01", periods=n), assets=("A0",), close=close,
                         returns=np.zeros((n, 1)), volume=None, benchmark=benchmark, macro={"vix": vix}, meta=None)


def test_vix_level_takes_the_regime_detectors_proxy_where_vix_is_missing():
    rng = np.random.default_rng(1)
    benchmark = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, 80)))
    vix = np.r_[np.full(40, 20.0), np.full(40, np.nan)]
    inputs, rows = vix_inputs(vix, benchmark), np.arange(30, 80)
    got = VixLevel("vix", proxy=True).compute(inputs, rows)
    _, level, used = VixThreshold().statistic(inputs)
    np.testing.assert_array_equal(got[:, 0], level[rows])
    np.testing.assert_array_equal(got[:, 1], used[rows])
    assert got[:10, 0].tolist() == [20.0] * 10 and not got[:10, 1].any()  # the VIX itself
    assert got[-20:, 1].all() and np.isfinite(got[-20:, 0]).all()          # the proxy
    skipped = VixLevel("vix", proxy=False).compute(inputs, rows)
    assert np.isnan(skipped[10:, 0]).all() and not skipped[:, 1].any()


def test_vix_regime_records_proxy_days():
    w = np.full((2, 4), 0.25)
    feature = np.array([[26.0, 0.0], [31.0, 1.0]])
    ctx = context(w, meta=meta([False, False, True, True]), features={"vix": feature})
    _, diag = step({"type": "vix_regime"})(w, ctx)
    assert diag["vix_proxy"].tolist() == [False, True] and diag["level"].tolist() == [1, 2]


def test_vix_proxy_without_a_benchmark_is_a_clear_error(tmp_path):
    import simlab
    from simlab.errors import DataError
    from simlab.testing.builders import csv_experiment

    close = vix_market(tmp_path, np.r_[np.full(20, 15.0), np.full(20, np.nan)])
    cfg = csv_experiment(close, tmp_path, data={"macro": {"vix": f"csv:{tmp_path / 'vix.csv'}"}},
                         universe=str(tmp_path / "u.yaml"), pipeline=[{"type": "equal_weight"}, {"type": "vix_regime"}])
    with pytest.raises(DataError, match=r"no benchmark for the realized-volatility proxy") as info:
        simlab.run(cfg)
    assert any("missing: skip" in note for note in info.value.__notes__)


def test_vix_regime_without_the_macro_series_says_how_to_add_it(tmp_path):
    import simlab
    from simlab.testing.builders import csv_experiment

    close = price_frame(20, 3, seed=2)
    cfg = csv_experiment(close, tmp_path, pipeline=[{"type": "equal_weight"}, {"type": "vix_regime"}])
    match = r"macro series 'vix' is not in the data \(it has: none\); add it under data\.macro"
    with pytest.raises(ConfigError, match=match):
        simlab.run(cfg)


# ---------------------------------------------------------------------------------------
# Point in time: changing data after t changes nothing decided at or before t
# ---------------------------------------------------------------------------------------


def test_overlays_checks_and_policies_do_not_look_ahead(tmp_path):
    import simlab
    from simlab.testing.builders import csv_experiment

    t = 70
    close = price_frame(100, 4, seed=9, vol=0.03)
    vix = pd.Series(np.linspace(15.0, 35.0, 100), index=close.index, name="vix")
    (tmp_path / "u.yaml").write_text(
        "assets:\n  A0: {sector: Energy}\n  A1: {sector: Energy}\n"
        "  A2: {sector: Utilities, defensive: true}\n  A3: {sector: Financials}\n")
    pipeline = [{"type": "equal_weight"}, {"type": "volatility_target", "min_periods": 10},
                {"type": "drawdown_breaker"}, {"type": "vix_regime"},
                {"type": "sector_concentration_check", "max_sector_weight": 0.6}, {"type": "max_turnover_check"},
                {"type": "drift_band", "band": 0.02}, {"type": "trade_threshold"}]

    def run(close, vix, folder):
        folder.mkdir()
        vix.rename_axis("date").to_frame().to_csv(folder / "vix.csv")
        cfg = csv_experiment(close, folder, data={"macro": {"vix": f"csv:{folder / 'vix.csv'}"}},
                             universe=str(tmp_path / "u.yaml"), schedule={"frequency": "daily"},
                             execution={"lag": 0}, pipeline=pipeline)
        return simlab.run(cfg)

    base = run(close, vix, tmp_path / "base")
    rng = np.random.default_rng(0)
    close2, vix2 = close.copy(), vix.copy()
    close2.iloc[t + 1:] *= rng.uniform(0.5, 1.5, close2.iloc[t + 1:].shape)
    vix2.iloc[t + 1:] = rng.uniform(10, 60, len(vix2) - t - 1)
    moved = run(close2, vix2, tmp_path / "moved")
    cut = base.dates[t]
    # decisions fill at their own close (lag 0): everything decided up to t is in the book by t
    pd.testing.assert_frame_equal(base.nav.loc[:cut], moved.nav.loc[:cut])
    np.testing.assert_array_equal(base.weights.sel(date=slice(None, cut)), moved.weights.sel(date=slice(None, cut)))
    before = lambda trades: trades[trades.date <= cut].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(before(base.trades), before(moved.trades))
    w = base.weights.sel(scenario=base.scenarios[0], date=cut).to_numpy()
    assert w[2] > w[[0, 1, 3]].max()  # the VIX is above 25 from row 50 on: the defensive A2 gained

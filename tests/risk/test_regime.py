"""Regime detectors: thresholds, the VIX proxy, the HMM's filter, point in time, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.errors import ConfigError, DataError
from simlab.features.base import FeatureInputs
from simlab.config import registry
from simlab.risk.regime import (
    SNAP,
    Detector,
    RegimeLimits,
    RegimeState,
    detector_config,
    parse_detector,
    realized_volatility,
    smooth,
    trailing_percentile,
)


def inputs(bench=None, vix=None, n=None, start="2020-01-01"):
    n = n or len(bench if bench is not None else vix)
    dates = pd.bdate_range(start, periods=n, name="date")
    return FeatureInputs(
        dates=dates, assets=("A0",), close=np.full((n, 1), 100.0), returns=np.zeros((n, 1)),
        volume=None, benchmark=None if bench is None else np.asarray(bench, float),
        macro={} if vix is None else {"vix": np.asarray(vix, float)}, meta=None,
    )


def random_walk(n, seed=0, vol=0.01, calm_stress=None):
    rng = np.random.default_rng(seed)
    sd = np.full(n, vol)
    if calm_stress is not None:
        sd = np.where(calm_stress, 4 * vol, vol)
    return 100 * np.exp(np.cumsum(rng.normal(0, sd)))


# --------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize("level", [20.0, 30.0, 40.0])
def test_vix_levels_exactly_at_just_below_and_just_above(level):
    det = parse_detector({"type": "vix_threshold"})
    below = {20.0: 0, 30.0: 1, 40.0: 2}[level]
    vix = [level - 1e-9, level, level + 1e-9]
    path = det.path(inputs(vix=vix))
    assert path.label.tolist() == [below, below, below + 1]  # a level is crossed only when exceeded
    assert not path.proxy.any()
    assert path.stress.tolist() == [lab >= 2 for lab in path.label]


def test_vix_proxy_where_missing_is_scaled_realized_vol_and_flagged():
    bench = random_walk(80, seed=3)
    vix = np.full(80, np.nan)
    vix[50:60] = 25.0
    det = parse_detector({"type": "vix_threshold", "max_stale": 0})
    path = det.path(inputs(bench=bench, vix=vix))
    expected = pd.Series(np.log(bench)).diff().rolling(21).std().to_numpy() * np.sqrt(252) * 100 * 1.3
    np.testing.assert_allclose(path.score[21:50], expected[21:50], rtol=1e-12)
    np.testing.assert_array_equal(path.score[50:60], 25.0)
    assert path.proxy[21:50].all() and not path.proxy[50:60].any() and path.proxy[60:].all()
    assert not path.known[:21].any() and path.label[:21].tolist() == [0] * 21  # warm-up: label 0
    assert not path.proxy[:21].any()  # no statistic at all, not a proxy day


def test_vix_carried_over_holidays_up_to_max_stale():
    bench = random_walk(40, seed=1)
    vix = np.full(40, 22.0)
    vix[30:] = np.nan
    path = parse_detector({"type": "vix_threshold", "max_stale": 3}).path(inputs(bench=bench, vix=vix))
    assert not path.proxy[30:33].any() and (path.score[30:33] == 22.0).all()
    assert path.proxy[33:].all()


def test_vix_missing_without_benchmark_is_a_data_error():
    with pytest.raises(DataError, match="proxy"):
        parse_detector({"type": "vix_threshold"}).path(inputs(vix=[np.nan, 20.0]))


def test_trend_levels_at_below_and_above():
    det = parse_detector({"type": "trend", "window": 4, "levels": [0.0, -0.05]})
    # a flat index at 100, then the last day moves so that level / MA4 - 1 hits each case
    def label(last):
        bench = [100.0] * 6 + [last]
        ma = np.mean(bench[-4:])
        return int(det.path(inputs(bench=bench)).label[-1]), last / ma - 1

    # deviation exactly 0 -> not below 0; a hair below 0 -> 1
    assert label(100.0) == (0, 0.0)
    assert label(100.0 - 1e-7)[0] == 1
    # solve level/MA - 1 = -0.05 with MA = (300 + x) / 4: x = 0.95 * (300 + x) / 4
    x = 0.95 * 300 / (4 - 0.95)
    lab, dev = label(x)
    assert dev == pytest.approx(-0.05, abs=1e-12)
    assert label(x * (1 - 1e-7))[0] == 2 and label(x * (1 + 1e-7))[0] == 1


def test_realized_vol_percentile_matches_a_brute_force_rank():
    vol = np.random.default_rng(0).uniform(size=40)
    vol[5] = np.nan
    pct = trailing_percentile(vol, lookback=10, min_history=5)
    for t in range(40):
        window = vol[max(0, t - 9): t + 1]
        window = window[np.isfinite(window)]
        if not np.isfinite(vol[t]) or len(window) < 5:
            assert np.isnan(pct[t])
        else:
            assert pct[t] == pytest.approx((window <= vol[t]).mean())
    det = parse_detector({"type": "realized_vol_percentile", "window": 5, "lookback": 30, "min_history": 10})
    path = det.path(inputs(bench=random_walk(60, seed=2)))
    assert set(np.unique(path.label)) <= {0, 1, 2}
    assert path.known.sum() > 0 and not path.known[:14].any()


def test_realized_volatility_equals_pandas():
    bench = random_walk(50, seed=9)
    expected = pd.Series(np.log(bench)).diff().rolling(10).std() * np.sqrt(252)
    np.testing.assert_allclose(realized_volatility(bench, 10), expected.to_numpy(), equal_nan=True)


def test_force_stress_windows():
    vix = np.full(30, 12.0)
    ins = inputs(vix=vix)
    det = parse_detector({"type": "vix_threshold", "force_stress": [["2020-01-08", "2020-01-10"]]})
    path = det.path(ins)
    forced = (ins.dates >= "2020-01-08") & (ins.dates <= "2020-01-10")
    np.testing.assert_array_equal(path.stress, forced)
    np.testing.assert_array_equal(path.label[forced], 2)
    np.testing.assert_array_equal(RegimeState(det).compute(ins, np.arange(30)), forced.astype(int))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("spec, match", [
    ({"type": "vix_threshold", "levels": [30, 20]}, r"regime: levels must be strictly increasing; got 30.0 then 20.0"),
    ({"type": "vix_threshold", "levels": [20, 20]}, "strictly increasing"),
    ({"type": "vix_threshold", "levels": [-5, 20]}, "must be > 0"),
    ({"type": "vix_threshold", "levels": [10, 20, 30, 40]}, "1 to 3"),
    ({"type": "vix_threshold", "levels": [20], "stress_from": 2}, "beyond the last label 1"),
    ({"type": "trend", "levels": [-0.05, 0.0]}, "strictly decreasing"),
    ({"type": "realized_vol_percentile", "levels": [0.9, 0.8]}, "strictly increasing"),
    ({"type": "realized_vol_percentile", "levels": [0.8, 1.2]}, r"in \(0, 1\)"),
    ({"type": "hmm", "stress_from": 2}, "beyond the last label 1"),
    ({"type": "hmm", "threshold": 1.5}, "threshold"),
    ({"type": "vix_threshold", "force_stress": [["2020-02-01", "2020-01-01"]]}, "ends before it starts"),
    ({"type": "vix_treshold", "levels": [20]}, r"regime\.type: unknown detector 'vix_treshold'\. "
     r"Did you mean 'vix_threshold'\? "
     "Valid detectors: hmm, realized_vol_percentile, trend, vix_threshold"),
    ({"type": "trend", "windw": 200}, r"regime\.windw: unknown key for 'trend'\. Did you mean 'window'\? Valid keys: "),
    ({"levels": [20]}, "regime: missing 'type'; valid detectors: hmm, "),
    ("vix_threshold", "regime: expected a mapping with a 'type' key"),
])
def test_bad_detector_configs(spec, match):
    with pytest.raises(ConfigError, match=match):
        parse_detector(spec)


def test_detectors_are_a_registry_kind_and_round_trip_through_their_config():
    table = registry.registry("detector")
    assert set(table) == {"vix_threshold", "realized_vol_percentile", "trend", "hmm"}
    assert all(issubclass(cls, Detector) for cls in table.values())
    det = parse_detector({"type": "trend", "window": 50})
    assert type(det) is table["trend"] and det.type == "trend"
    config = detector_config(det)
    assert config == {"type": "trend", "stress_from": 2, "force_stress": [], "levels": [0.0, -0.05], "window": 50}
    assert parse_detector(config) == det


@pytest.mark.parametrize("spec, match", [
    ({"type": "vix"}, r"^pipeline\[0\]\.regime: type: unknown detector 'vix'\. Valid detectors: hmm"),
    ({"type": "trend", "windw": 2}, r"^pipeline\[0\]\.regime: windw: unknown key for 'trend'\. Did you mean 'window'"),
    ({"type": "trend", "levels": [-0.05, 0]}, r"^pipeline\[0\]\.regime: levels must be strictly decreasing"),
])
def test_a_detector_inside_a_step_reports_its_keys_below_the_step_field(spec, match):
    with pytest.raises(ConfigError, match=match):
        registry.resolve("step", {"type": "regime_constraints", "regime": spec}, "pipeline[0]")


# --------------------------------------------------------------------------- hidden Markov model


def test_hmm_detector_labels_stress_blocks_and_is_seeded():
    n = 900
    stress = (np.arange(n) // 120) % 2 == 1
    bench = random_walk(n, seed=6, calm_stress=stress)
    spec = {"type": "hmm", "min_history": 250, "refit": "quarterly", "seed": 3}
    a = parse_detector(spec).path(inputs(bench=bench))
    b = parse_detector(spec).path(inputs(bench=bench))
    np.testing.assert_array_equal(a.score, b.score)  # same seed, same numbers
    known = a.known
    assert not known[:250].any() and known[300:].all()
    assert (a.label[known] == stress[known]).mean() > 0.85
    assert np.nanmin(a.score) >= 0 and np.nanmax(a.score) <= 1


# --------------------------------------------------------------------------- point in time


@pytest.mark.parametrize("spec", [
    {"type": "vix_threshold"},
    {"type": "realized_vol_percentile", "window": 10, "lookback": 100, "min_history": 20},
    {"type": "trend", "window": 30},
    {"type": "hmm", "min_history": 150, "refit": "monthly", "max_iter": 10},
])
def test_labels_and_probabilities_do_not_change_when_the_future_changes(spec):
    n, t = 420, 300
    bench = random_walk(n, seed=8, calm_stress=(np.arange(n) // 90) % 2 == 1)
    vix = np.where(np.arange(n) < 200, np.nan, 15 + 20 * np.random.default_rng(1).uniform(size=n))
    future = bench.copy()
    future[t + 1:] *= np.exp(np.random.default_rng(2).normal(0, 0.05, n - t - 1)).cumprod()
    vix_future = vix.copy()
    vix_future[t + 1:] = 80.0
    det = parse_detector(spec)
    a = det.path(inputs(bench=bench, vix=vix))
    b = det.path(inputs(bench=future, vix=vix_future))
    for field in ("label", "stress", "score", "proxy", "known"):
        np.testing.assert_array_equal(getattr(a, field)[: t + 1], getattr(b, field)[: t + 1], err_msg=field)
    assert not np.array_equal(a.score[t + 1:], b.score[t + 1:])  # the change did reach the detector


# --------------------------------------------------------------------------- smoothing


def test_smoothing_across_normal_stress_normal():
    target = np.array([1.0] * 3 + [0.6] * 5 + [1.0] * 30)[:, None]
    m = smooth(target, 0.3)[:, 0]
    np.testing.assert_array_equal(m[:3], 1.0)
    # each day closes 30% of the gap: after k stress days the gap is 0.4 * 0.7 ** k
    for k in range(1, 6):
        assert m[2 + k] == pytest.approx(0.6 + 0.4 * 0.7 ** k, abs=1e-15)
    # back to normal: the gap from the last stress value shrinks the same way
    last = m[7]
    for k in range(1, 10):
        assert m[7 + k] == pytest.approx(1.0 - (1.0 - last) * 0.7 ** k, abs=1e-15)
    # and snaps onto the target once within SNAP of it (no endless approach)
    assert m[-1] == 1.0 and np.all(np.diff(m[8:]) >= 0)
    snapped = np.argmax(m[8:] == 1.0) + 8
    assert 1.0 - m[snapped - 1] > SNAP and (1.0 - m[snapped - 1]) * 0.7 <= SNAP


def test_smoothing_alpha_one_is_the_step_change_and_matches_pandas_ewm():
    target = np.array([1.0, 1.0, 0.5, 0.5, 1.0, 0.8])[:, None]
    np.testing.assert_array_equal(smooth(target, 1.0), target)
    x = np.random.default_rng(0).uniform(size=(20, 3))
    expected = pd.DataFrame(x).ewm(alpha=0.3, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(smooth(x, 0.3, snap=0.0), expected, rtol=1e-12)


def test_regime_limits_feature_reads_the_daily_smoothed_path_at_decision_rows():
    vix = np.array([12.0] * 5 + [35.0] * 4 + [12.0] * 6)
    det = parse_detector({"type": "vix_threshold"})
    table = ((1.0,), (1.0,), (0.5,), (0.5,))  # one value per label 0..3
    rows = np.array([4, 6, 8, 12])
    got = RegimeLimits(det, table, 0.3).compute(inputs(vix=vix), rows)
    daily = smooth(np.where(vix > 30, 0.5, 1.0)[:, None], 0.3)[:, 0]
    np.testing.assert_allclose(got[:, -1], daily[rows])
    np.testing.assert_array_equal(got[:, 0], [0, 2, 2, 0])  # labels
    assert got[1, -1] == pytest.approx(1.0 - 0.5 * (1 - 0.7 ** 2))  # two smoothed days, not one step


@pytest.mark.parametrize("kind, levels", [
    ("realized_vol_percentile", [0.80, 0.95]),
    ("vix_threshold", [20.0, 30.0, 40.0]),
])
def test_percentile_and_vix_levels_at_below_above(kind, levels):
    from simlab.risk.regime import _count_beyond

    for i, level in enumerate(levels):
        got = _count_beyond(np.array([level - 1e-12, level, level + 1e-12]), levels, above=True)
        assert got.tolist() == [i, i, i + 1]


def test_hmm_threshold_at_below_and_above():
    from simlab.risk.regime import HiddenMarkov

    class Fixed(HiddenMarkov):
        def filtered_probability(self, x, dates):
            return np.array([np.nan, 0.5 - 1e-12, 0.5, 0.5 + 1e-12, 0.9])

    path = Fixed(threshold=0.5).path(inputs(bench=random_walk(5)))
    assert path.label.tolist() == [0, 0, 0, 1, 1]
    assert path.known.tolist() == [False, True, True, True, True]

"""The Covariance Feature: missing history, point in time, regimes, validation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simlab.data import generate_market
from simlab.errors import ConfigError
from simlab.features.base import Feature, FeatureTable
from simlab.features.covariance import Covariance, RegimeFallback
from simlab.risk.regime import feature_inputs

WINDOW = 120


@pytest.fixture(scope="module")
def market():
    md = generate_market(n_assets=10, n_days=700, seed=11)
    inputs = feature_inputs(md)
    r = inputs.returns.copy()
    r[:300, 4] = np.nan        # lists late
    r[400:405, 6] = np.nan     # a gap
    return replace(inputs, returns=r, macro={"regime": md.provenance["truth"]["regime"].astype(float)})


ROWS = np.arange(WINDOW + 10, 700, 21)


@pytest.mark.parametrize("estimator", ["sample", "ewma", "ledoit_wolf", "ledoit_wolf_cc"])
def test_assets_without_full_history_are_nan_and_the_rest_is_psd(market, estimator):
    cov = Covariance(estimator=estimator, window=WINDOW).compute(market, ROWS)
    assert cov.shape == (len(ROWS), 10, 10)
    for r, t in enumerate(ROWS):
        keep = np.isfinite(market.returns[t - WINDOW + 1:t + 1]).all(axis=0)
        assert np.isnan(cov[r][~keep]).all() and np.isnan(cov[r][:, ~keep]).all()
        block = cov[r][np.ix_(keep, keep)]
        assert np.isfinite(block).all()
        np.testing.assert_array_equal(block, block.T)
        assert np.linalg.eigvalsh(block)[0] > -1e-12 * np.trace(block)
    assert not np.isnan(cov[-1, 4, 4]) and np.isnan(cov[0, 4, 4])


def test_sample_is_np_cov_of_the_window(market):
    cov = Covariance(window=WINDOW).compute(market, ROWS)
    t = ROWS[-1]
    np.testing.assert_allclose(cov[-1], np.cov(market.returns[t - WINDOW + 1:t + 1], rowvar=False), rtol=1e-10)


def test_min_periods_estimates_pairwise_and_repairs(market):
    feature = Covariance(window=WINDOW, min_periods=60)
    batch = feature.estimate(market, ROWS)
    at = int(np.searchsorted(ROWS, 360))  # asset 4 has 61+ rows there, not a full window
    assert batch.included[at, 4] and np.isfinite(batch.cov[at, 4, 4])
    for r in range(len(ROWS)):
        keep = batch.included[r]
        block = batch.cov[r][np.ix_(keep, keep)]
        d = np.sqrt(np.diag(block))
        assert np.linalg.eigvalsh(block / np.outer(d, d))[0] > -1e-9


def perturbed_after(inputs, t, seed=0):
    rng = np.random.default_rng(seed)
    r = inputs.returns.copy()
    r[t + 1:] = rng.standard_normal(r[t + 1:].shape) * 0.05
    macro = {k: v.copy() for k, v in inputs.macro.items()}
    macro["regime"][t + 1:] = 1 - macro["regime"][t + 1:]
    return replace(inputs, returns=r, macro=macro)


@pytest.mark.parametrize("feature", [
    Covariance(estimator="ewma", window=WINDOW, halflife=10.0),
    Covariance(estimator="ledoit_wolf", window=WINDOW),
    Covariance(estimator="sample", window=None),
    Covariance(estimator="sample", window=WINDOW, regime="regime", min_regime_obs=20),
], ids=str)
def test_values_at_or_before_t_ignore_the_future(market, feature):
    t = int(ROWS[len(ROWS) // 2])
    before = feature.compute(market, ROWS)
    after = feature.compute(perturbed_after(market, t), ROWS)
    past = ROWS <= t
    np.testing.assert_array_equal(before[past], after[past])
    assert not np.allclose(np.nan_to_num(before[~past]), np.nan_to_num(after[~past]))


def test_regime_conditional_uses_rows_of_the_current_regime(market):
    labels = market.macro["regime"].astype(int)
    feature = Covariance(window=None, regime="regime", min_regime_obs=100)
    batch = feature.estimate(market, ROWS)
    fallback = RegimeFallback(feature).compute(market, ROWS)
    np.testing.assert_array_equal(batch.regime_fallback, fallback)
    assert fallback.any() and not fallback.all()
    for r, t in enumerate(ROWS):
        same = np.nonzero(labels[:t + 1] == labels[t])[0]
        if fallback[r]:
            assert len(same) < 100
            continue
        x = market.returns[same]
        keep = np.isfinite(x).sum(axis=0) >= 2
        assert batch.n_obs[r] == len(same)
        ref = np.cov(np.where(np.isfinite(x), x, np.nan)[:, keep][np.isfinite(x[:, keep]).all(axis=1)], rowvar=False)
        if np.isfinite(x[:, keep]).all():
            np.testing.assert_allclose(batch.cov[r][np.ix_(keep, keep)], ref, rtol=1e-10)


def test_regime_fallback_equals_the_unconditional_estimate(market):
    conditional = Covariance(window=WINDOW, regime="regime", min_regime_obs=10_000).compute(market, ROWS)
    plain = Covariance(window=WINDOW).compute(market, ROWS)
    np.testing.assert_array_equal(conditional, plain)


def test_regime_from_a_feature(market):
    class Labels(Feature):
        def compute(self, inputs, rows):
            return inputs.macro["regime"][rows]

    labels = Labels()
    by_feature = Covariance(window=WINDOW, regime=labels, min_regime_obs=20).compute(market, ROWS)
    by_name = Covariance(window=WINDOW, regime="regime", min_regime_obs=20).compute(market, ROWS)
    np.testing.assert_array_equal(by_feature, by_name)


def test_feature_table_computes_it_once_and_serves_rows(market):
    table = FeatureTable(market, ROWS)
    feature = Covariance(estimator="ewma", halflife=15.0, window=WINDOW)
    table.add(feature)
    table.add(Covariance(estimator="ewma", halflife=15.0, window=WINDOW))
    stack = table.at([feature, feature], int(ROWS[3]))
    assert stack.shape == (2, 10, 10)
    assert hash(feature) == hash(Covariance(estimator="ewma", halflife=15.0, window=WINDOW))


@pytest.mark.parametrize("kwargs,match", [
    ({"estimator": "shrunk"}, r"covariance.estimator must be one of"),
    ({"window": 1}, r"covariance.window must be an integer >= 2 or None"),
    ({"estimator": "ledoit_wolf", "window": None}, r"covariance.window must be an integer >= 2 for estimator"),
    ({"estimator": "sample", "halflife": 10.0}, r"covariance.halflife must be a number > 0, for estimator 'ewma' only"),
    ({"estimator": "ledoit_wolf", "min_periods": 50}, r"covariance.min_periods must be None or an integer >= 2"),
    ({"regime": 3}, r"covariance.regime must be None, a Feature of labels or a macro series name"),
    ({"backend": "gpu"}, r"covariance.backend must be one of"),
])
def test_bad_fields_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Covariance(**kwargs)


def test_unknown_macro_regime_names_the_choices(market):
    with pytest.raises(ConfigError, match=r"regime: no macro series 'vix'; available: \['regime'\]"):
        Covariance(regime="vix").compute(market, ROWS)


def test_functional_regime_conditional(market):
    import pandas as pd

    from simlab.features import covariance

    returns = pd.DataFrame(market.returns[1:, [0, 1, 2, 3]])
    labels = market.macro["regime"][1:].astype(int)
    cov, fell_back = covariance.regime_conditional(returns, labels, window=400, min_obs=20)
    same = np.nonzero(labels[-400:] == labels[-1])[0] + len(returns) - 400
    assert not fell_back
    np.testing.assert_allclose(cov.to_numpy(), np.cov(returns.to_numpy()[same], rowvar=False), rtol=1e-10)
    cov, fell_back = covariance.regime_conditional(returns, labels, window=400, min_obs=10_000)
    assert fell_back
    np.testing.assert_allclose(cov.to_numpy(), returns.iloc[-400:].cov().to_numpy(), rtol=1e-10)


def test_regime_from_the_regime_detectors_feature(market):
    from simlab.risk.regime import RegimeLabels, parse_detector

    detector = parse_detector({"type": "trend", "window": 50})
    inputs = replace(market, benchmark=np.cumprod(1 + np.nan_to_num(market.returns[:, 0])))
    feature = Covariance(window=WINDOW, regime=RegimeLabels(detector), min_regime_obs=20)
    labels = RegimeLabels(detector).compute(inputs, np.arange(len(inputs.returns)))[:, 0]
    np.testing.assert_array_equal(feature.labels(inputs), labels.astype(int))
    by_macro = Covariance(window=WINDOW, regime="trend", min_regime_obs=20)
    np.testing.assert_array_equal(
        feature.compute(inputs, ROWS), by_macro.compute(replace(inputs, macro={"trend": labels}), ROWS))


def test_rolling_covariance_is_the_exact_estimate_to_rounding_and_checked():
    import simlab

    cfg = {"name": "rolling", "data": {"source": "synthetic", "n_assets": 12, "n_days": 400, "seed": 3,
                                       "benchmark": None},
           "schedule": {"frequency": "daily"}, "costs": {"type": "flat", "bps": 5},
           "pipeline": [{"type": "min_variance", "estimator": "ledoit_wolf", "window": 120, "max_weight": 0.3,
                         "turnover_penalty": 0.001, "solver": "active_set"}]}
    exact = simlab.run(cfg)
    cfg["pipeline"][0]["rolling_covariance"] = True
    rolled = simlab.run(cfg)
    assert np.abs(exact.weights.to_numpy() - rolled.weights.to_numpy()).max() < 1e-9
    with pytest.raises(ConfigError, match="covariance.rolling"):
        Covariance("ewma", 60, halflife=20, rolling=True)

"""Factor risk models against scikit-learn's PCA, numpy's SVD and statsmodels' OLS; point in time."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from simlab.data import generate_market, load
from simlab.errors import ConfigError
from simlab.features import factor_model as fm
from simlab.features.factor_model import FactorRisk
from simlab.risk.regime import feature_inputs

WINDOW = 150


@pytest.fixture(scope="module")
def market():
    md = generate_market(n_assets=12, n_days=600, seed=5, late_listing=0.2)
    return feature_inputs(md)


@pytest.fixture(scope="module")
def etf_market():
    """The 20 built-in stocks with the factor ETFs' levels as macro series, 2014-2016."""
    stocks = load("builtin:sp500_20").close.loc["2014-01-02":"2016-12-30"]
    etfs = load("builtin:factor_etfs").close.reindex(stocks.index)
    from simlab.data.market import MarketData

    md = MarketData(close=stocks, macro=etfs)
    return feature_inputs(md), stocks.pct_change(), etfs.pct_change()


def test_pca_matches_sklearn_and_numpy_svd():
    PCA = pytest.importorskip("sklearn.decomposition").PCA
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 25)) @ rng.normal(size=(25, 25)) * 0.01
    loadings, var, spec = fm.pca_model(pd.DataFrame(x), 4)
    ref = PCA(4).fit(x)
    np.testing.assert_allclose(loadings.to_numpy(), ref.components_.T, atol=1e-10)
    np.testing.assert_allclose(var.to_numpy(), ref.explained_variance_, rtol=1e-10)
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(loadings.to_numpy()), np.abs(vt[:4].T), atol=1e-10)
    np.testing.assert_allclose(var.to_numpy(), s[:4] ** 2 / (len(x) - 1), rtol=1e-10)
    # the model keeps the sample variances: specific = what the k factors leave
    total = np.var(x, axis=0, ddof=1)
    np.testing.assert_allclose(spec.to_numpy() + (loadings.to_numpy() ** 2 * var.to_numpy()).sum(axis=1), total,
                               rtol=1e-10)


def test_fundamental_betas_match_statsmodels_ols(etf_market):
    sm = pytest.importorskip("statsmodels.api")
    _, stocks, etfs = etf_market
    window_r, window_f = stocks.iloc[1:253], etfs.iloc[1:253]
    betas, cov, spec = fm.fundamental_model(window_r, window_f)
    for asset in ("AAPL", "XOM", "KO"):
        fit = sm.OLS(window_r[asset], sm.add_constant(window_f)).fit()
        np.testing.assert_allclose(betas.loc[asset].to_numpy(), fit.params.to_numpy()[1:], rtol=1e-9, atol=1e-12)
        assert spec[asset] == pytest.approx(fit.mse_resid, rel=1e-9)
    np.testing.assert_allclose(cov.to_numpy(), window_f.cov().to_numpy(), rtol=1e-12)


def test_fundamental_feature_rebuilds_b_f_b_plus_d(etf_market):
    inputs, stocks, etfs = etf_market
    feature = FactorRisk(model="fundamental", window=252, factors=("MTUM", "QUAL", "SIZE", "USMV", "VLUE"))
    rows = np.array([252, 400, 600])
    values = feature.compute(inputs, rows)
    assert values.shape == (3, 20, 6)
    for i, t in enumerate(rows):
        betas, cov, spec = fm.fundamental_model(stocks.iloc[t - 251:t + 1], etfs.iloc[t - 251:t + 1])
        dense = betas.to_numpy() @ cov.to_numpy() @ betas.to_numpy().T + np.diag(spec.to_numpy())
        np.testing.assert_allclose(fm.covariance_of(values[i]), dense, rtol=1e-10, atol=1e-16)


def test_pca_feature_is_the_window_model_and_nan_without_history(market):
    feature = FactorRisk(model="pca", window=WINDOW, n_factors=3)
    rows = np.arange(WINDOW - 1, 600, 50)
    values = feature.compute(market, rows)
    for i, t in enumerate(rows):
        block = market.returns[t - WINDOW + 1:t + 1]
        have = np.isfinite(block).all(axis=0)
        assert np.isnan(values[i][~have]).all()
        b, lam, d = fm.pca_window(block[:, have], 3)
        np.testing.assert_allclose(fm.covariance_of(values[i][have]), b @ np.diag(lam) @ b.T + np.diag(d), atol=1e-15)
        # the dense model keeps the window's sample variances
        np.testing.assert_allclose(np.diag(fm.covariance_of(values[i][have])), block[:, have].var(axis=0, ddof=1),
                                   rtol=1e-9)


def test_pca_model_recovers_the_true_factor_structure():
    md = generate_market(n_assets=150, n_days=2000, seed=3, p_enter_stress=0.001, p_exit_stress=1.0)
    truth = md.provenance["truth"]
    r = np.diff(np.log(md.close.to_numpy()), axis=0)
    b, _lam, _ = fm.pca_window(r, 1)
    # the first component is the market: its loadings line up with the true market betas
    corr = np.corrcoef(b[:, 0], truth["loadings"][:, 0])[0, 1]
    assert abs(corr) > 0.95


def test_values_at_or_before_t_ignore_the_future(market):
    feature = FactorRisk(window=WINDOW, n_factors=2)
    rows = np.arange(WINDOW, 600, 40)
    t = int(rows[len(rows) // 2])
    before = feature.compute(market, rows)
    r = market.returns.copy()
    r[t + 1:] = np.random.default_rng(1).standard_normal(r[t + 1:].shape) * 0.05
    after = feature.compute(replace(market, returns=r), rows)
    past = rows <= t
    np.testing.assert_array_equal(before[past], after[past])


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "apt"}, "model must be one of"),
    ({"window": 2}, "window must be"),
    ({"n_factors": 0}, "n_factors must be"),
    ({"model": "fundamental"}, "factors must be"),
    ({"model": "fundamental", "factors": ("a", "b"), "window": 4}, "window must be"),
])
def test_bad_fields_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FactorRisk(**kwargs)


def test_unknown_factor_series_names_the_choices(market):
    with pytest.raises(ConfigError, match=r"no macro series \['MTUM'\]"):
        FactorRisk(model="fundamental", factors=("MTUM",)).compute(market, np.array([200]))

"""Covariance estimators against pandas and scikit-learn, on real and synthetic data (1e-10)."""

from __future__ import annotations

import numpy as np
import pytest

from simlab.data import generate_market, load
from simlab.features import covariance
from simlab.features.covariance import Covariance
from simlab.risk.regime import feature_inputs

RTOL = 1e-10


def assert_close(actual, expected):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(np.nan_to_num(actual), np.nan_to_num(expected), rtol=RTOL,
                               atol=RTOL * np.nanmax(np.abs(expected)))


@pytest.fixture(scope="module")
def real():
    return load("builtin:sp500_20")


@pytest.fixture(scope="module")
def synthetic():
    md = generate_market(n_assets=25, n_days=1000, seed=7)
    close = md.close.copy()
    close.iloc[:400, 3] = np.nan     # lists late
    close.iloc[700:720, 8] = np.nan  # a gap
    return md, close.pct_change(fill_method=None)


@pytest.fixture(scope="module", params=["real", "synthetic"])
def returns(request, real, synthetic):
    if request.param == "real":
        return real.returns().iloc[-3000:]
    return synthetic[1]


def test_sample_equals_pandas_cov_on_complete_rows(returns):
    assert_close(covariance.sample(returns), returns.dropna().cov())
    assert_close(covariance.sample(returns, ddof=0), returns.dropna().cov(ddof=0))


@pytest.mark.parametrize("halflife", [5, 20, 63])
@pytest.mark.parametrize("adjust", [True, False])
def test_ewma_equals_pandas_ewm_cov(returns, halflife, adjust):
    expected = returns.ewm(halflife=halflife, adjust=adjust).cov().loc[returns.index[-1]]
    got = covariance.ewma(returns, halflife=halflife, adjust=adjust)
    assert_close(got, expected)
    assert list(got.index) == list(returns.columns) == list(got.columns)


def test_ledoit_wolf_equals_scikit_learn(returns):
    sklearn_covariance = pytest.importorskip("sklearn.covariance")
    expected = sklearn_covariance.LedoitWolf().fit(returns.dropna().to_numpy()).covariance_
    assert_close(covariance.ledoit_wolf(returns), expected)


def test_constant_correlation_target_keeps_variances_and_shrinks(returns):
    x = returns.dropna()
    got = covariance.ledoit_wolf(returns, target="constant_correlation").to_numpy()
    sample = x.cov(ddof=0).to_numpy()
    assert_close(np.diag(got), np.diag(sample))
    sd = np.sqrt(np.diag(sample))
    n = len(sd)
    rbar = ((sample / np.outer(sd, sd)).sum() - n) / (n * (n - 1))
    target = rbar * np.outer(sd, sd)
    off = ~np.eye(n, dtype=bool)
    shrink = ((got - sample)[off] / (target - sample)[off]).mean()
    assert 0 < shrink < 1
    assert_close(got[off], (shrink * target + (1 - shrink) * sample)[off])


@pytest.mark.parametrize("estimator", ["sample", "ewma", "ledoit_wolf"])
def test_feature_equals_peers_at_every_rebalance(synthetic, estimator):
    sklearn_covariance = pytest.importorskip("sklearn.covariance")
    md, returns = synthetic
    inputs = feature_inputs(md)
    inputs = type(inputs)(**{**inputs.__dict__, "returns": returns.to_numpy()})
    rows = np.arange(300, len(returns), 100 if estimator == "ewma" else 41)
    feature = Covariance(estimator=estimator, window=252, halflife=10.0 if estimator == "ewma" else None)
    cov = feature.compute(inputs, rows)
    for r, t in enumerate(rows):
        window = returns.iloc[t - 251:t + 1]
        keep = window.notna().all().to_numpy()
        frame = window.loc[:, keep]
        if estimator == "sample":
            expected = frame.cov()
        elif estimator == "ewma":
            expected = frame.ewm(halflife=10.0).cov().loc[frame.index[-1]]
        else:
            expected = sklearn_covariance.LedoitWolf().fit(frame.to_numpy()).covariance_
        assert np.isnan(cov[r][~keep]).all()
        assert_close(cov[r][np.ix_(keep, keep)], expected)


def test_real_data_feature_equals_pandas(real):
    inputs = feature_inputs(real)
    rows = np.arange(len(real.dates) - 2000, len(real.dates), 250)
    cov = Covariance(estimator="ewma", halflife=30.0, window=500).compute(inputs, rows)
    returns = real.returns()
    for r, t in enumerate(rows):
        window = returns.iloc[t - 499:t + 1]
        assert_close(cov[r], window.ewm(halflife=30.0).cov().loc[window.index[-1]])


def test_nearest_psd_leaves_psd_input_unchanged_and_repairs_indefinite(real):
    cov = covariance.sample(real.returns())
    assert covariance.nearest_psd(cov).equals(cov)
    bad = cov.to_numpy().copy()
    bad[0, 1] = bad[1, 0] = -0.95 * np.sqrt(bad[0, 0] * bad[1, 1])
    bad[0, 2] = bad[2, 0] = 0.95 * np.sqrt(bad[0, 0] * bad[2, 2])
    bad[1, 2] = bad[2, 1] = 0.95 * np.sqrt(bad[1, 1] * bad[2, 2])
    assert np.linalg.eigvalsh(bad)[0] < 0
    fixed = covariance.nearest_psd(bad)
    assert isinstance(fixed, np.ndarray)
    d = np.sqrt(np.diag(bad))
    assert np.linalg.eigvalsh(fixed / np.outer(d, d))[0] > -1e-10
    assert_close(np.diag(fixed), np.diag(bad))
    untouched = np.ix_(range(3, 20), range(3, 20))
    assert np.abs(fixed - bad)[untouched].max() < 0.1 * np.abs(bad).max()


@pytest.mark.peers
def test_nearest_psd_is_the_cvxpy_optimum():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(3)
    c = np.corrcoef(rng.standard_normal((30, 5)), rowvar=False)
    c[0, 1] = c[1, 0] = 0.95
    c[0, 2] = c[2, 0] = 0.95
    c[1, 2] = c[2, 1] = -0.6
    x = cp.Variable((5, 5), PSD=True)
    cp.Problem(cp.Minimize(cp.sum_squares(x - c)), [cp.diag(x) == 1]).solve(solver=cp.CLARABEL)
    got = covariance.nearest_psd(c, max_iter=2000, tol=1e-12)
    # The optimum is flat: Clarabel stops ~1e-6 from it in x but not in the objective.
    assert ((got - c) ** 2).sum() <= ((x.value - c) ** 2).sum() + 1e-10
    np.testing.assert_allclose(got, x.value, atol=1e-5)
    np.testing.assert_allclose(np.diag(got), 1.0, rtol=1e-14)
    assert np.linalg.eigvalsh(got)[0] > -1e-12

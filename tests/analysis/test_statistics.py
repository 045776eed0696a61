"""simlab.analysis.statistics: PSR, DSR, MinTRL, block lengths, resampling, equal Sharpe test.

References: skfolio's PSR and DSR, the published formulas computed here with scipy,
arch's automatic block length, and the asymptotics of the Sharpe ratio under iid returns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import signal, stats

from simlab.analysis import metrics
from simlab.analysis import statistics as st
from simlab.data import load_series

PERIODS = 252


@pytest.fixture(scope="module")
def index_returns() -> pd.Series:
    """Daily returns of the built-in S&P 500 index, 1990-2022."""
    return load_series("builtin:sp500_index").pct_change().dropna()


def published_psr(r: np.ndarray, sr_star_daily: float) -> float:
    """Bailey and Lopez de Prado (2012), eq. 11, straight from the paper with scipy."""
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=True) + 3.0
    z = (sr - sr_star_daily) * np.sqrt(len(r) - 1) / np.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    return float(stats.norm.cdf(z))


def published_min_trl(r: np.ndarray, sr_star_daily: float, confidence: float) -> float:
    """Bailey and Lopez de Prado (2012), eq. 13."""
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    return float(1 + (1 - g3 * sr + (g4 - 1) / 4 * sr**2) * (stats.norm.ppf(confidence) / (sr - sr_star_daily)) ** 2)


# ----------------------------------------------------------------------------
# PSR, DSR, MinTRL
# ----------------------------------------------------------------------------


@pytest.mark.peers
@pytest.mark.parametrize("annual_benchmark", [0.0, 0.3, 0.5, 1.0])
def test_psr_matches_skfolio_and_the_paper(index_returns, annual_benchmark):
    measures = pytest.importorskip("skfolio.measures")
    r = index_returns.to_numpy()
    ours = st.probabilistic_sharpe_ratio(index_returns, annual_benchmark)
    daily = annual_benchmark / np.sqrt(PERIODS)
    assert ours == pytest.approx(measures.probabilistic_sharpe_ratio(r, daily), rel=1e-10, abs=1e-14)
    assert ours == pytest.approx(published_psr(r, daily), rel=1e-10, abs=1e-14)


def test_psr_uses_the_metrics_sharpe_and_risk_free(index_returns):
    moments = st.sharpe_moments(index_returns, risk_free=0.02)
    assert moments["sharpe"].iloc[0] == pytest.approx(metrics.sharpe(index_returns, 0.02), rel=1e-12)
    rf_daily = 1.02 ** (1 / PERIODS) - 1
    expected = published_psr(index_returns.to_numpy() - rf_daily, 0.2 / np.sqrt(PERIODS))
    assert st.probabilistic_sharpe_ratio(index_returns, 0.2, risk_free=0.02) == pytest.approx(expected, rel=1e-10)


@pytest.mark.peers
def test_dsr_matches_skfolio(index_returns):
    measures = pytest.importorskip("skfolio.measures")
    trials = np.array([0.1, 0.35, 0.2, 0.6, 0.45, 0.05])  # annualized Sharpe ratios of the variants
    ours = st.deflated_sharpe_ratio(index_returns, len(trials), float(np.std(trials, ddof=1)))
    theirs = measures.deflated_sharpe_ratio(index_returns.to_numpy(), trials / np.sqrt(PERIODS))
    assert ours == pytest.approx(theirs, rel=1e-10)
    for n in [1, 2, 10, 1000]:
        assert st.expected_max_sharpe(n, 0.3) == pytest.approx(measures.expected_max_sharpe_ratio(n, 0.3), rel=1e-12)


def test_dsr_falls_as_trials_grow_and_defaults_to_the_spread_of_chance(index_returns):
    values = [st.deflated_sharpe_ratio(index_returns, n) for n in [1, 10, 100, 1000]]
    assert values[0] == pytest.approx(st.probabilistic_sharpe_ratio(index_returns, 0.0), rel=1e-12)
    assert (np.diff(values) < 0).all()
    chance = np.sqrt(PERIODS / (len(index_returns) - 1))
    assert values[2] == pytest.approx(st.deflated_sharpe_ratio(index_returns, 100, chance), rel=1e-12)


def test_dsr_against_a_claimed_level_raises_the_bar_by_the_luck_of_the_best_trial(index_returns):
    assert st.deflated_sharpe_ratio(index_returns, 1, benchmark=0.4) == pytest.approx(
        st.probabilistic_sharpe_ratio(index_returns, 0.4), rel=1e-12)
    bar = 0.4 + st.expected_max_sharpe(20, 0.25)
    assert st.deflated_sharpe_ratio(index_returns, 20, 0.25, benchmark=0.4) == pytest.approx(
        st.probabilistic_sharpe_ratio(index_returns, bar), rel=1e-12)


@pytest.mark.parametrize("annual_benchmark", [0.0, 0.2])
def test_min_track_record_length_matches_the_paper_and_inverts_the_psr(index_returns, annual_benchmark):
    r = index_returns.to_numpy()
    daily = annual_benchmark / np.sqrt(PERIODS)
    n_star = st.min_track_record_length(index_returns, annual_benchmark, confidence=0.95)
    assert n_star == pytest.approx(published_min_trl(r, daily, 0.95), rel=1e-10)
    # at exactly MinTRL returns with the same moments, the PSR is the confidence level
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    z = (sr - daily) * np.sqrt(n_star - 1) / np.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert stats.norm.cdf(z) == pytest.approx(0.95, abs=1e-12)


def test_min_track_record_length_is_infinite_at_or_above_the_observed_sharpe(index_returns):
    observed = metrics.sharpe(index_returns)
    assert st.min_track_record_length(index_returns, observed + 0.01) == np.inf
    frame = pd.DataFrame({"a": index_returns, "b": -index_returns})
    out = st.min_track_record_length(frame, 0.0)
    assert np.isfinite(out["a"]) and out["b"] == np.inf


def test_constant_or_short_series_give_nan():
    assert np.isnan(st.probabilistic_sharpe_ratio(np.full(50, 0.001)))
    assert np.isnan(st.probabilistic_sharpe_ratio(np.array([0.01, -0.01])))
    with pytest.raises(ValueError, match="confidence must be in"):
        st.min_track_record_length(np.ones(5), confidence=1.0)
    with pytest.raises(ValueError, match="n_trials must be"):
        st.expected_max_sharpe(0.5, 0.1)


# ----------------------------------------------------------------------------
# Block lengths and resampling
# ----------------------------------------------------------------------------


def ar1(phi: float, n: int, seed: int) -> np.ndarray:
    e = np.random.default_rng(seed).normal(size=n + 500)
    return signal.lfilter([1.0], [1.0, -phi], e)[500:]


@pytest.mark.peers
def test_optimal_block_length_matches_arch(index_returns):
    bootstrap = pytest.importorskip("arch.bootstrap")
    cases = {"index": index_returns.to_numpy(), "index_squared": index_returns.to_numpy() ** 2,
             **{f"ar{phi}": ar1(phi, 3000, 1) for phi in [0.0, 0.3, 0.8]}}
    for name, x in cases.items():
        ours = st.optimal_block_length(x).to_numpy()[0]
        theirs = bootstrap.optimal_block_length(x).to_numpy()[0]
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, err_msg=name)


def test_block_length_grows_with_dependence():
    lengths = [st.optimal_block_length(ar1(phi, 4000, 2))["stationary"].iloc[0] for phi in [0.0, 0.5, 0.9]]
    assert lengths[0] < 5 and lengths[0] < lengths[1] < lengths[2]


def test_stationary_indices_have_geometric_blocks_that_wrap():
    idx = st.stationary_bootstrap_indices(1000, 10.0, 400, np.random.default_rng(0))
    assert idx.shape == (400, 1000) and idx.min() >= 0 and idx.max() < 1000
    steps = np.diff(idx, axis=1)
    continues = (steps == 1) | (steps == -999)
    assert 1 - continues.mean() == pytest.approx(0.1, abs=0.005)  # a new block starts with probability 1/10
    assert (steps == -999).any()  # a block runs past the last row onto the first
    again = st.stationary_bootstrap_indices(1000, 10.0, 400, np.random.default_rng(0))
    np.testing.assert_array_equal(idx, again)


def test_circular_indices_are_whole_blocks():
    idx = st.circular_block_indices(103, 10, 5, np.random.default_rng(0))
    assert idx.shape == (5, 100)
    blocks = idx.reshape(5, 10, 10)
    assert (np.diff(blocks, axis=2) % 103 == 1).all()


def test_holm_adjustment_by_hand():
    np.testing.assert_allclose(st.holm(np.array([0.01, 0.04, 0.03, 0.5])), [0.04, 0.09, 0.09, 0.5])


def test_percentile_interval_drops_nan():
    values = np.r_[np.arange(1, 101, dtype=float), np.nan]
    lo, hi = st.percentile_interval(values, 0.9)
    assert (lo, hi) == pytest.approx(np.quantile(np.arange(1, 101), [0.05, 0.95]))
    assert np.isnan(st.percentile_interval(np.full(3, np.nan))[0])


# ----------------------------------------------------------------------------
# Ledoit-Wolf test of equal Sharpe ratios
# ----------------------------------------------------------------------------


def pair(n: int, sr_a: float, sr_b: float, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two normal daily return series with annual Sharpe ratios sr_a, sr_b, correlation rho."""
    z = np.random.default_rng(seed).multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    vol = np.array([0.01, 0.02])
    mu = np.array([sr_a, sr_b]) / np.sqrt(PERIODS) * vol
    r = mu + z * vol
    return r[:, 0], r[:, 1]


def test_hac_error_matches_the_iid_asymptotics():
    # iid normal, independent: var(SR_a - SR_b) = (1 + SR_a^2 / 2 + 1 + SR_b^2 / 2) / T, daily units
    n, sr_a, sr_b = 20_000, 1.0, 0.5
    a, b = pair(n, sr_a, sr_b, 0.0, 3)
    out = st.sharpe_difference_test(a, b, draws=9)
    da, db = sr_a / np.sqrt(PERIODS), sr_b / np.sqrt(PERIODS)
    expected = np.sqrt((2 + da**2 / 2 + db**2 / 2) / n) * np.sqrt(PERIODS)
    assert out.se == pytest.approx(expected, rel=0.05)
    assert out.sharpe_a == pytest.approx(metrics.sharpe(pd.Series(a)), rel=1e-12)
    assert out.difference == pytest.approx(out.sharpe_a - out.sharpe_b, rel=1e-12)


def test_identical_series_are_never_told_apart():
    a, _ = pair(500, 1.0, 1.0, 0.0, 4)
    out = st.sharpe_difference_test(a, a, draws=99)
    assert out.difference == 0 and out.p_value == 1.0 and out.p_value_hac == 1.0


def test_same_seed_same_p_value():
    a, b = pair(600, 1.0, 0.0, 0.3, 5)
    first = st.sharpe_difference_test(a, b, draws=199, seed=11)
    assert st.sharpe_difference_test(a, b, draws=199, seed=11) == first
    assert st.sharpe_difference_test(a, b, draws=199, seed=12).p_value != first.p_value


def test_size_under_the_null_is_about_the_level():
    # equal Sharpe ratios (1.0), different volatilities, correlated: rejections at 5% ~ 5%
    rejections = [st.sharpe_difference_test(*pair(500, 1.0, 1.0, 0.5, seed), draws=199, seed=seed).p_value <= 0.05
                  for seed in range(120)]
    assert np.mean(rejections) <= 0.12


def test_power_on_a_clear_difference():
    # annual Sharpe 2.0 against 0.0 over three years, correlation 0.5 (z about 3.5)
    rejections = [st.sharpe_difference_test(*pair(756, 2.0, 0.0, 0.5, seed), draws=199, seed=seed).p_value <= 0.05
                  for seed in range(40)]
    assert np.mean(rejections) >= 0.8


def test_too_few_returns_is_an_error():
    with pytest.raises(ValueError, match="at least 10 common returns"):
        st.sharpe_difference_test(np.ones(5), np.ones(5))

"""The synthetic factor market: determinism, shape, positivity and its stated truth."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from simlab.data import generate_market, validate_market
from simlab.data.synthetic import regime_chain
from simlab.errors import ConfigError


@pytest.fixture(scope="module")
def market():
    return generate_market(n_assets=60, n_days=6000, seed=11)


def test_same_seed_bit_identical():
    a, b = generate_market(30, 500, seed=5), generate_market(30, 500, seed=5)
    assert np.array_equal(a.close.to_numpy(), b.close.to_numpy())
    assert np.array_equal(a.benchmark.to_numpy(), b.benchmark.to_numpy())
    assert np.array_equal(a.provenance["truth"]["regime"], b.provenance["truth"]["regime"])


def test_different_seed_differs():
    a, b = generate_market(30, 500, seed=5), generate_market(30, 500, seed=6)
    assert not np.array_equal(a.close.to_numpy(), b.close.to_numpy())


def test_shape_names_calendar_and_positivity(market):
    close = market.close
    assert close.shape == (6000, 60)
    assert list(close.columns[:2]) == ["A0000", "A0001"]
    assert close.index[0] == pd.Timestamp("2000-01-03") and close.index.name == "date"
    assert (close.index.day_of_week < 5).all()
    assert np.isfinite(close.to_numpy()).all() and (close.to_numpy() > 0).all()
    assert (close.iloc[0] == 100.0).all() and market.benchmark.iloc[0] == 100.0
    validate_market(market)


def test_benchmark_is_equal_weight_index(market):
    expected = 100 * (1 + market.returns().mean(axis=1).fillna(0.0)).cumprod()
    np.testing.assert_allclose(market.benchmark.to_numpy(), expected.to_numpy(), rtol=1e-10)


def test_meta_and_truth_shapes(market):
    truth = market.provenance["truth"]
    assert truth["regime"].shape == (6000,) and set(np.unique(truth["regime"])) == {0, 1}
    assert truth["loadings"].shape == (60, 3)
    assert truth["idio_vol"].shape == (60,)
    assert truth["factor_cov"].shape == (2, 3, 3)
    assert market.meta["sector"].index.equals(market.assets)
    assert market.meta["sector"].nunique() > 1


def test_stress_has_higher_vol_and_correlation(market):
    regime = market.provenance["truth"]["regime"][1:]
    logret = np.diff(np.log(market.close.to_numpy()), axis=0)
    calm, stress = logret[regime == 0], logret[regime == 1]
    assert len(stress) > 200
    assert stress.std(axis=0).mean() > 1.2 * calm.std(axis=0).mean()
    upper = np.triu_indices(60, 1)
    assert np.corrcoef(stress.T)[upper].mean() > np.corrcoef(calm.T)[upper].mean() + 0.1


def test_realized_covariance_matches_truth_per_regime(market):
    truth = market.provenance["truth"]
    regime, loadings = truth["regime"][1:], truth["loadings"]
    logret = np.diff(np.log(market.close.to_numpy()), axis=0)
    for state in (0, 1):
        cov = loadings @ truth["factor_cov"][state] @ loadings.T + np.diag(truth["idio_vol"] ** 2)
        realized = np.cov(logret[regime == state].T)
        vol_true, vol_seen = np.sqrt(np.diag(cov)), np.sqrt(np.diag(realized))
        np.testing.assert_allclose(vol_seen, vol_true, rtol=0.12)


def test_regime_chain_durations_follow_probabilities():
    chain = regime_chain(200_000, 0.02, 0.1, np.random.default_rng(0))
    assert chain[0] == 0
    assert chain.mean() == pytest.approx(0.02 / (0.02 + 0.1), abs=0.02)
    entries = np.sum((chain[:-1] == 0) & (chain[1:] == 1)) / np.sum(chain[:-1] == 0)
    assert entries == pytest.approx(0.02, rel=0.1)


def test_bad_arguments_name_the_key():
    with pytest.raises(ConfigError, match="n_assets"):
        generate_market(0, 10)
    with pytest.raises(ConfigError, match="p_exit_stress"):
        generate_market(3, 10, p_exit_stress=0.0)


def test_scales_to_2000_assets_30_years():
    start = time.perf_counter()
    md = generate_market(2000, 7560, seed=1)
    elapsed = time.perf_counter() - start
    assert md.close.shape == (7560, 2000)
    assert md.close.to_numpy().dtype == np.float64
    assert elapsed < 5.0, f"took {elapsed:.1f} s"


def test_listings_and_delistings_leave_the_default_market_unchanged():
    from simlab.data.synthetic import generate_market as gen

    base = gen(n_assets=40, n_days=600, seed=4)
    md = gen(n_assets=40, n_days=600, seed=4, late_listing=0.3, delisting=0.3)
    truth = md.provenance["truth"]
    listed, delisted = truth["listed"], truth["delisted"]
    close = md.close.to_numpy()
    rows = np.arange(600)[:, None]
    life = (rows >= listed) & (rows < delisted)
    assert np.isnan(close[~life]).all() and np.isfinite(close[life]).all()
    np.testing.assert_array_equal(close[life], base.close.to_numpy()[life])  # same paths, cut
    assert 0 < (listed > 0).sum() < 40 and 0 < (delisted < 600).sum() < 40
    assert ((delisted - listed) >= 150).all()
    assert gen(n_assets=40, n_days=600, seed=4, late_listing=0.0).close.equals(base.close)


def test_listing_shares_are_checked():
    from simlab.data.synthetic import generate_market as gen

    with pytest.raises(ConfigError, match="late_listing must lie in"):
        gen(n_assets=5, n_days=50, late_listing=1.0)

"""Black-Litterman with relative views against PyPortfolioOpt's BlackLittermanModel.

On the built-in S&P 500 data (2015-2018, sample covariance annualized): the posterior
returns and covariance from absolute and relative views with Idzorek confidences agree
with ``BlackLittermanModel(omega="idzorek")`` to 1e-8, and the Step's max-Sharpe weights on
that posterior with PyPortfolioOpt's ``EfficientFrontier.max_sharpe`` to 1e-6 (their Sharpe ratios
on the posterior to 1e-8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.data import load
from simlab.portfolio.black_litterman_views import BlackLittermanViews, pick_matrix, posterior
from simlab.testing.builders import context_with_features

pypfopt = pytest.importorskip("pypfopt")
pytestmark = pytest.mark.peers

VIEWS = [
    {"assets": {"AAPL": 1.0, "MSFT": -1.0}, "return": 0.02, "confidence": 0.6},
    {"assets": {"XOM": 1.0}, "return": 0.05, "confidence": 0.3},
    {"assets": {"JNJ": 0.5, "PG": 0.5, "AMD": -1.0}, "return": 0.03, "confidence": 0.8},
    {"assets": {"JPM": 1.0, "BAC": -1.0}, "return": -0.01, "confidence": 1.0},
]


@pytest.fixture(scope="module")
def cov():
    returns = load("builtin:sp500_20").close.loc["2015":"2018"].pct_change().dropna()
    return returns.cov() * 252


def test_posterior_matches_pypfopt_to_1e8(cov):
    assets = tuple(cov.columns)
    picks, q, conf = pick_matrix(VIEWS, assets, "step")
    prior = np.full(len(assets), 1 / len(assets))
    mu, post = posterior(cov.to_numpy(), prior, picks, q, conf, 0.05, 2.5)
    pi = pypfopt.black_litterman.market_implied_prior_returns(pd.Series(prior, index=assets), 2.5, cov, 0.0)
    model = pypfopt.BlackLittermanModel(cov, pi=pi, P=picks, Q=q, omega="idzorek", view_confidences=conf, tau=0.05)
    np.testing.assert_allclose(mu, model.bl_returns().to_numpy(), atol=1e-8, rtol=0)
    np.testing.assert_allclose(post, model.bl_cov().to_numpy(), atol=1e-8, rtol=0)


def test_step_max_sharpe_on_the_posterior_matches_pypfopt(cov):
    assets = tuple(cov.columns)
    n = len(assets)
    features = {"cov": cov.to_numpy()[None] / 252}
    ctx = context_with_features(features, n_assets=n)
    ctx = type(ctx)(**{**ctx.__dict__, "assets": assets})
    step = BlackLittermanViews(views=VIEWS, max_weight=1.0, solver="cvxpy")
    w, diag = step(np.zeros((1, n)), ctx)
    assert diag["n_views"][0] == 4 and diag["fallback_level"][0] == 0
    vol = np.sqrt(np.diag(cov.to_numpy()))
    prior = (1 / vol) / (1 / vol).sum()
    picks, q, conf = pick_matrix(VIEWS, assets, "step")
    pi = pypfopt.black_litterman.market_implied_prior_returns(pd.Series(prior, index=assets), 2.5, cov, 0.0)
    model = pypfopt.BlackLittermanModel(cov, pi=pi, P=picks, Q=q, omega="idzorek", view_confidences=conf, tau=0.05)
    ef = pypfopt.EfficientFrontier(model.bl_returns(), model.bl_cov(), weight_bounds=(0, 1), solver="CLARABEL")
    ref = pd.Series(ef.max_sharpe(risk_free_rate=0.0)).reindex(assets).to_numpy()
    np.testing.assert_allclose(w[0], ref, atol=1e-6, rtol=0)
    mu, post = model.bl_returns().to_numpy(), model.bl_cov().to_numpy()
    sharpe_ref = mu @ ref / np.sqrt(ref @ post @ ref)
    assert abs(diag["posterior_sharpe"][0] - sharpe_ref) <= 1e-8

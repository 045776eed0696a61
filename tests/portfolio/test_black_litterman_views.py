"""black_litterman_views: views in the config, clear errors for a bad P, regime-scaled confidence."""

from __future__ import annotations

import numpy as np
import pytest

import simlab
from simlab.config.registry import resolve
from simlab.errors import ConfigError
from simlab.portfolio.black_litterman_views import BlackLittermanViews, posterior
from simlab.testing.builders import context_with_features as ctx_with
from simlab.testing.builders import daily_cov


def entry(**kw):
    return resolve("step", {"type": "black_litterman_views", **kw}, "pipeline.0")


@pytest.mark.parametrize("view, message", [
    ({"assets": {}, "return": 0.1}, "non-empty mapping"),
    ({"assets": {"A0": 0}, "return": 0.1}, "non-zero"),
    ({"assets": {"A0": 1}, "return": "high"}, "finite number"),
    ({"assets": {"A0": 1}, "return": 0.1, "confidence": 1.5}, r"\(0, 1\]"),
    ({"assets": {"A0": 1}, "retrun": 0.1}, "unknown view key"),
])
def test_a_bad_view_is_a_config_error_naming_the_view(view, message):
    with pytest.raises(ConfigError, match=f"pipeline.0.views.0.*{message}"):
        entry(views=[view])


def test_unknown_asset_and_dependent_exact_views_are_named():
    ctx = ctx_with({"cov": daily_cov(3)[None]}, n_assets=3)
    step = BlackLittermanViews(views=[{"assets": {"ZZZ": 1.0}, "return": 0.1, "confidence": 0.5}])
    with pytest.raises(ConfigError, match=r"views.0.assets names 'ZZZ'"):
        step(np.zeros((1, 3)), ctx)
    views = [{"assets": {"A0": 1.0, "A1": -1.0}, "return": 0.02, "confidence": 1.0},
             {"assets": {"A0": -2.0, "A1": 2.0}, "return": 0.01, "confidence": 1.0}]
    with pytest.raises(ConfigError, match="linearly dependent"):
        BlackLittermanViews(views=views)(np.zeros((1, 3)), ctx)


def test_an_exact_relative_view_holds_in_the_posterior():
    cov = daily_cov(4) * 252
    picks = np.array([[1.0, -1.0, 0.0, 0.0]])
    mu, _ = posterior(cov, np.full(4, 0.25), picks, np.array([0.03]), np.array([1.0]), 0.05, 2.5)
    assert mu[0] - mu[1] == pytest.approx(0.03, abs=1e-12)


def test_regime_lowers_confidence_and_pulls_the_posterior_to_equilibrium():
    cfg = {"name": "bl", "data": {"source": "builtin:sp500_20", "benchmark": "builtin:sp500_index",
                                  "start": "2007-01-01", "end": "2009-12-31"},
           "schedule": {"frequency": "quarterly"},
           "pipeline": [{"type": "black_litterman_views", "max_weight": 0.3,
                         "views": [{"assets": {"XOM": 1, "JPM": -1}, "return": 0.05, "confidence": 0.9}],
                         "regime": {"type": "trend"}, "regime_confidence": {"1": 0.5, "2": 0.2}}]}
    d = simlab.run(cfg).diagnostics.pivot_table(index="date", columns="key", values="value")
    d = d.dropna(subset=["confidence_scale"])
    assert set(d["regime"].unique()) >= {0.0, 2.0}
    np.testing.assert_array_equal(d["confidence_scale"], np.select([d.regime == 1, d.regime == 2], [0.5, 0.2], 1.0))
    assert (d["n_views"] == 1).all() and (d["fallback_level"] == 0).all()


def test_regime_confidence_without_a_detector_is_refused():
    with pytest.raises(ConfigError, match="regime_confidence needs a regime"):
        simlab.load_config({"name": "x", "data": {"source": "synthetic", "n_assets": 3, "n_days": 300, "seed": 1},
                            "pipeline": [{"type": "black_litterman_views", "regime_confidence": {"1": 0.5}}]})

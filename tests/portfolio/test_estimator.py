"""estimator: an object with fit(X) and weights_, named by import path, as an allocator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.errors import ConfigError
from simlab.portfolio.estimator import Estimator

BASE = {"name": "est", "data": {"source": "builtin:sp500_20", "start": "2012-01-01", "end": "2014-12-31"},
        "schedule": {"frequency": "quarterly"}}


def load(entry):
    return simlab.load_config({**BASE, "pipeline": [{"type": "estimator", **entry}]})


@pytest.mark.parametrize("entry, message", [
    ({"estimator": "skfolio.optimization.MeanRsk"}, r"skfolio.optimization has no 'MeanRsk'"),
    ({"estimator": "nosuchpackage.Model"}, r"install it with pip install nosuchpackage"),
    ({"estimator": "collections.OrderedDict"}, r"has no fit method"),
    ({"estimator": "MeanRisk"}, r"expected an import path"),
    ({"estimator": "skfolio.optimization.MeanRisk", "params": {"max_weigths": 0.2}}, r"cannot construct"),
    ({"estimator": "skfolio.optimization.MeanRisk", "params": {"risk_measure": {"import": "skfolio.RiskMeasure.NOPE"}}},
     r"skfolio has no 'RiskMeasure.NOPE'|skfolio.RiskMeasure has no"),
])
def test_bad_estimators_are_config_errors(entry, message):
    pytest.importorskip("skfolio")
    with pytest.raises(ConfigError, match=message):
        load(entry)


def test_an_object_without_weights_after_fit_is_named():
    from simlab.testing.builders import make_context

    pytest.importorskip("sklearn")
    step = Estimator(estimator="sklearn.preprocessing.StandardScaler", window=3)
    ctx = make_context(close=np.cumprod(1 + np.random.default_rng(0).normal(0, 0.01, (6, 3)), axis=0))
    with pytest.raises(ConfigError, match="has no weights_ after fit"):
        step(np.zeros((1, 3)), ctx)


@pytest.mark.peers
def test_skfolio_mean_risk_in_the_replay_equals_skfolio_on_the_same_window():
    skfolio = pytest.importorskip("skfolio")
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    params = {"objective_function": {"import": "skfolio.optimization.ObjectiveFunction.MAXIMIZE_RATIO"},
              "risk_measure": {"import": "skfolio.RiskMeasure.CVAR"}, "max_weights": 0.25}
    res = simlab.run({**BASE, "pipeline": [{"type": "estimator", "estimator": "skfolio.optimization.MeanRisk",
                                            "params": params, "window": 252}]})
    close = simlab.data.load("builtin:sp500_20").close
    returns = close.pct_change()
    decisions = res.diagnostics.query("key == 'n_assets' and value > 0").date.unique()
    assert len(decisions) >= 8
    weights = res.weights.sel(scenario=res.weights.scenario[0]).to_pandas()
    for day in decisions[-3:]:
        t = returns.index.get_loc(day)
        X = returns.iloc[t - 251: t + 1].dropna(axis=1)
        ref = MeanRisk(objective_function=skfolio.optimization.ObjectiveFunction.MAXIMIZE_RATIO,
                       risk_measure=skfolio.RiskMeasure.CVAR, max_weights=0.25).fit(X).weights_
        filled = weights.loc[weights.index > day].iloc[0]  # end of the fill day (lag 1, no costs)
        np.testing.assert_allclose(filled[X.columns].to_numpy(), ref, atol=1e-9)

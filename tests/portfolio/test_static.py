"""static: fit an allocator once (train), hold its weights (test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.errors import ConfigError

BASE = {"name": "static", "data": {"source": "builtin:sp500_20", "start": "2007-01-01", "end": "2010-12-31"},
        "schedule": {"frequency": "quarterly"}}
INNER = {"type": "min_variance", "window": 252, "max_weight": 0.2}


def run(*pipeline):
    return simlab.run({**BASE, "pipeline": list(pipeline)})


def fill_day_weights(res, day):
    w = res.weights.sel(scenario=res.weights.scenario[0]).to_pandas()
    return w.loc[w.index > pd.Timestamp(day)].iloc[0].to_numpy()


def test_fit_once_at_the_date_then_rebalance_to_the_same_weights():
    res = run({"type": "static", "step": INNER, "fit_date": "2009-01-01"})
    direct = run(INNER)
    nav = res.nav.iloc[:, 0]
    assert (nav.loc[:"2009-01-02"] == nav.iloc[0]).all()  # cash until the fit
    d = res.diagnostics.pivot_table(index="date", columns="key", values="value")
    fit_day = d.index[d["fit_now"] == 1]
    assert list(fit_day) == [pd.Timestamp("2009-01-02")]
    np.testing.assert_allclose(fill_day_weights(res, "2009-01-02"), fill_day_weights(direct, "2009-01-02"),
                               atol=1e-6)
    trades = res.trades
    later = trades[trades.date > pd.Timestamp("2009-01-06")]
    assert len(later) > 0  # constant mix: drift is traded back to the fitted weights


def test_drift_trades_once():
    res = run({"type": "static", "step": INNER, "fit_date": "2009-01-01", "after_fit": "drift"})
    assert res.trades.date.nunique() == 1


def test_a_bad_wrapped_step_is_named():
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.step: type: unknown step .min_varaince.. Did you mean .min_variance."):
        simlab.load_config({**BASE, "pipeline": [{"type": "static", "step": {"type": "min_varaince"}}]})
    with pytest.raises(ConfigError, match=r"static.step \(equal_weight_top_n\) requires a signal"):
        run({"type": "static", "step": {"type": "equal_weight_top_n", "top_n": 3}})


def test_a_fit_date_after_the_data_is_refused():
    with pytest.raises(ConfigError, match="after the data's last day 2010-12-31"):
        run({"type": "static", "step": INNER, "fit_date": "2030-01-01"})

"""Annualised active return and the active-return claim over stated horizons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.analysis import metrics
from simlab.analysis.horizons import horizon_table, rolling_active_return


def daily(values, start="2020-01-01"):
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype=float)


def test_annual_active_return_is_the_cagr_difference():
    empyrical = pytest.importorskip("empyrical")
    rng = np.random.default_rng(1)
    r = daily(rng.normal(6e-4, 0.01, 600))
    b = daily(rng.normal(3e-4, 0.01, 600))
    expected = empyrical.cagr(r) - empyrical.cagr(b)
    assert metrics.annual_active_return(r, b) == pytest.approx(expected, rel=1e-10)
    table = metrics.summary(r.rename("s"), benchmark_returns=b)
    assert table.loc["s", "annual_active_return"] == pytest.approx(expected, rel=1e-10)


def test_rolling_active_return_by_hand():
    # portfolio +10% a day on day 2, benchmark +5% on day 3; windows of 2 days
    r = daily([np.nan, 0.10, 0.0, 0.0])
    b = daily([np.nan, 0.0, 0.05, 0.0])
    roll = rolling_active_return(r, b, 2)
    np.testing.assert_allclose(roll.to_numpy(), [0.10 - 0.05, 0.0 - 0.05])
    assert list(roll.index) == list(r.index[2:])


def test_horizon_table_counts_the_windows_that_meet_the_bound():
    # 3 "years" of 2 days: active +21% in the first two days, then nothing
    r = daily([np.nan, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0])
    b = daily([np.nan, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    table = horizon_table(r.rename("s"), b, bound=0.2, years=(1, 3, 4), periods=2)
    one = table[table["years"] == 1].iloc[0]
    assert one["windows"] == 5 and one["met"] == 1 and one["share"] == pytest.approx(0.2)
    assert one["best"] == pytest.approx(0.21) and one["worst"] == pytest.approx(0.0)
    three = table[table["years"] == 3].iloc[0]
    assert three["windows"] == 1 and three["met"] == 1
    assert three["median_annual"] == pytest.approx(1.21 ** (1 / 3) - 1)
    four = table[table["years"] == 4].iloc[0]
    assert four["windows"] == 0 and np.isnan(four["share"])

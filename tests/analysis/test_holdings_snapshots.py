"""The holdings metrics from holdings snapshots (the compiled pass, no weights cube) against the
same metrics on the weights cube, and against plain loops over a book small enough to read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from simlab.analysis import metrics

COLUMNS = ["effective_assets", "diversification_ratio", "position_hit_rate"]


def random_book(seed: int, n_days: int = 120, n_scen: int = 7, n_assets: int = 9):
    """Snapshots with shorts, idle scenarios, a zero and a NaN NAV, missing prices and returns."""
    rng = np.random.default_rng(seed)
    rows = np.r_[0, np.sort(rng.choice(np.arange(1, n_days), 6, replace=False))]
    snapshots = []
    for k in range(len(rows)):
        shares = rng.normal(0, 10, (n_scen, n_assets)) * (rng.random((n_scen, n_assets)) < 0.5)
        shares[0] = 0.0  # a scenario that never holds anything
        if k == 0:
            shares[1:] = 0.0  # everybody starts in cash
        if k < 3:
            shares[2] = 0.0  # one starts late
        snapshots.append(shares)
    index = np.searchsorted(rows, np.arange(n_days), side="right") - 1
    price = np.exp(np.cumsum(rng.normal(0, 0.02, (n_days, n_assets)), axis=0)) * 50
    price[:15, 3] = np.nan  # listed late
    price[40, 5] = np.nan
    nav = rng.uniform(500, 1500, (n_days, n_scen))
    nav[60, 4] = 0.0
    nav[61, 5] = np.nan
    returns = rng.normal(0, 0.01, (n_days, n_assets))
    returns[:16, 3] = np.nan
    returns[70:73, 1] = np.nan
    returns[80, 2] = 0.0
    return snapshots, index, price, nav, returns


def cube(snapshots, index, price, nav) -> xr.DataArray:
    """The weights as ``Replay.weights_of`` builds them."""
    holdings = np.stack(snapshots)[index]
    nav3 = nav[:, :, None]
    data = np.divide(holdings * price[:, None, :], nav3, out=np.zeros(holdings.shape), where=nav3 != 0)
    dates = pd.bdate_range("2020-01-01", periods=len(index))
    return xr.DataArray(data, dims=("date", "scenario", "asset"),
                        coords={"date": dates, "scenario": [f"s{b}" for b in range(nav.shape[1])],
                                "asset": [f"a{i}" for i in range(price.shape[1])]})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_snapshots_give_what_the_weights_cube_gives(seed):
    snapshots, index, price, nav, returns = random_book(seed)
    weights = cube(snapshots, index, price, nav)
    asset_returns = pd.DataFrame(returns, index=weights["date"].values, columns=weights["asset"].values)
    expected = pd.DataFrame({
        "effective_assets": metrics.effective_assets(weights),
        "diversification_ratio": metrics.diversification_ratio(weights, asset_returns),
        "position_hit_rate": metrics.position_hit_rate(weights, asset_returns),
    })
    got = metrics.holdings_metrics(snapshots, index, price, nav, returns, list(weights["scenario"].values))
    assert list(got.columns) == COLUMNS
    assert got.loc["s0"].isna().all()  # never holds anything
    assert got.iloc[1:].notna().all().all()
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=0, check_names=False)


def test_plain_loops_on_a_small_book():
    """Two assets, one scenario, a snapshot change and a short: every figure by its definition."""
    snapshots = [np.array([[0.0, 0.0]]), np.array([[10.0, 5.0]]), np.array([[-4.0, 8.0]])]
    index = np.array([0, 1, 1, 1, 2, 2, 2, 2])
    rng = np.random.default_rng(5)
    price = 10 + np.cumsum(rng.normal(0, 0.3, (8, 2)), axis=0)
    nav = np.full((8, 1), 200.0)
    returns = np.r_[[[np.nan, np.nan]], price[1:] / price[:-1] - 1]
    w = np.stack(snapshots)[index][:, 0, :] * price / nav
    held = [t for t in range(8) if np.abs(w[t]).sum() > 0]
    ea = np.mean([np.abs(w[t]).sum() ** 2 / (w[t] ** 2).sum() for t in held])
    r = returns[held[0]:]
    mean = r.mean(axis=0)
    cov = [[((r[:, i] - mean[i]) * (r[:, j] - mean[j])).sum() / (len(r) - 1) for j in range(2)] for i in range(2)]
    sd = np.sqrt(np.diag(cov))
    dr = np.mean([(np.abs(w[t]) @ sd) / np.sqrt(w[t] @ np.array(cov) @ w[t]) for t in held])
    pairs = [(w[t - 1, i], returns[t, i]) for t in range(1, 8) for i in range(2) if w[t - 1, i] != 0]
    hit = sum(p * q > 0 for p, q in pairs) / len(pairs)
    got = metrics.holdings_metrics(snapshots, index, price, nav, returns, ["x"])
    assert got.loc["x", "effective_assets"] == pytest.approx(ea, rel=1e-13)
    assert got.loc["x", "diversification_ratio"] == pytest.approx(dr, rel=1e-13)
    assert got.loc["x", "position_hit_rate"] == pytest.approx(hit, rel=1e-15)


def test_no_days_and_mismatched_inputs():
    snapshots, index, price, nav, returns = random_book(4)
    empty = metrics.holdings_metrics(snapshots, index[:0], price[:0], nav[:0], returns[:0], list("abcdefg"))
    assert empty.isna().all().all() and list(empty.index) == list("abcdefg")
    with pytest.raises(ValueError, match="must cover the same days"):
        metrics.holdings_metrics(snapshots, index[1:], price, nav, returns, list("abcdefg"))

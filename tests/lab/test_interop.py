"""Results handed to other libraries: quantstats, vectorbt, pyfolio and empyrical give
simlab's Sharpe ratio and maximum drawdown on the exported data; the Dataset's grid
coordinates are typed; a saved run reads back."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import simlab

CONFIG = {
    "name": "interop",
    "data": {"source": "builtin:sp500_20", "start": "2018-01-02", "end": "2020-12-31"},
    "costs": {"type": "flat", "bps": 10},
    "strategy": {"type": "momentum", "lookback": 126, "skip": 21},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 5}],
    "scenarios": {"grid": {"pipeline.0.top_n": [3, 5], "costs.bps": [0, 25]}},
}


@pytest.fixture(scope="module")
def res():
    return simlab.run(CONFIG)


@pytest.fixture(scope="module")
def table(res):
    return res.metrics()


def test_to_xarray_has_typed_grid_coordinates(res):
    ds = res.to_xarray()
    assert ds["top_n"].dtype.kind == "i" and ds["bps"].dtype.kind == "i"
    five = ds.sel(top_n=5, bps=25)
    np.testing.assert_array_equal(five["nav"].values, res.nav["top_n=5,bps=25"].to_numpy())
    np.testing.assert_array_equal(ds.sel(top_n=3)["weights"].sel(bps=0).values,
                                  res.weights.sel(scenario="top_n=3,bps=0").values)
    assert list(ds["scenario_name"].values) == list(res.scenarios)


def test_quantstats_gives_simlab_sharpe_and_drawdown(res, table):
    qs = pytest.importorskip("quantstats", reason="quantstats: pip install 'simlab[peers]'")
    for name in res.scenarios:
        r = res.to_quantstats(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert qs.stats.sharpe(r) == pytest.approx(table.loc[name, "sharpe"], rel=1e-9)
            assert -qs.stats.max_drawdown(r) == pytest.approx(table.loc[name, "max_drawdown"], rel=1e-9)


def test_vectorbt_with_a_252_day_year(res, table):
    pytest.importorskip("vectorbt", reason="vectorbt: pip install 'simlab[peers]'")
    acc = res.to_vectorbt()
    pd.testing.assert_series_equal(acc.sharpe_ratio().rename(None), table["sharpe"].rename(None),
                                   check_names=False, rtol=1e-9)
    np.testing.assert_allclose(-acc.max_drawdown().to_numpy(), table["max_drawdown"].to_numpy(), rtol=1e-9)


def test_pyfolio_and_empyrical(res, table):
    empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded: pip install 'simlab[peers]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pf = pytest.importorskip("pyfolio", reason="pyfolio-reloaded: pip install 'simlab[peers]'")
    name = "top_n=5,bps=25"
    returns, positions, transactions = res.to_pyfolio(name)
    np.testing.assert_allclose(positions.sum(axis=1).to_numpy(), res.nav[name].to_numpy(), rtol=1e-12)
    assert set(transactions.columns) == {"amount", "price", "symbol"}
    assert len(transactions) == (res.trades["scenario"] == name).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = pf.timeseries.perf_stats(returns, positions=positions, transactions=transactions)
    assert stats["Sharpe ratio"] == pytest.approx(table.loc[name, "sharpe"], rel=1e-9)
    assert -stats["Max drawdown"] == pytest.approx(table.loc[name, "max_drawdown"], rel=1e-9)
    assert empyrical.sharpe_ratio(returns) == pytest.approx(table.loc[name, "sharpe"], rel=1e-9)
    assert -empyrical.max_drawdown(returns) == pytest.approx(table.loc[name, "max_drawdown"], rel=1e-9)


def test_load_run_and_html(res, tmp_path):
    folder = res.save(tmp_path / "run")
    saved = simlab.load_run(folder)
    pd.testing.assert_frame_equal(saved.nav, res.nav, check_freq=False)
    pd.testing.assert_frame_equal(saved.metrics(), res.metrics().rename_axis("scenario"), check_names=False)
    np.testing.assert_array_equal(saved.weights.transpose("date", "scenario", "asset").values, res.weights.values)
    assert "<table" in res._repr_html_() and "sharpe" in res._repr_html_()
    assert saved.run_id in saved._repr_html_()
    with pytest.raises(simlab.ConfigError, match="not a finished run folder"):
        simlab.load_run(tmp_path)


def test_plot_and_report(res, tmp_path):
    from matplotlib.figure import Figure

    for kind in ("equity", "drawdown"):
        assert isinstance(res.plot(kind), Figure)
    assert isinstance(res.plot("weights", scenario="top_n=3,bps=0"), Figure)
    with pytest.raises(ValueError, match="expected one of equity, drawdown, weights"):
        res.plot("pie")
    page = res.report(draws=50)
    assert page._repr_html_().startswith("<!DOCTYPE html>") or "<html" in page[:200]
    assert page.save(tmp_path / "r.html").stat().st_size > 1000


def test_quantstats_tearsheet(res, tmp_path):
    pytest.importorskip("quantstats", reason="quantstats: pip install 'simlab[peers]'")
    path = res.tearsheet("top_n=5,bps=0", tmp_path / "ts.html")
    text = path.read_text()
    assert "interop: top_n=5,bps=0" in text and "Sharpe" in text

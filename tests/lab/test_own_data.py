"""Your own data: long, OHLCV and two-header files and in-memory frames run the quickstart
pipeline with the numbers of the same prices as a wide CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.data import from_frame, load, register_loader
from simlab.data.loaders import LOADERS
from simlab.errors import DataError, SimlabWarning

QUICK = {
    "name": "own_data",
    "data": {"start": "2019-01-02", "end": "2020-06-30"},
    "costs": {"type": "flat", "bps": 10},
    "strategy": {"type": "momentum", "lookback": 126, "skip": 21},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 5}, {"type": "position_limit", "max_weight": 0.25}],
    "scenarios": {"grid": {"pipeline.0.top_n": [3, 5]}},
}


@pytest.fixture(scope="module")
def close():
    return load("builtin:sp500_20").close.loc["2018-01-01":"2020-06-30"].iloc[:, :8]


@pytest.fixture(scope="module")
def wide_run(close, tmp_path_factory):
    folder = tmp_path_factory.mktemp("wide")
    close.rename_axis("date").to_csv(folder / "wide.csv")
    return simlab.run({**QUICK, "data": {**QUICK["data"], "source": f"csv:{folder / 'wide.csv'}"}})


def long_table(close: pd.DataFrame) -> pd.DataFrame:
    long = close.rename_axis("Date").stack().rename("Adj Close").reset_index().rename(columns={"level_1": "Ticker"})
    long["Close"] = long["Adj Close"] * 0.9          # unadjusted: left out for Adj Close
    long["Open"] = long["Adj Close"] * 1.01
    long["High"], long["Low"] = long["Open"] * 1.02, long["Open"] * 0.98
    long["Volume"] = 1e6
    return long.sample(frac=1.0, random_state=3)      # any row order


def run_source(source: str):
    return simlab.run({**QUICK, "data": {**QUICK["data"], "source": source}})


def test_user_data_has_no_benchmark_unless_named(wide_run):
    assert wide_run.config.experiment.data.benchmark is None
    assert wide_run.benchmark is None


def test_a_long_csv_runs_as_the_wide_one(close, wide_run, tmp_path):
    path = tmp_path / "long.csv"
    long_table(close).to_csv(path, index=False)
    res = run_source(f"csv:{path}")
    pd.testing.assert_frame_equal(res.nav, wide_run.nav)
    pd.testing.assert_frame_equal(res.market.volume, pd.DataFrame(1e6, index=close.index, columns=close.columns),
                                  check_names=False, check_freq=False)
    assert res.market.provenance["layout"] == "long" and res.market.provenance["close"] == "adjclose"


def test_two_header_rows_as_downloaders_write(close, wide_run, tmp_path):
    path = tmp_path / "download.csv"
    long = long_table(close).set_index(["Date", "Ticker"]).sort_index()
    frame = long.unstack("Ticker")
    frame.columns.names = ["Price", "Ticker"]
    frame.to_csv(path)
    assert open(path).read().splitlines()[1].startswith("Ticker")
    res = run_source(f"csv:{path}")
    pd.testing.assert_frame_equal(res.nav, wide_run.nav)
    assert res.market.open is not None and res.market.volume is not None


def test_single_asset_ohlcv_file(close, tmp_path):
    path = tmp_path / "AAPL.csv"
    long = long_table(close[["AAPL"]]).drop(columns="Ticker").sort_values("Date")
    long.to_csv(path, index=False)
    md = load(f"csv:{path}")
    assert list(md.assets) == ["AAPL"]
    np.testing.assert_allclose(md.close["AAPL"].to_numpy(), close["AAPL"].to_numpy())
    np.testing.assert_allclose(md.open["AAPL"].to_numpy(), close["AAPL"].to_numpy() * 1.01)


def test_a_dataframe_in_memory(close, wide_run):
    res = simlab.run(QUICK, data=close)
    pd.testing.assert_frame_equal(res.nav, wide_run.nav)
    assert res.config.experiment.data.source.startswith("memory:")
    res_long = simlab.run(QUICK, data=long_table(close))
    pd.testing.assert_frame_equal(res_long.nav, wide_run.nav)
    assert simlab.run(QUICK, data=close.copy()).config.config_hash() == res.config.config_hash()
    assert res_long.config.config_hash() != res.config.config_hash()  # it adds open and volume
    with pytest.raises(simlab.ConfigError, match="pass the same data again"):
        simlab.run(res.config.to_dict())


def test_a_named_benchmark_on_data_passed_in_is_said(close):
    with pytest.warns(SimlabWarning, match="benchmark"):
        simlab.run({**QUICK, "data": {**QUICK["data"], "source": "builtin:sp500_20"}}, data=close)


def test_a_long_table_with_a_pair_twice_names_it(close):
    long = long_table(close)
    with pytest.raises(DataError, match=r"asset '\w+' has two rows on \d{4}-\d\d-\d\d"):
        from_frame(pd.concat([long, long.iloc[:1]]))


def test_no_source_says_how(close):
    with pytest.raises(simlab.ConfigError, match="data.source: no data source"):
        simlab.run(QUICK)


def test_register_loader(close, wide_run, tmp_path):
    def feather(path):
        return from_frame(pd.read_feather(path), f"feather:{path}")

    path = tmp_path / "px.feather"
    close.reset_index().to_feather(path)
    register_loader("feather", feather)
    try:
        pd.testing.assert_frame_equal(run_source(f"feather:{path}").nav, wide_run.nav)
        with pytest.raises(simlab.ConfigError, match="already served"):
            register_loader("feather", lambda p: None)
    finally:
        LOADERS.pop("feather")

"""Loaders: built-in real data, researcher files, synthetic markets, the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simlab.data import MarketData, available, load, load_series, load_table
from simlab.errors import ConfigError, DataError

SP500_20 = (
    "AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM".split()
)


@pytest.fixture(scope="module")
def sp500_20() -> MarketData:
    return load("builtin:sp500_20")


def test_sp500_20_shape_span_and_tickers(sp500_20):
    close = sp500_20.close
    assert close.shape == (8313, 20)
    assert list(close.columns) == SP500_20
    assert close.index[0] == pd.Timestamp("1990-01-02")
    assert close.index[-1] == pd.Timestamp("2022-12-28")
    assert close.index.name == "date"
    assert not close.isna().any().any()
    assert close.loc["1990-01-02", "AAPL"] == 0.264


def test_sp500_20_provenance(sp500_20):
    prov = sp500_20.provenance
    assert prov["source"] == "builtin:sp500_20" == sp500_20.source
    assert prov["rows"] == 8313
    assert (prov["start"], prov["end"]) == ("1990-01-02", "2022-12-28")
    assert "BSD-3" in prov["licence"] and "skfolio" in prov["origin"]
    assert any("survivorship" in c for c in prov["caveats"])
    assert sp500_20.meta is None  # sectors come from the universe file


def test_benchmark_loads_and_aligns(sp500_20):
    bench = load_series("builtin:sp500_index")
    assert bench.name == "sp500_index"
    assert bench.index.equals(sp500_20.dates)
    md = sp500_20.with_benchmark(bench)
    assert md.benchmark.index.equals(md.dates)
    assert md.benchmark.iloc[0] == pytest.approx(359.69)


def test_vix_span():
    vix = load_series("builtin:vix")
    assert vix.name == "vix"
    assert vix.index[0] == pd.Timestamp("2014-01-03")
    assert vix.index[-1] == pd.Timestamp("2019-01-03")
    assert vix.notna().all() and (vix > 0).all()
    assert load("builtin:vix").provenance["licence"].startswith("NCSA")


def test_factor_etfs():
    close = load("builtin:factor_etfs").close
    assert list(close.columns) == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert close.index[0] == pd.Timestamp("2014-01-02")


def test_sp500_ohlcv_has_open_and_volume():
    md = load("builtin:sp500_ohlcv")
    assert list(md.assets) == ["SP500"]
    assert md.volume is not None and md.open is not None
    assert md.volume.loc["1999-01-04", "SP500"] == 877_000_000
    assert md.close.loc["1999-01-04", "SP500"] == pytest.approx(1228.099976)
    assert md.dates[0] == pd.Timestamp("1999-01-04")
    assert md.dates[-1] == pd.Timestamp("2018-12-31")


def test_ff_factors_table_is_monthly_fractions():
    ff = load_table("ff_factors")
    assert list(ff.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert ff.index[0] == pd.Timestamp("1926-07-31")
    assert ff.index.is_month_end.all()
    assert ff.loc["1926-07-31", "Mkt-RF"] == 0.0296
    assert ff["RF"].abs().max() < 0.02  # fractions, not percents
    with pytest.raises(DataError, match="load_table"):
        load("builtin:ff_factors")


def test_available_lists_every_builtin():
    assert available() == sorted(
        ["sp500_20", "sp500_index", "factor_etfs", "vix", "sp500_ohlcv", "ff_factors"]
    )


def test_unknown_builtin_suggests_nearest():
    with pytest.raises(DataError, match=r"'sp500_2'.*did you mean 'sp500_20'.*factor_etfs"):
        load("builtin:sp500_2")


def test_unknown_prefix():
    with pytest.raises(DataError, match="unknown data source 'yahoo:AAPL'"):
        load("yahoo:AAPL")


def test_missing_file_names_path(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="nope.csv"):
        load(f"csv:{missing}")
    with pytest.raises(DataError, match="nope.parquet"):
        load(f"parquet:{tmp_path / 'nope.parquet'}")


def test_synthetic_options_rejected_elsewhere():
    with pytest.raises(ConfigError, match="n_assets"):
        load("builtin:sp500_20", n_assets=5)


def _prices() -> pd.DataFrame:
    dates = pd.bdate_range("2021-01-04", periods=30, name="date")
    rng = np.random.default_rng(3)
    values = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (30, 3)), axis=0))
    frame = pd.DataFrame(values, index=dates, columns=["X", "Y", "Z"])
    frame.iloc[:5, 2] = np.nan  # listed later: legal
    return frame


def test_csv_round_trip(tmp_path):
    frame = _prices()
    path = tmp_path / "prices.csv"
    frame.to_csv(path)
    md = load(f"csv:{path}")
    pd.testing.assert_frame_equal(md.close, frame, check_freq=False, check_index_type=False)
    assert md.provenance["rows"] == 30 and md.source == f"csv:{path}"
    assert md.provenance["start"] == "2021-01-04"


def test_parquet_round_trip_index_and_column(tmp_path):
    frame = _prices()
    with_index, with_column = tmp_path / "a.parquet", tmp_path / "b.parquet"
    frame.to_parquet(with_index)
    frame.reset_index().to_parquet(with_column)
    for path in (with_index, with_column):
        md = load(f"parquet:{path}")
        pd.testing.assert_frame_equal(md.close, frame, check_freq=False, check_index_type=False)


def test_csv_bad_date_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("date,X\n2021-01-04,1.0\nnot-a-date,2.0\n")
    with pytest.raises(DataError, match="'not-a-date'"):
        load(f"csv:{path}")


def test_csv_validation_runs(tmp_path):
    path = tmp_path / "neg.csv"
    path.write_text("date,X,Y\n2021-01-04,1.0,2.0\n2021-01-05,1.1,-2.0\n")
    with pytest.raises(DataError, match="'Y'.*-2.0.*2021-01-05"):
        load(f"csv:{path}")
    assert load(f"csv:{path}", validate=False).close.shape == (2, 2)


def test_synthetic_source():
    md = load("synthetic", n_assets=4, n_days=50, seed=7)
    assert md.close.shape == (50, 4)
    assert md.provenance["source"] == "synthetic" and md.provenance["seed"] == 7
    assert load("synthetic").close.shape == (2520, 20)


def test_load_series_rejects_many_columns():
    with pytest.raises(DataError, match="20 columns"):
        load_series("builtin:sp500_20")

"""validate_market: every malformation is named by asset and date; NaN gaps are legal."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from simlab.data import MarketData, validate_market
from simlab.errors import DataError


def _close(n_days: int = 10) -> pd.DataFrame:
    dates = pd.bdate_range("2020-01-01", periods=n_days, name="date")
    values = np.linspace(10.0, 20.0, n_days)[:, None] * np.array([1.0, 2.0, 3.0])
    return pd.DataFrame(values, index=dates, columns=["AAA", "BBB", "CCC"])


@pytest.fixture
def md() -> MarketData:
    return MarketData(close=_close())


def test_clean_data_passes(md):
    assert validate_market(md) is md


def test_leading_trailing_and_internal_nan_are_legal(md):
    close = md.close.copy()
    close.iloc[:4, 0] = np.nan  # listed later
    close.iloc[7:, 1] = np.nan  # delisted
    close.iloc[5, 2] = np.nan  # a day without trading
    validate_market(replace(md, close=close))


def test_index_not_datetime(md):
    close = md.close.set_axis([str(d.date()) for d in md.dates], axis=0)
    with pytest.raises(DataError, match="not a DatetimeIndex.*2020-01-01"):
        validate_market(replace(md, close=close))


def test_index_not_parseable(md):
    labels = [str(d.date()) for d in md.dates]
    labels[3] = "someday"
    close = md.close.set_axis(labels, axis=0)
    with pytest.raises(DataError, match="'someday' \\(row 3\\) is not a date"):
        validate_market(replace(md, close=close))


def test_unsorted_dates_name_first_out_of_order(md):
    order = [0, 1, 2, 4, 3, 5, 6, 7, 8, 9]
    with pytest.raises(DataError, match="not sorted: 2020-01-06 \\(row 4\\)"):
        validate_market(replace(md, close=md.close.iloc[order]))


def test_duplicate_date_named(md):
    close = md.close.iloc[[0, 1, 2, 2, 3]]
    with pytest.raises(DataError, match="duplicate date 2020-01-03"):
        validate_market(replace(md, close=close))


@pytest.mark.parametrize("bad", [0.0, -1.5, np.inf])
def test_non_positive_price_names_asset_date_value(md, bad):
    close = md.close.copy()
    close.iloc[6, 1] = bad
    close.iloc[8, 2] = -9.0  # a later problem is not the one reported
    with pytest.raises(DataError, match=f"'BBB' has price {bad!r} on 2020-01-09"):
        validate_market(replace(md, close=close))


def test_all_nan_column_named(md):
    close = md.close.copy()
    close["CCC"] = np.nan
    with pytest.raises(DataError, match="\\['CCC'\\].*all NaN"):
        validate_market(replace(md, close=close))


def test_duplicate_asset_names(md):
    close = md.close.set_axis(["AAA", "BBB", "AAA"], axis=1)
    with pytest.raises(DataError, match="duplicate asset names \\['AAA'\\]"):
        validate_market(replace(md, close=close))


def test_non_numeric_column_named(md):
    close = md.close.astype(object)
    close.iloc[2, 0] = "n/a"
    with pytest.raises(DataError, match="'AAA' is not numeric.*'n/a' on 2020-01-03"):
        validate_market(replace(md, close=close))


def test_open_not_aligned(md):
    with pytest.raises(DataError, match="open: dates not aligned.*2020-01-14 is missing"):
        validate_market(replace(md, open=md.close.iloc[:-1]))
    with pytest.raises(DataError, match="open: assets not aligned.*missing \\['CCC'\\]"):
        validate_market(replace(md, open=md.close[["AAA", "BBB"]]))


def test_volume_not_aligned(md):
    volume = md.close.shift(1, freq="D")
    with pytest.raises(DataError, match="volume: dates not aligned.*is not a date of close"):
        validate_market(replace(md, volume=volume))


def test_negative_volume_named(md):
    volume = md.close * 1000
    volume.iloc[4, 2] = -5.0
    with pytest.raises(DataError, match="'CCC' has negative volume -5.0 on 2020-01-07"):
        validate_market(replace(md, volume=volume))


def test_open_and_volume_valid(md):
    validate_market(replace(md, open=md.close * 0.99, volume=md.close * 0 + 1e6))


def test_benchmark_misaligned(md):
    bench = pd.Series(100.0, index=md.dates[2:], name="SPX")
    with pytest.raises(DataError, match="benchmark 'SPX': dates not aligned.*2020-01-01"):
        validate_market(replace(md, benchmark=bench))


def test_benchmark_without_overlap(md):
    other = pd.Series(100.0, index=pd.bdate_range("2010-01-01", periods=5), name="SPX")
    aligned = md.with_benchmark(other)  # reindexing leaves it all NaN
    with pytest.raises(DataError, match="'SPX': no value between 2020-01-01 and 2020-01-14"):
        validate_market(aligned)


def test_benchmark_partial_overlap_is_legal(md):
    partial = pd.Series(100.0, index=md.dates[3:], name="SPX")
    validate_market(md.with_benchmark(partial))


def test_macro_misaligned(md):
    macro = pd.DataFrame({"vix": 15.0}, index=md.dates[:5])
    with pytest.raises(DataError, match="macro: dates not aligned"):
        validate_market(replace(md, macro=macro))


def test_missing_date_in_index(md):
    close = md.close.set_axis(md.dates.insert(3, pd.NaT)[:-1], axis=0)
    with pytest.raises(DataError, match="NaT.*row 3"):
        validate_market(replace(md, close=close))

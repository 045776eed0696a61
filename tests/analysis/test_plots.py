"""simlab.analysis.plots writes PNG files and leaves no figure open."""

from __future__ import annotations

import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from simlab.analysis import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_nav(n_scenarios: int, n_days: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-01-01", periods=n_days)
    returns = rng.normal(4e-4, 0.01, (n_days, n_scenarios))
    nav = pd.DataFrame(
        1e6 * np.cumprod(1 + returns, axis=0),
        index=dates,
        columns=[f"top_n={k}" for k in range(n_scenarios)],
    )
    nav.iloc[:40, 0] = np.nan  # a scenario that starts later
    return nav


def assert_png(path):
    assert path.exists()
    data = path.read_bytes()
    assert len(data) > 1000
    assert data.startswith(PNG_MAGIC)


@pytest.fixture
def index_level():
    dates = pd.bdate_range("2020-12-01", periods=340)
    return pd.Series(3000 + np.arange(340.0), index=dates, name="SP500")


@pytest.mark.parametrize("n_scenarios", [1, 3, 20])
def test_plot_equity_writes_png(tmp_path, index_level, n_scenarios):
    out = plots.plot_equity(make_nav(n_scenarios), index_level, tmp_path / "plots" / "equity.png", title="NAV")
    assert out == tmp_path / "plots" / "equity.png"
    assert_png(out)


def test_plot_equity_without_benchmark_linear(tmp_path):
    out = plots.plot_equity(make_nav(2), None, tmp_path / "equity.png", log=False)
    assert_png(out)


@pytest.mark.parametrize("n_scenarios", [2, 30])
def test_plot_drawdown_writes_png(tmp_path, n_scenarios):
    returns = make_nav(n_scenarios).pct_change(fill_method=None)
    out = plots.plot_drawdown(returns, tmp_path / "drawdown.png", title="Drawdown")
    assert_png(out)


def test_plots_leave_no_pyplot_figure_and_keep_the_backend(tmp_path, index_level):
    backend = matplotlib.get_backend()
    style = dict(matplotlib.rcParams)
    plots.plot_equity(make_nav(3), index_level, tmp_path / "e.png")
    plots.plot_drawdown(make_nav(3).pct_change(fill_method=None), tmp_path / "d.png")
    assert matplotlib.get_backend() == backend
    assert dict(matplotlib.rcParams) == style
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_empty_nav_is_refused(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plots.plot_equity(pd.DataFrame(), None, tmp_path / "x.png")

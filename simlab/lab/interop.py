"""A finished run handed to the tools researchers already use.

- :func:`to_xarray`: one Dataset (``nav``, ``returns``, ``weights``) whose scenario axis
  carries the grid's parameters as typed coordinates (``ds.sel(top_n=5)``);
- :func:`to_quantstats`: a scenario's daily returns as quantstats wants them, and
  :func:`tearsheet`, quantstats' HTML tear sheet of it;
- :func:`to_vectorbt`: vectorbt's returns accessor with a 252-day year (its default year of
  365 days would turn a Sharpe ratio of 1.00 into 1.21);
- :func:`to_pyfolio`: returns, positions (money per asset and ``cash``) and transactions.

The libraries themselves are optional: a missing one raises ``ImportError`` with the install
command.
"""

from __future__ import annotations

import itertools
from importlib import import_module
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from simlab.analysis.metrics import drop_start_day
from simlab.config.scenarios import short_labels
from simlab.data.instruments import PERIODS
from simlab.errors import DataError


def _require(module: str, package: str):
    try:
        return import_module(module)
    except ImportError:
        raise ImportError(f"{package} is not installed: pip install {package} "
                          "(or pip install 'simlab[peers]')") from None


def grid_coordinates(result) -> dict[str, list]:
    """Each grid parameter's value per scenario, in scenario order; ``case`` holds the name
    of a ``list`` entry where the experiment has one. Empty for a config without a grid
    (a saved config lists its scenarios expanded: their names still say the values)."""
    spec = result.config.experiment.scenarios
    if not spec.grid:
        return {}
    labels = short_labels(list(spec.grid))
    combos = list(itertools.product(*spec.grid.values()))
    cases = [str(e.get("name", "")) for e in spec.list] or [None]
    if len(cases) * len(combos) != len(result.scenarios):
        return {}
    coords: dict[str, list] = {labels[p]: [] for p in spec.grid}
    if cases != [None]:
        coords["case"] = []
    for case in cases:
        for combo in combos:
            for path, value in zip(spec.grid, combo):
                coords[labels[path]].append(value)
            if case is not None:
                coords["case"].append(case)
    return coords


def to_xarray(result) -> xr.Dataset:
    """The run as a Dataset with dims (date, scenario, asset).

    Variables ``nav`` and ``returns`` (date, scenario) and ``weights`` (date, scenario,
    asset). With a grid, ``scenario`` is indexed by the grid's parameters (a MultiIndex
    whose levels are the short labels, ``top_n``, ``bps``..., with the values' own types),
    so ``ds.sel(top_n=5)`` picks a parameter value; ``scenario_name`` keeps the names.
    """
    names = list(result.scenarios)
    ds = xr.Dataset(
        {"nav": (("date", "scenario"), result.nav.to_numpy()),
         "returns": (("date", "scenario"), result.returns.to_numpy()),
         "weights": (("date", "scenario", "asset"), result.weights.values)},
        coords={"date": result.dates, "asset": list(result.assets)},
        attrs={"name": result.config.name, "config_hash": result.config.config_hash()},
    )
    grid = grid_coordinates(result)
    if grid:
        index = pd.MultiIndex.from_arrays(list(grid.values()), names=list(grid))
        ds = ds.assign_coords(xr.Coordinates.from_pandas_multiindex(index, "scenario"))
        ds = ds.assign_coords(scenario_name=("scenario", names))
    else:
        ds = ds.assign_coords(scenario=names)
    return ds


def _scenario(result, scenario: str | None) -> str:
    if scenario is None:
        if len(result.scenarios) != 1:
            raise ValueError(f"name a scenario: one of {list(result.scenarios)}")
        return result.scenarios[0]
    if scenario not in result.scenarios:
        raise KeyError(f"no scenario {scenario!r}; the run has {list(result.scenarios)}")
    return scenario


def to_quantstats(result, scenario: str | None = None) -> pd.Series:
    """Daily simple returns of one scenario (a Series on a tz-naive DatetimeIndex, named
    after it), for ``quantstats.stats`` and ``quantstats.reports``; the start day is left out
    (:func:`simlab.analysis.metrics.drop_start_day`), as in ``res.metrics()``."""
    name = _scenario(result, scenario)
    return drop_start_day(result.returns[name]).dropna().rename(name)


def tearsheet(result, scenario: str | None = None, path: str | Path = "tearsheet.html") -> Path:
    """quantstats' HTML tear sheet of one scenario (a 252-day year, 365 on ``data.calendar:
    every_day``; the benchmark, where the run has one, as the comparison); returns the path written."""
    import warnings

    qs = _require("quantstats", "quantstats")
    name = _scenario(result, scenario)
    bench = None if result.benchmark_returns is None else result.benchmark_returns.iloc[1:].rename("benchmark")
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantstats' own pandas and font warnings
        qs.reports.html(to_quantstats(result, name), benchmark=bench, output=str(path), periods_per_year=_year(result),
                        title=f"{result.config.name}: {name}")
    return path


def to_vectorbt(result):
    """vectorbt's returns accessor over every scenario, daily, with a 252-day year (365 on
    ``data.calendar: every_day``).

    ``res.to_vectorbt().sharpe_ratio()`` equals ``res.metrics()["sharpe"]``: the start day
    is left out, as there.
    """
    _require("vectorbt", "vectorbt")  # registers the .vbt accessor
    returns = drop_start_day(result.returns)
    return returns.vbt.returns(freq="1D", year_freq=f"{_year(result)}D")


def _year(result) -> int:
    """Return observations per year on the run's calendar (as ``res.metrics()`` annualises)."""
    return PERIODS[result.config.experiment.data.calendar]


def to_pyfolio(result, scenario: str | None = None) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """pyfolio's three inputs for one scenario.

    Returns
    -------
    returns : Series
        Daily simple returns without the start day, as ``res.metrics()`` counts them.
    positions : DataFrame
        Money held in each asset at each close, and ``cash`` (NAV less the positions).
    transactions : DataFrame
        One row per fill, indexed by date: ``amount`` (shares, signed), ``price``, ``symbol``.

    Raises
    ------
    DataError
        The scenario holds futures at some close: pyfolio counts the positions plus cash as
        the portfolio's value, and a future's notional is not paid for (cash holds only its
        margin, :mod:`simlab.execution.instruments`), so no table is right in both.
    """
    name = _scenario(result, scenario)
    nav = result.nav[name]
    weights = result.weights.sel(scenario=name).to_pandas()
    _refuse_futures(result, name, weights)
    positions = weights.mul(nav, axis=0)
    positions["cash"] = nav - positions.sum(axis=1)
    trades = result.trades
    trades = trades[trades["scenario"] == name]
    transactions = pd.DataFrame({"amount": trades["shares"].to_numpy(), "price": trades["price"].to_numpy(),
                                 "symbol": trades["asset"].to_numpy()},
                                index=pd.DatetimeIndex(trades["date"].to_numpy(), name="date"))
    returns = drop_start_day(result.returns[name]).dropna().rename(name)
    return returns, positions.rename_axis(None, axis=1), transactions


def _refuse_futures(result, name: str, weights: pd.DataFrame) -> None:
    """Raise a DataError naming the futures scenario ``name`` holds, if any (see :func:`to_pyfolio`)."""
    instruments = getattr(result.market, "instruments", None)
    if instruments is None:
        return
    futures = instruments.kind.reindex(weights.columns).eq("future").to_numpy()
    held = weights.columns[futures & (weights.abs() > 0).any(axis=0).to_numpy()]
    if len(held):
        raise DataError(f"to_pyfolio: scenario {name!r} holds futures ({', '.join(map(str, held))}); pyfolio "
                        "reads positions plus cash as the portfolio's value, and a future's notional is not paid "
                        "for (cash holds only its margin), so neither a notional nor a margin column would be "
                        "right; use res.to_quantstats() or res.metrics() for this book")


def metrics_html(metrics: pd.DataFrame, title: str) -> str:
    """A scenario x metric table as HTML, fractions as percentages (notebook display)."""
    from simlab.analysis.tables import PERCENT as percent

    shown = metrics.T.astype(object)
    for metric in shown.index:
        fmt = "{:.2%}" if metric in percent else "{:.3f}"
        shown.loc[metric] = [fmt.format(v) if isinstance(v, (int, float, np.floating)) and np.isfinite(v) else v
                             for v in shown.loc[metric]]
    return f"<div><strong>{title}</strong>{shown.to_html(escape=True)}</div>"


PLOT_KINDS = ("equity", "drawdown", "weights")


def plot(result, kind: str = "equity", scenario: str | None = None):
    """A matplotlib Figure of the run: ``equity`` (log scale, with the benchmark),
    ``drawdown``, or ``weights`` (one scenario's stacked weights, cash on top)."""
    from simlab.analysis import plots

    title = result.config.name
    if kind == "equity":
        return plots.equity_figure(result.nav, result.benchmark, title=title)
    if kind == "drawdown":
        return plots.drawdown_figure(result.returns, title=title)
    if kind == "weights":
        name = _scenario(result, scenario)
        return plots.weights_figure(result.weights.sel(scenario=name).to_pandas(), title=f"{title}: {name}")
    raise ValueError(f"kind={kind!r}: expected one of {', '.join(PLOT_KINDS)}")


class HtmlPage(str):
    """An HTML page that a notebook shows inline; ``save(path)`` writes it."""

    def _repr_html_(self) -> str:
        return str(self)

    def save(self, path) -> Path:
        """Write the page (UTF-8); returns the path."""
        path = Path(path)
        path.write_text(str(self), encoding="utf-8")
        return path

"""PNG plots of a run: equity curves and drawdowns.

Figures are built with the object-oriented API on an Agg canvas
(:class:`matplotlib.figure.Figure` with
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`), so plotting works without a
display, never switches the session's backend, never registers a figure with
``pyplot`` (nothing is left open) and never changes the global style.

With more than :data:`MAX_LABELLED` scenarios, scenario lines are drawn thin and
translucent in one colour with a single legend entry, instead of one entry each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from simlab.analysis.metrics import drawdown_series

__all__ = ["MAX_LABELLED", "plot_drawdown", "plot_equity"]

MAX_LABELLED = 12
"""Most scenarios drawn with a legend entry each."""

_FIGSIZE = (10.0, 5.5)
_DPI = 110
_CROWD_COLOR = "tab:blue"
_BENCHMARK_COLOR = "black"


def _new_axes(title: str | None):
    """A figure on an Agg canvas and its single axes."""
    fig = Figure(figsize=_FIGSIZE, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG to ``path`` (creating its folder) and release it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI)
    fig.clear()
    return path


def _as_frame(data: pd.Series | pd.DataFrame, name: str) -> pd.DataFrame:
    """A DataFrame of scenarios; a Series is one scenario. Empty input is refused."""
    if isinstance(data, pd.Series):
        data = data.to_frame(data.name if data.name is not None else "portfolio")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame or Series, got {type(data).__name__}")
    if data.empty:
        raise ValueError(f"{name} is empty: nothing to plot")
    return data


def _draw_scenarios(ax, frame: pd.DataFrame) -> None:
    """One line per column: labelled when few, thin and unlabelled when many."""
    crowded = frame.shape[1] > MAX_LABELLED
    for i, column in enumerate(frame.columns):
        if crowded:
            label = f"{frame.shape[1]} scenarios" if i == 0 else None
            ax.plot(frame.index, frame[column], color=_CROWD_COLOR, lw=0.6, alpha=0.35, label=label)
        else:
            ax.plot(frame.index, frame[column], lw=1.3, label=str(column))


def _normalize_at_start(nav: pd.DataFrame) -> pd.DataFrame:
    """Each column divided by its first non-NaN value (so it starts at 1)."""
    values = nav.to_numpy(dtype="float64", na_value=np.nan)
    valid = ~np.isnan(values)
    first_row = np.where(valid.any(axis=0), valid.argmax(axis=0), 0)
    start = values[first_row, np.arange(values.shape[1])]
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame(values / start, index=nav.index, columns=nav.columns)


def _normalize_benchmark(benchmark: pd.Series, nav: pd.DataFrame) -> pd.Series:
    """Benchmark on ``nav``'s dates, equal to 1 on the first date any scenario has a value."""
    level = benchmark.reindex(nav.index).astype("float64")
    first_date = nav.dropna(how="all").index[0]
    base = level.loc[first_date:].dropna()
    if base.empty:
        raise ValueError(f"benchmark has no value on or after {first_date}, the first NAV date")
    return level / base.iloc[0]


def plot_equity(
    nav: pd.DataFrame,
    benchmark: pd.Series | None,
    path: str | Path,
    *,
    log: bool = True,
    title: str | None = None,
) -> Path:
    """Plot each scenario's value, normalized to 1 at its start, against a benchmark.

    Parameters
    ----------
    nav : DataFrame (T, B)
        Portfolio value per date (rows) and scenario (columns); leading NaN rows
        of a column are days before that scenario starts.
    benchmark : Series or None
        Benchmark *level* (price or value), aligned on ``nav``'s dates and
        normalized to 1 on the first date of ``nav`` that has a value (or its
        first value after it).
    path : str or Path
        Where to write the PNG; missing folders are created.
    log : bool
        Logarithmic value axis.
    title : str, optional
        Figure title.

    Returns
    -------
    Path
        The file written.
    """
    frame = _as_frame(nav, "nav")
    fig, ax = _new_axes(title)
    _draw_scenarios(ax, _normalize_at_start(frame))
    if benchmark is not None:
        level = _normalize_benchmark(benchmark, frame)
        ax.plot(level.index, level, color=_BENCHMARK_COLOR, lw=1.6, ls="--",
                label=str(benchmark.name or "benchmark"))
    if log:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_ylabel("value (start = 1)")
    ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def plot_drawdown(
    returns: pd.DataFrame, path: str | Path, title: str | None = None
) -> Path:
    """Plot each scenario's fall below its running peak.

    Parameters
    ----------
    returns : DataFrame (T, B)
        Daily simple returns per date and scenario.
    path : str or Path
        Where to write the PNG; missing folders are created.
    title : str, optional
        Figure title.

    Returns
    -------
    Path
        The file written.

    Notes
    -----
    Drawdown is drawn downwards (a 20% fall at -20%), computed by
    :func:`simlab.analysis.metrics.drawdown_series`.
    """
    frame = _as_frame(returns, "returns")
    fig, ax = _new_axes(title)
    _draw_scenarios(ax, -drawdown_series(frame))
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylabel("below running peak")
    ax.legend(loc="lower left", fontsize="small")
    return _save(fig, path)

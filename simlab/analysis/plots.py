"""PNG plots of a run: equity curves, drawdowns, rolling Sharpe ratios, weights, turnover
and costs, regimes and constraint utilization.

Figures are built with the object-oriented API on an Agg canvas
(:class:`matplotlib.figure.Figure` with
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`), so plotting works without a
display, never switches the session's backend, never registers a figure with
``pyplot`` (nothing is left open) and never changes the global style.

With more than :data:`MAX_LABELLED` scenarios, scenario lines are drawn thin and
translucent in one colour with a single legend entry, instead of one entry each.

Each plot has two forms: ``*_figure`` builds and returns the :class:`Figure` (the HTML
report turns it into PNG bytes with :func:`figure_png`), ``plot_*`` writes it to a file.
The ``*_figure`` functions draw data they are given, already computed:
:mod:`simlab.analysis.run_series` prepares rolling Sharpe ratios, turnover, costs, regimes
and utilization series for the report (:mod:`simlab.analysis.report`).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from simlab.analysis.metrics import drawdown_series

__all__ = [
    "MAX_LABELLED",
    "distribution_figure",
    "rolling_risk_figure",
    "drawdown_figure",
    "equity_figure",
    "figure_png",
    "plot_drawdown",
    "plot_equity",
    "regime_figure",
    "rolling_sharpe_figure",
    "turnover_costs_figure",
    "weights_figure",
]

MAX_LABELLED = 12
"""Most scenarios drawn with a legend entry each."""

_FIGSIZE = (10.0, 5.5)
_DPI = 110
_CROWD_COLOR = "tab:blue"
_BENCHMARK_COLOR = "black"


def _new_figure(figsize: tuple[float, float] = _FIGSIZE) -> Figure:
    """An empty figure on its own Agg canvas (never registered with pyplot)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _new_axes(title: str | None):
    """A figure on an Agg canvas and its single axes."""
    fig = _new_figure()
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


def figure_png(fig: Figure, dpi: int = _DPI) -> bytes:
    """``fig`` as PNG bytes; the figure is released afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    fig.clear()
    return buffer.getvalue()


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
    """Write :func:`equity_figure` as a PNG to ``path`` (missing folders are created)."""
    return _save(equity_figure(nav, benchmark, log=log, title=title), path)


def equity_figure(
    nav: pd.DataFrame,
    benchmark: pd.Series | None,
    *,
    log: bool = True,
    title: str | None = None,
) -> Figure:
    """Each scenario's value, normalized to 1 at its start, against a benchmark.

    Parameters
    ----------
    nav : DataFrame (T, B)
        Portfolio value per date (rows) and scenario (columns); leading NaN rows
        of a column are days before that scenario starts.
    benchmark : Series or None
        Benchmark *level* (price or value), aligned on ``nav``'s dates and
        normalized to 1 on the first date of ``nav`` that has a value (or its
        first value after it).
    log : bool
        Logarithmic value axis.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
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
    return fig


def plot_drawdown(
    returns: pd.DataFrame, path: str | Path, title: str | None = None
) -> Path:
    """Write :func:`drawdown_figure` as a PNG to ``path`` (missing folders are created)."""
    return _save(drawdown_figure(returns, title=title), path)


def drawdown_figure(returns: pd.DataFrame, title: str | None = None) -> Figure:
    """Each scenario's fall below its running peak.

    Parameters
    ----------
    returns : DataFrame (T, B)
        Daily simple returns per date and scenario.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure

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
    return fig


# --- figures for the HTML report -------------------------------------------------------------

_REGIME_COLORS = ("#d9f0d3", "#fee8c8", "#fdbb84", "#e34a33", "#b30000", "#7f0000")
_CASH_COLOR = "#d0d0d0"
_OTHER_COLOR = "#6b6b6b"
# tab10 without its grey, then the light tab20 shades: greys stay for "other" and cash
_ASSET_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                 "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
                 "#dbdb8d", "#9edae5")


def rolling_sharpe_figure(
    sharpe: pd.DataFrame,
    benchmark: pd.Series | None = None,
    *,
    window: int = 252,
    title: str | None = None,
) -> Figure:
    """Rolling Sharpe ratios of the scenarios, against the benchmark's.

    Parameters
    ----------
    sharpe : DataFrame (T, B)
        Annualized Sharpe ratio over the trailing ``window`` days, per date and scenario
        (NaN before a full window).
    benchmark : Series, optional
        The benchmark's, on the same dates; drawn dashed.
    window : int
        Trailing days of each value, for the axis label.
    title : str, optional
        Figure title.
    """
    frame = _as_frame(sharpe, "sharpe")
    fig, ax = _new_axes(title)
    _draw_scenarios(ax, frame)
    if benchmark is not None:
        ax.plot(benchmark.index, benchmark, color=_BENCHMARK_COLOR, lw=1.4, ls="--",
                label=str(benchmark.name or "benchmark"))
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_ylabel(f"Sharpe ratio, trailing {window} days")
    ax.legend(loc="best", fontsize="small")
    return fig


def distribution_figure(returns: pd.DataFrame, var: pd.Series, cvar: pd.Series, title: str | None = None) -> Figure:
    """Histograms of daily returns (percent), one per scenario, with the 95% VaR and CVaR marked.

    ``var`` and ``cvar`` are positive losses per scenario (:func:`simlab.analysis.metrics.value_at_risk`).
    """
    frame = _as_frame(returns, "returns")
    fig, ax = _new_axes(title)
    values = 100 * frame.to_numpy(dtype="float64")
    finite = values[np.isfinite(values)]
    bins = np.linspace(np.quantile(finite, 0.001), np.quantile(finite, 0.999), 80) if finite.size else 10
    for i, column in enumerate(frame.columns):
        color = f"C{i % 10}"
        ax.hist(values[:, i][np.isfinite(values[:, i])], bins=bins, histtype="step", lw=1.2, color=color,
                label=str(column))
        ax.axvline(-100 * var[column], color=color, lw=0.9, ls="--")
        ax.axvline(-100 * cvar[column], color=color, lw=0.9, ls=":")
    ax.set_xlabel("daily return, % (dashed: 95% VaR, dotted: 95% CVaR)")
    ax.set_ylabel("days")
    ax.legend(loc="best", fontsize="small")
    return fig


def rolling_risk_figure(volatility: pd.DataFrame, beta: pd.DataFrame | None, *, window: int = 252,
                        benchmark_volatility: pd.Series | None = None, title: str | None = None) -> Figure:
    """Rolling annualized volatility (top) and, with a benchmark, rolling beta (bottom)."""
    vol = _as_frame(volatility, "volatility")
    fig = _new_figure((_FIGSIZE[0], _FIGSIZE[1] * (1.6 if beta is not None else 1.0)))
    axes = fig.subplots(2 if beta is not None else 1, 1, sharex=True, squeeze=False)[:, 0]
    if title:
        axes[0].set_title(title)
    _draw_scenarios(axes[0], 100 * vol)
    if benchmark_volatility is not None:
        axes[0].plot(benchmark_volatility.index, 100 * benchmark_volatility, color=_BENCHMARK_COLOR, lw=1.4, ls="--",
                     label=str(benchmark_volatility.name or "benchmark"))
    axes[0].set_ylabel(f"volatility %, trailing {window} days")
    axes[0].legend(loc="best", fontsize="small")
    if beta is not None:
        _draw_scenarios(axes[1], _as_frame(beta, "beta"))
        axes[1].axhline(1.0, color="grey", lw=0.8)
        axes[1].set_ylabel(f"beta, trailing {window} days")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig


def weights_figure(weights: pd.DataFrame, *, max_assets: int = 10, title: str | None = None) -> Figure:
    """Stacked weights of one scenario over time, cash on top.

    Parameters
    ----------
    weights : DataFrame (T, N)
        End-of-day weights (fractions of NAV) per date and asset.
    max_assets : int
        Assets drawn on their own, those with the largest average weight; the rest are
        summed as ``other``.
    title : str, optional
        Figure title.

    Notes
    -----
    Cash is ``1 - sum(weights)`` where positive. Negative weights (shorts) are drawn
    below zero in the same colours.
    """
    frame = _as_frame(weights, "weights").fillna(0.0)
    order = frame.abs().mean().sort_values(ascending=False, kind="stable").index
    shown = frame[order[:max_assets]]
    if len(order) > max_assets:
        shown = shown.assign(other=frame[order[max_assets:]].sum(axis=1))
    cash = (1.0 - frame.sum(axis=1)).clip(lower=0.0)
    fig, ax = _new_axes(title)
    colors = [_ASSET_COLORS[i % len(_ASSET_COLORS)] for i in range(min(len(order), max_assets))]
    colors += [_OTHER_COLOR] * (shown.shape[1] - len(colors))
    long, short = shown.clip(lower=0.0), shown.clip(upper=0.0)
    ax.stackplot(frame.index, *long.to_numpy().T, cash.to_numpy(), colors=[*colors, _CASH_COLOR],
                 labels=[*map(str, shown.columns), "cash"], lw=0)
    if (short < 0).any().any():
        ax.stackplot(frame.index, *short.to_numpy().T, colors=colors, lw=0)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_ylabel("weight (fraction of NAV)")
    ax.set_xlim(frame.index[0], frame.index[-1])
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="x-small", frameon=False)
    return fig


def turnover_costs_figure(turnover: pd.DataFrame, costs: pd.DataFrame, title: str | None = None) -> Figure:
    """Trailing one-year turnover (top) and cumulative costs (bottom) of each scenario.

    Parameters
    ----------
    turnover : DataFrame (T, B)
        One-way turnover over the trailing year, a fraction of NAV.
    costs : DataFrame (T, B)
        Costs paid since the start, a fraction of NAV (each day's cost over the previous
        close's NAV, summed).
    title : str, optional
        Figure title.
    """
    turnover, costs = _as_frame(turnover, "turnover"), _as_frame(costs, "costs")
    fig = _new_figure((_FIGSIZE[0], 7.0))
    top, bottom = fig.subplots(2, 1, sharex=True)
    if title:
        top.set_title(title)
    for ax, frame, label in ((top, turnover, "one-way turnover, trailing year"),
                             (bottom, costs, "cumulative costs, fraction of NAV")):
        _draw_scenarios(ax, frame)
        ax.grid(True, alpha=0.3)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        ax.set_ylabel(label)
    top.legend(loc="best", fontsize="small")
    return fig


def regime_figure(
    nav: pd.Series,
    regime: pd.Series | None,
    utilization: pd.DataFrame | None,
    title: str | None = None,
    names: dict[int, str] | None = None,
) -> Figure:
    """One scenario's value with its regimes shaded (top), and constraint utilization (bottom).

    Parameters
    ----------
    nav : Series (T,)
        Portfolio value per date; drawn normalized to 1 at its start, log scale.
    regime : Series (T,), optional
        Regime label per date (0, 1, ...; negative or NaN unknown), shaded behind both
        panels.
    utilization : DataFrame (T, K), optional
        Utilization of each constraint (1 at its limit) per date; a dashed line marks 1.
    title : str, optional
        Figure title.
    names : dict, optional
        Legend text of regime labels (default ``regime <label>``).
    """
    has_util = utilization is not None and not utilization.empty
    fig = _new_figure((_FIGSIZE[0], 7.0 if has_util else _FIGSIZE[1]))
    axes = fig.subplots(2 if has_util else 1, 1, sharex=True, squeeze=False)[:, 0]
    if title:
        axes[0].set_title(title)
    level = _normalize_at_start(_as_frame(nav, "nav"))
    axes[0].plot(level.index, level.iloc[:, 0], color="black", lw=1.2, label="value")
    axes[0].set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    axes[0].yaxis.set_major_formatter(plain)
    axes[0].yaxis.set_minor_formatter(plain)
    axes[0].set_ylabel("value (start = 1)")
    handles = _shade_regimes(axes, regime, names or {}) if regime is not None else []
    axes[0].legend(handles=[*axes[0].get_legend_handles_labels()[0], *handles], loc="upper left", fontsize="small")
    if has_util:
        _draw_scenarios(axes[1], utilization)
        axes[1].axhline(1.0, color="black", lw=1.0, ls="--")
        axes[1].set_ylabel("constraint utilization (1 = at limit)")
        axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="x-small", frameon=False)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig


def _shade_regimes(axes, regime: pd.Series, names: dict[int, str]) -> list[Patch]:
    """Shade each run of one regime label on every axis; legend handles, one per label."""
    labels = regime.to_numpy(dtype="float64")
    dates = regime.index
    change = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[change[1:], len(labels)]
    seen: set[int] = set()
    for start, end in zip(change, ends):
        label = labels[start]
        if not np.isfinite(label) or label < 0:
            continue
        k = int(label)
        seen.add(k)
        right = dates[end] if end < len(dates) else dates[-1]
        for ax in axes:
            ax.axvspan(dates[start], right, color=_REGIME_COLORS[min(k, len(_REGIME_COLORS) - 1)],
                       alpha=0.55, lw=0, zorder=0)
    return [Patch(color=_REGIME_COLORS[min(k, len(_REGIME_COLORS) - 1)], alpha=0.55,
                  label=names.get(k, f"regime {k}")) for k in sorted(seen)]

"""Result: a finished replay with its metrics and its run folder."""

from __future__ import annotations

import logging

import pandas as pd

from simlab.engine.result import Replay
from simlab.lab import interop
from simlab.lab.run_metrics import run_metrics


class Result(Replay):
    """A finished run: the portfolio's path, its trades and decisions, and its metrics."""

    def metrics(self, risk_free: float | None = None) -> pd.DataFrame:
        """Scenario x metric table (conventions in :mod:`simlab.analysis.metrics`).

        The start day and the idle days until the first fill are left out (*Start day* there):
        return statistics read :func:`~simlab.analysis.metrics.drop_start_day`'s returns, and
        turnover and cost drag are annualized over the same days, so a run started a day
        earlier reports the same figures. ``total_costs`` is every cost paid.
        """
        rf = self.config.experiment.risk_free if risk_free is None else risk_free
        return run_metrics(self, rf)

    def sleeve_metrics(self, risk_free: float | None = None) -> pd.DataFrame | None:
        """Per sleeve of a multi-strategy book, its own metrics and its share of the profit
        (:func:`simlab.lab.sleeve_metrics.sleeve_metrics`); None for a book without sleeves."""
        if self.sleeves is None:
            return None
        from simlab.lab.sleeve_metrics import sleeve_metrics

        rf = self.config.experiment.risk_free if risk_free is None else risk_free
        return sleeve_metrics(self, rf)

    def health(self):
        """The run's health: cash days, decisions without trades, fallbacks, infeasible days
        (:func:`simlab.analysis.health.run_health`), measured once."""
        from simlab.analysis.health import run_health

        if "_health" not in self.__dict__:
            self.__dict__["_health"] = run_health(self)
        return self.__dict__["_health"]

    def alerts(self, settings=None) -> pd.DataFrame:
        """What the book's monitors would have fired over this run: one row per alert and scenario
        (scenario, time, level, kind, message, fields); ``settings`` a
        :class:`simlab.analysis.monitors.MonitorSettings` (default thresholds 10/20/30%)."""
        from simlab.analysis.monitors import MonitorSettings, backtest_alerts

        return backtest_alerts(self, settings or MonitorSettings())

    def to_xarray(self):
        """Dataset (date, scenario, asset) with the grid's parameters as typed coordinates
        (:func:`simlab.lab.interop.to_xarray`): ``res.to_xarray().sel(top_n=5)``."""
        return interop.to_xarray(self)

    def to_quantstats(self, scenario: str | None = None) -> pd.Series:
        """One scenario's daily returns for quantstats (``qs.reports.html(res.to_quantstats("top_n=5"))``)."""
        return interop.to_quantstats(self, scenario)

    def tearsheet(self, scenario: str | None = None, path="tearsheet.html"):
        """quantstats' HTML tear sheet of one scenario, written to ``path`` (returned)."""
        return interop.tearsheet(self, scenario, path)

    def to_vectorbt(self):
        """vectorbt's returns accessor over every scenario, with a 252-day year (365 on ``data.calendar: every_day``)."""
        return interop.to_vectorbt(self)

    def to_pyfolio(self, scenario: str | None = None):
        """(returns, positions, transactions) of one scenario, as pyfolio's tear sheets take them."""
        return interop.to_pyfolio(self, scenario)

    def plot(self, kind: str = "equity", scenario: str | None = None):
        """A Figure: ``equity``, ``drawdown`` or ``weights`` (of ``scenario``)."""
        return interop.plot(self, kind, scenario)

    def report(self, **options) -> interop.HtmlPage:
        """The run's report page (shown inline in a notebook; ``.save(path)`` writes it);
        ``options`` as :func:`simlab.analysis.report.build_report`."""
        from simlab.analysis.report import build_report

        return interop.HtmlPage(build_report(self, **options))

    def _repr_html_(self) -> str:
        return interop.metrics_html(self.metrics(), repr(self))

    def attribution(self, factor_sets: tuple[str, ...] = ("market", "ff3", "etf"), stages: bool = True,
                    benchmark_weights: pd.DataFrame | None = None):
        """Where the return, risk and cost came from (:class:`simlab.analysis.attribution.Attribution`).

        Factor exposures on each of ``factor_sets`` (Newey-West t-statistics), risk
        contributions by asset and sector, Brinson-Fachler by sector against
        ``benchmark_weights`` (date x asset; default equal weight over the universe),
        holdings exposures at every rebalance and, when ``stages``, attribution by pipeline
        stage (which runs the pipelines' prefixes as one more batch). A book with sleeves has
        no pipeline of its own: its stages are left out (with a warning on the ``simlab.lab.result``
        logger) and :meth:`sleeve_metrics` attributes it by sleeve.
        """
        from simlab.analysis.attribution import attribution_of
        from simlab.lab.stage_attribution import stage_attribution

        att = attribution_of(self, factor_sets=factor_sets, benchmark_weights=benchmark_weights)
        if stages and self.sleeves is not None:
            logging.getLogger(__name__).warning(
                "attribution by pipeline stage: a book with sleeves has no pipeline of its own; "
                "Result.sleeve_metrics() attributes it by sleeve")
        elif stages:
            att.stages = stage_attribution(self.config, self.market)
        return att

    def save(self, path=None):
        """Write the run folder (see :func:`simlab.lab.store.save_run`); returns its path."""
        from simlab.lab.store import save_run

        return save_run(self, path)


"""Result: a finished replay with its metrics and its run folder."""

from __future__ import annotations

import pandas as pd

from simlab.analysis import metrics as _metrics
from simlab.engine.result import Replay


class Result(Replay):
    """A finished run: the portfolio's path, its trades and decisions, and its metrics."""

    def metrics(self, risk_free: float | None = None) -> pd.DataFrame:
        """Scenario x metric table (conventions in :mod:`simlab.analysis.metrics`)."""
        rf = self.config.experiment.risk_free if risk_free is None else risk_free
        return _metrics.summary(
            self.returns, benchmark_returns=self.benchmark_returns, traded_value=self.daily_traded_value(),
            costs=self.daily_costs(), nav=self.nav, risk_free=rf,
        )

    def attribution(self, factor_sets: tuple[str, ...] = ("market", "ff3", "etf"), stages: bool = True,
                    benchmark_weights: pd.DataFrame | None = None):
        """Where the return, risk and cost came from (:class:`simlab.analysis.attribution.Attribution`).

        Factor exposures on each of ``factor_sets`` (Newey-West t-statistics), risk
        contributions by asset and sector, Brinson-Fachler by sector against
        ``benchmark_weights`` (date x asset; default equal weight over the universe),
        holdings exposures at every rebalance and, when ``stages``, attribution by pipeline
        stage (which runs the pipelines' prefixes as one more batch).
        """
        from simlab.analysis.attribution import attribution_of
        from simlab.lab.stage_attribution import stage_attribution

        att = attribution_of(self, factor_sets=factor_sets, benchmark_weights=benchmark_weights)
        if stages:
            att.stages = stage_attribution(self.config, self.market)
        return att

    def save(self, path=None):
        """Write the run folder (see :func:`simlab.lab.store.save_run`); returns its path."""
        from simlab.lab.store import save_run

        return save_run(self, path)

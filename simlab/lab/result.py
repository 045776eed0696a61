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

    def health(self):
        """The run's health: cash days, decisions without trades, fallbacks, infeasible days
        (:func:`simlab.analysis.health.run_health`)."""
        from simlab.analysis.health import run_health

        return run_health(self)

    def save(self, path=None):
        """Write the run folder (see :func:`simlab.lab.store.save_run`); returns its path."""
        from simlab.lab.store import save_run

        return save_run(self, path)

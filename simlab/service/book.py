"""The service's answers about one book, as plain JSON-ready data.

Each function opens what it needs (the store, the config's market data) and never keeps a
state between calls, so the answers are those of ``simlab state`` and ``simlab pipeline``
at the moment of the request.
"""

from __future__ import annotations

import dataclasses
import datetime
import math

import numpy as np
import pandas as pd

from simlab.analysis import factor_regression, risk_decomposition
from simlab.config.loader import Config, load_config
from simlab.data.market import MarketData
from simlab.errors import DataError, SimlabError
from simlab.lab.run import load_market
from simlab.production.pipeline import Approval, Decision, run_pipeline, select_scenario
from simlab.production.state import PortfolioState, StateError, time_weighted_returns
from simlab.production.stores import Store, open_store
from simlab.service.settings import ServiceSettings


class NoBookError(StateError):
    """The store holds no book yet."""


class NotConfiguredError(SimlabError):
    """The answer needs the book's config, and the service was started without one."""


class Book:
    """One stored book and, when given, the config that runs it.

    Parameters
    ----------
    settings : the service's settings; the store URL and the config are checked here, so a
        typo fails when the service starts, not at the first request.
    """

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.store: Store = open_store(settings.state)
        self.config: Config | None = None
        if settings.config is not None:
            self.config = select_scenario(load_config(settings.config), settings.scenario)

    # ------------------------------------------------------------ stored state

    def state(self) -> PortfolioState:
        """The stored state; NoBookError when the store is empty."""
        state = self.store.load()
        if state is None:
            raise NoBookError(f"{self.store.url}: no book yet; start one with simlab pipeline CONFIG "
                              f"--state {self.store.url} --as-of DATE --execute")
        return state

    def health(self) -> dict:
        """Whether the store answers and what it holds."""
        state = self.store.load()
        return {"status": "ok", "state": self.store.url, "book": None if state is None else state.book["config"],
                "scenario": None if state is None else state.book["scenario"],
                "as_of": None if state is None else state.as_of, "version": None if state is None else state.version,
                "config": None if self.config is None else self.config.name}

    def state_view(self, history: bool = False) -> dict:
        """The book: identity, money, drawdown, positions, waiting orders, flows (and NAV history)."""
        s = self.state()
        returns = [r for _, r in time_weighted_returns(s.nav_dates, s.nav_values, s.flows)]
        positions = [{"asset": a, "shares": h, "cost_basis": b}
                     for a, h, b in zip(s.assets, s.holdings, s.cost_basis) if h != 0]
        out = {"book": {k: v for k, v in s.book.items() if k != "settings"}, "version": s.version,
               "start": s.start, "as_of": s.as_of, "nav": s.nav, "cash": s.cash, "peak_nav": s.peak_nav,
               "drawdown": s.nav / s.peak_nav - 1.0 if s.peak_nav > 0 else 0.0,
               "time_weighted_return": float(np.prod(1.0 + np.asarray(returns)) - 1.0) if returns else 0.0,
               "last_rebalance": s.last_rebalance, "positions": positions, "pending": s.pending, "flows": s.flows,
               "nav_history": None}
        if history:
            out["nav_history"] = [{"date": d, "nav": v} for d, v in zip(s.nav_dates, s.nav_values)]
        return plain(out)

    def target_view(self) -> dict:
        """The target weights of the last rebalance (all zero before the first one)."""
        s = self.state()
        return plain({"as_of": s.as_of, "last_rebalance": s.last_rebalance,
                      "targets": dict(zip(s.assets, s.last_targets)),
                      "invested": float(np.nansum(np.asarray(s.last_targets, dtype=float)))})

    def alerts_view(self) -> dict:
        """The alerts ``simlab monitor`` fired on the book, oldest first (its most recent 200).

        They are kept with the book's state (:mod:`simlab.production.monitoring`); a book that
        was never monitored has none.
        """
        state = self.store.load()
        kept = [] if state is None else list(state.monitor.get("recent", []))
        return plain({"alerts": kept, "source": "state"})

    # ------------------------------------------------------------ runs of the pipeline

    def decide(self, as_of: datetime.date | None = None, *, execute: bool = False, approve: bool = False,
               approval: Approval | None = None) -> dict:
        """One pipeline run at ``as_of`` (default: the data's last trading day); a dry run unless ``execute``."""
        cfg, md = self._market(as_of)
        day = md.dates[-1].date() if as_of is None else as_of
        decision = run_pipeline(cfg, md, self.store, day, execute=execute, approve=approve,
                                approval=approval or Approval())
        return decision_view(decision)

    def attribution_view(self, window: int = 252) -> dict:
        """Risk of the book's holdings by asset and sector, and its returns on the benchmark.

        The contributions (:func:`simlab.analysis.risk_decomposition.decompose`) are of the
        weights at the state's close over the ``window`` daily returns ending there; the
        market regression (:func:`simlab.analysis.factor_regression.regress`, Newey-West) is
        of the book's time-weighted returns since its start.
        """
        s = self.state()
        as_of = datetime.date.fromisoformat(s.as_of)
        _, md = self._market(as_of)
        notes: list[str] = []
        weights = _weights(s, md)
        held = weights[weights != 0]
        returns = md.returns().loc[:pd.Timestamp(as_of)].iloc[-window:]
        by_asset, by_sector = [], []
        if held.empty:
            notes.append("risk: the book holds only cash")
        elif len(returns[held.index].dropna()) < 20:
            notes.append(f"risk: {len(returns[held.index].dropna())} days of returns of the held assets up to "
                         f"{as_of}; need at least 20")
        else:
            table = risk_decomposition.decompose(held, returns)
            by_asset = _records(table, "asset")
            vol = table.drop(index="total")[["weight", "volatility"]].rename(columns={"volatility": "component"})
            vol["percent"] = vol["component"] / table.loc["total", "volatility"]
            by_sector = _records(risk_decomposition.by_group(vol, _sectors(md, held.index)), "sector")
        return plain({"as_of": s.as_of, "window": len(returns), "weights": held.to_dict(),
                      "risk_by_asset": by_asset, "risk_by_sector": by_sector,
                      "market": _market_fit(s, md, notes), "notes": notes})

    def _market(self, as_of: datetime.date | None) -> tuple[Config, MarketData]:
        if self.config is None:
            raise NotConfiguredError("this answer runs the book's config, and the service was started without one "
                                     "(simlab serve --config CONFIG)")
        cfg = self.config
        if as_of is not None and not pd.Timestamp.min < pd.Timestamp(as_of) < pd.Timestamp.max - pd.Timedelta(days=1):
            raise DataError(f"as_of {as_of} is outside the dates the data can hold "
                            f"({pd.Timestamp.min.date()} to {pd.Timestamp.max.date()})")
        if as_of is not None:
            data = cfg.experiment.data.model_copy(update={"end": as_of})
            cfg = dataclasses.replace(cfg, experiment=cfg.experiment.model_copy(update={"data": data}))
        md = load_market(cfg)
        if as_of is not None and pd.Timestamp(as_of) not in md.dates:
            later = md.dates[md.dates > pd.Timestamp(as_of)]
            hint = f"the next is {later[0].date()}" if len(later) else f"the data ends {md.dates[-1].date()}"
            raise DataError(f"as_of {as_of} is not a trading day of the data ({hint})")
        return cfg, md


def decision_view(decision: Decision) -> dict:
    """A pipeline decision as JSON-ready data (the book's settings left out)."""
    out = decision.to_dict()
    out["book"] = {k: v for k, v in out["book"].items() if k != "settings"}
    return plain(out)


def _weights(s: PortfolioState, md: MarketData) -> pd.Series:
    """Weights of the holdings at the close of the state's as-of (shares x close / NAV)."""
    close = md.close.loc[pd.Timestamp(s.as_of)].reindex(s.assets).to_numpy(float)
    shares = np.asarray(s.holdings, dtype=float)
    value = np.where(shares != 0, shares * close, 0.0)
    if not np.isfinite(value).all():
        missing = [a for a, v in zip(s.assets, value) if not np.isfinite(v)]
        raise DataError(f"no close on {s.as_of} for held asset(s) {', '.join(missing)}")
    return pd.Series(value / s.nav, index=s.assets)


def _sectors(md: MarketData, assets) -> pd.Series:
    if md.meta is None or "sector" not in md.meta.columns:
        return pd.Series("(unclassified)", index=list(assets))
    return md.meta["sector"].reindex(list(assets)).fillna("(unclassified)")


def _market_fit(s: PortfolioState, md: MarketData, notes: list[str]) -> dict | None:
    """Alpha, beta and R² of the book's daily returns on the benchmark's, or None with a note."""
    if md.benchmark is None:
        notes.append("market: the config names no benchmark")
        return None
    rets = time_weighted_returns(s.nav_dates, s.nav_values, s.flows)
    book = pd.Series([r for _, r in rets], index=pd.DatetimeIndex([d for d, _ in rets]), name="book")
    bench = md.benchmark.pct_change(fill_method=None).rename("market").to_frame()
    try:
        fit = factor_regression.regress(book, bench)
    except DataError as err:
        notes.append(f"market: {err}")
        return None
    return {"alpha_annual": fit.alpha_annual, "beta": float(fit.coef["market"]),
            "t_beta": float(fit.tstat["market"]), "r2": float(fit.r2), "nobs": int(fit.nobs)}


def _records(table: pd.DataFrame, name: str) -> list[dict]:
    return table.rename_axis(name).reset_index().to_dict(orient="records")


def plain(value):
    """``value`` with numpy scalars as Python numbers and NaN/inf as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime.date)):
        return value.isoformat()
    return value


"""Pydantic models of an experiment. Every default is explicit here and nowhere else.

Only ``data`` and ``pipeline`` are required. Component entries (``strategy``, ``costs``,
``pipeline`` items) are validated against the registry by :mod:`simlab.config.loader`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Dict, List, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


class StrictModel(BaseModel):
    """A model that rejects unknown keys and cannot be changed after it is built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(StrictModel):
    """Where prices come from and which span is simulated.

    Data before ``start`` is still loaded: causal features (a 252-day momentum, say) warm
    up on it, so the first decision at ``start`` already has its history. ``macro`` maps a
    name to a single-series source (``vix: builtin:vix``), aligned on the data's dates with
    NaN where the series has no value.
    """

    source: str
    benchmark: str | None = "builtin:sp500_index"
    macro: dict[str, str] = Field(default_factory=dict)
    start: dt.date | None = None
    end: dt.date | None = None
    n_assets: Annotated[int, Field(ge=1)] | None = None
    n_days: Annotated[int, Field(ge=2)] | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _span(self):
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"data.start {self.start} is after data.end {self.end}")
        return self


class ScheduleConfig(StrictModel):
    """When the pipeline decides: ``daily``, ``weekly``, ``monthly`` or ``quarterly``.

    ``day`` is ``first`` or ``last`` trading day of the period; weekly also accepts a
    weekday (``friday``: that weekday, or the last trading day of the week if it is a holiday).
    """

    frequency: Literal["daily", "weekly", "monthly", "quarterly"] = "monthly"
    day: Literal["first", "last", "monday", "tuesday", "wednesday", "thursday", "friday"] = "first"

    @model_validator(mode="after")
    def _weekday_only_weekly(self):
        if self.day in WEEKDAYS and self.frequency != "weekly":
            raise ValueError(
                f"schedule.day {self.day!r} is a weekday, which only a weekly schedule takes; "
                f"use 'first' or 'last' for {self.frequency}"
            )
        return self


class ExecutionConfig(StrictModel):
    """How decisions become fills.

    Orders decided at the close of day t fill at the close of day t + ``lag``. Shares are
    fractional, or rounded toward zero to multiples of ``lot_size``. A trade smaller than
    ``min_trade_value`` is skipped. ``leverage`` is the most gross exposure allowed as a
    multiple of NAV; above 1 cash may go negative (borrowing). ``max_participation`` caps
    each day's trade in an asset at that fraction of its trailing average daily traded value
    (``adv_window`` days, from volume data or the universe's ``adv``); the unfilled rest is
    retried the next day until filled or replaced by a newer decision.
    """

    lag: Annotated[int, Field(ge=0)] = 1
    init_cash: Annotated[float, Field(gt=0)] = 1_000_000.0
    fractional: bool = True
    lot_size: Annotated[float, Field(gt=0)] = 1.0
    min_trade_value: Annotated[float, Field(ge=0)] = 0.0
    leverage: Annotated[float, Field(ge=1.0)] = 1.0
    max_participation: Annotated[float, Field(gt=0, le=1)] | None = None
    adv_window: Annotated[int, Field(ge=1)] = 20


class ScenarioConfig(StrictModel):
    """Scenarios become the batch axis B.

    ``grid`` maps dotted config paths (``pipeline.0.top_n``, ``strategy.lookback``,
    ``costs.bps``) to lists of values; their product gives one scenario each, named like
    ``top_n=3,bps=10``. ``list`` gives named scenarios with their own overrides (any keys
    under ``strategy``, ``costs`` or ``pipeline``), crossed with the grid when both are given.
    """

    # typing.List: the field named ``list`` shadows the builtin inside this class body
    grid: Dict[str, List[Any]] = Field(default_factory=dict)  # noqa: UP006
    list: List[Dict[str, Any]] = Field(default_factory=lambda: [])  # noqa: UP006


class Experiment(StrictModel):
    """A whole experiment as written in YAML, before components are resolved."""

    name: str = "experiment"
    description: str = ""
    data: DataConfig
    universe: str | None = None
    schedule: ScheduleConfig = ScheduleConfig()
    execution: ExecutionConfig = ExecutionConfig()
    costs: dict[str, Any] | None = None
    strategy: dict[str, Any] | None = None
    pipeline: Annotated[list[dict[str, Any]], Field(min_length=1)]
    scenarios: ScenarioConfig = ScenarioConfig()
    risk_free: float = 0.0
    seed: int = 0

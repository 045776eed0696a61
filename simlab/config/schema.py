"""Pydantic models of an experiment. Every default is explicit here and nowhere else.

Only ``data`` and ``pipeline`` are required. Component entries (``strategy``, ``costs``,
``pipeline`` items) are validated against the registry by :mod:`simlab.config.loader`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Dict, List, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

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

    ``calendar`` says which days the data has rows for: ``trading_days`` (the default:
    weekdays; a file with weekends is refused, annualised numbers use 252 days a year) or
    ``every_day`` (crypto: weekends are rows like any other, annualised numbers use 365).

    ``source`` may be left out when the data is passed in (``simlab.run(cfg, data=...)``).
    ``benchmark`` defaults to ``builtin:sp500_index`` for built-in data and to none for a
    researcher's own (name one to compare against it); ``null`` turns it off.
    """

    source: str | None = None
    benchmark: str | None = None
    macro: dict[str, str] = Field(default_factory=dict)
    start: dt.date | None = None
    end: dt.date | None = None
    n_assets: Annotated[int, Field(ge=1)] | None = None
    n_days: Annotated[int, Field(ge=2)] | None = None
    seed: int | None = None
    calendar: Literal["trading_days", "every_day"] = "trading_days"

    @model_validator(mode="before")
    @classmethod
    def _default_benchmark(cls, raw):
        """The built-in S&P 500 index benchmarks built-in data; a researcher's own data has
        no benchmark unless one is named (``benchmark: csv:PATH``, ``builtin:sp500_index``)."""
        if isinstance(raw, dict) and "benchmark" not in raw:
            source = str(raw.get("source", ""))
            raw = {**raw, "benchmark": "builtin:sp500_index" if source.startswith("builtin:") else None}
        return raw

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
    ``min_trade_value`` is skipped. ``leverage`` bounds borrowing: buys are scaled down so
    that cash stays at or above ``-(leverage - 1) * NAV`` (for a long-only book, the most
    gross exposure as a multiple of NAV; short-sale proceeds are cash and may fund longs).
    ``max_participation`` caps each day's trade in an asset at that fraction of its trailing
    average daily traded value (``adv_window`` days, from volume data or the universe's
    ``adv``); the unfilled rest is retried the next day until filled or replaced by a newer
    decision.

    Financing (annual rates, accrued each day of the data at ``rate / periods_per_year`` on
    the cash held since the previous close; default: the data calendar's days a year, 252
    trading days or 365 for ``every_day``): ``cash_borrow_rate`` is paid on negative cash,
    ``cash_credit_rate`` earned on positive cash (short-sale proceeds included, as a
    broker's short rebate would be; the borrow fee on the shares is the ``borrow`` cost
    model). ``margin`` is the requirement as a fraction of the gross position value
    (0.5: Reg T, at most 2x NAV gross): an order whose target book needs more than the
    NAV is scaled down to the limit (``margin_action: scale``) or not traded
    (``block``), and the fill diagnostics and the run's health say so.
    ``maintenance_margin`` (default: ``margin``) is the requirement the book must keep
    between fills; where the market moves a book past it, the health report counts the
    days (no margin call is simulated).
    """

    lag: Annotated[int, Field(ge=0)] = 1
    init_cash: Annotated[float, Field(gt=0)] = 1_000_000.0
    fractional: bool = True
    lot_size: Annotated[float, Field(gt=0)] = 1.0
    min_trade_value: Annotated[float, Field(ge=0)] = 0.0
    leverage: Annotated[float, Field(ge=1.0)] = 1.0
    max_participation: Annotated[float, Field(gt=0, le=1)] | None = None
    adv_window: Annotated[int, Field(ge=1)] = 20
    cash_borrow_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    cash_credit_rate: Annotated[float, Field(ge=-0.1, le=1)] = 0.0
    periods_per_year: Annotated[float, Field(gt=0)] | None = None
    margin: Annotated[float, Field(gt=0, le=1)] | None = None
    margin_action: Literal["scale", "block"] = "scale"
    maintenance_margin: Annotated[float, Field(gt=0, le=1)] | None = None

    @model_validator(mode="after")
    def _maintenance_needs_margin(self):
        if self.maintenance_margin is not None and (self.margin is None or self.maintenance_margin > self.margin):
            raise ValueError(f"maintenance_margin ({self.maintenance_margin}) needs a margin at or above it "
                             f"(margin: {self.margin})")
        return self

    @property
    def financed(self) -> bool:
        """Cash earns or pays interest."""
        return self.cash_borrow_rate != 0.0 or self.cash_credit_rate != 0.0


class RealizedCostsConfig(StrictModel):
    """The "true" cost model of a backtest: what fills really cost, as opposed to what the
    decisions assumed (``costs``).

    Each fill's realized cost is ``model``'s cost of the fill times lognormal noise with
    mean 1 and log-standard deviation ``noise`` (0: none), drawn from ``seed``, the fill row
    and the scenario's position. The book pays the realized cost; the trades table shows
    both (``estimated_cost``, ``realized_cost``). Absent, realized equals estimated.
    Buys are sized to the cash with the estimated cost, so a realized cost above it can take
    cash a little below zero (or below the borrowing allowance), as a real fill would.
    """

    model: dict[str, Any]
    noise: Annotated[float, Field(ge=0)] = 0.0
    seed: int = 0


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


class ClaimSpec(StrictModel):
    """One claim on a metric: its value lies at or above ``min`` and/or at or below ``max``.

    ``scenario`` restricts the claim to one scenario (default: every scenario must bear
    it out). ``trials`` is how many variants were tried on the way to this experiment,
    those in it included; the deflated Sharpe ratio counts at least the scenarios.
    How claims are judged: :mod:`simlab.analysis.claims`.
    """

    min: float | None = None
    max: float | None = None
    scenario: str | None = None
    trials: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _bounds(self):
        if self.min is None and self.max is None:
            raise ValueError("a claim needs a bound: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class ClaimsConfig(StrictModel):
    """Claims an experiment makes, keyed by the metric they are about.

    The keys are the metrics a run reports (:func:`simlab.analysis.metrics.summary`, as
    fractions: ``active_return: {min: 1.06}`` is +106%); any other key is an error that
    names the nearest metric. Only the claims given are saved with the config.
    """

    total_return: ClaimSpec | None = None
    cagr: ClaimSpec | None = None
    annual_volatility: ClaimSpec | None = None
    sharpe: ClaimSpec | None = None
    sortino: ClaimSpec | None = None
    calmar: ClaimSpec | None = None
    max_drawdown: ClaimSpec | None = None
    max_drawdown_duration: ClaimSpec | None = None
    hit_rate: ClaimSpec | None = None
    value_at_risk: ClaimSpec | None = None
    cvar: ClaimSpec | None = None
    max_drawdown_uncompounded: ClaimSpec | None = None
    effective_assets: ClaimSpec | None = None
    diversification_ratio: ClaimSpec | None = None
    position_hit_rate: ClaimSpec | None = None
    annual_turnover: ClaimSpec | None = None
    total_costs: ClaimSpec | None = None
    cost_drag: ClaimSpec | None = None
    active_return: ClaimSpec | None = None
    annual_active_return: ClaimSpec | None = None
    tracking_error: ClaimSpec | None = None
    information_ratio: ClaimSpec | None = None
    beta: ClaimSpec | None = None

    @model_serializer(mode="wrap")
    def _given_only(self, handler):
        return {key: value for key, value in handler(self).items() if value is not None}

    def items(self) -> list[tuple[str, ClaimSpec]]:
        """(metric, claim) pairs of the claims given, in the order of the metrics above."""
        return [(key, getattr(self, key)) for key in type(self).model_fields if getattr(self, key) is not None]


class SleeveConfig(StrictModel):
    """One sleeve of a multi-strategy book: a strategy and a pipeline of its own.

    ``weight`` is the sleeve's share of the book's capital: its starting share, and the
    share it is brought back to at each decision when ``sleeve_weights.method`` is
    ``fixed`` with ``rebalance: true``. Left out on every sleeve, the sleeves share equally.
    """

    name: Annotated[str, Field(min_length=1, pattern=r"^[^/]+$")]
    weight: Annotated[float, Field(gt=0, le=1)] | None = None
    strategy: dict[str, Any] | None = None
    pipeline: Annotated[list[dict[str, Any]], Field(min_length=1)]


class SleeveWeightsConfig(StrictModel):
    """How capital is shared among the sleeves (:mod:`simlab.engine.sleeves`).

    ``method``: ``fixed`` (each sleeve's ``weight``), or from the sleeves' own daily returns
    over the ``lookback`` trading days up to each decision (point in time):
    ``inverse_volatility``, ``risk_parity`` (equal risk contribution) or ``min_variance``
    (long-only). Until ``lookback`` days of sleeve returns exist the fixed weights apply.
    ``rebalance``: at each decision, move capital between the sleeves to the weights
    (``false``: only with ``fixed``, the sleeves start at their weights and then drift).
    """

    method: Literal["fixed", "inverse_volatility", "risk_parity", "min_variance"] = "fixed"
    rebalance: bool = True
    lookback: Annotated[int, Field(ge=2)] = 126

    @model_validator(mode="after")
    def _drift_only_fixed(self):
        if not self.rebalance and self.method != "fixed":
            raise ValueError(f"rebalance: false lets fixed weights drift; method {self.method!r} sets the "
                             "weights at every decision, so it needs rebalance: true")
        return self


class Experiment(StrictModel):
    """A whole experiment as written in YAML, before components are resolved.

    ``pipeline`` (with ``strategy``) runs one strategy; ``sleeves`` instead runs several in
    one book, each with its own strategy and pipeline, shared out by ``sleeve_weights``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={
        "oneOf": [{"required": ["pipeline"]}, {"required": ["sleeves"]}]})

    name: str = "experiment"
    description: str = ""
    data: DataConfig
    universe: str | None = None
    file_sha256: dict[str, str] = Field(default_factory=dict)
    """SHA-256 of each file the experiment reads (universe, data files), filled at load
    (:mod:`simlab.config.paths`); a saved config refuses a file that has changed since."""
    schedule: ScheduleConfig = ScheduleConfig()
    execution: ExecutionConfig = ExecutionConfig()
    costs: dict[str, Any] | None = None
    realized_costs: RealizedCostsConfig | None = None
    strategy: dict[str, Any] | None = None
    pipeline: Annotated[list[dict[str, Any]], Field(min_length=1)] | None = None
    sleeves: Annotated[List[SleeveConfig], Field(min_length=1)] | None = None  # noqa: UP006
    sleeve_weights: SleeveWeightsConfig | None = None
    scenarios: ScenarioConfig = ScenarioConfig()
    risk_free: float = 0.0
    seed: int = 0
    claims: ClaimsConfig = ClaimsConfig()
    sweep: dict[str, list[Any]] = Field(default_factory=dict)
    """Variants run one after another (``simlab sweep``), each the experiment with overrides.

    Maps dotted paths (``schedule.frequency``, ``data.start``, ``universe``) to lists of
    values; the variants are their product. A key naming several comma-separated paths
    (``data.start,data.end``) takes a list of value lists, zipped rather than crossed.
    ``scenarios:`` stays one batch inside each variant. See :mod:`simlab.lab.sweep`.
    """

    @model_validator(mode="after")
    def _pipeline_or_sleeves(self):
        if self.sleeves is None:
            if self.pipeline is None:
                raise ValueError("pipeline: required key is missing (or give sleeves:, each with its own pipeline)")
            if self.sleeve_weights is not None:
                raise ValueError("sleeve_weights: applies only to a book with sleeves:")
            return self
        for key in ("pipeline", "strategy"):
            if getattr(self, key) is not None:
                raise ValueError(f"{key}: a book with sleeves: takes no top-level {key}; "
                                 f"give each sleeve its own (sleeves[i].{key})")
        check_sleeves([s.model_dump() for s in self.sleeves])
        return self

    @model_serializer(mode="wrap")
    def _sleeves_when_given(self, handler):
        out = handler(self)
        for key in ("sleeves", "sleeve_weights"):
            if out.get(key) is None:
                out.pop(key, None)
        return out

    @field_validator("sweep")
    @classmethod
    def _sweep_paths(cls, sweep: dict[str, list[Any]]) -> dict[str, list[Any]]:
        fixed = {"name", "sweep"}
        for key, values in sweep.items():
            paths = [p.strip() for p in key.split(",")]
            for path in paths:
                head = path.split(".")[0]
                if head in fixed or head not in cls.model_fields:
                    valid = ", ".join(f for f in cls.model_fields if f not in fixed)
                    raise ValueError(f"sweep.{key}: {head!r} cannot vary in a sweep; paths start with one of {valid}")
            if not values:
                raise ValueError(f"sweep.{key}: expected a non-empty list of values")
            if len(paths) > 1 and any(not isinstance(v, list) or len(v) != len(paths) for v in values):
                raise ValueError(f"sweep.{key}: each value must be a list of {len(paths)} values, one per path")
        return sweep


def check_sleeves(sleeves: list[dict[str, Any]]) -> None:
    """Sleeve names unique, and weights on every sleeve or on none, summing to 1."""
    names = [s["name"] for s in sleeves]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"sleeves: two sleeves are named {name!r}; names must be unique")
    weights = [s.get("weight") for s in sleeves]
    given = [w for w in weights if w is not None]
    if given and len(given) != len(weights):
        missing = ", ".join(repr(n) for n, w in zip(names, weights) if w is None)
        raise ValueError(f"sleeves: give a weight to every sleeve or to none (missing on {missing})")
    if given and abs(sum(given) - 1.0) > 1e-9:
        listed = ", ".join(f"{n}={w:g}" for n, w in zip(names, weights))
        raise ValueError(f"sleeves: the sleeve weights must sum to 1; got {sum(given):.12g} ({listed})")

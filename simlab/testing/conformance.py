"""The component contract, checked: every registered component must pass these checks.

``check_component(kind, key)`` runs every check that applies to one registered component
and raises ``AssertionError`` naming the component, the check and what differed (or
:class:`simlab.errors.LookaheadError` when something computed for a day moved when only
later data changed). ``checks_for(kind, key)`` lists the checks as ``(name, callable)``
pairs, for a test suite to parametrize over (the idea of scikit-learn's
``parametrize_with_checks``)::

    @pytest.mark.parametrize("name, check", checks_for("step", "my_step"))
    def test_my_step(name, check):
        check()

Checks, by kind (names in :data:`CHECKS`):

``configuration``
    The component has a valid configuration: its defaults, or an entry of
    :data:`simlab.testing.examples.EXAMPLES` when a field is required.
``requires`` (step, cost)
    Run with only what it declares: no signal unless ``requires`` names ``"signal"``, no
    NAV history unless ``"nav_history"``, only the Features it returns from
    ``features()``; a cost model gets ADV and volatility only when it requires them.
``outputs``
    Shapes and values: a Step returns finite (B, N) weights; a strategy a (T, N) numeric
    DataFrame on the data's calendar and assets, without infinities and not all NaN; a cost
    model finite, non-negative (B, N) costs, zero for no trade, and its ``linear_rate`` (if
    any) and ``daily_rate`` (if it accrues) agree in shape; a regime detector (T,) arrays
    with labels in ``0 .. n_labels - 1``.
``diagnostics`` (step)
    A flat dict of str -> a number or bool, or a numeric/bool array (B,) or (B, N).
``batch`` (step, cost)
    One call on B scenarios whose numeric fields differ (arrays (B,)) equals B separate
    calls with scalar fields, bit for bit.
``deterministic``
    The same inputs and seed give the same bits twice.
``str_round_trip`` (step)
    ``str(step)`` read as YAML and resolved through the registry builds an equal Step.
``no_lookahead`` (step, strategy, detector)
    Close, volume, benchmark and macro series are changed strictly after a decision day
    t (:func:`simlab.testing.markets.perturb_after`); nothing computed for a day <= t may
    change: a strategy's signal rows, a regime detector's path, each Feature a Step
    declares, and the Step's outputs.

Every check runs on :func:`simlab.testing.markets.conformance_market` (T = 600 days,
N = 10 assets) with B = 3 scenarios and a decision every 21 days.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import yaml

from simlab.config import registry
from simlab.contract.step import StepContext
from simlab.costs.base import CostContext
from simlab.costs.market import trailing_adv, trailing_volatility
from simlab.data.market import MarketData, PointInTimeView
from simlab.errors import ConfigError, LookaheadError
from simlab.features.base import FeatureInputs, FeatureTable
from simlab.testing.examples import example_params
from simlab.testing.markets import conformance_market, perturb_after

N_DAYS, N_ASSETS, N_SCENARIOS, SEED = 600, 10, 3, 7
EVERY = 21  # rows between two decisions
CUTS = (0.5, 0.8)  # look-ahead cuts, as fractions of the decisions
STEP_NEEDS = frozenset({"signal", "nav_history"})  # what a Step may name in ``requires``
COST_NEEDS = frozenset({"adv", "volatility"})
BATCH_RTOL, BATCH_ATOL = 1e-12, 1e-15  # a batch's reductions may round differently from one scenario's


@dataclass(frozen=True)
class Case:
    """One component to check: its kind, key, class and example parameters (or the reason it has none)."""

    kind: str
    key: str
    cls: type
    params: dict | None
    missing: str = ""

    def entry(self) -> dict:
        """The example configuration entry, ``type`` first."""
        if self.params is None:
            raise AssertionError(self.missing)
        return {"type": self.key, **self.params}

    def build(self, entry: dict | None = None) -> Any:
        """The component built from ``entry`` (default: the example), validated like a config."""
        entry = self.entry() if entry is None else entry
        if issubclass(self.cls, pydantic.BaseModel):
            return self.cls.model_validate({k: v for k, v in entry.items() if k != "type"})
        return registry.build(self.kind, self.resolve(entry))

    def resolve(self, entry: dict) -> dict:
        """``entry`` validated with every default filled."""
        return registry.resolve(self.kind, entry, f"{self.kind} {self.key}")


# --------------------------------------------------------------------------- public API


def checks_for(kind: str, key: str) -> list[tuple[str, Callable[[], None]]]:
    """``(check name, callable)`` for every check that applies to registered ``kind`` ``key``."""
    cls = registry.registry(kind).get(key)
    if cls is None:
        raise ConfigError(f"no {kind} {key!r} is registered; valid: {', '.join(sorted(registry.registry(kind)))}")
    return component_checks(kind, cls, key)


def check_component(kind: str, key: str) -> None:
    """Run every check on registered ``kind`` ``key``; raise on the first that fails."""
    for _, check in checks_for(kind, key):
        check()


def component_checks(kind: str, cls: type, key: str | None = None,
                     params: dict | None = None) -> list[tuple[str, Callable[[], None]]]:
    """The checks of component class ``cls`` of ``kind`` (registered or not).

    ``params`` default to the example of ``kind`` ``key`` (see :mod:`simlab.testing.examples`).
    """
    key = key or getattr(cls, "key", "") or cls.__name__
    missing = ""
    if params is None:
        try:
            params = example_params(kind, key, cls)
        except AssertionError as err:
            params, missing = None, str(err)
    case = Case(kind, key, cls, params, missing)
    return [(name, _named(case, name, check)) for name, check in CHECKS[kind].items()]


def _named(case: Case, name: str, check: Callable[[Case], None]) -> Callable[[], None]:
    where = f"{case.kind} {case.key!r}, check {name!r}"

    def run() -> None:
        try:
            check(case)
        except LookaheadError as err:
            raise LookaheadError(f"{where}: {err}") from err
        except AssertionError as err:
            raise AssertionError(f"{where}: {err}") from err
        except Exception as err:
            raise AssertionError(f"{where}: raised {type(err).__name__}: {err}") from err

    run.__name__ = run.__qualname__ = f"check_{name}"
    return run


# --------------------------------------------------------------------------- markets


@dataclass(frozen=True)
class Market:
    """The conformance market and what the checks feed components on it.

    ``signal`` (B, T, N), ``book`` (T, B, N) current weights, ``targets`` (T, B, N)
    incoming weights and ``nav`` (T, B) are seeded draws that do not depend on prices after
    any day, so a perturbed market gets the same ones up to its cut.
    """

    md: MarketData
    inputs: FeatureInputs
    arrays: dict
    tradeable: np.ndarray
    decisions: np.ndarray
    signal: np.ndarray
    book: np.ndarray
    targets: np.ndarray
    nav: np.ndarray


@functools.lru_cache(maxsize=8)
def market(cut: int | None = None) -> Market:
    """The conformance market, perturbed after row ``cut`` if given (cached)."""
    md = conformance_market(N_DAYS, N_ASSETS, SEED)
    if cut is not None:
        md = perturb_after(md, cut, seed=cut)
    inputs = feature_inputs(md)
    arrays = {"close": inputs.close, "returns": inputs.returns}
    if inputs.benchmark is not None:
        arrays["benchmark"] = inputs.benchmark
    tradeable = np.isfinite(inputs.close)
    rng = np.random.default_rng(SEED)
    shape = (N_SCENARIOS, len(md.dates), N_ASSETS)
    signal = np.where(tradeable[None], rng.normal(size=shape), np.nan)
    book = _random_weights(rng, tradeable, 0.97)
    targets = _random_weights(rng, tradeable, 1.0)
    drift = rng.normal(0.0003, 0.01, (len(md.dates), N_SCENARIOS))
    nav = 1e6 * np.cumprod(1.0 + drift, axis=0)
    for arr in (signal, book, targets, nav, tradeable):
        arr.flags.writeable = False
    decisions = np.arange(EVERY, len(md.dates), EVERY)
    return Market(md, inputs, arrays, tradeable, decisions, signal, book, targets, nav)


def _random_weights(rng, tradeable: np.ndarray, gross: float) -> np.ndarray:
    """(T, B, N) non-negative weights on tradeable assets, each row summing to ``gross``."""
    raw = rng.uniform(0.0, 1.0, (tradeable.shape[0], N_SCENARIOS, tradeable.shape[1])) * tradeable[:, None, :]
    return raw / raw.sum(axis=2, keepdims=True) * gross


def feature_inputs(md: MarketData) -> FeatureInputs:
    """Read-only FeatureInputs of ``md``, as the engine builds them."""
    arrays = {
        "close": np.ascontiguousarray(md.close.to_numpy(dtype=np.float64)),
        "returns": md.returns().to_numpy(dtype=np.float64),
        "volume": None if md.volume is None else md.volume.to_numpy(dtype=np.float64),
        "benchmark": None if md.benchmark is None else md.benchmark.to_numpy(dtype=np.float64),
    }
    macro = {} if md.macro is None else {c: md.macro[c].to_numpy(dtype=np.float64) for c in md.macro}
    for arr in [*arrays.values(), *macro.values()]:
        if arr is not None:
            arr.flags.writeable = False
    return FeatureInputs(dates=md.dates, assets=tuple(md.assets), macro=macro, meta=md.meta, **arrays)


def cut_rows() -> list[int]:
    """Decision rows after which the look-ahead checks perturb the market."""
    decisions = market().decisions
    return [int(decisions[int(f * (len(decisions) - 1))]) for f in CUTS]


# --------------------------------------------------------------------------- comparisons


def difference(a: Any, b: Any, rtol: float = 0.0) -> str | None:
    """Where ``a`` and ``b`` differ (NaN equals NaN), or None when they hold the same values.

    With ``rtol`` > 0 finite floats may differ by that much relative (and 1e-15 absolute).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    same = a == b
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        same |= np.isnan(a) & np.isnan(b)
        if rtol:
            same |= np.isclose(a, b, rtol=rtol, atol=BATCH_ATOL)
    if np.all(same):
        return None
    at = tuple(int(i) for i in np.argwhere(~np.asarray(same))[0]) if a.ndim else ()
    return f"at index {at}: {a[at]!r} != {b[at]!r}"


def scenario_part(value: Any, b: int, n_scenarios: int) -> np.ndarray:
    """Scenario ``b``'s part of a diagnostics value (a scalar is every scenario's)."""
    arr = np.asarray(value)
    return arr if arr.ndim == 0 else arr[b]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def scenario_entries(case: Case, n_scenarios: int) -> list[dict]:
    """B resolved entries: the example, then ones whose numeric fields are scaled where valid."""
    base = case.resolve(case.entry())
    entries = [base]
    for b in range(1, n_scenarios):
        factor = 0.75 if b % 2 else 1.5
        entry = dict(base)
        for name, value in base.items():
            if name == "type" or not _is_number(value) or value == 0:
                continue
            scaled = int(round(value * factor)) if isinstance(value, (int, np.integer)) else value * factor
            try:
                entry = case.resolve({**entry, name: scaled})
                case.build(entry)
            except (ConfigError, ValueError, TypeError):
                continue
        entries.append(entry)
    return entries


def batched(case: Case, entries: list[dict]) -> Any:
    """The component serving every entry at once: a differing numeric field becomes an array (B,)."""
    merged = {}
    for name in entries[0]:
        values = [e[name] for e in entries]
        same = all(v == values[0] for v in values)
        merged[name] = values[0] if same else np.asarray(values, dtype=float)
    return registry.build(case.kind, merged)


# --------------------------------------------------------------------------- steps


@dataclass
class Decision:
    """A Step's output at one decision row."""

    row: int
    weights: np.ndarray
    diagnostics: dict


def _frozen(values: np.ndarray) -> np.ndarray:
    out = np.array(values)
    out.flags.writeable = False
    return out


def run_step(step, m: Market, scenarios: list[int], stop: int | None = None) -> list[Decision]:
    """The Step at every decision row (through ``stop``), given only what it declares."""
    n = len(scenarios)
    declared = step.features(n)
    table = FeatureTable(m.inputs, m.decisions)
    for name, features in declared.items():
        if len(features) != n:
            raise AssertionError(f"features({n}) lists {len(features)} values for {name!r}")
        for feature in features:
            table.add(feature)
    wants_signal = "signal" in step.requires
    memory: dict = {}
    last_row, last_targets, last_signal = -1, np.zeros((n, N_ASSETS)), np.full((n, N_ASSETS), np.nan)
    out = []
    for t in m.decisions[m.decisions <= (stop if stop is not None else m.decisions[-1])].tolist():
        signal = m.signal[scenarios, t]
        ctx = StepContext(
            t=t, date=m.md.dates[t], view=PointInTimeView(m.arrays, m.md.dates, t), assets=tuple(m.md.assets),
            tradeable=_frozen(m.tradeable[t]), signal=_frozen(signal) if wants_signal else None,
            weights=_frozen(m.book[t, scenarios]), nav=_frozen(m.nav[t, scenarios]),
            peak_nav=_frozen(m.nav[: t + 1, scenarios].max(axis=0)), meta=m.md.meta,
            scenarios=tuple(f"s{b}" for b in scenarios), rng=np.random.default_rng(SEED),
            features={name: table.at(features, t) for name, features in declared.items()},
            last_rebalance=_frozen(np.full(n, last_row)), last_targets=_frozen(last_targets),
            last_signal=_frozen(last_signal) if wants_signal else None,
            nav_history=_frozen(m.nav[: t + 1, scenarios]) if "nav_history" in step.requires else None,
            memory=memory if step.stateful else {},
        )
        weights, diagnostics = step(_frozen(m.targets[t, scenarios]), ctx)
        out.append(Decision(t, np.array(weights), dict(diagnostics)))
        last_row, last_targets, last_signal = t, np.array(weights), signal
    return out


def _all(n: int = N_SCENARIOS) -> list[int]:
    return list(range(n))


def _step_runs_equal(first: list[Decision], second: list[Decision], what: str,
                     b: int | None = None, error: type = AssertionError) -> None:
    """Each decision of ``second`` equals ``first`` (scenario ``b`` of ``first`` if given).

    Bit for bit, except that scenario ``b`` of a batch may differ by :data:`BATCH_RTOL`.
    """
    if len(first) != len(second):
        raise error(f"{what}: {len(first)} decisions != {len(second)}")
    rtol = 0.0 if b is None else BATCH_RTOL
    for one, two in zip(first, second):
        w1 = one.weights if b is None else one.weights[b : b + 1]
        diff = difference(w1, two.weights, rtol)
        if diff:
            raise error(f"{what}: weights on row {one.row} differ {diff}")
        if set(one.diagnostics) != set(two.diagnostics):
            raise error(f"{what}: diagnostics keys on row {one.row} differ: "
                        f"{sorted(set(one.diagnostics) ^ set(two.diagnostics))}")
        for k, v in one.diagnostics.items():
            v1 = v if b is None else scenario_part(v, b, N_SCENARIOS)
            v2 = two.diagnostics[k] if b is None else scenario_part(two.diagnostics[k], 0, 1)
            diff = difference(v1, v2, rtol)
            if diff:
                raise error(f"{what}: diagnostic {k!r} on row {one.row} differs {diff}")


def step_configuration(case: Case) -> None:
    case.build()


def step_requires(case: Case) -> None:
    step = case.build()
    unknown = set(step.requires) - STEP_NEEDS
    if unknown:
        raise AssertionError(f"requires names {sorted(unknown)}; a Step may require {sorted(STEP_NEEDS)}")
    try:
        run_step(step, market(), _all())
    except KeyError as err:
        raise AssertionError(f"reads something it did not declare (features: {sorted(step.features(1))}): {err}") from err
    except (TypeError, AttributeError) as err:
        raise AssertionError(f"fails when given only what it declares (requires={sorted(step.requires)}): "
                             f"{type(err).__name__}: {err}") from err


def step_outputs(case: Case) -> None:
    for d in run_step(batched(case, scenario_entries(case, N_SCENARIOS)), market(), _all()):
        w = np.asarray(d.weights)
        if w.shape != (N_SCENARIOS, N_ASSETS) or w.dtype.kind != "f":
            raise AssertionError(f"returned weights of shape {w.shape} and dtype {w.dtype} on row {d.row}; "
                                 f"expected float ({N_SCENARIOS}, {N_ASSETS})")
        if not np.isfinite(w).all():
            raise AssertionError(f"returned non-finite weights on row {d.row}: {w}")


def step_diagnostics(case: Case) -> None:
    for d in run_step(batched(case, scenario_entries(case, N_SCENARIOS)), market(), _all()):
        for k, v in d.diagnostics.items():
            problem = _diagnostic_problem(k, v)
            if problem:
                raise AssertionError(f"diagnostic {k!r} on row {d.row} {problem}")


def _diagnostic_problem(key: Any, value: Any) -> str | None:
    if not isinstance(key, str):
        return "has a key that is not a str"
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return None
    if not isinstance(value, np.ndarray):
        return f"is a {type(value).__name__}; expected a number, a bool or an array"
    if value.dtype.kind not in "biuf":
        return f"has dtype {value.dtype}; expected numeric or bool"
    if value.shape not in ((), (N_SCENARIOS,), (N_SCENARIOS, N_ASSETS)):
        return f"has shape {value.shape}; expected (), (B,) = ({N_SCENARIOS},) or (B, N) = ({N_SCENARIOS}, {N_ASSETS})"
    return None


def step_batch(case: Case) -> None:
    entries = scenario_entries(case, N_SCENARIOS)
    together = run_step(batched(case, entries), market(), _all())
    for b, entry in enumerate(entries):
        alone = run_step(case.build(entry), market(), [b])
        _step_runs_equal(together, alone, f"scenario {b} ({_varied(entries[0], entry)}) in a batch of "
                                          f"{N_SCENARIOS} vs alone", b=b)


def _varied(base: dict, entry: dict) -> str:
    changed = {k: v for k, v in entry.items() if base.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "the example"


def step_deterministic(case: Case) -> None:
    entries = scenario_entries(case, N_SCENARIOS)
    first = run_step(batched(case, entries), market(), _all())
    second = run_step(batched(case, entries), market(), _all())
    _step_runs_equal(first, second, "two runs on the same inputs and seed")


def step_str_round_trip(case: Case) -> None:
    step = case.build()
    text = str(step)
    try:
        entry = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise AssertionError(f"str(step) is not YAML: {text!r} ({err})") from err
    if not isinstance(entry, dict) or entry.get("type") != case.key:
        raise AssertionError(f"str(step) {text!r} does not read as a mapping with type {case.key!r}")
    try:
        again = case.build(entry)
    except ConfigError as err:
        raise AssertionError(f"str(step) {text!r} does not resolve: {err}") from err
    if again != step:
        raise AssertionError(f"str(step) {text!r} builds {again!r}, not {step!r}")


def step_no_lookahead(case: Case) -> None:
    step = case.build()
    original = run_step(step, market(), _all(1))
    for cut in cut_rows():
        perturbed = market(cut)
        for name, features in step.features(1).items():
            for feature in features:
                _feature_causal(feature, name, cut)
        later = run_step(step, perturbed, _all(1), stop=cut)
        _step_runs_equal([d for d in original if d.row <= cut], later,
                         f"data changed only after row {cut} ({perturbed.md.dates[cut].date()})",
                         error=LookaheadError)


def _feature_causal(feature, name: str, cut: int) -> None:
    rows = market().decisions
    before = np.asarray(feature.compute(market().inputs, rows))
    after = np.asarray(feature.compute(market(cut).inputs, rows))
    upto = rows <= cut
    diff = difference(before[upto], after[upto])
    if diff:
        raise LookaheadError(f"Feature {name!r} ({feature}) at rows <= {cut} changed when data changed "
                             f"only after row {cut}: {diff}")


STEP_CHECKS = {
    "configuration": step_configuration,
    "requires": step_requires,
    "outputs": step_outputs,
    "diagnostics": step_diagnostics,
    "batch": step_batch,
    "deterministic": step_deterministic,
    "str_round_trip": step_str_round_trip,
    "no_lookahead": step_no_lookahead,
}


# --------------------------------------------------------------------------- strategies


def strategy_outputs(case: Case) -> None:
    md = market().md
    panel = case.build().signal(md)
    if not isinstance(panel, pd.DataFrame):
        raise AssertionError(f"signal returned a {type(panel).__name__}; expected a DataFrame (T, N)")
    if panel.shape != md.close.shape:
        raise AssertionError(f"signal has shape {panel.shape}; expected {md.close.shape}")
    if not panel.index.equals(md.dates) or not panel.columns.equals(md.assets):
        raise AssertionError("signal is not on the data's calendar and assets (index and columns differ)")
    values = panel.to_numpy()
    if values.dtype.kind != "f":
        raise AssertionError(f"signal has dtype {values.dtype}; expected float")
    if np.isinf(values).any():
        raise AssertionError(f"signal holds infinities (first at {tuple(np.argwhere(np.isinf(values))[0])})")
    if not np.isfinite(values).any():
        raise AssertionError(f"signal is NaN on all {len(md.dates)} days: give an example with a shorter "
                             "history (simlab.testing.add_example)")


def strategy_deterministic(case: Case) -> None:
    md = market().md
    diff = difference(case.build().signal(md).to_numpy(), case.build().signal(md).to_numpy())
    if diff:
        raise AssertionError(f"two signals on the same data differ {diff}")


def strategy_no_lookahead(case: Case) -> None:
    strategy = case.build()
    original = strategy.signal(market().md).to_numpy()
    for cut in cut_rows():
        md = market(cut).md
        later = strategy.signal(md).to_numpy()
        diff = difference(original[: cut + 1], later[: cut + 1])
        if diff:
            raise LookaheadError(f"signal rows up to {md.dates[cut].date()} (row {cut}) changed when data "
                                 f"changed only after it: {diff}")


STRATEGY_CHECKS = {
    "configuration": step_configuration,
    "outputs": strategy_outputs,
    "deterministic": strategy_deterministic,
    "no_lookahead": strategy_no_lookahead,
}


# --------------------------------------------------------------------------- cost models


def _cost_inputs(model, rows=None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, CostContext]]:
    """(value, shares, price, ctx) on a few fill rows where every asset trades."""
    m = market()
    rng = np.random.default_rng(SEED)
    adv = trailing_adv(m.md) if "adv" in model.requires else None
    vol = trailing_volatility(m.md) if "volatility" in model.requires else None
    for row in rows or (N_DAYS // 2, N_DAYS - 1):
        price = m.inputs.close[row]
        value = rng.normal(0.0, 5e4, (N_SCENARIOS, N_ASSETS))
        value[:, 0] = 0.0  # no trade in the first asset
        ctx = CostContext(row=row, assets=tuple(m.md.assets), adv=None if adv is None else adv[row],
                          volatility=None if vol is None else vol[row], meta=m.md.meta)
        yield _frozen(value), _frozen(value / price), _frozen(price), ctx


def cost_requires(case: Case) -> None:
    model = case.build()
    unknown = set(model.requires) - COST_NEEDS
    if unknown:
        raise AssertionError(f"requires names {sorted(unknown)}; a cost model may require {sorted(COST_NEEDS)}")
    for value, shares, price, ctx in _cost_inputs(model):
        try:
            model(value, shares, price, ctx)
        except (TypeError, AttributeError) as err:
            raise AssertionError(f"fails when given only what it declares (requires={sorted(model.requires)}): "
                                 f"{type(err).__name__}: {err}") from err


def cost_outputs(case: Case) -> None:
    model = batched(case, scenario_entries(case, N_SCENARIOS))
    for value, shares, price, ctx in _cost_inputs(model):
        cost = np.asarray(model(value, shares, price, ctx))
        if cost.shape != value.shape:
            raise AssertionError(f"returned costs of shape {cost.shape}; expected {value.shape}")
        if not np.isfinite(cost).all() or (cost < 0).any():
            raise AssertionError(f"returned costs that are not finite and >= 0 on row {ctx.row}: {cost}")
        if (cost[:, 0] != 0).any():
            raise AssertionError(f"charged {cost[:, 0]} for no trade")
        rate = model.linear_rate(N_SCENARIOS)
        if rate is not None:
            rate = np.asarray(rate)
            if rate.shape != (N_SCENARIOS,):
                raise AssertionError(f"linear_rate has shape {rate.shape}; expected ({N_SCENARIOS},)")
            if not np.allclose(cost, np.abs(value) * rate[:, None], rtol=1e-12, atol=0.0):
                raise AssertionError("linear_rate disagrees with the costs it charges")
    if model.accrues:
        daily = np.asarray(model.daily_rate(N_SCENARIOS, market().md.meta, N_ASSETS))
        if daily.shape != (N_SCENARIOS, N_ASSETS) or not np.isfinite(daily).all() or (daily < 0).any():
            raise AssertionError(f"daily_rate is not a finite, non-negative ({N_SCENARIOS}, {N_ASSETS}) array: {daily}")


def _cost_run(model) -> list[np.ndarray]:
    out = [np.asarray(model(*inputs)) for inputs in _cost_inputs(model)]
    if model.accrues:
        out.append(np.asarray(model.daily_rate(N_SCENARIOS, market().md.meta, N_ASSETS)))
    return out


def cost_batch(case: Case) -> None:
    entries = scenario_entries(case, N_SCENARIOS)
    together = _cost_run(batched(case, entries))
    for b, entry in enumerate(entries):
        alone = case.build(entry)
        rows = [np.asarray(alone(v[b : b + 1], s[b : b + 1], p, c)) for v, s, p, c in _cost_inputs(alone)]
        if alone.accrues:
            rows.append(np.asarray(alone.daily_rate(1, market().md.meta, N_ASSETS)))
        for k, (many, one) in enumerate(zip(together, rows)):
            diff = difference(many[b : b + 1], one, BATCH_RTOL)
            if diff:
                raise AssertionError(f"scenario {b} ({_varied(entries[0], entry)}) in a batch vs alone, "
                                     f"{'daily_rate' if k == len(rows) - 1 and alone.accrues else 'costs'}: {diff}")


def cost_deterministic(case: Case) -> None:
    entries = scenario_entries(case, N_SCENARIOS)
    for one, two in zip(_cost_run(batched(case, entries)), _cost_run(batched(case, entries))):
        diff = difference(one, two)
        if diff:
            raise AssertionError(f"two calls on the same inputs differ {diff}")


COST_CHECKS = {
    "configuration": step_configuration,
    "requires": cost_requires,
    "outputs": cost_outputs,
    "batch": cost_batch,
    "deterministic": cost_deterministic,
}


# --------------------------------------------------------------------------- regime detectors


PATH_KINDS = {"label": "iu", "stress": "b", "score": "f", "proxy": "b", "known": "b", "forced": "b"}


def _path_arrays(detector, inputs: FeatureInputs) -> dict[str, np.ndarray]:
    path = detector.path(inputs)
    return {name: np.asarray(value) for name, value in vars(path).items()}


def detector_outputs(case: Case) -> None:
    detector = case.build()
    arrays = _path_arrays(detector, feature_inputs(market().md))
    for name, arr in arrays.items():
        if arr.shape != (N_DAYS,):
            raise AssertionError(f"path.{name} has shape {arr.shape}; expected (T,) = ({N_DAYS},)")
        if name in PATH_KINDS and arr.dtype.kind not in PATH_KINDS[name]:
            raise AssertionError(f"path.{name} has dtype {arr.dtype}")
    label = arrays["label"]
    if label.min() < 0 or label.max() >= detector.n_labels:
        raise AssertionError(f"labels span {label.min()} .. {label.max()}; n_labels is {detector.n_labels}")
    if "known" in arrays and not arrays["known"].any():
        raise AssertionError(f"no label is known on any of the {N_DAYS} days: give an example that needs "
                             "less history (simlab.testing.add_example)")


def detector_deterministic(case: Case) -> None:
    md = market().md
    first = _path_arrays(case.build(), feature_inputs(md))
    second = _path_arrays(case.build(), feature_inputs(md))
    for name, arr in first.items():
        diff = difference(arr, second[name])
        if diff:
            raise AssertionError(f"two paths on the same data differ in {name!r} {diff}")


def detector_no_lookahead(case: Case) -> None:
    detector = case.build()
    original = _path_arrays(detector, market().inputs)
    for cut in cut_rows():
        later = _path_arrays(detector, market(cut).inputs)
        for name, arr in original.items():
            diff = difference(arr[: cut + 1], later[name][: cut + 1])
            if diff:
                raise LookaheadError(f"path.{name} up to row {cut} changed when data changed only after it: {diff}")


DETECTOR_CHECKS = {
    "configuration": step_configuration,
    "outputs": detector_outputs,
    "deterministic": detector_deterministic,
    "no_lookahead": detector_no_lookahead,
}

CHECKS: dict[str, dict[str, Callable[[Case], None]]] = {
    "step": STEP_CHECKS,
    "strategy": STRATEGY_CHECKS,
    "cost": COST_CHECKS,
    "detector": DETECTOR_CHECKS,
}

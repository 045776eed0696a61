"""What the conformance checks run components on: a market, B scenarios, Step decisions.

:func:`market` is :func:`simlab.testing.markets.conformance_market` with the seeded inputs a
Step needs beside prices (signals, the book's weights, incoming targets, NAV); a market
perturbed after a row gets the same inputs up to it. :func:`run_step` calls a Step at every
decision row the way the engine does, serving only what the Step declares;
:func:`difference` compares outputs bit for bit (NaN equal to NaN).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from simlab.config import registry
from simlab.contract.step import StepContext
from simlab.data.market import MarketData, PointInTimeView
from simlab.errors import ConfigError
from simlab.features.base import FeatureInputs, FeatureTable
from simlab.testing.markets import conformance_market, perturb_after

N_DAYS, N_ASSETS, N_SCENARIOS, SEED = 600, 10, 3, 7
EVERY = 21  # rows between two decisions
CUTS = (0.5, 0.8)  # look-ahead cuts, as fractions of the decisions
STEP_NEEDS = frozenset({"signal", "nav_history"})  # what a Step may name in ``requires``
COST_NEEDS = frozenset({"adv", "volatility", "fill_history"})
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
        return registry.build(self.kind, self.resolve(self.entry() if entry is None else entry))

    def resolve(self, entry: dict) -> dict:
        """``entry`` validated with every default filled."""
        return registry.resolve(self.kind, entry, f"{self.kind} {self.key}")


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


def scenario_part(value: Any, b: int) -> np.ndarray:
    """Scenario ``b``'s part of a diagnostics value (a scalar is every scenario's)."""
    arr = np.asarray(value)
    return arr if arr.ndim == 0 else arr[b]


def scenario_entries(case: Case, n_scenarios: int) -> list[dict]:
    """B resolved entries: the example, then ones whose numeric fields are scaled where valid."""
    base = case.resolve(case.entry())
    entries = [base]
    for b in range(1, n_scenarios):
        factor = 0.75 if b % 2 else 1.5
        entry = dict(base)
        for name, value in base.items():
            if name == "type" or not registry.is_number(value) or value == 0:
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
    return registry.build_batch(case.kind, entries, f"{case.kind} {case.key}")


# --------------------------------------------------------------------------- steps


@dataclass
class Decision:
    """A Step's output at one decision row."""

    row: int
    weights: np.ndarray
    diagnostics: dict


def frozen(values: np.ndarray) -> np.ndarray:
    """A read-only copy of ``values`` (a component may not write what it is handed)."""
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
            tradeable=frozen(m.tradeable[t]), signal=frozen(signal) if wants_signal else None,
            weights=frozen(m.book[t, scenarios]), nav=frozen(m.nav[t, scenarios]),
            peak_nav=frozen(m.nav[: t + 1, scenarios].max(axis=0)), meta=m.md.meta,
            scenarios=tuple(f"s{b}" for b in scenarios), rng=np.random.default_rng(SEED),
            features={name: table.at(features, t) for name, features in declared.items()},
            last_rebalance=frozen(np.full(n, last_row)), last_targets=frozen(last_targets),
            last_signal=frozen(last_signal) if wants_signal else None,
            nav_history=frozen(m.nav[: t + 1, scenarios]) if "nav_history" in step.requires else None,
            memory=memory if step.stateful else {},
        )
        weights, diagnostics = step(frozen(m.targets[t, scenarios]), ctx)
        out.append(Decision(t, np.array(weights), dict(diagnostics)))
        last_row, last_targets, last_signal = t, np.array(weights), signal
    return out


def all_scenarios(n: int = N_SCENARIOS) -> list[int]:
    """Indices of the first ``n`` scenarios."""
    return list(range(n))


def assert_runs_equal(first: list[Decision], second: list[Decision], what: str,
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
            v1 = v if b is None else scenario_part(v, b)
            v2 = two.diagnostics[k] if b is None else scenario_part(two.diagnostics[k], 0)
            diff = difference(v1, v2, rtol)
            if diff:
                raise error(f"{what}: diagnostic {k!r} on row {one.row} differs {diff}")


def varied(base: dict, entry: dict) -> str:
    """The fields of ``entry`` that differ from ``base``, as ``name=value`` text."""
    changed = {k: v for k, v in entry.items() if base.get(k) != v}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "the example"



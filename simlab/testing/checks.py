"""The checks of the component contract, one function per (kind, check); see :mod:`simlab.testing.conformance`.

Each takes a :class:`simlab.testing.harness.Case` and raises ``AssertionError`` (or
``LookaheadError``) saying what differed; :mod:`simlab.testing.conformance` names the
component and the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simlab.contract.cost import CostContext, FillHistory
from simlab.contract.roles import Role
from simlab.execution.cost_inputs import trailing_adv, trailing_volatility
from simlab.errors import ConfigError, LookaheadError
from simlab.features.base import FeatureInputs
from simlab.testing.harness import (
    BATCH_RTOL, COST_NEEDS, N_ASSETS, N_DAYS, N_SCENARIOS, SEED, STEP_NEEDS, Case, all_scenarios, assert_runs_equal,
    batched, cut_rows, difference, feature_inputs, frozen, market, run_step, scenario_entries, varied,
)

# --------------------------------------------------------------------------- steps


def step_configuration(case: Case) -> None:
    """The example configuration validates and builds (every kind)."""
    case.build()


def step_requires(case: Case) -> None:
    """``requires`` names only known inputs, and the Step runs on only what it declares."""
    step = case.build()
    unknown = set(step.requires) - STEP_NEEDS
    if unknown:
        raise AssertionError(f"requires names {sorted(unknown)}; a Step may require {sorted(STEP_NEEDS)}")
    try:
        run_step(step, market(), all_scenarios())
    except KeyError as err:
        declared = sorted(step.features(1))
        raise AssertionError(f"reads something it did not declare (features: {declared}): {err}") from err
    except (TypeError, AttributeError) as err:
        raise AssertionError(f"fails when given only what it declares (requires={sorted(step.requires)}): "
                             f"{type(err).__name__}: {err}") from err


def step_outputs(case: Case) -> None:
    """Finite float weights (B, N) at every decision."""
    for d in run_step(batched(case, scenario_entries(case, N_SCENARIOS)), market(), all_scenarios()):
        w = np.asarray(d.weights)
        if w.shape != (N_SCENARIOS, N_ASSETS) or w.dtype.kind != "f":
            raise AssertionError(f"returned weights of shape {w.shape} and dtype {w.dtype} on row {d.row}; "
                                 f"expected float ({N_SCENARIOS}, {N_ASSETS})")
        if not np.isfinite(w).all():
            raise AssertionError(f"returned non-finite weights on row {d.row}: {w}")


def step_diagnostics(case: Case) -> None:
    """A flat dict of str -> number, bool, or numeric/bool array (B,) or (B, N); declared roles are roles."""
    for pattern, role in getattr(case.cls, "diagnostic_roles", {}).items():
        if role not in set(Role):
            raise AssertionError(f"diagnostic_roles gives {pattern!r} the role {role!r}; roles are {[str(r) for r in Role]}")
    for d in run_step(batched(case, scenario_entries(case, N_SCENARIOS)), market(), all_scenarios()):
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
    """One call on B scenarios with per-scenario fields equals B calls with scalar fields."""
    entries = scenario_entries(case, N_SCENARIOS)
    together = run_step(batched(case, entries), market(), all_scenarios())
    for b, entry in enumerate(entries):
        alone = run_step(case.build(entry), market(), [b])
        assert_runs_equal(together, alone, f"scenario {b} ({varied(entries[0], entry)}) in a batch of "
                                          f"{N_SCENARIOS} vs alone", b=b)


def step_deterministic(case: Case) -> None:
    """Two runs on the same inputs and seed give the same bits."""
    entries = scenario_entries(case, N_SCENARIOS)
    first = run_step(batched(case, entries), market(), all_scenarios())
    second = run_step(batched(case, entries), market(), all_scenarios())
    assert_runs_equal(first, second, "two runs on the same inputs and seed")


def step_str_round_trip(case: Case) -> None:
    """``str(step)`` read as YAML and resolved builds an equal Step."""
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
    """Data changed after row t changes no declared Feature at rows <= t and no output up to t."""
    step = case.build()
    original = run_step(step, market(), all_scenarios(1))
    for cut in cut_rows():
        perturbed = market(cut)
        for name, features in step.features(1).items():
            for feature in features:
                _feature_causal(feature, name, cut)
        later = run_step(step, perturbed, all_scenarios(1), stop=cut)
        assert_runs_equal([d for d in original if d.row <= cut], later,
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
    """A float (T, N) DataFrame on the data's calendar and assets, no infinities, not all NaN."""
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
    """Two signals on the same data give the same bits."""
    md = market().md
    diff = difference(case.build().signal(md).to_numpy(), case.build().signal(md).to_numpy())
    if diff:
        raise AssertionError(f"two signals on the same data differ {diff}")


def strategy_no_lookahead(case: Case) -> None:
    """Data changed after row t changes no signal row <= t."""
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
                          volatility=None if vol is None else vol[row], meta=m.md.meta,
                          fill_history=_fill_history(row, rng) if "fill_history" in model.requires else None)
        yield frozen(value), frozen(value / price), frozen(price), ctx


def _fill_history(row: int, rng) -> FillHistory:
    """Past fills of every scenario (rows before ``row``) and one day of fills at and after it,
    which a model priced at ``row`` must not use (:func:`cost_no_lookahead` checks it)."""
    k = 40 * N_SCENARIOS
    rows = np.r_[rng.integers(0, row, k - N_SCENARIOS), np.full(N_SCENARIOS, row)]
    value = rng.normal(0.0, 5e4, k)
    return FillHistory(row=rows, scenario=np.arange(k) % N_SCENARIOS, asset=rng.integers(1, N_ASSETS, k),
                       value=value, adv=np.full(k, 1e7), volatility=np.full(k, 0.02),
                       realized=np.abs(value) * rng.uniform(1e-4, 1e-3, k))


def cost_no_lookahead(case: Case) -> None:
    """A model that learns from fills gives the same costs when fills at or after the row are dropped."""
    model = batched(case, scenario_entries(case, N_SCENARIOS))
    if "fill_history" not in model.requires:
        return
    for value, shares, price, ctx in _cost_inputs(model):
        h = ctx.fill_history
        keep = h.row < ctx.row
        past = FillHistory(*(getattr(h, f)[keep] for f in ("row", "scenario", "asset", "value", "adv",
                                                           "volatility", "realized")))
        diff = difference(np.asarray(model(value, shares, price, ctx)),
                          np.asarray(model(value, shares, price, replace(ctx, fill_history=past))))
        if diff:
            raise LookaheadError(f"costs on row {ctx.row} changed with the fills of that row or later: {diff}")


def cost_requires(case: Case) -> None:
    """``requires`` names only known inputs, and the model runs on only what it declares."""
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
    """Finite, non-negative (B, N) costs, zero for no trade; linear_rate and daily_rate agree."""
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
    """One call on B scenarios with per-scenario fields equals B calls with scalar fields."""
    entries = scenario_entries(case, N_SCENARIOS)
    together = _cost_run(batched(case, entries))
    for b, entry in enumerate(entries):
        alone = case.build(entry)
        rows = [np.asarray(alone(v[b : b + 1], s[b : b + 1], p, _one_scenario(c, b))) for v, s, p, c in _cost_inputs(alone)]
        if alone.accrues:
            rows.append(np.asarray(alone.daily_rate(1, market().md.meta, N_ASSETS)))
        for k, (many, one) in enumerate(zip(together, rows)):
            diff = difference(many[b : b + 1], one, BATCH_RTOL)
            if diff:
                raise AssertionError(f"scenario {b} ({varied(entries[0], entry)}) in a batch vs alone, "
                                     f"{'daily_rate' if k == len(rows) - 1 and alone.accrues else 'costs'}: {diff}")


def _one_scenario(ctx: CostContext, b: int) -> CostContext:
    """``ctx`` as scenario ``b`` alone sees it: its own past fills, as scenario 0."""
    h = ctx.fill_history
    if h is None:
        return ctx
    mine = h.scenario == b
    fields = {f: getattr(h, f)[mine] for f in ("row", "asset", "value", "adv", "volatility", "realized")}
    return replace(ctx, fill_history=FillHistory(scenario=np.zeros(int(mine.sum()), dtype=np.int64), **fields))


def cost_deterministic(case: Case) -> None:
    """Two calls on the same inputs give the same bits."""
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
    "no_lookahead": cost_no_lookahead,
}


# --------------------------------------------------------------------------- regime detectors


PATH_KINDS = {"label": "iu", "stress": "b", "score": "f", "proxy": "b", "known": "b", "forced": "b"}


def _path_arrays(detector, inputs: FeatureInputs) -> dict[str, np.ndarray]:
    path = detector.path(inputs)
    return {name: np.asarray(value) for name, value in vars(path).items()}


def detector_outputs(case: Case) -> None:
    """(T,) path arrays of the right dtypes, labels in 0 .. n_labels - 1, some day known."""
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
    """Two paths on the same data give the same bits."""
    md = market().md
    first = _path_arrays(case.build(), feature_inputs(md))
    second = _path_arrays(case.build(), feature_inputs(md))
    for name, arr in first.items():
        diff = difference(arr, second[name])
        if diff:
            raise AssertionError(f"two paths on the same data differ in {name!r} {diff}")


def detector_no_lookahead(case: Case) -> None:
    """Data changed after row t changes no path value at rows <= t."""
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


"""Attribution by pipeline stage: what each Step adds to return, risk and cost.

Every scenario's pipeline is cut into its prefixes, and the prefixes run as scenarios of
one batch, on the same data, calendar, fills and costs as the run:

``1/N``       equal weight over the tradeable universe (no signal, no Step of the run)
``signal``    weights proportional to the strategy's signal (``signal_weighted`` with its
              defaults: positive signals only, no cap); only when the pipeline's first Step
              reads the signal (an allocator that ignores it is measured against 1/N)
``k:TYPE``    the run's pipeline up to and including Step k

A stage's contribution is its metric minus the previous stage's, so the contributions
telescope: ``1/N`` plus every contribution is the full pipeline's metric exactly. Prefixes
that are the same portfolio (same strategy, costs and Steps) run once and are shared.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd

from simlab.config import registry
from simlab.config.loader import Config
from simlab.config.scenarios import Scenario
from simlab.engine.result import Replay
from simlab.engine.simulate import simulate
from simlab.lab.run_metrics import run_metrics

STAGE_METRICS = ("total_return", "cagr", "annual_volatility", "sharpe", "cost_drag")
DELTAS = {"cagr": "d_cagr", "annual_volatility": "d_volatility", "sharpe": "d_sharpe", "cost_drag": "d_cost_drag"}


def stage_scenarios(scenarios: tuple[Scenario, ...]) -> tuple[list[Scenario], dict[str, list[tuple[str, str]]]]:
    """The distinct prefix scenarios to run, and per original scenario its (stage, prefix name) list."""
    equal = registry.resolve("step", {"type": "equal_weight"}, "stage 1/N")
    signal = registry.resolve("step", {"type": "signal_weighted"}, "stage signal")
    distinct: dict[str, Scenario] = {}
    plan: dict[str, list[tuple[str, str]]] = {}
    for s in scenarios:
        stages = [("1/N", (equal,))]
        if s.strategy is not None and s.pipeline and _reads_signal(s.pipeline[0]):
            stages.append(("signal", (signal,)))
        stages += [(f"{k}:{e['type']}", tuple(s.pipeline[:k + 1])) for k, e in enumerate(s.pipeline)]
        plan[s.name] = []
        for label, steps in stages:
            key = json.dumps([s.strategy, s.costs, list(steps)], sort_keys=True, default=str)
            if key not in distinct:
                distinct[key] = Scenario(f"stage{len(distinct)}", s.strategy, s.costs, steps)
            plan[s.name].append((label, distinct[key].name))
    return list(distinct.values()), plan


def _reads_signal(entry: dict) -> bool:
    return "signal" in getattr(registry.lookup("step", entry["type"], "pipeline[0]"), "requires", ())


def stage_attribution(config: Config, data) -> pd.DataFrame:
    """Run every scenario's pipeline prefixes in one batch; tabulate metrics and contributions.

    Parameters
    ----------
    config : Config
        The run's resolved config.
    data : MarketData
        The run's market data (``result.market``).

    Returns
    -------
    DataFrame
        Index (scenario, stage); columns :data:`STAGE_METRICS` then the contributions
        ``d_cagr``, ``d_volatility``, ``d_sharpe``, ``d_cost_drag`` (NaN on ``1/N``).
    """
    prefixes, plan = stage_scenarios(config.scenarios)
    staged = replace(config, scenarios=tuple(prefixes))
    replay = Replay(staged, data, *simulate(staged, data))
    metrics = run_metrics(replay, config.experiment.risk_free)
    rows = []
    for scenario, stages in plan.items():
        previous = None
        for label, name in stages:
            row = {"scenario": scenario, "stage": label}
            row.update({m: float(metrics.loc[name, m]) for m in STAGE_METRICS})
            for m, d in DELTAS.items():
                row[d] = float("nan") if previous is None else row[m] - previous[m]
            rows.append(row)
            previous = row
    return pd.DataFrame(rows).set_index(["scenario", "stage"])

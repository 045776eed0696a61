# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Allocator phases side by side
#
# `configs/experiments/allocator_phases.yaml` runs ten allocators in one batch on the same
# data, signal (12-1 month momentum) and costs: phase 1 rule based (equal weight, top 5), phase
# 2 risk adjusted (inverse volatility, risk parity, HRP, minimum variance...), phase 3 optimized
# (maximum Sharpe, Black-Litterman, minimum CVaR). The question is not which line ends highest
# but which differences are larger than chance: the Ledoit-Wolf test of equal Sharpe ratios
# answers that pair by pair.
#
# The stocks are today's survivors: compare the phases with each other, not with the index.

# %% tags=["parameters"]
CONFIG = "configs/experiments/allocator_phases.yaml"
START = None  # e.g. "2018-01-01" for a shorter run; None keeps the experiment's span
END = None
PAIR_DRAWS = 999  # bootstrap resamples of each pairwise test
DETAIL = None  # scenarios the report shows one by one (the best by Sharpe ratio); None shows all
OUT = "experiments/allocator_phases"  # where report.html goes

# %%
from pathlib import Path

import pandas as pd

import simlab
from simlab.analysis.claims import equal_sharpe_table
from simlab.analysis.report import write_report
from simlab.analysis.tables import format_metrics
from simlab.config.loader import read_yaml

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "configs" / "experiments").is_dir())


def experiment(path, start=None, end=None):
    """The experiment at ``path``; given ``start`` or ``end``, the same over that span."""
    path = ROOT / path  # an absolute path stays as it is
    if start is None and end is None:
        return path
    raw = read_yaml(path)
    raw["data"].update({key: value for key, value in (("start", start), ("end", end)) if value is not None})
    return simlab.load_config(raw, base=path.parent)  # its paths resolve beside the file


# %% [markdown]
# ## One run, ten scenarios

# %%
res = simlab.run(experiment(CONFIG, START, END))
print(res)
metrics = res.metrics().sort_values("sharpe", ascending=False)
print(format_metrics(metrics))

# %% [markdown]
# ## By phase
#
# The scenario names start with their phase.

# %%
phase = metrics.index.str.split("_").str[0]
by_phase = metrics.groupby(phase)[["sharpe", "annual_volatility", "max_drawdown", "annual_turnover"]]
print(by_phase.mean().round(3))

# %% [markdown]
# ## Are the differences real?
#
# For each pair: the two Sharpe ratios, the p-value of a studentized block bootstrap of their
# difference (Ledoit and Wolf 2008) and the same p-value adjusted over all pairs (Holm).

# %%
pairs = equal_sharpe_table(res, draws=PAIR_DRAWS)
with pd.option_context("display.width", 160):
    print(pairs[["scenario_a", "scenario_b", "sharpe_a", "sharpe_b", "p_value", "p_holm"]].round(3).to_string())
apart = pairs[pairs["p_holm"] < 0.05]
print(f"{len(apart)} of {len(pairs)} pairs differ at 5% after Holm's adjustment")

# %% [markdown]
# ## Where the optimizers fell back
#
# An optimizer that fails never gives a silent NaN: it falls back along a documented chain, and
# the diagnostics say so.

# %%
diag = res.diagnostics
fallback = diag[diag["key"].str.contains("fallback|solver|status", regex=True) & diag["asset"].isna()]
print(fallback.groupby(["scenario", "key"])["value"].agg(["count", "sum"]) if len(fallback) else "no fallback recorded")

# %% [markdown]
# ## The report
#
# With the pairwise tests, and every scenario shown one by one (or the `DETAIL` best).

# %%
path = write_report(res, Path(OUT) / "report.html", pairs=pairs, detail=DETAIL or len(res.scenarios))
print("open:", path.resolve().as_uri())

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
# # Quickstart: one experiment, end to end
#
# The quickstart experiment (`configs/experiments/quickstart.yaml`): 12-1 month momentum on the
# 20 built-in S&P 500 stocks, the top 3, 5 or 10 names equally weighted (three scenarios, one
# batch), rebalanced monthly, filled at the next close, 10 bps a trade. We run it, read the
# metrics, look inside the run (weights, trades, the pipeline's diagnostics) and write its run
# folder, whose `report.html` is the page to open.
#
# Open this file in Jupyter with jupytext, or run it as a script from anywhere in the repository.

# %% tags=["parameters"]
CONFIG = "configs/experiments/quickstart.yaml"
START = None  # e.g. "2019-01-01" for a shorter run; None keeps the experiment's span
END = None
OUT = None  # run folder; None writes experiments/<name>-<hash>

# %%
from pathlib import Path

import simlab
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
# ## Run it
#
# `simlab.run` takes a path, a plain dict or a loaded config. The config is validated first: a
# misspelt key is a `ConfigError` naming it.

# %%
res = simlab.run(experiment(CONFIG, START, END))
print(res)
print(format_metrics(res.metrics()))

# %% [markdown]
# ## Inside the run
#
# `nav` and `returns` are date x scenario frames, `weights` an xarray cube (date, scenario,
# asset), `trades` one row per fill, `diagnostics` what every Step of the pipeline decided, in
# long format.

# %%
print(res.nav.tail(3).round(0))
last = res.weights.isel(date=-1).to_pandas().T
print(last[last.abs().sum(axis=1) > 0].round(3))
print(res.trades.groupby("scenario")[["value", "cost"]].agg(["count", "sum"]).round(0))
print(res.diagnostics.groupby(["step", "key"]).size().rename("rows").head(10))

# %% [markdown]
# ## The run folder
#
# `res.save()` writes the resolved config (rerun it to reproduce the run), the tables as
# Parquet, the metrics and `report.html`: summary, equity against the index on a log scale,
# drawdowns, rolling Sharpe, monthly returns, weights, turnover and costs, and the caveats (the
# 20 stocks are today's survivors).

# %%
folder = res.save(None if OUT is None else Path(OUT))
print(folder)
print(sorted(p.name for p in folder.iterdir()))
print("open:", (folder / "report.html").resolve().as_uri())

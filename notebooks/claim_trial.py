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
# # A claim on trial: value-momentum
#
# `configs/experiments/production_value_momentum.yaml` states what it expects: a Sharpe ratio of
# at least 2.85 and a total return 106 points above the S&P 500 index's. The strategy is a
# value-momentum blend (value is a price-only proxy), top 5 of the 20 built-in stocks equally
# weighted, monthly, 10 bps, with a 15% volatility target, a 25% name cap, a drawdown breaker and
# the VIX defensive shift.
#
# `simlab validate` (here `validate`) runs it and judges each claim: the point estimate, a 95%
# stationary block bootstrap interval, the probabilistic and deflated Sharpe ratios, the minimum
# track record length and a walk-forward check, then PASS, FAIL or INCONCLUSIVE with the reason.
# Whatever the verdict, read it with the caveats below: the stocks are today's survivors, value
# is a proxy, and before 2014 the VIX is a realized-volatility proxy.

# %% tags=["parameters"]
CONFIG = "configs/experiments/production_value_momentum.yaml"
START = None  # e.g. "2014-01-01" for a shorter trial; None keeps the experiment's span
END = None
DRAWS = 1000  # bootstrap resamples of each interval
PAIR_DRAWS = 999
OUT = "experiments/claim_trial"  # where claims.csv, claims.json and report.html go

# %%
from pathlib import Path

from simlab.analysis.caveats import caveats
from simlab.analysis.report import write_report
from simlab.config.loader import load_config, read_yaml
from simlab.lab.validate import validate

ROOT = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "configs" / "experiments").is_dir())


def experiment(path, start=None, end=None):
    """The experiment at ``path``; given ``start`` or ``end``, the same over that span."""
    path = ROOT / path  # an absolute path stays as it is
    if start is None and end is None:
        return path
    raw = read_yaml(path)
    raw["data"].update({key: value for key, value in (("start", start), ("end", end)) if value is not None})
    return load_config(raw, base=path.parent)  # its paths resolve beside the file


# %% [markdown]
# ## The trial

# %%
validation = validate(experiment(CONFIG, START, END), draws=DRAWS, pair_draws=PAIR_DRAWS)
print(validation.to_text())

# %% [markdown]
# ## The verdicts
#
# `simlab validate` exits with 1 when a claim fails, so a CI job can guard a claim.

# %%
for claim, verdict in validation.verdicts().items():
    print(f"{verdict:>12}  {claim}")
print("exit code:", validation.exit_code())
columns = ["claim", "estimate", "ci_low", "ci_high", "psr", "dsr", "min_trl_years", "wf_estimate", "verdict"]
print(validation.table[columns].round(3).to_string(index=False))

# %% [markdown]
# ## What the numbers rest on

# %%
for note in caveats(validation.result):
    print("-", note)

# %% [markdown]
# ## The record
#
# `claims.csv` and `claims.json` hold the table and the settings; `report.html` shows the run
# with the claims table and its intervals.

# %%
folder = Path(OUT)
validation.write(folder)
path = write_report(validation.result, folder / "report.html", claims=validation.table, pairs=validation.pairs)
print(sorted(p.name for p in folder.iterdir()))
print("open:", path.resolve().as_uri())

"""Run folders: everything a run produced, named by the config's name and hash.

```
experiments/<name>-<hash8>/
  config.yaml        the resolved config (every default filled; rerun it to reproduce)
  run.json           run id, config hash, data span, package version, seed
  metrics.json       scenario -> metric -> value
  nav.parquet, returns.parquet, weights.parquet, trades.parquet, diagnostics.parquet
  equity.png, drawdown.png
  report.md          the metrics table and the caveats
```
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

import simlab
from simlab.analysis import plots

DEFAULT_ROOT = Path("experiments")


def run_id(result) -> str:
    """``<name>-<first 8 hex of the config hash>``."""
    return f"{result.config.name}-{result.config.config_hash()[:8]}"


def save_run(result, path=None) -> Path:
    """Write the run folder under ``path`` (default ``experiments/<run id>``)."""
    folder = Path(path) if path is not None else DEFAULT_ROOT / run_id(result)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "config.yaml").open("w") as fh:
        yaml.safe_dump(result.config.to_dict(), fh, sort_keys=False)
    metrics = result.metrics()
    (folder / "metrics.json").write_text(json.dumps(_clean(metrics.to_dict(orient="index")), indent=2))
    (folder / "run.json").write_text(json.dumps(_run_info(result), indent=2))
    _write_tables(result, folder)
    plots.plot_equity(result.nav, result.benchmark, folder / "equity.png", title=result.config.name)
    plots.plot_drawdown(result.returns, folder / "drawdown.png", title=result.config.name)
    (folder / "report.md").write_text(_report(result, metrics))
    return folder


def _write_tables(result, folder: Path) -> None:
    result.nav.to_parquet(folder / "nav.parquet")
    result.returns.to_parquet(folder / "returns.parquet")
    weights = result.weights.to_series().unstack("asset")
    weights.to_parquet(folder / "weights.parquet")
    result.trades.to_parquet(folder / "trades.parquet", index=False)
    result.diagnostics.to_parquet(folder / "diagnostics.parquet", index=False)


def _run_info(result) -> dict:
    return {
        "run_id": run_id(result),
        "config_hash": result.config.config_hash(),
        "simlab_version": simlab.__version__,
        "data_source": result.config.experiment.data.source,
        "start": str(result.dates[0].date()),
        "end": str(result.dates[-1].date()),
        "scenarios": list(result.scenarios),
        "seed": result.config.experiment.seed,
    }


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _report(result, metrics) -> str:
    lines = [f"# {result.config.name}", "", result.config.experiment.description or "", ""]
    lines += [f"Span: {result.dates[0].date()} .. {result.dates[-1].date()}; "
              f"{len(result.scenarios)} scenario(s) x {len(result.assets)} assets.", ""]
    lines += [metrics.T.to_markdown() if _has_tabulate() else "```\n" + metrics.T.to_string() + "\n```", ""]
    lines += ["![equity](equity.png)", "", "![drawdown](drawdown.png)", ""]
    caveats = result.market.provenance.get("caveats")
    if caveats:
        lines += ["## Caveats", ""] + [f"- {c}" for c in caveats]
    return "\n".join(lines) + "\n"


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True

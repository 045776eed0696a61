"""Run folders: everything a run produced and what it takes to reproduce it.

```
experiments/<name>-<hash8>/
  config.yaml        the resolved config (every default filled; rerun it to reproduce)
  run.json           run id, config hash, data hash, package versions, git commit, seeds, span
  metrics.json       scenario -> metric -> value
  nav.parquet, returns.parquet, weights.parquet, trades.parquet, diagnostics.parquet
  equity.png, drawdown.png
  report.html        the self-contained report (images embedded)
  report.md          the metrics table and the caveats
```

A run folder is written whole or not at all: everything goes into a hidden temporary
sibling (``.<name>.tmp-<pid>-<random>``), ``run.json`` last, and the sibling is renamed into
place (:func:`replace_folder`); an earlier run in the same folder is moved aside and removed
only after that. A run killed while saving leaves the previous folder as it was (or nothing)
and at most a hidden sibling, which :func:`list_runs` never lists. A folder that holds anything
but a run's files is never replaced (:func:`check_target`). Its record:

- ``config_hash``: SHA-256 of the resolved config (:meth:`simlab.Config.config_hash`);
- ``data_hash``: SHA-256 of the market data the engine saw (:func:`data_hash`);
- ``versions``: Python, the platform and the packages that shape the numbers;
- ``git``: ``{"commit", "dirty"}`` of the repository the run started in, or null outside one;
- ``seed`` (the experiment's) and ``data_seed`` (a synthetic market's, else null).

Sweeps (:mod:`simlab.lab.sweep`) write ``sweep.json`` instead, and one lighter run folder
per variant. :func:`list_runs` and :func:`compare_runs` read both kinds; ``simlab runs`` and
``simlab compare`` print them.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simlab.analysis import plots
from simlab.analysis import report as html_report
from simlab.analysis.tables import format_metrics_markdown, format_sleeves
from simlab.errors import ConfigError

DEFAULT_ROOT = Path("experiments")
PACKAGES = ("numpy", "pandas", "numba", "scipy", "xarray", "pyarrow", "pydantic", "PyYAML", "cvxpy",
            "clarabel", "cupy-cuda12x", "dask", "distributed")
MARKET_FIELDS = ("close", "open", "volume", "benchmark", "macro", "meta")


def run_id(result) -> str:
    """``<name>-<first 8 hex of the config hash>``."""
    return f"{result.config.name}-{result.config.config_hash()[:8]}"


RUN_FILES = frozenset({
    "config.yaml", "run.json", "metrics.json", "nav.parquet", "returns.parquet", "weights.parquet",
    "trades.parquet", "diagnostics.parquet", "equity.png", "drawdown.png", "report.html", "report.md",
    "error.json", "claims.json", "claims.csv", "sleeves.parquet", "sleeve_metrics.csv",
})


def save_run(result, path=None) -> Path:
    """Write the run folder under ``path`` (default ``experiments/<run id>``), atomically."""
    folder = Path(path) if path is not None else DEFAULT_ROOT / run_id(result)
    check_target(folder)
    metrics = result.metrics()
    record = run_record(result, git=git_state())

    def write(tmp: Path) -> None:
        write_tables(tmp, config=result.config.to_dict(), metrics=metrics, nav=result.nav,
                     returns=result.returns, weights=result.weights)
        result.trades.to_parquet(tmp / "trades.parquet", index=False)
        result.diagnostics.to_parquet(tmp / "diagnostics.parquet", index=False)
        if result.sleeves is not None:
            sleeve_table(result).to_parquet(tmp / "sleeves.parquet", index=False)
            result.sleeve_metrics().to_csv(tmp / "sleeve_metrics.csv")
        plots.plot_equity(result.nav, result.benchmark, tmp / "equity.png", title=result.config.name)
        plots.plot_drawdown(result.returns, tmp / "drawdown.png", title=result.config.name)
        (tmp / "report.md").write_text(_report(result, metrics))
        html_report.write_report(result, tmp / "report.html")
        write_record(tmp, record)

    return replace_folder(folder, write)


def sleeve_table(result) -> pd.DataFrame:
    """The sleeves of a book in long form: date, scenario, sleeve, nav, weight, return, transfer, cost."""
    sleeves = result.sleeves
    parts = {"nav": sleeves.nav, "weight": sleeves.weights, "return": sleeves.returns,
             "transfer": sleeves.transfers, "cost": sleeves.costs}
    long = pd.concat({name: frame.stack(["scenario", "sleeve"], future_stack=True) for name, frame in parts.items()},
                     axis=1)
    return long.reset_index()


def check_target(folder: str | Path) -> Path:
    """``folder`` if a run may be written there: absent, empty, or a run folder (replaced).

    A run folder has a complete ``run.json``, or holds nothing but a run's files
    (:data:`RUN_FILES`: an unfinished one). Raises :class:`~simlab.errors.ConfigError` when
    ``folder`` is a file or any other folder: simlab never deletes what it did not write.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out: {folder} is an existing file; give a folder path for the run")
    if folder.is_dir() and _kind(folder) != "run":
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in RUN_FILES)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise ConfigError(f"--out: {folder} exists and is not a run folder (it holds {shown}); "
                              "give a new or empty folder")
    return folder


def replace_folder(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a fresh hidden sibling of ``folder``, then rename it to ``folder``.

    An existing ``folder`` is renamed aside first and deleted after the new one is in place;
    if ``write`` raises (or the process is killed), ``folder`` keeps its previous contents and
    the sibling is removed (or, after a kill, left hidden and never listed).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    tmp = folder.parent / f".{folder.name}.tmp-{tag}"
    old = folder.parent / f".{folder.name}.old-{tag}"
    tmp.mkdir()
    try:
        write(tmp)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
    except BaseException:
        if old.exists() and not folder.exists():
            old.rename(folder)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return folder


def write_tables(folder: Path, *, config: dict, metrics: pd.DataFrame, nav: pd.DataFrame,
                 returns: pd.DataFrame, weights=None) -> None:
    """The resolved config, metrics.json and the nav/returns(/weights) parquet tables."""
    folder.mkdir(parents=True, exist_ok=True)
    write_yaml(folder / "config.yaml", config)
    (folder / "metrics.json").write_text(json.dumps(_clean(metrics.to_dict(orient="index")), indent=2))
    nav.to_parquet(folder / "nav.parquet")
    returns.to_parquet(folder / "returns.parquet")
    if weights is not None:
        weights.to_series().unstack("asset").to_parquet(folder / "weights.parquet")


def write_yaml(path: Path, data: dict) -> None:
    """Plain data as YAML, keys in their order (libyaml's emitter where PyYAML has it: a
    resolved config with 1,000 scenarios takes ~1 s in the pure-Python one)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with path.open("w") as fh:
        yaml.dump(data, fh, Dumper=dumper, sort_keys=False)


def write_record(folder: Path, record: dict, name: str = "run.json") -> None:
    """Write a JSON record atomically (temporary file, then rename); write it last, it marks
    the folder finished."""
    target = folder / name
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(_clean(record), indent=2, default=str))
    tmp.replace(target)


def run_record(result, git: dict | None = None) -> dict:
    """What makes ``result`` reproducible: config and data hashes, versions, git state, seeds."""
    exp = result.config.experiment
    return {
        "kind": "run",
        "run_id": run_id(result),
        "name": result.config.name,
        "created": now(),
        "config_hash": result.config.config_hash(),
        "data_hash": data_hash(result.market),
        "data_source": exp.data.source,
        "start": str(result.dates[0].date()),
        "end": str(result.dates[-1].date()),
        "scenarios": list(result.scenarios),
        "n_assets": len(result.assets),
        "seed": exp.seed,
        "data_seed": exp.data.seed,
        "simlab_version": simlab_version(),
        "versions": package_versions(),
        "git": git,
        "health": result.health().to_dict(),
    }


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def data_hash(md) -> str:
    """SHA-256 of a MarketData's contents: each table's dates, labels and float64 values.

    Covers ``close``, ``open``, ``volume``, ``benchmark``, ``macro`` and ``meta``; the same
    numbers on the same calendar give the same hash whatever loaded them.
    """
    digest = hashlib.sha256()
    for name in MARKET_FIELDS:
        table = getattr(md, name, None)
        if table is None:
            continue
        digest.update(f"\x1e{name}\x1f".encode())
        frame = table.to_frame() if isinstance(table, pd.Series) else table
        _hash_frame(digest, frame)
    return digest.hexdigest()


def _hash_frame(digest, frame: pd.DataFrame) -> None:
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        digest.update(np.ascontiguousarray(index.as_unit("ns").asi8).tobytes())
    else:
        digest.update("\x1f".join(map(str, index)).encode())
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    try:
        values = np.ascontiguousarray(frame.to_numpy(dtype="float64"))
    except (TypeError, ValueError):  # text columns (sectors): hash their text form
        digest.update(frame.to_csv().encode())
        return
    digest.update(values.tobytes())


def package_versions() -> dict[str, str]:
    """Python, the platform, simlab and the installed packages of :data:`PACKAGES`."""
    out = {"python": platform.python_version(), "platform": platform.platform(), "simlab": simlab_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def simlab_version() -> str:
    """The installed simlab's version (its package metadata)."""
    try:
        return metadata.version("simlab")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_state(where: str | Path | None = None) -> dict | None:
    """``{"commit": sha, "dirty": bool}`` of the repository holding ``where`` (default the
    working directory), or None outside a repository (or without git, or with no commit).
    ``dirty`` is true when tracked files differ from the commit."""
    cwd = Path.cwd() if where is None else Path(where)
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": commit, "dirty": bool(status)}


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# --- reading run folders back ----------------------------------------------------------


def list_runs(root: str | Path = DEFAULT_ROOT) -> pd.DataFrame:
    """One row per run or sweep folder under ``root``, oldest first.

    Columns: ``run`` (the folder name), ``kind`` (run or sweep), ``created``, ``scenarios``
    (count; for a sweep, variants as ``ok/total``), ``config`` and ``data`` (first 8 hex of
    the hashes), ``commit`` (first 8 hex, ``*`` when the tree was dirty) and ``folder``.
    """
    rows = [_summary(folder) for folder in sorted(Path(root).glob("*")) if _kind(folder)]
    columns = ["run", "kind", "created", "scenarios", "config", "data", "commit", "folder"]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["created", "run"], kind="stable").reset_index(drop=True)


def _kind(folder: Path) -> str | None:
    """``sweep`` or ``run`` for a folder with a complete record; None for anything else (a
    hidden temporary sibling, a folder without a record or with one that does not parse)."""
    if folder.name.startswith("."):
        return None
    for kind in ("sweep", "run"):
        path = folder / f"{kind}.json"
        if path.is_file():
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                return None
            return kind if isinstance(record, dict) and record.get("config_hash") else None
    return None


def _summary(folder: Path) -> dict:
    kind = _kind(folder)
    record = json.loads((folder / f"{kind}.json").read_text())
    created = record.get("created") or dt.datetime.fromtimestamp(
        (folder / f"{kind}.json").stat().st_mtime, dt.UTC).replace(microsecond=0).isoformat()
    if kind == "sweep":
        variants = record.get("variants", [])
        ok = sum(v["status"] in ("ok", "reused") for v in variants)
        count = f"{ok}/{len(variants)} variants"
    else:
        count = str(len(record.get("scenarios", [])))
    git = record.get("git") or {}
    commit = (git.get("commit") or "")[:8] + ("*" if git.get("dirty") else "")
    return {"run": folder.name, "kind": kind, "created": created, "scenarios": count,
            "config": (record.get("config_hash") or "")[:8], "data": (record.get("data_hash") or "-")[:8],
            "commit": commit or "-", "folder": str(folder)}


def resolve_run(ref: str | Path, root: str | Path = DEFAULT_ROOT) -> Path:
    """A run or sweep folder from a path, a folder name under ``root`` or a unique prefix of one."""
    for candidate in (Path(ref), Path(root) / str(ref)):
        if candidate.is_dir() and _kind(candidate):
            return candidate
    names = [f.name for f in sorted(Path(root).glob("*")) if _kind(f)]
    matches = [n for n in names if n.startswith(str(ref))]
    if len(matches) == 1:
        return Path(root) / matches[0]
    if matches:
        raise ConfigError(f"run {str(ref)!r} is ambiguous under {root}: {', '.join(matches)}")
    listed = ", ".join(names[-10:]) or "none"
    raise ConfigError(f"no run {str(ref)!r} under {root} (runs there: {listed}); give a folder or a run id")


def load_metrics(folder: str | Path) -> pd.DataFrame:
    """The scenario x metric table of a run folder; for a sweep, rows ``variant/scenario``."""
    folder = Path(folder)
    if (folder / "metrics.parquet").is_file() and _kind(folder) == "sweep":
        table = pd.read_parquet(folder / "metrics.parquet")
        labels = [f"{v}/{s}" for v, s in zip(table["variant"], table["scenario"])]
        numeric = table.drop(columns=["variant", "scenario"]).select_dtypes("number")
        return numeric.set_axis(pd.Index(labels, name="scenario"), axis=0)
    data = json.loads((folder / "metrics.json").read_text())
    table = pd.DataFrame.from_dict(data, orient="index").astype(float)
    return table.rename_axis("scenario")


def compare_runs(refs, root: str | Path = DEFAULT_ROOT, metrics: list[str] | None = None,
                 scenarios: str | None = None) -> pd.DataFrame:
    """Metrics of several runs side by side: rows ``(run, scenario)``, columns metrics.

    ``metrics`` keeps those columns (in that order); ``scenarios`` is a glob on scenario
    names (``top_n=5*``).
    """
    parts = {}
    for ref in refs:
        folder = resolve_run(ref, root)
        table = load_metrics(folder)
        if scenarios:
            table = table[[fnmatch.fnmatchcase(str(s), scenarios) for s in table.index]]
        parts[folder.name] = table
    out = pd.concat(parts, names=["run", "scenario"])
    if metrics:
        unknown = [m for m in metrics if m not in out.columns]
        if unknown:
            raise ConfigError(f"unknown metric(s) {', '.join(unknown)}; the runs have {', '.join(out.columns)}")
        out = out[metrics]
    return out


# --- helpers ------------------------------------------------------------------------------


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _report(result, metrics) -> str:
    lines = [f"# {result.config.name}", "", result.config.experiment.description or "", ""]
    lines += [(f"Span: {result.dates[0].date()} .. {result.dates[-1].date()}; "
               f"{len(result.scenarios)} scenario(s) x {len(result.assets)} assets."), ""]
    lines += [format_metrics_markdown(metrics, "all"), ""]
    if result.sleeves is not None:
        lines += ["## Sleeves", "", ("Each sleeve's own book at its share of the capital; `netting` is what the "
                                     "book saved by trading the net of the sleeves' trades."), "",
                  format_sleeves(result.sleeve_metrics(), markdown=True), ""]
    lines += ["![equity](equity.png)", "", "![drawdown](drawdown.png)", ""]
    caveats = [*result.market.provenance.get("caveats", []), *(f"Health: {p}" for p in result.health().problems())]
    if caveats:
        lines += ["## Caveats", ""] + [f"- {c}" for c in caveats]
    return "\n".join(lines) + "\n"



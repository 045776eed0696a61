"""Sweeps: run variants of an experiment that cannot share one batch, merge what they give.

``scenarios:`` grids vary what the engine batches (strategy, costs, pipeline) in one pass.
A ``sweep:`` block varies what it cannot (the data source, the universe, the schedule, the
dates, the execution) and runs each variant through ``simlab.run`` on an executor
(:mod:`simlab.lab.executors`)::

    sweep:
      schedule.frequency: [weekly, monthly]           # crossed with ...
      data.start,data.end:                             # ... these pairs (zipped)
        - [2000-01-01, 2010-12-31]
        - [2011-01-01, 2022-12-28]

Each variant is the experiment with its overrides and without the ``sweep:`` block, so its
config hash is the hash of the same experiment run alone; a variant's scenario grid stays
one batch. Variants are labelled like scenarios (``frequency=weekly,start=2000-01-01,...``).

The sweep folder, ``experiments/<name>-sweep-<hash8>`` (the hash of the experiment without
its ``sweep:`` block, so that adding values to the sweep reuses the folder)::

    config.yaml          the resolved experiment with its sweep block
    sweep.json           executor, versions, git state, and per variant: label, overrides,
                         config hash, status (ok, reused, failed), seconds, error
    variants/<hash12>/   one run folder per finished variant (config.yaml, metrics.json,
                         nav/returns(/weights).parquet, run.json written last), or
                         error.json (type, message, notes, traceback) for a failed one
    result.nc            the merged xarray Dataset (netCDF3, written by scipy)
    metrics.parquet      the merged metrics: one row per (variant, scenario), override
    metrics.csv          columns, then the metrics

Where the workers share this machine's files (local processes, a Dask cluster the sweep
starts) each worker writes its variant's folder itself and sends back only its status;
workers of a cluster at an ``address`` send the tables back and the sweep writes them.
A failed variant is recorded and the others go on. A rerun skips every variant whose
folder holds a ``run.json`` with its config hash (resume); failed ones are tried again.
Ctrl-C stops the workers, merges the variants that finished, records the sweep as
``interrupted`` and raises :class:`SweepInterrupted` (a ``KeyboardInterrupt``): nothing
finished is lost, and a rerun resumes. A variant's folder is written like a run folder
(:func:`simlab.lab.store.replace_folder`): a worker killed mid-save leaves no half a variant.

The merged Dataset has dims ``variant``, ``date``, ``scenario`` (and ``asset``, ``metric``):
``nav`` and ``returns`` (variant, date, scenario), ``weights`` (variant, date, scenario,
asset) when the whole cube has at most :data:`WEIGHTS_LIMIT` cells, and ``metrics``
(variant, scenario, metric); each override is a coordinate along ``variant``. Variants with
other dates, scenarios or assets are aligned by an outer join (NaN where one has none).
Failed variants have no data and are left out. netCDF3 through scipy needs nothing beyond
simlab's own dependencies; read it back with :func:`load_sweep`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from simlab.config.loader import Config, load_config
from simlab.config.scenarios import format_value, short_labels
from simlab.errors import ConfigError
from simlab.lab import store
from simlab.lab.executors import Progress, make_executor, release_memory
from simlab.lab.run import run

WEIGHTS_LIMIT = 20_000_000  # cells (160 MB of float64) of a weights cube kept per variant and merged
RELEASE_AFTER_SECONDS = 2.0  # a variant this long hands its freed memory back (which costs about 0.1 s)
RESULT_FILE = "result.nc"


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, after the finished variants were merged; the message says where."""


@dataclass(frozen=True)
class Variant:
    """One point of a sweep: its label, overrides and the config they give (or why not)."""

    label: str
    overrides: dict[str, Any]
    config: dict | None = None
    config_hash: str | None = None
    error: dict | None = None

    @property
    def folder_name(self) -> str:
        """``variants/<first 12 hex of the config hash>``."""
        return f"variants/{self.config_hash[:12]}" if self.config_hash else ""


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one variant (plain, picklable data).

    With ``folder`` (the sweep's folder, where the worker shares this machine's files) the
    worker writes the variant's folder itself and sends back only its status; otherwise it
    sends back the tables (nav and returns of 1,000 scenarios over 20 years are 80 MB).
    """

    config: dict
    path: str | None
    cwd: str | None
    git: dict | None
    weights_limit: int
    variant: Variant | None = None
    folder: str | None = None
    sweep: str | None = None


@dataclass
class Outcome:
    """A variant's run as it comes back from a worker."""

    status: str
    seconds: float
    record: dict | None = None
    metrics: pd.DataFrame | None = None
    nav: pd.DataFrame | None = None
    returns: pd.DataFrame | None = None
    weights: xr.DataArray | None = None
    error: dict | None = None
    peak_rss_mib: float | None = None
    worker_pid: int | None = None
    cpu_seconds: float | None = None  # CPU time of the run and its metrics (a loaded machine stretches seconds)
    saved: bool = False  # the worker wrote the variant's folder


@dataclass
class SweepResult:
    """A finished sweep: its folder, one row per variant, the merged metrics and Dataset."""

    folder: Path
    variants: pd.DataFrame
    metrics: pd.DataFrame
    dataset: xr.Dataset | None

    @property
    def failed(self) -> pd.DataFrame:
        """The rows of the variants that failed."""
        return self.variants[self.variants["status"] == "failed"]


# --- variants -------------------------------------------------------------------------------


def sweep_id(cfg: Config) -> str:
    """``<name>-sweep-<first 8 hex of the hash of the experiment without its sweep block>``."""
    return f"{cfg.name}-sweep-{_base_config(cfg).config_hash()[:8]}"


def _base_config(cfg: Config) -> Config:
    raw = cfg.experiment.model_dump(mode="json")
    raw["sweep"] = {}
    return dataclasses.replace(load_config(raw), path=cfg.path)


def expand_variants(cfg: Config) -> list[Variant]:
    """The sweep's variants in grid order; one variant (no overrides) without a sweep block."""
    raw = cfg.experiment.model_dump(mode="json")
    sweep = raw.pop("sweep")
    raw["sweep"] = {}
    raw["file_sha256"] = {}  # a variant may read other files: hashed afresh
    keys = [[p.strip() for p in key.split(",")] for key in sweep]
    labels = short_labels([p for paths in keys for p in paths])
    out = []
    for combo in itertools.product(*sweep.values()):
        overrides = {}
        for paths, value in zip(keys, combo):
            overrides.update(zip(paths, value) if len(paths) > 1 else [(paths[0], value)])
        label = ",".join(f"{labels[p]}={format_value(v)}" for p, v in overrides.items()) or cfg.name
        out.append(_variant(raw, label, overrides, cfg.path.parent if cfg.path else None))
    return out


def _variant(raw: dict, label: str, overrides: dict, base=None) -> Variant:
    tree = copy.deepcopy(raw)
    try:
        for path, value in overrides.items():
            _set_path(tree, path, value)
        config = load_config(tree, base=base)  # the sweep's paths resolve beside its file
    except ConfigError as err:
        return Variant(label, overrides, error=_error_info(err))
    return Variant(label, overrides, config=config.to_dict(), config_hash=config.config_hash())


def _set_path(tree: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = tree
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"sweep.{path}: {part!r} is not an index below {len(node)} at {where}")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last and node.get(part) is None:
                node[part] = {}
        else:
            raise ConfigError(f"sweep.{path}: {'.'.join(parts[:i])} is not a mapping or a list")
        if last:
            node[key] = value
        else:
            node = node[key]


# --- running one variant (in a worker) ------------------------------------------------------


def run_variant(task: Task) -> Outcome:
    """Run one variant; an exception becomes a failed Outcome with its traceback.

    With ``task.folder`` a finished variant's folder is written here and the Outcome comes
    back without its tables (``saved``). After a variant of :data:`RELEASE_AFTER_SECONDS` or
    more, the memory it freed is handed back to the system before returning, so a worker's
    footprint does not grow from one large variant to the next.
    """
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        outcome = _run_task(task)
    except Exception as err:  # noqa: BLE001 - whatever a variant raises is recorded, the sweep goes on
        outcome = Outcome(status="failed", seconds=0.0, error=_error_info(err))
    outcome.seconds = time.perf_counter() - t0
    outcome.cpu_seconds = time.process_time() - cpu0
    outcome.peak_rss_mib = _peak_rss_mib()
    outcome.worker_pid = os.getpid()
    if task.folder is not None and outcome.status == "ok":
        try:
            _save_variant(Path(task.folder), task.variant, outcome, task.sweep, peak=_peak_rss_mib)
        except Exception as err:  # noqa: BLE001 - a failed save is a failed variant, as in the parent
            outcome = Outcome(status="failed", seconds=outcome.seconds, error=_error_info(err),
                              peak_rss_mib=outcome.peak_rss_mib, worker_pid=outcome.worker_pid)
        else:
            outcome = dataclasses.replace(outcome, record=None, metrics=None, nav=None, returns=None,
                                          weights=None, saved=True)
    if outcome.seconds >= RELEASE_AFTER_SECONDS:
        release_memory()
    return outcome


def _peak_rss_mib() -> float | None:
    """Peak resident memory of this worker process so far (all the variants it ran), MiB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0, 1)


def _run_task(task: Task) -> Outcome:
    if task.cwd and os.path.isdir(task.cwd):
        os.chdir(task.cwd)
    cfg = load_config(task.config)
    result = run(dataclasses.replace(cfg, path=Path(task.path) if task.path else None))
    cells = len(result.dates) * len(result.scenarios) * len(result.assets)
    return Outcome(
        status="ok", seconds=0.0, record=store.run_record(result, git=task.git),
        metrics=result.metrics(), nav=result.nav, returns=result.returns,
        weights=result.weights if cells <= task.weights_limit else None,
    )


def _error_info(err: BaseException) -> dict:
    return {
        "type": type(err).__name__,
        "message": str(err),
        "notes": list(getattr(err, "__notes__", [])),
        "traceback": "".join(traceback.format_exception(err)),
    }


# --- the sweep -------------------------------------------------------------------------------


def run_sweep(config, executor="local", *, address: str | None = None, workers: int | None = None,
              out: str | Path | None = None, progress: bool = True,
              weights_limit: int = WEIGHTS_LIMIT) -> SweepResult:
    """Run every variant of ``config``'s ``sweep:`` block and merge them (see the module doc).

    ``executor`` is ``local`` or ``dask`` (with ``address``, or a local cluster of
    ``workers``), started for this sweep and closed after it; or an executor object of
    :mod:`simlab.lab.executors` inside its ``with`` block, which the caller keeps open
    across sweeps. ``out`` is the sweep folder (default ``experiments/<sweep id>``).
    """
    cfg = load_config(config)
    folder = Path(out) if out is not None else store.DEFAULT_ROOT / sweep_id(cfg)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out: {folder} is an existing file; give a folder path for the sweep")
    variants = _unique_labels(expand_variants(cfg))
    owned = isinstance(executor, str)
    ex = make_executor(executor, address, workers) if owned else executor
    folder.mkdir(parents=True, exist_ok=True)
    store.write_yaml(folder / "config.yaml", cfg.to_dict())
    git = store.git_state()
    record = _sweep_record(cfg, git, ex.describe())
    record["variants"] = entries = [_entry(v) for v in variants]
    todo = [i for i, v in enumerate(variants) if not _settled(folder, v, entries[i])]
    store.write_record(folder, record, "sweep.json")
    if todo:
        path = str(cfg.path.resolve()) if cfg.path else None
        cwd = os.getcwd() if ex.shares_cwd else None
        here = str(folder.resolve()) if ex.shares_cwd else None
        tasks = {i: Task(variants[i].config, path, cwd, git, weights_limit, variants[i], here, record["sweep_id"])
                 for i in todo}
        try:
            with ex if owned else contextlib.nullcontext(ex), \
                    Progress(len(variants), len(variants) - len(todo), enabled=progress) as bar:
                record["executor"] = ex.describe()
                _execute(ex, tasks, variants, folder, record, bar)
        except KeyboardInterrupt:
            record["interrupted"] = store.now()
            _finish(folder, variants, entries, record, weights_limit)
            done = sum(e["status"] in ("ok", "reused") for e in entries)
            raise SweepInterrupted(f"{done} of {len(entries)} variant(s) finished and merged in {folder}; "
                                   "run the sweep again to resume") from None
    record.pop("interrupted", None)
    metrics, dataset = _finish(folder, variants, entries, record, weights_limit)
    return SweepResult(folder, _variants_table(variants, entries), metrics, dataset)


def _finish(folder: Path, variants: list[Variant], entries: list[dict], record: dict,
            weights_limit: int) -> tuple[pd.DataFrame, xr.Dataset | None]:
    """Merge the finished variants and write the final ``sweep.json``."""
    metrics, dataset = merge_variants(folder, variants, entries, record, weights_limit)
    record.update(finished=store.now(), counts=status_counts(entries))
    store.write_record(folder, record, "sweep.json")
    return metrics, dataset


def _execute(ex, tasks: dict[int, Task], variants: list[Variant], folder: Path, record: dict,
             bar: Progress) -> None:
    """Run the tasks (variant index -> Task); save and record each variant as it finishes."""
    todo = list(tasks)
    for k, outcome in ex.run(run_variant, list(tasks.values())):
        i = todo[k]
        if isinstance(outcome, BaseException):
            error = _error_info(outcome)
            error["notes"].append("the worker running this variant died or was lost (killed, or "
                                  "restarted by Dask past 95% of its memory limit); rerun to retry it")
            outcome = Outcome(status="failed", seconds=float("nan"), error=error)
        if not outcome.saved:
            _save_variant(folder, variants[i], outcome, record["sweep_id"])
        record["variants"][i].update(status=outcome.status, seconds=round(outcome.seconds, 3),
                                     error=_error_line(outcome.error))
        store.write_record(folder, record, "sweep.json")
        bar.update(failed=outcome.status == "failed")
        del outcome  # the variant's tables are on disk now


def _unique_labels(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, int] = {}
    out = []
    for v in variants:
        seen[v.label] = seen.get(v.label, 0) + 1
        out.append(v if seen[v.label] == 1 else dataclasses.replace(v, label=f"{v.label}#{seen[v.label]}"))
    return out


def _sweep_record(cfg: Config, git: dict | None, executor: dict) -> dict:
    return {
        "kind": "sweep",
        "sweep_id": sweep_id(cfg),
        "name": cfg.name,
        "created": store.now(),
        "config_hash": cfg.config_hash(),
        "seed": cfg.experiment.seed,
        "executor": executor,
        "versions": store.package_versions(),
        "git": git,
    }


def _entry(v: Variant) -> dict:
    return {"label": v.label, "overrides": v.overrides, "config_hash": v.config_hash,
            "folder": v.folder_name or None, "status": "pending", "seconds": None,
            "error": _error_line(v.error)}


def _settled(folder: Path, v: Variant, entry: dict) -> bool:
    """Whether ``v`` needs no run: its config is invalid (failed) or it finished before (reused)."""
    if v.error is not None:
        entry["status"] = "failed"
        return True
    done = folder / v.folder_name / "run.json"
    if not done.is_file():
        return False
    info = json.loads(done.read_text())
    if info.get("config_hash") != v.config_hash:
        return False
    entry.update(status="reused", seconds=info.get("seconds"))
    return True


def _save_variant(folder: Path, v: Variant, outcome: Outcome, sweep: str, peak=None) -> None:
    """The variant's folder, replaced whole: its run (``run.json`` last) or its error; ``peak``,
    where the worker writes it, gives the worker's peak memory with the writing included."""

    def write(target: Path) -> None:
        if outcome.status != "ok":
            store.write_yaml(target / "config.yaml", v.config)
            (target / "error.json").write_text(json.dumps(outcome.error, indent=2))
            return
        store.write_tables(target, config=v.config, metrics=outcome.metrics, nav=outcome.nav,
                           returns=outcome.returns, weights=outcome.weights)
        extra = {"kind": "variant", "sweep": sweep, "label": v.label, "overrides": v.overrides,
                 "seconds": round(outcome.seconds, 3), "cpu_seconds": round(outcome.cpu_seconds or 0.0, 3),
                 "worker_peak_rss_mib": outcome.peak_rss_mib if peak is None else peak(),
                 "worker_pid": outcome.worker_pid}
        store.write_record(target, {**outcome.record, **extra})

    store.replace_folder(folder / v.folder_name, write)


def _error_line(error: dict | None) -> str | None:
    if error is None:
        return None
    notes = "".join(f" ({n})" for n in error.get("notes", []))
    return f"{error['type']}: {error['message']}{notes}"


def status_counts(entries: list[dict]) -> dict:
    """Variants per status: ok, reused, failed."""
    out = {"ok": 0, "reused": 0, "failed": 0}
    for e in entries:
        out[e["status"]] = out.get(e["status"], 0) + 1
    return out


def _variants_table(variants: list[Variant], entries: list[dict]) -> pd.DataFrame:
    rows = []
    for v, e in zip(variants, entries):
        rows.append({"variant": v.label, "status": e["status"], "seconds": e["seconds"],
                     "config_hash": v.config_hash, "folder": e["folder"], "error": e["error"],
                     **{f"override:{k}": val for k, val in v.overrides.items()}})
    return pd.DataFrame(rows)


# --- merging ---------------------------------------------------------------------------------


def merge_variants(folder: Path, variants: list[Variant], entries: list[dict], record: dict,
                   weights_limit: int = WEIGHTS_LIMIT) -> tuple[pd.DataFrame, xr.Dataset | None]:
    """Merge the finished variants' tables into one Dataset (saved as ``result.nc``) and one
    metrics table (``metrics.parquet``, ``metrics.csv``)."""
    done = [v for v, e in zip(variants, entries) if e["status"] in ("ok", "reused")]
    if not done:
        for name in (RESULT_FILE, "metrics.parquet", "metrics.csv"):
            (folder / name).unlink(missing_ok=True)
        return pd.DataFrame(), None
    coords = _override_coords(done)
    variant = pd.Index([v.label for v in done], name="variant")
    tables = [_read_variant(folder / v.folder_name) for v in done]
    data = {name: xr.concat([t[name] for t in tables], dim=variant, join="outer")
            for name in ("nav", "returns", "metrics")}
    assets = [_weights_assets(folder / v.folder_name) for v in done]
    sizes = data["nav"].sizes
    if all(assets) and sizes["variant"] * sizes["date"] * sizes["scenario"] * max(assets) <= weights_limit:
        cubes = [_read_weights(folder / v.folder_name, t["nav"]) for v, t in zip(done, tables)]
        data["weights"] = xr.concat(cubes, dim=variant, join="outer")
    ds = xr.Dataset(data).assign_coords(
        config_hash=("variant", [v.config_hash for v in done]),
        **{name: ("variant", values) for name, values in coords.items()},
    )
    ds.attrs.update(_attrs(record))
    tmp = folder / f".{RESULT_FILE}.tmp"
    ds.to_netcdf(tmp, engine="scipy")
    tmp.replace(folder / RESULT_FILE)
    metrics = _metrics_table(ds, coords)
    metrics.to_parquet(folder / "metrics.parquet", index=False)
    metrics.to_csv(folder / "metrics.csv", index=False)
    return metrics, ds


def _read_variant(target: Path) -> dict[str, xr.DataArray]:
    return {
        "nav": _frame_array(pd.read_parquet(target / "nav.parquet")),
        "returns": _frame_array(pd.read_parquet(target / "returns.parquet")),
        "metrics": xr.DataArray(store.load_metrics(target), dims=("scenario", "metric")),
    }


def _weights_assets(target: Path) -> int:
    """How many assets a variant's saved weights have (0 when it saved none)."""
    if not (target / "weights.parquet").is_file():
        return 0
    return int(json.loads((target / "run.json").read_text())["n_assets"])


def _read_weights(target: Path, nav: xr.DataArray) -> xr.DataArray:
    frame = pd.read_parquet(target / "weights.parquet")
    cube = xr.DataArray.from_series(frame.stack()).rename({frame.columns.name or "level_2": "asset"})
    return cube.reindex(date=nav.date, scenario=nav.scenario, asset=list(frame.columns)).rename(None)


def _frame_array(frame: pd.DataFrame) -> xr.DataArray:
    return xr.DataArray(frame.to_numpy(), dims=("date", "scenario"),
                        coords={"date": frame.index.as_unit("ns"), "scenario": list(frame.columns)})


def _override_coords(done: list[Variant]) -> dict[str, list]:
    """One coordinate per overridden path, named by its short label: numbers where every
    variant gives one (``ds.set_xindex("lookback").sel(lookback=126)``), else the values as text."""
    paths = list(dict.fromkeys(p for v in done for p in v.overrides))
    labels = short_labels(paths)
    taken = {"variant", "date", "scenario", "asset", "metric", "config_hash"}
    return {(labels[p] if labels[p] not in taken else p): _typed([v.overrides.get(p, "") for v in done])
            for p in paths}


def _typed(values: list) -> list:
    """``values`` as they are where all are numbers (ints stay ints), else as text."""
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return values if all(isinstance(v, int) for v in values) else [float(v) for v in values]
    return [format_value(v) for v in values]


def _metrics_table(ds: xr.Dataset, coords: dict[str, list[str]]) -> pd.DataFrame:
    metrics = ds["metrics"].to_series().unstack("metric").reset_index()
    metric_names = list(ds["metric"].values)
    metrics = metrics.dropna(subset=metric_names, how="all")
    by_variant = pd.DataFrame(coords, index=ds["variant"].values)
    extra = by_variant.reindex(metrics["variant"]).reset_index(drop=True)
    return pd.concat([metrics[["variant", "scenario"]], extra, metrics[metric_names]], axis=1)


def _attrs(record: dict) -> dict:
    git = record.get("git") or {}
    return {"sweep_id": record["sweep_id"], "name": record["name"], "config_hash": record["config_hash"],
            "created": record["created"], "git_commit": git.get("commit") or "",
            "git_dirty": int(bool(git.get("dirty"))), "simlab_version": record["versions"]["simlab"]}


def load_sweep(folder: str | Path) -> SweepResult:
    """A sweep folder read back: the variants (from ``sweep.json``), metrics and Dataset."""
    folder = Path(folder)
    record = json.loads((folder / "sweep.json").read_text())
    variants = [Variant(e["label"], e["overrides"], config_hash=e["config_hash"]) for e in record["variants"]]
    table = _variants_table(variants, record["variants"])
    metrics = pd.read_parquet(folder / "metrics.parquet") if (folder / "metrics.parquet").is_file() else pd.DataFrame()
    dataset = None
    if (folder / RESULT_FILE).is_file():
        with xr.open_dataset(folder / RESULT_FILE, engine="scipy") as ds:
            dataset = ds.load()
    return SweepResult(folder, table, metrics, dataset)


# --- command line: simlab sweep ----------------------------------------------------------------


def format_variants(res: SweepResult) -> str:
    """One line per variant: status, seconds, scenario count, the best scenario by Sharpe."""
    rows = []
    for row in res.variants.itertuples():
        line = {"variant": row.variant, "status": row.status,
                "seconds": "" if row.seconds is None or pd.isna(row.seconds) else f"{row.seconds:.2f}"}
        own = res.metrics[res.metrics["variant"] == row.variant] if len(res.metrics) else res.metrics
        if len(own) and "sharpe" in own and own["sharpe"].notna().any():
            best = own.loc[own["sharpe"].idxmax()]
            line.update(scenarios=str(len(own)), best=best["scenario"], sharpe=f"{best['sharpe']:.3f}",
                        cagr=f"{best.get('cagr', np.nan):.2%}", max_drawdown=f"{best.get('max_drawdown', np.nan):.2%}")
        rows.append(line)
    table = pd.DataFrame(rows).fillna("")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        return table.to_string(index=False)

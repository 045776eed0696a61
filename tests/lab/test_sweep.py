"""Sweeps: variants, executors (local processes and a real 2-worker Dask cluster), failures, resume."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

import simlab
from simlab.cli import main
from simlab.lab.sweep import expand_variants, load_sweep, run_sweep

BASE = {
    "name": "tiny",
    "data": {"source": "synthetic", "n_assets": 8, "n_days": 420, "seed": 5, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 63, "skip": 5},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 3}],
    "scenarios": {"grid": {"pipeline.0.top_n": [2, 4]}},
    # universe 'missing.yaml' names an asset the data lacks: it raises in the worker, a variant
    # that fails at run time
    "sweep": {"schedule.frequency": ["weekly", "monthly"], "universe": [None, "missing.yaml"]},
}


def write_config(folder, **changes) -> str:
    path = folder / "sweep.yaml"
    (folder / "missing.yaml").write_text("assets: {A0000: {}, NOT_IN_DATA: {}}\n")
    path.write_text(yaml.safe_dump({**BASE, **changes}, sort_keys=False))
    return str(path)


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    config = write_config(folder)
    return config, run_sweep(config, "local", workers=2, out=folder / "out", progress=False)


@pytest.fixture(scope="module")
def dask_address():
    """A 2-worker cluster at an address. Each worker gets half this machine's memory: Dask's
    default share is by CPU (memory x 1/cores), which on a many-core machine with little memory
    is below a worker's peak while it compiles numba kernels on a cold cache; the nanny then
    restarts it mid-variant and every variant fails with KilledWorker (a first run only: a
    warm cache peaks lower). The workers import simlab as they start (``preload``), so a
    loaded machine slows the cluster's start, not the variants."""
    distributed = pytest.importorskip("distributed")
    from simlab.lab.executors import PRELOAD, worker_memory_limit

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  memory_limit=worker_memory_limit(2), preload=PRELOAD) as cluster:
        yield cluster.scheduler_address


def test_variants_cross_paths_and_zip_keys():
    cfg = simlab.load_config({**BASE, "sweep": {"schedule.frequency": ["weekly", "monthly"],
                                                "data.start,data.end": [["2000-03-01", "2001-01-31"],
                                                                        ["2000-06-01", "2001-06-29"]]}})
    variants = expand_variants(cfg)
    assert [v.label for v in variants] == [
        "frequency=weekly,start=2000-03-01,end=2001-01-31", "frequency=weekly,start=2000-06-01,end=2001-06-29",
        "frequency=monthly,start=2000-03-01,end=2001-01-31", "frequency=monthly,start=2000-06-01,end=2001-06-29",
    ]
    alone = {**BASE, "sweep": {}, "schedule": {"frequency": "monthly"},
             "data": {**BASE["data"], "start": "2000-06-01", "end": "2001-06-29"}}
    assert variants[3].config_hash == simlab.load_config(alone).config_hash()
    assert variants[3].config["scenarios"]["list"][0]["name"] == "top_n=2"  # the grid stays one batch


def test_sweep_paths_are_checked_when_the_config_loads():
    with pytest.raises(simlab.ConfigError, match=r"sweep\.schedul\.frequency: 'schedul' cannot vary"):
        simlab.load_config({**BASE, "sweep": {"schedul.frequency": ["weekly"]}})
    with pytest.raises(simlab.ConfigError, match=r"sweep\.data\.start,data\.end: each value must be a list of 2"):
        simlab.load_config({**BASE, "sweep": {"data.start,data.end": ["2000-01-03"]}})


def test_an_invalid_variant_is_failed_without_stopping_the_others():
    cfg = simlab.load_config({**BASE, "sweep": {"data.end": ["2001-01-31", "1990-01-01"], "data.start": ["2000-06-01"]}})
    good, bad = expand_variants(cfg)
    assert good.error is None and bad.config is None
    assert bad.error["type"] == "ConfigError" and "is after data.end" in bad.error["message"]


def test_local_sweep_merges_every_finished_variant(local_sweep):
    _, res = local_sweep
    assert list(res.variants["status"]) == ["ok", "failed", "ok", "failed"]
    ds = res.dataset
    assert list(ds["variant"].values) == ["frequency=weekly,universe=None", "frequency=monthly,universe=None"]
    assert ds["nav"].dims == ("variant", "date", "scenario")
    assert ds["weights"].dims == ("variant", "date", "scenario", "asset")
    assert list(ds["frequency"].values) == ["weekly", "monthly"]
    alone = simlab.run({**BASE, "sweep": {}, "schedule": {"frequency": "weekly"}})
    np.testing.assert_array_equal(ds["nav"].sel(variant="frequency=weekly,universe=None").values, alone.nav.to_numpy())
    np.testing.assert_array_equal(ds["weights"].isel(variant=0).values, alone.weights.values)
    row = res.metrics[(res.metrics["variant"] == "frequency=weekly,universe=None") & (res.metrics["scenario"] == "top_n=4")]
    assert row["sharpe"].item() == pytest.approx(alone.metrics().loc["top_n=4", "sharpe"], rel=1e-12)
    back = load_sweep(res.folder)
    xr.testing.assert_identical(back.dataset, ds)
    pd.testing.assert_frame_equal(back.metrics, res.metrics)


def test_a_variant_that_raises_is_recorded(local_sweep):
    _, res = local_sweep
    record = json.loads((res.folder / "sweep.json").read_text())
    failed = [v for v in record["variants"] if v["status"] == "failed"]
    assert len(failed) == 2 and all("missing.yaml" in v["error"] for v in failed)
    error = json.loads((res.folder / failed[0]["folder"] / "error.json").read_text())
    assert error["type"] == "ConfigError" and "Traceback" in error["traceback"]
    assert not (res.folder / failed[0]["folder"] / "run.json").exists()
    assert record["counts"] == {"ok": 2, "reused": 0, "failed": 2}


def test_variant_folders_record_what_reproduces_them(local_sweep):
    _, res = local_sweep
    folder = res.folder / res.variants.loc[0, "folder"]
    info = json.loads((folder / "run.json").read_text())
    assert info["config_hash"] == res.variants.loc[0, "config_hash"]
    assert simlab.load_config(folder / "config.yaml").config_hash() == info["config_hash"]
    assert len(info["data_hash"]) == 64 and info["data_seed"] == 5 and info["seed"] == 0
    assert {"numpy", "pandas", "numba", "python"} <= set(info["versions"])


def test_rerun_skips_finished_variants(local_sweep, tmp_path):
    config, first = local_sweep
    done = [first.folder / f / "run.json" for f in first.variants["folder"][first.variants["status"] == "ok"]]
    before = [p.read_text() for p in done]
    again = run_sweep(config, "local", workers=2, out=first.folder, progress=False)
    assert list(again.variants["status"]) == ["reused", "failed", "reused", "failed"]
    assert [p.read_text() for p in done] == before  # not rewritten: not run again
    xr.testing.assert_equal(again.dataset, first.dataset)


def test_dask_cluster_gives_the_numbers_of_local_processes(local_sweep, dask_address, tmp_path):
    config, local = local_sweep
    res = run_sweep(config, "dask", address=dask_address, out=tmp_path / "dask", progress=False)
    assert list(res.variants["status"]) == ["ok", "failed", "ok", "failed"]
    record = json.loads((res.folder / "sweep.json").read_text())
    assert record["executor"] == {"executor": "dask", "address": dask_address, "workers": 2}
    for name in ("nav", "returns", "weights", "metrics"):
        xr.testing.assert_identical(res.dataset[name], local.dataset[name])


def test_cli_sweep_prints_one_line_per_variant(local_sweep, capsys):
    config, res = local_sweep
    assert main(["sweep", config, "--out", str(res.folder), "--workers", "2", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "4 variant(s) on local: 0 ok, 2 reused, 2 failed" in out
    assert "frequency=monthly,universe=None reused" in " ".join(out.split())
    assert "failed: frequency=weekly,universe=missing.yaml" in err


def test_runs_and_compare_read_a_sweep_folder(local_sweep, capsys):
    _, res = local_sweep
    root = str(res.folder.parent)
    assert main(["runs", "--root", root]) == 0
    assert ["out", "sweep"] == capsys.readouterr().out.splitlines()[1].split()[:2]
    assert main(["compare", "out", "--root", root, "--metrics", "sharpe", "--scenarios", "frequency=monthly*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["scenario", "frequency=monthly,universe=None/top_n=2", "frequency=monthly,universe=None/top_n=4"]


def test_progress_counts_on_stderr_without_tqdm(monkeypatch, capsys):
    from simlab.lab.executors import Progress

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    with Progress(3, done=1) as bar:
        bar.update()
        bar.update(failed=True)
    assert capsys.readouterr().err.splitlines()[-1].split("\r")[-1] == "sweep: 3/3 variants, 1 failed"


def test_numeric_overrides_are_typed_coordinates(tmp_path):
    config = write_config(tmp_path, sweep={"strategy.lookback": [42, 63]})
    res = run_sweep(config, "local", workers=1, out=tmp_path / "out", progress=False)
    ds = res.dataset
    assert ds["lookback"].dtype.kind == "i" and list(ds["lookback"].values) == [42, 63]
    picked = ds.set_xindex("lookback").sel(lookback=63)
    np.testing.assert_array_equal(picked["nav"].values, ds["nav"].isel(variant=1).values)
    assert res.metrics["lookback"].dtype.kind == "i"


def test_a_dask_cluster_the_executor_starts_shares_the_memory_equally():
    pytest.importorskip("distributed")
    from simlab.lab.executors import DaskExecutor, worker_memory_limit

    with DaskExecutor(workers=2) as ex:
        limits = [w["memory_limit"] for w in ex._client.scheduler_info()["workers"].values()]
    assert limits == [worker_memory_limit(2)] * 2


def test_a_worker_that_shares_the_folder_writes_the_variant_and_sends_back_no_tables(local_sweep, tmp_path):
    from simlab.config.loader import load_config
    from simlab.lab.sweep import Task, run_variant, sweep_id

    config, local = local_sweep
    variant = expand_variants(load_config(config))[0]
    task = Task(variant.config, config, None, None, 10**9, variant, str(tmp_path), sweep_id(load_config(config)))
    outcome = run_variant(task)
    assert outcome.status == "ok" and outcome.saved
    assert outcome.nav is None and outcome.returns is None and outcome.metrics is None
    written = tmp_path / variant.folder_name
    run = json.loads((written / "run.json").read_text())
    assert run["label"] == variant.label and run["worker_peak_rss_mib"] > 0
    kept = local.folder / variant.folder_name
    for table in ("nav.parquet", "returns.parquet", "weights.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(written / table), pd.read_parquet(kept / table))


def test_release_memory_is_safe_to_call_anywhere():
    from simlab.lab.executors import release_memory, reuse_freed_memory

    reuse_freed_memory()  # mallopt and malloc_trim where the C library is glibc, no-ops elsewhere
    release_memory()

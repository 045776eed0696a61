"""Faults: a run killed while saving, a sweep whose parent is killed, Ctrl-C during a sweep.

Each fault runs in a child process. A variant is held in its worker deterministically: the
sweep's workers preload :data:`HOLD`, which makes the universe ``held.yaml`` wait forever, so
nothing here races a timer; the waits below poll a condition under a generous deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import yaml

from simlab.lab import store

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "name": "fault",
    "data": {"source": "synthetic", "n_assets": 6, "n_days": 300, "seed": 3, "benchmark": None},
    "strategy": {"type": "momentum", "lookback": 21, "skip": 1},
    "costs": {"type": "flat", "bps": 5},
    "pipeline": [{"type": "equal_weight_top_n", "top_n": 2}],
}
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
HOLD = """
import threading
from simlab.config import universe

_find = universe._find


def _held(path, base):
    if path.name == "held.yaml":
        threading.Event().wait()  # held until the process is stopped
    return _find(path, base)


universe._find = _held
"""
SWEEP_PARENT = """
import sys
from simlab.lab import executors
executors.PRELOAD.append("fault_hold")
from simlab.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _env(*extra: Path) -> dict:
    paths = [*map(str, extra), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _wait_for(condition, what: str, deadline: float = 60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _blocked_sweep(tmp_path: Path) -> Path:
    """A sweep of two variants: one runs, the other is held opening its universe."""
    (tmp_path / "held.yaml").write_text(yaml.safe_dump({"name": "held", "assets": {"A0001": {}, "A0002": {}}}))
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**BASE, "sweep": {"universe": [None, "held.yaml"]}}, sort_keys=False))
    return config


def _finished_variants(out: Path) -> int:
    path = out / "sweep.json"
    if not path.is_file():
        return 0
    return sum(v["status"] == "ok" for v in json.loads(path.read_text())["variants"])


def _start_sweep(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    config, out = _blocked_sweep(tmp_path), tmp_path / "out"
    (tmp_path / "fault_hold.py").write_text(HOLD)
    proc = subprocess.Popen([sys.executable, "-c", SWEEP_PARENT, "sweep", str(config), "--out", str(out),
                             "--workers", "2", "--no-progress"], cwd=tmp_path, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: _finished_variants(out) == 1 or proc.poll() is not None, "the first variant")
    assert proc.poll() is None, proc.communicate()
    return proc, out


def test_ctrl_c_keeps_finished_variants_and_exits_130(tmp_path):
    proc, out = _start_sweep(tmp_path)
    workers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted: 1 of 2 variant(s) finished and merged" in stderr
    record = json.loads((out / "sweep.json").read_text())
    assert record["interrupted"] and [v["status"] for v in record["variants"]] == ["ok", "pending"]
    assert (out / "result.nc").is_file() and (out / "metrics.parquet").is_file()
    _wait_for(lambda: all(_gone(w.pid) for w in workers), "the workers to exit")


def test_workers_exit_when_the_sweep_parent_is_killed(tmp_path):
    proc, _ = _start_sweep(tmp_path)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert workers
    proc.kill()
    proc.communicate(timeout=60)
    _wait_for(lambda: all(_gone(w.pid) for w in workers), "the orphaned workers to exit")


KILL_DURING_SAVE = textwrap.dedent("""
    import os, signal, sys
    import simlab
    from simlab.analysis import plots
    cfg = simlab.load_config({config!r})
    simlab.run(cfg).save(sys.argv[1])                       # a complete run
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    plots.plot_drawdown = die                               # killed half-way through the next save
    cfg2 = simlab.load_config({{**{config!r}, "costs": {{"type": "flat", "bps": 50}}}})
    simlab.run(cfg2).save(sys.argv[1])
""")


def test_a_run_killed_while_saving_leaves_the_previous_run_whole(tmp_path):
    out = tmp_path / "runs" / "fault"
    script = KILL_DURING_SAVE.format(config=BASE)
    done = subprocess.run([sys.executable, "-c", script, str(out)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    record = json.loads((out / "run.json").read_text())
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["costs"]["bps"] == 5 and record["config_hash"]  # the first run, untouched
    assert store.list_runs(out.parent)["run"].tolist() == ["fault"]  # the hidden sibling is not a run


def test_out_pointing_at_a_file_or_a_foreign_folder_fails_before_the_run(tmp_path):
    from simlab.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(BASE))
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["run", str(config), "--out", str(tmp_path / "file.txt")]) == 1
    assert main(["run", str(config), "--out", str(tmp_path / "mine")]) == 1
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"

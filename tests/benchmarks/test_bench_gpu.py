"""``benchmarks/bench_gpu.py`` without a GPU: its refusal, its arguments, its checks, and a
dry run of the whole script with numpy in cupy's place (tiny sizes, no timing asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_gpu"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("bench_gpu", None)
        sys.path.remove(str(SCRIPT.parent))


def test_defaults_are_the_benchmark(bench):
    args = bench.parse_args([])
    assert args.sizes == [500, 2000] and args.rebalances == 240 and args.device == "cupy"
    assert args.parts == ["covariance", "qp"]


@pytest.mark.parametrize("argv", [["--sizes", "5"], ["--rebalances", "0"], ["--repeat", "0"],
                                  ["--estimator", "ewm"], ["--device", "gpu"], ["--qp-batch", "-1"]])
def test_bad_arguments_stop_with_usage(bench, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(argv)
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_refuses_without_cupy(bench, monkeypatch, capsys):
    monkeypatch.setattr(bench, "device_problem", lambda device: "cupy is not installed")
    assert bench.main(["--sizes", "500"]) == bench.REFUSED
    err = capsys.readouterr().err
    assert "no GPU run possible: cupy is not installed" in err
    assert 'pip install "simlab[gpu]"' in err and "--device numpy" in err


def test_device_problem_names_what_is_missing(bench):
    assert bench.device_problem("numpy") == ""
    from simlab.kernels._xp import cupy_module

    if cupy_module() is None:
        assert "cupy is not installed" in bench.device_problem("cupy")


def test_qp_batch_fits_two_gib(bench):
    assert bench.qp_batch_size(500, 0, 240) == 240
    assert bench.qp_batch_size(2000, 0, 240) == 67
    assert bench.qp_batch_size(2000, 10, 240) == 10
    assert bench.qp_batch_size(2000, 500, 240) == 240


def test_market_rows_have_full_windows(bench):
    returns, rows = bench.market(12, 3, 30)
    assert returns.shape == (30 + 2 * bench.STEP + 1, 12)
    assert list(rows) == [30, 51, 72] and rows[-1] == len(returns) - 1


def test_checks_catch_differences(bench):
    a = np.array([[[1.0, np.nan], [np.nan, 2.0]]])
    assert bench.cov_error(a, a.copy()) == 0.0
    assert bench.cov_error(a, np.ones_like(a)) == np.inf  # NaN in one only
    b = a.copy()
    b[0, 1, 1] = 2.0 + 1e-6
    assert bench.cov_error(a, b) == pytest.approx(5e-7)
    cov = np.eye(2)[None]
    w = np.array([[0.5, 0.5]])
    assert bench.objective_gap(cov, w, w, np.array([True])) == 0.0
    assert bench.objective_gap(cov, np.array([[1.0, 0.0]]), w, np.array([True])) == pytest.approx(1.0)
    assert bench.objective_gap(cov, np.array([[1.0, 0.0]]), w, np.array([False])) == 0.0


def test_dry_run_on_numpy(bench, capsys):
    argv = ["--device", "numpy", "--sizes", "20", "--rebalances", "3", "--window", "40", "--repeat", "1",
            "--threads", "2", "--cpu-rebalances", "2", "--estimator", "ledoit_wolf"]
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "DRY RUN" in out and "checks: all passed" in out
    assert out.count("    20 qp") == 2 and out.count("    20 covariance") == 1
    assert "scaled to 3" in out

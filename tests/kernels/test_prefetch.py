"""Kernel groups compiled in a second process into numba's cache (simlab.kernels.prefetch)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from simlab.kernels import prefetch


def test_an_unknown_group_is_refused():
    with pytest.raises(ValueError, match="unknown kernel group"):
        prefetch.start(["qp", "simplex"])


@pytest.mark.parametrize("off", ["0", "false", "No", " off "])
def test_the_off_switch_starts_nothing_and_waiting_for_nothing_returns(monkeypatch, off):
    monkeypatch.setenv("SIMLAB_PREFETCH", off)
    assert prefetch.start(["qp", "leaf_order"]) == []
    prefetch.wait("qp")
    prefetch.wait("leaf_order")


def test_a_group_compiled_here_is_not_handed_over():
    from simlab.kernels.leaf_order import compile_kernels

    compile_kernels()
    assert prefetch.start(["leaf_order"]) == []


@pytest.mark.skipif(prefetch._cpus() < 2, reason="a second process is started only with two CPUs or more")
def test_the_child_fills_the_cache_and_this_process_loads_the_kernel_from_it(tmp_path):
    code = textwrap.dedent("""
        from simlab.kernels import prefetch
        from simlab.kernels.leaf_order import compile_kernels, optimal_leaf_order_nb
        assert prefetch.start(["leaf_order"]) == ["leaf_order"]
        assert prefetch.start(["leaf_order"]) == []  # handed over once
        prefetch.wait("leaf_order")
        compile_kernels()
        stats = optimal_leaf_order_nb.stats
        assert sum(stats.cache_hits.values()) == 1 and not stats.cache_misses, stats
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "SIMLAB_PREFETCH": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

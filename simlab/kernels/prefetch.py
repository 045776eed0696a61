"""Compile kernels in a second process while this one loads data and computes features.

A first run with an empty numba cache compiles its kernels one after another, on one core.
The batched QP and the compiled leaf ordering are reached late in a run (after the data
and the covariance features), yet they are the slowest to compile. :func:`start` hands
such kernel groups to a child process that compiles them, with the signatures a run uses,
into numba's on-disk cache; :func:`wait`, called just before a group's first use, blocks
until the child is done, and numba then loads the kernels from the cache instead of
compiling them again. On two cores the child's compiling overlaps this process's work.

Nothing starts where the group's kernels are already compiled in this process or found in
numba's cache, where this process may run on one CPU only, where numba's JIT is off
(``NUMBA_DISABLE_JIT``), or where the environment sets ``SIMLAB_PREFETCH`` to ``0``, ``false``,
``no`` or ``off``. A child that fails costs only its own core time: the kernel then
compiles here, as it would have. A child still running when this process exits is
stopped (its kernels compile again next time). The results are the same either way: a
kernel loaded from the cache is the one compiled here.

Groups (:data:`GROUPS`): ``"qp"`` (:func:`simlab.kernels.qp_solve.solve_qp`'s numba
kernels) and ``"leaf_order"`` (:func:`simlab.kernels.leaf_order.optimal_leaf_order_nb`).
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
from collections.abc import Iterable

# group -> (module, its function that compiles the group's kernels in their run signatures,
# a dispatcher of the group: compiled here already when it has a signature)
GROUPS = {
    "qp": ("simlab.kernels.qp_solve", "compile_kernels", "simlab.kernels.qp", "admm_solve_nb"),
    "leaf_order": ("simlab.kernels.leaf_order", "compile_kernels", "simlab.kernels.leaf_order",
                   "optimal_leaf_order_nb"),
}
_DONE_LINE = "simlab.kernels.prefetch compiled "  # the child's line for each group done

_children: list[subprocess.Popen] = []  # every child started, stopped at exit
_pending: dict[str, subprocess.Popen] = {}  # group -> the child compiling it
_done: set[str] = set()  # groups the children reported compiled


def start(groups: Iterable[str]) -> list[str]:
    """Start compiling ``groups`` (names of :data:`GROUPS`) in one child process, in order.

    Returns the groups handed to the child: none where prefetching is off, or where each
    group is compiled in this process already or handed to a child before.
    """
    groups = list(dict.fromkeys(groups))
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown kernel group(s) {unknown}; known: {sorted(GROUPS)}")
    if _switched_off() or _jit_disabled() or _cpus() < 2:
        return []
    todo = [g for g in groups if g not in _pending and not _compiled(g)]
    if not todo:
        return []
    code = (f"import sys; sys.path[:0] = {sys.path!r}; "
            f"from simlab.kernels.prefetch import compile_groups; compile_groups({todo!r})")
    try:
        child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    except OSError:  # no interpreter to start: everything compiles here
        return []
    _children.append(child)
    for group in todo:
        _pending[group] = child
    return todo


def wait(group: str) -> None:
    """Block until the child compiling ``group`` (if any) has compiled it, or has ended;
    a no-op otherwise. The child reports each group as it is done (a line on its stdout)."""
    child = _pending.pop(group, None)
    while child is not None and group not in _done:
        line = child.stdout.readline()
        if not line:  # the child ended (or failed): numba compiles what is missing here
            break
        if line.startswith(_DONE_LINE):
            _done.add(line[len(_DONE_LINE):].strip())


def compile_groups(groups: list[str]) -> None:
    """Compile ``groups`` in this process (the child's work), writing numba's cache; each
    group's name is printed on stdout when it is done."""
    for group in groups:
        module, function = GROUPS[group][:2]
        getattr(importlib.import_module(module), function)()
        print(_DONE_LINE + group, flush=True)


def _compiled(group: str) -> bool:
    """The group's dispatcher is compiled in this process, or numba's cache holds it for
    its current source (numba's own index of the cached signatures)."""
    module, name = GROUPS[group][2:]
    dispatcher = getattr(importlib.import_module(module), name)
    if dispatcher.signatures:
        return True
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 - another numba's cache layout: compile, as without a cache
        return False


def _switched_off() -> bool:
    return os.environ.get("SIMLAB_PREFETCH", "1").strip().lower() in ("0", "false", "no", "off")


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


def _jit_disabled() -> bool:
    from numba.core import config

    return bool(config.DISABLE_JIT)


@atexit.register
def _stop_children() -> None:
    for child in _children:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
    _children.clear()
    _pending.clear()

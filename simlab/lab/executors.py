"""Executors: where a sweep's variants run, one task per variant.

An executor is a context manager whose :meth:`run` takes a picklable module-level function
and a list of tasks, and yields ``(index, outcome)`` in the order tasks finish. An outcome
is the function's return value, or the exception that kept it from returning one (a worker
that died, a lost connection): an executor never raises for one task, so one bad variant
cannot stop a sweep.

- ``local`` (default): :class:`concurrent.futures.ProcessPoolExecutor` on this machine.
  Workers start from a fork server that imported simlab once (``spawn`` where there is
  none), so they do not inherit the parent's threads; each task carries the parent's
  working directory, so relative paths in a config mean the same thing in a worker.
- ``dask``: a Dask distributed cluster (``pip install "dask[distributed]"``, the ``dist``
  extra). ``address`` connects to a running scheduler (``tcp://host:8786``); its workers
  need simlab installed and the config's files at the same paths. Without an address a
  :class:`distributed.LocalCluster` of ``workers`` single-threaded processes is started
  for the sweep and closed after it.

:class:`Progress` is the progress display: a tqdm bar when tqdm is installed, else a
counter line on stderr.

Workers never outlive the sweep: each one watches the process that started it
(:func:`watch_parent`) and exits within a second of its death, a ``kill -9`` included.
A worker keeps the memory a variant frees for the variant's next arrays instead of handing
each large array back to the system and faulting it in again (:func:`reuse_freed_memory`:
a third of a large variant's CPU went to page faults), and hands it back after a large
variant (:func:`release_memory`).
A Dask cluster the executor starts gives each worker an equal share of this machine's memory
(Dask's default share is by CPU, which on a machine with many cores and little memory
restarts a worker mid-variant and fails the variant with ``KilledWorker``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Self

from simlab.errors import ConfigError

# imported once by the fork server (and by Dask workers at start): simlab and its components
PRELOAD = ["simlab.lab.sweep", "simlab.costs", "simlab.portfolio", "simlab.risk", "strategies"]


PARENT_POLL_SECONDS = 0.5


def watch_parent(parent_pid: int | None = None) -> None:
    """Exit this process (status 1) soon after ``parent_pid`` (default: its parent) is gone.

    A daemon thread polls every :data:`PARENT_POLL_SECONDS`: the process is orphaned when its
    parent id changes (the parent died and it was re-parented) or ``parent_pid`` no longer
    exists. ``os._exit`` skips cleanup on purpose: there is nobody left to report to.
    """
    ppid = os.getppid()
    watched = parent_pid or ppid

    def poll() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != ppid or not _alive(watched):
                os._exit(1)

    threading.Thread(target=poll, name="simlab-watch-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped by its parent) does not."""
    if os.path.isdir("/proc/self"):  # Linux: the state letter in /proc/PID/stat
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                return fh.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
        except OSError:
            return False
    try:  # elsewhere: ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def start_worker(parent_pid: int) -> None:
    """Initializer of a local worker: Ctrl-C is the parent's to handle; exit with the parent; reuse freed memory."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent_pid)
    reuse_freed_memory()


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload hook
    """Dask preload hook: the worker exits when the process that started it dies, and reuses freed memory."""
    watch_parent()
    reuse_freed_memory()


KEEP_FREED_BYTES = 1 << 30  # glibc: arrays below this come from the heap, and a free heap top this large stays
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def _glibc():
    """The C library where it is glibc (it has ``malloc_trim``), else None."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def reuse_freed_memory() -> None:
    """Let this process's allocator reuse freed memory instead of returning it at once (glibc;
    a no-op elsewhere): arrays up to :data:`KEEP_FREED_BYTES` come from the heap rather than
    from a fresh mapping whose every page faults in on first touch, and the heap is not
    trimmed after each free (Dask's workers trim past 64 KiB). :func:`release_memory` trims it."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, KEEP_FREED_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the system (glibc's ``malloc_trim``; only
    garbage collection elsewhere): what one variant freed is then not held for the next."""
    import gc

    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def default_workers(n_tasks: int | None = None) -> int:
    """CPUs this process may use, at most ``n_tasks`` (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, n_tasks) if n_tasks else cpus)


class LocalExecutor:
    """Tasks in a pool of local processes (``workers`` of them, default one per CPU).

    The pool starts with the first :meth:`run` (at most one worker per task) and lives
    until the ``with`` block ends, so several sweeps in one block share warm workers.
    """

    name = "local"
    shares_cwd = True

    def __init__(self, workers: int | None = None):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers: expected a positive number of workers; got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        """Wait for the workers; after an error or Ctrl-C, stop them at once instead."""
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        if exc_type is None:
            pool.shutdown(wait=True, cancel_futures=True)
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)

    def describe(self) -> dict:
        """What ran the sweep, for its record."""
        return {"executor": self.name, "workers": self.workers or default_workers()}

    def run(self, fn: Callable, tasks: list) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(task) or the exception)`` as tasks finish."""
        if not tasks:
            return
        if self._pool is None:
            workers = self.workers or default_workers(len(tasks))
            self._pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_context(),
                                             initializer=start_worker, initargs=(os.getpid(),))
        futures = {self._pool.submit(fn, task): i for i, task in enumerate(tasks)}
        for future in as_completed(futures):
            index = futures.pop(future)  # drop it once yielded: results are not kept here
            try:
                outcome = future.result()
            except Exception as err:  # noqa: BLE001 - a worker died or the result did not pickle
                outcome = err
            del future
            yield index, outcome


def _context():
    """A fork server that preloaded simlab where available, else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def worker_memory_limit(n_workers: int) -> int:
    """Bytes per worker: this machine's memory (or its cgroup limit) shared by ``n_workers``."""
    from distributed.system import MEMORY_LIMIT

    return int(MEMORY_LIMIT // max(1, n_workers))


class DaskExecutor:
    """Tasks on a Dask distributed cluster: the scheduler at ``address``, or a local cluster
    of ``workers`` processes with ``memory_limit`` each (default: an equal share of this
    machine's memory; Dask restarts a worker past 95% of it)."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 memory_limit: int | str | None = None):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers: expected a positive number of workers; got {workers}")
        self.address = address
        self.workers = workers
        self.memory_limit = memory_limit  # per worker of a local cluster (Dask's units); None: a share
        self.shares_cwd = address is None
        self._client = None
        self._cluster = None

    def __enter__(self) -> Self:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError(
                "--executor dask needs Dask distributed: pip install \"dask[distributed]\" "
                "(the simlab 'dist' extra)"
            ) from None
        if self.address:
            self._client = Client(self.address)
        else:
            n = self.workers or default_workers()
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address=None, preload=[*PRELOAD, __name__],
                                         memory_limit=self.memory_limit or worker_memory_limit(n),
                                         silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def describe(self) -> dict:
        """What ran the sweep, for its record."""
        workers = len(self._client.scheduler_info().get("workers", {})) if self._client else self.workers
        return {"executor": self.name, "address": self.address or "local cluster", "workers": workers}

    def run(self, fn: Callable, tasks: list) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(task) or the exception)`` as tasks finish."""
        from distributed import as_completed as dask_completed

        if self._client is None:
            raise RuntimeError("DaskExecutor.run outside its 'with' block")
        if not tasks:
            return
        tag = uuid.uuid4().hex[:8]
        futures = [self._client.submit(fn, task, key=f"simlab-variant-{tag}-{i}", pure=False)
                   for i, task in enumerate(tasks)]
        index = {future.key: i for i, future in enumerate(futures)}
        for future in dask_completed(futures):
            try:
                outcome = future.result()
            except Exception as err:  # noqa: BLE001 - a worker died, the connection went
                outcome = err
            future.release()  # the cluster may forget it
            yield index[future.key], outcome


EXECUTORS = {"local": LocalExecutor, "dask": DaskExecutor}


def make_executor(name: str = "local", address: str | None = None, workers: int | None = None):
    """An executor by name; ``address`` only for ``dask``."""
    if name not in EXECUTORS:
        raise ConfigError(f"--executor: unknown executor {name!r}; valid executors: {', '.join(EXECUTORS)}")
    if name == "local":
        if address:
            raise ConfigError("--address: only the dask executor connects to a scheduler")
        return LocalExecutor(workers)
    return DaskExecutor(address, workers)


class Progress:
    """Finished variants out of all: a tqdm bar if tqdm is installed, else a counter on stderr."""

    def __init__(self, total: int, done: int = 0, enabled: bool = True, desc: str = "sweep"):
        self.total, self.done, self.failed, self.desc = total, done, 0, desc
        self.enabled = enabled and total > 0
        self._bar = None
        self._last = 0.0
        if self.enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self._write()
            else:
                self._bar = tqdm(total=total, initial=done, desc=desc, unit="variant", file=sys.stderr)

    def update(self, failed: bool = False) -> None:
        """One more variant finished."""
        self.done += 1
        self.failed += bool(failed)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
            if self.failed:
                self._bar.set_postfix(failed=self.failed)
        elif self.done == self.total or time.monotonic() - self._last > 0.5:
            self._write()

    def _write(self) -> None:
        self._last = time.monotonic()
        failed = f", {self.failed} failed" if self.failed else ""
        end = "\n" if self.done == self.total else ""
        print(f"\r{self.desc}: {self.done}/{self.total} variants{failed}", end=end, file=sys.stderr, flush=True)

    def close(self) -> None:
        """Finish the line or the bar."""
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.done < self.total:
            print(file=sys.stderr)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""A crash drill for the stores: writers killed with SIGKILL mid-commit, the store checked after each.

Each round forks a writer that loads the book and commits new versions in a loop, each one
reporting on a pipe once its commit has returned. The parent lets it commit a random number
of versions (seeded), then kills it with SIGKILL while the next commit is under way, and
checks that the store loads and holds a whole state: the last reported version or the one
after it, every field written by the same commit, the history one row per version. Forked
writers start in microseconds, so a thousand kills take seconds, not minutes.
"""

from __future__ import annotations

import os
import signal

import numpy as np

from simlab.production.state import PortfolioState, StateError
from simlab.production.stores import open_store

N_ASSETS = 20


def drill_state(version: int) -> PortfolioState:
    """The state a drill writer commits as ``version``: every field derived from it."""
    v = float(version)
    state = PortfolioState.new({"config": "drill", "scenario": "drill", "hash": "0", "settings": {}},
                               [f"A{i}" for i in range(N_ASSETS)], "2020-01-02", 1e6)
    state.holdings = [v + i for i in range(N_ASSETS)]
    state.cost_basis = [v * 2 + i for i in range(N_ASSETS)]
    state.cash, state.nav, state.peak_nav = 1e6 - v, 1e6 + v, 1e6 + 2 * v
    state.nav_dates = ["2020-01-02"] * (version % 50)
    state.nav_values = [v] * (version % 50)
    return state


def check_whole(state: PortfolioState, history: list, url: str) -> None:
    """Raise StateError unless ``state`` is exactly :func:`drill_state` of its version."""
    expect = drill_state(state.version)
    expect.version = state.version
    if state.to_dict() != expect.to_dict():
        raise StateError(f"{url}: version {state.version} holds a mix of commits")
    if [row["version"] for row in history] != list(range(1, state.version + 1)):
        raise StateError(f"{url}: history rows {[r['version'] for r in history][-3:]} "
                         f"do not end at version {state.version}")


def _writer(url: str, report: int) -> None:
    store = open_store(url)
    state = store.load()
    version = 0 if state is None else state.version
    while True:
        new = drill_state(version + 1)
        new.version = version
        version = store.commit(new, "drill").version
        os.write(report, version.to_bytes(8, "little"))


def crash_drill(url: str, kills: int, seed: int = 0, max_commits: int = 4) -> dict:
    """Kill ``kills`` forked writers of ``url``; the counts seen. Raises StateError on a torn store."""
    rng = np.random.default_rng(seed)
    committed = 0
    landed_after = 0
    for _ in range(kills):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: never returns
            os.close(read)
            try:
                _writer(url, write)
            finally:
                os._exit(1)
        os.close(write)
        want = int(rng.integers(1, max_commits + 1))
        reported = committed
        for _ in range(want):
            data = os.read(read, 8)
            if len(data) < 8:
                break
            reported = int.from_bytes(data, "little")
        for _ in range(int(rng.integers(0, 2000))):  # move the kill to a random point of the next commit
            pass
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        while len(data := os.read(read, 8)) == 8:  # what it committed before the kill landed
            reported = int.from_bytes(data, "little")
        os.close(read)
        store = open_store(url)
        state = store.load()
        if state is None or state.version not in (reported, reported + 1):
            found = None if state is None else state.version
            raise StateError(f"{url}: after a kill the store holds version {found}; "
                             f"the writer had committed {reported}")
        check_whole(state, store.history(), url)
        landed_after += state.version == reported + 1
        committed = state.version
    return {"kills": kills, "versions": committed, "killed_after_commit_point": landed_after}

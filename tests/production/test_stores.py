"""The stores: round trips, the versioned layout, optimistic locking, corrupt files, SIGKILL mid-commit."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from simlab.production.crash import crash_drill, drill_state
from simlab.production.state import ConcurrentWriteError, PortfolioState, StateError, decode, encode
from simlab.production.stores import open_store


def urls(tmp_path):
    return [f"memory://{tmp_path}", f"json:{tmp_path / 'book.json'}", f"sqlite:///{tmp_path / 'book.db'}"]


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_commit_load_round_trip_bits(tmp_path, kind):
    store = open_store(urls(tmp_path)[kind])
    assert store.load() is None
    state = drill_state(3)
    state.nav_values = [0.1 + 0.2, np.nextafter(1.0, 2.0)]
    state.nav_dates = ["2020-01-02", "2020-01-03"]
    state.last_signal = [None] * 20
    committed = store.commit(state, "test", {"orders": 2})
    assert committed.version == 1
    loaded = store.load()
    assert loaded.to_dict() == committed.to_dict()
    assert loaded.nav_values[1] == np.nextafter(1.0, 2.0)
    assert [(r["version"], r["event"], r["detail"]) for r in store.history()] == [(1, "test", {"orders": 2})]


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_two_writers_the_loser_gets_a_clear_error_and_nothing_is_lost(tmp_path, kind):
    url = urls(tmp_path)[kind]
    first = open_store(url).commit(drill_state(1), "start")
    a, b = open_store(url).load(), open_store(url).load()
    a.cash = 1.0
    b.cash = 2.0
    open_store(url).commit(a, "writer a")
    with pytest.raises(ConcurrentWriteError, match="another writer committed version 2 after this run read version 1"):
        open_store(url).commit(b, "writer b")
    now = open_store(url).load()
    assert (now.version, now.cash) == (2, 1.0)
    assert [r["event"] for r in open_store(url).history()] == ["start", "writer a"]
    assert first.version == 1


def test_step_memory_round_trips_arrays_and_solver_state():
    from simlab.kernels.qp_solve import QPState

    rng = np.random.default_rng(0)
    memory = {"qp_state": QPState(rng.normal(size=(1, 4)), rng.normal(size=(1, 5)), rng.normal(size=(1, 5)),
                                  np.array([0.1])), "count": np.int64(3)}
    back = decode(json.loads(json.dumps(encode(memory))))
    for field in ("x", "z", "y", "rho"):
        np.testing.assert_array_equal(getattr(back["qp_state"], field), getattr(memory["qp_state"], field))
    assert back["count"] == 3
    with pytest.raises(StateError, match="not a simlab type"):
        decode({"__object__": "os:system", "fields": {}})


def test_corrupt_json_names_the_file(tmp_path):
    path = tmp_path / "book.json"
    open_store(f"json:{path}").commit(drill_state(1), "start")
    path.write_text(path.read_text()[:-40])
    with pytest.raises(StateError, match=r"book\.json: the file is not valid JSON"):
        open_store(f"json:{path}").load()


def test_truncated_sqlite_names_the_database(tmp_path):
    path = tmp_path / "book.db"
    open_store(f"sqlite:///{path}").commit(drill_state(1), "start")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path.write_bytes(path.read_bytes()[:100])
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"book.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(StateError, match=r"book\.db"):
        open_store(f"sqlite:///{path}").load()


def test_unknown_schema_is_refused(tmp_path):
    path = tmp_path / "book.db"
    open_store(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE simlab_meta SET value = '99' WHERE key = 'store_schema'")
    with pytest.raises(StateError, match="store schema 99 was written by a newer simlab"):
        open_store(f"sqlite:///{path}")
    data = drill_state(1).to_dict() | {"schema": 7}
    with pytest.raises(StateError, match="state schema 7 is not known"):
        PortfolioState.from_dict(data, "book.json")


def test_an_unknown_url_lists_the_forms():
    with pytest.raises(StateError, match="expected memory://NAME, json:PATH, sqlite:///PATH"):
        open_store("redis://x")


@pytest.mark.parametrize("kind, kills", [(1, 25), (2, 40)])
def test_sigkill_mid_commit_leaves_a_whole_state(tmp_path, kind, kills):
    """Forked writers killed at random points: the store always loads the old or the new state."""
    result = crash_drill(urls(tmp_path)[kind], kills=kills, seed=kind)
    assert result["kills"] == kills
    assert result["versions"] >= kills


def test_a_cash_flow_is_neither_gain_nor_drawdown_to_the_steps():
    state = drill_state(1)
    state.nav, state.cash, state.peak_nav = 100.0, 40.0, 125.0
    state.nav_dates, state.nav_values = ["2020-01-02", "2020-01-03"], [125.0, 100.0]
    after = state.with_flow("2020-01-03", 50.0, "top-up")
    assert (after.cash, after.nav, after.peak_nav) == (90.0, 150.0, 187.5)
    assert after.nav_values == [187.5, 150.0]  # drawdown 20% before and after
    assert after.flows == [{"date": "2020-01-03", "amount": 50.0, "note": "top-up"}]
    with pytest.raises(StateError, match="leaves cash at -10.00"):
        state.with_flow("2020-01-03", -50.0)


def test_a_state_of_another_asset_set_or_config_names_what_differs():
    from simlab.production.state import book_identity, check_same_book

    book = book_identity("quickstart", "top_n=5", {"costs": {"bps": 10}, "schedule": "monthly"})
    state = PortfolioState.new(book, ["AAPL", "MSFT", "XOM"], "2020-01-02", 1e6)
    with pytest.raises(StateError, match=r"sqlite:///b.db: the book's assets differ from the data's "
                                         r"\(not in the data now: XOM; new in the data: CVX\)"):
        check_same_book(state, book, ["AAPL", "MSFT", "CVX"], "sqlite:///b.db")
    other = book_identity("quickstart", "top_n=5", {"costs": {"bps": 5}, "schedule": "monthly"})
    with pytest.raises(StateError, match=r"differs in: costs$"):
        check_same_book(state, other, ["AAPL", "MSFT", "XOM"], "sqlite:///b.db")
    check_same_book(state, book, ["AAPL", "MSFT", "XOM"], "sqlite:///b.db")

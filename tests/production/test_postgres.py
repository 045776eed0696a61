"""The PostgreSQL store against a real server: set SIMLAB_TEST_POSTGRES (``.ci/run`` starts one)."""

from __future__ import annotations

import os
import uuid

import pytest

from simlab.production.crash import crash_drill, drill_state
from simlab.production.state import ConcurrentWriteError

URL = os.environ.get("SIMLAB_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(
    not URL, reason="no PostgreSQL server: SIMLAB_TEST_POSTGRES is unset (.ci/run starts a throw-away cluster "
                    "where Debian's postgresql package can be installed)")


@pytest.fixture
def store_url():
    pytest.importorskip("sqlalchemy", reason="pip install 'simlab[production]'")
    import sqlalchemy

    name = f"book_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1),
                                     isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    yield URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_postgres_round_trip_and_two_writers(store_url):
    from simlab.production.stores import open_store

    store = open_store(store_url)
    assert store.load() is None
    committed = store.commit(drill_state(1), "start")
    assert open_store(store_url).load().to_dict() == committed.to_dict()
    a, b = open_store(store_url).load(), open_store(store_url).load()
    open_store(store_url).commit(a, "writer a")
    with pytest.raises(ConcurrentWriteError, match="another writer committed version 2"):
        open_store(store_url).commit(b, "writer b")
    assert [r["event"] for r in open_store(store_url).history()] == ["start", "writer a"]


def test_postgres_sigkill_mid_commit_leaves_a_whole_state(store_url):
    result = crash_drill(store_url, kills=15, seed=3)
    assert result["versions"] >= 15

"""Where a book's state lives: one interface, chosen by URL.

======================  =====================================================================
``memory://NAME``       in this process (tests, dry runs); two opens of one name share it
``json:PATH``           one JSON file, replaced atomically (temp file, fsync, rename, fsync dir)
``sqlite:///PATH``      an SQLite database in WAL mode (the embedded default; stdlib ``sqlite3``)
``postgresql://...``    a PostgreSQL server through SQLAlchemy (``pip install 'simlab[production]'``)
======================  =====================================================================

Every store keeps the current state and a history of commits (one row per commit: version,
as-of day, event, NAV, cash, details). A commit is one transaction: a writer killed at any
instant leaves the previous committed state or the new one. Writers lock optimistically: a
state carries the version it was read at, and a commit whose version is no longer the
store's raises :class:`~simlab.production.state.ConcurrentWriteError` and changes nothing.

The layout is versioned (``STORE_SCHEMA``): a new store is created by the migration steps
in order; a store written by a newer simlab is refused with the version it has.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
import tempfile
import threading
from pathlib import Path

from simlab.production.state import ConcurrentWriteError, PortfolioState, StateError

STORE_SCHEMA = 1


class Store:
    """A book's state and its commit history (see the module docstring)."""

    url: str

    def load(self) -> PortfolioState | None:
        """The committed state, or None for an empty store."""
        raise NotImplementedError

    def commit(self, state: PortfolioState, event: str, detail: dict | None = None) -> PortfolioState:
        """Write ``state`` as the next version, if ``state.version`` is still the store's.

        Returns the state with its new version. Raises ConcurrentWriteError (nothing written)
        when another writer committed since ``state`` was read.
        """
        raise NotImplementedError

    def history(self) -> list[dict]:
        """Every commit, oldest first: version, as_of, event, nav, cash, detail."""
        raise NotImplementedError


def open_store(url: str) -> Store:
    """The store named by ``url`` (see the module docstring for the forms)."""
    url = str(url)
    if url.startswith("memory://"):
        return MemoryStore(url)
    if url.startswith("json:"):
        return JsonStore(url[len("json:"):])
    if url.startswith("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):])
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        return SqlAlchemyStore(url)
    raise StateError(f"--state {url!r}: expected memory://NAME, json:PATH, sqlite:///PATH or postgresql://...")


def _row(state: PortfolioState, event: str, detail: dict | None) -> dict:
    return {"version": state.version, "as_of": state.as_of, "event": event, "nav": state.nav,
            "cash": state.cash, "detail": detail or {}}


def _stale(url: str, read: int, now: int) -> ConcurrentWriteError:
    return ConcurrentWriteError(
        f"{url}: another writer committed version {now} after this run read version {read}; "
        "nothing was written. Run the command again: it starts from the new state.")


# ---------------------------------------------------------------- memory

class MemoryStore(Store):
    """State kept in this process, shared by every store opened on the same URL."""

    _books: dict = {}
    _lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url

    def load(self) -> PortfolioState | None:
        with self._lock:
            entry = self._books.get(self.url)
        return None if entry is None else PortfolioState.from_json(entry[0], self.url)

    def commit(self, state, event, detail=None):
        with self._lock:
            text, rows = self._books.get(self.url, (None, []))
            now = 0 if text is None else json.loads(text)["version"]
            if now != state.version:
                raise _stale(self.url, state.version, now)
            new = dataclasses.replace(state, version=now + 1)
            self._books[self.url] = (new.to_json(), [*rows, _row(new, event, detail)])
        return new

    def history(self):
        with self._lock:
            return list(self._books.get(self.url, (None, []))[1])


# ---------------------------------------------------------------- one JSON file

class JsonStore(Store):
    """One JSON file, ``{"store_schema", "state", "history"}``, replaced atomically under a lock file."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.url = f"json:{self.path}"

    def _read(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise StateError(f"{self.url}: the file is not valid JSON ({err}); restore it from an export "
                             "(simlab state restore)") from None
        if not isinstance(data, dict) or "store_schema" not in data:
            raise StateError(f"{self.url}: not a simlab book file (no store_schema)")
        if data["store_schema"] != STORE_SCHEMA:
            raise StateError(f"{self.url}: store schema {data['store_schema']!r} is not known to this simlab "
                             f"(it reads {STORE_SCHEMA})")
        return data

    def load(self):
        data = self._read()
        return None if data is None else PortfolioState.from_dict(data["state"], self.url)

    @contextlib.contextmanager
    def _locked(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def commit(self, state, event, detail=None):
        with self._locked():
            data = self._read()
            now = 0 if data is None else data["state"]["version"]
            if now != state.version:
                raise _stale(self.url, state.version, now)
            new = dataclasses.replace(state, version=now + 1)
            rows = [] if data is None else data["history"]
            body = {"store_schema": STORE_SCHEMA, "state": new.to_dict(), "history": [*rows, _row(new, event, detail)]}
            _write_atomically(self.path, json.dumps(body, sort_keys=True))
        return new

    def history(self):
        data = self._read()
        return [] if data is None else data["history"]


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


# ---------------------------------------------------------------- SQL (SQLite, PostgreSQL)

_MIGRATIONS = {  # from store schema k to k + 1
    0: [
        "CREATE TABLE IF NOT EXISTS simlab_book (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS simlab_history (version INTEGER PRIMARY KEY, as_of TEXT NOT NULL, "
        "event TEXT NOT NULL, nav DOUBLE PRECISION, cash DOUBLE PRECISION, detail TEXT NOT NULL)",
    ],
}


class _SqlStore(Store):
    """The SQL layout shared by SQLite and PostgreSQL: a meta table, the state row, the history."""

    def _transaction(self):  # -> context manager yielding execute(sql, params) -> (rowcount, rows)
        raise NotImplementedError

    def _migrate(self) -> None:
        with self._transaction() as execute:
            execute("CREATE TABLE IF NOT EXISTS simlab_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", {})
            execute("INSERT INTO simlab_meta (key, value) VALUES ('store_schema', '0') ON CONFLICT (key) DO NOTHING", {})
            _, rows = execute("SELECT value FROM simlab_meta WHERE key = 'store_schema'", {})
            have = int(rows[0][0])
            if have > STORE_SCHEMA:
                raise StateError(f"{self.url}: store schema {have} was written by a newer simlab "
                                 f"(this one reads up to {STORE_SCHEMA})")
            for step in range(have, STORE_SCHEMA):
                for sql in _MIGRATIONS[step]:
                    execute(sql, {})
            execute("UPDATE simlab_meta SET value = :v WHERE key = 'store_schema'", {"v": str(STORE_SCHEMA)})

    def load(self):
        with self._transaction() as execute:
            _, rows = execute("SELECT body FROM simlab_book WHERE id = 1", {})
        return None if not rows else PortfolioState.from_json(rows[0][0], self.url)

    def commit(self, state, event, detail=None):
        new = dataclasses.replace(state, version=state.version + 1)
        row = _row(new, event, detail)
        with self._transaction() as execute:
            if state.version == 0:
                count, _ = execute("INSERT INTO simlab_book (id, version, body) SELECT 1, 1, :body "
                                   "WHERE NOT EXISTS (SELECT 1 FROM simlab_book WHERE id = 1)", {"body": new.to_json()})
            else:
                count, _ = execute("UPDATE simlab_book SET version = :new, body = :body WHERE id = 1 AND version = :old",
                                   {"new": new.version, "body": new.to_json(), "old": state.version})
            if count != 1:
                _, rows = execute("SELECT version FROM simlab_book WHERE id = 1", {})
                raise _stale(self.url, state.version, rows[0][0] if rows else 0)
            execute("INSERT INTO simlab_history (version, as_of, event, nav, cash, detail) "
                    "VALUES (:version, :as_of, :event, :nav, :cash, :detail)",
                    {**row, "detail": json.dumps(row["detail"], sort_keys=True)})
        return new

    def history(self):
        with self._transaction() as execute:
            _, rows = execute("SELECT version, as_of, event, nav, cash, detail FROM simlab_history ORDER BY version", {})
        return [{"version": v, "as_of": a, "event": e, "nav": n, "cash": c, "detail": json.loads(d)}
                for v, a, e, n, c, d in rows]


class SqliteStore(_SqlStore):
    """An SQLite file in WAL mode, full sync; each commit one ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    @contextlib.contextmanager
    def _transaction(self):
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as err:
            raise StateError(f"{self.url}: cannot open the database ({err})") from None
        try:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as err:
                raise StateError(f"{self.url}: not a readable SQLite database ({err}); restore the book from "
                                 "an export (simlab state restore)") from None

            def execute(sql, params):
                try:
                    cur = conn.execute(sql, params)
                except sqlite3.DatabaseError as err:
                    raise StateError(f"{self.url}: {err}") from None
                return cur.rowcount, cur.fetchall()

            try:
                yield execute
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()


class SqlAlchemyStore(_SqlStore):
    """A PostgreSQL (or other SQLAlchemy) database; the driver is psycopg 3."""

    _engines: dict = {}

    def __init__(self, url: str):
        try:
            import sqlalchemy
        except ImportError:
            raise StateError(f"{url.split('@')[-1]}: a PostgreSQL store needs SQLAlchemy and psycopg: "
                             "pip install 'simlab[production]'") from None
        self._sa = sqlalchemy
        driver_url = url.replace("postgres://", "postgresql://", 1)
        if driver_url.startswith("postgresql://"):
            driver_url = "postgresql+psycopg://" + driver_url[len("postgresql://"):]
        self.url = sqlalchemy.engine.make_url(driver_url).render_as_string(hide_password=True)
        key = (os.getpid(), driver_url)  # a forked process opens its own connections
        if key not in self._engines:
            self._engines[key] = sqlalchemy.create_engine(driver_url, pool_pre_ping=True)
        self.engine = self._engines[key]
        self._migrate()

    @contextlib.contextmanager
    def _transaction(self):
        sa = self._sa
        try:
            with self.engine.begin() as conn:
                def execute(sql, params):
                    result = conn.execute(sa.text(sql), params)
                    rows = result.fetchall() if result.returns_rows else []
                    return result.rowcount, rows

                yield execute
        except sa.exc.OperationalError as err:
            raise StateError(f"{self.url}: {err.orig}") from None

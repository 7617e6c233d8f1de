"""Engine factory and migrations. Nothing here runs at import time."""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")
_WRITE_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
WAL_BACKSTOP_PAGES = 10000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kw) -> Engine:
    url = normalize_url(url)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            # The driver's own transaction handling is off (it would let a RELEASE of the
            # first SAVEPOINT commit everything); SQLAlchemy's begin emits BEGIN below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # checkpoints (the only fsyncs with synchronous=NORMAL) run in the background
            # (gateway.scheduler); this is the backstop if that falls behind
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover - exercised by every test
            conn.exec_driver_sql("BEGIN")

        # Writers of this process queue on a Python lock rather than in SQLite's busy
        # handler, which sleeps up to 100 ms between tries (see write_lock).
        _WRITE_LOCKS[engine] = threading.RLock()

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn):  # pragma: no cover - exercised by every test
            lock = conn.info.pop("kanal_py_lock", None)
            if lock is not None:
                lock.release()

        return engine
    if "poolclass" not in kw:
        kw.setdefault("pool_size", 10)
        kw.setdefault("max_overflow", 10)
    kw.setdefault("pool_pre_ping", True)
    return create_engine(url, **kw)


def checkpoint(engine: Engine) -> None:
    """Copy the SQLite write-ahead log into the database without blocking writers."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` for a transaction that writes: the write lock is taken first, so
    writers of one process never wait for each other inside SQLite (where a writer holding
    SQLite's lock while waiting for ours would deadlock until the busy timeout)."""
    with engine.begin() as conn:
        write_lock(conn)
        yield conn


def write_lock(conn: Connection, table: str = "inbox_item") -> None:
    """On SQLite, take the database's write lock now, before the transaction reads, so
    what it reads stays current until it commits and its writes cannot be refused as
    stale (PostgreSQL uses FOR UPDATE instead). Every writing transaction calls this
    first. A write that matches no row is enough: SQLite takes the lock before it looks."""
    if conn.dialect.name != "sqlite":
        return
    transaction = conn.get_transaction()
    if conn.info.get("kanal_write_locked") is not transaction:
        lock = _WRITE_LOCKS.get(conn.engine)
        if lock is not None and "kanal_py_lock" not in conn.info:
            lock.acquire()
            conn.info["kanal_py_lock"] = lock
        conn.exec_driver_sql(f"UPDATE {table} SET id = id WHERE 0")
        conn.info["kanal_write_locked"] = transaction


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Primary keys for ``count`` new rows, so that batches insert without RETURNING
    (SQLite cannot batch RETURNING in parameter order). PostgreSQL draws them from the
    table's sequence; on SQLite this transaction holds the write lock, so the ids after the
    current maximum are ours until it commits."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        return list(conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) "
                 "FROM generate_series(1, :n)"), {"t": table.name, "n": count}).scalars())
    write_lock(conn, table.name)
    start = conn.execute(select(func.max(table.c.id))).scalar() or 0
    return list(range(start + 1, start + count + 1))


def lookup_pairs(conn: Connection, group: Column, item: Column, value: Column,
                 pairs: Iterable[tuple[Any, Any]], chunk: int = 500) -> dict[tuple, Any]:
    """``value`` for each (group, item) pair found: one ``group = ? AND item IN (...)`` query
    per group and chunk, which uses a unique (group, item) index. Row-value IN lists would
    make SQLite scan the table."""
    by_group: dict[Any, set] = defaultdict(set)
    for g, i in pairs:
        by_group[g].add(i)
    found: dict[tuple, Any] = {}
    for g, items in by_group.items():
        ordered = sorted(items)
        for start in range(0, len(ordered), chunk):
            for i, v in conn.execute(select(item, value).where(
                    group == g, item.in_(ordered[start:start + chunk]))):
                found[(g, i)] = v
    return found


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)

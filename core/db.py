"""Engine factory and migrations. Nothing here runs at import time."""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from core.dbguard import (DatabaseHealth, DatabaseUnavailable, DbLimits, outage_reason,
                          watched_connection_class)

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_WRITE_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
WAL_BACKSTOP_PAGES = 10000
_HEALTH: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# a pooled connection unused for this long is pinged before it is handed out
PING_AFTER_IDLE = 5.0
_probing = threading.local()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, limits: DbLimits | None = None, **kw) -> Engine:
    """An engine whose every wait on the database is bounded by ``limits``."""
    url = normalize_url(url)
    limits = limits or DbLimits()
    busy_ms = int(limits.lock * 1000)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": limits.lock}, **kw)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            # The driver's own transaction handling is off (it would let a RELEASE of the
            # first SAVEPOINT commit everything); SQLAlchemy's begin emits BEGIN below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            # checkpoints (the only fsyncs with synchronous=NORMAL) run in the background
            # (gateway.scheduler); this is the backstop if that falls behind
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover - exercised by every test
            conn.exec_driver_sql("BEGIN")

        # Writers of this process queue on a Python lock rather than in SQLite's busy
        # handler, which sleeps up to 100 ms between tries (see write_lock).
        _WRITE_LOCKS[engine] = (threading.RLock(), limits.lock)

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
        kw.setdefault("pool_timeout", limits.connect)
    engine = create_engine(url, **kw)
    bound_postgresql(engine, limits)
    return engine


def bound_postgresql(engine: Engine, limits: DbLimits) -> None:
    """Connect, statement and lock timeouts on every connection, TCP keepalives, a
    client-side bound on every wait, and a ping before a pooled connection is reused."""
    connection_class = watched_connection_class(limits.statement + 1)
    settings = (f"-c statement_timeout={int(limits.statement * 1000)} "
                f"-c lock_timeout={int(limits.lock * 1000)} "
                # a client that vanished mid-transaction must not hold its locks for long
                f"-c idle_in_transaction_session_timeout={int(limits.statement * 4000)}")

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, record, cargs, cparams):
        guard = _HEALTH.get(engine)
        if guard is not None and not getattr(_probing, "on", False):
            guard.check()
        cparams.setdefault("connect_timeout", max(2, math.ceil(limits.connect)))
        cparams.setdefault("keepalives", 1)
        cparams.setdefault("keepalives_idle", 10)
        cparams.setdefault("keepalives_interval", 5)
        cparams.setdefault("keepalives_count", 3)
        cparams["options"] = f"{cparams.get('options') or ''} {settings}".strip()
        try:
            connection = connection_class.connect(*cargs, **cparams)
        except Exception as exc:
            if guard is not None:
                log.warning("cannot connect to the database: %s",
                            str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
                guard.failed("cannot connect to the database")
            raise
        record.info["kanal_used"] = time.monotonic()
        return connection

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, proxy):
        # SQLAlchemy's pool_pre_ping would ping before this runs, so a pool of stalled
        # connections would make every request wait; the known outage answers first
        guard = _HEALTH.get(engine)
        if guard is not None and not getattr(_probing, "on", False):
            guard.check()
        if time.monotonic() - record.info.get("kanal_used", 0) < PING_AFTER_IDLE:
            record.info["kanal_used"] = time.monotonic()
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute(";")
        except Exception as exc:
            raise DisconnectionError(f"ping failed: {exc}") from exc
        record.info["kanal_used"] = time.monotonic()

    @event.listens_for(engine, "handle_error")
    def _error(context):
        guard = _HEALTH.get(engine)
        if guard is not None and context.is_disconnect:
            guard.failed(outage_reason(context.sqlalchemy_exception or
                                       context.original_exception))


def watch_health(engine: Engine, health: DatabaseHealth) -> None:
    """From now on a known outage of this engine's database fails new work at once."""
    _HEALTH[engine] = health


@contextmanager
def probing() -> Iterator[None]:
    """Within this block (one thread) the engine is used even while known to be down:
    how the health probe finds out it is back."""
    _probing.on = True
    try:
        yield
    finally:
        _probing.on = False


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
        lock, wait = _WRITE_LOCKS.get(conn.engine, (None, 0))
        if lock is not None and "kanal_py_lock" not in conn.info:
            if not lock.acquire(timeout=wait):
                raise DatabaseUnavailable(
                    f"the database stayed locked for {wait:g} s by another writer")
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

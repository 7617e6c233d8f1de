"""Bounded database waits and what a database outage looks like to the rest of kanal.

Every wait on the database has a bound: connecting (``connect``), a statement or commit
(``statement``, enforced twice: by the server's ``statement_timeout`` and by the client,
which gives up on a connection whose server says nothing at all), and a lock
(``lock``: PostgreSQL's ``lock_timeout``, SQLite's busy timeout and kanal's own write lock).
Past a bound the caller gets :class:`DatabaseUnavailable` (or an SQLAlchemy
``OperationalError``), which the HTTP layer answers with 503 and ``Retry-After``.

:class:`DatabaseHealth` remembers that the database stopped answering. While it is
down, new work fails at once instead of each request waiting out the bound again, and a
probe thread finds out when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DbLimits:
    """How long any one database wait may take, in seconds."""

    # connect + statement stays under the 15 s a provider such as Twilio waits for an
    # answer, so it hears 503 rather than a timeout
    connect: float = 3.0
    statement: float = 10.0
    lock: float = 5.0
    retry_after: int = 10

    @property
    def request(self) -> float:
        """The longest a request waits for the database before it answers 503."""
        return self.connect + self.statement


class DatabaseUnavailable(Exception):
    """The database did not answer within its bound, or is known to be down."""

    def __init__(self, reason: str, retry_after: int = 10):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used now (down, stalled, locked),
    as opposed to a bug or bad data."""
    if isinstance(exc, (DatabaseUnavailable, sa_exc.TimeoutError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) and \
            not _is_schema_error(exc)
    return False


def _is_schema_error(exc: sa_exc.DBAPIError) -> bool:
    # SQLite reports a missing table or column as an OperationalError too
    text = str(exc.orig or exc).lower()
    return "no such table" in text or "no such column" in text or "syntax error" in text


def outage_reason(exc: BaseException) -> str:
    """What a client is told: the kind of fault, never hosts, ports or SQL."""
    if isinstance(exc, DatabaseUnavailable):
        return exc.reason
    if isinstance(exc, sa_exc.TimeoutError):
        return "no database connection was free in time"
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "locked" in text:
        return "the database is locked by another writer"
    if "did not answer" in text or "timeout" in text or "timed out" in text:
        return "the database did not answer in time"
    return "the database is not answering"


def watched_connection_class(timeout: float):
    """A psycopg connection class whose every wait on the server (a query, a commit, a
    fetch) gives up after ``timeout`` seconds: the connection is closed, so the pool
    drops it, and the caller gets an OperationalError. psycopg has no such setting, and
    a server that accepts and then says nothing (a stalled proxy, a frozen host) would
    otherwise hold the caller forever; TCP keepalives do not help while the peer's
    kernel still acknowledges."""
    import psycopg
    from psycopg import errors as pg_errors

    class WatchedConnection(psycopg.Connection):
        wait_timeout = timeout

        def wait(self, gen, interval=0.1, timeout=None):
            try:
                return super().wait(gen, interval=interval,
                                    timeout=self.wait_timeout if timeout is None else timeout)
            except pg_errors._WaitTimeout:
                self.close()
                raise psycopg.OperationalError(
                    f"the database did not answer within {self.wait_timeout:g} s") from None

    return WatchedConnection


class DatabaseHealth:
    """Whether the database answers, as this process last saw it.

    A probe thread asks the database every ``interval`` seconds (every ``down_interval``
    while it is down). ``failed`` is also called by the engine when a connection could not
    be made or broke (not for a bad statement). While the database is down, or a probe
    has waited longer than the connect bound, :meth:`check` raises at once."""

    def __init__(self, probe, limits: DbLimits, *, interval: float = 5.0,
                 down_interval: float = 0.5):
        self._probe = probe
        self.limits = limits
        self.interval = interval
        self.down_interval = down_interval
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.last_error = ""
        self._probe_started: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()

    @property
    def up(self) -> bool:
        started = self._probe_started
        if started is not None and time.monotonic() - started > self.limits.connect:
            self.failed(f"the database did not answer within {self.limits.connect:g} s")
        return self.down_since is None

    def check(self) -> None:
        """Raise :class:`DatabaseUnavailable` while the database is known to be down."""
        if not self.up:
            raise DatabaseUnavailable(self.last_error or "the database is not answering",
                                      self.limits.retry_after)

    def failed(self, reason: str) -> None:
        with self._lock:
            first = self.down_since is None
            if first:
                self.down_since = time.monotonic()
            self.last_error = reason
        if first:
            log.error("database unavailable: %s", reason)
            self.start()
            self._wake.set()

    def recovered(self) -> None:
        with self._lock:
            was = self.down_since
            self.down_since = None
        if was is not None:
            log.warning("database answers again after %.1f s", time.monotonic() - was)

    def probe(self) -> bool:
        """Ask the database now (bounded like any other wait); update the state."""
        self._probe_started = time.monotonic()
        try:
            self._probe()
        except Exception as exc:  # any failure means "not ready"
            self._probe_started = None
            self.failed(outage_reason(exc))
            return False
        self._probe_started = None
        self.recovered()
        return True

    def start(self) -> None:
        """Run the probe thread (once; again after ``stop`` only through a new object)."""
        with self._lock:
            if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name="kanal-db-probe",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval if self.down_since is None else self.down_interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.probe()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def as_dict(self) -> dict:
        if self.up:
            return {"database": "ok"}
        return {"database": "unavailable", "reason": self.last_error,
                "down_for_seconds": round(time.monotonic() - (self.down_since or 0), 1)}

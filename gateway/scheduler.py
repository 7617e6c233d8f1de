"""Background work of one process: APScheduler 3 (in-memory job store, rebuilt from config
at start-up) runs the periodic housekeeping; worker threads send, fetch media and poll.

Polls run in a wakeable worker per channel rather than as APScheduler interval jobs: IMAP
IDLE must be able to start a poll at once, and a wake that arrives while a poll is running
must start another one afterwards (APScheduler's ``max_instances=1`` would drop it). On
PostgreSQL every poll takes a session advisory lock, so two processes never poll the same
channel at once."""

from __future__ import annotations

import logging
import threading
import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from core.adapter import CredentialsRejected, RateLimited
from core.db import checkpoint, is_sqlite, writing
from core.dbguard import is_outage, outage_reason
from core.escalation import NoticeSender, escalate_due
from core.unit import Escalation
from core.health import record_credentials, record_health, record_rate_limit
from gateway.workers import Watcher, Worker

log = logging.getLogger(__name__)
ESCALATION_BATCH = 500  # cases per transaction of the escalation job


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return zlib.crc32(b"kanal:" + name.encode()) - 2**31


@contextmanager
def exclusive(engine, name: str):
    """Yields True when this process holds the job's lock (always True on SQLite)."""
    if is_sqlite(str(engine.url)):
        yield True
        return
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)}).scalar()
        conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                conn.commit()


class PollHolds:
    """Pollers held back: until a provider's rate-limit reset, or, after refused
    credentials, for a back-off that doubles (up to ``MAX_BACKOFF``) until a poll works."""

    MAX_BACKOFF = timedelta(hours=1)

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._strikes: dict[str, int] = {}
        self._lock = threading.Lock()

    def hold(self, channel_id: str, until: datetime) -> None:
        with self._lock:
            self._until[channel_id] = until

    def strike(self, channel_id: str, now: datetime, base_seconds: float) -> datetime:
        with self._lock:
            n = self._strikes[channel_id] = self._strikes.get(channel_id, 0) + 1
            wait = min(timedelta(seconds=base_seconds * 2 ** n), self.MAX_BACKOFF)
            until = self._until[channel_id] = now + wait
            return until

    def clear(self, channel_id: str) -> None:
        with self._lock:
            self._until.pop(channel_id, None)
            self._strikes.pop(channel_id, None)

    def remaining(self, channel_id: str, now: datetime) -> float | None:
        """Seconds until the channel may be polled again, or None when it may now."""
        until = self._until.get(channel_id)
        if until is None or until <= now:
            return None
        return (until - now).total_seconds()


def poll_job(kanal, channel_id: str) -> None:
    holds: PollHolds = kanal.poll_holds
    if holds.remaining(channel_id, kanal.clock()) is not None:
        return
    with exclusive(kanal.engine, f"poll:{channel_id}") as mine:
        if not mine:
            return
        try:
            kanal.poll_channel(channel_id)
        except RateLimited as exc:
            log.warning("poll of %s rate limited until %s", channel_id, exc.until)
            holds.hold(channel_id, exc.until)
            with writing(kanal.engine) as conn:
                record_rate_limit(conn, channel_id, exc.until, now=kanal.clock())
            return
        except CredentialsRejected as exc:
            adapter = kanal.adapters.get(channel_id)
            interval = adapter.poll_interval_seconds if adapter is not None else 60.0
            until = holds.strike(channel_id, kanal.clock(), interval)
            log.warning("poll of %s: credentials refused, next try at %s: %s", channel_id,
                        until, exc)
            with writing(kanal.engine) as conn:
                record_credentials(conn, channel_id, str(exc), now=kanal.clock())
            return
        except Exception as exc:
            log.warning("poll of %s failed: %s", channel_id, exc)
            with writing(kanal.engine) as conn:
                record_health(conn, channel_id, ok=False, error=f"poll: {exc}"[:2000])
            return
        holds.clear(channel_id)
        adapter = kanal.adapters.get(channel_id)
        if adapter is None:
            return  # disabled during the poll
        warning = adapter.poll_warning
        with writing(kanal.engine) as conn:
            record_health(conn, channel_id, ok=warning is None, error=warning,
                          now=kanal.clock(), state="degraded")


def build_workers(kanal, *, start: bool = True) -> list:
    """The outbox dispatcher and the media fetcher, each sending or fetching as long as
    something is due and woken when a batch commits new work; one poller per polling
    channel, polling every ``poll_interval_seconds`` and woken at once by its channel's
    watcher (IMAP IDLE) when new payloads may be waiting."""
    interval = kanal.settings.dispatch_interval_seconds
    workers: list = [
        Worker("dispatch", kanal.dispatcher.run_once, interval=interval,
               pause=kanal.dispatcher.pause),
        Worker("media", kanal.media.run_once, interval=interval),
    ]
    senders = list(workers)

    def wake() -> None:
        for worker in senders:
            worker.wake()

    kanal.ingestor.after_commit = wake
    pollers = Pollers(kanal)
    workers.append(pollers)
    pollers.sync(start=False)
    if start:
        for worker in workers:
            worker.start()
    kanal.on_channels_changed = lambda changed: pollers.sync()
    return workers


class Pollers:
    """One poller (and a watcher, for IMAP IDLE) per ready polling channel, kept in step
    with the channels as operators enable, disable and change them: a channel that goes
    away has its poller stopped after the current batch (its cursor is saved batch by
    batch); a changed one gets a new poller with its new interval."""

    def __init__(self, kanal):
        self.kanal = kanal
        self._running: dict[str, tuple[object, list]] = {}  # id -> (adapter, workers)
        self._lock = threading.Lock()
        self._started = False

    def sync(self, *, start: bool = True) -> None:
        with self._lock:
            wanted = {cid: a for cid, a in self.kanal.adapters.items() if a.polls}
            for cid, (adapter, workers) in list(self._running.items()):
                if wanted.get(cid) is not adapter:
                    for worker in workers:
                        worker.stop(timeout=0)
                    del self._running[cid]
            for cid, adapter in wanted.items():
                if cid in self._running:
                    continue
                poller = Worker(f"poll:{cid}", partial(poll_round, self.kanal, cid),
                                interval=adapter.poll_interval_seconds,
                                pause=partial(_held_for, self.kanal, cid))
                workers = [poller]
                if adapter.watches:
                    workers.append(Watcher(f"watch:{cid}", adapter.watch, poller.wake))
                self._running[cid] = (adapter, workers)
                if start and self._started:
                    for worker in workers:
                        worker.start()

    name = "pollers"

    def names(self) -> list[str]:
        """The running workers' names: ``poll:<id>`` and ``watch:<id>``."""
        with self._lock:
            return sorted(w.name for _, workers in self._running.values() for w in workers)

    def workers(self) -> list:
        with self._lock:
            return [w for _, workers in self._running.values() for w in workers]

    def worker(self, channel_id: str) -> Worker | None:
        """The channel's poller, while it has one."""
        running = self._running.get(channel_id)
        return running[1][0] if running else None

    def start(self) -> None:
        with self._lock:
            self._started = True
            for _, workers in self._running.values():
                for worker in workers:
                    worker.start()

    def stop(self, timeout: float = 10) -> None:
        with self._lock:
            self._started = False
            running, self._running = self._running, {}
        for _, workers in running.values():
            for worker in workers:
                worker.stop(timeout)


def _held_for(kanal, channel_id: str) -> float | None:
    return kanal.poll_holds.remaining(channel_id, kanal.clock())


def poll_round(kanal, channel_id: str) -> int:
    """One round of a poller: ``poll_channel`` drains the backlog itself, so the worker
    waits for its interval (or a wake) afterwards."""
    poll_job(kanal, channel_id)
    return 0


def sweep_job(kanal) -> None:
    """Pick up inbox payloads left pending (a crash, a channel that came back, a database
    that was out when the process started)."""
    try:
        if not kanal.started_up:
            kanal.start_up()
        else:
            kanal.replay()
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("inbox sweep waits for the database: %s", outage_reason(exc))


def escalation_round(kanal, on_notices: NoticeSender | None = None) -> list[Escalation]:
    """Escalate every case past its deadline now (``kanal.clock()``), a batch per
    transaction, with the plugins' ``kanal_case_escalated``; one log line per case.
    ``on_notices`` delivers what the hooks queue for reporters (``escalate_due``); by
    default the way the case actions deliver theirs (``core.notify``)."""
    on_notices = on_notices or kanal.cases.deliver
    done: list[Escalation] = []
    while True:
        with writing(kanal.engine) as conn:
            batch = escalate_due(conn, kanal.clock(), hook=kanal.pm.hook,
                                 limit=ESCALATION_BATCH, on_notices=on_notices)
        for e in batch:
            log.info("report %s missed its %s deadline (%s) held by %s; escalated to %s",
                     e.tracking_id, e.clock, e.due_at.isoformat(), e.unit_id,
                     e.escalated_to or "none (top level)")
        done += batch
        if len(batch) < ESCALATION_BATCH:
            return done


def escalation_job(kanal) -> None:
    """On PostgreSQL one process at a time runs the round (the others skip it); that
    saves work, while exactly-once rests on the ``sla_breach`` key (``core.escalation``)."""
    try:
        with exclusive(kanal.engine, "sla-escalation") as mine:
            if mine:
                escalation_round(kanal)
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("escalation waits for the database: %s", outage_reason(exc))


def checkpoint_job(kanal) -> None:
    checkpoint(kanal.engine)


def build_scheduler(kanal) -> BackgroundScheduler:
    s = kanal.settings
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    scheduler.add_job(sweep_job, "interval", args=[kanal], id="inbox-sweep",
                      seconds=s.inbox_sweep_seconds)
    scheduler.add_job(escalation_job, "interval", args=[kanal], id="sla-escalation",
                      seconds=s.escalation_seconds)
    if is_sqlite(str(kanal.engine.url)):
        scheduler.add_job(checkpoint_job, "interval", args=[kanal], id="sqlite-checkpoint",
                          seconds=1)
    return scheduler

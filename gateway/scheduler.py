"""One APScheduler 3 scheduler per process, in-memory job store, rebuilt from config at
start-up. On PostgreSQL every poll takes a session advisory lock, so two processes never
poll the same channel at once."""

from __future__ import annotations

import logging
import zlib
from contextlib import contextmanager

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from core.db import checkpoint, is_sqlite, writing
from core.health import record_health
from gateway.workers import Worker

log = logging.getLogger(__name__)


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


def poll_job(kanal, channel_id: str) -> None:
    with exclusive(kanal.engine, f"poll:{channel_id}") as mine:
        if not mine:
            return
        try:
            kanal.poll_channel(channel_id)
        except Exception as exc:
            log.warning("poll of %s failed: %s", channel_id, exc)
            with writing(kanal.engine) as conn:
                record_health(conn, channel_id, ok=False, error=f"poll: {exc}"[:2000])
            return
        with writing(kanal.engine) as conn:
            record_health(conn, channel_id, ok=True)


def build_workers(kanal) -> list[Worker]:
    """The outbox dispatcher and the media fetcher: each sends or fetches as long as
    something is due, and is woken when a batch commits new work."""
    interval = kanal.settings.dispatch_interval_seconds
    workers = [
        Worker("dispatch", kanal.dispatcher.run_once, interval=interval,
               pause=kanal.dispatcher.pause),
        Worker("media", kanal.media.run_once, interval=interval),
    ]

    def wake() -> None:
        for worker in workers:
            worker.wake()

    kanal.ingestor.after_commit = wake
    for worker in workers:
        worker.start()
    return workers


def sweep_job(kanal) -> None:
    """Pick up inbox payloads left pending (a crash, a channel that came back)."""
    kanal.replay()


def checkpoint_job(kanal) -> None:
    checkpoint(kanal.engine)


def build_scheduler(kanal) -> BackgroundScheduler:
    s = kanal.settings
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    scheduler.add_job(sweep_job, "interval", args=[kanal], id="inbox-sweep",
                      seconds=s.inbox_sweep_seconds)
    if is_sqlite(str(kanal.engine.url)):
        scheduler.add_job(checkpoint_job, "interval", args=[kanal], id="sqlite-checkpoint",
                          seconds=1)
    for channel_id, adapter in kanal.adapters.items():
        if adapter.polls:
            scheduler.add_job(poll_job, "interval", args=[kanal, channel_id],
                              id=f"poll:{channel_id}", seconds=adapter.poll_interval_seconds)
    return scheduler

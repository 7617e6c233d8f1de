"""Group commit for the event loop: the payloads of all the requests that are ready in
one turn of the loop are committed as one batch, and each request gets its answer only
after its rows are committed. The batch runs in a thread of its own, one at a time, so a
slow or stalled database never stops the loop from answering the routes that do not need
it; the requests that come in while a batch runs make up the next one."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sqlalchemy import Engine

from core import inbox
from core.db import writing
from core.adapter import Envelope, InboxRecord
from core.canonical import IngestResult
from core.dbguard import DatabaseHealth, DatabaseUnavailable, DbLimits
from core.metrics import Observer
from core.pipeline import Pipeline

log = logging.getLogger(__name__)


class Ingestor:
    """Owns the inbox and pipeline writes of this process.

    A batch writes the raw payloads and runs the pipeline over them in one transaction.
    When that fails, it falls back to two: the raw payloads are committed first, then
    processed; a crash between the two leaves them pending in the inbox, where start-up
    replay finds them. Batches from the event loop and from other threads (pollers,
    replay) never run at the same time.

    A request waits at most ``limits.request`` seconds for its batch; then it fails with
    :class:`DatabaseUnavailable` (a 503: the provider sends it again, and a payload that
    was committed after all is recognised as a duplicate). While ``health`` knows the
    database is down, requests fail at once.
    """

    def __init__(self, engine: Engine, pipeline: Pipeline, *, max_batch: int = 256,
                 health: DatabaseHealth | None = None, limits: DbLimits | None = None,
                 observer: Observer | None = None):
        self.engine = engine
        # told of every payload committed or refused (the runtime's metrics)
        self.observer = observer or Observer()
        self.pipeline = pipeline
        self.max_batch = max_batch
        self.health = health
        self.limits = limits or DbLimits()
        self._lock = threading.RLock()
        self._pending: list[tuple[Envelope, asyncio.Future]] = []
        self._flush_scheduled = False
        self._in_flight = False
        self._seen = 0
        self._executor: ThreadPoolExecutor | None = None
        # called after every batch that committed (wakes the dispatcher and media workers)
        self.after_commit: Callable[[], None] | None = None
        # seam for tests: when set, batches take the two-transaction path and this is
        # called between the inbox commit and the pipeline
        self.after_inbox_commit: Callable[[list[int]], None] | None = None

    async def ingest(self, envelope: Envelope) -> IngestResult:
        started = time.perf_counter()
        try:
            result = await self._wait(envelope)
        except Exception:
            self.observer.ingest_failed([envelope])
            raise
        self.observer.ingested([envelope], [result], time.perf_counter() - started)
        return result

    async def _wait(self, envelope: Envelope) -> IngestResult:
        if self.health is not None:
            self.health.check()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((envelope, future))
        self._schedule(loop)
        try:
            return await asyncio.wait_for(future, self.limits.request)
        except asyncio.TimeoutError:
            raise DatabaseUnavailable(
                f"the database did not answer within {self.limits.request:g} s",
                self.limits.retry_after) from None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._flush_scheduled and not self._in_flight:
            self._flush_scheduled = True
            self._seen = 0
            loop.call_soon(self._gather, loop)

    def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the loop read the sockets once more while that brings in more payloads:
        a bigger batch costs the same commit."""
        if self._seen < len(self._pending) < self.max_batch:
            self._seen = len(self._pending)
            loop.call_soon(self._gather, loop)
            return
        self._flush(loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_scheduled = False
        # a request that gave up (timed out, client gone) is not written
        batch = [(e, f) for e, f in self._pending if not f.done()]
        self._pending = []
        if not batch:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="kanal-ingest")
        self._in_flight = True
        self._executor.submit(self._run_batch, loop, batch)

    def _run_batch(self, loop: asyncio.AbstractEventLoop, batch) -> None:
        """In the ingest thread: commit the batch, then hand the answers to the loop."""
        outcomes = []
        for i in range(0, len(batch), self.max_batch):
            chunk = batch[i:i + self.max_batch]
            try:
                outcomes.append((chunk, self._commit([e for e, _ in chunk]), None))
            except Exception as exc:
                log.error("ingest batch of %d failed: %s", len(chunk), exc)
                outcomes.append((chunk, None, exc))
        try:
            loop.call_soon_threadsafe(self._deliver, loop, outcomes)
        except RuntimeError:  # the loop closed while the batch ran (shutdown)
            pass

    def _deliver(self, loop: asyncio.AbstractEventLoop, outcomes) -> None:
        self._in_flight = False
        for chunk, results, exc in outcomes:
            for i, (_, future) in enumerate(chunk):
                if future.done():  # the request gave up or the client went away
                    continue
                if exc is not None:
                    future.set_exception(exc)
                else:
                    future.set_result(results[i])
        if self._pending:
            self._schedule(loop)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=False)
            self._executor = None

    def ingest_many(self, envelopes: list[Envelope]) -> list[IngestResult]:
        """Blocking ingestion of several payloads (pollers, tests); answers in order."""
        started = time.perf_counter()
        try:
            results = self._commit(envelopes)
        except Exception:
            self.observer.ingest_failed(envelopes)
            raise
        self.observer.ingested(envelopes, results, time.perf_counter() - started)
        return results

    def _commit(self, envelopes: list[Envelope]) -> list[IngestResult]:
        """One batch, unobserved: a request's own wait is what ``ingest`` measures."""
        with self._lock:
            results = self._process(envelopes)
        self._committed()
        return results

    def run(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` (replay, drains) so that it never overlaps a batch of this process."""
        with self._lock:
            result = fn()
        self._committed()
        return result

    def _committed(self) -> None:
        if self.after_commit is not None:
            self.after_commit()

    def _process(self, envelopes: list[Envelope]) -> list[IngestResult]:
        """One transaction for the raw payloads and their reports. If that fails, the
        payloads are committed on their own first and then processed row by row, so a
        payload that breaks the pipeline is quarantined and never lost."""
        if self.after_inbox_commit is None:
            try:
                with writing(self.engine) as conn:
                    written = inbox.write(conn, envelopes)
                    records = [InboxRecord(inbox_id, e.channel, e.external_id, e.content_type,
                                           e.payload, e.received_at)
                               for e, (inbox_id, is_new) in zip(envelopes, written) if is_new]
                    fresh = self.pipeline.process(conn, records) if records else {}
                    seen = [i for i, is_new in written if not is_new]
                    if seen:  # redeliveries: a pending one is processed now
                        rows = inbox.claim(conn, ids=list(dict.fromkeys(seen)),
                                           skip_locked=False)
                        fresh.update(self.pipeline.process(conn, rows) if rows else {})
                    known = self._known(conn, written, fresh)
                return self._answers(written, fresh, known)
            except Exception:
                log.exception("ingest batch of %d failed; committing the payloads first",
                              len(envelopes))
        return self._two_phase(envelopes)

    def _two_phase(self, envelopes: list[Envelope]) -> list[IngestResult]:
        with writing(self.engine) as conn:
            written = inbox.write(conn, envelopes)
        if self.after_inbox_commit is not None:
            self.after_inbox_commit([inbox_id for inbox_id, _ in written])
        # not skip_locked: a row another process is working on is waited for, and then
        # no longer pending
        _, fresh = inbox.process(self.engine, self.pipeline,
                                 ids=list(dict.fromkeys(i for i, _ in written)),
                                 skip_locked=False)
        with self.engine.connect() as conn:
            known = self._known(conn, written, fresh)
        return self._answers(written, fresh, known)

    @staticmethod
    def _known(conn, written, fresh) -> dict[int, IngestResult]:
        missing = list(dict.fromkeys(i for i, _ in written if i not in fresh))
        return inbox.outcomes(conn, missing) if missing else {}

    @staticmethod
    def _answers(written, fresh, known) -> list[IngestResult]:
        out = []
        for inbox_id, is_new in written:
            result = fresh.get(inbox_id) if is_new else None
            if result is None:
                result = known.get(inbox_id) or fresh.get(inbox_id)
                if result is not None and not is_new:
                    result = _as_duplicate(result)
            if result is None:  # channel not running: kept pending for replay
                result = IngestResult(inbox_id=inbox_id, tracking_id=None, status=None,
                                      created=False)
            out.append(result)
        return out


def _as_duplicate(result: IngestResult) -> IngestResult:
    return IngestResult(
        inbox_id=result.inbox_id, tracking_id=result.tracking_id, status=result.status,
        created=False, duplicate=True, follow_up=result.follow_up,
        quarantined=result.quarantined, error=result.error,
    )

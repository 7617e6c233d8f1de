"""Group commit: one writer thread takes payloads from many requests and commits them in
batches, so each request still gets its answer only after its rows are committed."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine

from core import inbox
from core.adapter import Envelope
from core.canonical import IngestResult
from core.pipeline import Pipeline

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Job:
    envelope: Envelope
    future: Future


class _Call:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[], object]):
        self.fn = fn
        self.future: Future = Future()


_STOP = object()


class Ingestor:
    """Owns the inbox and pipeline writes of this process.

    ``submit`` commits the raw payload (phase 1), then runs the pipeline over it (phase 2),
    each phase one transaction per batch. A crash between the two leaves the payload pending
    in the inbox, where start-up replay finds it.
    """

    def __init__(self, engine: Engine, pipeline: Pipeline, *, max_batch: int = 256):
        self.engine = engine
        self.pipeline = pipeline
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # test seam: called between the inbox commit and the pipeline
        self.after_inbox_commit: Callable[[list[int]], None] | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def run(self, fn: Callable[[], object]) -> object:
        """Run ``fn`` in order with ingestion: on the writer thread when it runs."""
        return self.call(fn).result() if self.running else fn()

    def ingest_many(self, envelopes: list[Envelope]) -> list[IngestResult]:
        """Blocking ingestion of several payloads (pollers); answers in order."""
        if self.running:
            return [f.result() for f in [self.submit(e) for e in envelopes]]
        return self._process(envelopes)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kanal-ingest", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, envelope: Envelope) -> Future:
        job = _Job(envelope, Future())
        self._queue.put(job)
        return job.future

    async def ingest(self, envelope: Envelope) -> IngestResult:
        return await asyncio.wrap_future(self.submit(envelope))

    def call(self, fn: Callable[[], object]) -> Future:
        """Run ``fn`` on the writer thread (replay, drains), in order with ingestion."""
        call = _Call(fn)
        self._queue.put(call)
        return call.future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[_Job] = []
            while True:
                if item is _STOP:
                    self._flush(batch)
                    return
                if isinstance(item, _Call):
                    self._flush(batch)
                    batch = []
                    self._run_call(item)
                else:
                    batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._flush(batch)

    @staticmethod
    def _run_call(call: _Call) -> None:
        try:
            call.future.set_result(call.fn())
        except BaseException as exc:  # handed to the caller
            call.future.set_exception(exc)

    def _flush(self, batch: list[_Job]) -> None:
        if not batch:
            return
        try:
            results = self._process([job.envelope for job in batch])
        except BaseException as exc:
            log.exception("ingest batch of %d failed", len(batch))
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        for job, result in zip(batch, results):
            job.future.set_result(result)

    def _process(self, envelopes: list[Envelope]) -> list[IngestResult]:
        with self.engine.begin() as conn:
            written = inbox.write(conn, envelopes)
        ids = [inbox_id for inbox_id, _ in written]
        if self.after_inbox_commit is not None:
            self.after_inbox_commit(ids)
        unique_ids = list(dict.fromkeys(ids))
        # not skip_locked: a row another process is working on is waited for, and then
        # no longer pending
        _, fresh = inbox.process(self.engine, self.pipeline, ids=unique_ids,
                                 skip_locked=False)
        missing = [i for i in unique_ids if i not in fresh]
        known: dict[int, IngestResult] = {}
        if missing:
            with self.engine.connect() as conn:
                known = inbox.outcomes(conn, missing)
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

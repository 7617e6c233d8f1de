"""inbox -> normalize -> thread -> report + tracking ID -> hand-off -> acknowledgement.

One batch of committed inbox rows is processed in one transaction with bulk statements,
so the same code serves a single web request and a drain of 50,000 queued payloads.
Primary keys are allocated up front (core.db.allocate_ids), so every insert is a plain
executemany and the hand-off hooks run before the report rows are written.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.exc import IntegrityError

from core import keywords, replies, reporters, threads, tracking
from core.adapter import Adapter, InboxRecord
from core.canonical import IngestResult
from core.bulk import insert_rows
from core.db import allocate_ids
from core.models import (
    Attachment, CaseEvent, InboxItem, Message, OutboxItem, Report, utcnow,
)
from core.unit import NewReport, UnitOfWork
from core.work import REQUESTS, Work

log = logging.getLogger(__name__)

inbox_t = InboxItem.__table__
report_t = Report.__table__
message_t = Message.__table__
attachment_t = Attachment.__table__
event_t = CaseEvent.__table__
outbox_t = OutboxItem.__table__

MAX_ID_ATTEMPTS = 8
_REPORT_COLUMNS = ("id", "tracking_id", "channel", "official_channel", "reporter_id", "lat",
                   "lon", "address", "created_at", "source_category", "confidential",
                   "external_ref", *NewReport.MUTABLE)


class Pipeline:
    """Stateless apart from its collaborators; safe to share between threads."""

    def __init__(
        self,
        adapters: Mapping[str, Adapter],
        hook,
        *,
        clock: Callable[[], datetime] = utcnow,
        randbelow: Callable[[int], int] = secrets.randbelow,
        language: str = "id",
    ):
        self.adapters = adapters
        self.hook = hook
        self.clock = clock
        self.randbelow = randbelow
        self.language = language
        # the case actions (core.cases.Cases), for a bad rating that reopens its case; the
        # runtime sets it once it has built them
        self.cases = None

    def process(self, conn: Connection, rows: Sequence[InboxRecord]) -> dict[int, IngestResult]:
        """Process claimed inbox rows inside the caller's transaction."""
        now = self.clock()
        results: dict[int, IngestResult] = {}
        work = self._normalize(conn, rows, now, results)
        if not work:
            return results
        for w, reporter_id in zip(work, reporters.resolve(conn, [w.message for w in work], now)):
            w.reporter_id = reporter_id
        replies.claim_ratings(conn, work, now)
        threads.thread(conn, [w for w in work if w.intent in ("report", "edit")], now)
        threads.staff_replies(conn, [w for w in work if w.intent == "staff_reply"])
        orphans = [w for w in work if w.intent == "edit" and w.target is None]
        if orphans:  # an edit of something never received is kept, not made a report
            self._quarantine(conn, orphans, "edit of a message kanal never received", now,
                             results)
            work = [w for w in work if w not in orphans]
            if not work:
                return results
        replies.handle_requests(conn, [w for w in work if w.intent in REQUESTS], now,
                                cases=self.cases)
        uow = self._create_reports(conn, [w for w in work if w.intent == "report"], now)
        threads.relocate(self, conn, work, now, uow)
        for w in work:
            if w.intent == "report":
                w.reply = "ack" if w.report is not None else "follow_up_ack"
        self._insert_messages(conn, [w for w in work if w.report_id is not None], now)
        replies.answer(self, conn, work, now)
        replies.queue_media(conn, work, now)
        if uow.case_events:
            insert_rows(conn, event_t, [e.row(now) for e in uow.case_events])
        conn.execute(
            update(inbox_t).where(inbox_t.c.id == bindparam("_id"))
            .values(status="processed", processed_at=now, error=None,
                    attempts=inbox_t.c.attempts + 1, report_id=bindparam("report_id"),
                    message_id=bindparam("message_id")),
            [{"_id": w.row.id, "report_id": w.report_id, "message_id": w.message_id}
             for w in work],
        )
        for w in work:
            tracking_id, status = w.tracking
            results[w.row.id] = IngestResult(
                inbox_id=w.row.id, tracking_id=tracking_id, status=status,
                created=w.report is not None,
                follow_up=w.report is None and w.intent in ("report", "edit"))
        return results

    def _quarantine(self, conn: Connection, work: list[Work], reason: str, now: datetime,
                    results: dict[int, IngestResult]) -> None:
        conn.execute(
            update(inbox_t).where(inbox_t.c.id == bindparam("_id"))
            .values(status="quarantined", error=reason, processed_at=now,
                    attempts=inbox_t.c.attempts + 1),
            [{"_id": w.row.id} for w in work])
        for w in work:
            log.warning("inbox %s quarantined: %s", w.row.id, reason)
            results[w.row.id] = IngestResult(inbox_id=w.row.id, tracking_id=None, status=None,
                                             created=False, quarantined=True, error=reason)

    def _normalize(self, conn: Connection, rows: Sequence[InboxRecord], now: datetime,
                   results: dict[int, IngestResult]) -> list[Work]:
        work: list[Work] = []
        quarantined: list[dict] = []
        for row in rows:
            adapter = self.adapters.get(row.channel)
            if adapter is None:
                continue  # channel disabled or unknown: stays pending until it is back
            try:
                message = adapter.normalize(row)
            except Exception as exc:  # any failure quarantines this payload only
                reason = f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("inbox %s quarantined: %s", row.id, reason)
                quarantined.append({"_id": row.id, "error": reason})
                notice = getattr(exc, "notice", None)
                if notice is not None:
                    replies.notify(self, conn, row, notice, now)
                results[row.id] = IngestResult(
                    inbox_id=row.id, tracking_id=None, status=None, created=False,
                    quarantined=True, error=reason)
                continue
            message.inbox_id = row.id
            if message.received_at is None:
                message.received_at = row.received_at
            if adapter.keywords and message.intent == "report":
                keyword = keywords.parse(message.text)
                if keyword is not None:
                    message.intent, message.intent_arg = keyword
            work.append(Work(row, message))
        if quarantined:
            conn.execute(
                update(inbox_t).where(inbox_t.c.id == bindparam("_id"))
                .values(status="quarantined", error=bindparam("error"), processed_at=now,
                        attempts=inbox_t.c.attempts + 1),
                quarantined)
        return work

    # -- reports -----------------------------------------------------------------------

    def _create_reports(self, conn: Connection, work: list[Work], now: datetime) -> UnitOfWork:
        """New reports, handed to the ``kanal_report_created`` hooks before their rows are
        written. A tracking-ID clash (another process, or bad luck) rolls back to a
        savepoint and the batch is drawn and handed over again."""
        fresh = [w for w in work if w.target is None]
        uow = UnitOfWork(now=now)
        if not fresh:
            return uow
        placed = []
        for w in fresh:
            m = w.message
            category = m.category or self.hook.kanal_classify(message=m)
            placed.append((category,
                           threads.merge_location(self.hook.kanal_locate(message=m), m.location)))
        ids = allocate_ids(conn, report_t, len(fresh))
        for attempt in range(MAX_ID_ATTEMPTS):
            uow = UnitOfWork(now=now)
            for w, report_id, tid, (category, where) in zip(
                    fresh, ids, self._draw(len(fresh)), placed):
                w.report = NewReport(
                    id=report_id, tracking_id=tid, channel=w.message.channel,
                    official_channel=w.message.official_channel, created_at=now,
                    category=category, source_category=w.message.source_category,
                    reporter_id=w.reporter_id,
                    lat=where.lat if where else None, lon=where.lon if where else None,
                    address=where.address if where else None,
                    kelurahan_code=where.kelurahan_code if where else None,
                    confidential=w.message.confidential, external_ref=w.message.external_ref)
                self.hook.kanal_report_created(report=w.report, message=w.message, uow=uow)
            rows = [{**{c: getattr(w.report, c) for c in _REPORT_COLUMNS}, "updated_at": now}
                    for w in fresh]
            try:
                with conn.begin_nested():
                    insert_rows(conn, report_t, rows)
                return uow
            except IntegrityError as exc:
                if "tracking_id" not in str(exc.orig).lower():
                    raise
                log.info("tracking ID collision (attempt %d), drawing again", attempt + 1)
        raise RuntimeError("could not draw unique tracking IDs")

    def _draw(self, count: int) -> list[str]:
        """Fresh tracking IDs, distinct within the batch; the unique index catches a clash
        with an existing report (then the batch draws again)."""
        drawn: dict[str, None] = {}
        while len(drawn) < count:
            drawn[tracking.generate(self.randbelow)] = None
        return list(drawn)

    # -- messages ----------------------------------------------------------------------

    def _insert_messages(self, conn: Connection, work: list[Work], now: datetime) -> None:
        ids = allocate_ids(conn, message_t, len(work))
        rows, files = [], []
        for w, message_id in zip(work, ids):
            w.message_id = message_id
            m = w.message
            rows.append({
                "id": message_id, "report_id": w.report_id,
                "direction": "out" if w.intent == "staff_reply" else "in",
                "channel": m.channel, "external_id": m.external_id, "inbox_id": w.row.id,
                "reporter_id": w.reporter_id, "kind": w.message_kind,
                "subject": m.subject, "text": m.text, "thread_refs": m.thread_refs or None,
                "delivery": "sent" if w.intent == "staff_reply" else None,
                "sent_at": m.received_at, "created_at": now,
            })
            files.extend({
                "message_id": message_id, "report_id": w.report_id,
                "media_type": f.media_type, "size": f.size, "sha256": f.sha256,
                "path": f.path, "source_url": f.source_url, "filename": f.filename,
                "created_at": now,
            } for f in m.attachments)
        insert_rows(conn, message_t, rows)
        insert_rows(conn, attachment_t, files)
        follow_ups = [{"_id": w.target[0], "updated_at": now}
                      for w in work if w.target and w.intent in ("report", "edit")]
        if follow_ups:
            conn.execute(update(report_t).where(report_t.c.id == bindparam("_id"))
                         .values(updated_at=bindparam("updated_at")), follow_ups)
        # a follow-up may ask for confidentiality (LAPOR!'s "rahasia" set later); it is
        # never lifted that way
        hidden = [{"_id": w.target[0]} for w in work
                  if w.target and w.intent == "report" and w.message.confidential]
        if hidden:
            conn.execute(update(report_t).where(report_t.c.id == bindparam("_id"))
                         .values(confidential=True), hidden)

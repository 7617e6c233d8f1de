"""inbox -> normalize -> thread -> report + tracking ID -> hand-off -> acknowledgement.

One batch of committed inbox rows is processed in one transaction with bulk statements,
so the same code serves a single web request and a drain of 50,000 queued payloads.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from core import tracking
from core.adapter import Adapter, InboxRecord
from core.canonical import InboundMessage, IngestResult, Location, Sender
from core.models import (
    Attachment, CaseEvent, InboxItem, Message, OutboxItem, Report, Reporter, ReporterIdentity,
    utcnow,
)
from core.unit import NewReport, UnitOfWork

log = logging.getLogger(__name__)

inbox_t = InboxItem.__table__
report_t = Report.__table__
reporter_t = Reporter.__table__
identity_t = ReporterIdentity.__table__
message_t = Message.__table__
attachment_t = Attachment.__table__
event_t = CaseEvent.__table__
outbox_t = OutboxItem.__table__

MAX_ID_ATTEMPTS = 8


@dataclass(slots=True, eq=False)
class _Work:
    row: InboxRecord
    message: InboundMessage
    reporter_id: int | None = None
    report: NewReport | None = None
    follow_up_of: tuple[int, str, str] | None = None  # (report id, tracking id, status)
    message_id: int | None = None


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

    # -- entry point -------------------------------------------------------------------

    def process(self, conn: Connection, rows: Sequence[InboxRecord]) -> dict[int, IngestResult]:
        """Process claimed inbox rows inside the caller's transaction."""
        now = self.clock()
        results: dict[int, IngestResult] = {}
        work: list[_Work] = []
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
                results[row.id] = IngestResult(
                    inbox_id=row.id, tracking_id=None, status=None, created=False,
                    quarantined=True, error=reason,
                )
                continue
            message.inbox_id = row.id
            if message.received_at is None:
                message.received_at = row.received_at
            work.append(_Work(row, message))

        if quarantined:
            conn.execute(
                update(inbox_t)
                .where(inbox_t.c.id == bindparam("_id"))
                .values(status="quarantined", error=bindparam("error"), processed_at=now,
                        attempts=inbox_t.c.attempts + 1),
                quarantined,
            )
        if not work:
            return results

        self._resolve_reporters(conn, work, now)
        self._thread(conn, work)
        uow = UnitOfWork(now=now)
        self._create_reports(conn, work, now, uow)
        self._insert_messages(conn, work, now)
        self._acknowledge(conn, work, now)
        self._flush(conn, uow)

        conn.execute(
            update(inbox_t)
            .where(inbox_t.c.id == bindparam("_id"))
            .values(status="processed", processed_at=now, error=None,
                    attempts=inbox_t.c.attempts + 1, report_id=bindparam("report_id"),
                    message_id=bindparam("message_id")),
            [
                {"_id": w.row.id, "report_id": self._report_id(w), "message_id": w.message_id}
                for w in work
            ],
        )
        for w in work:
            report_id, tracking_id, status = (
                (w.report.id, w.report.tracking_id, w.report.status) if w.report
                else w.follow_up_of
            )
            results[w.row.id] = IngestResult(
                inbox_id=w.row.id, tracking_id=tracking_id, status=status,
                created=w.report is not None, follow_up=w.report is None,
            )
        return results

    @staticmethod
    def _report_id(w: _Work) -> int:
        return w.report.id if w.report else w.follow_up_of[0]

    # -- reporters ---------------------------------------------------------------------

    def _resolve_reporters(self, conn: Connection, work: list[_Work], now: datetime) -> None:
        def handles(m: InboundMessage) -> list[Sender]:
            return [s for s in (m.sender, *m.also_known_as) if s and s.handle]

        keys = {(s.kind, s.handle) for w in work for s in handles(w.message)}
        known: dict[tuple[str, str], int] = {}
        if keys:
            for chunk in _chunks(sorted(keys), 400):
                for kind, handle, reporter_id in conn.execute(
                    select(identity_t.c.kind, identity_t.c.handle, identity_t.c.reporter_id)
                    .where(tuple_(identity_t.c.kind, identity_t.c.handle).in_(chunk))
                ):
                    known[(kind, handle)] = reporter_id

        # who is new: one new reporter per group of handles first seen in this batch
        new_people: list[dict] = []
        pending: dict[tuple[str, str], int] = {}  # handle -> index into new_people
        owners: list[tuple[_Work, int | None, int | None]] = []
        for w in work:
            senders = handles(w.message)
            found = next((known[(s.kind, s.handle)] for s in senders
                          if (s.kind, s.handle) in known), None)
            index = None
            if found is None and senders:
                index = next((pending[(s.kind, s.handle)] for s in senders
                              if (s.kind, s.handle) in pending), None)
                if index is None:
                    index = len(new_people)
                    new_people.append({"display_name": senders[0].display_name,
                                       "created_at": now})
                for s in senders:
                    pending.setdefault((s.kind, s.handle), index)
            owners.append((w, found, index))

        new_ids: list[int] = []
        if new_people:
            new_ids = list(conn.execute(
                insert(reporter_t).returning(reporter_t.c.id, sort_by_parameter_order=True),
                new_people,
            ).scalars())

        identities: list[dict] = []
        for w, found, index in owners:
            reporter_id = found if found is not None else (
                new_ids[index] if index is not None else None)
            w.reporter_id = reporter_id
            if reporter_id is None:
                continue
            for s in handles(w.message):
                key = (s.kind, s.handle)
                if key not in known:
                    known[key] = reporter_id
                    identities.append({"reporter_id": reporter_id, "kind": s.kind,
                                       "handle": s.handle, "channel": w.message.channel,
                                       "created_at": now})
        if identities:
            conn.execute(insert(identity_t), identities)

    # -- threading ---------------------------------------------------------------------

    def _thread(self, conn: Connection, work: list[_Work]) -> None:
        """A message naming a tracking ID of its own reporter's report is a follow-up."""
        mentioned: dict[_Work, list[str]] = {}
        for w in work:
            if w.reporter_id is None:
                continue
            text = " ".join(filter(None, (w.message.subject, w.message.text)))
            ids = list(tracking.find_in_text(text))
            refs = [r for r in w.message.thread_refs if r]
            if ids or refs:
                mentioned[w] = ids + refs
        if not mentioned:
            return
        wanted = sorted({t for ids in mentioned.values() for t in ids})
        found: dict[str, tuple[int, str, str, int | None]] = {}
        for chunk in _chunks(wanted, 400):
            for rid, tid, status, reporter_id in conn.execute(
                select(report_t.c.id, report_t.c.tracking_id, report_t.c.status,
                       report_t.c.reporter_id).where(report_t.c.tracking_id.in_(chunk))
            ):
                found[tid] = (rid, tid, status, reporter_id)
        # provider thread references (email Message-ID, reply-to tweet) of earlier messages
        refs = sorted({r for w in mentioned for r in w.message.thread_refs if r})
        by_ref: dict[tuple[str, str], tuple[int, str, str, int | None]] = {}
        for chunk in _chunks(refs, 400):
            for channel, ext, rid, tid, status, reporter_id in conn.execute(
                select(message_t.c.channel, message_t.c.external_id, report_t.c.id,
                       report_t.c.tracking_id, report_t.c.status, report_t.c.reporter_id)
                .join(report_t, report_t.c.id == message_t.c.report_id)
                .where(message_t.c.external_id.in_(chunk))
            ):
                by_ref[(channel, ext)] = (rid, tid, status, reporter_id)
        for w, ids in mentioned.items():
            for ref in ids:
                hit = found.get(ref) or by_ref.get((w.message.channel, ref))
                if hit and hit[3] == w.reporter_id:
                    w.follow_up_of = hit[:3]
                    break

    # -- reports -----------------------------------------------------------------------

    def _create_reports(self, conn: Connection, work: list[_Work], now: datetime,
                        uow: UnitOfWork) -> list[NewReport]:
        fresh = [w for w in work if w.follow_up_of is None]
        if not fresh:
            return []
        rows = []
        for w in fresh:
            m = w.message
            category = m.category or self.hook.kanal_classify(message=m)
            located = _merge_location(self.hook.kanal_locate(message=m), m.location)
            rows.append({
                "status": "Menunggu", "category": category, "channel": m.channel,
                "official_channel": m.official_channel, "reporter_id": w.reporter_id,
                "lat": located.lat if located else None,
                "lon": located.lon if located else None,
                "address": located.address if located else None,
                "kelurahan_code": located.kelurahan_code if located else None,
                "created_at": now, "updated_at": now,
            })
        ids = self._insert_with_tracking_ids(conn, rows)
        created = []
        for w, row, report_id in zip(fresh, rows, ids):
            w.report = NewReport(
                id=report_id, tracking_id=row["tracking_id"], channel=row["channel"],
                official_channel=row["official_channel"], created_at=now,
                category=row["category"], reporter_id=row["reporter_id"], lat=row["lat"],
                lon=row["lon"], address=row["address"], kelurahan_code=row["kelurahan_code"],
            )
            created.append(w.report)
        for w in fresh:
            before = w.report.routing()
            self.hook.kanal_report_created(report=w.report, message=w.message, uow=uow)
            if w.report.routing() != before:
                uow.changed_reports.append(w.report)
        return created

    def _insert_with_tracking_ids(self, conn: Connection, rows: list[dict]) -> list[int]:
        """Insert reports with fresh tracking IDs; a collision (another process, or bad luck)
        rolls back to a savepoint and draws new IDs for the whole batch."""
        stmt = insert(report_t).returning(report_t.c.id, sort_by_parameter_order=True)
        for attempt in range(MAX_ID_ATTEMPTS):
            drawn: set[str] = set()
            for row in rows:
                tid = tracking.generate(self.randbelow)
                while tid in drawn:
                    tid = tracking.generate(self.randbelow)
                drawn.add(tid)
                row["tracking_id"] = tid
            try:
                with conn.begin_nested():
                    return list(conn.execute(stmt, rows).scalars())
            except IntegrityError as exc:
                if "tracking_id" not in str(exc.orig).lower() and attempt == 0:
                    # not obviously a tracking-ID clash; still retry once, then give up
                    log.warning("report insert failed, retrying with new IDs: %s", exc.orig)
                log.info("tracking ID collision (attempt %d), drawing again", attempt + 1)
        raise RuntimeError("could not draw unique tracking IDs")

    # -- messages ----------------------------------------------------------------------

    def _insert_messages(self, conn: Connection, work: list[_Work], now: datetime) -> None:
        rows = [{
            "report_id": self._report_id(w), "direction": "in", "channel": w.message.channel,
            "external_id": w.message.external_id, "inbox_id": w.row.id,
            "reporter_id": w.reporter_id,
            "kind": "complaint" if w.report else "follow_up",
            "subject": w.message.subject, "text": w.message.text,
            "thread_refs": w.message.thread_refs or None, "delivery": None,
            "sent_at": w.message.received_at, "created_at": now,
        } for w in work]
        ids = conn.execute(
            insert(message_t).returning(message_t.c.id, sort_by_parameter_order=True), rows
        ).scalars()
        files = []
        for w, message_id in zip(work, ids):
            w.message_id = message_id
            for f in w.message.attachments:
                files.append({
                    "message_id": message_id, "report_id": self._report_id(w),
                    "media_type": f.media_type, "size": f.size, "sha256": f.sha256,
                    "path": f.path, "source_url": f.source_url, "filename": f.filename,
                    "created_at": now,
                })
        if files:
            conn.execute(insert(attachment_t), files)
        follow_ups = [{"_id": w.follow_up_of[0], "updated_at": now}
                      for w in work if w.follow_up_of]
        if follow_ups:
            conn.execute(update(report_t).where(report_t.c.id == bindparam("_id"))
                         .values(updated_at=bindparam("updated_at")), follow_ups)

    def _acknowledge(self, conn: Connection, work: list[_Work], now: datetime) -> None:
        """The acknowledgement with the tracking ID, through the outbox unless the channel
        answers inline (then it is recorded as delivered in the HTTP answer)."""
        inline, queued = [], []
        for w in work:
            adapter = self.adapters[w.message.channel]
            if w.report is not None:
                kind, report = "ack", w.report
            else:
                rid, tid, status = w.follow_up_of
                kind = "follow_up_ack"
                report = NewReport(id=rid, tracking_id=tid, status=status,
                                   channel=w.message.channel,
                                   official_channel=w.message.official_channel, created_at=now)
            text = self.hook.kanal_format_outbound(kind=kind, report=report,
                                                   language=self.language)
            if not text:
                continue
            row = {"report_id": report.id, "direction": "out", "channel": w.message.channel,
                   "external_id": None, "inbox_id": None, "reporter_id": None, "kind": kind,
                   "subject": None, "text": text, "thread_refs": None, "created_at": now,
                   "sent_at": None}
            if adapter.replies_inline:
                inline.append({**row, "delivery": "delivered_inline", "sent_at": now})
            elif w.message.sender is not None:
                queued.append((w, {**row, "delivery": "queued"}))
        if inline:
            conn.execute(insert(message_t), inline)
        if queued:
            ids = conn.execute(
                insert(message_t).returning(message_t.c.id, sort_by_parameter_order=True),
                [row for _, row in queued],
            ).scalars()
            conn.execute(insert(outbox_t), [{
                "channel": w.message.channel, "report_id": row["report_id"],
                "message_id": message_id, "recipient": w.message.sender.handle,
                "kind": row["kind"], "text": row["text"], "reply_to": w.message.external_id,
                "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
            } for (w, row), message_id in zip(queued, ids)])

    def _flush(self, conn: Connection, uow: UnitOfWork) -> None:
        changed = uow.changed_reports
        if changed:
            conn.execute(
                update(report_t).where(report_t.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in NewReport.MUTABLE}),
                [{"_id": r.id, **{n: getattr(r, n) for n in NewReport.MUTABLE}}
                 for r in changed],
            )
        if uow.case_events:
            conn.execute(insert(event_t), [{
                "report_id": e.report_id, "kind": e.kind, "status": e.status, "note": e.note,
                "actor": e.actor, "public": e.public, "created_at": uow.now,
            } for e in uow.case_events])


def _merge_location(found: Location | None, given: Location | None) -> Location | None:
    """A plugin's answer, with the citizen's point and address kept where it has none."""
    if found is None or given is None:
        return found or given
    return Location(
        lat=found.lat if found.lat is not None else given.lat,
        lon=found.lon if found.lon is not None else given.lon,
        address=found.address or given.address,
        kelurahan_code=found.kelurahan_code or given.kelurahan_code,
    )


def _chunks(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]

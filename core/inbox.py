"""The durable inbox: raw payloads in, claimed in batches, replayable; quarantined payloads
replayed or discarded by staff (``replay_one``, ``discard``), each audited."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core import audit
from core.adapter import Envelope, InboxRecord
from core.canonical import IngestResult
from core.bulk import insert_rows
from core.dbguard import is_outage
from core.errors import ApiError
from core.db import allocate_ids, lookup_pairs, write_lock, writing
from core.models import InboxItem, Report, utcnow
from core.pipeline import Pipeline

log = logging.getLogger(__name__)
inbox_t = InboxItem.__table__
report_t = Report.__table__
_RECORD_COLS = (inbox_t.c.id, inbox_t.c.channel, inbox_t.c.external_id, inbox_t.c.content_type,
                inbox_t.c.payload, inbox_t.c.received_at)


def _existing(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Inbox ids of (channel, external_id) keys already stored."""
    return lookup_pairs(conn, inbox_t.c.channel, inbox_t.c.external_id, inbox_t.c.id, keys)


def write(conn: Connection, envelopes: Sequence[Envelope],
          now: datetime | None = None) -> list[tuple[int, bool]]:
    """Commit-ready insert of raw payloads; returns (inbox id, is_new) per envelope.

    (channel, external_id) is unique: a redelivery, also one racing in from another
    process, maps to the row that is already there.
    """
    now = now or utcnow()
    write_lock(conn, "inbox_item")
    keys = [(e.channel, e.external_id) for e in envelopes]
    fresh = dict(zip(keys, envelopes))  # a key twice in one batch is stored once
    existing: dict[tuple[str, str], int] = {}
    new_keys: set[tuple[str, str]] = set()
    rows = {key: {"channel": e.channel, "external_id": e.external_id,
                  "content_type": e.content_type, "payload": e.payload,
                  "received_at": e.received_at, "ingested_at": now, "status": "pending",
                  "attempts": 0} for key, e in fresh.items()}
    try:  # optimistic: redeliveries are rare, and the unique index finds them
        with conn.begin_nested():
            ids = allocate_ids(conn, inbox_t, len(rows))
            insert_rows(conn, inbox_t, [{"id": i, **row} for i, row in zip(ids, rows.values())])
        existing.update(zip(rows, ids))
        new_keys.update(rows)
    except IntegrityError:
        existing = _existing(conn, list(rows))
        for key, row in rows.items():
            if key in existing:
                continue
            try:  # one at a time: another process may be committing the same keys
                with conn.begin_nested():
                    existing[key] = conn.execute(
                        insert(inbox_t).returning(inbox_t.c.id), row).scalar_one()
                    new_keys.add(key)
            except IntegrityError:
                existing[key] = _existing(conn, [key])[key]
    out, reported = [], set()
    for key in keys:
        is_new = key in new_keys and key not in reported
        reported.add(key)
        out.append((existing[key], is_new))
    return out


def claim(conn: Connection, *, ids: Sequence[int] | None = None, limit: int | None = None,
          skip_locked: bool = True, channels: Sequence[str] | None = None) -> list[InboxRecord]:
    """Lock pending rows for processing: FOR UPDATE on PostgreSQL, the write lock on SQLite."""
    write_lock(conn, "inbox_item")
    stmt = select(*_RECORD_COLS).where(inbox_t.c.status == "pending").order_by(inbox_t.c.id)
    if ids is not None:
        stmt = stmt.where(inbox_t.c.id.in_(list(ids)))
    if channels is not None:
        stmt = stmt.where(inbox_t.c.channel.in_(list(channels)))
    if limit is not None:
        stmt = stmt.limit(limit)
    stmt = stmt.with_for_update(skip_locked=skip_locked)
    return [InboxRecord(*row) for row in conn.execute(stmt)]


def outcomes(conn: Connection, inbox_ids: Sequence[int]) -> dict[int, IngestResult]:
    """What already happened to these inbox rows (for duplicate deliveries)."""
    out: dict[int, IngestResult] = {}
    stmt = (
        select(inbox_t.c.id, inbox_t.c.status, inbox_t.c.error, report_t.c.tracking_id,
               report_t.c.status)
        .select_from(inbox_t.outerjoin(report_t, report_t.c.id == inbox_t.c.report_id))
        .where(inbox_t.c.id.in_(list(inbox_ids)))
    )
    for inbox_id, state, error, tid, report_status in conn.execute(stmt):
        out[inbox_id] = IngestResult(
            inbox_id=inbox_id, tracking_id=tid, status=report_status, created=False,
            quarantined=state == "quarantined", error=error,
        )
    return out


def quarantine(conn: Connection, inbox_id: int, error: str,
               now: datetime | None = None) -> None:
    write_lock(conn, "inbox_item")
    conn.execute(update(inbox_t).where(inbox_t.c.id == inbox_id).values(
        status="quarantined", error=error[:2000], processed_at=now or utcnow(),
        attempts=inbox_t.c.attempts + 1))


def process(engine: Engine, pipeline: Pipeline, **claim_args
            ) -> tuple[list[InboxRecord], dict[int, IngestResult]]:
    """Claim and process a batch in one transaction. When the batch fails (a plugin raised,
    say), each row is tried alone, and a row that fails alone is quarantined with the
    error, so one bad payload never holds up the others."""
    rows: list[InboxRecord] = []
    try:
        with writing(engine) as conn:
            rows = claim(conn, **claim_args)
            return rows, (pipeline.process(conn, rows) if rows else {})
    except Exception as exc:
        if not rows or is_outage(exc):  # the rows stay pending; the sweep tries again
            raise
        log.exception("a batch of %d inbox rows failed; trying them one by one", len(rows))
    results: dict[int, IngestResult] = {}
    single = {k: v for k, v in claim_args.items() if k == "skip_locked"}
    for row in rows:
        try:
            with writing(engine) as conn:
                one = claim(conn, ids=[row.id], **single)
                results.update(pipeline.process(conn, one) if one else {})
        except Exception as exc:
            if is_outage(exc):  # not the payload's fault: it must not be quarantined
                raise
            error = f"pipeline: {type(exc).__name__}: {exc}"
            log.warning("inbox %s quarantined: %s", row.id, error)
            with writing(engine) as conn:
                quarantine(conn, row.id, error)
            results[row.id] = IngestResult(inbox_id=row.id, tracking_id=None, status=None,
                                           created=False, quarantined=True, error=error)
    return rows, results


def drain(engine: Engine, pipeline: Pipeline, *, batch_size: int = 500,
          channels: Sequence[str] | None = None, max_batches: int | None = None) -> int:
    """Process pending inbox rows until none are left; returns how many were processed.
    Rows of channels that are not running stay pending."""
    if channels is None:
        channels = list(pipeline.adapters)
    done = batches = 0
    while max_batches is None or batches < max_batches:
        rows, _ = process(engine, pipeline, limit=batch_size, channels=channels)
        if not rows:
            break
        done += len(rows)
        batches += 1
    return done


# -- staff actions on quarantined payloads (the console's and the CLI's) -----------------


def item(conn: Connection, item_id: int):
    """One inbox row with its payload, or None."""
    return conn.execute(select(inbox_t).where(inbox_t.c.id == item_id)).first()


def quarantined(conn: Connection, *, channel: str | None = None, limit: int = 50,
                before: int | None = None) -> list[dict]:
    """Quarantined rows without their payloads, newest first; page on with ``before``."""
    stmt = (select(inbox_t.c.id, inbox_t.c.channel, inbox_t.c.external_id,
                   inbox_t.c.content_type, inbox_t.c.received_at, inbox_t.c.ingested_at,
                   inbox_t.c.processed_at, inbox_t.c.attempts, inbox_t.c.error)
            .where(inbox_t.c.status == "quarantined").order_by(inbox_t.c.id.desc())
            .limit(limit))
    if channel:
        stmt = stmt.where(inbox_t.c.channel == channel)
    if before is not None:
        stmt = stmt.where(inbox_t.c.id < before)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def _quarantined_row(conn: Connection, item_id: int):
    """The row, locked, when it is quarantined; else ApiError 404 (no such row) or 409
    (replayed, discarded or processed meanwhile): a stale action changes nothing."""
    write_lock(conn, "inbox_item")
    row = conn.execute(select(inbox_t.c.id, inbox_t.c.channel, inbox_t.c.status,
                              inbox_t.c.error).where(inbox_t.c.id == item_id)
                       .with_for_update()).first()
    if row is None:
        raise ApiError(404, "not_found", f"no inbox item {item_id}")
    if row.status != "quarantined":
        raise ApiError(409, "not_quarantined",
                       f"inbox item {item_id} is {row.status}, not quarantined", state=row.status)
    return row


def replay_one(engine: Engine, pipeline: Pipeline, item_id: int, *, actor: str,
               now: datetime | None = None) -> IngestResult:
    """Run a quarantined payload through the pipeline again, audited as ``replay``: it
    becomes a report (or a follow-up), or is quarantined again with the new reason.
    Refused (409) while its channel is not running: the row would only wait as pending."""
    with writing(engine) as conn:
        row = _quarantined_row(conn, item_id)
        if row.channel not in pipeline.adapters:
            raise ApiError(409, "channel_not_running",
                           f"channel {row.channel} is not running", state="quarantined")
        conn.execute(update(inbox_t).where(inbox_t.c.id == item_id)
                     .values(status="pending", error=None))
        audit.record(conn, actor, "replay", channel=row.channel, old=row.error,
                     detail=f"inbox {item_id}", now=now)
    process(engine, pipeline, ids=[item_id])
    with engine.connect() as conn:
        return outcomes(conn, [item_id])[item_id]


def discard(conn: Connection, item_id: int, reason: str, *, actor: str,
            now: datetime | None = None) -> None:
    """Give up on a quarantined payload: status ``discarded``, the payload kept (never
    deleted), the reason in the audit trail and on the row."""
    reason = reason.strip()
    if not reason:
        raise ApiError(422, "reason_required", "a reason is required to discard a payload")
    row = _quarantined_row(conn, item_id)
    # the quarantine reason stays on the row; the discard's reason is in the trail
    conn.execute(update(inbox_t).where(inbox_t.c.id == item_id).values(
        status="discarded", processed_at=now or utcnow()))
    audit.record(conn, actor, "discard", channel=row.channel, old=row.error, new=reason,
                 detail=f"inbox {item_id}", now=now)

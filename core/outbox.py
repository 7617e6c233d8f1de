"""The outbox dispatcher: sends queued messages through their channel's adapter, with
retries, back-off with jitter, a per-channel rate limit and a record of every attempt;
dead items queued again by staff (``retry_one``, audited) or the CLI (``retry``)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, exists, select, update

from core import audit
from core.adapter import Adapter, PermanentSendError, RetryLater
from core.canonical import OutboundMessage
from core.db import write_lock, writing
from core.errors import ApiError
from core.health import record_health
from core.metrics import Observer
from core.models import Message, OutboxItem, Report, as_utc, utcnow

log = logging.getLogger(__name__)
outbox_t = OutboxItem.__table__
earlier = outbox_t.alias("earlier")
message_t = Message.__table__
report_t = Report.__table__


def backoff(attempts: int, base: float, cap: float, jitter: Callable[[], float]) -> timedelta:
    """Exponential back-off with jitter: base·2^(n-1), capped, then scaled by 0.5–1."""
    delay = min(cap, base * 2 ** (attempts - 1))
    return timedelta(seconds=delay * (0.5 + jitter() / 2))


class TokenBucket:
    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = burst, clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        adapters: Mapping[str, Adapter],
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 8,
        base_delay: float = 5.0,
        max_delay: float = 3600.0,
        lease_seconds: float = 120.0,
        jitter: Callable[[], float] = random.random,
        observer: Observer | None = None,
    ):
        self.engine = engine
        # told of every send tried (the runtime's metrics)
        self.observer = observer or Observer()
        self.adapters = adapters
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = timedelta(seconds=lease_seconds)
        self.jitter = jitter
        self.throttled: set[str] = set()
        # per channel, made on first send (channels come and go while kanal runs)
        self.buckets: dict[str, TokenBucket] = {}

    def bucket(self, channel: str) -> TokenBucket:
        adapter = self.adapters.get(channel)
        rate = adapter.send_rate if adapter is not None else 1.0
        bucket = self.buckets.get(channel)
        if bucket is None or bucket.rate != rate:  # new, or its rate was changed
            bucket = self.buckets[channel] = TokenBucket(rate, max(1.0, rate))
        return bucket

    def pause(self) -> float | None:
        """When items wait for a rate limit only: seconds until the next token."""
        if not self.throttled:
            return None
        return max(0.01, min(1.0 / self.bucket(c).rate for c in self.throttled))

    def backoff(self, attempts: int) -> timedelta:
        return backoff(attempts, self.base_delay, self.max_delay, self.jitter)

    def _failed(self, row, attempts: int, exc: Exception) -> None:
        """Back off and try again later, or give up: after ``max_attempts``, or at once
        when the adapter says retrying cannot help."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        dead = attempts >= self.max_attempts or isinstance(exc, PermanentSendError)
        delay = self.backoff(attempts)
        if isinstance(exc, RetryLater):  # the provider's Retry-After
            delay = max(delay, timedelta(seconds=exc.seconds))
        now = self.clock()
        log.warning("outbox %s on %s failed (attempt %d%s): %s", row.id, row.channel,
                    attempts, ", giving up" if dead else "", error)
        with writing(self.engine) as conn:
            conn.execute(update(outbox_t).where(outbox_t.c.id == row.id).values(
                attempts=attempts, last_error=error, status="dead" if dead else "pending",
                next_attempt_at=now + delay))
            if dead and row.message_id:
                conn.execute(update(message_t).where(message_t.c.id == row.message_id)
                             .values(delivery="failed"))
            record_health(conn, row.channel, ok=False, error=f"send: {error}", now=now)
        self.observer.ack(row.channel, "dead" if dead else "retry")

    def run_once(self, limit: int = 100) -> int:
        """Send what is due; returns how many items were attempted."""
        sendable = [c for c, a in self.adapters.items() if a.sends]
        if not sendable:
            return 0
        now = self.clock()
        with writing(self.engine) as conn:
            write_lock(conn, "outbox_item")
            rows = conn.execute(
                select(outbox_t.c.id, outbox_t.c.channel, outbox_t.c.recipient,
                       outbox_t.c.text, outbox_t.c.kind, outbox_t.c.reply_to,
                       outbox_t.c.attempts, outbox_t.c.message_id, outbox_t.c.created_at,
                       report_t.c.tracking_id)
                .select_from(outbox_t.outerjoin(report_t,
                                                report_t.c.id == outbox_t.c.report_id))
                .where(outbox_t.c.status == "pending", outbox_t.c.next_attempt_at <= now,
                       outbox_t.c.channel.in_(sendable), ~exists().where(
                           # one recipient's messages go out in the order they were
                           # written: none overtakes an earlier one that waits to be
                           # retried, or that another dispatcher is sending
                           earlier.c.channel == outbox_t.c.channel,
                           earlier.c.recipient == outbox_t.c.recipient,
                           earlier.c.status == "pending", earlier.c.id < outbox_t.c.id,
                           earlier.c.next_attempt_at > now))
                .order_by(outbox_t.c.next_attempt_at, outbox_t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=outbox_t)
            ).all()
            rows = sorted(rows, key=lambda r: r.id)  # written first, sent first
            allowed = [r for r in rows if self.bucket(r.channel).take()]
            self.throttled = {r.channel for r in rows} - {r.channel for r in allowed}
            rows = allowed
            if rows:  # lease: another dispatcher leaves them alone while we send
                conn.execute(update(outbox_t).where(outbox_t.c.id.in_([r.id for r in rows]))
                             .values(next_attempt_at=now + self.lease))
        failed: set[tuple[str, str]] = set()
        held = []
        for row in rows:
            if (row.channel, row.recipient) in failed:
                held.append(row.id)  # behind its recipient's earlier one, now retrying
            elif not self._send(row):
                failed.add((row.channel, row.recipient))
        if held:  # due again at once, and waiting for the earlier one from then on
            with writing(self.engine) as conn:
                conn.execute(update(outbox_t).where(outbox_t.c.id.in_(held))
                             .values(next_attempt_at=now))
        return len(rows) - len(held)

    def _send(self, row) -> bool:
        """Send one item; False when it failed (retried later or given up)."""
        adapter = self.adapters.get(row.channel)
        if adapter is None:
            return False  # disabled since it was picked: sent once the channel is back
        message = OutboundMessage(
            outbox_id=row.id, channel=row.channel, recipient=row.recipient, text=row.text,
            kind=row.kind, tracking_id=row.tracking_id, reply_to=row.reply_to,
        )
        attempts = row.attempts + 1
        try:
            result = adapter.send(message)
        except Exception as exc:
            self._failed(row, attempts, exc)
            return False
        now = self.clock()
        with writing(self.engine) as conn:
            conn.execute(update(outbox_t).where(outbox_t.c.id == row.id).values(
                attempts=attempts, status="sent", sent_at=now, last_error=None,
                provider_message_id=result.provider_message_id if result else None))
            if row.message_id:
                conn.execute(update(message_t).where(message_t.c.id == row.message_id).values(
                    delivery="sent", sent_at=now,
                    external_id=result.provider_message_id if result else None))
            record_health(conn, row.channel, ok=True, now=now)
        self.observer.ack(row.channel, "sent", (now - as_utc(row.created_at)).total_seconds())
        return True


# delivery reports arrive out of order; a message only moves forward along this scale
_DELIVERY_RANK = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3,
                  "read": 4, "undelivered": 5, "failed": 5}


def record_delivery(conn: Connection, channel: str, provider_message_id: str,
                    status: str):
    """A provider's delivery report (Twilio's MessageStatus, an email bounce) for a
    message we sent: that message's row (``id``, ``report_id``), or None when no outbound
    message of that channel has that provider id. A late "sent" never overwrites
    "delivered", and "failed" is final."""
    where = (message_t.c.channel == channel, message_t.c.direction == "out",
             message_t.c.external_id == provider_message_id)
    current = conn.execute(select(message_t.c.id, message_t.c.report_id,
                                  message_t.c.delivery).where(*where)).first()
    if current is None:
        return None
    status = status.lower()[:32]
    if _DELIVERY_RANK.get(status, 0) >= _DELIVERY_RANK.get(current.delivery or "", 0):
        conn.execute(update(message_t).where(message_t.c.id == current.id)
                     .values(delivery=status))
    return current


def record_refusal(conn: Connection, channel: str, provider_message_id: str,
                   reason: str) -> bool:
    """A provider that took a message and later said it will never deliver it (Twilio's
    status callback with error 63016, outside WhatsApp's 24-hour window): the outbox item
    becomes dead with the provider's reason, as a refusal at send time would have made it,
    so staff see it among the failures and may queue it again once the citizen writes.
    False when no sent item of that channel has that provider id."""
    return conn.execute(update(outbox_t).where(
        outbox_t.c.channel == channel, outbox_t.c.provider_message_id == provider_message_id,
        outbox_t.c.status == "sent").values(status="dead", last_error=reason[:2000])
    ).rowcount > 0


def retry(conn: Connection, ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Put dead outbox items (or the given ones) back in the queue; returns how many."""
    stmt = update(outbox_t).values(status="pending", attempts=0,
                                   next_attempt_at=now or utcnow(), last_error=None)
    stmt = stmt.where(outbox_t.c.id.in_(ids)) if ids else stmt.where(outbox_t.c.status == "dead")
    return conn.execute(stmt.where(outbox_t.c.status != "sent")).rowcount


def troubled(conn: Connection, *, channel: str | None = None, limit: int = 50,
             before: int | None = None) -> list[dict]:
    """Dead items and pending ones that have failed at least once, newest first."""
    stmt = (select(outbox_t.c.id, outbox_t.c.channel, outbox_t.c.recipient, outbox_t.c.kind,
                   outbox_t.c.status, outbox_t.c.attempts, outbox_t.c.last_error,
                   outbox_t.c.next_attempt_at, outbox_t.c.created_at, report_t.c.tracking_id)
            .select_from(outbox_t.outerjoin(report_t, report_t.c.id == outbox_t.c.report_id))
            .where((outbox_t.c.status == "dead")
                   | ((outbox_t.c.status == "pending") & (outbox_t.c.attempts > 0)))
            .order_by(outbox_t.c.id.desc()).limit(limit))
    if channel:
        stmt = stmt.where(outbox_t.c.channel == channel)
    if before is not None:
        stmt = stmt.where(outbox_t.c.id < before)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def retry_one(conn: Connection, item_id: int, *, actor: str,
              now: datetime | None = None) -> None:
    """Queue one dead item again, audited as ``retry``; ApiError 404 for no such item,
    409 for one that is not dead (sent, or already queued again): nothing changes."""
    write_lock(conn, "outbox_item")
    row = conn.execute(select(outbox_t.c.channel, outbox_t.c.status, outbox_t.c.last_error)
                       .where(outbox_t.c.id == item_id).with_for_update()).first()
    if row is None:
        raise ApiError(404, "not_found", f"no outbox item {item_id}")
    if row.status != "dead":
        raise ApiError(409, "not_dead", f"outbox item {item_id} is {row.status}, not dead",
                       state=row.status)
    retry(conn, [item_id], now=now)
    audit.record(conn, actor, "retry", channel=row.channel, old=row.last_error,
                 detail=f"outbox {item_id}", now=now)

"""Media the providers hold (Twilio, Telegram): fetched after the acknowledgement, checked,
stored content-addressed and attached to the message. A failed download is retried with
back-off and recorded; the message itself is never lost."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from core.adapter import Adapter
from core.bulk import insert_rows
from core.canonical import MediaRef
from core.db import allocate_ids, write_lock, writing
from core.models import Attachment, MediaJob, utcnow
from core.outbox import backoff
from core.storage import IMAGE_TYPES, AttachmentStore, UploadError, check_upload

log = logging.getLogger(__name__)
media_t = MediaJob.__table__
attachment_t = Attachment.__table__
# what a citizen may send besides photos: voice notes, short videos, PDFs
MEDIA_TYPES = IMAGE_TYPES | {"audio/ogg", "audio/mpeg", "audio/amr", "audio/mp4", "video/mp4",
                             "video/3gpp", "application/pdf"}


class MediaFetcher:
    def __init__(self, engine: Engine, adapters: Mapping[str, Adapter], store: AttachmentStore,
                 *, max_bytes: int, clock: Callable[[], datetime] = utcnow,
                 max_attempts: int = 6, base_delay: float = 10.0,
                 jitter: Callable[[], float] = random.random):
        self.engine = engine
        self.adapters = adapters
        self.store = store
        self.max_bytes = max_bytes
        self.clock = clock
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.jitter = jitter

    def run_once(self, limit: int = 20) -> int:
        """Fetch what is due; returns how many jobs were attempted."""
        now = self.clock()
        with writing(self.engine) as conn:
            write_lock(conn, "media_job")
            jobs = conn.execute(
                select(media_t).where(media_t.c.status == "pending",
                                      media_t.c.next_attempt_at <= now,
                                      media_t.c.channel.in_(list(self.adapters)))
                .order_by(media_t.c.next_attempt_at, media_t.c.id).limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if jobs:  # lease, so another process leaves them alone meanwhile
                conn.execute(update(media_t).where(media_t.c.id.in_([j.id for j in jobs]))
                             .values(next_attempt_at=now + timedelta(minutes=5)))
        for job in jobs:
            self._fetch(job)
        return len(jobs)

    def _fetch(self, job) -> None:
        attempts = job.attempts + 1
        try:
            data = self.adapters[job.channel].fetch_media(MediaRef(job.url, job.media_type))
            media_type = check_upload(data, filename=None, max_bytes=self.max_bytes,
                                      allowed=MEDIA_TYPES)
            stored = self.store.put(data, media_type)
        except Exception as exc:
            permanent = isinstance(exc, UploadError)  # too large or not media: no retry
            self._failed(job, attempts, exc, permanent)
            return
        now = self.clock()
        with writing(self.engine) as conn:
            [attachment_id] = allocate_ids(conn, attachment_t, 1)
            insert_rows(conn, attachment_t, [{
                "id": attachment_id, "message_id": job.message_id, "report_id": job.report_id,
                "media_type": stored.media_type, "size": stored.size, "sha256": stored.sha256,
                "path": stored.path, "source_url": job.url, "filename": None,
                "created_at": now}])
            conn.execute(update(media_t).where(media_t.c.id == job.id).values(
                status="done", attempts=attempts, attachment_id=attachment_id, done_at=now,
                last_error=None))

    def _failed(self, job, attempts: int, exc: Exception, permanent: bool) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        give_up = permanent or attempts >= self.max_attempts
        delay = backoff(attempts, self.base_delay, 6 * 3600, self.jitter)
        log.warning("media job %s (%s) failed, attempt %d%s: %s", job.id, job.channel,
                    attempts, ", giving up" if give_up else "", error)
        with writing(self.engine) as conn:
            conn.execute(update(media_t).where(media_t.c.id == job.id).values(
                status="failed" if give_up else "pending", attempts=attempts,
                last_error=error, next_attempt_at=self.clock() + delay))

"""FakeChannel: a real adapter with in-memory queues, for tests and demos.

Payloads pushed with ``push`` are picked up by ``poll`` (the scheduler's poll job, or
``Kanal.poll_channel``); ``POST /webhooks/<channel>`` takes the same JSON; messages the
dispatcher sends land in ``sent``. ``fail_sends(n)`` makes the next n sends raise.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from datetime import datetime

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core import tracking
from core.adapter import Adapter, Envelope, InboxRecord, read_payload
from core.canonical import (
    InboundMessage, Location, MediaRef, OutboundMessage, Sender, SendResult,
)
from core.errors import ApiError
from core.hookspecs import hookimpl


class FakePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    sender: str | None = Field(default=None, alias="from", max_length=128)
    name: str | None = None
    text: str = ""
    subject: str | None = None
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    refs: list[str] = Field(default_factory=list)
    # files held "at the provider", fetched after the ack: [{"url": ..., "type": ...}]
    media: list[dict[str, str]] = Field(default_factory=list)
    edit_of: str | None = None  # the id of the message this one edits
    sent_at: datetime | None = None

    @model_validator(mode="after")
    def _something(self) -> FakePayload:
        if not (self.text.strip() or self.media or self.lat is not None):
            raise ValueError("text: a message needs text, media or a location")
        return self


class FakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # a shared secret webhook callers must send as X-Fake-Token, when set
    token: str | None = None


class FakeChannel(Adapter):
    name = "fake"
    sender_kind = "fake"
    Settings = FakeSettings
    polls = True
    keywords = True
    poll_interval_seconds = 1.0
    send_rate_per_second = 1000.0

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.inbound: deque[dict] = deque()
        self.sent: list[OutboundMessage] = []
        self.files: dict[str, bytes] = {}  # what fetch_media serves, by URL
        self._fail = 0
        self._error: Exception | None = None
        self._lock = threading.Lock()
        self._sequence = 0

    # -- test controls -----------------------------------------------------------------

    def push(self, text: str, *, sender: str | None = "user-1", id: str | None = None,
             **fields) -> str:
        with self._lock:
            self._sequence += 1
            message_id = id or f"m{self._sequence}"
            self.inbound.append({"id": message_id, "from": sender, "text": text, **fields})
        return message_id

    def fail_sends(self, count: int, error: Exception | None = None) -> None:
        """The next ``count`` sends raise ``error`` (a ConnectionError by default)."""
        self._fail = count
        self._error = error

    # -- adapter -----------------------------------------------------------------------

    def poll(self, cursor):
        with self._lock:
            items = list(self.inbound)
            self.inbound.clear()
        envelopes = [Envelope(self.channel_id, str(item["id"]),
                              json.dumps(item, default=str).encode()) for item in items]
        position = int(cursor or 0) + len(envelopes)
        return envelopes, str(position)

    async def webhook(self, request: Request):
        if request.method != "POST":
            return None
        if self.settings.token and request.headers.get("x-fake-token") != self.settings.token:
            raise ApiError(401, "bad_signature", "X-Fake-Token does not match")
        body = await request.body()
        try:
            payload = FakePayload.model_validate_json(body)
        except ValidationError as exc:
            raise ApiError(400, "malformed_payload", str(exc.errors()[0]["msg"]))
        result = await self.runtime.ingest(Envelope(self.channel_id, payload.id, body))
        return JSONResponse(status_code=200 if result.duplicate else 201, content={
            "tracking_id": tracking.display(result.tracking_id) if result.tracking_id else None,
            "duplicate": result.duplicate, "follow_up": result.follow_up,
            "quarantined": result.quarantined,
        })

    def normalize(self, item: InboxRecord) -> InboundMessage:
        p = read_payload(FakePayload, item, "fake")
        location = None
        if p.lat is not None or p.address:
            location = Location(lat=p.lat, lon=p.lon, address=p.address)
        return InboundMessage(
            channel=self.channel_id, official_channel=self.official.id,
            external_id=item.external_id, text=p.text, subject=p.subject,
            sender=Sender("fake", p.sender, p.name) if p.sender else None,
            received_at=p.sent_at, category=p.category, location=location,
            thread_refs=[p.edit_of] if p.edit_of else p.refs,
            media=[MediaRef(m["url"], m.get("type")) for m in p.media],
            intent="edit" if p.edit_of else "report",
        )

    def fetch_media(self, ref: MediaRef) -> bytes:
        if ref.url not in self.files:
            raise ConnectionError(f"fake provider has no file at {ref.url}")
        return self.files[ref.url]

    def send(self, message: OutboundMessage) -> SendResult:
        if self._fail > 0:
            self._fail -= 1
            raise self._error or ConnectionError("fake provider is down")
        self.sent.append(message)
        return SendResult(provider_message_id=f"fake-out-{message.outbox_id}")


@hookimpl
def kanal_register_adapters(register):
    register(FakeChannel)

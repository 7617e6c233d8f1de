"""Channel-independent values that flow through the pipeline (not tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Location:
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    kelurahan_code: str | None = None
    # a kecamatan or kota code the report belongs to when no kelurahan is known (a walk-in
    # counter's own area): the report waits in triage within that area
    area_code: str | None = None

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(slots=True)
class StoredFile:
    """An attachment already written to the content-addressed store."""

    media_type: str
    size: int
    sha256: str
    path: str
    filename: str | None = None
    source_url: str | None = None


@dataclass(slots=True)
class MediaRef:
    """A file at the provider, fetched after the acknowledgement (``Adapter.fetch_media``)."""

    url: str
    media_type: str | None = None


@dataclass(slots=True)
class Sender:
    """The reporter's handle on a channel. ``kind`` groups channels that share handles:
    SMS and WhatsApp share ``phone``; every email channel shares ``email``."""

    kind: str
    handle: str
    display_name: str | None = None


@dataclass(slots=True)
class InboundMessage:
    """A provider payload made canonical by its adapter's ``normalize``."""

    channel: str
    official_channel: str
    external_id: str
    text: str
    sender: Sender | None = None
    received_at: datetime | None = None
    subject: str | None = None
    category: str | None = None
    # the category as the client named it, when that is not kanal's id (JAKI's own names)
    source_category: str | None = None
    location: Location | None = None
    attachments: list[StoredFile] = field(default_factory=list)
    thread_refs: list[str] = field(default_factory=list)
    # extra identities of the same person given with the message (phone, email on a form)
    also_known_as: list[Sender] = field(default_factory=list)
    # remote media to fetch after the acknowledgement
    media: list[MediaRef] = field(default_factory=list)
    # where the channel answers the sender when not at the handle itself (a WhatsApp
    # message delivered to an SMS number's webhook: ``whatsapp:+62…``)
    reply_address: str | None = None
    # contacts that also get the answer, on whichever channel serves their kind ("phone":
    # SMS, "email": email), when they asked for it (a walk-in citizen who consented)
    notify: list[Sender] = field(default_factory=list)
    # report (new report or follow-up), status, opt_out, opt_in, start, edit,
    # delivery_report (a provider says a message we sent failed; intent_arg is its id),
    # staff_reply (the channel's own account wrote to ``sender`` outside kanal: recorded
    # as outbound on their latest report on the channel, unless kanal sent it under this
    # external_id) or ignore (kept in the inbox as processed, nothing else; intent_arg
    # says why)
    intent: str = "report"
    intent_arg: str | None = None
    # why kanal must not answer this message automatically (loop protection: an
    # auto-reply, a mailing list, a sender over its acknowledgement limit); it is still
    # processed and threaded like any other
    no_reply: str | None = None
    # the reporter asked that the complaint stay off public pages (LAPOR!'s "rahasia")
    confidential: bool = False
    # the complaint's ID in an outside system that holds it too (its LAPOR! tracking ID)
    external_ref: str | None = None
    inbox_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IngestResult:
    """What the ingestion path tells the channel that delivered a payload."""

    inbox_id: int
    tracking_id: str | None
    status: str | None
    created: bool  # False for a duplicate delivery or a follow-up
    duplicate: bool = False
    follow_up: bool = False
    quarantined: bool = False
    error: str | None = None


@dataclass(slots=True)
class OutboundMessage:
    """One outbox item handed to an adapter's ``send``."""

    outbox_id: int
    channel: str
    recipient: str
    text: str
    kind: str
    tracking_id: str | None = None
    reply_to: str | None = None


@dataclass(slots=True)
class SendResult:
    provider_message_id: str | None = None

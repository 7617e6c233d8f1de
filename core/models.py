"""The canonical model as SQLModel tables. Times are UTC; pages show them in WIB."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, UniqueConstraint, false
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A time read back from the database: SQLite hands back the UTC it stores without
    its zone (None stays None)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


class InboxItem(SQLModel, table=True):
    """A raw provider payload, committed before the provider gets its 2xx."""

    __tablename__ = "inbox_item"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_inbox_channel_external_id"),
        Index("ix_inbox_status", "status", "id"),
        # the health figures: a channel's newest row and its messages of the last hour/day
        Index("ix_inbox_channel_time", "channel", "ingested_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=64)
    external_id: str = Field(max_length=255)
    content_type: str = Field(default="application/json", max_length=128)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: Optional[datetime] = _ts(nullable=True)
    ingested_at: datetime = _ts(nullable=False)
    # pending -> processed | quarantined (-> pending on replay | discarded by staff)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    error: Optional[str] = None
    processed_at: Optional[datetime] = _ts(nullable=True)
    report_id: Optional[int] = Field(default=None, foreign_key="report.id")
    message_id: Optional[int] = None


class Reporter(SQLModel, table=True):
    """One person, who may reach us on several channels. Personal data: never public."""

    __tablename__ = "reporter"
    id: Optional[int] = Field(default=None, primary_key=True)
    display_name: Optional[str] = Field(default=None, max_length=255)
    created_at: datetime = _ts(nullable=False)


class ReporterIdentity(SQLModel, table=True):
    """A reporter's handle on one kind of channel (E.164 phone, email, app user id, ...)."""

    __tablename__ = "reporter_identity"
    __table_args__ = (UniqueConstraint("kind", "handle", name="uq_identity_kind_handle"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    reporter_id: int = Field(foreign_key="reporter.id", index=True)
    kind: str = Field(max_length=32)
    handle: str = Field(max_length=255)
    channel: str = Field(max_length=64)
    # STOP / BERHENTI: no notifications to this handle until MULAI
    opted_out: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    opted_out_at: Optional[datetime] = _ts(nullable=True)
    created_at: datetime = _ts(nullable=False)


class Report(SQLModel, table=True):
    """The canonical report: one per complaint, whatever channel it came through."""

    __tablename__ = "report"
    __table_args__ = (
        # an officer's queue: the open cases of a unit by SLA risk
        Index("ix_report_unit_due", "unit_id", "sla_due_at"),
        Index("ix_report_escalated_due", "escalated_unit_id", "sla_due_at"),
        # the escalation job: running clocks by deadline
        Index("ix_report_clock_due", "sla_clock", "sla_due_at"),
        # unit performance (core.performance): the times a period is read by; readers
        # by date (lists, trends)
        Index("ix_report_created", "created_at"),
        Index("ix_report_closed", "closed_at"),
        Index("ix_report_rated", "rated_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    tracking_id: str = Field(max_length=16, unique=True)
    status: str = Field(default="Menunggu", max_length=32, index=True)
    category: Optional[str] = Field(default=None, max_length=64)
    # the client's own name for the category (the JAKI app's), when it is not kanal's id;
    # for officers, never shown publicly
    source_category: Optional[str] = Field(default=None, max_length=128)
    channel: str = Field(max_length=64)
    official_channel: str = Field(max_length=64)
    reporter_id: Optional[int] = Field(default=None, foreign_key="reporter.id", index=True)
    lat: Optional[float] = None
    lon: Optional[float] = None
    address: Optional[str] = None
    kelurahan_code: Optional[str] = Field(default=None, max_length=16, index=True)
    kelurahan_name: Optional[str] = Field(default=None, max_length=128)
    kecamatan_code: Optional[str] = Field(default=None, max_length=16)
    kota_code: Optional[str] = Field(default=None, max_length=16)
    # kelurahan:<code> once routed, or "triage" when nobody can be assigned automatically
    queue: Optional[str] = Field(default=None, max_length=64, index=True)
    # the deadline of the clock that runs now (``sla_clock``), None when none runs
    sla_due_at: Optional[datetime] = _ts(nullable=True)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    # the case (core/cases.py): the unit that holds it, the clock that runs
    # (first_response | hop | resolution | ews), the resolution target once work started
    # (no foreign key: a report is routed by its area code, whether or not the units of
    # the boundaries were synced yet; units are never deleted)
    unit_id: Optional[str] = Field(default=None, max_length=64)
    sla_clock: Optional[str] = Field(default=None, max_length=16)
    resolution_due_at: Optional[datetime] = _ts(nullable=True)
    first_response_at: Optional[datetime] = _ts(nullable=True)
    resolved_at: Optional[datetime] = _ts(nullable=True)
    closed_at: Optional[datetime] = _ts(nullable=True)
    # the unit a missed deadline escalated the case to (it sees and may work the case)
    escalated_unit_id: Optional[str] = Field(default=None, max_length=64)
    # the officer who started the work
    assignee_id: Optional[int] = Field(default=None, foreign_key="staff_account.id")
    # the reporter's rating after Selesai (once), and the one reopening it may cause
    rating: Optional[int] = None
    rating_comment: Optional[str] = None
    rated_at: Optional[datetime] = _ts(nullable=True)
    reopened_at: Optional[datetime] = _ts(nullable=True)
    # the citizen asked that the complaint stay confidential (LAPOR!'s "rahasia"): its
    # photos and officers' notes are never shown on a public page
    confidential: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # the report's tracking ID in an outside system that holds it too: the LAPOR! ID of a
    # complaint disposed from LAPOR!, or of one the city forwarded there
    external_ref: Optional[str] = Field(default=None, max_length=64, index=True)


class Message(SQLModel, table=True):
    """An inbound or outbound message of a report, in order."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_report", "report_id", "id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id")
    direction: str = Field(max_length=3)  # "in" | "out"
    channel: str = Field(max_length=64)
    external_id: Optional[str] = Field(default=None, max_length=255)
    inbox_id: Optional[int] = Field(default=None, foreign_key="inbox_item.id")
    reporter_id: Optional[int] = Field(default=None, foreign_key="reporter.id")
    kind: str = Field(default="complaint", max_length=32)  # complaint|follow_up|ack|status
    subject: Optional[str] = None
    text: str = ""
    thread_refs: Optional[list] = Field(default=None, sa_column=Column(JSON))
    # outbound delivery: queued | sent | delivered_inline | failed
    delivery: Optional[str] = Field(default=None, max_length=32)
    sent_at: Optional[datetime] = _ts(nullable=True)  # provider's time for inbound
    created_at: datetime = _ts(nullable=False)


class Attachment(SQLModel, table=True):
    """A file that came with a message, stored content-addressed by sha256."""

    __tablename__ = "attachment"
    id: Optional[int] = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    media_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    path: str
    source_url: Optional[str] = None
    filename: Optional[str] = Field(default=None, max_length=255)
    created_at: datetime = _ts(nullable=False)


class CaseEvent(SQLModel, table=True):
    """The case history of a report; ``public`` events appear on the tracking page."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_report", "report_id", "id"),
                      # a case's arrivals at units, read from the index alone
                      # (core.performance)
                      Index("ix_case_event_holder", "report_id", "kind", "unit_id",
                            "created_at"))
    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id")
    kind: str = Field(max_length=32)
    status: Optional[str] = Field(default=None, max_length=32)
    note: Optional[str] = None
    actor: Optional[str] = Field(default=None, max_length=64)
    public: bool = True
    created_at: datetime = _ts(nullable=False)
    # a transition: the status it left and the unit holding the case after it
    from_status: Optional[str] = Field(default=None, max_length=32)
    unit_id: Optional[str] = Field(default=None, max_length=64)
    # what only staff see: the internal reason, the officer's note
    detail: Optional[str] = None


class ChannelState(SQLModel, table=True):
    """Per channel: poll cursor and health."""

    __tablename__ = "channel_state"
    channel: str = Field(primary_key=True, max_length=64)
    cursor: Optional[str] = None
    health: str = Field(default="unknown", max_length=16)  # ok | degraded | failing | unknown
    last_ok_at: Optional[datetime] = _ts(nullable=True)
    last_error: Optional[str] = None
    last_error_at: Optional[datetime] = _ts(nullable=True)
    updated_at: datetime = _ts(nullable=False)
    # when the provider says the channel's credentials stop working (Meta's debug_token)
    credential_expires_at: Optional[datetime] = _ts(nullable=True)


class OutboxItem(SQLModel, table=True):
    """An outbound message waiting for, or done with, delivery by its channel's adapter."""

    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      # a channel's last delivery, for its health (core.channelhealth)
                      Index("ix_outbox_channel_sent", "channel", "sent_at"),
                      # one recipient's earlier items, which a later one waits for
                      Index("ix_outbox_recipient", "channel", "recipient", "id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=64)
    report_id: Optional[int] = Field(default=None, foreign_key="report.id")
    message_id: Optional[int] = Field(default=None, foreign_key="message.id")
    recipient: str = Field(max_length=255)
    kind: str = Field(default="ack", max_length=32)
    text: str
    reply_to: Optional[str] = Field(default=None, max_length=255)
    # pending -> sent | dead (after max attempts)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts(nullable=False)
    last_error: Optional[str] = None
    provider_message_id: Optional[str] = Field(default=None, max_length=255)
    created_at: datetime = _ts(nullable=False)
    sent_at: Optional[datetime] = _ts(nullable=True)


class MediaJob(SQLModel, table=True):
    """A provider-held file to download after the acknowledgement, with its retries."""

    __tablename__ = "media_job"
    __table_args__ = (Index("ix_media_job_due", "status", "next_attempt_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=64)
    message_id: int = Field(foreign_key="message.id", index=True)
    report_id: int = Field(foreign_key="report.id")
    url: str
    media_type: Optional[str] = Field(default=None, max_length=128)
    # pending -> done | failed (gave up; the message itself is kept)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts(nullable=False)
    last_error: Optional[str] = None
    attachment_id: Optional[int] = Field(default=None, foreign_key="attachment.id")
    created_at: datetime = _ts(nullable=False)
    done_at: Optional[datetime] = _ts(nullable=True)




class Office(SQLModel, table=True):
    """A walk-in counter: Pendopo Balai Kota, a Kantor Walikota/Bupati, the Inspektorat,
    a Kantor Kecamatan or a Kantor Kelurahan, with the area it serves."""

    __tablename__ = "office"
    id: str = Field(primary_key=True, max_length=64)
    # pendopo | walikota | inspektorat | kecamatan | kelurahan
    kind: str = Field(max_length=16)
    name: str = Field(max_length=255)
    # province "31", kota "31.71", kecamatan "31.71.01" or kelurahan "31.71.01.1001"
    area_code: Optional[str] = Field(default=None, max_length=16)
    active: bool = True
    created_at: datetime = _ts(nullable=False)


class Unit(SQLModel, table=True):
    """Who works a case: a kelurahan, kecamatan or kota (from the boundaries), a dinas or
    biro of the province, a dinas's suku dinas in one kota, the Inspektorat
    (``core.units``). Never deleted: one that is gone from its source is inactive."""

    __tablename__ = "unit"
    id: str = Field(primary_key=True, max_length=64)
    # kelurahan | kecamatan | kota | dinas | biro | sudin | inspektorat
    kind: str = Field(max_length=16, index=True)
    name: str = Field(max_length=255)
    # kelurahan -> its kecamatan -> its kota; sudin -> its dinas (the escalation path)
    parent_id: Optional[str] = Field(default=None, max_length=64, foreign_key="unit.id")
    # the kota of a sudin or an area unit ("31.71")
    kota_code: Optional[str] = Field(default=None, max_length=8)
    # the Kemendagri code of an area unit ("31.71.01.1001")
    area_code: Optional[str] = Field(default=None, max_length=16)
    active: bool = True
    created_at: datetime = _ts(nullable=False)
    # set when an admin changed the unit on the units page: the sync from
    # config/units.yaml then leaves its name and active flag alone
    edited_at: Optional[datetime] = _ts(nullable=True)
    edited_by: Optional[str] = Field(default=None, max_length=64)


class StaffAccount(SQLModel, table=True):
    """A member of staff who signs in to /staff. Counter accounts belong to one office,
    officers to one unit."""

    __tablename__ = "staff_account"
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: Optional[str] = Field(default=None, max_length=255)
    # admin | operator | counter | officer | supervisor
    role: str = Field(max_length=16)
    office_id: Optional[str] = Field(default=None, max_length=64, foreign_key="office.id")
    unit_id: Optional[str] = Field(default=None, max_length=64, foreign_key="unit.id")
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = _ts(nullable=False)
    # sessions issued before this time are no longer valid (a new password, a disable)
    sessions_valid_from: datetime = _ts(nullable=False)
    last_login_at: Optional[datetime] = _ts(nullable=True)


class ChannelOverride(SQLModel, table=True):
    """An operator's changes to one channel, over config/channels.yaml (or a channel
    added from the console or the CLI): per setting, the newest value wins."""

    __tablename__ = "channel_override"
    channel: str = Field(primary_key=True, max_length=64)
    # set for a channel that the file does not have
    adapter: Optional[str] = Field(default=None, max_length=64)
    official_channel: Optional[str] = Field(default=None, max_length=64)
    name: Optional[str] = Field(default=None, max_length=255)
    enabled: Optional[bool] = None
    # plain settings by key, and secrets by key as Fernet tokens (never in plain text)
    settings: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    secrets: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # raised by every change: a form sent with an older version is stale
    version: int = 1
    updated_at: datetime = _ts(nullable=False)
    updated_by: Optional[str] = Field(default=None, max_length=64)


class AuditEvent(SQLModel, table=True):
    """Who changed what, when: channel settings (secrets masked), enabling, replays and
    discards. Its highest id also tells every process that something changed."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_channel", "channel", "id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    channel: Optional[str] = Field(default=None, max_length=64)
    setting: Optional[str] = Field(default=None, max_length=64)
    old_value: Optional[str] = None
    new_value: Optional[str] = None
    detail: Optional[str] = None


class StaffToken(SQLModel, table=True):
    """An API token of a staff account (CRM Petugas): only its sha256 is kept."""

    __tablename__ = "staff_token"
    id: Optional[int] = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_account.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts(nullable=False)
    last_used_at: Optional[datetime] = _ts(nullable=True)
    revoked_at: Optional[datetime] = _ts(nullable=True)


class ProofPhoto(SQLModel, table=True):
    """A photo an officer sent as proof of the fix, with what the checks found."""

    __tablename__ = "proof_photo"
    __table_args__ = (Index("ix_proof_photo_report", "report_id", "id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id")
    # the case event of the resolution it came with
    event_id: Optional[int] = Field(default=None, foreign_key="case_event.id")
    sha256: str = Field(max_length=64)
    media_type: str = Field(max_length=128)
    size: int
    filename: Optional[str] = Field(default=None, max_length=255)
    # perceptual hash (imagehash.phash, hex), for photos reused on other cases
    phash: Optional[str] = Field(default=None, max_length=64, index=True)
    taken_at: Optional[datetime] = _ts(nullable=True)
    lat: Optional[float] = None
    lon: Optional[float] = None
    # the checks' findings (core.proof.Finding codes with their parameters)
    findings: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    uploaded_by: Optional[str] = Field(default=None, max_length=64)
    created_at: datetime = _ts(nullable=False)


class SlaBreach(SQLModel, table=True):
    """A deadline a case missed: counted late against the unit that held it, escalated
    once (the unique key makes that hold across processes)."""

    __tablename__ = "sla_breach"
    __table_args__ = (
        UniqueConstraint("report_id", "clock", "due_at", name="uq_sla_breach_deadline"),
        Index("ix_sla_breach_unit", "unit_id", "due_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id")
    clock: str = Field(max_length=16)
    due_at: datetime = _ts(nullable=False)
    unit_id: Optional[str] = Field(default=None, max_length=64)
    escalated_to: Optional[str] = Field(default=None, max_length=64)
    detected_at: datetime = _ts(nullable=False)


class CategoryRoute(SQLModel, table=True):
    """An admin's change to the category -> dinas map of config/units.yaml (dinas_id
    None: the category stays with the kelurahan)."""

    __tablename__ = "category_route"
    category: str = Field(primary_key=True, max_length=64)
    dinas_id: Optional[str] = Field(default=None, max_length=64)
    updated_at: datetime = _ts(nullable=False)
    updated_by: Optional[str] = Field(default=None, max_length=64)


metadata = SQLModel.metadata
TABLES = {t.name: t for t in metadata.sorted_tables}

"""What hand-off hooks see and write through: the new report and the unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True, eq=False)
class NewReport:
    """A report being created in the current transaction. Hooks may change the routing
    fields (status, category, queue, kelurahan/kecamatan/kota, sla_due_at); the report row
    is written with them after every hook has run."""

    id: int
    tracking_id: str
    channel: str
    official_channel: str
    created_at: datetime
    status: str = "Menunggu"
    category: str | None = None
    source_category: str | None = None
    reporter_id: int | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    kelurahan_code: str | None = None
    kelurahan_name: str | None = None
    kecamatan_code: str | None = None
    kota_code: str | None = None
    queue: str | None = None
    sla_due_at: datetime | None = None
    # the unit that holds the case and the clock that runs (core.cases)
    unit_id: str | None = None
    sla_clock: str | None = None
    confidential: bool = False
    external_ref: str | None = None

    MUTABLE = (
        "status", "category", "kelurahan_code", "kelurahan_name", "kecamatan_code",
        "kota_code", "queue", "sla_due_at", "unit_id", "sla_clock",
    )


@dataclass(slots=True)
class CaseEventDraft:
    report_id: int
    kind: str
    status: str | None = None
    note: str | None = None
    actor: str | None = None
    public: bool = True
    unit_id: str | None = None

    def row(self, now: datetime) -> dict:
        """The ``case_event`` row to insert."""
        return {"report_id": self.report_id, "kind": self.kind, "status": self.status,
                "note": self.note, "actor": self.actor, "public": self.public,
                "unit_id": self.unit_id, "created_at": now}


@dataclass
class UnitOfWork:
    """Buffers what plugins write during one pipeline batch; flushed in the same transaction."""

    now: datetime
    case_events: list[CaseEventDraft] = field(default_factory=list)

    def add_case_event(
        self,
        report: NewReport,
        kind: str,
        *,
        status: str | None = None,
        note: str | None = None,
        actor: str | None = None,
        public: bool = True,
        unit_id: str | None = None,
    ) -> None:
        if not kind or len(kind) > 32:
            raise ValueError(f"case event kind must be 1 to 32 characters: {kind!r}")
        self.case_events.append(CaseEventDraft(report.id, kind, status=status, note=note,
                                               actor=actor, public=public, unit_id=unit_id))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One transition of a case (``core.cases``), as ``kanal_status_changed`` sees it.
    ``note`` is what the citizen may read (the reason of a rejection, an EWS date); the
    officer's ``actor`` is for staff tools only, never public."""

    report_id: int
    tracking_id: str
    action: str  # coordinate | dispose | start | ews | reject | resolve | verify | return | reopen
    old_status: str
    new_status: str
    at: datetime
    event_id: int
    unit_id: str | None = None
    unit_name: str | None = None
    note: str | None = None
    due_at: datetime | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    """A deadline a case missed, as ``kanal_case_escalated`` sees it: the unit that held
    the case (it is counted late) and the unit it went up to (None at the top)."""

    report_id: int
    tracking_id: str
    clock: str  # first_response | hop | resolution | ews
    due_at: datetime
    status: str
    unit_id: str | None
    escalated_to: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to the reporter of a case, on the channel they used (``core.notify``)."""

    kind: str
    details: dict = field(default_factory=dict)


@dataclass
class CaseWork:
    """What case hooks write through, flushed in the transaction of the change: public or
    internal case events, and notices to the reporter."""

    now: datetime
    report_id: int
    case_events: list[CaseEventDraft] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def add_case_event(self, kind: str, *, status: str | None = None, note: str | None = None,
                       actor: str | None = None, public: bool = True) -> None:
        if not kind or len(kind) > 32:
            raise ValueError(f"case event kind must be 1 to 32 characters: {kind!r}")
        self.case_events.append(CaseEventDraft(self.report_id, kind, status=status, note=note,
                                               actor=actor, public=public))

    def notify_reporter(self, kind: str, details: dict | None = None) -> None:
        """Queue a message to the reporter (written with ``kanal_format_outbound``)."""
        self.notices.append(Notice(kind, dict(details or {})))

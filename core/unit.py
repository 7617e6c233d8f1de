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

    MUTABLE = (
        "status", "category", "kelurahan_code", "kelurahan_name", "kecamatan_code",
        "kota_code", "queue", "sla_due_at",
    )


@dataclass(slots=True)
class CaseEventDraft:
    report_id: int
    kind: str
    status: str | None = None
    note: str | None = None
    actor: str | None = None
    public: bool = True


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
    ) -> None:
        if not kind or len(kind) > 32:
            raise ValueError(f"case event kind must be 1 to 32 characters: {kind!r}")
        self.case_events.append(
            CaseEventDraft(report.id, kind, status=status, note=note, actor=actor, public=public)
        )

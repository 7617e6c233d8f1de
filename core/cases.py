"""The case engine's state machine: who may move a case, from which status, to which.

A report becomes a case when it is created (``core.case_engine``): ``Menunggu`` in its
kelurahan, with the first-response clock running. From there (docs/cases.md)::

    Menunggu -> Koordinasi (the kelurahan hands it to a dinas)
             -> Disposisi (the dinas sends it to its suku dinas in the kota)
             -> Proses -> Menunggu Verifikasi (with proof photos) -> Selesai
    Menunggu Verifikasi -> Proses (the verifier returns it, with a reason)
    Proses -> EWS (an estimated completion date for a long job) -> Menunggu Verifikasi
    any open status -> Ditolak (with a reason the citizen sees)

``act`` checks, in this order, that the account may take the action on this case (403),
that the case is in a status the action leaves from (409) and that the action has what it
needs (422); then it writes the transition, its case event, the clocks, and calls
``kanal_status_changed`` in the same transaction. Officers work the cases their unit holds
or that a missed deadline escalated to it; supervisors see every case, coordinate, dispose,
reject and verify, and do not do an officer's work (start, EWS, resolve).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from core import routing, units
from core.errors import ApiError
from core.models import CaseEvent, Report, Unit, as_utc
from core.staff import Staff
from core.unit import CaseWork, Notice, StatusChange
from core.workcal import WIB

log = logging.getLogger(__name__)
report_t = Report.__table__
event_t = CaseEvent.__table__
unit_t = Unit.__table__

MENUNGGU, KOORDINASI, DISPOSISI, PROSES = "Menunggu", "Koordinasi", "Disposisi", "Proses"
EWS, VERIFIKASI, SELESAI, DITOLAK = "EWS", "Menunggu Verifikasi", "Selesai", "Ditolak"
STATUSES = (MENUNGGU, KOORDINASI, DISPOSISI, PROSES, EWS, VERIFIKASI, SELESAI, DITOLAK)
CLOSED = frozenset({SELESAI, DITOLAK})
OPEN = tuple(s for s in STATUSES if s not in CLOSED)

AREA_KINDS = frozenset({"kelurahan", "kecamatan", "kota"})
DINAS_KINDS = frozenset({"dinas", "biro"})
# what an officer may do on a case of its unit, by the kind of its unit
OFFICER_ACTIONS: dict[str, frozenset[str]] = {
    **{kind: frozenset({"coordinate", "start", "ews", "reject", "resolve", "note"})
       for kind in AREA_KINDS},
    **{kind: frozenset({"coordinate", "dispose", "start", "ews", "reject", "resolve", "note"})
       for kind in DINAS_KINDS},
    "sudin": frozenset({"start", "ews", "reject", "resolve", "note"}),
    "inspektorat": frozenset({"start", "ews", "reject", "resolve", "note"}),
}
SUPERVISOR_ACTIONS = frozenset({"coordinate", "dispose", "reject", "verify", "return", "note"})


@dataclass(frozen=True, slots=True)
class Rule:
    """An action: the statuses it leaves from and the one it goes to (None: no change)."""

    from_statuses: frozenset[str]
    to: str | None


RULES: dict[str, Rule] = {
    "coordinate": Rule(frozenset({MENUNGGU, KOORDINASI, PROSES}), KOORDINASI),
    "dispose": Rule(frozenset({KOORDINASI}), DISPOSISI),
    "start": Rule(frozenset({MENUNGGU, KOORDINASI, DISPOSISI}), PROSES),
    "ews": Rule(frozenset({PROSES}), EWS),
    "reject": Rule(frozenset({MENUNGGU, KOORDINASI, DISPOSISI, PROSES, EWS}), DITOLAK),
    "resolve": Rule(frozenset({PROSES, EWS}), VERIFIKASI),
    "verify": Rule(frozenset({VERIFIKASI}), SELESAI),
    "return": Rule(frozenset({VERIFIKASI}), PROSES),
    # a message to the citizen from the case page: any status, the status stays
    "note": Rule(frozenset(STATUSES), None),
}
ACTIONS = tuple(RULES)
# the first thing a unit does with a new case ends the first-response clock
RESPONSES = frozenset({"coordinate", "dispose", "start", "reject"})
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One action as the screen or the API sends it. ``photos`` are proof photos already
    through ``core.uploads.check_photos`` (``CheckedUpload``)."""

    action: str
    reason: str | None = None
    unit: str | None = None
    due: str | None = None
    photos: Sequence[Any] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    tracking_id: str
    status: str
    unit_id: str | None
    due_at: datetime | None
    event_id: int
    findings: list[dict] = field(default_factory=list)


def may_act(staff: Staff, staff_unit_kind: str | None, action: str, case: Row) -> bool:
    """Whether the account's role and unit allow ``action`` on this case, whatever its
    status (that is ``RULES``)."""
    if staff.role == "supervisor":
        return action in SUPERVISOR_ACTIONS
    if staff.role != "officer" or staff.unit_id is None:
        return False
    if staff.unit_id not in (case.unit_id, case.escalated_unit_id):
        return False
    return action in OFFICER_ACTIONS.get(staff_unit_kind or "", frozenset())


def may_see(staff: Staff, case: Row) -> bool:
    """Supervisors and admins see every case; an officer those its unit holds or that
    were escalated to it."""
    if staff.role in ("supervisor", "admin"):
        return True
    return staff.role == "officer" and staff.unit_id is not None and (
        staff.unit_id in (case.unit_id, case.escalated_unit_id))


def actions_for(staff: Staff, staff_unit_kind: str | None, case: Row) -> list[str]:
    """The actions this account may take on this case now (for the case page's forms)."""
    return [a for a, rule in RULES.items()
            if case.status in rule.from_statuses and may_act(staff, staff_unit_kind, a, case)]


def unit_row(conn: Connection, unit_id: str | None) -> Row | None:
    return units.unit(conn, unit_id) if unit_id is not None else None


def unit_kind(conn: Connection, unit_id: str | None) -> str | None:
    row = unit_row(conn, unit_id)
    return row.kind if row is not None else None


def case_row(conn: Connection, *where, lock: bool = False) -> Row | None:
    """The report row matching ``where``; with ``lock``, held for this transaction (on
    SQLite ``core.db.writing`` holds the write lock already)."""
    stmt = select(report_t).where(*where)
    if lock and conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first()


def flush(conn: Connection, work: CaseWork,
          deliver: Callable[[Connection, int, list[Notice], datetime], None] | None) -> None:
    """Write what case hooks buffered: their case events, then hand the notices to the
    reporter to ``deliver`` (``core.notify``); without it they are logged as not sent."""
    if work.case_events:
        conn.execute(insert(event_t), [e.row(work.now) for e in work.case_events])
    if not work.notices:
        return
    if deliver is None:
        log.warning("report %s: %d notice(s) not sent (no notice sender)", work.report_id,
                    len(work.notices))
        return
    deliver(conn, work.report_id, work.notices, work.now)


class Cases:
    """Takes actions on cases. Built once per runtime with the SLA clocks and the plugin
    hook; ``proofs`` stores and checks proof photos (``core.proofs.ProofPhotos``),
    ``deliver`` writes notices to the reporter (``core.notify``)."""

    def __init__(self, *, clocks, hook, proofs=None,
                 deliver: Callable[[Connection, int, list[Notice], datetime], None] | None = None):
        self.clocks = clocks
        self.hook = hook
        self.proofs = proofs
        self.deliver = deliver

    @staticmethod
    def dinas_for(conn: Connection, category: str | None) -> str | None:
        """The dinas a category is coordinated with (the admins' map over the file)."""
        return routing.dinas_for(conn, category)

    @staticmethod
    def sudin_for(conn: Connection, dinas_id: str, kota_code: str | None) -> str | None:
        """The dinas's suku dinas in the report's kota."""
        return units.sudin_for(dinas_id, kota_code or "", conn=conn)

    def act(self, conn: Connection, staff: Staff, compact: str, request: ActionRequest,
            now: datetime) -> Outcome:
        """Take one action in the caller's writing transaction (``core.db.writing``)."""
        case, kind = self.authorize(conn, staff, compact, request.action, lock=True)
        rule = RULES[request.action]
        step = getattr(self, f"_{request.action}")(conn, staff, kind, case, request, now)
        return self._write(conn, staff, case, request.action, rule, step, now)

    def authorize(self, conn: Connection, staff: Staff, compact: str, action: str, *,
                  lock: bool = False) -> tuple[Row, str | None]:
        """The case and the kind of the account's unit, when the account may take
        ``action`` on it now; else the 422 (unknown action), 404, 403 or 409 of ``act``.
        The API asks this before it reads uploads, so that a 403 comes first."""
        rule = RULES.get(action)
        if rule is None:
            raise ApiError(422, "unknown_action", f"unknown action {action!r}; "
                           f"actions: {', '.join(ACTIONS)}", field="action")
        case = case_row(conn, report_t.c.tracking_id == compact, lock=lock)
        if case is None:
            raise ApiError(404, "not_found", f"no case {compact}")
        kind = unit_kind(conn, staff.unit_id)
        if not may_act(staff, kind, action, case):
            raise ApiError(403, "not_allowed", _not_allowed(staff, kind, action, case))
        if case.status not in rule.from_statuses:
            leaves = ", ".join(s for s in STATUSES if s in rule.from_statuses)
            raise ApiError(409, "wrong_status", f"a case in {case.status} cannot take "
                           f"{action!r}; it leaves from {leaves}", status=case.status)
        return case, kind

    # -- the steps: validate the request, say what changes ------------------------------

    def _coordinate(self, conn, staff, kind, case, request, now) -> dict:
        unit_id = request.unit or self.dinas_for(conn, case.category)
        if not unit_id:
            raise ApiError(422, "missing_field", "name the dinas or biro to coordinate with "
                           "(unit): this category has none in the map", field="unit")
        target = _active_unit(conn, unit_id, DINAS_KINDS, "a dinas or biro")
        if target.id == case.unit_id:
            raise ApiError(422, "invalid_field", f"the case is already with {target.name}",
                           field="unit")
        return {"unit": target, "clock": "hop", "due": self.clocks.hop_due(now),
                "note": f"Dikoordinasikan dengan {target.name}", "detail": _clean(request.reason)}

    def _dispose(self, conn, staff, kind, case, request, now) -> dict:
        holder = unit_row(conn, case.unit_id)
        unit_id = request.unit
        if not unit_id and holder is not None and case.kota_code:
            unit_id = self.sudin_for(conn, holder.id, case.kota_code)
        if not unit_id:
            raise ApiError(422, "missing_field", "name the suku dinas to dispose to (unit)",
                           field="unit")
        target = _active_unit(conn, unit_id, frozenset({"sudin"}), "a suku dinas")
        if holder is not None and holder.kind in DINAS_KINDS and target.parent_id != holder.id:
            raise ApiError(422, "invalid_field",
                           f"{target.name} is not a suku dinas of {holder.name}", field="unit")
        return {"unit": target, "clock": "hop", "due": self.clocks.hop_due(now),
                "note": f"Didisposisikan ke {target.name}", "detail": _clean(request.reason)}

    def _start(self, conn, staff, kind, case, request, now) -> dict:
        holder = unit_row(conn, case.unit_id)
        due = self.clocks.resolution_due(case.category, now)
        name = holder.name if holder is not None else "petugas"
        return {"clock": "resolution", "due": due, "resolution_due": due,
                "assignee": staff.id, "note": f"Sedang ditangani oleh {name}",
                "detail": _clean(request.reason)}

    def _ews(self, conn, staff, kind, case, request, now) -> dict:
        reason = _required(request.reason, "the reason for the longer work (reason)")
        due = parse_due(request.due, now)
        return {"clock": "ews", "due": due,
                "note": f"Perkiraan selesai {wib_date(due)}: {reason}", "due_public": due}

    def _reject(self, conn, staff, kind, case, request, now) -> dict:
        reason = _required(request.reason, "the reason the citizen will read (reason)")
        return {"clock": None, "due": None, "closed": True, "note": f"Ditolak: {reason}"}

    def _resolve(self, conn, staff, kind, case, request, now) -> dict:
        if not request.photos:
            raise ApiError(422, "missing_field", "a resolution needs at least one proof "
                           "photo (photos)", field="photos")
        if self.proofs is None:
            raise ApiError(503, "proof_unavailable", "proof photos cannot be stored here")
        checked = self.proofs.check(conn, case, request.photos)
        note = "Penanganan selesai, menunggu verifikasi"
        return {"clock": None, "due": None, "resolved": True, "proofs": checked,
                "note": note, "detail": _clean(request.reason)}

    def _verify(self, conn, staff, kind, case, request, now) -> dict:
        return {"clock": None, "due": None, "closed": True,
                "note": "Penanganan terverifikasi, laporan selesai",
                "detail": _clean(request.reason)}

    def _return(self, conn, staff, kind, case, request, now) -> dict:
        reason = _required(request.reason, "the reason the work must go on (reason)")
        due = as_utc(case.resolution_due_at) or self.clocks.resolution_due(case.category, now)
        return {"clock": "resolution", "due": due, "unresolve": True,
                "note": "Hasil penanganan belum dapat diterima, penanganan dilanjutkan",
                "detail": reason}

    def _note(self, conn, staff, kind, case, request, now) -> dict:
        text = _required(request.reason, "the message to the citizen (reason)")
        return {"message": text, "note": None}

    # -- writing ------------------------------------------------------------------------

    def _write(self, conn: Connection, staff: Staff, case: Row, action: str, rule: Rule,
               step: dict, now: datetime) -> Outcome:
        new_status = rule.to or case.status
        values: dict[str, Any] = {"updated_at": now}
        unit = step.get("unit")
        unit_id = unit.id if unit is not None else case.unit_id
        if rule.to is not None:
            values.update(status=new_status, escalated_unit_id=None,
                          sla_clock=step["clock"], sla_due_at=step["due"])
            if unit is not None:
                values.update(unit_id=unit.id, queue=unit.id)
            if "resolution_due" in step:
                values["resolution_due_at"] = step["resolution_due"]
            if "assignee" in step:
                values["assignee_id"] = step["assignee"]
            if step.get("resolved"):
                values["resolved_at"] = now
            if step.get("unresolve"):
                values["resolved_at"] = None
            if step.get("closed"):
                values["closed_at"] = now
            if action in RESPONSES and case.first_response_at is None:
                values["first_response_at"] = now
        conn.execute(update(report_t).where(report_t.c.id == case.id).values(**values))
        detail = step.get("detail") or step.get("message")
        event_id = conn.execute(insert(event_t).values(
            report_id=case.id, kind=action, status=new_status, from_status=case.status,
            note=step.get("note"), actor=staff.username, public=step.get("note") is not None,
            unit_id=unit_id, detail=detail, created_at=now,
        ).returning(event_t.c.id)).scalar_one()
        findings: list[dict] = []
        if step.get("proofs"):
            findings = self.proofs.store(conn, case, step["proofs"], event_id=event_id,
                                         uploaded_by=staff.username, now=now)
        holder = unit if unit is not None else unit_row(conn, unit_id)
        change = StatusChange(
            report_id=case.id, tracking_id=case.tracking_id, action=action,
            old_status=case.status, new_status=new_status, at=now, event_id=event_id,
            unit_id=unit_id, unit_name=holder.name if holder is not None else None,
            note=step.get("note"), due_at=step.get("due_public") or step.get("due"),
            actor=staff.username)
        work = CaseWork(now=now, report_id=case.id)
        if "message" in step:
            work.notify_reporter("case_note", {"text": step["message"]})
        if rule.to is not None:
            self.hook.kanal_status_changed(change=change, work=work)
        self.flush(conn, work)
        return Outcome(case.tracking_id, new_status, unit_id,
                       values.get("sla_due_at", as_utc(case.sla_due_at)), event_id, findings)

    def flush(self, conn: Connection, work: CaseWork) -> None:
        flush(conn, work, self.deliver)

    def change_status(self, conn: Connection, case: Row, *, action: str, new_status: str,
                      note: str | None, actor: str | None, now: datetime,
                      values: dict | None = None, detail: str | None = None) -> int:
        """A transition the reporter or the system makes (a rating that reopens the case):
        no staff rules, the same event and hook as ``act``."""
        conn.execute(update(report_t).where(report_t.c.id == case.id).values(
            status=new_status, updated_at=now, **(values or {})))
        event_id = conn.execute(insert(event_t).values(
            report_id=case.id, kind=action, status=new_status, from_status=case.status,
            note=note, actor=actor, public=note is not None, unit_id=case.unit_id,
            detail=detail, created_at=now).returning(event_t.c.id)).scalar_one()
        holder = unit_row(conn, case.unit_id)
        work = CaseWork(now=now, report_id=case.id)
        self.hook.kanal_status_changed(change=StatusChange(
            report_id=case.id, tracking_id=case.tracking_id, action=action,
            old_status=case.status, new_status=new_status, at=now, event_id=event_id,
            unit_id=case.unit_id, unit_name=holder.name if holder is not None else None,
            note=note, actor=actor), work=work)
        self.flush(conn, work)
        return event_id


def _not_allowed(staff: Staff, kind: str | None, action: str, case: Row) -> str:
    """Why ``may_act`` said no, the first reason that applies."""
    if staff.role not in ("officer", "supervisor"):
        return f"the {staff.role} role does not work cases"
    if staff.role == "supervisor":
        return f"a supervisor does not {action} cases: that is the officers' work"
    if staff.unit_id is None:
        return "this officer account has no unit (kanal staff add --unit)"
    if staff.unit_id not in (case.unit_id, case.escalated_unit_id):
        return "this case is not held by your unit"
    return f"an officer of a {kind or 'unit'} may not {action} a case"


def _active_unit(conn: Connection, unit_id: str, kinds: frozenset[str], what: str) -> Row:
    row = unit_row(conn, unit_id)
    if row is None or row.kind not in kinds:
        raise ApiError(422, "invalid_field", f"{unit_id!r} is not {what} (see kanal units "
                       "list)", field="unit")
    if not row.active:
        raise ApiError(422, "invalid_field", f"{row.name} is no longer active", field="unit")
    return row


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    if len(text) > MAX_REASON:
        raise ApiError(422, "invalid_field", f"at most {MAX_REASON} characters", field="reason")
    return text or None


def _required(text: str | None, what: str) -> str:
    value = _clean(text)
    if value is None:
        raise ApiError(422, "missing_field", f"give {what}", field="reason")
    return value


def parse_due(value: str | None, now: datetime) -> datetime:
    """An EWS date: ``2026-12-24`` (the end of that day's office hours, 16:00 WIB) or a
    time with its offset. It must lie in the future."""
    if not value or not str(value).strip():
        raise ApiError(422, "missing_field", "give the estimated completion date (due)",
                       field="due")
    text = str(value).strip()
    try:
        if len(text) == 10:
            due = datetime.combine(date.fromisoformat(text), time(16, 0), WIB)
        else:
            due = datetime.fromisoformat(text)
            if due.tzinfo is None:
                due = due.replace(tzinfo=WIB)
    except ValueError:
        raise ApiError(422, "invalid_field", f"{text!r} is not a date (YYYY-MM-DD) or an "
                       "ISO 8601 time", field="due") from None
    if due <= now:
        raise ApiError(422, "invalid_field", "the estimated completion date must be in the "
                       "future", field="due")
    return due.astimezone(now.tzinfo) if now.tzinfo else due


def wib_date(value: datetime) -> str:
    return as_utc(value).astimezone(WIB).strftime("%d-%m-%Y")

"""The admins' changes to units (``/staff/units``): rename a dinas, biro or the
Inspektorat, deactivate or reactivate a unit, add a dinas or biro the file does not have
(a new dinas with a suku dinas in every kota, as ``sudin: true`` in the file).

An edited or added unit carries ``edited_at``/``edited_by``; ``core.units.sync`` then
leaves its name and active flag alone and keeps it when the file does not list it. The
names of area units and suku dinas come from the boundaries, so renaming them is refused.
Every change is audited in its own transaction."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import Connection, insert, select, update

from core import audit
from core.models import utcnow
from core.routing import RouteError
from core.unitsconf import UnitEntry
from core.units import unit, unit_t

RENAMABLE = ("dinas", "biro", "inspektorat")
# their active flag follows the boundaries (a kelurahan always has its cases)
AREAS = ("kelurahan", "kecamatan", "kota")
ADDABLE = ("dinas", "biro")
MAX_NAME = 200


def _existing(conn: Connection, unit_id: str):
    row = unit(conn, unit_id)
    if row is None:
        raise RouteError("unknown_unit", f"no unit {unit_id!r} (see kanal units list)",
                         unit=unit_id)
    return row


def _edited(conn: Connection, unit_id: str, actor: str, now: datetime, **values) -> None:
    conn.execute(update(unit_t).where(unit_t.c.id == unit_id).values(
        **values, edited_at=now, edited_by=actor[:64]))


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME:
        raise RouteError("bad_name", f"a unit's name is 1-{MAX_NAME} characters",
                         max=MAX_NAME)
    return name


def rename_unit(conn: Connection, unit_id: str, name: str, actor: str,
                now: datetime | None = None, *, expected: str | None = None) -> bool:
    """False when the name was already that. With ``expected`` (the name a form showed),
    a name changed meanwhile is refused."""
    row = _existing(conn, unit_id)
    if row.kind not in RENAMABLE:
        raise RouteError("from_data", f"{unit_id!r} is a {row.kind}: its name comes from "
                         f"the boundaries, not from this page", unit=unit_id, kind=row.kind)
    if expected is not None and row.name != expected:
        raise RouteError("stale", f"{unit_id} was renamed meanwhile; nothing was changed",
                         what=unit_id)
    name = _clean_name(name)
    if name == row.name:
        return False
    now = now or utcnow()
    _edited(conn, unit_id, actor, now, name=name)
    audit.record(conn, actor, "unit_renamed", setting=unit_id, old=row.name, new=name,
                 now=now)
    return True


def set_unit_active(conn: Connection, unit_id: str, active: bool, actor: str,
                    now: datetime | None = None) -> bool:
    """A dinas, biro, suku dinas or the Inspektorat may be deactivated (it takes no new
    cases or accounts) and reactivated; an area unit may not. False when it already was."""
    row = _existing(conn, unit_id)
    if row.kind in AREAS:
        raise RouteError("area_unit", f"{unit_id!r} is a {row.kind}: whether it is active "
                         f"follows the boundaries", unit=unit_id, kind=row.kind)
    if row.active is active:
        return False
    now = now or utcnow()
    _edited(conn, unit_id, actor, now, active=active)
    audit.record(conn, actor, "unit_activated" if active else "unit_deactivated",
                 setting=unit_id, old=row.active, new=active, now=now)
    return True


def add_unit(conn: Connection, unit_id: str, kind: str, name: str, actor: str,
             now: datetime | None = None, *, sudin: bool = False) -> list[str]:
    """A dinas or biro the file does not list; with ``sudin`` (a dinas only) its suku
    dinas in every kota there is now, named as ``core.units`` names them. The ids
    added, the unit's first."""
    if kind not in ADDABLE:
        raise RouteError("bad_kind", f"only a dinas or a biro can be added, not {kind!r}",
                         kind=kind)
    name = _clean_name(name)
    try:
        entry = UnitEntry(id=unit_id, kind=kind, name=name, sudin=sudin)
    except ValidationError:
        raise RouteError("bad_id", f"a {kind} id is {kind}-<lowercase letters, digits, "
                         f"- or .>, at most 64 characters", kind=kind) from None
    if unit(conn, unit_id) is not None:
        raise RouteError("exists", f"unit {unit_id!r} exists already", unit=unit_id)
    now = now or utcnow()
    edited = {"active": True, "created_at": now, "edited_at": now, "edited_by": actor[:64]}
    conn.execute(insert(unit_t).values(id=unit_id, kind=kind, name=name, parent_id=None,
                                       kota_code=None, area_code=None, **edited))
    added = [unit_id]
    if sudin:
        kotas = conn.execute(select(unit_t).where(unit_t.c.kind == "kota")
                             .order_by(unit_t.c.id)).all()
        for kota in kotas:
            sudin_id = f"sudin-{entry.short}-{kota.kota_code}"
            if len(sudin_id) > 64:
                raise RouteError("bad_id", f"{sudin_id!r}, its suku dinas's id, is longer "
                                 f"than 64 characters: choose a shorter id", kind=kind)
            if unit(conn, sudin_id) is not None:
                raise RouteError("exists", f"unit {sudin_id!r} exists already",
                                 unit=sudin_id)
            conn.execute(insert(unit_t).values(
                id=sudin_id, kind="sudin", name=f"{entry.sudin_label()} {kota.name}",
                parent_id=unit_id, kota_code=kota.kota_code, area_code=None, **edited))
            added.append(sudin_id)
    audit.record(conn, actor, "unit_added", setting=unit_id, new=name,
                 detail=f"{kind}, {len(added) - 1} suku dinas" if sudin else kind, now=now)
    return added


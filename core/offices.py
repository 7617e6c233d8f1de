"""Offices with a walk-in counter, one kind per official channel: Pendopo Balai Kota, the
Kantor Walikota (Bupati for Kepulauan Seribu), the Inspektorat, and every Kantor Kecamatan
and Kantor Kelurahan. The boundaries file gives the standard set; ``sync`` adds what is
missing and never deletes, so offices added with ``kanal offices add`` stay."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, Row, insert, select, text, update

from core.areas import is_kabupaten, kota_label, read_areas
from core.db import writing
from core.models import Office, utcnow

# kind -> the official channel its counters take reports for (config/channels.yaml)
KINDS = {"pendopo": "pendopo-balai-kota", "walikota": "kantor-walikota",
         "inspektorat": "kantor-inspektorat", "kecamatan": "kantor-kecamatan",
         "kelurahan": "kantor-kelurahan"}
KIND_OF_CHANNEL = {channel: kind for kind, channel in KINDS.items()}
OFFICE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# province 31, kota 31.71, kecamatan 31.71.01, kelurahan 31.71.01.1001
AREA_CODE = re.compile(r"\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?")
PROVINCE = "31"
office_t = Office.__table__


class OfficeError(ValueError):
    """An office that cannot be added; the message says why."""


def _kota_office(code: str, name: str | None) -> dict:
    bupati = is_kabupaten(code, name)
    return {"id": f"walikota-{code}", "kind": "walikota", "area_code": code,
            "name": f"Kantor {'Bupati' if bupati else 'Walikota'} {kota_label(code, name)}"}


def offices_from_boundaries(path: str | Path) -> list[dict]:
    """The standard offices for a kelurahan GeoJSON, in ``KINDS`` order then by code
    (names and codes as ``core.areas.read_areas`` reads them)."""
    areas = read_areas(path)
    kecamatan, kelurahan = areas.kecamatan, areas.kelurahan
    return [
        {"id": "pendopo", "kind": "pendopo", "area_code": PROVINCE,
         "name": "Pendopo Balai Kota"},
        *(_kota_office(code, name) for code, name in areas.kota.items()),
        {"id": "inspektorat", "kind": "inspektorat", "area_code": PROVINCE,
         "name": "Kantor Inspektorat Provinsi DKI Jakarta"},
        *({"id": f"kecamatan-{code}", "kind": "kecamatan", "area_code": code,
           "name": f"Kantor Kecamatan {kecamatan[code] or code}"} for code in kecamatan),
        *({"id": f"kelurahan-{code}", "kind": "kelurahan", "area_code": code,
           "name": f"Kantor Kelurahan {kelurahan[code] or code}"} for code in kelurahan),
    ]


def _lock(conn: Connection) -> None:
    # Two processes syncing at once on PostgreSQL would both insert the same ids; SQLite's
    # writers are already serialized by core.db.writing. Staff inserts are not blocked.
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE office IN SHARE ROW EXCLUSIVE MODE"))


def sync(conn: Connection, offices: list[dict], now: datetime | None = None) -> int:
    """Insert the offices that are missing, bring the name, kind and area of the others up
    to date, delete nothing. Returns how many were inserted."""
    _lock(conn)
    existing = {r.id: r for r in conn.execute(
        select(office_t.c.id, office_t.c.kind, office_t.c.name, office_t.c.area_code))}
    now = now or utcnow()
    new = [{**o, "active": True, "created_at": now} for o in offices if o["id"] not in existing]
    if new:
        conn.execute(insert(office_t), new)
    for o in offices:
        old = existing.get(o["id"])
        if old is not None and (old.kind, old.name, old.area_code) != (
                o["kind"], o["name"], o["area_code"]):
            conn.execute(update(office_t).where(office_t.c.id == o["id"]).values(
                kind=o["kind"], name=o["name"], area_code=o["area_code"]))
    return len(new)


def sync_from_settings(engine: Engine, settings) -> int:
    """Sync from ``KANAL_BOUNDARIES`` when it is set; 0 otherwise."""
    if settings.boundaries is None:
        return 0
    offices = offices_from_boundaries(settings.path("boundaries"))
    with writing(engine) as conn:
        return sync(conn, offices)


def add(conn: Connection, office_id: str, kind: str, name: str,
        area_code: str | None = None, now: datetime | None = None) -> Row:
    office_id, name = office_id.strip(), name.strip()
    if kind not in KINDS:
        raise OfficeError(f"unknown office kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not OFFICE_ID.fullmatch(office_id):
        raise OfficeError("an office id is 1-64 characters: a-z, 0-9, '.', '_' or '-'")
    if not name or len(name) > 255:
        raise OfficeError("an office name is 1-255 characters")
    if area_code is not None and not AREA_CODE.fullmatch(area_code):
        raise OfficeError(f"area code {area_code!r} is not a Kemendagri code "
                          "(31, 31.71, 31.71.01 or 31.71.01.1001)")
    _lock(conn)
    if get(conn, office_id) is not None:
        raise OfficeError(f"the office id {office_id!r} is taken")
    conn.execute(insert(office_t).values(id=office_id, kind=kind, name=name,
                                         area_code=area_code, active=True,
                                         created_at=now or utcnow()))
    return get(conn, office_id)


def get(conn: Connection, office_id: str) -> Row | None:
    return conn.execute(select(office_t).where(office_t.c.id == office_id)).first()


def list_offices(conn: Connection, kind: str | None = None) -> list[Row]:
    """Offices in ``KINDS`` order, then by area code and id."""
    stmt = select(office_t)
    if kind is not None:
        stmt = stmt.where(office_t.c.kind == kind)
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(conn.execute(stmt),
                  key=lambda r: (order.get(r.kind, len(order)), r.area_code or "", r.id))

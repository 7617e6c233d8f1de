"""Units: who works a case. The kelurahan, kecamatan and kota/kabupaten of the boundaries;
the dinas, biro and Inspektorat of ``config/units.yaml``; each dinas's suku dinas in every
kota (dinas x kota). ``sync_units`` builds them at start-up and never deletes one, since
cases and accounts point at units: a unit gone from its source turns inactive.

Ids: ``kelurahan-31.71.01.1001``, ``kecamatan-31.71.01``, ``kota-31.71``,
``dinas-bina-marga``, ``biro-pemerintahan``, ``inspektorat`` and
``sudin-bina-marga-31.71``. Escalation goes kelurahan -> kecamatan -> kota and
sudin -> dinas (``parent_id``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Row, insert, select, text, update

from core.areas import Areas, is_kabupaten, kota_label, read_areas
from core.db import writing
from core.models import Unit, utcnow
from core.unitsconf import UnitsFile, configured
from core.unitsconf import load as load_config

KINDS = ("kota", "kecamatan", "kelurahan", "dinas", "biro", "sudin", "inspektorat")
# what each source makes; a sync changes only the kinds of the sources it read
AREA_KINDS = frozenset({"kota", "kecamatan", "kelurahan", "sudin"})
CONFIG_KINDS = frozenset({"dinas", "biro", "inspektorat"})
_ORDER = {kind: i for i, kind in enumerate(KINDS)}
_FIELDS = ("kind", "name", "parent_id", "kota_code", "area_code")
unit_t = Unit.__table__


class UnitError(ValueError):
    """A unit that does not exist; the message says which."""


@dataclass(frozen=True, slots=True)
class Synced:
    added: int = 0
    changed: int = 0  # renamed, moved, or active again
    deactivated: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.changed} changed, {self.deactivated} deactivated"


def _kota_name(code: str, name: str | None) -> str:
    kind = "Kabupaten" if is_kabupaten(code, name) else "Kota"
    return f"{kind} Administrasi {kota_label(code, name)}"


def units_from(config: UnitsFile, areas: Areas | None) -> list[dict]:
    """Every unit the sources give, parents before children. Without boundaries there are
    no area units and no suku dinas (they are made per kota)."""
    units: list[dict] = []
    kota_names: dict[str, str] = {}
    if areas is not None:
        for code, name in areas.kota.items():
            kota_names[code] = _kota_name(code, name)
            units.append({"id": f"kota-{code}", "kind": "kota", "name": kota_names[code],
                          "parent_id": None, "kota_code": code, "area_code": code})
        units += [{"id": f"kecamatan-{code}", "kind": "kecamatan",
                   "name": f"Kecamatan {name or code}", "parent_id": f"kota-{code[:5]}",
                   "kota_code": code[:5], "area_code": code}
                  for code, name in areas.kecamatan.items()]
        units += [{"id": f"kelurahan-{code}", "kind": "kelurahan",
                   "name": f"Kelurahan {name or code}", "parent_id": f"kecamatan-{code[:8]}",
                   "kota_code": code[:5], "area_code": code}
                  for code, name in areas.kelurahan.items()]
    units += [{"id": e.id, "kind": e.kind, "name": e.name, "parent_id": None,
               "kota_code": None, "area_code": None} for e in config.units]
    units += [{"id": f"sudin-{e.short}-{code}", "kind": "sudin",
               "name": f"{e.sudin_label()} {kota_name}", "parent_id": e.id,
               "kota_code": code, "area_code": None}
              for e in config.units if e.sudin for code, kota_name in kota_names.items()]
    return units


def _lock(conn: Connection) -> None:
    # as core.offices: two processes starting at once on PostgreSQL would insert twice
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE unit IN SHARE ROW EXCLUSIVE MODE"))


def sync(conn: Connection, units: list[dict], kinds: frozenset[str],
         now: datetime | None = None) -> Synced:
    """Insert the missing units, bring the others up to date (and active), and deactivate
    those of ``kinds`` that ``units`` no longer has. Nothing is deleted. A unit an admin
    edited or added (``edited_at``) keeps its name and active flag, and is kept when
    ``units`` does not have it."""
    _lock(conn)
    existing = {r.id: r for r in conn.execute(select(unit_t))}
    now = now or utcnow()
    added = changed = 0
    for u in units:  # one by one: a parent is in before its children
        old = existing.get(u["id"])
        if old is None:
            conn.execute(insert(unit_t).values(**u, active=True, created_at=now))
            added += 1
            continue
        # an admin's name and active flag (core.unitedit) stay; the rest follows the source
        fields = [f for f in _FIELDS if not (old.edited_at and f == "name")]
        values = {f: u[f] for f in fields} | ({} if old.edited_at else {"active": True})
        if any(getattr(old, f) != v for f, v in values.items()):
            conn.execute(update(unit_t).where(unit_t.c.id == u["id"]).values(**values))
            changed += 1
    wanted = {u["id"] for u in units}
    gone = [r.id for r in existing.values()
            if r.kind in kinds and r.active and r.id not in wanted and not r.edited_at]
    if gone:
        conn.execute(update(unit_t).where(unit_t.c.id.in_(gone)).values(active=False))
    return Synced(added, changed, len(gone))


def sync_units(engine: Engine, settings) -> Synced:
    """The units of ``config/units.yaml`` (``KANAL_UNITS``) and, when ``KANAL_BOUNDARIES``
    is set, of the boundaries. Without boundaries the area units and suku dinas already
    in the database are left as they are."""
    from core.categories import load as load_categories

    categories = [c["id"] for c in load_categories(settings.path("categories"))]
    config = load_config(settings.path("units"), categories)
    areas = read_areas(settings.path("boundaries")) if settings.boundaries is not None else None
    kinds = CONFIG_KINDS | (AREA_KINDS if areas is not None else frozenset())
    with writing(engine) as conn:
        return sync(conn, units_from(config, areas), kinds)


def list_units(conn: Connection, kind: str | None = None) -> list[Row]:
    """Units in ``KINDS`` order, then by area code and id; inactive ones too."""
    stmt = select(unit_t)
    if kind is not None:
        stmt = stmt.where(unit_t.c.kind == kind)
    return sorted(conn.execute(stmt),
                  key=lambda r: (_ORDER.get(r.kind, len(_ORDER)), r.area_code or "", r.id))


def unit(conn: Connection, unit_id: str) -> Row | None:
    return conn.execute(select(unit_t).where(unit_t.c.id == unit_id)).first()


def escalation_parent(conn: Connection, unit_id: str) -> str | None:
    """Where a late case goes next: kelurahan -> kecamatan -> kota, sudin -> dinas,
    skipping an inactive unit on the way. None at the top (a kota, a dinas, a biro)."""
    row = unit(conn, unit_id)
    if row is None:
        raise UnitError(f"no unit {unit_id!r} (see kanal units list)")
    while row.parent_id is not None:
        row = unit(conn, row.parent_id)
        if row.active:
            return row.id
    return None


def dinas_for_category(category_id: str | None, config: UnitsFile | None = None) -> str | None:
    """The dinas a kelurahan coordinates a category with, or None (the kelurahan's own)."""
    if category_id is None:
        return None
    return (config or configured()).categories.get(category_id)


def sudin_for(dinas_id: str, kota_code: str, config: UnitsFile | None = None,
              conn: Connection | None = None) -> str | None:
    """The id of the dinas's suku dinas in that kota, or None when the dinas has none (or
    is not a dinas of the file, or the code is not a kota's). The unit exists once the
    boundaries had that kota at a sync: check with ``unit(conn, id)``. With ``conn``, a
    dinas added on the units page (``core.unitedit``) is found by its stored suku dinas."""
    from core.geo import KOTA_CODE  # numpy and shapely: only when used

    if not KOTA_CODE.fullmatch(kota_code or ""):
        return None
    entry = (config or configured()).entry(dinas_id)
    if entry is None and conn is not None:
        return conn.execute(select(unit_t.c.id).where(
            unit_t.c.kind == "sudin", unit_t.c.parent_id == dinas_id,
            unit_t.c.kota_code == kota_code)).scalar()
    if entry is None or not entry.sudin:
        return None
    return f"sudin-{entry.short}-{kota_code}"

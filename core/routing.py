"""Which dinas a kelurahan coordinates a category with: ``config/units.yaml``'s
``categories:`` map, under the admins' changes (table ``category_route``, made on
``/staff/units`` or with ``kanal units route``). A row wins over the file, and a row
without a dinas keeps the category with the kelurahan even when the file names one; an
inactive dinas counts as none, so a case is never sent to a unit nobody works in.

Every change is audited (``category_routed``, old and new dinas) in its own transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from core import audit
from core.models import CategoryRoute, utcnow
from core.units import UnitError, unit, unit_t
from core.unitsconf import UnitsFile, configured

route_t = CategoryRoute.__table__
# the kinds a category may be coordinated with
ROUTE_KINDS = ("dinas", "biro")


class RouteError(UnitError):
    """A change refused; ``code`` says why (the pages' wording), the message in English."""

    def __init__(self, code: str, message: str, **params: Any):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class RouteRow:
    category: str
    name: str
    file_dinas: str | None  # what config/units.yaml says
    chosen: str | None  # the admins' row if there is one, else the file's
    dinas: str | None  # what cases get: ``chosen`` unless that unit is inactive
    overridden: bool

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "name": self.name, "file": self.file_dinas,
                "chosen": self.chosen, "dinas": self.dinas,
                "source": "database" if self.overridden else "file"}


def _routes(conn: Connection) -> dict[str, str | None]:
    return {r.category: r.dinas_id for r in conn.execute(select(route_t))}


def _usable(conn: Connection, dinas_id: str | None) -> str | None:
    row = unit(conn, dinas_id) if dinas_id else None
    return dinas_id if row is not None and row.active else None


def dinas_for(conn: Connection, category_id: str | None,
              config: UnitsFile | None = None) -> str | None:
    """The dinas (or biro) a category's case is coordinated with, or None: it stays with
    the kelurahan."""
    if category_id is None:
        return None
    row = conn.execute(select(route_t.c.dinas_id)
                       .where(route_t.c.category == category_id)).first()
    chosen = row.dinas_id if row is not None else (config or configured()).categories.get(
        category_id)
    return _usable(conn, chosen)


def category_map(conn: Connection, config: UnitsFile | None,
                 categories: Iterable[Mapping[str, Any]]) -> list[RouteRow]:
    """Every category (``core.categories.load``'s entries, in their order) with its dinas
    from the file, the one chosen and the one cases get."""
    config = config or configured()
    routes = _routes(conn)
    active = set(conn.execute(select(unit_t.c.id).where(unit_t.c.active)).scalars())
    rows = []
    for c in categories:
        file_dinas = config.categories.get(c["id"])
        overridden = c["id"] in routes
        chosen = routes[c["id"]] if overridden else file_dinas
        rows.append(RouteRow(c["id"], c.get("id_name") or c["id"], file_dinas, chosen,
                             chosen if chosen in active else None, overridden))
    return rows


def _known_categories(known: Iterable[str] | None) -> set[str]:
    if known is not None:
        return set(known)
    from core.categories import load
    from core.settings import KanalSettings

    return {c["id"] for c in load(KanalSettings().path("categories"))}


def check_category(category: str, known: Iterable[str] | None = None) -> None:
    ids = _known_categories(known)
    if category not in ids:
        raise RouteError("unknown_category", f"no category {category!r} (known: "
                         f"{', '.join(sorted(ids))})", category=category)


def check_dinas(conn: Connection, dinas_id: str) -> None:
    """An active unit of a kind a category may go to; the error says which it is not."""
    row = unit(conn, dinas_id)
    if row is None:
        raise RouteError("unknown_unit", f"no unit {dinas_id!r} (see kanal units list)",
                         unit=dinas_id)
    if row.kind not in ROUTE_KINDS:
        raise RouteError("not_dinas", f"{dinas_id!r} is a {row.kind}; a category goes to "
                         f"a dinas or a biro", unit=dinas_id, kind=row.kind)
    if not row.active:
        raise RouteError("inactive_unit", f"unit {dinas_id!r} is inactive", unit=dinas_id)


def _write(conn: Connection, category: str, dinas_id: str | None, actor: str,
           now: datetime) -> None:
    values = {"dinas_id": dinas_id, "updated_at": now, "updated_by": actor[:64]}
    if conn.execute(update(route_t).where(route_t.c.category == category)
                    .values(**values)).rowcount == 0:
        conn.execute(insert(route_t).values(category=category, **values))


def set_route(conn: Connection, category: str, dinas_id: str | None, actor: str,
              now: datetime | None = None, *, config: UnitsFile | None = None,
              known: Iterable[str] | None = None) -> bool:
    """Route ``category`` to ``dinas_id`` (None: it stays with the kelurahan), whatever
    the file says. ``known``: the category ids (the settings' categories file when None).
    False (and nothing written) when that is its route already."""
    check_category(category, known)
    if dinas_id is not None:
        check_dinas(conn, dinas_id)
    now = now or utcnow()
    config = config or configured()
    before = _routes(conn)
    old = before[category] if category in before else config.categories.get(category)
    if old == dinas_id:
        return False
    _write(conn, category, dinas_id, actor, now)
    audit.record(conn, actor, "category_routed", setting=category, old=old, new=dinas_id,
                 detail=None if dinas_id else "stays with the kelurahan", now=now)
    return True


def reset_route(conn: Connection, category: str, actor: str, now: datetime | None = None,
                *, config: UnitsFile | None = None,
                known: Iterable[str] | None = None) -> bool:
    """Back to the file's dinas. False (and nothing written) when it already was."""
    check_category(category, known)
    config = config or configured()
    before = _routes(conn)
    if category not in before:
        return False
    conn.execute(delete(route_t).where(route_t.c.category == category))
    audit.record(conn, actor, "category_route_reset", setting=category,
                 old=before[category], new=config.categories.get(category),
                 detail="back to config/units.yaml", now=now or utcnow())
    return True


"""The public list of recent reports (``/laporan`` and ``GET /api/v1/reports``): filters,
the page of reports and the points of the map, as plain dicts with no personal data.

What leaves this module: tracking ID, category, status, area codes and names, the unit
that holds the report, the time it came in, and its point snapped to a grid
(``round_point``). Never the message text, the reporter, the typed address or a handle;
never a confidential report. The query orders by ``created_at`` (newest first), from the
``ix_report_created`` index (migration 0010).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select

from core import tracking
from core.cases import STATUSES
from core.geo import KECAMATAN_CODE, KELURAHAN_CODE, KOTA_CODE
from core.models import Report
from core.reports import unit_names, wib
from core.workcal import WIB

report_t = Report.__table__
GRID = 0.002  # degrees (about 220 m): a point names a block of streets, not a house
PAGE_SIZE = 50
MAX_PAGE = 200  # deeper pages are refused (the offset would scan too far)
MAP_LIMIT = 300  # the newest points of the filtered reports that the map draws


class FilterError(ValueError):
    """A filter value that cannot be used; ``field`` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Filters:
    kota: str | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    category: str | None = None
    status: str | None = None
    dari: date | None = None  # from (inclusive), a WIB date
    sampai: date | None = None  # to (inclusive), a WIB date

    def params(self) -> list[tuple[str, str]]:
        """The filters that are set, as query parameters (dates as YYYY-MM-DD)."""
        return [(f.name, str(getattr(self, f.name))) for f in fields(self)
                if getattr(self, f.name) is not None]

    def area(self) -> str | None:
        """The narrowest area code filtered on."""
        return self.kelurahan or self.kecamatan or self.kota


def round_point(lat: float | None, lon: float | None,
                grid: float = GRID) -> tuple[float, float] | None:
    """(lat, lon) snapped to the centre of its ``grid``-degree cell: every point of a cell
    gives the same answer, so a point cannot be traced back to an address. None without
    a usable point."""
    if lat is None or lon is None:
        return None
    lat, lon = float(lat), float(lon)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    digits = max(0, -math.floor(math.log10(grid))) + 1

    def snap(v: float) -> float:
        return round((math.floor(v / grid) + 0.5) * grid, digits)

    return snap(lat), snap(lon)


def _day(value: str, field: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise FilterError(field, f"{value!r} bukan tanggal (TTTT-BB-HH)") from None
    if not date(2000, 1, 1) <= day <= date(2999, 12, 31):  # 9999-12-31 + 1 day overflows
        raise FilterError(field, f"tanggal {value} di luar jangkauan")
    return day


def parse(params: Mapping[str, str], *, areas: Collection[str] | None,
          categories: Collection[str]) -> tuple[Filters, int]:
    """Filters and page number from query parameters (an empty value: no filter).
    ``areas``: the known kota, kecamatan and kelurahan codes (None: any well-formed
    code). Raises FilterError for a value that is not one of them."""
    got = {k: (params.get(k) or "").strip() for k in
           ("kota", "kecamatan", "kelurahan", "category", "status", "dari", "sampai", "page")}
    for key, pattern in (("kota", KOTA_CODE), ("kecamatan", KECAMATAN_CODE),
                         ("kelurahan", KELURAHAN_CODE)):
        code = got[key]
        if code and (not pattern.fullmatch(code) or (areas is not None and code not in areas)):
            raise FilterError(key, f"{key} {code!r} tidak dikenal")
    kota, kecamatan, kelurahan = got["kota"], got["kecamatan"], got["kelurahan"]
    if kecamatan and kota and not kecamatan.startswith(kota + "."):
        raise FilterError("kecamatan", f"kecamatan {kecamatan} tidak berada di kota {kota}")
    if kelurahan and (kecamatan or kota) and not kelurahan.startswith((kecamatan or kota) + "."):
        raise FilterError("kelurahan", f"kelurahan {kelurahan} tidak berada di "
                                       f"{'kecamatan' if kecamatan else 'kota'} "
                                       f"{kecamatan or kota}")
    if got["category"] and got["category"] not in categories:
        raise FilterError("category", f"kategori {got['category']!r} tidak dikenal")
    if got["status"] and got["status"] not in STATUSES:
        raise FilterError("status", f"status {got['status']!r} tidak dikenal")
    dari = _day(got["dari"], "dari") if got["dari"] else None
    sampai = _day(got["sampai"], "sampai") if got["sampai"] else None
    if dari and sampai and dari > sampai:
        raise FilterError("sampai", "tanggal akhir sebelum tanggal awal")
    page = 1
    if got["page"]:
        if not got["page"].isdigit() or not 1 <= int(got["page"]) <= MAX_PAGE:
            raise FilterError("page", f"halaman harus bilangan 1 sampai {MAX_PAGE}")
        page = int(got["page"])
    return Filters(kota or None, kecamatan or None, kelurahan or None,
                   got["category"] or None, got["status"] or None, dari, sampai), page


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), WIB).astimezone(timezone.utc)


def _where(f: Filters) -> list:
    c = report_t.c
    conds = [c.confidential.is_(False)]
    if f.kelurahan:
        conds.append(c.kelurahan_code == f.kelurahan)
    elif f.kecamatan:
        conds.append(c.kecamatan_code == f.kecamatan)
    elif f.kota:
        conds.append(c.kota_code == f.kota)
    if f.category:
        conds.append(c.category == f.category)
    if f.status:
        conds.append(c.status == f.status)
    if f.dari:
        conds.append(c.created_at >= _start(f.dari))
    if f.sampai:
        conds.append(c.created_at < _start(f.sampai + timedelta(days=1)))
    return conds


# the only columns ever read: nothing personal is selected, so nothing personal can leak
_COLUMNS = (report_t.c.id, report_t.c.tracking_id, report_t.c.status, report_t.c.category,
            report_t.c.kelurahan_code, report_t.c.kelurahan_name, report_t.c.kecamatan_code,
            report_t.c.kota_code, report_t.c.unit_id, report_t.c.created_at)


def _item(r, names: dict[str, str], categories: Mapping[str, str],
          point: tuple[float, float] | None) -> dict[str, Any]:
    shown = tracking.display(r.tracking_id)
    return {
        "tracking_id": shown,
        "url": f"/lacak/{shown}",
        "status": r.status,
        "category": ({"id": r.category, "name": categories.get(r.category, r.category)}
                     if r.category else None),
        "kelurahan": ({"code": r.kelurahan_code, "name": r.kelurahan_name}
                      if r.kelurahan_code else None),
        "kecamatan_code": r.kecamatan_code,
        "kota_code": r.kota_code,
        "unit": {"id": r.unit_id, "name": names.get(r.unit_id, r.unit_id)} if r.unit_id else None,
        "created_at": wib(r.created_at),
        "point": {"lat": point[0], "lon": point[1]} if point else None,
    }


def recent(conn: Connection, f: Filters, page: int = 1, *, categories: Mapping[str, str],
           size: int | None = None) -> dict[str, Any]:
    """One page of ``size`` (at most PAGE_SIZE) reports, newest first: ``items``,
    ``page``, ``has_next``."""
    size = max(1, min(size or PAGE_SIZE, PAGE_SIZE))
    page = max(1, min(page, MAX_PAGE))
    rows = conn.execute(
        select(*_COLUMNS, report_t.c.lat, report_t.c.lon).where(*_where(f))
        .order_by(report_t.c.created_at.desc(), report_t.c.id.desc())
        .limit(size + 1).offset((page - 1) * size)).all()
    has_next = len(rows) > size and page < MAX_PAGE
    rows = rows[:size]
    names = unit_names(conn, [r.unit_id for r in rows])
    return {"items": [_item(r, names, categories, round_point(r.lat, r.lon)) for r in rows],
            "page": page, "has_next": has_next}


def points(conn: Connection, f: Filters, *, limit: int = MAP_LIMIT) -> list[dict[str, Any]]:
    """The map's points: the newest ``limit`` filtered reports that have one, rounded."""
    c = report_t.c
    rows = conn.execute(
        select(c.tracking_id, c.status, c.lat, c.lon)
        .where(*_where(f), c.lat.is_not(None), c.lon.is_not(None))
        .order_by(c.created_at.desc(), c.id.desc()).limit(max(1, min(limit, MAP_LIMIT)))).all()
    out = []
    for r in rows:
        point = round_point(r.lat, r.lon)
        if point is not None:
            shown = tracking.display(r.tracking_id)
            out.append({"tracking_id": shown, "url": f"/lacak/{shown}", "status": r.status,
                        "lat": point[0], "lon": point[1]})
    return out


def page_url(path: str, f: Filters, page: int, extra: list[tuple[str, str]] = ()) -> str:
    """``path`` with the filters, ``extra`` (the language) and the page number."""
    query = [*f.params(), *extra] + ([("page", str(page))] if page > 1 else [])
    return f"{path}?{urlencode(query)}" if query else path

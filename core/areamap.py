"""A map of several areas and many report points as SVG path data, for the public list
(``/laporan``): drawn on the server from the loaded kelurahan boundaries, like
``core.outline`` draws one kelurahan for the case page; no tiles, no outside script.

The areas drawn are one level below the filter: every kota (all of Jakarta; Kepulauan
Seribu only when asked for, it would shrink the mainland to a corner), the kecamatan of a
kota, the kelurahan of a kecamatan, or one kelurahan. Outlines are simplified to the
drawing's resolution, so the SVG stays a few kilobytes whatever the source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import shapely

from core.areas import is_kabupaten

SIZE = 480  # the drawing's longer side, in SVG units
PAD = 8


@dataclass(frozen=True, slots=True)
class Shape:
    code: str
    name: str | None
    path: str


@dataclass(frozen=True, slots=True)
class AreaMap:
    view_box: str
    shapes: list[Shape]
    # the points inside the frame: x, y in the drawing, with the point's own fields
    points: list[dict[str, Any]]


def areas_below(boundaries: Any, within: str | None) -> list[tuple[str, str | None, Any]]:
    """(code, name, geometry) of the areas one level below ``within`` (a kota, kecamatan
    or kelurahan code; None for the province)."""
    return list(_areas_below(boundaries, within or ""))


@lru_cache(maxsize=64)
def _areas_below(boundaries: Any, within: str) -> tuple[tuple[str, str | None, Any], ...]:
    places = boundaries.places(within or None)
    if not within:
        places = [p for p in places if not is_kabupaten(p.kota_code, p.kota_name)]
    level = {0: 5, 5: 8, 8: 13, 13: 13}.get(len(within), 13)
    groups: dict[str, list] = {}
    names: dict[str, str | None] = {}
    for p in places:
        code = p.code[:level]
        groups.setdefault(code, []).append(boundaries.geometry(p.code))
        names[code] = {5: p.kota_name, 8: p.kecamatan_name}.get(level, p.name)
    out = []
    for code, geoms in sorted(groups.items()):
        merged = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
        out.append((code, names[code], merged))
    return tuple(out)


def _rings(geometry: Any, min_area: float):
    """The rings worth drawing: the union of kelurahan leaves slivers between neighbours
    as holes, and a ring smaller than ``min_area`` (square degrees) would be a dot."""
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.geom_type != "Polygon" or polygon.is_empty:
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            if shapely.Polygon(ring).area >= min_area:
                yield ring


def draw(areas: list[tuple[str, str | None, Any]], points: list[dict[str, Any]],
         size: int = SIZE) -> AreaMap | None:
    """``areas`` as (code, name, geometry in lon/lat) and ``points`` as dicts with ``lat``
    and ``lon``: an equirectangular drawing, north up, framed on the areas (points outside
    the frame are left out). None when there is nothing to draw."""
    geoms = [g for _, _, g in areas if g is not None and not g.is_empty]
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    squeeze = math.cos(math.radians((miny + maxy) / 2))
    width, height = (maxx - minx) * squeeze, maxy - miny
    scale = size / max(width, height, 1e-9)
    tolerance = max(maxx - minx, maxy - miny) / size  # about one SVG unit

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return round((lon - minx) * squeeze * scale, 1), round((maxy - lat) * scale, 1)

    shapes = []
    for code, name, geometry in areas:
        if geometry is None or geometry.is_empty:
            continue
        simple = geometry.simplify(tolerance, preserve_topology=True)
        parts = []
        for ring in _rings(simple, (3 * tolerance) ** 2):
            pts = [xy(lon, lat) for lon, lat in ring.coords]
            kept = [pts[0]] + [p for a, p in zip(pts, pts[1:]) if p != a]
            if len(kept) >= 4:
                parts.append("M" + "L".join(f"{x} {y}" for x, y in kept[:-1]) + "Z")
        if parts:
            shapes.append(Shape(code, name, "".join(parts)))
    drawn = []
    for point in points:
        if minx <= point["lon"] <= maxx and miny <= point["lat"] <= maxy:
            x, y = xy(point["lon"], point["lat"])
            drawn.append({**point, "x": x, "y": y})
    w, h = round(width * scale, 1), round(height * scale, 1)
    return AreaMap(view_box=f"{-PAD} {-PAD} {w + 2 * PAD} {h + 2 * PAD}", shapes=shapes,
                   points=drawn)

"""A kelurahan's outline and the report's point as SVG path data, for the case page: drawn
on the server from the loaded boundaries, with no map tiles or scripts from outside (the
government network has no outside access)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely

SIZE = 240  # the drawing's longer side, in SVG units
MAX_POINTS = 400  # more vertices than this are simplified away (a phone draws it at once)


@dataclass(frozen=True, slots=True)
class Outline:
    view_box: str
    path: str  # the polygon(s) as one path, evenodd
    point: tuple[float, float] | None  # the report's point in the drawing


def outline(geometry: shapely.Geometry, point: tuple[float, float] | None = None,
            size: int = SIZE) -> Outline | None:
    """``geometry`` in (lon, lat) and ``point`` as (lat, lon): an equirectangular drawing
    north up, framed to hold the point too. None for an empty geometry."""
    if geometry is None or geometry.is_empty:
        return None
    minx, miny, maxx, maxy = geometry.bounds
    if point is not None:  # a point just outside the polygon still shows
        minx, maxx = min(minx, point[1]), max(maxx, point[1])
        miny, maxy = min(miny, point[0]), max(maxy, point[0])
    squeeze = math.cos(math.radians((miny + maxy) / 2))
    width, height = (maxx - minx) * squeeze, maxy - miny
    scale = size / max(width, height, 1e-9)
    if shapely.get_num_coordinates(geometry) > MAX_POINTS:
        geometry = geometry.simplify(max(width, height) / (size * 2), preserve_topology=True)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return round((lon - minx) * squeeze * scale, 1), round((maxy - lat) * scale, 1)

    rings = []
    polygons = getattr(geometry, "geoms", [geometry])
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            points = [xy(lon, lat) for lon, lat in ring.coords]
            rings.append("M" + " L".join(f"{x} {y}" for x, y in points) + " Z")
    w, h = round(width * scale, 1), round(height * scale, 1)
    pad = 6
    return Outline(view_box=f"{-pad} {-pad} {w + 2 * pad} {h + 2 * pad}",
                   path=" ".join(rings),
                   point=xy(point[1], point[0]) if point is not None else None)

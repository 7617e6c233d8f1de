"""Kelurahan routing: which kelurahan a point (or a text) is in, from a boundaries GeoJSON."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.strtree import STRtree

from core.files import read_text

Method = Literal["contains", "nearest", "named", "code"]

KELURAHAN_CODE = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")
KECAMATAN_CODE = re.compile(r"\d{2}\.\d{2}\.\d{2}")
KOTA_CODE = re.compile(r"\d{2}\.\d{2}")
METRES_PER_DEGREE = 111_320.0
DEFAULT_MAX_DISTANCE_M = 5000.0

# Kelurahan names that are also everyday Indonesian words ("di tengah jalan", "baru saja").
# In free text they count only right after "kelurahan" / "kel." (see Boundaries.find_named).
COMMON_WORD_NAMES = frozenset({
    "baru", "tengah", "jati", "gunung", "karet", "rambutan", "tangki", "kenari", "dukuh",
    "setu", "pulo", "gedong", "guntur", "gelora", "galur", "bangka", "makasar", "kartini",
    "susukan",
})
_KELURAHAN_PREFIX = re.compile(r"\b(?:kelurahan|kel\.?)\s*$", re.IGNORECASE)


class BoundariesError(ValueError):
    """The boundaries file cannot be used (missing, not JSON, no features, bad feature)."""


@dataclass(frozen=True, slots=True)
class Place:
    """A kelurahan and how it was found. kecamatan/kota codes come from the code prefix."""

    code: str
    name: str | None
    kecamatan_code: str
    kota_code: str
    kecamatan_name: str | None
    kota_name: str | None
    method: Method


@dataclass(frozen=True, slots=True)
class _Area:
    code: str
    name: str | None
    kecamatan_name: str | None
    kota_name: str | None

    def place(self, method: Method) -> Place:
        return Place(self.code, self.name, self.code[:8], self.code[:5],
                     self.kecamatan_name, self.kota_name, method)


def valid_coordinates(lat: Any, lon: Any) -> bool:
    """True for finite numbers with lat in [-90, 90] and lon in [-180, 180]."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return False
    return -90.0 <= lat_f <= 90.0 and -180.0 <= lon_f <= 180.0  # False for NaN


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


class Boundaries:
    """Kelurahan polygons with a spatial index.

    ``locate(lat, lon)``:

    * If the point lies in (or on the edge of) one or more polygons, the answer is one of
      them (method ``"contains"``). Several polygons happen on border slivers left by
      simplification; the tie is broken the same way every time: the polygon whose centroid
      is nearest to the point wins, and on an exact tie the smallest code.
    * If it lies in none, the nearest polygon within ``max_distance_m`` metres is the answer
      (method ``"nearest"``), ties again by smallest code; beyond that distance, None.
    * Invalid coordinates (NaN, infinite, out of range, not numbers) give None.

    Distances use a local equirectangular projection centred on the latitude of the
    boundaries' extent (good to well under 1% inside a city or a province).
    """

    def __init__(
        self,
        areas: list[_Area],
        geometries: list[shapely.Geometry],
        *,
        max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
        common_words: Collection[str] = COMMON_WORD_NAMES,
    ) -> None:
        if not areas or len(areas) != len(geometries):
            raise BoundariesError("boundaries need one geometry per area and at least one area")
        if not max_distance_m >= 0:
            raise ValueError(f"max_distance_m must be >= 0, got {max_distance_m!r}")
        self.max_distance_m = float(max_distance_m)
        self._areas = areas
        self._by_code = {area.code: area for area in areas}
        geoms = np.array(geometries, dtype=object)
        self._tree = STRtree(geoms)

        _, miny, _, maxy = shapely.total_bounds(geoms)
        lat0 = math.radians((miny + maxy) / 2.0)
        self._scale = np.array([METRES_PER_DEGREE * math.cos(lat0), METRES_PER_DEGREE])
        projected = shapely.transform(geoms, lambda xy: xy * self._scale)
        self._tree_m = STRtree(projected)
        self._anchors = shapely.get_coordinates(shapely.centroid(projected))

        self.names: Mapping[str, str | None] = MappingProxyType(
            {area.code: area.name for area in areas})
        self._name_index, self._name_re = self._build_name_matcher(
            areas, {_norm(w) for w in common_words})

    @classmethod
    def from_geojson(
        cls,
        path: str | Path,
        *,
        max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
        common_words: Collection[str] = COMMON_WORD_NAMES,
    ) -> Boundaries:
        """Load a FeatureCollection of kelurahan (properties ``code``, ``name``, optionally
        ``kecamatan`` and ``kota``); raises BoundariesError naming the file and feature."""
        path = Path(path)
        text = read_text(path, BoundariesError, "boundaries file")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BoundariesError(
                f"{path}: invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        areas, geometries = _parse_features(data, str(path))
        return cls(areas, geometries, max_distance_m=max_distance_m, common_words=common_words)

    def __len__(self) -> int:
        return len(self._areas)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def places(self, within: str | None = None) -> list[Place]:
        """Every kelurahan (or those whose code starts with ``within``: a kota or a
        kecamatan code), by kota, kecamatan and name."""
        chosen = [a for a in self._areas if within is None or a.code.startswith(within)]
        chosen.sort(key=lambda a: (a.kota_name or a.code[:5], a.kecamatan_name or a.code[:8],
                                   a.name or a.code))
        return [a.place("code") for a in chosen]

    def name_of(self, code: str) -> str | None:
        area = self._by_code.get(code)
        return area.name if area else None

    def place_for(self, code: str, method: Method = "code") -> Place | None:
        area = self._by_code.get(code)
        return area.place(method) if area else None

    def geometry(self, code: str) -> shapely.Geometry | None:
        """The kelurahan's polygon (lon, lat), for drawing it; None for an unknown code."""
        area = self._by_code.get(code)
        return self._tree.geometries[self._areas.index(area)] if area else None

    def locate(self, lat: float, lon: float) -> Place | None:
        """The kelurahan at (lat, lon); see the class docstring for the rules."""
        if not valid_coordinates(lat, lon):
            return None
        lat, lon = float(lat), float(lon)
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 1:
            return self._areas[hits[0]].place("contains")
        if len(hits):
            xy = np.array([lon, lat]) * self._scale
            dist = np.hypot(*(self._anchors[hits] - xy).T)
            return self._pick(hits, dist).place("contains")
        point_m = shapely.Point(lon * self._scale[0], lat * self._scale[1])
        found, dist = self._tree_m.query_nearest(
            point_m, max_distance=self.max_distance_m, return_distance=True, all_matches=True)
        if not len(found):
            return None
        return self._pick(found, dist).place("nearest")

    def _pick(self, indices: np.ndarray, dist: np.ndarray) -> _Area:
        return min((float(d), self._areas[i].code, self._areas[i])
                   for i, d in zip(indices, dist))[2]

    def find_named(self, text: str | None) -> Place | None:
        """The kelurahan named in a free text (method ``"named"``), or None.

        Names match case-insensitively as whole words, any run of whitespace standing for a
        space. The longest name found wins ("Menteng Atas" over "Menteng"), then the earliest
        in the text. Names shared by several kelurahan are ambiguous and never match. Names
        that are everyday words (``common_words``, e.g. "Baru", "Tengah") match only right
        after "kelurahan" or "kel.".
        """
        if not text or self._name_re is None:
            return None
        best: tuple[int, int, str] | None = None
        for match in self._name_re.finditer(text):
            key = _norm(match.group(1))
            code, common = self._name_index[key]
            if common and not _KELURAHAN_PREFIX.search(text, 0, match.start()):
                continue
            rank = (-len(key), match.start(), code)
            if best is None or rank < best:
                best = rank
        return self._by_code[best[2]].place("named") if best else None

    @staticmethod
    def _build_name_matcher(
        areas: list[_Area], common: set[str]
    ) -> tuple[dict[str, tuple[str, bool]], re.Pattern[str] | None]:
        codes_by_name: dict[str, list[str]] = {}
        for area in areas:
            if area.name and area.name.strip():
                codes_by_name.setdefault(_norm(area.name), []).append(area.code)
        index = {key: (codes[0], key in common)
                 for key, codes in codes_by_name.items() if len(codes) == 1}
        if not index:
            return index, None
        alternatives = "|".join(
            r"\s+".join(re.escape(word) for word in key.split())
            for key in sorted(index, key=lambda k: (-len(k), k)))
        # a lookahead finds overlapping candidates at every position
        return index, re.compile(rf"(?=(?<!\w)({alternatives})(?!\w))", re.IGNORECASE)


def _text_prop(props: Mapping[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _parse_features(data: Any, source: str) -> tuple[list[_Area], list[shapely.Geometry]]:
    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise BoundariesError(f"{source}: not a GeoJSON FeatureCollection (no 'features' list)")
    if not data["features"]:
        raise BoundariesError(f"{source}: the FeatureCollection has no features")
    areas: list[_Area] = []
    geometries: list[shapely.Geometry] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(data["features"]):
        where = f"{source}: feature {i}"
        if not isinstance(feature, dict):
            raise BoundariesError(f"{where} is not a GeoJSON object")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise BoundariesError(f"{where}: properties is not an object")
        code = _text_prop(props, "code")
        if code is None:
            raise BoundariesError(f"{where} has no 'code' property")
        if not KELURAHAN_CODE.fullmatch(code):
            raise BoundariesError(
                f"{where}: code {code!r} is not a Kemendagri kelurahan code (PP.KK.CC.DDDD)")
        if code in seen:
            raise BoundariesError(f"{where}: code {code} already used by feature {seen[code]}")
        seen[code] = i
        geometries.append(_parse_geometry(feature.get("geometry"), f"{where} ({code})"))
        areas.append(_Area(code, _text_prop(props, "name"), _text_prop(props, "kecamatan"),
                           _text_prop(props, "kota")))
    return areas, geometries


def _parse_geometry(geometry: Any, where: str) -> shapely.Geometry:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in ("Polygon", "MultiPolygon"):
        raise BoundariesError(f"{where}: geometry must be a Polygon or MultiPolygon, got {kind!r}")
    try:
        geom = shape(geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ShapelyError) as exc:
        raise BoundariesError(f"{where}: unreadable {kind}: {exc}") from None
    if geom.is_empty:
        raise BoundariesError(f"{where}: empty {kind}")
    return geom if geom.is_valid else shapely.make_valid(geom)

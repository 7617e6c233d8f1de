"""Kelurahan routing on a small synthetic boundaries file (tests/fixtures/boundaries_small.geojson).

Layout (lon x lat, all made up):
  Alfa        31.71.01.1001  106.8000-106.8100 x -6.21..-6.20
  Alfa Jaya   31.71.01.1002  106.8095-106.8135 x -6.21..-6.20  (overlaps Alfa by a sliver)
  Cempaka Sari 31.71.02.1001 106.8000-106.8135 x -6.22..-6.21  (no kecamatan/kota names)
  Delta Raya  31.72.01.1001  106.83-106.84 x -6.21..-6.20, plus an island 106.85-106.855
  Baru        31.72.01.1002  106.83-106.84 x -6.22..-6.21
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from core.geo import Boundaries, BoundariesError, Place

FIXTURE = Path(__file__).parent / "fixtures" / "boundaries_small.geojson"


@pytest.fixture(scope="module")
def small() -> Boundaries:
    return Boundaries.from_geojson(FIXTURE)


def _square(code: str, x0: float, y0: float, size: float = 0.01) -> dict:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Feature", "properties": {"code": code, "name": f"Kel {code[-4:]}"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lat", "lon", "code", "method"),
    [
        (-6.205, 106.805, "31.71.01.1001", "contains"),
        (-6.205, 106.812, "31.71.01.1002", "contains"),
        (-6.215, 106.805, "31.71.02.1001", "contains"),
        (-6.205, 106.835, "31.72.01.1001", "contains"),
        (-6.1875, 106.8525, "31.72.01.1001", "contains"),
        (-6.215, 106.835, "31.72.01.1002", "contains"),
        (-6.205, 106.79, "31.71.01.1001", "nearest"),
        (-6.205, 106.82, "31.71.01.1002", "nearest"),
        (-6.225, 106.835, "31.72.01.1002", "nearest"),
    ],
    ids=["alfa", "alfa-jaya", "cempaka-sari", "delta-main", "delta-island", "baru",
         "west-of-alfa-1km", "gap-nearer-alfa-jaya", "south-of-baru"],
)
def test_locate(small: Boundaries, lat: float, lon: float, code: str, method: str) -> None:
    place = small.locate(lat, lon)
    assert place is not None
    assert (place.code, place.method) == (code, method)


# In the sliver (106.8095..106.8100) both Alfa and Alfa Jaya contain the point. Alfa Jaya's
# centroid (lon 106.8115) is nearer than Alfa's (106.805), so Alfa Jaya wins although its code
# is the larger one. On the shared edge of Alfa and Cempaka Sari, Alfa's centroid is nearer.
@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [(-6.205, 106.8097, "31.71.01.1002"), (-6.2001, 106.8096, "31.71.01.1002"),
     (-6.21, 106.805, "31.71.01.1001")],
    ids=["sliver-middle", "sliver-corner", "shared-edge"],
)
def test_overlap_tie_break_nearest_centroid(lat: float, lon: float, code: str) -> None:
    first, second = Boundaries.from_geojson(FIXTURE), Boundaries.from_geojson(FIXTURE)
    answers = {first.locate(lat, lon), second.locate(lat, lon)}
    assert answers == {first.place_for(code, "contains")}


@pytest.mark.parametrize(("lat", "lon"), [(-6.205, 106.805), (-6.195, 106.805)],
                         ids=["inside-both", "nearest-to-both"])
def test_exact_tie_smallest_code(tmp_path: Path, lat: float, lon: float) -> None:
    twins = [_square("31.75.01.1002", 106.80, -6.21), _square("31.75.01.1001", 106.80, -6.21)]
    path = _write(tmp_path / "twins.geojson", {"type": "FeatureCollection", "features": twins})
    place = Boundaries.from_geojson(path).locate(lat, lon)
    assert place is not None and place.code == "31.75.01.1001"


@pytest.mark.parametrize(
    ("lat", "lon", "max_distance_m"),
    [(-6.9175, 107.6191, 5000), (-6.205, 106.70, 5000), (-6.205, 106.79, 500),
     (0.0, 0.0, 5000)],
    ids=["bandung", "11km-west", "1km-west-with-500m-limit", "null-island"],
)
def test_beyond_range_is_none(lat: float, lon: float, max_distance_m: float) -> None:
    assert Boundaries.from_geojson(FIXTURE, max_distance_m=max_distance_m).locate(lat, lon) is None


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(math.nan, 106.8), (-6.2, math.nan), (math.inf, 106.8), (-90.5, 106.8), (91, 106.8),
     (-6.2, 180.5), (-6.2, -181), (None, 106.8), ("abc", 106.8)],
    ids=["nan-lat", "nan-lon", "inf-lat", "lat-below", "lat-above", "lon-above", "lon-below",
         "none", "not-a-number"],
)
def test_invalid_coordinates_are_none(small: Boundaries, lat: object, lon: object) -> None:
    assert small.locate(lat, lon) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (-6.205, 106.812, Place("31.71.01.1002", "Alfa Jaya", "31.71.01", "31.71", "Satu",
                                "Kota Uji Pusat", "contains")),
        (-6.215, 106.805, Place("31.71.02.1001", "Cempaka Sari", "31.71.02", "31.71", None,
                                None, "contains")),
    ],
    ids=["codes-from-prefix-not-properties", "names-absent"],
)
def test_place_fields(small: Boundaries, lat: float, lon: float, expected: Place) -> None:
    assert small.locate(lat, lon) == expected


def test_names(small: Boundaries) -> None:
    assert len(small) == 5
    assert small.name_of("31.72.01.1001") == "Delta Raya"
    assert small.name_of("31.99.99.9999") is None
    assert small.names["31.71.01.1002"] == "Alfa Jaya"
    assert small.place_for("31.99.99.9999") is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Jalan berlubang di ALFA dekat pasar", "31.71.01.1001"),
        ("Banjir di alfa jaya sejak pagi", "31.71.01.1002"),
        ("Alfa, dekat perbatasan Alfa Jaya", "31.71.01.1002"),
        ("Pohon tumbang di Cempaka   Sari", "31.71.02.1001"),
        ("Delta Raya dan Alfa", "31.72.01.1001"),
        ("Sampah menumpuk di Kel. Baru", "31.72.01.1002"),
        ("sampah di kelurahan baru", "31.72.01.1002"),
        ("Lampu jalan baru saja mati", None),
        ("Alfanya kurang terang", None),
        ("Jalan Alfajaya rusak", None),
        ("Tidak ada nama tempat", None),
        ("", None),
    ],
    ids=["case-insensitive", "longest-over-prefix", "longest-over-earlier", "whitespace-run",
         "longest-across-names", "common-word-after-kel", "common-word-after-kelurahan",
         "common-word-alone", "not-whole-word", "glued-words", "no-name", "empty"],
)
def test_find_named(small: Boundaries, text: str, code: str | None) -> None:
    place = small.find_named(text)
    assert (place.code if place else None) == code
    if place is not None:
        assert place.method == "named"


def test_find_named_skips_ambiguous_names(tmp_path: Path) -> None:
    twins = [_square("31.75.01.1001", 106.80, -6.21), _square("31.75.01.1002", 106.82, -6.21)]
    for feature in twins:
        feature["properties"]["name"] = "Kembar"
    path = _write(tmp_path / "dup.geojson", {"type": "FeatureCollection", "features": twins})
    assert Boundaries.from_geojson(path).find_named("banjir di Kembar") is None


_GOOD = _square("31.75.01.1001", 106.80, -6.21)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "invalid JSON"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "FeatureCollection"}, "no 'features' list"),
        ([1, 2], "no 'features' list"),
        ({"type": "FeatureCollection",
          "features": [_GOOD, {"type": "Feature", "properties": {"name": "X"},
                               "geometry": _GOOD["geometry"]}]},
         "feature 1 has no 'code' property"),
        ({"type": "FeatureCollection",
          "features": [_GOOD, {**_GOOD, "properties": {"code": "3171011001"}}]},
         "feature 1: code '3171011001' is not a Kemendagri kelurahan code"),
        ({"type": "FeatureCollection", "features": [_GOOD, _GOOD]},
         "feature 1: code 31.75.01.1001 already used by feature 0"),
        ({"type": "FeatureCollection",
          "features": [{**_GOOD, "geometry": {"type": "Point", "coordinates": [106.8, -6.2]}}]},
         "feature 0 (31.75.01.1001): geometry must be a Polygon or MultiPolygon"),
        ({"type": "FeatureCollection",
          "features": [{**_GOOD, "geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}}]},
         "feature 0 (31.75.01.1001): unreadable Polygon"),
    ],
    ids=["missing-file", "bad-json", "no-features", "no-features-key", "not-an-object",
         "missing-code", "bps-style-code", "duplicate-code", "point-geometry", "broken-ring"],
)
def test_boundaries_errors(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "kelurahan.geojson"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        _write(path, content)
    with pytest.raises(BoundariesError, match=re.escape(message)) as info:
        Boundaries.from_geojson(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)

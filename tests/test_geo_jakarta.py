"""Routing on the real DKI Jakarta kelurahan boundaries (../shared/data, not in this repo)."""

from __future__ import annotations

import json

import pytest

from core.geo import Boundaries
from tests.helpers import jakarta_geojson



@pytest.fixture(scope="module")
def features() -> list[dict]:
    return json.loads(jakarta_geojson().read_text(encoding="utf-8"))["features"]


@pytest.fixture(scope="module")
def jakarta(features: list[dict]) -> Boundaries:
    return Boundaries.from_geojson(jakarta_geojson())


def test_count_is_267(jakarta: Boundaries, features: list[dict]) -> None:
    assert len(features) == 267
    assert len(jakarta) == 267


def test_every_interior_point_routes_to_its_own_kelurahan(
    jakarta: Boundaries, features: list[dict]
) -> None:
    mismatches = []
    for feature in features:
        props = feature["properties"]
        place = jakarta.locate(props["interior_lat"], props["interior_lon"])
        if place is None or place.code != props["code"] or place.method != "contains":
            mismatches.append((props["code"], props["name"], place))
    assert mismatches == []


def test_prefix_codes_and_names(jakarta: Boundaries, features: list[dict]) -> None:
    props = next(f["properties"] for f in features if f["properties"]["name"] == "Gambir")
    place = jakarta.locate(props["interior_lat"], props["interior_lon"])
    assert place is not None
    assert (place.code, place.kecamatan_code, place.kota_code) == (
        props["code"], props["kecamatan_code"], props["kota_code"])
    assert (place.kecamatan_name, place.kota_name) == (props["kecamatan"], props["kota"])


@pytest.mark.parametrize(
    ("lat", "lon"), [(-6.9175, 107.6191), (-6.5971, 106.8060)], ids=["bandung", "bogor"]
)
def test_outside_jakarta_is_none(jakarta: Boundaries, lat: float, lon: float) -> None:
    assert jakarta.locate(lat, lon) is None


@pytest.mark.parametrize(
    ("text", "name"),
    [("Jalan rusak di Menteng Atas dekat pasar", "Menteng Atas"),
     ("Banjir setinggi lutut di pluit", "Pluit"),
     ("Ada lubang di tengah jalan, baru saja terjadi", None)],
    ids=["longest-name", "lowercase", "common-words-only"],
)
def test_find_named(jakarta: Boundaries, text: str, name: str | None) -> None:
    place = jakarta.find_named(text)
    assert (place.name if place else None) == name

"""Offices with a walk-in counter: built from the boundaries file, synced, added by hand."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core import offices
from core.db import make_engine, writing
from core.geo import BoundariesError
from tests.conftest import FIXTURES
from tests.helpers import jakarta_geojson

SMALL = FIXTURES / "boundaries_small.geojson"


@pytest.fixture(scope="module")
def jakarta() -> list[dict]:
    return offices.offices_from_boundaries(jakarta_geojson())


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def by_id(items) -> dict:
    return {(o["id"] if isinstance(o, dict) else o.id): o for o in items}


def test_jakarta_has_an_office_per_area(jakarta):
    assert Counter(o["kind"] for o in jakarta) == {
        "pendopo": 1, "walikota": 6, "inspektorat": 1, "kecamatan": 44, "kelurahan": 267}
    assert len(by_id(jakarta)) == len(jakarta) == 319
    assert [o["kind"] for o in jakarta] == sorted(
        (o["kind"] for o in jakarta), key=list(offices.KINDS).index)


JAKARTA_OFFICES = [
    ("pendopo", "pendopo", "31", "Pendopo Balai Kota"),
    ("inspektorat", "inspektorat", "31", "Kantor Inspektorat Provinsi DKI Jakarta"),
    ("walikota-31.01", "walikota", "31.01", "Kantor Bupati Kepulauan Seribu"),
    ("walikota-31.71", "walikota", "31.71", "Kantor Walikota Jakarta Pusat"),
    ("walikota-31.75", "walikota", "31.75", "Kantor Walikota Jakarta Timur"),
    ("kecamatan-31.71.01", "kecamatan", "31.71.01", "Kantor Kecamatan Gambir"),
    ("kelurahan-31.71.01.1001", "kelurahan", "31.71.01.1001", "Kantor Kelurahan Gambir"),
]


@pytest.mark.parametrize("office_id, kind, area, name", JAKARTA_OFFICES,
                         ids=[case[0] for case in JAKARTA_OFFICES])
def test_jakarta_office_names(jakarta, office_id, kind, area, name):
    assert by_id(jakarta)[office_id] == {"id": office_id, "kind": kind, "area_code": area,
                                         "name": name}


def test_jakarta_sync_is_idempotent(jakarta, engine):
    with writing(engine) as conn:
        assert offices.sync(conn, jakarta) == 319
    with writing(engine) as conn:
        assert offices.sync(conn, jakarta) == 0
    with engine.connect() as conn:
        assert len(offices.list_offices(conn)) == 319
        assert len(offices.list_offices(conn, "kecamatan")) == 44


def test_small_fixture_offices():
    built = by_id(offices.offices_from_boundaries(SMALL))
    assert {k: o["name"] for k, o in built.items()} == {
        "pendopo": "Pendopo Balai Kota",
        "walikota-31.71": "Kantor Walikota Uji Pusat",
        "walikota-31.72": "Kantor Walikota Uji Utara",
        "inspektorat": "Kantor Inspektorat Provinsi DKI Jakarta",
        "kecamatan-31.71.01": "Kantor Kecamatan Satu",
        # no kecamatan or kota property: the code stands in for the name
        "kecamatan-31.71.02": "Kantor Kecamatan 31.71.02",
        "kecamatan-31.72.01": "Kantor Kecamatan Dua",
        "kelurahan-31.71.01.1001": "Kantor Kelurahan Alfa",
        # its kecamatan_code/kota_code properties say 99.99.99/99.99: the code prefix wins
        "kelurahan-31.71.01.1002": "Kantor Kelurahan Alfa Jaya",
        "kelurahan-31.71.02.1001": "Kantor Kelurahan Cempaka Sari",
        "kelurahan-31.72.01.1001": "Kantor Kelurahan Delta Raya",
        "kelurahan-31.72.01.1002": "Kantor Kelurahan Baru",
    }


def write_geojson(path: Path, *props: dict) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": None} for p in props]}))
    return path


@pytest.mark.parametrize("code, kota, name", [
    ("31.71.01.1001", "Kota Administrasi Jakarta Pusat", "Kantor Walikota Jakarta Pusat"),
    ("31.01.01.1001", "Kabupaten Administrasi Kepulauan Seribu",
     "Kantor Bupati Kepulauan Seribu"),
    ("31.01.01.1001", "Kepulauan Seribu", "Kantor Bupati Kepulauan Seribu"),
    ("31.72.01.1001", None, "Kantor Walikota 31.72"),
], ids=["kota-prefix", "kabupaten-prefix", "kabupaten-by-code", "no-name"])
def test_kota_office_names(tmp_path, code, kota, name):
    path = write_geojson(tmp_path / "b.geojson", {"code": code, "name": "X", "kota": kota})
    assert by_id(offices.offices_from_boundaries(path))[f"walikota-{code[:5]}"]["name"] == name


@pytest.mark.parametrize("content, message", [
    (None, "boundaries file not found"),
    ("{", "invalid JSON"),
    ('{"type": "FeatureCollection", "features": []}', "with features"),
    ('{"features": [{"properties": {"code": "31.71"}}]}', "feature 0 has no kelurahan code"),
], ids=["missing", "not-json", "no-features", "bad-code"])
def test_unusable_boundaries_file(tmp_path, content, message):
    path = tmp_path / "b.geojson"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BoundariesError, match=message):
        offices.offices_from_boundaries(path)


def test_sync_updates_names_and_keeps_offices_added_by_hand(engine):
    small = offices.offices_from_boundaries(SMALL)
    with writing(engine) as conn:
        assert offices.sync(conn, small) == 12
        offices.add(conn, "posko-banjir", "kelurahan", "Posko Banjir", "31.71.01.1001")
    renamed = [{**o, "name": "Kantor Kelurahan Alfa Baru"}
               if o["id"] == "kelurahan-31.71.01.1001" else o for o in small]
    with writing(engine) as conn:
        assert offices.sync(conn, renamed) == 0
    with engine.connect() as conn:
        assert offices.get(conn, "kelurahan-31.71.01.1001").name == "Kantor Kelurahan Alfa Baru"
        posko = offices.get(conn, "posko-banjir")
        assert (posko.kind, posko.name, posko.area_code, posko.active) == (
            "kelurahan", "Posko Banjir", "31.71.01.1001", True)
        assert [o.id for o in offices.list_offices(conn, "kelurahan")][:3] == [
            "kelurahan-31.71.01.1001", "posko-banjir", "kelurahan-31.71.01.1002"]
        assert offices.get(conn, "no-such-office") is None


def test_sync_from_settings(engine, settings):
    assert offices.sync_from_settings(engine, settings) == 12
    assert offices.sync_from_settings(engine, settings) == 0
    assert offices.sync_from_settings(engine, settings.model_copy(
        update={"boundaries": None})) == 0


@pytest.mark.parametrize("office_id, kind, name, area, message", [
    ("posko", "posko", "Posko", None, "unknown office kind 'posko'"),
    ("Posko", "kelurahan", "Posko", None, "an office id is"),
    ("posko banjir", "kelurahan", "Posko", None, "an office id is"),
    ("", "kelurahan", "Posko", None, "an office id is"),
    ("x" * 65, "kelurahan", "Posko", None, "an office id is"),
    ("posko", "kelurahan", "  ", None, "an office name is"),
    ("posko", "kelurahan", "Posko", "31.7", "area code '31.7' is not"),
    ("posko", "kelurahan", "Posko", "3171", "area code '3171' is not"),
    ("posko", "kelurahan", "Posko", "31.71.01.1001.1", "is not a Kemendagri code"),
    ("pendopo", "pendopo", "Pendopo Kedua", "31", "the office id 'pendopo' is taken"),
], ids=["kind", "uppercase", "space", "empty", "too-long", "no-name", "short-area",
        "bps-area", "long-area", "taken"])
def test_add_refuses(engine, office_id, kind, name, area, message):
    with writing(engine) as conn:
        offices.sync(conn, offices.offices_from_boundaries(SMALL))
    with writing(engine) as conn, pytest.raises(offices.OfficeError, match=message):
        offices.add(conn, office_id, kind, name, area)


def test_every_kind_has_its_official_channel():
    from core.config import load_channels

    shipped = load_channels(Path(__file__).resolve().parents[1] / "config" / "channels.yaml",
                            env={})
    assert all(shipped.official(channel) for channel in offices.KINDS.values())
    assert {offices.KIND_OF_CHANNEL[c]: c for c in offices.KINDS.values()} == offices.KINDS

"""The public list of reports (core.publiclist, /laporan, GET /api/v1/reports): filters,
pages, rounding of points, confidential reports left out, bad filters refused."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from core import publiclist, tracking
from core.db import writing
from core.models import Report
from gateway.app import create_app
from tests.casework import clock, kanal, report_in_alfa  # noqa: F401

report_t = Report.__table__
CATEGORIES = {"jalan-rusak": "Jalan rusak", "sampah": "Sampah", "banjir": "Banjir"}
ITEM_KEYS = {"tracking_id", "url", "status", "category", "kelurahan", "kecamatan_code",
             "kota_code", "unit", "created_at", "point"}


def _set(kanal, compact: str, **values) -> None:
    with writing(kanal.engine) as conn:
        conn.execute(update(report_t).where(report_t.c.tracking_id == compact).values(**values))


@pytest.fixture
def filed(kanal, clock) -> dict[str, str]:
    """Five reports a day apart (1 to 5 December 2026, 09:00 WIB); the last is
    confidential. Their shown tracking IDs by letter."""
    made = {}
    specs = {
        "A": dict(category="jalan-rusak", lat=-6.2051, lon=106.8052),  # Alfa
        "B": dict(category="sampah", lat=-6.2031, lon=106.8072),  # Alfa
        "C": dict(category="jalan-rusak", lat=-6.215, lon=106.805),  # Cempaka Sari
        "D": dict(category="banjir", lat=-6.205, lon=106.835),  # Delta Raya, 31.72
        "E": dict(category="jalan-rusak", lat=-6.2052, lon=106.8053),  # Alfa, confidential
    }
    for letter, fields in specs.items():
        made[letter] = report_in_alfa(kanal, f"Laporan {letter}", **fields)
        clock.now += timedelta(days=1)
    _set(kanal, made["C"], status="Proses")
    _set(kanal, made["E"], confidential=True)
    return {k: tracking.display(v) for k, v in made.items()}


def listed(kanal, page: int = 1, size: int | None = None, **params) -> dict:
    f, _ = publiclist.parse(params, areas=None, categories=CATEGORIES)
    with kanal.engine.connect() as conn:
        return publiclist.recent(conn, f, page, categories=CATEGORIES, size=size)


def ids(result) -> list[str]:
    return [i["tracking_id"] for i in result["items"]]


def test_round_point_snaps_every_point_of_a_cell_to_its_centre():
    assert publiclist.round_point(-6.2051, 106.8052) == (-6.205, 106.805)
    cell = {publiclist.round_point(-6.2041 - i * 0.00019, 106.8041 + i * 0.00019)
            for i in range(10)}
    assert cell == {(-6.205, 106.805)}  # ten points 270 m apart diagonally, one answer
    assert publiclist.round_point(-6.2061, 106.8052) == (-6.207, 106.805)  # the next cell
    for lat, lon in ((-6.123456, 106.987654), (-6.3, 106.7), (0.0001, -0.0001)):
        rlat, rlon = publiclist.round_point(lat, lon)
        assert abs(rlat - lat) <= publiclist.GRID / 2 + 1e-9
        assert abs(rlon - lon) <= publiclist.GRID / 2 + 1e-9
    assert publiclist.round_point(None, 106.8) is None
    assert publiclist.round_point(math.nan, 106.8) is None


def test_filters_narrow_the_list_newest_first(kanal, filed):
    assert ids(listed(kanal)) == [filed[k] for k in "DCBA"]  # E is confidential
    assert ids(listed(kanal, kota="31.71")) == [filed[k] for k in "CBA"]
    assert ids(listed(kanal, kota="31.72")) == [filed["D"]]
    assert ids(listed(kanal, kecamatan="31.71.01")) == [filed[k] for k in "BA"]
    assert ids(listed(kanal, kelurahan="31.71.02.1001")) == [filed["C"]]
    assert ids(listed(kanal, category="jalan-rusak")) == [filed[k] for k in "CA"]
    assert ids(listed(kanal, status="Proses")) == [filed["C"]]
    assert ids(listed(kanal, status="Menunggu", kota="31.71")) == [filed[k] for k in "BA"]
    # WIB dates, both ends included: 2 and 3 December
    assert ids(listed(kanal, dari="2026-12-02", sampai="2026-12-03")) == [
        filed["C"], filed["B"]]
    assert ids(listed(kanal, dari="2026-12-04")) == [filed["D"]]
    assert ids(listed(kanal, sampai="2026-11-30")) == []


def test_items_carry_only_public_fields_and_rounded_points(kanal, filed):
    [item] = listed(kanal, kelurahan="31.71.02.1001")["items"]
    assert set(item) == ITEM_KEYS
    assert item["url"] == f"/lacak/{filed['C']}"
    assert item["kelurahan"] == {"code": "31.71.02.1001", "name": "Cempaka Sari"}
    assert item["category"] == {"id": "jalan-rusak", "name": "Jalan rusak"}
    assert item["unit"]["id"] == "kelurahan-31.71.02.1001"
    assert item["created_at"] == "2026-12-03T09:00:00+07:00"
    assert item["point"] == {"lat": -6.215, "lon": 106.805}
    text = repr(listed(kanal))
    assert "Laporan " not in text and "user-1" not in text  # no message text, no handle


def test_pages_of_a_filtered_list(kanal, filed):
    first = listed(kanal, size=2, kota="31.71")
    assert (ids(first), first["has_next"]) == ([filed["C"], filed["B"]], True)
    second = listed(kanal, page=2, size=2, kota="31.71")
    assert (ids(second), second["has_next"]) == ([filed["A"]], False)
    f = publiclist.Filters(kota="31.71", dari=date(2026, 12, 1))
    assert publiclist.page_url("/laporan", f, 2, [("lang", "en")]) == \
        "/laporan?kota=31.71&dari=2026-12-01&lang=en&page=2"
    assert publiclist.page_url("/laporan", publiclist.Filters(), 1) == "/laporan"


def test_the_page_links_to_next_and_previous_keeping_the_filters(kanal, filed, monkeypatch):
    monkeypatch.setattr(publiclist, "PAGE_SIZE", 2)
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        # two reports, two a page: no next page (and an empty select is no filter)
        page = client.get("/laporan?kota=31.71&category=&status=Menunggu").text
        assert page.count('class="tracking-id-small"') == 2 and 'rel="next"' not in page
        page = client.get("/laporan?kota=31.71").text
        assert 'rel="next" href="/laporan?kota=31.71&amp;page=2"' in page
        assert 'rel="prev"' not in page
        second = client.get("/laporan?kota=31.71&page=2").text
        assert 'rel="prev" href="/laporan?kota=31.71"' in second
        assert 'rel="next"' not in second
        assert f'href="/lacak/{filed["A"]}"' in second
        api = client.get("/api/v1/reports", params={"kota": "31.71"}).json()
        assert api["next"] == "/api/v1/reports?kota=31.71&page=2" and api["previous"] is None


def test_confidential_reports_appear_nowhere(kanal, filed):
    hidden = filed["E"]
    with kanal.engine.connect() as conn:
        everything = publiclist.Filters()
        assert hidden not in repr(publiclist.recent(conn, everything, categories=CATEGORIES))
        assert hidden not in repr(publiclist.points(conn, everything))
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        for url in ("/laporan", "/laporan?kelurahan=31.71.01.1001", "/api/v1/reports",
                    "/api/v1/reports?kelurahan=31.71.01.1001"):
            r = client.get(url)
            assert r.status_code == 200 and hidden not in r.text, url
            assert filed["A"] in r.text


def test_the_page_draws_the_map_with_a_link_per_point(kanal, filed):
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        page = client.get("/laporan").text
        svg = page[page.index('<svg id="report-map"'):page.index("</svg>")]
        # all of Jakarta: one outline per kota
        assert re.findall(r'data-area="([\d.]+)"', svg) == ["31.71", "31.72"]
        points = re.findall(r'<a href="/lacak/([\w-]+)" class="map-point"', svg)
        assert sorted(points) == sorted(filed[k] for k in "ABCD")
        assert len(svg) < 6000
        # a kota's kecamatan, a kecamatan's kelurahan
        page = client.get("/laporan?kota=31.71").text
        assert re.findall(r'data-area="([\d.]+)"', page) == ["31.71.01", "31.71.02"]
        page = client.get("/laporan?kecamatan=31.71.01").text
        assert re.findall(r'data-area="([\d.]+)"', page) == ["31.71.01.1001", "31.71.01.1002"]
        api = client.get("/api/v1/reports?kelurahan=31.71.01.1001").json()
        assert [i["point"] for i in api["items"]] == [{"lat": -6.203, "lon": 106.807},
                                                      {"lat": -6.205, "lon": 106.805}]


def test_the_page_with_no_reports(kanal):
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        r = client.get("/laporan")
        assert r.status_code == 200
        assert 'id="no-reports"' in r.text and 'class="map-point"' not in r.text
        assert '<svg id="report-map"' in r.text
        assert 'href="/laporan"' in r.text  # the nav link of the public pages
        assert client.get("/api/v1/reports").json()["items"] == []
        en = client.get("/laporan?lang=en")
        assert "No report matches these filters yet." in en.text


BAD = [
    ("kota=abc", "kota"), ("kota=31.79", "kota"), ("kecamatan=31.71.09", "kecamatan"),
    ("kota=31.72&kecamatan=31.71.01", "kecamatan"),
    ("kota=31.72&kelurahan=31.71.01.1001", "kelurahan"),
    ("kelurahan=31.71.01.1001%27--", "kelurahan"), ("category=tidak-ada", "category"),
    ("status=Bogus", "status"), ("status=%00", "status"), ("kota=31.71%00", "kota"), ("dari=2026-13-01", "dari"), ("sampai=kemarin", "sampai"),
    ("sampai=9999-12-31", "sampai"), ("dari=0001-01-01", "dari"),
    ("dari=2026-12-05&sampai=2026-12-01", "sampai"), ("page=0", "page"),
    ("page=abc", "page"), ("page=999999999999999999999", "page"), ("page=-1", "page"),
]


@pytest.mark.parametrize("query,field", BAD)
def test_a_bad_filter_is_refused_with_its_reason(kanal, query, field):
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    raise_server_exceptions=False) as client:
        page = client.get(f"/laporan?{query}")
        assert page.status_code == 400
        assert f'data-field="{field}"' in page.text and "error-summary" in page.text
        api = client.get(f"/api/v1/reports?{query}")
        assert api.status_code == 400
        assert api.json()["error"] == "invalid_filter"
        assert api.json()["reason"].startswith(f"{field}: ")


def test_the_json_list_is_in_the_openapi_schema(kanal):
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        schema = client.get("/openapi.json").json()
    op = schema["paths"]["/api/v1/reports"]["get"]
    assert {p["name"] for p in op["parameters"]} == {
        "kota", "kecamatan", "kelurahan", "category", "status", "dari", "sampai", "page"}
    assert "public" in op["tags"]

"""/staff/trends, /staff/trends/seasonal, their CSV and /staff/api/trends: the figures of
reports that came in through the real pipeline and of inserted ones, the shapes of the
CSV and the JSON, who may see them, and bad parameters answered with a reason."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from core import tokens
from core.db import writing
from core.trends import today_wib
from tests.staff.conftest import sign_in
from tests.trenddata import RAINY, WIB, Made, insert, rainy_years

ALFA = {"lat": -6.205, "lon": 106.805}  # kelurahan Alfa, kota 31.71
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def piped(staff_kanal):
    """Two flood reports and a road report through the fake channel, now."""
    fake = staff_kanal.adapters["fake"]
    for text, category in (("Banjir di gang", "banjir"), ("Air masuk rumah", "banjir"),
                           ("Jalan berlubang", "jalan-rusak")):
        fake.push(text, category=category, **ALFA)
    assert staff_kanal.poll_channel("fake") == 3
    return today_wib(staff_kanal.clock())


@pytest.fixture
def token(staff_kanal):
    def issue(username: str) -> dict[str, str]:
        with writing(staff_kanal.engine) as conn:
            return {"Authorization": f"Bearer {tokens.issue(conn, username)}"}
    return issue


def svg_of(html: str) -> ET.Element:
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    return ET.fromstring(html[start:end])


def test_the_page_shows_the_chart_and_the_table_of_piped_reports(staff_client, piped):
    sign_in(staff_client, "super1")
    r = staff_client.get(f"/staff/trends?bucket=day&group=category&since={piped}"
                         f"&until={piped}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    svg = svg_of(r.text)
    assert svg.find(f"{SVG}title").text.startswith("Laporan per hari")
    values = {b.get("data-series"): b.get("data-value")
              for b in svg.findall(f".//{SVG}rect[@class='bar']")}
    assert values == {"Banjir / genangan": "2", "Jalan rusak": "1"}
    assert f'<tr data-bucket="{piped.isoformat()}">' in r.text
    assert 'href="/staff/trends">' in r.text.replace(' aria-current="page"', "")
    by_kota = staff_client.get(f"/staff/trends?bucket=month&group=kota&until={piped}")
    assert 'data-key="31.71"' in by_kota.text
    assert "<td>3</td>" in by_kota.text


def test_the_csv_is_the_table(staff_client, piped):
    sign_in(staff_client, "admin1")
    query = f"bucket=day&group=category&since={piped}&until={piped}"
    for url in (f"/staff/trends.csv?{query}", f"/staff/trends?format=csv&{query}"):
        r = staff_client.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.headers["content-disposition"] == (
            f'attachment; filename="kanal-tren-day-category-{piped}-{piped}.csv"')
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
        assert rows[0][0] == "bucket" and rows[0][-1] == "total"
        assert rows[1][0] == piped.isoformat() and rows[1][-1] == "3"
        assert sorted(rows[1][1:-1]) == ["1", "2"] and len(rows) == 2


def test_the_seasonal_page_csv_and_api(staff_client, staff_kanal, token):
    insert(staff_kanal.engine, rainy_years(range(2023, 2026)))
    sign_in(staff_client, "super1")
    r = staff_client.get("/staff/trends/seasonal?from=2023&to=2025")
    assert r.status_code == 200
    bars = svg_of(r.text).findall(f".//{SVG}rect[@class='bar']")
    assert len(bars) == 12
    high = sorted(range(12), key=lambda m: -float(bars[m].get("data-value")))[:5]
    assert {m + 1 for m in high} == set(RAINY)
    assert '<option value="banjir" selected>' in r.text
    english = staff_client.get("/staff/trends/seasonal?from=2023&to=2025&lang=en")
    legend = svg_of(english.text).findall(f".//{SVG}g[@class='legend']/{SVG}text")
    assert legend[0].text == "Monthly average" and ">May</text>" in english.text
    assert "<th scope=\"row\">Dec</th>" in english.text
    c = staff_client.get("/staff/trends/seasonal.csv?from=2023&to=2025")
    rows = list(csv.reader(io.StringIO(c.content.decode("utf-8"))))
    assert rows[0] == ["month", "2023", "2024", "2025", "average"] and len(rows) == 13
    api = staff_client.get("/staff/api/trends/seasonal?from=2023&to=2025",
                           headers=token("super1"))
    body = api.json()
    assert api.status_code == 200 and body["category"] == "banjir"
    assert [y["year"] for y in body["years"]] == [2023, 2024, 2025]
    assert [float(row[-1]) for row in rows[1:]] == body["average"]
    assert [int(row[1]) for row in rows[1:]] == body["years"][0]["counts"]
    every = staff_client.get("/staff/api/trends/seasonal?from=2023&to=2025&category=",
                             headers=token("super1")).json()
    assert sum(every["years"][0]["counts"]) == sum(body["years"][0]["counts"]) + 120


def test_the_json_api(staff_client, staff_kanal, token):
    at = datetime(2026, 3, 9, 23, 30, tzinfo=WIB).astimezone(timezone.utc)
    insert(staff_kanal.engine, [Made(at, "banjir", "31.71", "31.71.01", "jaki")])
    r = staff_client.get("/staff/api/trends?bucket=day&group=channel&since=2026-03-09"
                         "&until=2026-03-10&kota=31.71", headers=token("admin1"))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body == {
        "since": "2026-03-09", "until": "2026-03-10", "bucket": "day", "group": "channel",
        "filters": {"kota": "31.71"}, "timezone": "Asia/Jakarta",
        "buckets": ["2026-03-09", "2026-03-10"],
        "series": [{"key": "jaki", "label": "Aplikasi JAKI", "counts": [1, 0],
                    "total": 1}],
        "totals": [1, 0], "total": 1}


def test_who_may_see_the_trends(staff_client, token):
    for path in ("/staff/trends", "/staff/trends.csv", "/staff/trends/seasonal"):
        out = staff_client.get(path)
        assert out.status_code == 303 and out.headers["location"].startswith(
            "/staff/login?next=/staff/trends"), path
    sign_in(staff_client, "officer1")
    for path in ("/staff/trends", "/staff/trends.csv", "/staff/trends/seasonal.csv"):
        assert staff_client.get(path).status_code == 403, path
    assert "/staff/trends" not in staff_client.get("/staff").text
    sign_in(staff_client, "super1")
    assert 'href="/staff/trends"' in staff_client.get("/staff").text
    assert staff_client.get("/staff/api/trends").status_code == 401
    officer = staff_client.get("/staff/api/trends", headers=token("officer1"))
    assert (officer.status_code, officer.json()["error"]) == (403, "forbidden")
    assert staff_client.get("/staff/api/trends/seasonal",
                            headers=token("officer1")).status_code == 403


BAD = ["bucket=hour", "group=rt", "since=2026-02-30", "until=x", "kota=DKI",
       "since=2026-05-01&until=2026-01-01", "bucket=day&since=2020-01-01&until=2026-01-01",
       "channel=%3Cscript%3E", "from=abcd", "from=2026&to=2001"]


@pytest.mark.parametrize("query", BAD)
def test_bad_parameters_get_a_reason_never_a_500(staff_client, token, query):
    sign_in(staff_client, "super1")
    seasonal = query.startswith("from")
    base = "/staff/trends/seasonal" if seasonal else "/staff/trends"
    page = staff_client.get(f"{base}?{query}")
    assert page.status_code == 422 and 'data-error="' in page.text
    assert "<svg" not in page.text
    for url in (f"{base}.csv?{query}", f"/staff/api/trends{base[13:]}?{query}"):
        r = staff_client.get(url, headers=token("super1"))
        assert r.status_code == 422, url
        assert r.json()["error"] in ("invalid_field", "range_too_long") and r.json()["reason"]


def test_the_api_is_in_the_openapi_schema(staff_client):
    paths = staff_client.get("/openapi.json").json()["paths"]
    for path in ("/staff/api/trends", "/staff/api/trends/seasonal"):
        get = paths[path]["get"]
        assert get["tags"] == ["officers"] and get["security"] == [{"staffToken": []}]
        assert {"401", "403", "422"} <= set(get["responses"])
    names = {p["name"] for p in paths["/staff/api/trends/seasonal"]["get"]["parameters"]}
    assert {"category", "from", "to"} <= names
    assert "/staff/trends" not in paths

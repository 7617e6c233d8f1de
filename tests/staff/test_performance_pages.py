"""/staff/performance, its CSV export and /staff/api/performance(/ranking): the same
figures as core.performance, for supervisors and admins only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from core import performance, period, tokens
from core.db import writing
from gateway.app import create_app
from tests.casework import (  # noqa: F401 (fixtures)
    KELURAHAN, accounts, clock, drive, kanal, report_in_alfa,
)
from tests.staff.conftest import sign_in


@pytest.fixture
def cases(kanal, accounts):
    """Two finished cases and one waiting, in kelurahan Alfa, in December 2026."""
    made = [report_in_alfa(kanal) for _ in range(3)]
    drive(kanal, accounts, made[0], "Selesai")
    drive(kanal, accounts, made[1], "Selesai")
    kanal.clock.now += timedelta(hours=1)
    return made


@pytest.fixture
def client(kanal, accounts):
    with TestClient(create_app(kanal=kanal, run_workers=False), follow_redirects=False) as c:
        yield c


def signed_in(client, who: str):
    assert sign_in(client, f"ptg-{who}").status_code == 303
    return client


def bearer(kanal, who: str) -> dict[str, str]:
    with writing(kanal.engine) as conn:
        return {"Authorization": f"Bearer {tokens.issue(conn, f'ptg-{who}', kanal.clock())}"}


def expected(kanal, kind: str = "kelurahan", at: str = "2026-12"):
    with kanal.engine.connect() as conn:
        return performance.compute(conn, kind, period.parse("month", at, kanal.clock()),
                                   kanal.clock())


def cell(html: str, unit_id: str, col: str) -> str:
    row = html[html.index(f'data-unit="{unit_id}"'):]
    found = re.search(rf'data-col="{col}">([^<]*)<', row)
    return found.group(1)


@pytest.mark.parametrize("who", ["verifikator", "admin"])
def test_the_page_shows_the_figures_and_sorts_them(kanal, client, cases, who):
    signed_in(client, who)
    page = client.get("/staff/performance?period=month&at=2026-12&kind=kelurahan")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    alfa = {f.unit_id: f for f in expected(kanal)}[KELURAHAN]
    assert (alfa.received, alfa.resolved) == (3, 2)
    units = page.text[page.text.index('id="units"'):page.text.index('id="ranking"')]
    assert cell(units, KELURAHAN, "received") == "3"
    assert cell(units, KELURAHAN, "resolved") == "2"
    assert cell(units, KELURAHAN, "on_time_rate") == "100.0%"
    assert 'href="/staff/performance"' in page.text  # the nav link
    by_received = client.get("/staff/performance?period=month&at=2026-12&kind=kelurahan"
                             "&sort=received&dir=desc").text
    by_name = client.get("/staff/performance?period=month&at=2026-12&kind=kelurahan"
                         "&sort=received&dir=asc").text
    order = re.findall(r'<tr data-unit="([^"]+)"', by_received.split('id="ranking"')[0])
    assert order[0] == KELURAHAN
    assert re.findall(r'<tr data-unit="([^"]+)"', by_name.split('id="ranking"')[0]
                      )[-1] == KELURAHAN
    ranking = page.text[page.text.index('id="ranking"'):]
    assert cell(ranking, KELURAHAN, "rank") == "1"


def test_a_bad_choice_is_a_422_page(client, cases):
    signed_in(client, "verifikator")
    page = client.get("/staff/performance?period=month&at=2026-13")
    assert page.status_code == 422 and 'data-error="invalid_field"' in page.text


def test_officers_may_not_and_strangers_sign_in_first(client, cases):
    assert client.get("/staff/performance").status_code == 303
    signed_in(client, "lurah")
    assert client.get("/staff/performance").status_code == 403
    assert 'href="/staff/performance"' not in client.get("/staff").text


@pytest.mark.parametrize("path", ["/staff/performance.csv?", "/staff/performance?format=csv&"])
def test_the_csv_export(kanal, client, cases, path):
    signed_in(client, "verifikator")
    got = client.get(f"{path}period=month&at=2026-12&kind=kelurahan")
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == (
        'attachment; filename="kinerja-kelurahan-2026-12.csv"')
    assert got.content.startswith(b"\xef\xbb\xbf") and b"\r\n" in got.content
    rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
    want = {f.unit_id: f for f in expected(kanal)}
    assert {r["unit_id"] for r in rows} == set(want)
    alfa = next(r for r in rows if r["unit_id"] == KELURAHAN)
    assert int(alfa["received"]) == want[KELURAHAN].received
    assert float(alfa["avg_resolution_hours"]) == want[KELURAHAN].avg_resolution_hours
    ranked = client.get(f"{path}period=month&at=2026-12&kind=kelurahan&table=ranking")
    assert 'filename="peringkat-kelurahan-2026-12.csv"' in ranked.headers[
        "content-disposition"]
    first = next(csv.DictReader(io.StringIO(ranked.content.decode("utf-8-sig"))))
    assert (first["rank"], first["unit_id"], first["on_time_rate"]) == ("1", KELURAHAN, "1.0")


def test_the_json_api_has_the_same_figures(kanal, client, cases):
    headers = bearer(kanal, "verifikator")
    got = client.get("/staff/api/performance?period=month&at=2026-12&kind=kelurahan",
                     headers=headers)
    assert got.status_code == 200
    body = got.json()
    assert body["period"]["at"] == "2026-12" and body["kind"] == "kelurahan"
    assert body["period"]["start"] == "2026-11-30T17:00:00+00:00"  # midnight WIB
    assert {u["unit_id"]: u for u in body["units"]} == {
        f.unit_id: f.as_dict() for f in expected(kanal)}
    ranked = client.get("/staff/api/performance/ranking?period=month&at=2026-12"
                        "&kind=kelurahan", headers=headers).json()
    assert ranked["ranking"][0] == {
        "rank": 1, "unit_id": KELURAHAN, "unit_name": "Kelurahan Alfa", "kind": "kelurahan",
        "resolved": 2, "on_time": 2, "on_time_rate": 1.0}


def test_the_json_api_guards(kanal, client, cases):
    assert client.get("/staff/api/performance").status_code == 401
    assert client.get("/staff/api/performance", headers=bearer(kanal, "lurah")
                      ).status_code == 403
    bad = client.get("/staff/api/performance?kind=rt", headers=bearer(kanal, "admin"))
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_field"
    assert "/staff/api/performance/ranking" in client.get("/openapi.json").json()["paths"]

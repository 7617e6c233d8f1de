"""``/staff/units`` as an admin and a supervisor use it: the category map with its
selects and resets, renames, (de)activation, adding a dinas, the filtered list; every
refusal a 4xx with its reason on the page; only admins change anything."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import routing, units
from core.models import AuditEvent
from core.unitsconf import configured
from gateway.app import create_app
from tests.staff.conftest import csrf_of, sign_in


@pytest.fixture
def app_client(staff_kanal):
    units.sync_units(staff_kanal.engine, staff_kanal.settings)  # start-up's, without workers
    with TestClient(create_app(kanal=staff_kanal, run_workers=False),
                    follow_redirects=False) as client:
        yield staff_kanal, client


@pytest.fixture
def admin(app_client):
    kanal, client = app_client
    sign_in(client, "admin1")
    return kanal, client


def csrf(client) -> str:
    page = client.get("/staff/units")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def dinas(kanal, category):
    with kanal.engine.connect() as conn:
        return routing.dinas_for(conn, category, configured(kanal.settings))


def trail(kanal):
    t = AuditEvent.__table__
    with kanal.engine.connect() as conn:
        return [(r.actor, r.action, r.setting, r.old_value, r.new_value)
                for r in conn.execute(select(t).order_by(t.c.id))]


def row_of(html: str, row_id: str) -> str:
    start = html.index(f'<tr id="{row_id}">')
    return html[start:html.index("</tr>", start)]


def test_the_page_shows_the_map_the_units_and_the_forms(admin):
    kanal, client = admin
    page = client.get("/staff/units")
    assert page.status_code == 200
    row = row_of(page.text, "route-jalan-rusak")
    assert "Dinas Bina Marga" in row and 'name="was" value="dinas-bina-marga"' in row
    assert '<option value="dinas-bina-marga" selected>' in row
    assert 'value="biro-pemerintahan"' in row and "sudin-" not in row
    assert "kembalikan ke berkas" not in row  # nothing to reset yet
    assert 'action="/staff/units/inspektorat/rename"' in page.text
    assert 'action="/staff/units/new"' in page.text
    assert "kelurahan-31.71.01.1001" in page.text
    assert 'action="/staff/units/kelurahan-31.71.01.1001/' not in page.text  # from data
    assert 'action="/staff/units/sudin-bina-marga-31.71/deactivate"' in page.text
    home = client.get("/staff")
    assert 'href="/staff/units"' in home.text


def test_route_a_category_and_reset_it(admin):
    kanal, client = admin
    token = csrf(client)
    saved = client.post("/staff/units/routes/jalan-rusak", data={
        "csrf": token, "was": "dinas-bina-marga", "dinas": "dinas-sumber-daya-air"})
    assert saved.status_code == 303 and saved.headers["location"] == "/staff/units?saved=route"
    assert dinas(kanal, "jalan-rusak") == "dinas-sumber-daya-air"
    kept = client.post("/staff/units/routes/sampah", data={
        "csrf": token, "was": "dinas-lingkungan-hidup", "dinas": ""})
    assert kept.status_code == 303 and dinas(kanal, "sampah") is None
    page = client.get("/staff/units?saved=route")
    assert "Rute kategori disimpan" in page.text
    row = row_of(page.text, "route-jalan-rusak")
    assert "diubah admin" in row and "kembalikan ke berkas" in row
    reset = client.post("/staff/units/routes/jalan-rusak", data={
        "csrf": token, "was": "dinas-sumber-daya-air", "dinas": "", "reset": "1"})
    assert reset.status_code == 303
    assert dinas(kanal, "jalan-rusak") == "dinas-bina-marga"
    assert [t[1:] for t in trail(kanal)] == [
        ("category_routed", "jalan-rusak", "dinas-bina-marga", "dinas-sumber-daya-air"),
        ("category_routed", "sampah", "dinas-lingkungan-hidup", None),
        ("category_route_reset", "jalan-rusak", "dinas-sumber-daya-air", "dinas-bina-marga")]
    assert {t[0] for t in trail(kanal)} == {"admin1"}
    assert "category_route_reset" in client.get("/staff/units").text  # the page's trail


@pytest.mark.parametrize("path, data, status, shown", [
    ("/staff/units/routes/jalan-rusak", {"was": "dinas-perhubungan",
                                         "dinas": "dinas-sumber-daya-air"},
     409, "jalan-rusak baru saja diubah orang lain"),
    ("/staff/units/routes/kucing", {"was": "", "dinas": "dinas-bina-marga"},
     404, "Kategori kucing tidak dikenal."),
    ("/staff/units/routes/banjir", {"was": "dinas-sumber-daya-air", "dinas": "dinas-kucing"},
     422, "Unit dinas-kucing tidak ada."),
    ("/staff/units/routes/banjir", {"was": "dinas-sumber-daya-air",
                                    "dinas": "sudin-bina-marga-31.71"},
     422, "sudin-bina-marga-31.71 adalah sudin; kategori hanya bisa diarahkan ke dinas"),
    ("/staff/units/kelurahan-31.71.01.1001/rename", {"was": "Kelurahan Uji Satu",
                                                      "name": "X"},
     422, "berasal dari data batas wilayah"),
    ("/staff/units/kota-31.71/deactivate", {}, 422, "mengikuti data batas wilayah"),
    ("/staff/units/inspektorat/rename", {"was": "Inspektorat Lama", "name": "X"},
     409, "inspektorat baru saja diubah orang lain"),
    ("/staff/units/inspektorat/rename", {"was": "Inspektorat Provinsi DKI Jakarta",
                                         "name": " "},
     422, "Nama unit wajib diisi"),
    ("/staff/units/dinas-kucing/rename", {"was": "", "name": "X"}, 404,
     "Unit dinas-kucing tidak ada."),
    ("/staff/units/dinas-bina-marga/activate", {}, 409, "baru saja diubah orang lain"),
    ("/staff/units/dinas-bina-marga/explode", {}, 404, "Tindakan explode tidak dikenal."),
    ("/staff/units/new", {"id": "dinas-bina-marga", "kind": "dinas", "name": "X"},
     409, "Unit dinas-bina-marga sudah ada."),
    ("/staff/units/new", {"id": "biro-x", "kind": "dinas", "name": "X"},
     422, "ID dinas: dinas-…"),
    ("/staff/units/new", {"id": "kota-99", "kind": "kota", "name": "X"},
     422, "Yang bisa ditambahkan hanya dinas atau biro."),
], ids=["stale-route", "unknown-category", "unknown-dinas", "sudin-target",
        "rename-kelurahan", "deactivate-kota", "stale-name", "blank-name", "unknown-unit",
        "already-active", "unknown-action", "exists", "bad-id", "bad-kind"])
def test_a_refusal_says_why_and_changes_nothing(admin, path, data, status, shown):
    kanal, client = admin
    with kanal.engine.connect() as conn:
        before = [tuple(r) for r in units.list_units(conn)]
    r = client.post(path, data={"csrf": csrf(client), **data})
    assert r.status_code == status
    assert 'role="alert"' in r.text and shown in r.text
    assert trail(kanal) == []
    with kanal.engine.connect() as conn:
        assert [tuple(r) for r in units.list_units(conn)] == before


def test_rename_deactivate_and_add(admin):
    kanal, client = admin
    token = csrf(client)
    assert client.post("/staff/units/biro-pemerintahan/rename", data={
        "csrf": token, "was": "Biro Pemerintahan",
        "name": "Biro Tata Pemerintahan"}).status_code == 303
    assert client.post("/staff/units/sudin-bina-marga-31.71/deactivate",
                       data={"csrf": token}).status_code == 303
    added = client.post("/staff/units/new", data={
        "csrf": token, "id": "dinas-pariwisata", "kind": "dinas",
        "name": "Dinas Pariwisata", "sudin": "1"})
    assert added.headers["location"] == "/staff/units?saved=added"
    with kanal.engine.connect() as conn:
        u = {r.id: r for r in units.list_units(conn)}
    assert u["biro-pemerintahan"].name == "Biro Tata Pemerintahan"
    assert not u["sudin-bina-marga-31.71"].active
    assert u["sudin-pariwisata-31.72"].parent_id == "dinas-pariwisata"
    page = client.get("/staff/units")
    assert "ditambahkan admin" in row_of(page.text, "unit-dinas-pariwisata")
    # the new dinas is a route target at once
    assert '<option value="dinas-pariwisata">' in row_of(page.text, "route-lainnya")
    assert [t[1] for t in trail(kanal)] == ["unit_renamed", "unit_deactivated", "unit_added"]


def test_the_list_filters_by_kind_and_text(admin):
    kanal, client = admin
    page = client.get("/staff/units", params={"kind": "sudin", "q": "31.72"})
    listed = page.text[page.text.index('id="all-units"'):]
    ids = re.findall(r"<tr><td>([^<]+)</td>", listed)
    assert ids and all(i.startswith("sudin-") and i.endswith("-31.72") for i in ids)
    assert "7 dari 33 unit" in page.text
    kel = client.get("/staff/units", params={"q": "satu"}).text
    assert "Kecamatan" in kel.split('id="all-units"')[1]  # a kelurahan shows its parent
    wrong = client.get("/staff/units", params={"kind": "bidang"})
    assert wrong.status_code == 422 and "Jenis unit bidang tidak dikenal" in wrong.text


def test_a_post_without_the_csrf_token_is_refused(admin):
    kanal, client = admin
    r = client.post("/staff/units/routes/jalan-rusak", data={
        "csrf": "nope", "was": "dinas-bina-marga", "dinas": ""})
    assert r.status_code == 403 and "Formulir sudah kedaluwarsa" in r.text
    r = client.post("/staff/units/new", data={"id": "dinas-x", "kind": "dinas", "name": "X"})
    assert r.status_code == 403 and 'value="dinas-x"' in r.text  # typed values stay
    assert dinas(kanal, "jalan-rusak") == "dinas-bina-marga" and trail(kanal) == []


def test_a_supervisor_sees_the_page_read_only(app_client):
    kanal, client = app_client
    sign_in(client, "super1")
    page = client.get("/staff/units")
    assert page.status_code == 200
    assert "Hanya admin yang bisa mengubah" in page.text
    assert 'method="post" action="/staff/units' not in page.text
    assert "Dinas Bina Marga" in row_of(page.text, "route-jalan-rusak")
    token = csrf_of(page.text)
    r = client.post("/staff/units/routes/jalan-rusak", data={
        "csrf": token, "was": "dinas-bina-marga", "dinas": ""})
    assert r.status_code == 403
    assert dinas(kanal, "jalan-rusak") == "dinas-bina-marga"


@pytest.mark.parametrize("username", ["officer1", "loket"])
def test_other_roles_are_forbidden(app_client, username):
    kanal, client = app_client
    sign_in(client, username)
    assert client.get("/staff/units").status_code == 403
    assert 'href="/staff/units"' not in client.get("/staff").text
    token = csrf_of(client.get("/staff").text)
    assert client.post("/staff/units/inspektorat/deactivate",
                       data={"csrf": token}).status_code == 403
    assert trail(kanal) == []

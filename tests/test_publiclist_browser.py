"""The public list, its map and the tracking pages in real headless Chromium: what a
citizen typed (name, phone number, email, address) appears nowhere on them, the map's
points are links to the reports, and the filters work without JavaScript."""

from __future__ import annotations

import re

import pytest

from core import tracking
from gateway.app import create_app
from tests.browser import live_server

NAME, PHONE, EMAIL, ADDRESS = ("Siti Rahmawati", "0812 3456 7890", "siti.rahma@contoh.id",
                               "Jl. Kenanga No. 12")
OTHER_NAME, OTHER_HANDLE = "Budi Santoso", "+6281299998888"
# every way these could show: whole, in parts, the number without spaces or as +62
SECRETS = [NAME, "Rahmawati", PHONE, "081234567890", "6281234567890", "3456 7890", EMAIL,
           "siti.rahma", "contoh.id", ADDRESS, "Kenanga", OTHER_NAME, "Santoso",
           OTHER_HANDLE, "81299998888", "tetangga", "Laporan saya"]


@pytest.fixture
def served(make_kanal):
    kanal = make_kanal()
    with live_server(create_app(kanal=kanal)) as base:
        yield kanal, base


@pytest.fixture
def page(browser, served):
    context = browser.new_context(java_script_enabled=False, base_url=served[1],
                                  locale="id-ID", viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def assert_clean(html: str, where: str) -> None:
    found = [s for s in SECRETS if s.lower() in html.lower()]
    assert found == [], f"{where} shows {found}"


def file_through_the_form(page) -> str:
    page.goto("/lapor")
    page.get_by_label("Isi laporan", exact=True).fill(
        f"Laporan saya: jalan berlubang. Saya {NAME}, hubungi {PHONE} atau {EMAIL}.")
    page.get_by_label("Kategori", exact=True).select_option("jalan-rusak")
    page.get_by_label("Alamat atau patokan", exact=True).fill(ADDRESS)
    page.get_by_text("Koordinat (tidak wajib)").click()
    page.get_by_label("Garis lintang", exact=True).fill("-6.20513")
    page.get_by_label("Garis bujur", exact=True).fill("106.80527")
    page.get_by_label("Nama", exact=True).fill(NAME)
    page.get_by_label("Nomor telepon", exact=True).fill(PHONE)
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_role("button", name="Kirim laporan").click()
    page.wait_for_url(re.compile(r"/lapor/terima/"))
    return page.locator("#tracking-id").inner_text().strip()


def file_through_a_channel(kanal) -> str:
    fake = kanal.adapters["fake"]
    external = fake.push(f"Banjir, kata tetangga {OTHER_NAME} ({OTHER_HANDLE})",
                         sender=OTHER_HANDLE, name=OTHER_NAME, category="banjir",
                         lat=-6.2049, lon=106.8351, address="Gang tetangga Santoso")
    assert kanal.poll_channel("fake") == 1
    from sqlalchemy import select

    from core.models import Message, Report
    m, r = Message.__table__, Report.__table__
    with kanal.engine.connect() as conn:
        compact = conn.execute(select(r.c.tracking_id).join(m, m.c.report_id == r.c.id)
                               .where(m.c.external_id == external)).scalar_one()
    return tracking.display(compact)


@pytest.mark.browser
def test_public_list_map_and_tracking_pages_show_no_personal_data(page, served):
    kanal, _ = served
    mine = file_through_the_form(page)
    theirs = file_through_a_channel(kanal)

    page.goto("/laporan")
    assert_clean(page.content(), "/laporan")
    rows = page.locator("#reports li")
    assert rows.count() == 2
    assert rows.nth(0).locator("a").inner_text() == theirs  # newest first
    assert "Delta Raya" in rows.nth(0).inner_text() and "Alfa" in rows.nth(1).inner_text()
    # the map: one point per report, each a link with its tracking ID as title
    points = page.locator("#report-map a.map-point")
    assert points.count() == 2
    assert sorted(p.get_attribute("data-id") for p in points.all()) == sorted([mine, theirs])
    titles = [t.text_content() for t in page.locator("#report-map circle title").all()]
    assert sorted(t.split(" · ")[0] for t in titles) == sorted([mine, theirs])

    page.locator(f'#report-map a.map-point[data-id="{mine}"]').click()
    page.wait_for_url(re.compile(rf"/lacak/{mine}$"))
    assert page.locator("#status").inner_text() == "Menunggu"
    assert_clean(page.content(), f"/lacak/{mine}")
    page.goto(f"/lacak/{theirs}")
    assert_clean(page.content(), f"/lacak/{theirs}")

    # filtering with the form, JavaScript off: a plain GET with the chosen kota
    page.goto("/laporan")
    page.get_by_label("Kota", exact=True).select_option("31.72")
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_url(re.compile(r"/laporan\?.*kota=31\.72"))
    assert [a.inner_text() for a in page.locator("#reports li > a").all()] == [theirs]
    assert page.locator("#report-map a.map-point").count() == 1
    assert page.get_by_label("Kota", exact=True).input_value() == "31.72"
    page.get_by_label("Status", exact=True).select_option("Selesai")
    page.get_by_role("button", name="Tampilkan").click()
    assert page.locator("#no-reports").is_visible()
    page.locator("#reports, #no-reports").first.wait_for()

    # a bad value typed into the address bar: a page with the reason, not a crash
    response = page.goto("/laporan?kota=31.79")
    assert response.status == 400
    assert "Wilayah itu tidak dikenal" in page.locator(".error-summary").inner_text()

    api = page.request.get("/api/v1/reports")
    assert api.ok
    assert_clean(api.text(), "/api/v1/reports")
    assert {i["tracking_id"] for i in api.json()["items"]} == {mine, theirs}


@pytest.mark.browser
def test_the_map_script_names_the_point_under_the_pointer(browser, served):
    kanal, base = served
    shown = file_through_a_channel(kanal)
    context = browser.new_context(base_url=base, locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/laporan")
    page.locator(f'#report-map a.map-point[data-id="{shown}"] circle').hover()
    page.wait_for_function("() => document.getElementById('map-hover').textContent !== ''")
    assert page.locator("#map-hover").inner_text() == shown
    assert errors == []  # e.g. no Content-Security-Policy violations
    context.close()

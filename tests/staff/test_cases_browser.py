"""The officer screen on a phone in real headless Chromium, JavaScript off: from the queue
to a case, claim it and resolve it with a photo, every target a thumb can hit."""

from __future__ import annotations

import re

import httpx
import pytest

from core import staff
from core.db import writing
from gateway.app import create_app
from tests.browser import live_server
from tests.conftest import JAKI_KEY
from tests.staff.conftest import PASSWORD
from tests.staff.test_browser import ARTIFACTS, sign_in
from tests.staff.test_cases_screen import jpeg

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(staff_kanal):
    with live_server(create_app(kanal=staff_kanal)) as base:
        with writing(staff_kanal.engine) as conn:  # the units exist once kanal started
            staff.add(conn, "kel1", PASSWORD, "officer", unit_id="kelurahan-31.71.01.1001")
        yield base


@pytest.mark.browser
def test_an_officer_claims_and_resolves_a_case_on_a_phone(browser, site, tmp_path):
    r = httpx.post(f"{site}/api/v1/jaki/reports", headers={"Authorization": f"Bearer {JAKI_KEY}"},
                   json={"external_id": "b1", "text": "Lampu jalan mati", "category": "lampu-jalan",
                         "location": {"lat": -6.205, "lon": 106.805}})
    assert r.status_code == 201, r.text
    shown = r.json()["tracking_id"]
    context = browser.new_context(java_script_enabled=False, base_url=site, locale="id-ID",
                                  viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/staff/cases")
    page.wait_for_url(re.compile(r"/staff/login\?next="))
    sign_in(page, "kel1")
    page.wait_for_url(re.compile(r"/staff/cases$"))
    card = page.get_by_role("link", name=re.compile(shown))
    assert card.bounding_box()["height"] >= 44
    card.click()
    claim = page.get_by_role("button", name="Ambil & proses")
    assert claim.bounding_box()["height"] >= 44
    claim.click()
    page.wait_for_url(re.compile(r"\?done=start$"))
    assert page.locator("#status").inner_text() == "Proses"
    photo = tmp_path / "bukti.jpg"
    photo.write_bytes(jpeg(5, with_exif=False))
    page.get_by_label("Foto bukti penanganan (paling banyak 5)").set_input_files(str(photo))
    page.get_by_role("button", name="Kirim untuk verifikasi").click()
    page.wait_for_url(re.compile(r"\?done=resolve$"))
    assert page.locator("#status").inner_text() == "Menunggu Verifikasi"
    assert page.locator('[data-code="no_exif"]').count() == 1
    # nothing wider than the phone: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "officer-case-phone.png"), full_page=True)
    context.close()

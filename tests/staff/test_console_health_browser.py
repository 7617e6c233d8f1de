"""The console in real headless Chromium on a phone-sized screen, as an operator: the
health table refreshes itself (under the pages' Content-Security-Policy), and a
quarantined payload is discarded with a reason without JavaScript."""

from __future__ import annotations

import json

import pytest

from core import inbox, staff
from core.adapter import Envelope
from core.db import writing
from core.health import record_health
from gateway.app import create_app
from tests.browser import live_server
from tests.staff.conftest import PASSWORD
from tests.staff.test_browser import ARTIFACTS, sign_in

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(staff_kanal):
    with writing(staff_kanal.engine) as conn:
        staff.add(conn, "oper1", PASSWORD, "operator")
    with live_server(create_app(kanal=staff_kanal)) as base:
        yield base


def phone(browser, site, *, javascript: bool):
    context = browser.new_context(java_script_enabled=javascript, base_url=site,
                                  locale="id-ID", viewport=PHONE)
    return context, context.new_page()


@pytest.mark.browser
def test_the_health_table_refreshes_itself(browser, site, staff_kanal):
    from playwright.sync_api import expect  # importable: the browser fixture checked

    context, page = phone(browser, site, javascript=True)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.clock.install()
    page.goto("/staff/channels")
    sign_in(page, "oper1")
    page.goto("/staff/channels")
    web = page.locator('tr[data-channel="web"]')
    assert "sehat" in web.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-channels-phone.png"), full_page=True)
    with writing(staff_kanal.engine) as conn:
        record_health(conn, "web", ok=False, error="send: ConnectionError: down")
    page.clock.run_for(16_000)
    expect(page.locator('tr[data-channel="web"]')).to_contain_text(
        "gagal: send: ConnectionError: down", timeout=10_000)
    assert errors == []
    context.close()


@pytest.mark.browser
def test_operator_discards_a_quarantined_payload_without_javascript(browser, site,
                                                                    staff_kanal):
    with writing(staff_kanal.engine) as conn:
        [(item_id, _)] = inbox.write(conn, [Envelope("fake", "kosong", json.dumps(
            {"id": "kosong"}).encode())])
    staff_kanal.replay()  # no text: quarantined by the adapter
    context, page = phone(browser, site, javascript=False)
    page.goto("/staff/quarantine")
    sign_in(page, "oper1")
    page.get_by_role("link", name=str(item_id), exact=True).click()
    page.get_by_role("button", name="Buang").click()  # no reason: the browser insists
    assert page.url.endswith(f"/staff/quarantine/{item_id}")
    page.get_by_label("Alasan membuang").fill("pesan kosong dari uji coba")
    page.get_by_role("button", name="Buang").click()
    assert "Payload ini dibuang" in page.locator("#result").inner_text()
    assert page.locator("#status").inner_text() == "discarded"
    page.screenshot(path=str(ARTIFACTS / "console-discarded-phone.png"), full_page=True)
    context.close()

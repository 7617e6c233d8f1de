"""The operations console in real headless Chromium, JavaScript off, as an operator uses
it: in one running server, without a restart, add a second Telegram bot with its token,
test it against the local Bot API stand-in, enable it, have the stand-in deliver a
message and find the report, then disable it and see its webhook answer 503."""

from __future__ import annotations

import json
import re
import httpx
import pytest

from core import tracking
from gateway.app import create_app
from tests.adapters.telegram.fakebotapi import FakeBotAPI
from tests.adapters.telegram.conftest import TESTDATA
from tests.browser import live_server
from tests.serving import wait_for
from tests.staff.test_browser import sign_in

TOKEN = "7000000002:AAH-second-bot_0123456789abcdefghij"
SECRET = "webhook-bot-kedua_0123456789"


@pytest.fixture
def settings(settings):
    # the scheduler sends the acks; a key lets secrets typed in be stored
    return settings.model_copy(update={"secret_key": "kunci-uji-browser-yang-panjang",
                                       "scheduler": True, "dispatch_interval_seconds": 0.2})


@pytest.fixture
def bot_api():
    api = FakeBotAPI(TOKEN).start()
    yield api
    api.stop()


def update(n: int) -> dict:
    data = json.loads((TESTDATA / "text.json").read_text())
    data["update_id"] += n
    data["message"]["message_id"] += n
    return data


@pytest.mark.browser
def test_an_operator_adds_tests_enables_and_disables_a_telegram_bot(staff_kanal, bot_api,
                                                                    browser):
    with live_server(create_app(kanal=staff_kanal)) as site:
        context = browser.new_context(java_script_enabled=False, base_url=site,
                                      locale="id-ID", viewport={"width": 1024, "height": 900})
        page = context.new_page()
        page.goto("/staff/channels/new")
        sign_in(page, "admin1")
        assert page.url.endswith("/staff/channels/new")
        page.get_by_label("ID kanal (dipakai di alamat webhook)").fill("telegram-2")
        page.get_by_label("Adapter").select_option("telegram")
        page.get_by_label("Saluran resmi").select_option("telegram")
        page.get_by_label("Nama (boleh kosong)").fill("Bot Telegram kedua")
        page.get_by_role("button", name="Tambah kanal").click()
        assert "Kanal ditambahkan (mati)" in page.content()

        # the operator registers the webhook with Telegram (setWebhook), as the README says
        httpx.post(f"{bot_api.base_url}/bot{TOKEN}/setWebhook",
                   data={"url": f"{site}/webhooks/telegram-2", "secret_token": SECRET})
        page.locator("#f-api_base").fill(bot_api.base_url)
        page.locator("#f-bot_token").fill(TOKEN)
        page.locator("#f-secret_token").fill(SECRET)
        page.get_by_role("button", name="Simpan").click()
        assert "Pengaturan disimpan" in page.content()  # the token passed getMe first
        assert TOKEN not in page.content()

        page.get_by_role("button", name="Uji koneksi").click()
        result = page.locator("#test-result").inner_text()
        assert "Uji koneksi berhasil" in result and "kanal_jakarta_bot" in result

        page.get_by_role("button", name="Nyalakan").click()
        assert "Kanal dinyalakan" in page.content()
        assert staff_kanal.channel("telegram-2").state == "ready"

        assert bot_api.push(update(1)) == 200
        ack = wait_for(lambda: bot_api.sent, timeout=15, what="the ack")[0]
        tid = re.search(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]\b", ack["text"]).group(0)
        tracking.normalize(tid)
        page.goto(f"/staff/lookup?id={tid}")
        assert page.locator("h2.tracking-id").inner_text() == tid
        assert "Kelurahan Alfa" in page.content()  # routed like any other report

        page.goto("/staff/channels/telegram-2/edit")
        page.get_by_role("button", name="Matikan").click()
        assert "Kanal dimatikan" in page.content()
        assert bot_api.push(update(2)) == 503  # Telegram keeps it and retries later
        trail = page.locator("#audit").inner_text()
        for action in ("add", "set_secret", "enable", "disable"):
            assert action in trail
        assert TOKEN not in trail
        context.close()

"""Issue 12's whole path in real headless Chromium (JavaScript off), as the officers drive
it: a report by SMS and one by Telegram go kelurahan -> dinas -> suku dinas -> proof ->
verification, each step told to the citizen on the Twilio and the Telegram stand-ins; the
SMS citizen rates by replying "5", and the public page shows the same status, timeline,
proof photo and rating as ``kanal report show``."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from sqlalchemy import select

from core import reports, staff, tracking
from core.db import writing
from core.models import Report
from core.units import sync_units
from gateway.app import create_app
from gateway.plugins import DEFAULT_PLUGINS
from tests.adapters.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, ENV, NUMBER, sign
from tests.adapters.sms.conftest import sms_plugins
from tests.adapters.sms.fake_twilio import FakeTwilio
from tests.adapters.telegram.conftest import (  # noqa: F401 (bot_api: a fixture)
    CHAT_ID, GOOD, TESTDATA, bot_api, telegram_env,
)
from tests.browser import live_server
from tests.conftest import FIXTURES, TEST_ENV
from tests.staff.test_browser import ARTIFACTS, sign_in
from tests.test_proof import photo

PASSWORD = "kata-sandi-rahasia"
OFFICERS = {"ptg-lurah": ("officer", "kelurahan-31.71.01.1001"),
            "ptg-dinas": ("officer", "dinas-bina-marga"),
            "ptg-sudin": ("officer", "sudin-bina-marga-31.71"),
            "ptg-verif": ("supervisor", "biro-pemerintahan")}
report_t = Report.__table__


def channels_file(tmp_path):
    fixtures = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    twilio = {"account_sid": "${KANAL_TWILIO_ACCOUNT_SID}",
              "auth_token": "${KANAL_TWILIO_AUTH_TOKEN}",
              "api_base": "${KANAL_TWILIO_API_BASE}", "number": "${KANAL_TWILIO_FROM}"}
    telegram = {"bot_token": "${KANAL_TELEGRAM_BOT_TOKEN}",
                "secret_token": "${KANAL_TELEGRAM_SECRET_TOKEN}",
                "api_base": "${KANAL_TELEGRAM_API_BASE}", "mode": "webhook"}
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump({
        "official_channels": fixtures["official_channels"] + [
            {"id": "sms-whatsapp", "number": 6, "name": "SMS / WhatsApp 08111272206"}],
        "channels": fixtures["channels"] + [
            {"id": "sms", "official_channel": "sms-whatsapp", "adapter": "sms",
             "settings": twilio},
            {"id": "telegram", "official_channel": "telegram", "adapter": "telegram",
             "settings": telegram}]}))
    return path


@pytest.fixture
def twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def kanal(make_kanal, settings, tmp_path, twilio, bot_api):
    from adapters.telegram import plugin as telegram_plugin

    extra = sms_plugins() + (() if "telegram" in DEFAULT_PLUGINS else (telegram_plugin,))
    # the address Twilio signs its webhooks over (tests.adapters.sms.conftest.PUBLIC)
    s = settings.model_copy(update={"config": channels_file(tmp_path),
                                    "public_base_url": "https://kanal.example.go.id"})
    env = {**TEST_ENV, **ENV, "KANAL_TWILIO_API_BASE": twilio.url, **telegram_env(bot_api)}
    return make_kanal(settings=s, env=env, extra_plugins=extra)


def sms(site: str, body: str, sid: str) -> None:
    """The citizen's SMS, as Twilio posts it to kanal's webhook (signed)."""
    params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": CITIZEN,
              "To": NUMBER, "Body": body, "NumMedia": "0"}
    signature = sign("https://kanal.example.go.id/webhooks/sms", params)
    r = httpx.post(f"{site}/webhooks/sms", content=urlencode(params),
                   headers={"Content-Type": "application/x-www-form-urlencoded",
                            "X-Twilio-Signature": signature})
    assert r.status_code == 200, r.text


def telegram(site: str, text: str) -> None:
    update = json.loads((TESTDATA / "text.json").read_text())
    update["message"]["text"] = text
    r = httpx.post(f"{site}/webhooks/telegram", content=json.dumps(update), headers=GOOD)
    assert r.status_code == 200, r.text


def newest(kanal, channel: str) -> str:
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t.c.tracking_id).where(report_t.c.channel == channel)
                            .order_by(report_t.c.id.desc())).scalars().first()


class Citizen:
    """What the citizen's phone received so far, on one stand-in."""

    def __init__(self, kanal, read):
        self.kanal, self.read, self.seen = kanal, read, 0

    def next(self) -> str:
        """The one new message since the last call (after the outbox ran)."""
        self.kanal.dispatcher.run_once()
        texts = self.read()
        new = texts[self.seen:]
        self.seen = len(texts)
        assert len(new) == 1, new
        return new[0]


@pytest.mark.browser
def test_officers_drive_two_reports_to_a_rated_resolution(kanal, browser, twilio, bot_api,
                                                          tmp_path):
    with live_server(create_app(kanal=kanal, run_workers=False)) as site:
        sync_units(kanal.engine, kanal.settings)
        with writing(kanal.engine) as conn:
            for name, (role, unit) in OFFICERS.items():
                staff.add(conn, name, PASSWORD, role, unit_id=unit)
        by_sms = Citizen(kanal, lambda: [m.form["Body"] for m in twilio.messages
                                         if m.form.get("To") == CITIZEN])
        by_telegram = Citizen(kanal, lambda: [m["text"] for m in bot_api.sent
                                              if m["chat_id"] == CHAT_ID])

        sms(site, "Jalan berlubang besar di Jl. Alfa Raya depan SDN 01", "SM" + "1" * 32)
        first = newest(kanal, "sms")
        assert tracking.display(first) in by_sms.next()  # the acknowledgement
        telegram(site, "Lampu jalan mati di Jl. Alfa Raya, gelap sekali")
        second = newest(kanal, "telegram")
        assert tracking.display(second) in by_telegram.next()

        contexts = {}

        def page_of(name):
            if name not in contexts:
                context = browser.new_context(java_script_enabled=False, base_url=site,
                                              locale="id-ID", is_mobile=True, has_touch=True,
                                              viewport={"width": 390, "height": 844})
                page = context.new_page()
                page.goto("/staff/cases")
                sign_in(page, name)
                page.wait_for_url(re.compile(r"/staff/cases$"))
                contexts[name] = (context, page)
            return contexts[name][1]

        def open_case(name, compact):
            page = page_of(name)
            page.goto("/staff/cases")
            page.get_by_role("link", name=re.compile(tracking.display(compact))).click()
            return page

        proof = tmp_path / "bukti.jpg"
        for n, (compact, citizen) in enumerate(((first, by_sms), (second, by_telegram))):
            shown = tracking.display(compact)
            page = open_case("ptg-lurah", compact)
            page.get_by_label("Dinas atau biro").select_option("dinas-bina-marga")
            page.get_by_role("button", name="Koordinasikan").click()
            page.wait_for_url(re.compile(r"done=coordinate"))
            assert "Dinas Bina Marga" in citizen.next()

            page = open_case("ptg-dinas", compact)
            page.get_by_role("button", name="Disposisikan").click()
            page.wait_for_url(re.compile(r"done=dispose"))
            assert "Suku Dinas Bina Marga" in citizen.next()

            page = open_case("ptg-sudin", compact)
            page.get_by_role("button", name="Ambil & proses").click()
            page.wait_for_url(re.compile(r"done=start"))
            assert "Proses" in citizen.next()
            proof.write_bytes(photo(11 + n))  # no EXIF: marked for the verifier
            page.get_by_label(re.compile("Foto bukti penanganan")).set_input_files(str(proof))
            page.get_by_role("button", name="Kirim untuk verifikasi").click()
            page.wait_for_url(re.compile(r"done=resolve"))
            assert page.locator("#status").inner_text() == "Menunggu Verifikasi"
            assert "Menunggu Verifikasi" in citizen.next()

            page = open_case("ptg-verif", compact)
            assert page.locator('[data-code="no_exif"]').count() == 1
            page.get_by_role("button", name="Verifikasi: laporan selesai").click()
            page.wait_for_url(re.compile(r"done=verify"))
            assert page.locator("#status").inner_text() == "Selesai"
            assert shown in citizen.next()  # resolved: the rating request

        # the Telegram citizen was offered buttons; the SMS citizen rates by reply
        assert bot_api.sent and "reply_markup" in json.dumps(bot_api.calls[-1][1])
        sms(site, "5 terima kasih, jalan sudah mulus", "SM" + "2" * 32)
        assert "5" in by_sms.next()
        with kanal.engine.connect() as conn:
            rated = conn.execute(select(report_t.c.rating, report_t.c.status).where(
                report_t.c.tracking_id == first)).one()
            shown_staff = reports.staff_report(conn, first)
        assert tuple(rated) == (5, "Selesai")

        public = browser.new_context(java_script_enabled=False, base_url=site).new_page()
        public.goto(f"/lacak/{tracking.display(first)}")
        assert public.locator("#status").inner_text() == "Selesai"
        assert public.locator("#rating").inner_text().startswith("5/5 · ")  # and its date
        proof_img = public.locator("ul.proof img")
        assert proof_img.count() == 1
        served = httpx.get(site + proof_img.first.get_attribute("src"))
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        api = httpx.get(f"{site}/api/v1/reports/{tracking.display(first)}").json()
        assert api["status"] == shown_staff["status"] == "Selesai"
        assert api["timeline"] == shown_staff["timeline"]
        assert [t["status"] for t in api["timeline"] if t["kind"] in (
            "coordinate", "dispose", "start", "resolve", "verify")] == [
            "Koordinasi", "Disposisi", "Proses", "Menunggu Verifikasi", "Selesai"]
        assert not any(name in json.dumps(api) for name in OFFICERS)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        public.screenshot(path=str(ARTIFACTS / "case-resolved-public.png"), full_page=True)
        for context, _ in contexts.values():
            context.close()

"""The operations page: channel states and why a channel is off, in the page's language
(the CLI and the JSON keep the English reason)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.adapter import NotReady
from gateway.app import create_app
from gateway.pages import HERE
from gateway.runtime import REASONS
from tests.staff.conftest import sign_in

EXTRA = [{"id": "tg-off", "official_channel": "telegram", "adapter": "telegram",
          "settings": {"bot_token": "${KANAL_TELEGRAM_BOT_TOKEN}"}},
         {"id": "tg-webhook", "official_channel": "telegram", "adapter": "telegram",
          "settings": {"bot_token": "123:abc", "mode": "webhook"}},
         {"id": "web-off", "official_channel": "website", "adapter": "web", "enabled": False}]


@pytest.fixture
def admin_client(staff_kanal_factory):
    kanal = staff_kanal_factory(extra_channels=EXTRA)
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        sign_in(client, "admin1")
        yield kanal, client


def row(page: str, channel_id: str) -> str:
    start = page.index(f"<tr><td>{channel_id}</td>")
    return page[start:page.index("</tr>", start)]


@pytest.mark.parametrize("channel_id,indonesian,english", [
    ("not-built", "adapter &#39;no-such-adapter&#39; belum terpasang (belum dibuat)",
     "adapter &#39;no-such-adapter&#39; is not installed (not built yet)"),
    ("tg-off", "rahasia belum diisi: KANAL_TELEGRAM_BOT_TOKEN",
     "secret not set: KANAL_TELEGRAM_BOT_TOKEN"),
    ("web-off", "dimatikan di berkas kanal", "disabled in the channels file"),
    ("tg-webhook", "secret_token wajib diisi pada mode webhook",
     "secret_token is required in webhook mode"),
], ids=["not-installed", "missing-secret", "disabled-in-file", "adapters-own-check"])
def test_channel_reasons_in_the_pages_language(admin_client, channel_id, indonesian,
                                               english):
    kanal, client = admin_client
    assert kanal.channel(channel_id).reason == english.replace("&#39;", "'")  # CLI, JSON
    page = client.get("/staff/admin")
    assert page.status_code == 200
    assert indonesian in row(page.text, channel_id)
    assert english not in page.text
    page = client.get("/staff/admin?lang=en")
    assert english in row(page.text, channel_id)


def test_every_reason_code_has_a_rendering_on_the_page():
    template = (HERE / "templates" / "staff_reasons.html").read_text()
    codes = [*REASONS, *NotReady.TEXTS]
    assert [code for code in codes if f'"{code}"' not in template] == []


def test_channel_health_shows_a_rate_limit_and_a_revoked_token(admin_client):
    from datetime import datetime, timezone

    from core.db import writing
    from core.health import record_credentials, record_health, record_rate_limit

    kanal, client = admin_client
    now = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
    with writing(kanal.engine) as conn:
        record_rate_limit(conn, "tg-off", datetime(2026, 12, 1, 1, 10, tzinfo=timezone.utc),
                          now=now)
        record_credentials(conn, "web-off", "X refused the credentials (HTTP 401)", now=now)
        record_health(conn, "not-built", ok=True, now=now)
    page = client.get("/staff/admin").text
    assert "terhambat: rate limited until 08:10 WIB (08:00 WIB, 01-12-2026)" in row(page, "tg-off")
    assert "gagal: credentials: X refused the credentials (HTTP 401)" in row(page, "web-off")
    assert "baik (08:00 WIB, 01-12-2026)" in row(page, "not-built")
    assert "Health" in client.get("/staff/admin?lang=en").text

"""/staff/channels, a channel's page and /staff/api/channels: the real app and database,
signed in as an operator (and the roles that may not look)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from core import audit, staff
from core.db import writing
from core.health import record_health, record_rate_limit
from core.models import OutboxItem
from gateway.app import create_app
from tests.clock import Clock
from tests.staff.conftest import PASSWORD, sign_in

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)


@pytest.fixture
def console(staff_kanal_factory):
    """A kanal at NOW with an operator account; yields (kanal, client)."""
    kanal = staff_kanal_factory()
    kanal.clock = Clock(NOW)
    with writing(kanal.engine) as conn:
        staff.add(conn, "oper1", PASSWORD, "operator")
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        yield kanal, client


def row(page: str, channel_id: str) -> str:
    start = page.index(f'data-channel="{channel_id}"')
    return page[start:page.index("</tr>", start)]


def test_operator_sees_unhealthy_channels_first_with_why(console):
    kanal, client = console
    with writing(kanal.engine) as conn:
        record_rate_limit(conn, "web", NOW + timedelta(minutes=20), now=NOW)
        record_health(conn, "jaki", ok=True, now=NOW)
        record_health(conn, "fake", ok=False, error="poll: provider down", now=NOW)
        conn.execute(insert(OutboxItem.__table__).values(
            channel="jaki", recipient="x", kind="ack", text="x", status="dead", attempts=8,
            next_attempt_at=NOW, created_at=NOW))
    sign_in(client, "oper1")
    page = client.get("/staff/channels")
    assert page.status_code == 200
    text = page.text
    # failing (fake's polls fail) before the warnings (jaki, not-built, which is not built
    # yet, and web), then the healthy ones
    assert text.index('data-channel="fake"') < text.index('data-channel="jaki"') \
        < text.index('data-channel="not-built"') < text.index('data-channel="web"') \
        < text.index('data-channel="fake2"')
    assert "terhambat: rate limited until 14:20 WIB" in row(text, "web")
    assert "mati: adapter &#39;no-such-adapter&#39; belum terpasang" in row(text, "not-built")
    assert "1 pesan keluar gagal terkirim (dead)" in row(text, "jaki")
    assert "sehat" in row(text, "fake2")
    assert '<a href="/staff/channels/web">' in text
    assert '<script src="/static/console.js"' in text
    english = client.get("/staff/channels?lang=en").text
    assert "held back: rate limited until 14:20 WIB" in row(english, "web")
    assert "1 outbox items dead" in row(english, "jaki") and "healthy" in row(english, "fake2")


def test_the_json_has_the_same_figures(console):
    kanal, client = console
    with writing(kanal.engine) as conn:
        record_health(conn, "fake", ok=True, now=NOW - timedelta(seconds=30))
    sign_in(client, "oper1")
    r = client.get("/staff/api/channels")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    by_id = {c["id"]: c for c in r.json()}
    assert by_id["fake"]["poll_lag_seconds"] == 30.0
    assert by_id["fake"]["last_ok_at"] == "2026-12-01T06:59:30+00:00"
    assert by_id["fake"]["problems"][0]["code"] == "poller_lag"
    assert by_id["fake"]["outbox"] == {"pending": 0, "failed": 0, "dead": 0}
    assert by_id["web"]["healthy"] is True and by_id["web"]["problems"] == []
    assert [c["id"] for c in r.json()][0] in ("fake", "not-built")


def test_channel_page_shows_figures_and_its_audit_trail(console):
    kanal, client = console
    with writing(kanal.engine) as conn:
        audit.record(conn, "admin1", "replay", channel="web", detail="inbox 7", now=NOW)
        audit.record(conn, "admin1", "retry", channel="jaki", detail="outbox 3", now=NOW)
    sign_in(client, "oper1")
    page = client.get("/staff/channels/web")
    assert page.status_code == 200
    assert "inbox 7" in page.text and "outbox 3" not in page.text
    assert "14:00 WIB, 01-12-2026" in page.text
    missing = client.get("/staff/channels/nope")
    assert missing.status_code == 404 and "Tidak ditemukan" in missing.text


@pytest.mark.parametrize("path", ["/staff/channels", "/staff/api/channels",
                                  "/staff/channels/web"])
def test_counter_staff_may_not_look(console, path):
    _, client = console
    sign_in(client, "loket")
    assert client.get(path).status_code == 403


def test_links_from_home_and_the_operations_page(console):
    _, client = console
    sign_in(client, "admin1")
    assert 'href="/staff/channels"' in client.get("/staff").text
    assert 'href="/staff/channels"' in client.get("/staff/admin").text
    assert client.get("/staff/channels").status_code == 200  # admins look too
    assert client.get("/static/console.js").status_code == 200

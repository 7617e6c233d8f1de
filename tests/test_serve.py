"""``kanal serve`` as a user starts it: web app, scheduler and dispatcher in one process."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, text

from core import tracking
from core.db import make_engine
from core.models import OutboxItem
from gateway.scheduler import exclusive, lock_key
from tests.serving import kanal_serve, wait_for


@pytest.fixture
def server(database_url, tmp_path):
    with kanal_serve(database_url, tmp_path) as base:
        yield base


def test_serve_takes_reports_and_the_dispatcher_sends_acks(server, database_url):
    r = httpx.post(f"{server}/api/v1/jaki/reports",
                   headers={"Authorization": "Bearer serve-key"},
                   json={"external_id": "s1", "text": "Got mampet", "category": "saluran-air",
                         "location": {"lat": -6.205, "lon": 106.805}})
    assert r.status_code == 201, r.text
    tid = r.json()["tracking_id"]
    view = httpx.get(f"{server}/api/v1/reports/{tid.lower().replace('-', '')}").json()
    assert view["kelurahan"]["name"] == "Alfa" and view["status"] == "Menunggu"

    hook = httpx.post(f"{server}/webhooks/fake", json={"id": "w1", "from": "warga", "text": "x"})
    assert hook.status_code == 201 and tracking.normalize(hook.json()["tracking_id"])
    engine = make_engine(database_url)

    def sent():
        with engine.connect() as conn:
            return conn.execute(select(OutboxItem.__table__.c.status)).scalar() == "sent"

    wait_for(sent, what="the dispatcher to send the acknowledgement")
    engine.dispose()
    openapi = httpx.get(f"{server}/openapi.json").json()
    for path in ("/api/v1/jaki/reports", "/api/v1/reports/{tracking_id}",
                 "/webhooks/{channel_id}"):
        assert path in openapi["paths"]


def test_poll_lock_is_exclusive_between_processes(database_url):
    engine = make_engine(database_url)
    try:
        if engine.dialect.name == "sqlite":
            with exclusive(engine, "poll:x") as mine:
                assert mine  # SQLite deployments run one process
            return
        with engine.connect() as other:  # another process holding the lock
            other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("poll:x")})
            with exclusive(engine, "poll:x") as mine:
                assert not mine
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("poll:x")})
        with exclusive(engine, "poll:x") as mine:
            assert mine
    finally:
        engine.dispose()

"""The JAKI status callback: a report made in the app is told of each status change and
officer's note as a signed JSON POST to the app's server (a local stand-in), through the
outbox with its retries; without a callback URL the skip is recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import deque
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import tracking
from core.cases import ActionRequest
from core.models import CaseEvent, Message, OutboxItem
from gateway.app import create_app
from tests.casework import DINAS, set_up
from tests.clock import Clock
from tests.conftest import FIXTURES, TEST_ENV
from tests.fakeserver import FakeServer

outbox_t, message_t, event_t = OutboxItem.__table__, Message.__table__, CaseEvent.__table__
SECRET = "rahasia-callback-0123456789"
AUTH = {"Authorization": "Bearer test-jaki-key"}
START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


class FakeApp(FakeServer):
    """The JAKI app's server: records each POST, answers the queued statuses, then 200."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: deque[tuple[int, dict[str, str]]] = deque()
        self.lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with app.lock:
                    app.received.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body})
                    status, headers = app.answers.popleft() if app.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        super().__init__(Handler, "fake-jaki-app")


@pytest.fixture
def app_server():
    server = FakeApp().start()
    yield server
    server.stop()


def channels_file(tmp_path, **jaki_settings):
    data = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    for channel in data["channels"]:
        if channel["id"] == "jaki":
            channel["settings"].update(jaki_settings)
    path = tmp_path / "channels-jaki.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def jaki_kanal(make_kanal, settings, tmp_path, app_server, clock):
    def factory(**jaki_settings):
        s = settings.model_copy(update={"config": channels_file(tmp_path, **jaki_settings)})
        return make_kanal(settings=s, clock=clock,
                          env={**TEST_ENV, "KANAL_JAKI_CALLBACK_SECRET": SECRET})
    return factory


def with_callback(jaki_kanal, app_server):
    return jaki_kanal(status_callback_url=f"{app_server.base_url}/kanal/status",
                      status_callback_secret="${KANAL_JAKI_CALLBACK_SECRET}")


def report_from_the_app(kanal) -> str:
    with TestClient(create_app(kanal=kanal)) as client:
        r = client.post("/api/v1/jaki/reports", headers=AUTH, json={
            "external_id": "jaki-cb-1", "text": "Jalan berlubang di Alfa",
            "category": "jalan-rusak", "location": {"lat": -6.205, "lon": 106.805},
            "reporter": {"app_user_id": "u-42", "name": "Sari"}})
    assert r.status_code == 201, r.text
    return tracking.normalize(r.json()["tracking_id"])


def items(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(outbox_t).order_by(outbox_t.c.id)).all()


def run_until_idle(kanal, clock, rounds: int = 10) -> None:
    for _ in range(rounds):
        kanal.dispatcher.run_once()
        pending = [i for i in items(kanal) if i.status == "pending"]
        if not pending:
            return
        clock.now = max(clock.now, min(i.next_attempt_at.replace(tzinfo=timezone.utc)
                                       if i.next_attempt_at.tzinfo is None
                                       else i.next_attempt_at for i in pending))
    raise AssertionError("the outbox is still pending")


def test_each_change_and_note_is_posted_signed(jaki_kanal, app_server, clock):
    kanal = with_callback(jaki_kanal, app_server)
    assert kanal.channel("jaki").state == "ready", kanal.channel("jaki").reason
    accounts = set_up(kanal)
    compact = report_from_the_app(kanal)
    assert items(kanal) == []  # the app had the tracking ID in its answer
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("coordinate", unit=DINAS))
    clock.now += timedelta(minutes=1)
    kanal.act_on_case(accounts["binamarga"], compact,
                      ActionRequest("note", reason="Tim survei datang besok."))
    run_until_idle(kanal, clock)
    first, second = app_server.received
    for got, item in zip((first, second), items(kanal)):
        assert got["path"] == "/kanal/status"
        assert got["headers"]["Content-Type"] == "application/json"
        expected = "sha256=" + hmac.new(SECRET.encode(), got["body"],
                                        hashlib.sha256).hexdigest()
        assert got["headers"]["X-Kanal-Signature"] == expected
        assert got["headers"]["X-Kanal-Delivery"] == str(item.id)
        assert (item.channel, item.status, item.attempts) == ("jaki", "sent", 1)
    shown = tracking.display(compact)
    assert json.loads(first["body"]) == {
        "tracking_id": shown, "status": "Koordinasi", "kind": "status_changed",
        "note": "Dikoordinasikan dengan Dinas Bina Marga", "at": START.isoformat()}
    assert json.loads(second["body"]) == {
        "tracking_id": shown, "status": "Koordinasi", "kind": "case_note",
        "note": "Tim survei datang besok.", "at": (START + timedelta(minutes=1)).isoformat()}
    with kanal.engine.connect() as conn:
        kept = conn.execute(select(message_t.c.kind, message_t.c.text, message_t.c.delivery)
                            .where(message_t.c.direction == "out", message_t.c.kind != "ack")
                            .order_by(message_t.c.id)).all()
    assert [(k, d) for k, _, d in kept] == [("status", "sent"), ("note", "sent")]
    assert kept[0].text.startswith(f"Laporan {shown}: Dikoordinasikan")  # what the case page shows


def test_a_failed_post_is_retried_with_the_same_body_and_delivery_id(jaki_kanal, app_server,
                                                                      clock):
    kanal = with_callback(jaki_kanal, app_server)
    accounts = set_up(kanal)
    compact = report_from_the_app(kanal)
    app_server.answers.extend([(503, {}), (429, {"Retry-After": "90"})])
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    run_until_idle(kanal, clock)
    tries = app_server.received
    assert len(tries) == 3 and len({t["body"] for t in tries}) == 1
    assert len({t["headers"]["X-Kanal-Delivery"] for t in tries}) == 1
    [item] = items(kanal)
    assert (item.status, item.attempts, item.last_error) == ("sent", 3, None)


@pytest.mark.parametrize(("status", "outcome", "attempts"), [
    (410, "dead", 1), (422, "dead", 1), (401, "pending", 1)])
def test_a_refusal_is_dead_at_once_and_a_refused_secret_is_retried(jaki_kanal, app_server,
                                                                    clock, status, outcome,
                                                                    attempts):
    kanal = with_callback(jaki_kanal, app_server)
    accounts = set_up(kanal)
    compact = report_from_the_app(kanal)
    app_server.answers.append((status, {}))
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    kanal.dispatcher.run_once()
    [item] = items(kanal)
    assert (item.status, item.attempts) == (outcome, attempts)
    assert f"status callback answered {status}" in item.last_error


def test_without_a_callback_the_skip_is_recorded(jaki_kanal, app_server):
    kanal = jaki_kanal()
    accounts = set_up(kanal)
    compact = report_from_the_app(kanal)
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    assert items(kanal) == [] and app_server.received == []
    with kanal.engine.connect() as conn:
        [skip] = conn.execute(select(event_t).where(event_t.c.kind == "notice_skipped")).all()
    assert not skip.public and "no way to reach the reporter on jaki" in skip.detail


def test_a_callback_url_without_a_secret_disables_the_channel(jaki_kanal, app_server):
    kanal = jaki_kanal(status_callback_url=f"{app_server.base_url}/kanal/status")
    status = kanal.channel("jaki")
    assert status.state == "disabled"
    assert "status_callback_secret" in status.reason

"""Quarantine and the outbox from the browser: list, view (the payload only for admins),
replay, discard with a reason, retry a dead item; each audited, stale actions refused."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from core import audit, inbox, staff
from core.adapter import Envelope
from core.db import writing
from core.hookspecs import hookimpl
from core.models import InboxItem, OutboxItem
from gateway.app import create_app
from tests.staff.conftest import PASSWORD, csrf_of, sign_in

inbox_t, outbox_t = InboxItem.__table__, OutboxItem.__table__
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)


class Classifier:
    """A plugin that crashes on "meledak" until it is fixed."""

    broken = True

    @hookimpl
    def kanal_classify(self, message):
        if self.broken and "meledak" in message.text:
            raise RuntimeError("classifier crashed")
        return None


@pytest.fixture
def queue(staff_kanal_factory):
    classifier = Classifier()
    kanal = staff_kanal_factory(extra_plugins=(classifier,))
    with writing(kanal.engine) as conn:
        staff.add(conn, "oper1", PASSWORD, "operator")
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        yield kanal, client, classifier


def quarantined_payload(kanal, text="Trafo meledak di Jalan Alfa", external="q1") -> int:
    with writing(kanal.engine) as conn:
        [(item_id, _)] = inbox.write(conn, [Envelope("fake", external, json.dumps(
            {"id": external, "from": "warga-1", "text": text}).encode())])
    kanal.replay()
    return item_id


def status_of(kanal, item_id: int) -> str:
    with kanal.engine.connect() as conn:
        return conn.execute(select(inbox_t.c.status).where(inbox_t.c.id == item_id)).scalar()


def actions(kanal) -> list[tuple[str, str, str | None]]:
    with kanal.engine.connect() as conn:
        return [(e["actor"], e["action"], e["detail"]) for e in audit.events(conn)]


def test_list_and_filter_by_channel(queue):
    kanal, client, _ = queue
    item_id = quarantined_payload(kanal)
    assert status_of(kanal, item_id) == "quarantined"
    sign_in(client, "oper1")
    page = client.get("/staff/quarantine")
    assert page.status_code == 200
    assert f'href="/staff/quarantine/{item_id}"' in page.text
    assert "classifier crashed" in page.text
    other = client.get("/staff/quarantine?channel=web")
    assert f'href="/staff/quarantine/{item_id}"' not in other.text


def test_paged(queue):
    kanal, client, _ = queue
    ids = [quarantined_payload(kanal, external=f"q{n}") for n in range(52)]
    sign_in(client, "oper1")
    first = client.get("/staff/quarantine").text
    assert f'/staff/quarantine/{ids[-1]}"' in first and f'/staff/quarantine/{ids[1]}"' not in first
    assert f"before={ids[2]}" in first
    second = client.get(f"/staff/quarantine?before={ids[2]}").text
    assert f'/staff/quarantine/{ids[1]}"' in second and "before=" not in second


def test_payload_only_for_admins(queue):
    kanal, client, _ = queue
    item_id = quarantined_payload(kanal)
    sign_in(client, "oper1")
    page = client.get(f"/staff/quarantine/{item_id}")
    assert page.status_code == 200 and "classifier crashed" in page.text
    assert "Jalan Alfa" not in page.text and "hanya ditampilkan untuk admin" in page.text
    sign_in(client, "admin1")
    page = client.get(f"/staff/quarantine/{item_id}")
    assert "Trafo meledak di Jalan Alfa" in page.text
    assert "&#34;from&#34;: &#34;warga-1&#34;" in page.text  # indented JSON, escaped


def test_payload_text_is_escaped_and_binary_shown_by_size(queue):
    kanal, client, _ = queue
    with writing(kanal.engine) as conn:
        [(html_id, _), (bin_id, _)] = inbox.write(conn, [
            Envelope("web", "h", b"<script>alert(1)</script>", content_type="text/plain"),
            Envelope("web", "b", b"\xff\xd8\xff\xe0", content_type="image/jpeg")])
        for i in (html_id, bin_id):
            inbox.quarantine(conn, i, "test")
    sign_in(client, "admin1")
    page = client.get(f"/staff/quarantine/{html_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Berkas biner: 4 bita, image/jpeg" in client.get(f"/staff/quarantine/{bin_id}").text


def test_replay_after_the_cause_is_fixed_makes_a_report(queue):
    kanal, client, classifier = queue
    item_id = quarantined_payload(kanal)
    classifier.broken = False
    sign_in(client, "oper1")
    page = client.get(f"/staff/quarantine/{item_id}")
    r = client.post(f"/staff/quarantine/{item_id}/replay", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200
    assert "sekarang laporan" in r.text and 'class="tracking-id"' in r.text
    assert status_of(kanal, item_id) == "processed"
    assert actions(kanal) == [("oper1", "replay", f"inbox {item_id}")]
    again = client.post(f"/staff/quarantine/{item_id}/replay",
                        data={"csrf": csrf_of(page.text)})
    assert again.status_code == 409 and "sudah tidak dikarantina" in again.text
    assert len(actions(kanal)) == 1


def test_replay_that_fails_again_shows_the_new_reason(queue):
    kanal, client, _ = queue
    item_id = quarantined_payload(kanal)
    sign_in(client, "admin1")
    page = client.get(f"/staff/quarantine/{item_id}")
    r = client.post(f"/staff/quarantine/{item_id}/replay", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "dikarantina lagi" in r.text
    assert status_of(kanal, item_id) == "quarantined"


def test_replay_needs_the_csrf_token_and_a_known_id(queue):
    kanal, client, classifier = queue
    item_id = quarantined_payload(kanal)
    classifier.broken = False
    sign_in(client, "oper1")
    assert client.post(f"/staff/quarantine/{item_id}/replay", data={}).status_code == 403
    assert status_of(kanal, item_id) == "quarantined" and actions(kanal) == []
    page = client.get("/staff/quarantine")
    for bad in ("999999", "abc"):
        r = client.post(f"/staff/quarantine/{bad}/replay", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 404 and "Tidak ditemukan" in r.text
        assert client.get(f"/staff/quarantine/{bad}").status_code == 404


def test_discard_needs_a_reason_and_keeps_the_payload(queue):
    kanal, client, _ = queue
    item_id = quarantined_payload(kanal)
    sign_in(client, "oper1")
    csrf = csrf_of(client.get(f"/staff/quarantine/{item_id}").text)
    empty = client.post(f"/staff/quarantine/{item_id}/discard",
                        data={"csrf": csrf, "reason": "  "})
    assert empty.status_code == 422 and "Tulis alasan membuang" in empty.text
    assert status_of(kanal, item_id) == "quarantined" and actions(kanal) == []
    done = client.post(f"/staff/quarantine/{item_id}/discard",
                       data={"csrf": csrf, "reason": "pesan uji coba"})
    assert done.status_code == 200 and "dibuang" in done.text
    with kanal.engine.connect() as conn:
        row = inbox.item(conn, item_id)
        event = audit.events(conn)[0]
    assert row.status == "discarded" and b"meledak" in row.payload
    assert (event["actor"], event["action"], event["new_value"], event["channel"]) == (
        "oper1", "discard", "pesan uji coba", "fake")
    stale = client.post(f"/staff/quarantine/{item_id}/discard",
                        data={"csrf": csrf, "reason": "lagi"})
    assert stale.status_code == 409 and len(actions(kanal)) == 1


def outbox_item(kanal, status: str, attempts: int = 8) -> int:
    with writing(kanal.engine) as conn:
        return conn.execute(insert(outbox_t).values(
            channel="fake", recipient="+6281234567890", kind="ack", text="Nomor laporan",
            status=status, attempts=attempts, last_error="ConnectionError: down",
            next_attempt_at=NOW, created_at=NOW).returning(outbox_t.c.id)).scalar_one()


def test_outbox_lists_dead_and_failing_with_recipient_masked_for_operators(queue):
    kanal, client, _ = queue
    dead, failing = outbox_item(kanal, "dead"), outbox_item(kanal, "pending", 2)
    fresh, sent = outbox_item(kanal, "pending", 0), outbox_item(kanal, "sent", 1)
    sign_in(client, "oper1")
    page = client.get("/staff/outbox").text
    assert f'data-outbox="{dead}"' in page and f'data-outbox="{failing}"' in page
    assert f'data-outbox="{fresh}"' not in page and f'data-outbox="{sent}"' not in page
    assert "+6281234567890" not in page and "+628•••90" in page
    assert "ConnectionError: down" in page
    sign_in(client, "admin1")
    assert "+6281234567890" in client.get("/staff/outbox").text


def test_retry_makes_a_dead_item_pending_once(queue):
    kanal, client, _ = queue
    dead, failing = outbox_item(kanal, "dead"), outbox_item(kanal, "pending", 2)
    sign_in(client, "oper1")
    csrf = csrf_of(client.get("/staff/outbox").text)
    assert client.post(f"/staff/outbox/{dead}/retry", data={}).status_code == 403
    r = client.post(f"/staff/outbox/{dead}/retry", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/staff/outbox?retried={dead}"
    with kanal.engine.connect() as conn:
        item = conn.execute(select(outbox_t).where(outbox_t.c.id == dead)).one()
    assert (item.status, item.attempts) == ("pending", 0)
    assert actions(kanal) == [("oper1", "retry", f"outbox {dead}")]
    for stale, code in ((dead, 409), (failing, 409), (999999, 404)):
        r = client.post(f"/staff/outbox/{stale}/retry", data={"csrf": csrf})
        assert r.status_code == code and "Tidak ada yang diubah" in r.text
    assert len(actions(kanal)) == 1


@pytest.mark.parametrize("method,path", [
    ("GET", "/staff/quarantine"), ("GET", "/staff/quarantine/1"),
    ("POST", "/staff/quarantine/1/replay"), ("POST", "/staff/quarantine/1/discard"),
    ("GET", "/staff/outbox"), ("POST", "/staff/outbox/1/retry")])
def test_counter_staff_are_forbidden(queue, method, path):
    _, client, _ = queue
    sign_in(client, "loket")
    assert client.request(method, path, data={}).status_code == 403


def test_replay_waits_for_a_channel_that_is_not_running(queue):
    kanal, client, _ = queue
    with writing(kanal.engine) as conn:
        [(item_id, _)] = inbox.write(conn, [Envelope("not-built", "n1", b"{}")])
        inbox.quarantine(conn, item_id, "test")
    sign_in(client, "oper1")
    csrf = csrf_of(client.get(f"/staff/quarantine/{item_id}").text)
    r = client.post(f"/staff/quarantine/{item_id}/replay", data={"csrf": csrf})
    assert r.status_code == 409 and "sedang tidak berjalan" in r.text
    assert status_of(kanal, item_id) == "quarantined" and actions(kanal) == []

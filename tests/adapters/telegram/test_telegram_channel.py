"""The Telegram channel's configuration, polling recovery, media limits and the bot's
life cycle: what does not fit one row of the delivery table."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from core.adapter import InboxRecord
from core.models import InboxItem, MediaJob, OutboxItem, Report
from gateway.logs import channel_secrets
from gateway.scheduler import build_workers
from tests.adapters.telegram.conftest import GOOD, SECRET, TOKEN, count, drain, update_bytes
from tests.helpers import flat_workers

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + \
    bytes(range(256)) * 8 + b"\xff\xd9"


def _status(kanal, table, column="status"):
    with kanal.engine.connect() as conn:
        return conn.execute(select(table.__table__.c[column], table.__table__.c.attempts)).one()


def test_a_crash_before_the_cursor_is_stored_repeats_the_poll_without_doubling(
        telegram_kanal, bot_api, monkeypatch):
    import gateway.runtime

    kanal = telegram_kanal(mode="polling")
    for name in ("text.json", "location.json"):
        bot_api.queue_update(json.loads(update_bytes(name)))

    def crash(*args, **kw):
        raise RuntimeError("process killed before the cursor was stored")

    with monkeypatch.context() as m:
        m.setattr(gateway.runtime, "set_cursor", crash)
        with pytest.raises(RuntimeError):
            kanal.poll_channel("telegram")
    assert count(kanal, InboxItem) == count(kanal, Report) == 2  # committed before the crash
    assert kanal.poll_channel("telegram") == 2  # Telegram sends both again
    assert count(kanal, InboxItem) == count(kanal, Report) == 2
    assert drain(kanal) == 2 and len(bot_api.sent) == 2  # one ack each
    assert kanal.poll_channel("telegram") == 0
    offsets = [p.get("offset") for m, p in bot_api.calls if m == "getUpdates"]
    assert offsets == [None, None, "871200004"]


def test_only_polling_channels_get_a_poller(telegram_kanal):
    webhook, polling = telegram_kanal(mode="webhook"), telegram_kanal(mode="polling")
    assert webhook.adapters["telegram"].polls is False
    assert [w.name for w in flat_workers(build_workers(webhook, start=False))] == [
        "dispatch", "media"]
    pollers = {w.name: w for w in flat_workers(build_workers(polling, start=False))}
    assert set(pollers) == {"dispatch", "media", "poll:telegram"}
    assert pollers["poll:telegram"].interval == 2


def test_webhook_mode_needs_the_secret_token(telegram_kanal, tg_client):
    kanal = telegram_kanal(mode="webhook", secret=None)
    status = kanal.channel("telegram")
    assert (status.state, status.reason) == ("disabled",
                                             "secret_token is required in webhook mode")
    r = tg_client(kanal).post("/webhooks/telegram", content=update_bytes("text.json"),
                              headers=GOOD)
    assert r.status_code == 503 and r.json()["error"] == "channel_disabled"
    assert count(kanal, InboxItem) == 0


def test_polling_mode_runs_without_a_secret_and_takes_no_webhooks(telegram_kanal, tg_client):
    kanal = telegram_kanal(mode="polling", secret=None)
    assert kanal.channel("telegram").state == "ready"
    r = tg_client(kanal).post("/webhooks/telegram", content=update_bytes("text.json"),
                              headers=GOOD)
    assert r.status_code == 404 and r.json()["error"] == "no_webhook"


def test_the_webhook_takes_post_only(telegram_kanal, tg_client):
    r = tg_client(telegram_kanal()).get("/webhooks/telegram", headers=GOOD)
    assert r.status_code == 404 and r.json()["error"] == "no_webhook"


def test_a_secret_telegram_would_refuse_disables_the_channel(telegram_kanal):
    kanal = telegram_kanal(secret="has spaces in it")
    status = kanal.channel("telegram")
    assert status.state == "disabled" and status.reason.startswith(
        "invalid settings: secret_token")


def test_the_bot_token_and_secret_are_redacted_from_logs(telegram_kanal):
    assert {TOKEN, SECRET} <= set(channel_secrets(telegram_kanal()))


def test_a_photo_over_the_limit_is_given_up_and_the_report_kept(
        telegram_kanal, tg_client, bot_api):
    kanal = telegram_kanal(max_photo_bytes=1000)
    bot_api.add_file("AgACAgUAAxkBAAIBsmXlarge", PHOTO, "photos/file_17.jpg")
    r = tg_client(kanal).post("/webhooks/telegram", headers=GOOD,
                              content=update_bytes("photo_with_caption.json"))
    assert r.status_code == 200
    assert kanal.media.run_once() == 1
    assert tuple(_status(kanal, MediaJob)) == ("failed", 1)  # not retried
    assert bot_api.downloads == []  # getFile said how big it is
    assert count(kanal, Report) == 1 and drain(kanal) == 1


def test_a_failed_download_is_retried(telegram_kanal, tg_client, bot_api, clock):
    kanal = telegram_kanal()
    bot_api.add_file("AgACAgUAAxkBAAIBsmXlarge", PHOTO, "photos/file_17.jpg")
    bot_api.fail("getFile", 500, "Internal Server Error")
    tg_client(kanal).post("/webhooks/telegram", headers=GOOD,
                          content=update_bytes("photo_with_caption.json"))
    assert kanal.media.run_once() == 1
    assert tuple(_status(kanal, MediaJob)) == ("pending", 1)
    clock.advance(3600)
    assert kanal.media.run_once() == 1
    assert tuple(_status(kanal, MediaJob)) == ("done", 2)


def test_a_rejected_bot_token_keeps_the_message_for_later(telegram_kanal, tg_client, bot_api):
    kanal = telegram_kanal()
    bot_api.fail("getMe", 401, "Unauthorized")
    tg_client(kanal).post("/webhooks/telegram", headers=GOOD,
                          content=update_bytes("text.json"))
    assert kanal.dispatcher.run_once() == 1
    status, attempts = _status(kanal, OutboxItem)
    assert (status, attempts) == ("pending", 1)


def test_the_bot_is_initialized_once_for_all_calls(telegram_kanal, tg_client, bot_api):
    kanal = telegram_kanal()
    client = tg_client(kanal)
    for name in ("text.json", "location.json", "start.json"):
        client.post("/webhooks/telegram", headers=GOOD, content=update_bytes(name))
    assert drain(kanal) == 3
    assert bot_api.methods() == ["getMe", "sendMessage", "sendMessage", "sendMessage"]
    assert {s["chat_id"] for s in bot_api.sent} == {123456789}
    kanal.adapters["telegram"].close()
    assert not [t for t in threading.enumerate() if t.name.startswith("telegram-bot-")]


def test_normalize_is_deterministic(telegram_kanal):
    adapter = telegram_kanal().adapters["telegram"]
    record = InboxRecord(id=1, channel="telegram", external_id="871200002",
                         content_type="application/json",
                         payload=update_bytes("photo_with_caption.json"), received_at=None)
    first, again = adapter.normalize(record), adapter.normalize(record)
    assert first == again
    assert first.external_id == "123456789:42" and first.sender.display_name == "Budi Santoso"
    assert [m.url for m in first.media] == ["tg-file:AgACAgUAAxkBAAIBsmXlarge"]
    assert first.received_at.isoformat() == "2026-01-02T00:01:00+00:00"


def test_a_burst_of_stickers_gets_one_request_for_text(telegram_kanal, tg_client):
    kanal = telegram_kanal(mode="webhook")
    client = tg_client(kanal)
    sticker = json.loads(update_bytes("sticker.json"))
    for n in range(4):
        sticker["update_id"] += 1
        sticker["message"]["message_id"] += 1
        r = client.post("/webhooks/telegram", content=json.dumps(sticker).encode(),
                        headers=GOOD)
        assert r.status_code == 200
    assert count(kanal, InboxItem, InboxItem.__table__.c.status == "quarantined") == 4
    with kanal.engine.connect() as conn:
        kinds = conn.execute(select(OutboxItem.__table__.c.kind)).scalars().all()
    assert kinds == ["unsupported_message"]

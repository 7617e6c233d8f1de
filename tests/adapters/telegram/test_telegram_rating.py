"""Rating on Telegram: the request carries buttons 1-5; a press rates the case when it is
the reporter's (``from.id``), and is answered with answerCallbackQuery either way."""

from __future__ import annotations

import json

from sqlalchemy import select

from core import tracking
from core.canonical import OutboundMessage
from core.models import InboxItem, Message, OutboxItem, Report
from tests.adapters.telegram.conftest import CHAT_ID, GOOD, first_tid, update_bytes
from tests.casework import drive, set_up
from tests.helpers import count, drain

STRANGER = 987654321
outbox_t = OutboxItem.__table__
report_t = Report.__table__


def press(client, compact: str, score: int, *, who: int = CHAT_ID, query_id: str = "cq-1",
          update_id: int = 871209001, data: str | None = None):
    update = {"update_id": update_id, "callback_query": {
        "id": query_id, "chat_instance": "-8877665544332211",
        "from": {"id": who, "is_bot": False, "first_name": "Budi"},
        "message": {"message_id": 77, "date": 1767312300,
                    "chat": {"id": CHAT_ID, "type": "private", "first_name": "Budi"},
                    "text": "Laporan selesai. Beri nilai 1-5"},
        "data": data or f"rate:{compact}:{score}"}}
    r = client.post("/webhooks/telegram", content=json.dumps(update), headers=GOOD)
    assert r.status_code == 200, r.text


def finished_case(telegram_kanal, tg_client):
    kanal = telegram_kanal()
    client = tg_client(kanal)
    accounts = set_up(kanal)
    r = client.post("/webhooks/telegram", content=update_bytes("location.json"), headers=GOOD)
    assert r.status_code == 200
    compact = tracking.normalize(first_tid(kanal))
    drive(kanal, accounts, compact, "Selesai")
    drain(kanal)
    return kanal, client, compact


def row(kanal, compact):
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t).where(report_t.c.tracking_id == compact)).one()


def test_the_rating_request_has_buttons_1_to_5(telegram_kanal, bot_api):
    kanal = telegram_kanal()
    adapter = kanal.adapters["telegram"]
    adapter.send(OutboundMessage(outbox_id=1, channel="telegram", recipient=str(CHAT_ID),
                                 text="Beri nilai 1-5", kind="rating_request",
                                 tracking_id="JK7QM4XA9"))
    adapter.send(OutboundMessage(outbox_id=2, channel="telegram", recipient=str(CHAT_ID),
                                 text="Status berubah", kind="status_changed",
                                 tracking_id="JK7QM4XA9"))
    asking, other = bot_api.sent[-2:]
    [buttons] = asking["reply_markup"]["inline_keyboard"]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        (str(n), f"rate:JK7QM4XA9:{n}") for n in range(1, 6)]
    assert other["reply_markup"] is None


def test_a_finished_case_asks_on_telegram_with_buttons(telegram_kanal, tg_client, bot_api):
    kanal, client, compact = finished_case(telegram_kanal, tg_client)
    asking = [s for s in bot_api.sent if s["reply_markup"]]
    assert len(asking) == 1 and asking[0]["chat_id"] == CHAT_ID
    assert asking[0]["reply_markup"]["inline_keyboard"][0][3]["callback_data"] == (
        f"rate:{compact}:4")


def test_the_reporters_press_rates_and_is_answered(telegram_kanal, tg_client, bot_api):
    kanal, client, compact = finished_case(telegram_kanal, tg_client)
    press(client, compact, 4)
    drain(kanal)
    r = row(kanal, compact)
    assert (r.rating, r.status) == (4, "Selesai")
    [answered] = bot_api.answered
    assert answered["id"] == "cq-1" and "4" in answered["text"]
    assert bot_api.sent[-1]["chat_id"] == CHAT_ID and bot_api.sent[-1]["text"].startswith(
        "Terima kasih")
    # a second press is refused, and told so
    press(client, compact, 1, query_id="cq-2", update_id=871209002)
    drain(kanal)
    assert row(kanal, compact).rating == 4
    assert "sudah diberi nilai" in bot_api.answered[-1]["text"]


def test_a_press_by_someone_else_is_refused(telegram_kanal, tg_client, bot_api):
    kanal, client, compact = finished_case(telegram_kanal, tg_client)
    before = count(kanal, Message)
    press(client, compact, 1, who=STRANGER, query_id="cq-x")
    drain(kanal)
    assert row(kanal, compact).rating is None
    [answered] = bot_api.answered
    assert answered["id"] == "cq-x" and "Hanya pelapor" in answered["text"]
    # nothing of the stranger's lands on the reporter's case
    with kanal.engine.connect() as conn:
        on_case = conn.execute(select(Message.__table__.c.id).where(
            Message.__table__.c.report_id == row(kanal, compact).id,
            Message.__table__.c.id > before)).all()
        [refusal] = conn.execute(select(outbox_t).where(outbox_t.c.kind == "rating_refused"))
    assert on_case == [] and refusal.recipient == str(STRANGER)
    assert count(kanal, Report) == 1


def test_a_press_of_an_unknown_button_is_quarantined(telegram_kanal, tg_client):
    kanal = telegram_kanal()
    client = tg_client(kanal)
    press(client, "", 0, data="rating:5")
    assert count(kanal, InboxItem, InboxItem.__table__.c.status == "quarantined") == 1

"""Status notices on Telegram through the fake Bot API: each goes to the citizen's chat,
quoting their message as the acknowledgement did; a bot the citizen blocked (403) leaves
the notice dead after one attempt with Telegram's reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.cases import ActionRequest
from core.models import OutboxItem
from tests.adapters.telegram.conftest import (
    CHAT_ID, deliver, drain, first_tid, update_bytes,
)
from tests.casework import DINAS, set_up

outbox_t = OutboxItem.__table__


def notices(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(outbox_t).where(outbox_t.c.kind == "status_changed")
                            .order_by(outbox_t.c.id)).all()


@pytest.fixture
def reported(telegram_kanal, tg_client, bot_api):
    """A kanal with a report from the chat of text.json, acknowledged; (kanal, compact)."""
    kanal = telegram_kanal()
    r = deliver(kanal, tg_client(kanal), bot_api, "webhook", update_bytes("text.json"))
    assert r.status_code == 200, r.text
    drain(kanal)
    assert [m["chat_id"] for m in bot_api.sent] == [CHAT_ID]
    return kanal, first_tid(kanal).replace("-", "")


def test_a_status_change_reaches_the_chat(reported, bot_api):
    kanal, compact = reported
    accounts = set_up(kanal)
    kanal.act_on_case(accounts["verifikator"], compact, ActionRequest("coordinate", unit=DINAS))
    kanal.act_on_case(accounts["binamarga"], compact, ActionRequest("note", reason="Segera."))
    drain(kanal)
    ack, notice, note = bot_api.sent
    assert notice["chat_id"] == note["chat_id"] == CHAT_ID
    assert notice["reply_to"] == ack["reply_to"] == 41  # the citizen's message, quoted
    assert "Dikoordinasikan dengan Dinas Bina Marga" in notice["text"]
    assert note["text"].endswith(": Segera.")
    [item] = notices(kanal)
    assert (item.status, item.attempts, item.recipient) == ("sent", 1, str(CHAT_ID))


def test_a_blocked_bot_leaves_the_notice_dead_at_once(reported, bot_api, clock):
    kanal, compact = reported
    accounts = set_up(kanal)
    bot_api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    kanal.act_on_case(accounts["verifikator"], compact, ActionRequest("coordinate", unit=DINAS))
    kanal.dispatcher.run_once()
    clock.advance(7200)
    assert kanal.dispatcher.run_once() == 0  # not tried again
    [item] = notices(kanal)
    assert (item.status, item.attempts) == ("dead", 1)
    assert item.last_error == ("PermanentSendError: Forbidden: Forbidden: bot was blocked by "
                               "the user")

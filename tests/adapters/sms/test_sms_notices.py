"""Status notices on SMS and WhatsApp through the local fake Twilio: each reaches the
citizen's number as the acknowledgement did; a refusal retrying cannot fix (21610
unsubscribed, 21211 invalid number, 63016 outside WhatsApp's 24-hour window, at send time
or in a status callback) leaves the item dead after one attempt with Twilio's reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import tracking
from core.cases import ActionRequest
from core.models import CaseEvent, Message, OutboxItem, Report
from tests.adapters.sms.conftest import CITIZEN, NUMBER, drive, load, post
from tests.casework import DINAS, set_up

outbox_t, message_t, event_t = OutboxItem.__table__, Message.__table__, CaseEvent.__table__
report_t = Report.__table__
WA_CITIZEN = "whatsapp:" + CITIZEN


def reported(client, kanal, twilio, clock, channel: str, payload: str) -> str:
    """A report through the channel's webhook, its acknowledgement sent; the compact id."""
    assert post(client, channel, load(payload)).status_code == 200
    drive(kanal.dispatcher.run_once, outbox_t, clock)
    assert [i.status for i in items(kanal)] == ["sent"]
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t.c.tracking_id)).scalar_one()


def items(kanal, *where):
    with kanal.engine.connect() as conn:
        return conn.execute(select(outbox_t).where(*where).order_by(outbox_t.c.id)).all()


def coordinate(kanal, compact: str) -> None:
    """A supervisor hands the case to Dinas Bina Marga (wherever it was routed)."""
    accounts = set_up(kanal)
    kanal.act_on_case(accounts["verifikator"], compact, ActionRequest("coordinate", unit=DINAS))


ROUTES = [  # channel, payload, To, From of the notice at Twilio
    ("sms", "sms_happy.json", CITIZEN, NUMBER),
    ("whatsapp", "whatsapp_location.json", WA_CITIZEN, "whatsapp:" + NUMBER),
    ("sms", "whatsapp_on_the_sms_webhook.json", WA_CITIZEN, "whatsapp:+628111272299"),
]


@pytest.mark.parametrize(("channel", "payload", "to", "from_"), ROUTES,
                         ids=["sms", "whatsapp", "whatsapp-on-the-sms-number"])
def test_a_status_change_reaches_the_citizen_as_the_ack_did(sms_client, sms_kanal, twilio,
                                                            clock, channel, payload, to,
                                                            from_):
    compact = reported(sms_client, sms_kanal, twilio, clock, channel, payload)
    coordinate(sms_kanal, compact)
    drive(sms_kanal.dispatcher.run_once, outbox_t, clock)
    ack, notice = twilio.messages
    assert (notice.form["To"], notice.form["From"]) == (to, from_)
    assert (ack.form["To"], ack.form["From"]) == (to, from_)
    shown = tracking.display(compact)
    assert notice.form["Body"] == (
        f"Laporan {shown}: Dikoordinasikan dengan Dinas Bina Marga. Status: Koordinasi. "
        f"Rincian: https://kanal.example.go.id/lacak/{shown}")
    [item] = items(sms_kanal, outbox_t.c.kind == "status_changed")
    assert (item.status, item.attempts, item.channel) == ("sent", 1, channel)
    assert item.provider_message_id == notice.sid


REFUSED = [  # channel, payload, To, Twilio's code and message
    ("sms", "sms_happy.json", CITIZEN, 21610, "Attempt to send to unsubscribed recipient"),
    ("sms", "sms_happy.json", CITIZEN, 21211, f"Invalid 'To' Phone Number: {CITIZEN}"),
    ("whatsapp", "whatsapp_location.json", WA_CITIZEN, 63016,
     "Failed to send freeform message because you are outside the allowed window."),
]


@pytest.mark.parametrize(("channel", "payload", "to", "code", "message"), REFUSED,
                         ids=["21610-unsubscribed", "21211-invalid-number", "63016-window"])
def test_a_refusal_at_send_time_is_dead_after_one_attempt(sms_client, sms_kanal, twilio,
                                                          clock, channel, payload, to, code,
                                                          message):
    compact = reported(sms_client, sms_kanal, twilio, clock, channel, payload)
    twilio.refusals[to] = (code, message)
    coordinate(sms_kanal, compact)
    drive(sms_kanal.dispatcher.run_once, outbox_t, clock)
    [item] = items(sms_kanal, outbox_t.c.kind == "status_changed")
    assert (item.status, item.attempts) == ("dead", 1)
    assert item.last_error.startswith(f"PermanentSendError: Twilio 400 error {code}: ")
    assert item.last_error.endswith(message)
    assert len([p for p in twilio.posts() if p.form.get("To") == to]) == 2  # ack, notice
    with sms_kanal.engine.connect() as conn:
        delivery = conn.execute(select(message_t.c.delivery)
                                .where(message_t.c.id == item.message_id)).scalar_one()
    assert delivery == "failed"


def test_a_window_refusal_in_a_status_callback_is_recorded(sms_client, sms_kanal, twilio,
                                                           clock):
    compact = reported(sms_client, sms_kanal, twilio, clock, "whatsapp",
                       "whatsapp_location.json")
    coordinate(sms_kanal, compact)
    drive(sms_kanal.dispatcher.run_once, outbox_t, clock)
    [item] = items(sms_kanal, outbox_t.c.kind == "status_changed")
    assert item.status == "sent"
    callback = {**load("status_callback_undelivered.json", sid=item.provider_message_id),
                "MessageStatus": "failed", "SmsStatus": "failed", "ErrorCode": "63016",
                "To": WA_CITIZEN, "From": "whatsapp:" + NUMBER}
    assert post(sms_client, "whatsapp", callback).status_code == 204
    [item] = items(sms_kanal, outbox_t.c.kind == "status_changed")
    assert (item.status, item.attempts) == ("dead", 1)
    assert item.last_error.startswith("Twilio error 63016: failed (outside the 24-hour")
    drive(sms_kanal.dispatcher.run_once, outbox_t, clock)
    assert len(twilio.messages) == 2  # not sent again


def test_stop_on_sms_silences_the_notices(sms_client, sms_kanal, twilio, clock):
    compact = reported(sms_client, sms_kanal, twilio, clock, "sms", "sms_happy.json")
    assert post(sms_client, "sms", load("sms_stop.json")).status_code == 200
    drive(sms_kanal.dispatcher.run_once, outbox_t, clock)
    sent = len(twilio.messages)
    coordinate(sms_kanal, compact)
    drive(sms_kanal.dispatcher.run_once, outbox_t, clock)
    assert len(twilio.messages) == sent
    assert items(sms_kanal, outbox_t.c.kind == "status_changed") == []
    with sms_kanal.engine.connect() as conn:
        [skip] = conn.execute(select(event_t).where(event_t.c.kind == "notice_skipped")).all()
    assert skip.detail == "status_changed: the reporter opted out (STOP) on sms"

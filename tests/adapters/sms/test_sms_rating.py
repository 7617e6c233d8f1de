"""The rating arriving as an SMS or WhatsApp reply, through the Twilio webhook and the
fake Twilio REST server: the request when the case is Selesai, the reply, the thanks."""

from __future__ import annotations

from sqlalchemy import select

from core.models import OutboxItem, Report
from tests.adapters.sms.conftest import CITIZEN, load, post
from tests.casework import drive, set_up
from tests.helpers import drain

report_t = Report.__table__
outbox_t = OutboxItem.__table__
NEIGHBOUR = "+6281298765432"


def sms(client, text: str, sender: str = CITIZEN, n: int = 1):
    params = {**load("sms_happy.json"), "Body": text, "From": sender,
              "MessageSid": f"SM{n:032d}", "SmsMessageSid": f"SM{n:032d}",
              "SmsSid": f"SM{n:032d}"}
    r = post(client, "sms", params)
    assert r.status_code == 200, r.text


def reports(kanal) -> list:
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t).order_by(report_t.c.id)).all()


def finished(sms_kanal, sms_client, twilio, params: dict, channel: str = "sms") -> str:
    accounts = set_up(sms_kanal)
    assert post(sms_client, channel, params).status_code == 200
    [report] = reports(sms_kanal)
    assert report.unit_id == "kelurahan-31.71.01.1001"
    drive(sms_kanal, accounts, report.tracking_id, "Selesai")
    drain(sms_kanal)
    return report.tracking_id


def test_an_sms_reply_of_4_rates_the_case(sms_kanal, sms_client, twilio):
    compact = finished(sms_kanal, sms_client, twilio, load("sms_happy.json"))
    asked = twilio.messages[-1].form
    assert asked["To"] == CITIZEN and "Balas nilai 1-5" in asked["Body"]
    assert "/nilai/" not in asked["Body"]  # the reply is the way here
    sms(sms_client, "4", n=2)
    drain(sms_kanal)
    [report] = reports(sms_kanal)
    assert (report.tracking_id, report.rating, report.status) == (compact, 4, "Selesai")
    thanks = twilio.messages[-1].form
    assert thanks["To"] == CITIZEN and thanks["Body"].startswith("Terima kasih, nilai 4")
    assert sms_client.get(f"/api/v1/reports/{compact}").json()["rating"]["score"] == 4


def test_a_whatsapp_reply_with_a_comment_reopens_the_case(sms_kanal, sms_client, twilio):
    compact = finished(sms_kanal, sms_client, twilio, load("whatsapp_location.json"),
                       channel="whatsapp")
    params = {**load("whatsapp_location.json"), "MessageType": "text",
              "Body": "2 lubangnya masih ada", "MessageSid": "SM" + "7" * 32}
    for key in ("Latitude", "Longitude", "Address", "Label"):
        params.pop(key)
    assert post(sms_client, "whatsapp", params).status_code == 200
    drain(sms_kanal)
    [report] = reports(sms_kanal)
    assert (report.rating, report.rating_comment, report.status) == (
        2, "lubangnya masih ada", "Menunggu Verifikasi")
    assert any("dibuka kembali" in m.form["Body"] and m.form["To"] == f"whatsapp:{CITIZEN}"
               for m in twilio.messages)
    view = sms_client.get(f"/api/v1/reports/{compact}").json()
    assert view["status"] == "Menunggu Verifikasi"
    assert [t["kind"] for t in view["timeline"]][-2:] == ["rated", "reopen"]


def test_a_neighbours_4_is_a_new_report(sms_kanal, sms_client, twilio):
    compact = finished(sms_kanal, sms_client, twilio, load("sms_happy.json"))
    sms(sms_client, "4", sender=NEIGHBOUR, n=3)
    drain(sms_kanal)
    first, second = reports(sms_kanal)
    assert first.tracking_id == compact and first.rating is None
    assert (second.channel, second.rating) == ("sms", None)
    with sms_kanal.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(outbox_t.c.kind).where(
            outbox_t.c.recipient == NEIGHBOUR))]
    assert kinds == ["ack"]

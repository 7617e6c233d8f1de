"""The Twilio webhook as an attacker sees it. Twilio signs the URL and the sorted parameter
names and values run together, so a captured delivery can be re-cut (a parameter moved
into the end of the one before it) and still verify. Such a body must never be taken as
a new message: no second report, no second acknowledgement."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from core.models import InboxItem, OutboxItem, Report
from tests.adapters.sms.conftest import AUTH_TOKEN, FORM, PUBLIC, drive, load, post, sign

URL = f"{PUBLIC}/webhooks/sms"
GENUINE = load("sms_happy.json")


def recut(params: dict[str, str], into: str) -> dict[str, str]:
    """``params`` with the parameter sorted right after ``into`` moved, name and value,
    into the end of ``into``'s value: the signed string is unchanged."""
    names = sorted(params)
    moved = names[names.index(into) + 1]
    out = dict(params)
    out[into] = params[into] + moved + out.pop(moved)
    return out


def counts(kanal) -> tuple[int, int, int]:
    with kanal.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(m.__table__)).scalar_one()
                     for m in (InboxItem, Report, OutboxItem))


def replay(client, params: dict[str, str], signature: str):
    return client.post("/webhooks/sms", content=urlencode(params).encode(),
                       headers={"Content-Type": FORM, "X-Twilio-Signature": signature})


def test_a_recut_body_still_verifies():
    """The premise: Twilio's own validator accepts the re-cut body."""
    forged = recut(GENUINE, "MessageSid")
    assert forged["MessageSid"] != GENUINE["MessageSid"]
    assert RequestValidator(AUTH_TOKEN).validate(URL, forged, sign(URL, GENUINE))


@pytest.mark.parametrize("into, error", [
    ("MessageSid", "malformed_payload"),
    ("AccountSid", "malformed_payload"),
], ids=["into_message_sid", "into_account_sid"])
def test_recut_id_is_refused(into, error, sms_client, sms_kanal, twilio, clock):
    assert post(sms_client, "sms", GENUINE).status_code == 200
    drive(sms_kanal.dispatcher.run_once, OutboxItem.__table__, clock)
    before, acks = counts(sms_kanal), len(twilio.messages)

    r = replay(sms_client, recut(GENUINE, into), sign(URL, GENUINE))

    assert r.status_code == 400, r.text
    assert r.json()["error"] == error and into in r.json()["reason"]
    drive(sms_kanal.dispatcher.run_once, OutboxItem.__table__, clock)
    assert counts(sms_kanal) == before == (1, 1, 1)
    assert len(twilio.messages) == acks == 1


@pytest.mark.parametrize("into", sorted(GENUINE)[:-1])
def test_no_recut_opens_a_second_report(into, sms_client, sms_kanal, twilio, clock):
    """Whatever parameter is re-cut, the delivery is one report with one answer."""
    assert post(sms_client, "sms", GENUINE).status_code == 200
    r = replay(sms_client, recut(GENUINE, into), sign(URL, GENUINE))
    assert r.status_code in (200, 400, 403), r.text
    drive(sms_kanal.dispatcher.run_once, OutboxItem.__table__, clock)
    inbox, reports, outbox = counts(sms_kanal)
    assert (reports, outbox, len(twilio.messages)) == (1, 1, 1)
    assert inbox == 1


def test_a_repeated_message_sid_is_refused(sms_client, sms_kanal):
    params = list(GENUINE.items()) + [("MessageSid", "SM" + "0" * 32)]
    r = sms_client.post("/webhooks/sms", content=urlencode(params).encode(), headers={
        "Content-Type": FORM,
        "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(
            URL, _Multi(params))})
    assert r.status_code == 400 and "MessageSid" in r.json()["reason"], r.text
    assert counts(sms_kanal)[0] == 0


class _Multi(dict):
    """Parameters signed the way Twilio signs a repeated one: every value."""

    def __init__(self, pairs):
        super().__init__()
        for key, value in pairs:
            self.setdefault(key, []).append(value)

    def getall(self, key):
        return self[key]

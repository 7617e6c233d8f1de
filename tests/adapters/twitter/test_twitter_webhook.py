"""Webhook mode (Account Activity API): CRC, signatures that fail closed, and events under
the poller's external ids, so the webhook and the poller never double a report."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.models import InboxItem, Report
from gateway.app import create_app
from tests.adapters.twitter.conftest import CHANNEL, TESTDATA, bundle, count

SECRET = "cs-test"  # KANAL_TWITTER_CONSUMER_SECRET of x_env
URL = f"/webhooks/{CHANNEL}"


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256)
                                        .digest()).decode()


@pytest.fixture
def x_client(x_kanal):
    kanal = x_kanal()
    with TestClient(create_app(kanal=kanal)) as client:
        yield kanal, client


def test_crc_answers_the_hmac_of_the_token(x_client):
    kanal, client = x_client
    r = client.get(URL, params={"crc_token": "challenge-123"})
    assert r.status_code == 200
    assert r.json() == {"response_token": _sign(b"challenge-123")}


def test_crc_without_a_token_is_refused(x_client):
    r = x_client[1].get(URL)
    assert r.status_code == 400 and r.json()["error"] == "missing_crc_token"


MENTION = (TESTDATA / "webhook_mention.json").read_bytes()
CASES = [
    # label, body, signature, status, reports, inbox rows
    ("happy_mention", MENTION, _sign(MENTION), 200, 1, 1),
    ("bad_signature", MENTION, _sign(MENTION, "wrong"), 403, 0, 0),
    ("missing_signature", MENTION, None, 403, 0, 0),
    ("malformed", b"{not json", _sign(b"{not json"), 400, 0, 0),
    ("unknown_account", MENTION.replace(b'"for_user_id": "1700000000000000001"',
                                        b'"for_user_id": "42"'), "resign", 200, 0, 0),
    ("direct_message", (TESTDATA / "webhook_dm.json").read_bytes(), "resign", 200, 1, 1),
]


@pytest.mark.parametrize("label,body,sig,status,reports,rows", CASES,
                         ids=[c[0] for c in CASES])
def test_webhook_events(x_client, label, body, sig, status, reports, rows):
    kanal, client = x_client
    headers = {"Content-Type": "application/json"}
    if sig:
        headers["x-twitter-webhooks-signature"] = _sign(body) if sig == "resign" else sig
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert count(kanal, Report) == reports and count(kanal, InboxItem) == rows
    if label == "direct_message":
        with kanal.engine.connect() as conn:
            item = conn.execute(select(InboxItem.__table__)).one()
        assert (item.status, item.external_id) == ("processed", "dm:1900000000000000901")


def test_redelivery_and_the_poller_seeing_the_same_mention_create_nothing_new(
        x_client, fake_x):
    kanal, client = x_client
    headers = {"x-twitter-webhooks-signature": _sign(MENTION)}
    for _ in range(2):
        assert client.post(URL, content=MENTION, headers=headers).status_code == 200
    fake_x.add(bundle("happy_mention.json"))
    assert kanal.poll_channel(CHANNEL) == 1  # read, and recognised as a duplicate
    assert count(kanal, Report) == 1 and count(kanal, InboxItem) == 1
    with kanal.engine.connect() as conn:
        (external_id,) = conn.execute(select(InboxItem.__table__.c.external_id)).scalars()
    assert external_id == json.loads(MENTION)["tweet_create_events"][0]["id_str"]

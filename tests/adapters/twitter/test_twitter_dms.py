"""Direct messages: read with the account's user context, answered by DM, and, where the
app's X access tier refuses them, said on the channel's health while mentions go on."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.health import get_cursor
from core.models import InboxItem, Report
from tests.adapters.twitter.conftest import CHANNEL, bundle, count, drain, health
from tests.adapters.twitter.fake_x import ACCOUNT_ID

CITIZEN = "2244994948"


def _dm(event_id: str, sender: str = CITIZEN, text: str = "Selokan mampet di RT 05") -> dict:
    return {"id": event_id, "event_type": "MessageCreate", "text": text, "sender_id": sender,
            "created_at": "2026-01-02T00:59:00.000Z",
            "dm_conversation_id": f"{sender}-{ACCOUNT_ID}"}


def test_a_dm_becomes_a_report_answered_by_dm(x_kanal, fake_x):
    kanal = x_kanal()
    fake_x.includes["users"].append({"id": CITIZEN, "name": "Dewi", "username": "dewi"})
    old = _dm("1800000000000000900", text="lama")
    old["created_at"] = "2025-11-20T00:00:00.000Z"  # before the first poll's day
    fake_x.dm_events += [old, _dm("1900000000000000901"),
                         _dm("1900000000000000902", sender=ACCOUNT_ID, text="kami")]
    assert kanal.poll_channel(CHANNEL) == 2
    drain(kanal)
    assert count(kanal, Report) == 1  # our own DM is not a complaint
    (sent,) = fake_x.dms_sent
    assert sent["to"] == CITIZEN and "Dewi" not in sent["text"]
    assert fake_x.posted == []  # no public tweet for a DM
    with kanal.engine.connect() as conn:
        cursor = json.loads(get_cursor(conn, CHANNEL))
    assert cursor == {"mentions": None, "dms": "1900000000000000902"}
    fake_x.dm_events.append(_dm("1900000000000000903", text="STATUS"))
    assert kanal.poll_channel(CHANNEL) == 1  # only the new one
    assert count(kanal, InboxItem) == 3


def test_without_dms_in_the_tier_health_says_so_and_mentions_go_on(x_kanal, fake_x):
    from gateway.scheduler import poll_job

    kanal = x_kanal()
    fake_x.dm_status = 403
    fake_x.add(bundle("happy_mention.json"))
    poll_job(kanal, CHANNEL)
    assert count(kanal, Report) == 1
    row = health(kanal)
    assert row.health == "degraded"
    assert row.last_error.startswith("direct messages: not allowed")


def test_a_dm_seen_by_the_webhook_and_the_poller_is_one_report(x_kanal, fake_x):
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from tests.adapters.twitter.conftest import TESTDATA
    from tests.adapters.twitter.test_twitter_webhook import _sign

    kanal = x_kanal()
    body = (TESTDATA / "webhook_dm.json").read_bytes()
    with TestClient(create_app(kanal=kanal)) as client:
        r = client.post(f"/webhooks/{CHANNEL}", content=body,
                        headers={"x-twitter-webhooks-signature": _sign(body)})
    assert r.status_code == 200
    fake_x.dm_events.append(_dm("1900000000000000901", sender="2244994945"))
    kanal.poll_channel(CHANNEL)
    assert count(kanal, Report) == 1 and count(kanal, InboxItem) == 1
    with kanal.engine.connect() as conn:
        assert conn.execute(select(InboxItem.__table__.c.external_id)).scalar() == \
            "dm:1900000000000000901"

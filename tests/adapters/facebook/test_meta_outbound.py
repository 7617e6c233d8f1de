"""Replies through the outbox when the Graph API fails: an outage, the 24-hour window,
rate limits and a lapsed token."""

from __future__ import annotations

from sqlalchemy import select

from core.models import OutboxItem
from tests.adapters.facebook.conftest import payload, sign

outbox_t = OutboxItem.__table__


def deliver(client, name: str, url: str = "/webhooks/facebook-pemprov") -> None:
    body = payload(name)
    r = client.post(url, content=body, headers={"X-Hub-Signature-256": sign(body),
                                                "Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def outbox(kanal) -> list:
    with kanal.engine.connect() as conn:
        return conn.execute(select(outbox_t.c.status, outbox_t.c.attempts,
                                   outbox_t.c.last_error).order_by(outbox_t.c.id)).all()


def test_graph_down_for_a_while_then_each_reply_goes_out_once(meta_kanal, meta_client,
                                                              graph, clock):
    graph.down = True
    deliver(meta_client, "batch_three.json")
    deliver(meta_client, "feed_comment.json")
    assert meta_kanal.dispatcher.run_once() == 4
    for _ in range(3):  # an hour of outage: retried with back-off, never given up
        clock.advance(1200)
        meta_kanal.dispatcher.run_once()
    assert {row.status for row in outbox(meta_kanal)} == {"pending"}
    assert graph.messages == [] and graph.comments == []

    graph.down = False
    clock.advance(7200)
    assert meta_kanal.dispatcher.run_once() == 4
    clock.advance(7200)
    assert meta_kanal.dispatcher.run_once() == 0
    assert [row.status for row in outbox(meta_kanal)] == ["sent"] * 4
    recipients = [next(iter(m["recipient"].values())) for m in graph.messages]
    assert sorted(recipients) == sorted(["7100000000000011", "7100000000000012",
                                         "7100000000000013", "555_9001"])
    assert len(graph.comments) == 1


def test_outside_the_24_hour_window_is_dead_at_once(meta_kanal, meta_client, graph, clock):
    graph.fail("messages", 400, 10, "(#10) This message is sent outside of allowed window.",
               subcode=2018278)
    deliver(meta_client, "messenger_text.json")
    assert meta_kanal.dispatcher.run_once() == 1
    clock.advance(86400)
    assert meta_kanal.dispatcher.run_once() == 0
    [row] = outbox(meta_kanal)
    assert row.status == "dead" and row.attempts == 1
    assert "24-hour" in row.last_error and graph.messages == []


def test_rate_limited_waits_and_retries(meta_kanal, meta_client, graph, clock):
    graph.fail("messages", 400, 613, "Calls to this api have exceeded the rate limit.")
    deliver(meta_client, "messenger_text.json")
    assert meta_kanal.dispatcher.run_once() == 1
    clock.advance(30)
    assert meta_kanal.dispatcher.run_once() == 0
    clock.advance(31)
    assert meta_kanal.dispatcher.run_once() == 1
    assert [row.status for row in outbox(meta_kanal)] == ["sent"] and len(graph.messages) == 1


def test_expired_token_is_retried_not_given_up(meta_kanal, meta_client, graph, clock):
    graph.fail("messages", 400, 190, "Error validating access token: Session has expired",
               subcode=463)
    deliver(meta_client, "messenger_text.json")
    meta_kanal.dispatcher.run_once()
    [row] = outbox(meta_kanal)
    assert row.status == "pending" and "190" in row.last_error
    clock.advance(3600)
    assert meta_kanal.dispatcher.run_once() == 1 and len(graph.messages) == 1


def test_public_reply_failing_does_not_repeat_the_private_reply(meta_kanal, meta_client,
                                                                graph, clock):
    graph.fail("comments", 500, 1, "An unknown error occurred")
    deliver(meta_client, "feed_comment.json")
    assert meta_kanal.dispatcher.run_once() == 1
    clock.advance(7200)
    assert meta_kanal.dispatcher.run_once() == 0
    assert [row.status for row in outbox(meta_kanal)] == ["sent"]
    assert len(graph.messages) == 1 and graph.comments == []

"""The page token on the channel's health: debug_token through the poller."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.models import ChannelState
from gateway.scheduler import poll_job

state_t = ChannelState.__table__


def health(kanal, channel: str):
    with kanal.engine.connect() as conn:
        return conn.execute(select(state_t.c.health, state_t.c.last_error)
                            .where(state_t.c.channel == channel)).first()


def test_valid_token_is_ok(meta_kanal, graph):
    poll_job(meta_kanal, "facebook-pemprov")
    assert health(meta_kanal, "facebook-pemprov").health == "ok"
    assert "GET /v25.0/debug_token" in graph.calls


def test_revoked_token_shows_on_health(meta_kanal, graph):
    graph.tokens["EAAp"] = {"is_valid": False, "error": {
        "code": 190, "message": "Error validating access token: The user has not authorized "
                                "application 1517776481860111."}}
    poll_job(meta_kanal, "facebook-pemprov")
    row = health(meta_kanal, "facebook-pemprov")
    assert row.health == "failing" and "not valid" in row.last_error and "190" in row.last_error
    poll_job(meta_kanal, "facebook-gubernur")  # the other page's own token is fine
    assert health(meta_kanal, "facebook-gubernur").health == "ok"


def test_expiry_within_a_week_warns(meta_kanal, graph, clock):
    soon = clock() + timedelta(days=5)
    graph.tokens["IGAg"] = {"is_valid": True, "expires_at": int(soon.timestamp())}
    poll_job(meta_kanal, "instagram-gubernur")
    row = health(meta_kanal, "instagram-gubernur")
    assert row.health == "failing"
    assert f"expires {soon:%Y-%m-%d}" in row.last_error and "in 5 days" in row.last_error


def test_expiry_further_off_is_ok(meta_kanal, graph, clock):
    later = clock() + timedelta(days=40)
    graph.tokens["EAAp"] = {"is_valid": True, "expires_at": int(later.timestamp())}
    poll_job(meta_kanal, "facebook-pemprov")
    assert health(meta_kanal, "facebook-pemprov").health == "ok"

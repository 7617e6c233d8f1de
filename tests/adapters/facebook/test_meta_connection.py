"""``test_connection`` of the Meta channels against the local Graph API (debug_token), and
the token's expiry the daily check records on the channel's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.models import ChannelState
from gateway.scheduler import poll_job
from tests.helpers import assert_no_secret, closed_port, variant

state_t = ChannelState.__table__
PAGE_SCOPES = ["pages_messaging", "pages_manage_engagement", "pages_read_engagement"]
IG_SCOPES = ["instagram_basic", "instagram_manage_messages", "instagram_manage_comments"]


@dataclass
class Case:
    label: str
    channel: str = "facebook-pemprov"
    token: dict | None = None  # debug_token's data for the channel's token (None: default)
    expires_in: timedelta | None = None  # expires_at, from the clock
    down: bool = False  # the Graph API answers 503
    fail: tuple[int, int, str] | None = None  # debug_token's next answer: an error
    closed: bool = False
    checks: tuple[tuple[str, bool, str], ...] = ()
    expires: bool = False  # ConnectionTest.expires_at is set


SCOPES_OK = ("permissions", True, "pages_messaging")
CASES = [
    Case("accepted_never_expires", checks=(("page token", True, "does not expire"), SCOPES_OK)),
    Case("accepted_expires_later", expires_in=timedelta(days=40), expires=True,
         checks=(("page token", True, "expires 2027-01-10 UTC"), SCOPES_OK)),
    Case("instagram_accepted", "instagram-gubernur",
         token={"type": "PAGE", "is_valid": True, "expires_at": 0, "scopes": IG_SCOPES},
         checks=(("page token", True, ""), ("permissions", True, "instagram_manage_messages"))),
    Case("expires_within_a_week", expires_in=timedelta(days=5), expires=True,
         checks=(("page token", False, "(in 5 days): renew it"), SCOPES_OK)),
    Case("refused_token", token={"is_valid": False, "error": {
        "code": 190, "message": "Error validating access token: The session was invalidated"}},
         checks=(("page token", False, "not valid: Error validating access token"),)),
    Case("user_token_not_page_token",
         token={"type": "USER", "is_valid": True, "expires_at": 0, "scopes": PAGE_SCOPES},
         checks=(("page token", False, "a user token, not a page token"), SCOPES_OK)),
    Case("missing_permission", token={"type": "PAGE", "is_valid": True, "expires_at": 0,
                                      "scopes": ["pages_messaging"]},
         checks=(("page token", True, ""),
                 ("permissions", False, "lacks pages_manage_engagement"))),
    Case("graph_down", down=True,
         checks=(("page token", False, "Graph API is failing (Graph 503 error 2"),)),
    Case("token_refused_by_graph", fail=(400, 190, "Error validating access token"),
         checks=(("page token", False, "Meta refused the page token (Graph 400 error 190"),)),
    Case("unreachable", closed=True,
         checks=(("page token", False, "cannot reach the Graph API at http://127.0.0.1:"),)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_connection(case: Case, meta_kanal, graph, clock):
    adapter = meta_kanal.adapters[case.channel]
    token = adapter.settings.page_access_token
    data = dict(case.token or {"type": "PAGE", "is_valid": True, "expires_at": 0,
                               "scopes": PAGE_SCOPES})
    if case.expires_in is not None:
        data["expires_at"] = int((clock() + case.expires_in).timestamp())
    graph.tokens[token] = data
    graph.down = case.down
    if case.fail:
        graph.fail("debug_token", *case.fail)
    changes = {"graph_base": f"http://127.0.0.1:{closed_port()}"} if case.closed else {}
    result = variant(adapter, **changes).test_connection()
    assert [(c.name, c.ok) for c in result.checks] == [(n, ok) for n, ok, _ in case.checks], \
        result.as_dict()
    for check, (_, _, words) in zip(result.checks, case.checks):
        assert words in check.detail, check.detail
    assert (result.expires_at is not None) == case.expires
    if case.expires:
        assert result.expires_at == datetime.fromtimestamp(data["expires_at"], UTC)
        assert result.as_dict()["expires_at"] == result.expires_at.isoformat()
    assert_no_secret(result, token, adapter.settings.app_secret)


def expiry(kanal, channel: str):
    with kanal.engine.connect() as conn:
        value = conn.execute(select(state_t.c.credential_expires_at)
                             .where(state_t.c.channel == channel)).scalar()
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def test_daily_check_records_the_expiry(meta_kanal, graph, clock):
    """The poller's debug_token keeps channel_state.credential_expires_at: set from
    expires_at, kept when the expiry is near (health fails then), cleared when the new
    token never expires, untouched by an invalid token."""
    soon = (clock() + timedelta(days=5)).replace(microsecond=0)
    later = (clock() + timedelta(days=40)).replace(microsecond=0)
    graph.tokens["EAAp"] = {"is_valid": True, "expires_at": int(later.timestamp())}
    poll_job(meta_kanal, "facebook-pemprov")
    assert expiry(meta_kanal, "facebook-pemprov") == later
    graph.tokens["EAAp"] = {"is_valid": True, "expires_at": int(soon.timestamp())}
    poll_job(meta_kanal, "facebook-pemprov")
    assert expiry(meta_kanal, "facebook-pemprov") == soon
    graph.tokens["EAAp"] = {"is_valid": False, "error": {"code": 190, "message": "revoked"}}
    poll_job(meta_kanal, "facebook-pemprov")
    assert expiry(meta_kanal, "facebook-pemprov") == soon
    graph.tokens["EAAp"] = {"is_valid": True, "expires_at": 0}
    poll_job(meta_kanal, "facebook-pemprov")
    assert expiry(meta_kanal, "facebook-pemprov") is None
    poll_job(meta_kanal, "facebook-gubernur")
    assert expiry(meta_kanal, "facebook-gubernur") is None

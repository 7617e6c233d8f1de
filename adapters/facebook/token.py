"""The page token's health: ``debug_token`` at start and daily, through the poller, and
in the connection test (https://developers.facebook.com/docs/graph-api/reference/debug_token)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from adapters.facebook.outbound import Graph, GraphError

WARN_BEFORE = timedelta(days=7)


class TokenProblem(Exception):
    """The token is invalid, or expires within a week: the poller marks the channel's
    health failing with this text."""


@dataclass(slots=True)
class TokenInfo:
    """What debug_token says of the page token."""

    valid: bool
    # why it is not valid, from Meta's error
    error: str = ""
    # None: it does not expire (debug_token's expires_at 0)
    expires_at: datetime | None = None
    scopes: list[str] = field(default_factory=list)
    type: str | None = None  # PAGE, USER, APP


def read_token(graph: Graph) -> TokenInfo:
    """debug_token of the channel's page token; raises TokenProblem when Meta answers
    with an error, and httpx's errors when it cannot be reached."""
    token = graph.settings.page_access_token
    try:
        data = graph.call("GET", "/debug_token", params={"input_token": token}).get("data")
    except GraphError as exc:
        raise TokenProblem(f"debug_token failed: {exc}") from exc
    if not isinstance(data, dict):
        raise TokenProblem("debug_token gave no data")
    error = data.get("error") or {}
    expires = data.get("expires_at")
    scopes = data.get("scopes")
    return TokenInfo(
        valid=bool(data.get("is_valid")),
        error=(f"{error.get('message') or 'no reason'}"
               + (f" (code {error['code']})" if error.get("code") else "")),
        expires_at=(datetime.fromtimestamp(expires, UTC)
                    if isinstance(expires, int) and expires > 0 else None),
        scopes=[s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else [],
        type=data.get("type") if isinstance(data.get("type"), str) else None)


def judge(info: TokenInfo, now: datetime) -> datetime | None:
    """The token's expiry (None: it does not expire); raises TokenProblem when it is not
    valid or expires within ``WARN_BEFORE``."""
    if not info.valid:
        raise TokenProblem(f"page token is not valid: {info.error}")
    when = info.expires_at
    if when is not None and when - now <= WARN_BEFORE:
        left = max(0, (when - now).days)
        raise TokenProblem(f"page token expires {when:%Y-%m-%d %H:%M} UTC (in {left} days): "
                           "renew it in Meta's Business settings")
    return when

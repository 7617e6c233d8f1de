"""The page token's health: ``debug_token`` at start and daily, through the poller
(https://developers.facebook.com/docs/graph-api/reference/debug_token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.facebook.outbound import Graph, GraphError

WARN_BEFORE = timedelta(days=7)


class TokenProblem(Exception):
    """The token is invalid, or expires within a week: the poller marks the channel's
    health failing with this text."""


def check_token(graph: Graph, now: datetime) -> datetime | None:
    """The token's expiry (None: it does not expire); raises TokenProblem."""
    token = graph.settings.page_access_token
    try:
        data = graph.call("GET", "/debug_token", params={"input_token": token}).get("data")
    except GraphError as exc:
        raise TokenProblem(f"debug_token failed: {exc}") from exc
    if not isinstance(data, dict):
        raise TokenProblem("debug_token gave no data")
    if not data.get("is_valid"):
        error = data.get("error") or {}
        raise TokenProblem(f"page token is not valid: {error.get('message') or 'no reason'}"
                           + (f" (code {error['code']})" if error.get("code") else ""))
    expires = data.get("expires_at")
    if not isinstance(expires, int) or expires <= 0:
        return None  # long-lived page tokens never expire
    when = datetime.fromtimestamp(expires, UTC)
    if when - now <= WARN_BEFORE:
        left = max(0, (when - now).days)
        raise TokenProblem(f"page token expires {when:%Y-%m-%d %H:%M} UTC (in {left} days): "
                           "renew it in Meta's Business settings")
    return when

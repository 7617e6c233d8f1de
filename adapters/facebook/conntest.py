"""The Meta channels' connection test: ``debug_token`` of the page token (the code the
poller's daily check runs), which must be valid, a page token, hold the permissions kanal
answers with, and not expire within a week. Its expiry becomes ``expires_at``."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from adapters.facebook.outbound import TOKEN, Graph, GraphError
from adapters.facebook.settings import MetaSettings
from adapters.facebook.token import TokenInfo, TokenProblem, judge, read_token
from core import connection
from core.adapter import Check, ConnectionTest

# https://developers.facebook.com/docs/permissions: the Send API and private replies, and
# public answers under comments
SCOPES = {"facebook": ("pages_messaging", "pages_manage_engagement"),
          "instagram": ("instagram_manage_messages", "instagram_manage_comments")}
RENEW = ("make a new page token for the page in Meta's Business settings (System users, "
         "Generate token) and set it as the channel's page_access_token")


def run(settings: MetaSettings, transport: httpx.BaseTransport | None = None,
        now: datetime | None = None) -> ConnectionTest:
    seconds = connection.timeout(settings.timeout_seconds)
    graph = Graph(settings.model_copy(update={"timeout_seconds": seconds}), transport)
    secrets = (settings.page_access_token, settings.app_secret, settings.verify_token)
    try:
        info = read_token(graph)
    except TokenProblem as exc:
        return _only(_refused(exc), secrets)
    except httpx.HTTPError as exc:
        return _only(connection.unreachable("the Graph API", settings.graph_base, exc,
                                            seconds), secrets)
    finally:
        graph.close()
    if not info.valid:
        return _only(f"the page token is not valid: {info.error}: {RENEW}", secrets)
    checks = [_token(info, now or datetime.now(UTC)), _scopes(info, settings.platform)]
    return ConnectionTest([Check(c.name, c.ok, connection.redact(c.detail, secrets))
                           for c in checks], expires_at=info.expires_at)


def _refused(exc: TokenProblem) -> str:
    error = exc.__cause__
    if isinstance(error, GraphError) and (error.status >= 500 or error.code in (1, 2)):
        return f"Meta's Graph API is failing ({error}): try again later"
    if isinstance(error, GraphError) and error.code in TOKEN:
        return f"Meta refused the page token ({error}): {RENEW}"
    return f"Meta refused the debug_token call ({exc}): check the channel's settings"


def _only(detail: str, secrets: tuple[str, ...]) -> ConnectionTest:
    return ConnectionTest([Check("page token", False, connection.redact(detail, secrets))])


def _token(info: TokenInfo, now: datetime) -> Check:
    if info.type and info.type != "PAGE":
        return Check("page token", False,
                     f"this is a {info.type.lower()} token, not a page token: replies need "
                     f"the page's own token; {RENEW}")
    try:
        expires = judge(info, now)
    except TokenProblem as exc:
        return Check("page token", False, str(exc))
    return Check("page token", True, "valid, " + (f"expires {expires:%Y-%m-%d} UTC"
                                                  if expires else "does not expire"))


def _scopes(info: TokenInfo, platform: str) -> Check:
    missing = [s for s in SCOPES[platform] if s not in info.scopes]
    if missing:
        return Check("permissions", False,
                     f"the token lacks {', '.join(missing)}: kanal cannot answer without; "
                     "grant it to the app when making the token")
    return Check("permissions", True, ", ".join(SCOPES[platform]))

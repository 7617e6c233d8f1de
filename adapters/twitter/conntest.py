"""The X channel's connection test: read the account with the bearer token
(``GET /2/users/{user_id}``, what the poller reads mentions with) and, when the OAuth 1.0a
keys are set, read it again in user context (``GET /2/users/me``, what replies are sent
with), which must be the same account."""

from __future__ import annotations

from typing import Any

import requests
import tweepy

from adapters.twitter.client import build_client
from adapters.twitter.settings import TwitterSettings
from core import connection
from core.adapter import Check, ConnectionTest

PORTAL = "the X developer portal (Projects & Apps, Keys and tokens)"
KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def run(settings: TwitterSettings) -> ConnectionTest:
    seconds = connection.timeout(settings.request_timeout_seconds)
    client = build_client(settings.model_copy(update={"request_timeout_seconds": seconds}))
    secrets = (settings.bearer_token, *(getattr(settings, k) for k in KEYS))
    try:
        checks = [_app(client, settings, seconds), _user(client, settings, seconds)]
    finally:
        client.session.close()
    return ConnectionTest([Check(c.name, c.ok, connection.redact(c.detail, secrets))
                           for c in checks])


def _app(client: tweepy.Client, s: TwitterSettings, seconds: float) -> Check:
    name = "bearer token"
    try:
        answer = client.get_user(id=s.user_id, user_auth=False)
    except Exception as exc:
        return Check(name, False, _failure(
            exc, s, seconds, refused="X refused the bearer token: make a new one in "
            f"{PORTAL} and set it as the channel's bearer_token"))
    user = _user_of(answer)
    if user is None:
        return Check(name, False, f"X knows no account with the id {s.user_id}: check "
                                  "user_id (the account's numeric id, not its @handle)")
    if s.account and user.get("username", "").lower() != s.account.lower():
        return Check(name, False, f"user_id {s.user_id} is @{user.get('username')}, not "
                                  f"@{s.account}: check user_id and account")
    return Check(name, True, f"reads @{user.get('username')} ({s.user_id})")


def _user(client: tweepy.Client, s: TwitterSettings, seconds: float) -> Check:
    name = "user context"
    given = [k for k in KEYS if getattr(s, k)]
    if not given:
        return Check(name, True, "the OAuth 1.0a keys are not set: mentions are read, but "
                                 "no reply is sent")
    if len(given) < len(KEYS):
        missing = ", ".join(k for k in KEYS if k not in given)
        return Check(name, False, f"{missing} not set: replies need all four OAuth 1.0a keys")
    try:
        answer = client.get_me(user_auth=True)
    except Exception as exc:
        return Check(name, False, _failure(
            exc, s, seconds, refused="X refused the OAuth 1.0a keys: regenerate the "
            f"consumer key and the account's access token and secret in {PORTAL}; no reply "
            "can be sent until then"))
    user = _user_of(answer) or {}
    if user.get("id") != s.user_id:
        return Check(name, False, f"the access token is @{user.get('username')}'s "
                                  f"({user.get('id')}), not the channel's account "
                                  f"({s.user_id}): make it while signed in as that account")
    return Check(name, True, f"replies go out as @{user.get('username')}")


def _user_of(answer: Any) -> dict | None:
    data = answer.get("data") if isinstance(answer, dict) else None
    return data if isinstance(data, dict) else None


def _failure(exc: Exception, s: TwitterSettings, seconds: float, *, refused: str) -> str:
    if isinstance(exc, tweepy.Unauthorized):
        return refused
    if isinstance(exc, tweepy.Forbidden):
        return (f"X does not let this app read the account (HTTP 403: {_said(exc)}): the app "
                f"must belong to a Project whose access tier allows it, see {PORTAL}")
    if isinstance(exc, tweepy.TooManyRequests):
        return "X's rate limit for this call is used up: try again in 15 minutes"
    if isinstance(exc, tweepy.HTTPException):
        status = exc.response.status_code if exc.response is not None else "?"
        return f"X answered HTTP {status}: {_said(exc)}; try again later"
    if isinstance(exc, requests.RequestException):
        return connection.unreachable("the X API", s.api_base, exc, seconds)
    return f"{type(exc).__name__}: {exc}"


def _said(exc: tweepy.HTTPException) -> str:
    return "; ".join(exc.api_messages) or "no detail"

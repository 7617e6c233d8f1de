"""The tweepy v2 client of one channel, with every request sent to ``api_base`` and
X's errors mapped to kanal's (rate limited, credentials rejected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

from adapters.twitter.settings import DEFAULT_API_BASE, TwitterSettings
from core.adapter import CredentialsRejected, RateLimited

# when X answers 429 without x-rate-limit-reset: its windows are 15 minutes
DEFAULT_WAIT = timedelta(minutes=15)


class _Redirect(HTTPAdapter):
    """tweepy hard-codes https://api.twitter.com: rewrite each request to ``base`` (a local
    stand-in in tests, a proxy in production) and bound how long it may take."""

    def __init__(self, base: str, timeout: float):
        super().__init__()
        self.base = urlsplit(base)
        self.timeout = timeout

    def send(self, request, **kw):
        if self.base.netloc != urlsplit(DEFAULT_API_BASE).netloc:
            url = urlsplit(request.url)
            path = self.base.path.rstrip("/") + url.path
            request.url = urlunsplit((self.base.scheme, self.base.netloc, path, url.query, ""))
        if kw.get("timeout") is None:
            kw["timeout"] = self.timeout
        return super().send(request, **kw)


def build_client(s: TwitterSettings) -> tweepy.Client:
    client = tweepy.Client(
        bearer_token=s.bearer_token, consumer_key=s.consumer_key,
        consumer_secret=s.consumer_secret, access_token=s.access_token,
        access_token_secret=s.access_token_secret, return_type=dict,
        wait_on_rate_limit=False)
    client.session.mount("https://api.twitter.com/", _Redirect(s.api_base,
                                                               s.request_timeout_seconds))
    return client


def reset_time(exc: tweepy.TooManyRequests, now: datetime) -> datetime:
    """When a 429 ends: X sends ``x-rate-limit-reset`` (epoch seconds), no Retry-After
    (https://docs.x.com/x-api/fundamentals/rate-limits)."""
    raw = exc.response.headers.get("x-rate-limit-reset") if exc.response is not None else None
    try:
        until = datetime.fromtimestamp(int(raw), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now + DEFAULT_WAIT
    # a clock skewed against X's, or a reset long past: wait at least a little
    return max(until, now + timedelta(seconds=1))


def mapped(exc: Exception, now: datetime) -> Exception:
    """kanal's exception for a tweepy one (or ``exc`` itself)."""
    if isinstance(exc, tweepy.TooManyRequests):
        return RateLimited(reset_time(exc, now), f"X rate limit: {exc}")
    if isinstance(exc, (tweepy.Unauthorized, tweepy.Forbidden)):
        status = exc.response.status_code if exc.response is not None else "?"
        return CredentialsRejected(f"X refused the credentials (HTTP {status}): {exc}")
    if isinstance(exc, requests.RequestException):
        return ConnectionError(f"X API unreachable: {type(exc).__name__}: {exc}")
    return exc

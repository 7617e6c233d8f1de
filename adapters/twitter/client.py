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
        # endpoint path -> (x-rate-limit-remaining, x-rate-limit-reset) of its last answer
        # (tweepy's dict answers drop the headers)
        self.limits: dict[str, tuple[int, datetime]] = {}

    def send(self, request, **kw):
        if self.base.netloc != urlsplit(DEFAULT_API_BASE).netloc:
            url = urlsplit(request.url)
            path = self.base.path.rstrip("/") + url.path
            request.url = urlunsplit((self.base.scheme, self.base.netloc, path, url.query, ""))
        if kw.get("timeout") is None:
            kw["timeout"] = self.timeout
        response = super().send(request, **kw)
        self._remember(response)
        return response

    def _remember(self, response) -> None:
        remaining = response.headers.get("x-rate-limit-remaining")
        reset = response.headers.get("x-rate-limit-reset")
        try:
            self.limits[urlsplit(response.url).path] = (
                int(remaining), datetime.fromtimestamp(int(reset), UTC))
        except (TypeError, ValueError, OverflowError, OSError):
            pass

    def exhausted(self, path_suffix: str, now: datetime) -> datetime | None:
        """When the window of an endpoint (its path ends with ``path_suffix``) opens again,
        if its last answer said no request is left in it."""
        for path, (remaining, reset) in self.limits.items():
            if path.endswith(path_suffix) and remaining <= 0 and reset > now:
                return reset
        return None


def build_client(s: TwitterSettings) -> tweepy.Client:
    client = tweepy.Client(
        bearer_token=s.bearer_token, consumer_key=s.consumer_key,
        consumer_secret=s.consumer_secret, access_token=s.access_token,
        access_token_secret=s.access_token_secret, return_type=dict,
        wait_on_rate_limit=False)
    client.session.mount("https://api.twitter.com/", _Redirect(s.api_base,
                                                               s.request_timeout_seconds))
    return client


def exhausted(client: tweepy.Client, path_suffix: str, now: datetime) -> datetime | None:
    """See ``_Redirect.exhausted``: X's ``x-rate-limit-remaining`` as last seen."""
    return client.session.get_adapter("https://api.twitter.com/").exhausted(path_suffix, now)


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

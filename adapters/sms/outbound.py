"""Sending through Twilio's Messages API with the real ``twilio.rest.Client``."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from adapters.sms.settings import SmsSettings
from core.adapter import PermanentSendError, RetryLater
from core.canonical import OutboundMessage, SendResult

DEFAULT_RETRY_AFTER = 30.0


class ThreadSafeHttpClient(TwilioHttpClient):
    """TwilioHttpClient keeping each thread's last response, whose headers a
    ``TwilioRestException`` does not carry (Retry-After)."""

    def __init__(self, timeout: float):
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args, **kwargs) -> Response:
        self._local.response = None
        response = super().request(*args, **kwargs)
        self._local.response = response
        return response

    def last_headers(self) -> Mapping[str, str]:
        response = getattr(self._local, "response", None)
        return (response.headers or {}) if response is not None else {}


def build_client(settings: SmsSettings, http_client: HttpClient | None = None) -> Client:
    client = Client(settings.account_sid, settings.auth_token,
                    http_client=http_client or ThreadSafeHttpClient(settings.timeout_seconds))
    # FACTS.md: the REST domain can be pointed elsewhere (a regional edge, the test server)
    client.api.base_url = settings.api_base
    return client


def recipient(settings: SmsSettings, handle: str) -> str:
    """Reporters are stored as E.164 (or a WhatsApp user id); a WhatsApp channel answers
    ``whatsapp:<handle>``. An address already on WhatsApp stays as it is."""
    if settings.whatsapp and not handle.startswith("whatsapp:"):
        return "whatsapp:" + handle
    return handle


def send_message(client: Client, message: OutboundMessage, *, to: str, from_: str,
                 status_callback: str | None) -> SendResult:
    try:
        sent = client.messages.create(to=to, from_=from_, body=message.text,
                                      status_callback=status_callback)
    except TwilioRestException as exc:
        raise classify(exc, client.http_client) from exc
    return SendResult(provider_message_id=sent.sid)


def classify(exc: TwilioRestException, http_client: HttpClient) -> Exception:
    """429 -> wait as told; other 4xx (21211 invalid number, ...) -> give up; 5xx -> retry."""
    detail = f"Twilio {exc.status}" + (f" error {exc.code}" if exc.code else "")
    detail += f": {exc.msg}"
    if exc.status == 429:
        headers = (http_client.last_headers() if isinstance(http_client, ThreadSafeHttpClient)
                   else {})
        return RetryLater(retry_after(headers.get("Retry-After")))
    if 400 <= exc.status < 500:
        return PermanentSendError(detail)
    return RuntimeError(detail)


def retry_after(value: str | None, now: datetime | None = None) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())

"""The JAKI status callback: news of a report (a status change, an officer's note)
POSTed as JSON to the app's ``status_callback_url``, signed, through the outbox.

The body is written once, when the notice is queued (``core.notify.callback_body``), so
every retry sends the same bytes under the same signature; ``X-Kanal-Delivery`` (the
outbox item id) lets the app drop a delivery it already has (a retry after a lost answer).
"""

from __future__ import annotations

import hashlib
import hmac

import httpx

from core.adapter import CredentialsRejected, PermanentSendError, RetryLater
from core.canonical import OutboundMessage, SendResult

SIGNATURE = "X-Kanal-Signature"
DELIVERY = "X-Kanal-Delivery"
DEFAULT_RETRY_AFTER = 30.0


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client: httpx.Client, url: str, secret: str, message: OutboundMessage) -> SendResult:
    """2xx: delivered. 429: wait as told. 401/403: the secret is refused (retried, the
    channel's health says so). Other 4xx: the app refuses this delivery for good. 5xx and
    network errors: retried."""
    body = message.text.encode()
    response = client.post(url, content=body, headers={
        "Content-Type": "application/json", SIGNATURE: signature(secret, body),
        DELIVERY: str(message.outbox_id), "User-Agent": "kanal-status-callback"})
    status = response.status_code
    if 200 <= status < 300:
        return SendResult(provider_message_id=f"callback:{message.outbox_id}")
    detail = f"status callback answered {status}: {response.text[:200]}".rstrip(": ")
    if status == 429:
        raise RetryLater(_seconds(response.headers.get("Retry-After")), detail)
    if status in (401, 403):
        raise CredentialsRejected(detail)
    if 400 <= status < 500 and status != 408:
        raise PermanentSendError(detail)
    raise RuntimeError(detail)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER

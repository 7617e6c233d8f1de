"""``POST /webhooks/{channel}`` for Twilio: the signature, then the inbox (messages) or the
outbound message's delivery record (status callbacks)."""

from __future__ import annotations

import hmac

import ipaddress
import logging
from typing import TYPE_CHECKING

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from adapters.sms.payloads import (
    FORM, MalformedForm, TwilioMessage, TwilioStatus, is_status_callback, parse_form, repeated,
)
from core.adapter import Envelope
from core.errors import ApiError

if TYPE_CHECKING:
    from adapters.sms.plugin import SmsAdapter

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "x-twilio-signature"
EMPTY_TWIML = str(MessagingResponse())


def is_trusted(client_host: str | None, trusted: str) -> bool:
    """Whether a peer address is one of the configured proxies (addresses, networks, *)."""
    if not client_host:
        return False
    for item in (part.strip() for part in trusted.split(",")):
        if not item:
            continue
        if item == "*" or item == client_host:
            return True
        try:
            if ipaddress.ip_address(client_host) in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def public_url(request: Request, public_base_url: str, trusted_proxies: str) -> str:
    """The URL Twilio called: the configured public base, else the request's own URL with
    X-Forwarded-Proto/Host honoured from trusted proxies only."""
    query = f"?{request.url.query}" if request.url.query else ""
    if public_base_url:
        return public_base_url.rstrip("/") + request.url.path + query
    scheme = request.url.scheme
    host = request.headers.get("host") or request.url.netloc
    if is_trusted(request.client.host if request.client else None, trusted_proxies):
        # the proxy closest to us appends last
        if forwarded := request.headers.get("x-forwarded-proto"):
            scheme = forwarded.split(",")[-1].strip() or scheme
        if forwarded := request.headers.get("x-forwarded-host"):
            host = forwarded.split(",")[-1].strip() or host
    return f"{scheme}://{host}{request.url.path}{query}"


def check_signature(adapter: SmsAdapter, request: Request, params) -> None:
    settings = adapter.runtime.settings
    url = public_url(request, settings.public_base_url, settings.trusted_proxies)
    signature = request.headers.get(SIGNATURE_HEADER)
    validator = RequestValidator(adapter.settings.auth_token)
    if not signature:
        error = ApiError(403, "missing_signature", "the X-Twilio-Signature header is missing")
    elif _matches(validator, url, params, signature):
        return
    else:
        error = ApiError(403, "bad_signature",
                         "X-Twilio-Signature does not match the request to " + url)
    if adapter.settings.shadow:
        log.warning("channel %s (shadow mode) accepts a request it would reject: %s: %s",
                    adapter.channel_id, error.error, error.reason)
        return
    raise error


def _matches(validator: RequestValidator, url: str, params, signature: str) -> bool:
    """Twilio's own check. The common case, the URL exactly as configured, costs one
    HMAC over a plain dict; ``validate`` (which also tries the URL with and without its
    port) only runs when that does not match."""
    grouped = _Grouped()
    for key, value in params.multi_items():
        grouped.setdefault(key, []).append(value)
    if hmac.compare_digest(validator.compute_signature(url, grouped), signature):
        return True
    return validator.validate(url, params, signature)


class _Grouped(dict):
    """Form parameters by name, all values kept, read the way the validator reads them."""

    def getall(self, key: str) -> list[str]:
        return self[key]


def read(params) -> TwilioStatus | TwilioMessage:
    """The webhook's parameters, their ids shape-checked (a signed body can be re-cut);
    a 400 naming the first problem."""
    if twice := repeated(params):
        raise ApiError(400, "malformed_payload", f"{twice[0]}: given more than once")
    try:
        return (TwilioStatus.model_validate(dict(params)) if is_status_callback(params)
                else TwilioMessage.from_params(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(400, "malformed_payload", f"{where}: {first['msg']}")


async def handle(adapter: SmsAdapter, request: Request) -> Response | None:
    if request.method != "POST":
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise ApiError(415, "unsupported_media_type", f"Twilio webhooks are sent as {FORM}")
    body = await request.body()
    try:
        params = parse_form(body)
    except MalformedForm as exc:
        raise ApiError(400, "malformed_payload", str(exc))
    check_signature(adapter, request, params)
    parsed = read(params)
    if parsed.AccountSid.lower() != adapter.settings.account_sid.lower():
        raise ApiError(403, "wrong_account",
                       "AccountSid is not the Twilio account of this channel")
    if isinstance(parsed, TwilioStatus):
        await run_in_threadpool(adapter.record_status, parsed)
        return Response(status_code=204)
    await adapter.runtime.ingest(Envelope(adapter.channel_id, parsed.MessageSid, body, FORM))
    # the acknowledgement goes out through the outbox and the REST API, not in TwiML
    return Response(EMPTY_TWIML, media_type="application/xml")

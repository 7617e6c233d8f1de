"""The Twilio channel's connection test: fetch the account with the channel's Account SID
and auth token (``GET /2010-04-01/Accounts/{sid}.json``), then, for an SMS number, look it
up among the account's incoming numbers."""

from __future__ import annotations

from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient

from adapters.sms.outbound import ThreadSafeHttpClient, build_client
from adapters.sms.settings import SmsSettings
from core import connection
from core.adapter import Check, ConnectionTest

REFUSED = ("Twilio refused the Account SID / auth token: copy them again from the Twilio "
           "console (Account Info on the dashboard)")


def run(settings: SmsSettings, http_client: HttpClient | None = None) -> ConnectionTest:
    seconds = connection.timeout(settings.timeout_seconds)
    limited = settings.model_copy(update={"timeout_seconds": seconds})
    own = ThreadSafeHttpClient(seconds) if http_client is None else None
    client = build_client(limited, http_client or own)
    try:
        return _run(client, settings, seconds)
    finally:
        if own is not None and own.session is not None:
            own.session.close()


def _run(client, settings: SmsSettings, seconds: float) -> ConnectionTest:
    host = urlsplit(settings.api_base).netloc
    secrets = (settings.auth_token,)
    try:
        account = client.api.v2010.accounts(settings.account_sid).fetch()
    except TwilioRestException as exc:
        return ConnectionTest([Check("Twilio account", False, _refusal(exc, secrets))])
    except Exception as exc:  # requests' errors: the network, not the credentials
        return ConnectionTest([Check("Twilio account", False, connection.redact(
            connection.unreachable("the Twilio API", host, exc, seconds), secrets))])
    checks = [_account(account.friendly_name, account.status, account.type)]
    if checks[0].ok and not settings.whatsapp:
        checks.append(_number(client, settings, secrets))
    return ConnectionTest(checks)


def _refusal(exc: TwilioRestException, secrets: tuple[str, ...]) -> str:
    if exc.status == 401:
        return REFUSED
    if exc.status == 404:
        return "Twilio knows no account with this Account SID: check account_sid"
    return connection.redact(f"Twilio answered HTTP {exc.status}"
                             + (f" (error {exc.code})" if exc.code else "")
                             + f": {exc.msg}; try again later, or see status.twilio.com",
                             secrets)


def _account(name: str | None, status: str | None, kind: str | None) -> Check:
    label = f"account {name!r}" if name else "the account"
    if status != "active":
        return Check("Twilio account", False,
                     f"{label} is {status or 'not active'}: nothing can be sent or received "
                     "until it is reactivated in the Twilio console")
    note = (": a trial account only sends to verified numbers, upgrade it before going live"
            if (kind or "").lower() == "trial" else "")
    return Check("Twilio account", True, f"{label} is active{note}")


def _number(client, settings: SmsSettings, secrets: tuple[str, ...]) -> Check:
    """Whether ``number`` is one of the account's own numbers (one cheap list call)."""
    try:
        found = client.api.v2010.accounts(settings.account_sid).incoming_phone_numbers.list(
            phone_number=settings.number, limit=1)
    except Exception as exc:  # the account answered: report this step alone
        return Check("sender number", False, connection.redact(
            f"could not list the account's numbers: {exc}", secrets))
    if not found:
        return Check("sender number", False,
                     f"{settings.number} is not a number of this Twilio account: check "
                     "`number` in channels.yaml, or buy or port the number in the console")
    return Check("sender number", True, f"{settings.number} belongs to the account")

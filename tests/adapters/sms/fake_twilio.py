"""A local HTTP server that speaks enough of Twilio's REST API for kanal: the Messages
resource (with Basic auth, programmable failures), message media behind a redirect to a
"CDN" path, as https://www.twilio.com/docs/messaging/api describes them, and the Account
and IncomingPhoneNumbers resources the connection test reads."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakeserver import FakeServer

API = "/2010-04-01/Accounts/"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")
_MEDIA = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages/(?P<mm>\w+)/Media/(?P<me>\w+)$")
_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)\.json$")
_NUMBERS = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/IncomingPhoneNumbers\.json$")
_CDN = re.compile(r"^/cdn/(?P<me>\w+)$")

# a JPEG as far as any sniffer is concerned: SOI, a JFIF APP0 segment, EOI
JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\x00" * 64 + b"\xff\xd9")


@dataclass
class Received:
    method: str
    path: str
    authorized: bool
    at: datetime | None
    form: dict[str, str] = field(default_factory=dict)
    sid: str | None = None  # of the message created


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str, auth_token: str,
                 clock: Callable[[], datetime] | None = None):
        self.account_sid, self.auth_token, self.clock = account_sid, auth_token, clock
        self.received: list[Received] = []
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self.invalid_numbers: set[str] = set()
        # To (as sent, "whatsapp:+62…" on WhatsApp) -> the error code and message Twilio
        # refuses a message to it with (HTTP 400): 21610 unsubscribed, 63016 window
        self.refusals: dict[str, tuple[int, str]] = {}
        # media sid -> (bytes, content type, host redirected to, or None to answer directly)
        self.media: dict[str, tuple[bytes, str, str | None]] = {}
        self.media_failures = 0
        # the Account resource's status and type, and the account's own numbers
        self.account_status, self.account_type = "active", "Full"
        self.numbers: set[str] = set()
        super().__init__(_handler(self), "fake-twilio")

    @property
    def url(self) -> str:
        return self.base_url

    # -- test controls -----------------------------------------------------------------

    def fail_next(self, count: int, status: int = 500, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.failures.extend([(status, headers)] * count)

    def add_media(self, data: bytes = JPEG, content_type: str = "image/jpeg", *,
                  cdn: str | None = "127.0.0.1", host: str = "127.0.0.1") -> str:
        """A media URL as Twilio puts it in ``MediaUrl0``; fetching it redirects to the
        ``cdn`` host (None: the file is served at once)."""
        media_sid = sid("ME")
        self.media[media_sid] = (data, content_type, cdn)
        port = self.port
        return f"http://{host}:{port}{API}{self.account_sid}/Messages/{sid('MM')}/Media/{media_sid}"

    @property
    def messages(self) -> list[Received]:
        """Messages the API accepted, in order."""
        return [r for r in self.received if r.sid]

    def posts(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


def _message_resource(fake: FakeTwilio, form: dict[str, str], message_sid: str) -> dict:
    now = format_datetime(datetime.now(timezone.utc), usegmt=True).replace("GMT", "+0000")
    uri = f"{API}{fake.account_sid}/Messages/{message_sid}"
    return {
        "account_sid": fake.account_sid, "api_version": "2010-04-01", "body": form.get("Body"),
        "date_created": now, "date_sent": None, "date_updated": now,
        "direction": "outbound-api", "error_code": None, "error_message": None,
        "from": form.get("From"), "messaging_service_sid": None, "num_media": "0",
        "num_segments": "1", "price": None, "price_unit": "USD", "sid": message_sid,
        "status": "queued", "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form.get("To"), "uri": f"{uri}.json",
    }


def _account_resource(fake: FakeTwilio) -> dict:
    uri = f"{API}{fake.account_sid}"
    return {"sid": fake.account_sid, "friendly_name": "Pemprov DKI Jakarta",
            "status": fake.account_status, "type": fake.account_type,
            "owner_account_sid": fake.account_sid, "auth_token": fake.auth_token,
            "date_created": "Mon, 02 Nov 2026 03:00:00 +0000", "uri": f"{uri}.json",
            "subresource_uris": {"incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json"}}


def _numbers_page(fake: FakeTwilio, query: str) -> dict:
    wanted = dict(parse_qsl(query)).get("PhoneNumber")
    numbers = sorted(n for n in fake.numbers if wanted is None or n == wanted)
    uri = f"{API}{fake.account_sid}/IncomingPhoneNumbers.json"
    return {"incoming_phone_numbers": [
                {"sid": sid("PN"), "account_sid": fake.account_sid, "phone_number": n,
                 "friendly_name": n, "sms_url": "", "uri": f"{uri[:-5]}/PN.json"}
                for n in numbers],
            "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None,
            "page": 0, "page_size": 50, "start": 0, "end": max(0, len(numbers) - 1),
            "uri": uri}


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(
        f"{fake.account_sid}:{fake.auth_token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json",
                   headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": content_type, **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
            self._reply(status, json.dumps(data).encode(), headers=headers)

        def _record(self, form: dict[str, str] | None = None) -> Received:
            received = Received(self.command, urlsplit(self.path).path,
                                self.headers.get("Authorization") == expected,
                                fake.clock() if fake.clock else None, form or {})
            fake.received.append(received)
            return received

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            got = self._record(form)
            match = _MESSAGES.match(got.path)
            if match is None:
                return self._json(404, _error(404, 20404, "The requested resource was not found"))
            if not got.authorized or match["sid"] != fake.account_sid:
                return self._json(401, _error(401, 20003, "Authenticate"))
            if fake.failures:
                status, headers = fake.failures.popleft()
                message = "Too Many Requests" if status == 429 else "Internal Server Error"
                return self._json(status, _error(status, 20000 + status, message), headers)
            if form.get("To", "") in fake.refusals:
                code, message = fake.refusals[form["To"]]
                return self._json(400, _error(400, code, message))
            if form.get("To", "").removeprefix("whatsapp:") in fake.invalid_numbers:
                return self._json(400, _error(
                    400, 21211, f"Invalid 'To' Phone Number: {form['To']}"))
            got.sid = sid("SM")
            self._json(201, _message_resource(fake, form, got.sid))

        def do_GET(self) -> None:
            got = self._record()
            if (account := _ACCOUNT.match(got.path) or _NUMBERS.match(got.path)) is not None:
                if not got.authorized or account["sid"] != fake.account_sid:
                    return self._json(401, _error(401, 20003, "Authenticate"))
                if got.path.endswith("/IncomingPhoneNumbers.json"):
                    return self._json(200, _numbers_page(fake, urlsplit(self.path).query))
                return self._json(200, _account_resource(fake))
            if media := _MEDIA.match(got.path):
                if not got.authorized:
                    return self._json(401, _error(401, 20003, "Authenticate"))
                if fake.media_failures:
                    fake.media_failures -= 1
                    return self._json(503, _error(503, 20503, "Service Unavailable"))
                found = fake.media.get(media["me"])
                if found is None:
                    return self._json(404, _error(404, 20404, "not found"))
                data, content_type, cdn = found
                if cdn:
                    port = fake.port
                    location = f"http://{cdn}:{port}/cdn/{media['me']}"
                    return self._reply(307, content_type="text/plain",
                                       headers={"Location": location})
                return self._reply(200, data, content_type)
            if cdn := _CDN.match(got.path):
                found = fake.media.get(cdn["me"])
                if found is not None:
                    return self._reply(200, found[0], found[1])
            self._json(404, _error(404, 20404, "not found"))

    return Handler

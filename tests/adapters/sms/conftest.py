"""Fixtures for the Twilio channels: a fake Twilio REST server on 127.0.0.1, a kanal whose
`sms`, `whatsapp` and `sms-shadow` channels point at it, and a test clock."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from gateway.plugins import DEFAULT_PLUGINS
from tests.adapters.sms.fake_twilio import FakeTwilio
from tests.clock import Clock

TESTDATA = Path(__file__).parent / "testdata"
FORM = "application/x-www-form-urlencoded"
ACCOUNT_SID = "ACd2f0c1b6e3a94f5c8b7a6d5e4f3c2b1a"
AUTH_TOKEN = "9c1f0e7d3b5a48c2a6e4d2b0f8e6c4a2"
PUBLIC = "https://kanal.example.go.id"
NUMBER = "+628111272206"
CITIZEN = "+6281234567890"
MAX_PHOTO_BYTES = 64 * 1024
ENV = {"KANAL_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "KANAL_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
       "KANAL_TWILIO_FROM": NUMBER}


def sms_plugins() -> tuple[object, ...]:
    """The sms plugin, unless kanal already registers it as a built-in."""
    from adapters.sms import plugin

    installed = {e.name for e in entry_points(group="kanal")}
    return () if "sms" in DEFAULT_PLUGINS or "sms" in installed else (plugin,)


def channels_file(tmp_path: Path) -> Path:
    fixtures = yaml.safe_load((Path(__file__).parents[2] / "fixtures" / "channels.yaml")
                              .read_text())
    twilio = {"account_sid": "${KANAL_TWILIO_ACCOUNT_SID}",
              "auth_token": "${KANAL_TWILIO_AUTH_TOKEN}",
              "api_base": "${KANAL_TWILIO_API_BASE:-https://api.twilio.com}",
              "media_hosts": ["127.0.0.1"]}
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump({
        "official_channels": fixtures["official_channels"] + [
            {"id": "sms-whatsapp", "number": 6, "name": "SMS / WhatsApp 08111272206"}],
        "channels": [
            {"id": "sms", "official_channel": "sms-whatsapp", "adapter": "sms",
             "settings": {**twilio, "number": "${KANAL_TWILIO_FROM}"}},
            {"id": "whatsapp", "official_channel": "sms-whatsapp", "adapter": "sms",
             "settings": {**twilio, "number": "whatsapp:${KANAL_TWILIO_FROM}"}},
            {"id": "sms-shadow", "official_channel": "sms-whatsapp", "adapter": "sms",
             "settings": {**twilio, "number": "+628111272207", "shadow": True}},
        ],
    }))
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc))


@pytest.fixture
def twilio(clock):
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, clock=clock).start()
    yield fake
    fake.stop()


@pytest.fixture
def sms_settings(settings, tmp_path):
    return settings.model_copy(update={"config": channels_file(tmp_path),
                                       "public_base_url": PUBLIC,
                                       "max_photo_bytes": MAX_PHOTO_BYTES})


@pytest.fixture
def sms_kanal(make_kanal, sms_settings, twilio, clock):
    return make_kanal(settings=sms_settings, clock=clock, extra_plugins=sms_plugins(),
                      env={**ENV, "KANAL_TWILIO_API_BASE": twilio.url})


@pytest.fixture
def sms_client(sms_kanal):
    from gateway.app import create_app

    with TestClient(create_app(kanal=sms_kanal)) as c:
        yield c


def load(name: str, **values: str) -> dict[str, str]:
    """Twilio's parameters from a scenario file; ``{tid}``-style fields are filled in."""
    params = json.loads((TESTDATA / name).read_text())
    return {k: v.format(**values) if "{" in v else v for k, v in params.items()}


def sign(url: str, params: dict[str, str] | None, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params or {})


def post(client, channel: str, params: dict[str, str] | None = None, *, body: bytes | None = None,
         signature: str = "valid", content_type: str = FORM, headers: dict | None = None):
    """POST to the channel's webhook as Twilio does: form-encoded, signed over the public URL."""
    url = f"{PUBLIC}/webhooks/{channel}"
    sent = {"Content-Type": content_type, **(headers or {})}
    if signature == "valid":
        sent["X-Twilio-Signature"] = sign(url, params)
    elif signature == "bad":
        sent["X-Twilio-Signature"] = sign(url, params, token="not-the-auth-token")
    data = body if body is not None else urlencode(params or {}).encode()
    return client.post(f"/webhooks/{channel}", content=data, headers=sent)


def drive(run_once, table, clock: Clock, rounds: int = 12) -> None:
    """Run a worker until nothing of ``table`` is pending, moving the clock to the next
    due time in between (retries and Retry-After without sleeping)."""
    for _ in range(rounds):
        run_once()
        with run_once.__self__.engine.connect() as conn:
            due = conn.execute(select(table.c.next_attempt_at)
                               .where(table.c.status == "pending")
                               .order_by(table.c.next_attempt_at)).first()
        if due is None:
            return
        when = due[0] if due[0].tzinfo else due[0].replace(tzinfo=timezone.utc)
        clock.now = max(clock.now, when)
    raise AssertionError(f"{table.name} still pending after {rounds} rounds")

"""Fixtures for the Telegram adapter: a fake Bot API on 127.0.0.1 and a kanal whose
``telegram`` channel points at it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from adapters.telegram import plugin as telegram_plugin
from core import tracking
from core.models import Report
from core.reports import staff_report
from gateway.plugins import DEFAULT_PLUGINS
from tests.adapters.telegram.fakebotapi import FakeBotAPI
from tests.conftest import FIXTURES, TEST_ENV
from tests.clock import Clock
from tests.helpers import count, drain, fill  # noqa: F401 (used by the tests)

TESTDATA = Path(__file__).parent / "testdata"
TOKEN = "7000000001:AAH-test-token_0123456789abcdefghij"
SECRET = "kanal-webhook-secret_0123456789"
CHAT_ID = 123456789
GOOD = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
START = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)


def channels_file(tmp_path: Path, mode: str = "webhook") -> Path:
    official = yaml.safe_load((FIXTURES / "channels.yaml").read_text())["official_channels"]
    settings = {"bot_token": "${KANAL_TELEGRAM_BOT_TOKEN}",
                "secret_token": "${KANAL_TELEGRAM_SECRET_TOKEN:-}",
                "api_base": "${KANAL_TELEGRAM_API_BASE:-https://api.telegram.org}",
                "mode": mode, "poll_interval_seconds": 2}
    path = tmp_path / f"channels-{mode}.yaml"
    path.write_text(yaml.safe_dump({"official_channels": official, "channels": [
        {"id": "telegram", "official_channel": "telegram", "adapter": "telegram",
         "settings": settings}]}))
    return path


def telegram_env(api: FakeBotAPI | None, secret: str | None = SECRET) -> dict[str, str]:
    env = {**TEST_ENV, "KANAL_TELEGRAM_BOT_TOKEN": TOKEN}
    if secret:
        env["KANAL_TELEGRAM_SECRET_TOKEN"] = secret
    if api is not None:
        env["KANAL_TELEGRAM_API_BASE"] = api.base_url
    return env


def update_bytes(name: str, **subs: str) -> bytes:
    return fill(TESTDATA / name, subs).encode()


def staff(conn, tid: str) -> dict:
    report = staff_report(conn, tracking.normalize(tid))
    assert report is not None
    return report


def deliver(kanal, client, api, mode: str, body: bytes, headers: dict[str, str] = GOOD):
    if mode == "poll":
        api.queue_update(json.loads(body))
        kanal.poll_channel("telegram")
        return None
    return client.post("/webhooks/telegram", content=body, headers=headers)


def first_tid(kanal) -> str | None:
    with kanal.engine.connect() as conn:
        tid = conn.execute(select(Report.__table__.c.tracking_id)
                           .order_by(Report.__table__.c.id)).scalars().first()
    return tracking.display(tid) if tid else None


@pytest.fixture
def bot_api():
    api = FakeBotAPI(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def telegram_kanal(make_kanal, settings, tmp_path, bot_api, clock):
    """``telegram_kanal(mode="webhook", secret=SECRET, **settings)``: a kanal with one
    telegram channel, talking to ``bot_api``."""
    built = []
    # until the adapter is a built-in, register it as an extra plugin
    extra = () if "telegram" in DEFAULT_PLUGINS else (telegram_plugin,)

    def factory(mode: str = "webhook", secret: str | None = SECRET, **overrides):
        s = settings.model_copy(update={"config": channels_file(tmp_path, mode),
                                        "public_base_url": "https://kanal.example.go.id",
                                        **overrides})
        kanal = make_kanal(settings=s, env=telegram_env(bot_api, secret), clock=clock,
                           extra_plugins=extra)
        built.append(kanal)
        return kanal

    yield factory
    for kanal in built:
        for adapter in kanal.adapters.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                close()


@pytest.fixture
def tg_client(telegram_kanal):
    """``tg_client(kanal)``: a TestClient on that kanal's app."""
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    clients = []

    def factory(kanal):
        client = TestClient(create_app(kanal=kanal))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)

"""Fixtures for the X adapter: a local stand-in for the X API v2 and a kanal whose
``twitter-dkijakarta`` channel (beside a fake channel) talks to it through real tweepy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from core.health import get_health
from tests.adapters.twitter.fake_x import ACCESS_TOKEN, ACCOUNT_ID, BEARER, CONSUMER_KEY, FakeX
from tests.conftest import TEST_ENV
from tests.clock import Clock
from tests.helpers import count, drain, fill  # noqa: F401 (used by the tests)

TESTDATA = Path(__file__).parent / "testdata"
REPO = Path(__file__).resolve().parents[3]
CHANNEL = "twitter-dkijakarta"
START = datetime(2026, 1, 2, 1, 0, tzinfo=UTC)


def channels_file(tmp_path: Path, **settings) -> Path:
    """The real twitter-dkijakarta entry of config/channels.yaml, and a fake channel."""
    real = yaml.safe_load((REPO / "config" / "channels.yaml").read_text())
    official = [o for o in real["official_channels"] if o["id"] == CHANNEL]
    twitter = next(c for c in real["channels"] if c["id"] == CHANNEL)
    twitter["settings"].update(settings)
    twitter["send_rate_per_second"] = 100  # the dispatcher's bucket is on the wall clock
    path = tmp_path / "channels-twitter.yaml"
    path.write_text(yaml.safe_dump({
        "official_channels": official + [{"id": "test", "number": None, "name": "Test"}],
        "channels": [twitter, {"id": "fake", "official_channel": "test", "adapter": "fake"}]}))
    return path


def x_env(api: FakeX, *, replies: bool = True) -> dict[str, str]:
    env = {**TEST_ENV, "KANAL_TWITTER_DKI_USER_ID": ACCOUNT_ID,
           "KANAL_TWITTER_DKI_BEARER_TOKEN": BEARER,
           "KANAL_TWITTER_API_BASE": api.base_url, "KANAL_TWITTER_POLL_SECONDS": "30"}
    if replies:
        env |= {"KANAL_TWITTER_CONSUMER_KEY": CONSUMER_KEY,
                "KANAL_TWITTER_CONSUMER_SECRET": "cs-test",
                "KANAL_TWITTER_DKI_ACCESS_TOKEN": ACCESS_TOKEN,
                "KANAL_TWITTER_DKI_ACCESS_TOKEN_SECRET": "ats-test"}
    return env


def bundle(name: str, **subs: str) -> dict:
    return json.loads(fill(TESTDATA / name, subs))


def health(kanal, channel: str = CHANNEL):
    with kanal.engine.connect() as conn:
        return get_health(conn, channel)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def fake_x(clock):
    api = FakeX(clock).start()
    yield api
    api.stop()


@pytest.fixture
def x_kanal(make_kanal, settings, tmp_path, fake_x, clock):
    """``x_kanal(replies=True, **channel_settings)``: a kanal with the X channel and a
    fake channel, the X one talking to ``fake_x``."""

    def factory(replies: bool = True, **channel_settings):
        s = settings.model_copy(update={"config": channels_file(tmp_path, **channel_settings),
                                        "public_base_url": "https://kanal.example.go.id"})
        return make_kanal(settings=s, env=x_env(fake_x, replies=replies), clock=clock)

    return factory

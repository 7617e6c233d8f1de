"""Fixtures for the Meta channels: a fake Graph API on 127.0.0.1 and a kanal with the
channels of one Meta app (two pages and an Instagram account) pointing at it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.adapters.facebook.fake_graph import FakeGraph
from tests.conftest import TEST_ENV
from tests.clock import Clock
from tests.helpers import count, fill  # noqa: F401 (count: for the tests)

TESTDATA = Path(__file__).parent / "testdata"
APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
VERIFY_TOKEN = "kanal-verify-2026"
PAGE = "101000000000001"
GUBERNUR = "102000000000002"
IG = "17841400000000003"
OFFICIAL = [{"id": "facebook-pemprov", "number": 3, "name": "Facebook Pemprov DKI Jakarta"},
            {"id": "sosmed-gubernur", "number": 5, "name": "Media sosial Gubernur"}]
ENV = {"KANAL_META_APP_SECRET": APP_SECRET, "KANAL_META_VERIFY_TOKEN": VERIFY_TOKEN,
       "KANAL_FACEBOOK_PEMPROV_PAGE_ID": PAGE, "KANAL_FACEBOOK_PEMPROV_PAGE_TOKEN": "EAAp",
       "KANAL_FACEBOOK_GUBERNUR_PAGE_ID": GUBERNUR,
       "KANAL_FACEBOOK_GUBERNUR_PAGE_TOKEN": "EAAg",
       "KANAL_INSTAGRAM_GUBERNUR_ACCOUNT_ID": IG, "KANAL_INSTAGRAM_GUBERNUR_TOKEN": "IGAg"}


def meta_channels() -> list[dict]:
    """The Meta channels as config/channels.yaml has them."""
    default = Path(__file__).parents[3] / "config" / "channels.yaml"
    channels = yaml.safe_load(default.read_text())["channels"]
    return [c for c in channels if c["adapter"] == "facebook"]


def channels_file(tmp_path: Path) -> Path:
    channels = meta_channels()
    for channel in channels:  # the fake Graph API is also Meta's CDN here
        channel["settings"] = {**channel["settings"], "media_hosts": ["127.0.0.1/cdn/"]}
    path = tmp_path / "channels-meta.yaml"
    path.write_text(yaml.safe_dump({"official_channels": OFFICIAL, "channels": channels}))
    return path


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(name: str, **subs: str) -> bytes:
    return fill(TESTDATA / name, {"page": PAGE, "gubernur": GUBERNUR, "ig": IG, **subs}).encode()


@pytest.fixture
def graph():
    api = FakeGraph().start()
    yield api
    api.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 4, 0, tzinfo=UTC))


@pytest.fixture
def meta_kanal(make_kanal, settings, tmp_path, graph, clock):
    s = settings.model_copy(update={"config": channels_file(tmp_path),
                                    "public_base_url": "https://kanal.example.go.id"})
    return make_kanal(settings=s, clock=clock,
                      env={**TEST_ENV, **ENV, "KANAL_META_GRAPH_BASE": graph.base_url})


@pytest.fixture
def meta_client(meta_kanal):
    from gateway.app import create_app

    with TestClient(create_app(kanal=meta_kanal)) as client:
        yield client

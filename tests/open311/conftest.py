"""A kanal with the shipped open311 channel (config/channels.yaml) beside the test
channels, and an app client for it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.casework import START
from tests.clock import Clock
from tests.conftest import FIXTURES, TEST_ENV

REPO = Path(__file__).resolve().parents[2]
KEY = "open311-test-key"
OTHER_KEY = "open311-other-key"
KEYS = f"city-app={KEY},partner={OTHER_KEY}"
BASE = "https://kanal.example.go.id"
ENV = {**TEST_ENV, "KANAL_OPEN311_API_KEYS": KEYS}


def channels_file(tmp_path: Path) -> Path:
    """tests/fixtures/channels.yaml plus the real open311 entries of config/channels.yaml."""
    real = yaml.safe_load((REPO / "config" / "channels.yaml").read_text())
    test = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    official = [o for o in real["official_channels"] if o["id"] == "open311"]
    channel = next(c for c in real["channels"] if c["id"] == "open311")
    path = tmp_path / "channels-open311.yaml"
    path.write_text(yaml.safe_dump({
        "official_channels": test["official_channels"] + official,
        "channels": test["channels"] + [channel]}))
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def open311_kanal(make_kanal, settings, tmp_path, clock):
    """``open311_kanal(env=None, **settings)``: a kanal on the simulated clock."""

    def factory(env: dict[str, str] | None = None, **changes):
        s = settings.model_copy(update={"config": channels_file(tmp_path),
                                        "public_base_url": BASE, **changes})
        return make_kanal(settings=s, env=ENV if env is None else env, clock=clock)

    return factory


@pytest.fixture
def kanal(open311_kanal):
    return open311_kanal()


@pytest.fixture
def api(kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    with TestClient(create_app(kanal=kanal)) as c:
        yield c


@pytest.fixture
def accounts(kanal):
    """Units and staff accounts (tests/casework.py), to drive cases."""
    from tests.casework import set_up

    return set_up(kanal)

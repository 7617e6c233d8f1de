"""Fixtures for the LAPOR! adapter: the stand-in of the contract (tests/adapters/lapor/
standin.py) and a kanal whose ``lapor`` channel, from the shipped config/channels.yaml,
talks to it. ``contract`` runs each test twice: with the default names and the shipped
mapping, and with every name changed (``ALT_NAMES``) and a mapping file that says so."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.adapters.lapor.standin import ALT_NAMES, FakeLapor
from tests.clock import Clock
from tests.conftest import TEST_ENV
from tests.helpers import count, drain  # noqa: F401 (used by the tests)

HERE = Path(__file__).parent
REPO = HERE.parents[2]
CHANNEL = "lapor"
TOKEN = "lapor-test-token"
AGENCY = "dki-jakarta"
START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
CONTRACTS = {
    "default": (None, REPO / "config" / "lapor.yaml"),
    "renamed": (ALT_NAMES, HERE / "testdata" / "mapping-alt.yaml"),
}


def channels_file(tmp_path: Path, **settings) -> Path:
    """The real lapor entry of config/channels.yaml, and a fake channel."""
    real = yaml.safe_load((REPO / "config" / "channels.yaml").read_text())
    official = [o for o in real["official_channels"] if o["id"] == "lapor-1708"]
    lapor = next(c for c in real["channels"] if c["id"] == CHANNEL)
    lapor["settings"].update(settings)
    lapor["send_rate_per_second"] = 100  # the dispatcher's bucket is on the wall clock
    path = tmp_path / "channels-lapor.yaml"
    path.write_text(yaml.safe_dump({
        "official_channels": official + [{"id": "test", "number": None, "name": "Test"}],
        "channels": [lapor, {"id": "fake", "official_channel": "test", "adapter": "fake"}]}))
    return path


def lapor_env(api: FakeLapor, mapping: Path | None = None, **extra: str) -> dict[str, str]:
    env = {**TEST_ENV, "KANAL_LAPOR_BASE_URL": api.base_url, "KANAL_LAPOR_TOKEN": TOKEN,
           "KANAL_LAPOR_AGENCY_ID": AGENCY, "KANAL_LAPOR_POLL_SECONDS": "60"}
    if mapping is not None:
        env["KANAL_LAPOR_MAPPING"] = str(mapping)
    return env | extra


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture(params=sorted(CONTRACTS))
def contract(request):
    """(the stand-in's names, kanal's mapping file) of one way of naming the API."""
    return CONTRACTS[request.param]


@pytest.fixture
def standin(contract, clock):
    names, _ = contract
    api = FakeLapor(token=TOKEN, agency=AGENCY, names=names, clock=clock).start()
    yield api
    api.stop()


@pytest.fixture
def lapor_kanal(make_kanal, settings, tmp_path, standin, contract, clock):
    """``lapor_kanal(env=None, **channel_settings)``: a kanal with the LAPOR! channel and
    a fake channel, talking to ``standin`` through ``contract``'s mapping."""

    def factory(env: dict[str, str] | None = None, **channel_settings):
        s = settings.model_copy(update={"config": channels_file(tmp_path, **channel_settings),
                                        "public_base_url": "https://kanal.example.go.id"})
        return make_kanal(settings=s, env=env or lapor_env(standin, contract[1]), clock=clock)

    return factory

from pathlib import Path

import pytest

from core.config import ConfigError, load_channels
from core.identity import email_address, phone_e164
from core.storage import LocalAttachmentStore, UploadError, check_upload
from tests.adapters.web.helpers import png

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "channels.yaml"


def test_the_shipped_file_lists_the_13_official_channels_and_telegram():
    channels = load_channels(REPO_CONFIG, env={})
    numbers = {o.number for o in channels.official_channels if o.number}
    assert numbers == set(range(1, 14))
    used = {c.official_channel for c in channels.channels}
    assert used == {o.id for o in channels.official_channels}
    assert any(c.adapter == "telegram" for c in channels.channels)


def test_env_references_are_expanded_and_missing_ones_recorded(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "official_channels: [{id: o, number: 1, name: O}]\n"
        "channels:\n"
        "  - {id: a, official_channel: o, adapter: jaki, settings: {api_keys: '${K1}', x: 'p-${K2}'}}\n")
    c = load_channels(path, env={"K1": "one"}).channels[0]
    assert c.settings == {"api_keys": "one", "x": None}
    assert c.missing_env == ["K2"]


@pytest.mark.parametrize("text,needle", [
    ("official_channels: [", "not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
    ("official_channels: [{id: o, name: O}]\nchannels: [{id: a, official_channel: zz, adapter: x}]",
     "unknown official channel"),
    ("official_channels: [{id: o, name: O}]\nchannels: [{id: a, official_channel: o, adapter: x},"
     " {id: a, official_channel: o, adapter: y}]", "appears twice"),
    ("official_channels: [{id: o, name: O}]\nchannels: [{id: 'Bad Id', official_channel: o, adapter: x}]",
     "id"),
], ids=["not-yaml", "not-a-mapping", "unknown-official", "duplicate-id", "bad-id"])
def test_bad_channels_files_are_refused_with_a_reason(tmp_path, text, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_channels(path, env={})


def test_missing_channels_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_channels(tmp_path / "nope.yaml", env={})


@pytest.mark.parametrize("raw,expected", [
    ("0812-3456-7890", "+6281234567890"), ("+62 812 3456 7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"), ("whatsapp:+6281234567890", "+6281234567890"),
    ("12", None), ("", None), (None, None),
], ids=["local", "international", "no-plus", "whatsapp", "too-short", "empty", "none"])
def test_phone_numbers_are_normalised_to_e164(raw, expected):
    assert phone_e164(raw) == expected


def test_email_domain_is_lowercased():
    assert email_address(" Siti@Example.ORG ") == "Siti@example.org"
    assert email_address("not-an-email") is None


def test_attachment_store_is_content_addressed(tmp_path):
    store = LocalAttachmentStore(tmp_path)
    a = store.put(b"same", "image/png")
    b = store.put(b"same", "image/png")
    assert a.sha256 == b.sha256 and a.path == b.path
    assert store.open(a.sha256) == b"same"
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
    with pytest.raises(ValueError):
        store.open("../../etc/passwd")


@pytest.mark.parametrize("data,reason", [
    (b"", "empty_file"), (b"GIF89a" + b"x" * 100, "file_too_large"),
    (b"plain text, not an image", "unsupported_file_type"),
], ids=["empty", "too-large", "not-an-image"])
def test_uploads_are_checked_by_content(data, reason):
    with pytest.raises(UploadError) as err:
        check_upload(data, filename="f", max_bytes=50)
    assert err.value.reason == reason


def test_a_real_png_is_accepted_whatever_its_name():
    assert check_upload(png(), filename="photo.jpg", max_bytes=10_000) == "image/png"


@pytest.mark.parametrize("env,expected", [
    ({}, "https://api.twilio.com"), ({"K_BASE": "http://127.0.0.1:9"}, "http://127.0.0.1:9"),
    ({"K_BASE": ""}, "https://api.twilio.com"),
], ids=["default", "set", "empty-means-default"])
def test_env_references_may_have_a_default(tmp_path, env, expected):
    path = tmp_path / "c.yaml"
    path.write_text(
        "official_channels: [{id: o, number: 1, name: O}]\n"
        "channels:\n"
        "  - {id: a, official_channel: o, adapter: sms, settings: "
        "{api_base: '${K_BASE:-https://api.twilio.com}', n: 'whatsapp:${K_NUM}'}}\n")
    c = load_channels(path, env={**env, "K_NUM": "+62811"}).channels[0]
    assert c.settings == {"api_base": expected, "n": "whatsapp:+62811"}
    assert c.missing_env == []


def test_an_installed_wheel_finds_its_default_config(tmp_path, monkeypatch):
    """Outside a checkout, config/ comes from <prefix>/share/kanal (setup.cfg data_files)."""
    from core import settings as settings_mod

    share = tmp_path / "share" / "kanal"
    (share / "config").mkdir(parents=True)
    (share / "config" / "channels.yaml").write_text("channels: []\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(settings_mod, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.setattr(settings_mod, "SHARE", share)
    assert settings_mod.resolve("config/channels.yaml") == share / "config" / "channels.yaml"
    (elsewhere / "config").mkdir()  # a config/ in the working directory wins
    (elsewhere / "config" / "channels.yaml").write_text("channels: []\n")
    assert settings_mod.resolve("config/channels.yaml") == Path("config/channels.yaml")

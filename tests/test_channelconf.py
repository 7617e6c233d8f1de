"""Channel configuration in the database: per-setting precedence over the file, secrets
encrypted at rest, every refusal changing nothing, live reload in this process and in a
second one on the same database, export and key rotation."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import audit
from core.channelconf import ChangeRefused, export, read_overrides
from core.db import writing
from core.models import AuditEvent, ChannelOverride
from gateway.app import create_app
from gateway.livecfg import ConfigWatcher
from tests.conftest import TEST_ENV

KEY = "kunci-rahasia-operasional-yang-panjang"
TOKEN = "123456:AAH-token-bot-kedua-rahasia"
override_t = ChannelOverride.__table__


@pytest.fixture
def keyed(settings):
    return settings.model_copy(update={"secret_key": KEY})


@pytest.fixture
def kanal(make_kanal, keyed):
    return make_kanal(settings=keyed)


def change(kanal, fn, *args, **kw):
    with writing(kanal.engine) as conn:
        result = fn(conn, *args, **kw)
    kanal.reload_channels()
    return result


def rows(kanal, table=override_t):
    with kanal.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table))]


def add_bot(kanal, channel_id="telegram-2"):
    c = kanal.configurator
    change(kanal, c.add, channel_id, "telegram", "telegram", "admin1", name="Bot kedua")
    change(kanal, c.update, channel_id, "admin1",
           secrets={"bot_token": TOKEN, "secret_token": "rahasia-webhook"},
           values={"api_base": "http://127.0.0.1:9"})


def test_an_added_channel_starts_disabled_and_runs_once_enabled(kanal):
    add_bot(kanal)
    status = kanal.channel("telegram-2")
    assert (status.state, status.reason) == ("disabled", "disabled by an operator")
    assert "telegram-2" not in kanal.adapters
    assert change(kanal, kanal.configurator.set_enabled, "telegram-2", True, "admin1")
    status = kanal.channel("telegram-2")
    assert status.state == "ready", status.reason
    assert kanal.adapters["telegram-2"].settings.bot_token == TOKEN
    assert status.config.name == "Bot kedua" and not status.config.in_file


def test_a_secret_is_stored_encrypted_and_never_in_the_audit_trail(kanal):
    add_bot(kanal)
    (row,) = rows(kanal)
    assert TOKEN not in json.dumps(row, default=str)
    assert set(row["secrets"]) == {"bot_token", "secret_token"}
    assert row["settings"] == {"api_base": "http://127.0.0.1:9"}
    assert kanal.secret_box.decrypt(row["secrets"]["bot_token"]) == TOKEN
    trail = rows(kanal, AuditEvent.__table__)
    assert TOKEN not in json.dumps(trail, default=str)
    secret = next(e for e in trail if e["setting"] == "bot_token")
    assert secret["action"] == "set_secret" and secret["new_value"].startswith(audit.MASK)
    assert [e["action"] for e in trail] == ["add", "set", "set_secret", "set_secret"]


def test_an_operators_setting_wins_over_the_file_per_setting(kanal, make_kanal, keyed):
    c = kanal.configurator
    change(kanal, c.update, "fake", "admin1", values={"token": "dari-konsol"})
    assert kanal.adapters["fake"].settings.token == "dari-konsol"
    # the file's other channels and a fresh process see the same
    again = make_kanal(settings=keyed)
    assert again.adapters["fake"].settings.token == "dari-konsol"
    assert again.channel("fake").config.overridden == ["token"]
    change(kanal, c.update, "fake", "admin1", unset=("token",))
    assert kanal.adapters["fake"].settings.token is None


def test_a_missing_variable_is_no_longer_missing_once_an_operator_sets_it(make_kanal, keyed):
    kanal = make_kanal(settings=keyed, env={})
    assert kanal.channel("jaki").reason == "secret not set: KANAL_JAKI_API_KEY"
    change(kanal, kanal.configurator.update, "jaki", "admin1", secrets={"api_keys": "k1"})
    assert kanal.channel("jaki").state == "ready"


@pytest.mark.parametrize("call, code, field", [
    (lambda c, conn: c.update(conn, "fake", "a", values={"colour": "x"}), "unknown_setting",
     "colour"),
    (lambda c, conn: c.update(conn, "telegram-2", "a", values={"mode": "pigeon"}),
     "invalid_setting", "mode"),
    (lambda c, conn: c.update(conn, "telegram-2", "a", values={"api_base": "ftp://x"}),
     "invalid_setting", "api_base"),
    (lambda c, conn: c.update(conn, "telegram-2", "a", values={"bot_token": "t"}),
     "secret_as_plain", "bot_token"),
    (lambda c, conn: c.update(conn, "nope", "a", values={"x": "1"}), "unknown_channel", None),
    (lambda c, conn: c.update(conn, "telegram-2", "a", values={"mode": "polling"},
                              expected_version=1), "stale", None),
    (lambda c, conn: c.add(conn, "fake", "fake", "test", "a"), "exists", None),
    (lambda c, conn: c.add(conn, "telegram-2", "telegram", "telegram", "a"), "exists", None),
    (lambda c, conn: c.add(conn, "sms-2", "carrier-pigeon", "test", "a"), "not_installed",
     None),
    (lambda c, conn: c.add(conn, "sms-2", "fake", "no-such", "a"), "unknown_official", None),
    (lambda c, conn: c.add(conn, "Bad Id!", "fake", "test", "a"), "bad_id", None),
    (lambda c, conn: c.set_enabled(conn, "telegram-2", True, "a", expected_version=1),
     "stale", None),
], ids=["unknown-setting", "invalid-literal", "invalid-url", "secret-as-plain",
        "unknown-channel", "stale-form", "id-in-file", "id-added", "adapter-not-installed",
        "unknown-official", "bad-id", "stale-enable"])
def test_a_refused_change_says_why_and_changes_nothing(kanal, call, code, field):
    add_bot(kanal)
    before = rows(kanal), rows(kanal, AuditEvent.__table__)
    with pytest.raises(ChangeRefused) as refused:
        with writing(kanal.engine) as conn:
            call(kanal.configurator, conn)
    assert refused.value.code == code, refused.value
    if field:
        assert refused.value.errors[0].field == field
    assert (rows(kanal), rows(kanal, AuditEvent.__table__)) == before


def test_a_secret_without_kanal_secret_key_is_refused(make_kanal, settings):
    kanal = make_kanal(settings=settings)  # no KANAL_SECRET_KEY
    with pytest.raises(ChangeRefused) as refused, writing(kanal.engine) as conn:
        kanal.configurator.update(conn, "jaki", "admin1", secrets={"api_keys": "k"})
    assert refused.value.code == "secret_key_missing"
    assert "KANAL_SECRET_KEY" in str(refused.value)
    assert rows(kanal) == []


def test_a_disabled_push_channel_answers_503_and_keeps_nothing_back(kanal):
    client = TestClient(create_app(kanal=kanal, run_workers=False))
    msg = {"id": "m1", "from": "warga", "text": "Lampu jalan mati di Gambir"}
    assert client.post("/webhooks/fake", json=msg).status_code == 201
    change(kanal, kanal.configurator.set_enabled, "fake", False, "admin1")
    answer = client.post("/webhooks/fake", json={**msg, "id": "m2"})
    assert answer.status_code == 503
    assert "disabled by an operator" in answer.json()["reason"]
    change(kanal, kanal.configurator.set_enabled, "fake", True, "admin1")
    assert client.post("/webhooks/fake", json={**msg, "id": "m2"}).status_code == 201


def test_a_second_process_follows_each_change(kanal, make_kanal, keyed):
    other = make_kanal(settings=keyed)
    watcher = ConfigWatcher(other)
    watcher.check()  # the first look
    assert not watcher.check()
    add_bot(kanal)
    change(kanal, kanal.configurator.set_enabled, "telegram-2", True, "admin1")
    assert watcher.check()
    assert other.channel("telegram-2").state == "ready"
    assert other.adapters["telegram-2"].settings.bot_token == TOKEN
    change(kanal, kanal.configurator.set_enabled, "fake", False, "admin1")
    assert watcher.check() and "fake" not in other.adapters
    # channels that did not change keep their adapter object (nothing restarts)
    web = other.adapters["web"]
    change(kanal, kanal.configurator.update, "telegram-2", "admin1",
           values={"mode": "polling"})
    assert watcher.check() and other.adapters["web"] is web
    assert other.adapters["telegram-2"].polls


def test_a_poller_stops_after_its_batch_once_disabled(kanal):
    fake = kanal.adapters["fake"]
    fake.push("Sampah menumpuk", sender="warga-1")
    fake.push("Jalan berlubang", sender="warga-2")
    polled = []
    original = fake.poll

    def poll_then_disable(cursor):
        result = original(cursor)
        polled.append(result)
        if len(polled) == 1:  # an operator disables the channel during the first batch
            change(kanal, kanal.configurator.set_enabled, "fake", False, "admin1")
        return result

    fake.poll = poll_then_disable
    fake.poll_again = lambda envelopes: True
    kanal.poll_channel("fake")
    assert len(polled) == 1  # no second batch
    from core.health import get_cursor

    with kanal.engine.connect() as conn:
        assert get_cursor(conn, "fake") == polled[0][1]  # the batch's cursor is saved


def test_export_keeps_references_and_never_a_secret(kanal):
    add_bot(kanal)
    change(kanal, kanal.configurator.update, "fake", "admin1", values={"token": "t-1"})
    with kanal.engine.connect() as conn:
        data = export(kanal.channels_file, read_overrides(conn), kanal.registry)
    text = yaml.safe_dump(data)
    assert TOKEN not in text
    by_id = {c["id"]: c for c in data["channels"]}
    assert by_id["jaki"]["settings"]["api_keys"] == "${KANAL_JAKI_API_KEY}"
    assert by_id["telegram-2"]["settings"]["bot_token"] == "${KANAL_TELEGRAM_2_BOT_TOKEN}"
    assert by_id["telegram-2"]["enabled"] is False
    assert by_id["fake"]["settings"]["token"] == "t-1"
    # the export is a channels file kanal reads
    from core.config import load_channels

    path = kanal.settings.data_dir / "exported.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    loaded = load_channels(path, {**TEST_ENV, "KANAL_TELEGRAM_2_BOT_TOKEN": TOKEN})
    assert {c.id for c in loaded.channels} == set(by_id)


def test_rotation_reencrypts_under_the_new_key(kanal, make_kanal, keyed):
    add_bot(kanal)
    (before,) = rows(kanal)
    rotated = keyed.model_copy(update={"secret_key": "kunci-baru-2027",
                                       "secret_key_previous": KEY})
    newer = make_kanal(settings=rotated)
    with writing(newer.engine) as conn:
        assert newer.configurator.rotate_secrets(conn, "admin1") == 2
    (after,) = rows(newer)
    assert after["secrets"]["bot_token"] != before["secrets"]["bot_token"]
    only_new = make_kanal(settings=rotated.model_copy(update={"secret_key_previous": ""}))
    assert only_new.channel("telegram-2").config.settings["bot_token"] == TOKEN
    # the old key alone no longer opens it: the channel says so instead of running
    old_only = make_kanal(settings=keyed.model_copy(update={"secret_key": "salah"}))
    change(old_only, old_only.configurator.set_enabled, "telegram-2", True, "admin1")
    assert old_only.channel("telegram-2").reason_code == "secret_unreadable"

"""The console's commands, run as an operator runs them (subprocesses), against a real
database and a real running ``kanal serve`` that must follow each change within 5 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.serving import REPO, kanal_serve

KEY = "kunci-cli-yang-cukup-panjang-untuk-uji"
TOKEN = "8000000003:AAH-cli-typed-token_0123456789"


@pytest.fixture
def env(database_url, tmp_path):
    return {"KANAL_DATABASE_URL": database_url, "KANAL_JAKI_API_KEY": "k",
            "KANAL_CONFIG": str(REPO / "tests" / "fixtures" / "channels.yaml"),
            "KANAL_DATA_DIR": str(tmp_path / "data"), "KANAL_SECRET_KEY": KEY,
            "KANAL_ACTOR": "sari"}


def kanal(env, *args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], input=stdin,
                          capture_output=True, text=True, env={**os.environ, **env},
                          cwd=REPO, timeout=120)


def ok(env, *args, stdin: str | None = None) -> str:
    out = kanal(env, *args, stdin=stdin)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_add_set_a_secret_enable_export_and_the_audit_trail(env):
    assert "disabled" in ok(env, "channels", "add", "telegram-2", "--adapter", "telegram",
                            "--official", "telegram", "--name", "Bot kedua")
    # the provider (a closed port here) is asked first: nothing is kept without --force
    refused = kanal(env, "channels", "set", "telegram-2", "mode=polling",
                    "api_base=http://127.0.0.1:9", "--secret", "bot_token",
                    stdin=f"{TOKEN}\n")
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr
    assert "127.0.0.1:9" in refused.stderr and TOKEN not in refused.stderr
    assert [e["action"] for e in json.loads(ok(env, "audit", "list", "--json"))] == ["add"]
    said = ok(env, "channels", "set", "telegram-2", "mode=polling", "--force",
              "api_base=http://127.0.0.1:9", "--secret", "bot_token", stdin=f"{TOKEN}\n")
    assert "changed" in said and TOKEN not in said
    assert "enabled" in ok(env, "channels", "enable", "telegram-2")
    listed = json.loads(ok(env, "channels", "list", "--json"))
    assert {r["id"]: r["state"] for r in listed}["telegram-2"] == "ready"
    exported = ok(env, "channels", "export")
    assert TOKEN not in exported and "${KANAL_TELEGRAM_2_BOT_TOKEN}" in exported
    assert "api_base: http://127.0.0.1:9" in exported
    trail = json.loads(ok(env, "audit", "list", "--channel", "telegram-2", "--json"))
    assert [e["action"] for e in reversed(trail)] == ["add", "set", "set", "set_secret",
                                                      "enable"]
    assert {e["actor"] for e in trail} == {"sari"}
    assert TOKEN not in json.dumps(trail)
    assert "set_secret" in ok(env, "audit", "list")  # the table
    assert "1 secrets encrypted again" in ok(env, "secrets", "rotate")


def test_channels_test_exits_1_with_the_reason_when_the_provider_is_out(env):
    ok(env, "channels", "add", "telegram-2", "--adapter", "telegram", "--official", "telegram")
    ok(env, "channels", "set", "telegram-2", "mode=polling", "api_base=http://127.0.0.1:9",
       "--secret", "bot_token", "--force", stdin=f"{TOKEN}\n")
    out = kanal(env, "channels", "test", "telegram-2")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "127.0.0.1:9" in out.stdout and "FAILED" in out.stdout
    assert TOKEN not in out.stdout + out.stderr
    result = json.loads(kanal(env, "channels", "test", "telegram-2", "--json").stdout)
    assert result["ok"] is False and result["checks"][0]["ok"] is False
    # a channel with no provider has nothing to refuse
    assert kanal(env, "channels", "test", "web").returncode == 0


@pytest.mark.parametrize("args, stdin, reason", [
    (("channels", "add", "fake", "--adapter", "fake", "--official", "test"), None,
     "exists already"),
    (("channels", "add", "sms-2", "--adapter", "merpati", "--official", "test"), None,
     "adapter 'merpati' is not installed"),
    (("channels", "add", "sms-2", "--adapter", "fake", "--official", "nope"), None,
     "no official channel 'nope'"),
    (("channels", "set", "fake", "colour=red"), None, "fake has no setting 'colour'"),
    (("channels", "set", "jaki", "api_keys=k2"), None, "give it with --secret api_keys"),
    (("channels", "set", "nope", "x=1"), None, "no channel named 'nope'"),
    (("channels", "set", "fake", "token"), None, "is not KEY=VALUE"),
    (("channels", "set", "jaki", "--secret", "api_keys"), "\n", "no value for the secret"),
    (("channels", "enable", "nope"), None, "no channel named 'nope'"),
], ids=["exists", "not-installed", "unknown-official", "unknown-setting", "secret-as-plain",
        "unknown-channel", "not-a-pair", "empty-secret", "enable-unknown"])
def test_a_refused_change_exits_2_with_the_reason_and_changes_nothing(env, args, stdin,
                                                                      reason):
    out = kanal(env, *args, stdin=stdin)
    assert out.returncode == 2, out.stdout + out.stderr
    assert reason in out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads(ok(env, "audit", "list", "--json")) == []


def test_a_secret_without_kanal_secret_key_is_refused(env):
    out = kanal({**env, "KANAL_SECRET_KEY": ""}, "channels", "set", "jaki", "--secret",
                "api_keys", stdin="kunci-baru\n")
    assert out.returncode == 2 and "KANAL_SECRET_KEY is not set" in out.stderr
    assert json.loads(ok(env, "audit", "list", "--json")) == []


def test_a_running_server_follows_each_change_within_5_seconds(database_url, tmp_path, env):
    message = {"id": "m-1", "from": "warga", "text": "Lampu jalan mati di gang 3"}
    with kanal_serve(database_url, tmp_path, KANAL_SECRET_KEY=KEY) as base:
        assert httpx.post(f"{base}/webhooks/fake", json=message).status_code == 201

        tries = iter(range(10_000))

        def answers(status: int) -> float:
            """Seconds until a new message gets ``status`` (each try a new message)."""
            start = time.monotonic()
            while time.monotonic() - start < 5:
                body = {**message, "id": f"m-{next(tries)}"}
                if httpx.post(f"{base}/webhooks/fake", json=body).status_code == status:
                    return time.monotonic() - start
                time.sleep(0.1)
            raise AssertionError(f"the server did not answer {status} within 5 s")

        ok(env, "channels", "disable", "fake")
        answers(503)
        ok(env, "channels", "enable", "fake")
        answers(201)
        # a setting: the channel now wants a token from its webhook callers
        ok(env, "channels", "set", "fake", "token=geheim")
        answers(401)


def test_status_discard_and_retry_from_the_command_line(env, make_kanal, settings):
    from sqlalchemy import select

    from core.db import writing
    from core.models import InboxItem, OutboxItem, utcnow

    ok(env, "db", "upgrade")
    kanal_ = make_kanal()
    fake = kanal_.adapters["fake"]
    fake.push("", sender="warga")  # nothing to read: quarantined
    kanal_.poll_channel("fake")
    with kanal_.engine.connect() as conn:
        (item,) = conn.execute(select(InboxItem.__table__.c.id)).scalars().all()
    with writing(kanal_.engine) as conn:
        conn.execute(OutboxItem.__table__.insert().values(
            channel="fake", recipient="warga", text="Nomor laporan", kind="ack",
            status="dead", attempts=8, next_attempt_at=utcnow(), created_at=utcnow()))
    status = json.loads(ok(env, "channels", "status", "--json"))
    fake_row = next(r for r in status if r["id"] == "fake")
    assert fake_row["quarantined"] == 1 and fake_row["outbox"]["dead"] == 1
    assert not fake_row["healthy"]
    assert status.index(fake_row) < next(i for i, r in enumerate(status) if r["healthy"])
    assert "quarantined" in ok(env, "channels", "status")
    refused = kanal(env, "inbox", "discard", str(item), "--reason", " ")
    assert refused.returncode == 2 and "a reason is required" in refused.stderr
    assert "discarded" in ok(env, "inbox", "discard", str(item), "--reason", "uji kosong")
    again = kanal(env, "inbox", "discard", str(item), "--reason", "lagi")
    assert again.returncode == 2 and "not quarantined" in again.stderr
    assert "queued 1" in ok(env, "outbox", "retry")
    trail = json.loads(ok(env, "audit", "list", "--json"))
    assert [(e["action"], e["actor"]) for e in trail] == [("retry", "sari"),
                                                          ("discard", "sari")]

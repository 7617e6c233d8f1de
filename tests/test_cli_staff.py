"""``kanal staff`` and ``kanal offices``, run as a subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core import staff, tokens
from core.db import make_engine, writing
from tests.conftest import FIXTURES
from tests.test_cli import REPO

PASSWORD = "kata-sandi-rahasia"


def run_kanal(*args: str, env: dict, stdin: str | None = None):
    # tests.test_cli.run_kanal, with a password on stdin
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], check=False,
                          capture_output=True, text=True, env={**os.environ, **env}, cwd=REPO,
                          timeout=120, input=stdin if stdin is not None else "")


def kanal_ok(*args: str, env: dict, stdin: str | None = None) -> str:
    out = run_kanal(*args, env=env, stdin=stdin)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def cli_env(database_url, tmp_path):
    return {"KANAL_DATABASE_URL": database_url,
            "KANAL_CONFIG": str(FIXTURES / "channels.yaml"),
            "KANAL_BOUNDARIES": str(FIXTURES / "boundaries_small.geojson"),
            "KANAL_DATA_DIR": str(tmp_path / "data")}


def accounts(env) -> dict[str, dict]:
    return {a["username"]: a for a in json.loads(kanal_ok("staff", "list", "--json", env=env))}


def sign_in(database_url, password):
    engine = make_engine(database_url)
    try:
        with writing(engine) as conn:
            return staff.authenticate(conn, "ani", password)
    finally:
        engine.dispose()


def test_counter_account_from_add_to_new_password(cli_env, database_url):
    out = kanal_ok("staff", "add", "Ani", "--role", "counter", "--office",
                   "kelurahan-31.71.01.1001", "--name", "Ani Lestari", "--password-stdin",
                   env=cli_env, stdin=PASSWORD + "\n")
    assert out == "added counter account ani at kelurahan-31.71.01.1001\n"
    assert accounts(cli_env)["ani"] == {
        "username": "ani", "display_name": "Ani Lestari", "role": "counter",
        "office_id": "kelurahan-31.71.01.1001", "unit_id": None, "active": True,
        "tokens": 0, "last_login_at": None}
    assert sign_in(database_url, PASSWORD) is not None

    assert "disabled staff account ani" in kanal_ok("staff", "disable", "ani", env=cli_env)
    assert accounts(cli_env)["ani"]["active"] is False
    assert sign_in(database_url, PASSWORD) is None
    assert "enabled staff account ani" in kanal_ok("staff", "enable", "ani", env=cli_env)
    assert accounts(cli_env)["ani"]["active"] is True

    assert "new password for ani" in kanal_ok("staff", "passwd", "ani", "--password-stdin",
                                              env=cli_env, stdin="kata-sandi-baru-1\n")
    assert sign_in(database_url, PASSWORD) is None
    assert sign_in(database_url, "kata-sandi-baru-1") is not None
    table = kanal_ok("staff", "list", env=cli_env).splitlines()
    assert table[0].split() == ["USERNAME", "ROLE", "OFFICE_ID", "UNIT_ID", "ACTIVE",
                                "TOKENS", "LAST_LOGIN_AT", "DISPLAY_NAME"]
    assert table[1].split()[:4] == ["ani", "counter", "kelurahan-31.71.01.1001", "yes"]

    taken = run_kanal("staff", "add", "ani", "--role", "admin", "--password-stdin",
                      env=cli_env, stdin=PASSWORD + "\n")
    assert taken.returncode == 2 and "the username 'ani' is taken" in taken.stderr


def test_offices_list_and_add(cli_env):
    listed = json.loads(kanal_ok("offices", "list", "--json", env=cli_env))
    assert [o["id"] for o in listed][:4] == [
        "pendopo", "walikota-31.71", "walikota-31.72", "inspektorat"]
    assert len(listed) == 12
    assert listed[0] == {"id": "pendopo", "kind": "pendopo", "area_code": "31",
                         "name": "Pendopo Balai Kota", "active": True,
                         "channel": "pendopo-balai-kota"}

    out = kanal_ok("offices", "add", "posko-banjir", "--kind", "kelurahan", "--name",
                   "Posko Banjir Alfa", "--area", "31.71.01.1001", env=cli_env)
    assert out == "added office posko-banjir (kelurahan, area 31.71.01.1001): Posko Banjir Alfa\n"
    lines = kanal_ok("offices", "list", "--kind", "kelurahan", env=cli_env).splitlines()
    assert lines[0].split() == ["ID", "KIND", "AREA_CODE", "NAME"]
    assert lines[2].split()[:2] == ["posko-banjir", "kelurahan"]
    assert lines[-1] == "6 office(s)"
    # the next sync (every offices/staff command) keeps it
    assert kanal_ok("staff", "add", "ani", "--role", "counter", "--office", "posko-banjir",
                    "--password-stdin", env=cli_env, stdin=PASSWORD + "\n")


def test_a_fresh_database_is_migrated_and_gets_its_offices(tmp_path, cli_env):
    env = {**cli_env, "KANAL_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    assert kanal_ok("staff", "add", "ani", "--role", "counter", "--office",
                    "kelurahan-31.72.01.1002", "--password-stdin", env=env,
                    stdin=PASSWORD + "\n")
    assert kanal_ok("offices", "list", env=env).splitlines()[-1] == "12 office(s)"


@pytest.mark.parametrize("args, stdin, message", [
    (["staff", "add", "ani", "--role", "boss", "--password-stdin"], PASSWORD,
     "kanal: unknown role 'boss'; roles: admin, operator, counter, officer, supervisor"),
    (["staff", "add", "ani", "--role", "counter", "--password-stdin"], PASSWORD,
     "a counter account needs --office"),
    (["staff", "add", "ani", "--role", "counter", "--office", "kelurahan-9",
      "--password-stdin"], PASSWORD, "no office 'kelurahan-9'"),
    (["staff", "add", "ani", "--role", "admin", "--password-stdin"], "pendek",
     "at least 10 characters"),
    (["staff", "add", "ani", "--role", "admin", "--password-stdin"], "",
     "no password on stdin"),
    (["staff", "disable", "budi"], None, "no staff account 'budi'"),
    (["staff", "token", "budi"], None, "no staff account 'budi'"),
    (["staff", "token", "budi", "--revoke"], None, "no staff account 'budi'"),
    (["offices", "add", "posko", "--kind", "kelurahan", "--name", "P", "--area", "3171"],
     None, "area code '3171' is not a Kemendagri code"),
    (["offices", "add", "pendopo", "--kind", "pendopo", "--name", "P"], None,
     "the office id 'pendopo' is taken"),
    (["offices", "add", "posko", "--kind", "posko", "--name", "P"], None,
     "Invalid value for '--kind': 'posko' is not one of 'pendopo', 'walikota',"),
], ids=["unknown-role", "counter-without-office", "unknown-office", "short-password",
        "no-password", "unknown-account", "token-unknown-account",
        "revoke-unknown-account", "bad-area", "office-taken", "unknown-kind"])
def test_errors_exit_2_with_the_reason(cli_env, args, stdin, message):
    out = run_kanal(*args, env=cli_env, stdin=None if stdin is None else stdin + "\n")
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def token_account(database_url, token):
    engine = make_engine(database_url)
    try:
        with writing(engine) as conn:
            return tokens.authenticate(conn, token)
    finally:
        engine.dispose()


def audit_events(env) -> list[dict]:
    return json.loads(kanal_ok("audit", "list", "--json", env=env))


def test_api_token_made_shown_once_and_revoked(cli_env, database_url):
    kanal_ok("staff", "add", "tono", "--role", "admin", "--password-stdin", env=cli_env,
             stdin=PASSWORD + "\n")
    env = {**cli_env, "KANAL_ACTOR": "ops:sari"}
    made = run_kanal("staff", "token", "Tono", env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.removesuffix("\n")
    assert made.stdout == token + "\n" and token.startswith("kanal_") and "\n" not in token
    assert "shown only this once" in made.stderr and token not in made.stderr
    assert token_account(database_url, token).username == "tono"
    second = kanal_ok("staff", "token", "tono", env=env).strip()
    assert second != token and accounts(cli_env)["tono"]["tokens"] == 2
    table = kanal_ok("staff", "list", env=cli_env).splitlines()
    assert table[1].split()[:4] == ["tono", "admin", "yes", "2"]  # no office, no unit

    issued = [e for e in audit_events(cli_env) if e["action"] == "token_issued"]
    assert [(e["actor"], e["detail"]) for e in issued] == [("ops:sari", "staff account tono")] * 2

    out = kanal_ok("staff", "token", "tono", "--revoke", env=env)
    assert out == "revoked 2 token(s) of staff account tono\n"
    assert token_account(database_url, token) is None
    assert token_account(database_url, second) is None
    assert accounts(cli_env)["tono"]["tokens"] == 0
    assert kanal_ok("staff", "token", "tono", "--revoke", env=env) == (
        "revoked 0 token(s) of staff account tono\n")
    events = audit_events(cli_env)
    assert [e["detail"] for e in events if e["action"] == "token_revoked"] == [
        "staff account tono: 0 token(s)", "staff account tono: 2 token(s)"]
    assert not any(t in json.dumps(events) for t in (token, second))


def test_a_disabled_account_gets_no_token(cli_env, database_url):
    kanal_ok("staff", "add", "tono", "--role", "admin", "--password-stdin", env=cli_env,
             stdin=PASSWORD + "\n")
    kanal_ok("staff", "disable", "tono", env=cli_env)
    out = run_kanal("staff", "token", "tono", env=cli_env)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.strip() == ("kanal: the staff account 'tono' is disabled: "
                                  "enable it first (kanal staff enable)")
    assert accounts(cli_env)["tono"]["tokens"] == 0
    assert not [e for e in audit_events(cli_env) if e["action"] == "token_issued"]

"""The kanal command, run as a user runs it (a subprocess), against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core import tracking

REPO = Path(__file__).resolve().parents[1]


def run_kanal(*args: str, env: dict | None = None, cwd: Path | None = None):
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True,
                          text=True, env=full, cwd=cwd or REPO, timeout=120)


def test_channels_list_json_shows_the_13_official_channels_and_telegram(tmp_path):
    env = {"KANAL_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}",
           "KANAL_JAKI_API_KEY": "k"}
    out = run_kanal("channels", "list", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)
    for item in items:
        assert {"id", "official_channel", "adapter", "state", "reason"} <= set(item)
        assert item["state"] in ("ready", "disabled")
        assert (item["reason"] == "") == (item["state"] == "ready")
    numbers = {i["official_channel_number"] for i in items if i["official_channel_number"]}
    assert numbers == set(range(1, 14))
    assert any(i["adapter"] == "telegram" for i in items)
    by_id = {i["id"]: i for i in items}
    assert by_id["jaki"]["state"] == "ready" and by_id["web"]["state"] == "ready"
    walk_in = [i for i in items if i["adapter"] == "walk_in"]
    assert sorted(i["official_channel_number"] for i in walk_in) == [9, 10, 11, 12, 13]
    assert all(i["state"] == "ready" for i in walk_in)
    assert "KANAL_LAPOR_BASE_URL" in by_id["lapor"]["reason"]
    assert "KANAL_TELEGRAM_BOT_TOKEN" in by_id["telegram"]["reason"]


def test_channels_check_names_the_missing_secret(tmp_path):
    env = {"KANAL_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}",
           "KANAL_JAKI_API_KEY": ""}
    out = run_kanal("channels", "check", env=env, cwd=tmp_path)
    assert out.returncode == 0
    assert "KANAL_JAKI_API_KEY" in out.stdout
    assert "channels ready" in out.stdout
    assert "case_engine: kanal_locate, kanal_report_created" in out.stdout


@pytest.fixture
def cli_env(database_url, tmp_path):
    return {"KANAL_DATABASE_URL": database_url, "KANAL_JAKI_API_KEY": "k",
            "KANAL_CONFIG": str(REPO / "tests" / "fixtures" / "channels.yaml"),
            "KANAL_DATA_DIR": str(tmp_path / "data")}


def test_db_upgrade_inbox_replay_and_report_show(cli_env, kanal, fake, tmp_path):
    assert kanal_ok("db", "upgrade", env=cli_env)
    # a payload committed to the inbox but never processed (a crash)
    kanal.ingestor.after_inbox_commit = lambda ids: (_ for _ in ()).throw(SystemExit())
    fake.push("Lampu mati", sender="warga-3")
    with pytest.raises(SystemExit):
        kanal.poll_channel("fake")
    listed = json.loads(kanal_ok("inbox", "list", "--status", "pending", "--json", env=cli_env))
    assert [i["channel"] for i in listed] == ["fake"]
    assert "processed 1" in kanal_ok("inbox", "replay", env=cli_env)
    listed = json.loads(kanal_ok("inbox", "list", "--json", env=cli_env))
    assert listed[0]["status"] == "processed" and listed[0]["report_id"]
    from sqlalchemy import select

    from core.models import Report
    with kanal.engine.connect() as conn:
        compact = conn.execute(select(Report.__table__.c.tracking_id)).scalar_one()
    shown = json.loads(kanal_ok("report", "show", tracking.display(compact).lower(),
                                env=cli_env))
    assert shown["tracking_id"] == tracking.display(compact)
    assert shown["reporter"]["identities"] == [{"kind": "fake", "handle": "warga-3"}]
    bad = run_kanal("report", "show", compact[:-1] + ("2" if compact[-1] != "2" else "3"),
                env=cli_env)
    assert bad.returncode == 2 and "periksa kembali" in bad.stderr


def test_quarantined_payloads_can_be_replayed(cli_env, kanal):
    from core import inbox
    from core.adapter import Envelope
    with kanal.engine.begin() as conn:
        inbox.write(conn, [Envelope("fake", "q1", b'{"id": "q1"}')])
    kanal.replay()
    assert "quarantined 1" in kanal_ok("inbox", "replay", "--quarantined", env=cli_env)


def kanal_ok(*args, env):
    out = run_kanal(*args, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_secrets_may_come_from_a_dot_env_file(tmp_path):
    (tmp_path / ".env").write_text("KANAL_JAKI_API_KEY=from-dotenv\n")
    env = {k: v for k, v in os.environ.items() if k != "KANAL_JAKI_API_KEY"}
    env["KANAL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    out = subprocess.run([sys.executable, "-m", "gateway.cli", "channels", "list", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    jaki = next(i for i in json.loads(out.stdout) if i["id"] == "jaki")
    assert jaki["state"] == "ready"


@pytest.fixture
def many_offices(tmp_path):
    """A database with more offices than a pipe holds (64 KiB), so a reader that stops
    early really breaks the pipe."""
    from sqlalchemy import insert

    from core.db import make_engine, upgrade
    from core.models import Office, utcnow

    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Office.__table__), [
            {"id": f"posko-{i:05d}", "kind": "kelurahan", "area_code": "31.71.01.1001",
             "name": f"Posko pengaduan sementara nomor {i:05d}", "active": True,
             "created_at": utcnow()} for i in range(3000)])
    engine.dispose()
    return {"KANAL_DATABASE_URL": url, "KANAL_JAKI_API_KEY": "k"}


@pytest.mark.parametrize("args", [["offices", "list"], ["offices", "list", "--json"]],
                         ids=["table", "json"])
def test_a_reader_that_stops_early_gets_no_traceback(many_offices, tmp_path, args):
    """``kanal offices list | head -1``: the first line, then a quiet exit."""
    env = {**os.environ, **many_offices}
    kanal = " ".join([sys.executable, "-m", "gateway.cli", *args])
    out = subprocess.run(["bash", "-c", f"set -o pipefail; {kanal} | head -1"],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert out.stdout.splitlines() and len(out.stdout.splitlines()) == 1
    assert "Traceback" not in out.stderr and "BrokenPipeError" not in out.stderr, out.stderr
    assert out.stderr == ""
    assert out.returncode == 141  # 128 + SIGPIPE, as for any other command cut short


def test_report_show_names_the_category_and_the_areas(cli_env, client, jaki_auth):
    """As the public view does: the category's name, the kecamatan and kota names (from
    the boundaries), and for staff the app's own category name."""
    r = client.post("/api/v1/jaki/reports", headers=jaki_auth, json={
        "external_id": "show-1", "text": "Lampu mati", "category": "Lampu Penerangan Jalan Umum",
        "location": {"lat": -6.205, "lon": 106.805}})
    assert r.status_code == 201, r.text
    tid = r.json()["tracking_id"]
    env = {**cli_env, "KANAL_BOUNDARIES": str(REPO / "tests" / "fixtures" /
                                              "boundaries_small.geojson")}
    shown = json.loads(kanal_ok("report", "show", tid, env=env))
    public = client.get(f"/api/v1/reports/{tid}").json()
    assert shown["category"] == public["category"] == {"id": "lampu-jalan",
                                                       "name": "Lampu jalan mati"}
    assert shown["kelurahan"] == public["kelurahan"] == {"code": "31.71.01.1001", "name": "Alfa"}
    assert shown["kecamatan"] == public["kecamatan"] == {"code": "31.71.01", "name": "Satu"}
    assert shown["kota"] == public["kota"] == {"code": "31.71", "name": "Kota Uji Pusat"}
    assert shown["source_category"] == "Lampu Penerangan Jalan Umum"


def test_channels_check_shows_a_channel_held_back_by_its_provider(cli_env, database_url):
    from datetime import datetime, timezone

    from core.db import make_engine, upgrade, writing
    from core.health import record_rate_limit

    upgrade(database_url)
    engine = make_engine(database_url)
    with writing(engine) as conn:
        record_rate_limit(conn, "jaki", datetime(2026, 12, 1, 1, 10, tzinfo=timezone.utc),
                          now=datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc))
    engine.dispose()
    out = run_kanal("channels", "check", env=cli_env)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if " jaki " in l)
    assert "health degraded: rate limited until 08:10 WIB (08:00 WIB, 01-12-2026)" in line
    listed = json.loads(run_kanal("channels", "list", "--json", env=cli_env).stdout)
    assert next(c for c in listed if c["id"] == "jaki")["health"]["health"] == "degraded"

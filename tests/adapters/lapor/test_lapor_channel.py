"""The lapor channel as an operator meets it: ready from the shipped config with its five
variables, disabled with the reason for a missing variable or a wrong mapping file, the
token refused while polling, and ``kanal channels list``/``test`` without the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import yaml

from core.health import get_cursor, get_health
from gateway.logs import channel_secrets
from gateway.scheduler import poll_job
from tests.adapters.lapor.conftest import REPO, TOKEN, channels_file, lapor_env
from tests.adapters.lapor.flows import CHANNEL, add_alfa, reports
from tests.helpers import assert_no_secret, variant

VARIABLES = ("KANAL_LAPOR_BASE_URL", "KANAL_LAPOR_TOKEN", "KANAL_LAPOR_AGENCY_ID",
             "KANAL_LAPOR_POLL_SECONDS", "KANAL_LAPOR_MAPPING")
REQUIRED = VARIABLES[:3]
WRONG_TOKEN = "revoked-lapor-token-0123456789"


def test_ready_from_the_shipped_config_with_the_five_variables(lapor_kanal, standin, contract):
    env = lapor_env(standin, contract[1])
    assert set(VARIABLES) <= set(env)
    kanal = lapor_kanal(env)
    status = kanal.channel(CHANNEL)
    assert status.state == "ready", status.reason
    assert status.official.id == "lapor-1708" and status.official.number == 8
    adapter = kanal.adapters[CHANNEL]
    assert adapter.settings.base_url == standin.base_url
    assert adapter.settings.poll_interval_seconds == 60
    assert adapter.mapping.paths.list == standin.names["paths"]["list"]
    assert TOKEN in channel_secrets(kanal)  # redacted from every log line


@pytest.mark.parametrize("name", REQUIRED)
def test_each_missing_variable_disables_the_channel_naming_it(
        lapor_kanal, standin, contract, name):
    env = lapor_env(standin, contract[1])
    del env[name]
    status = lapor_kanal(env).channel(CHANNEL)
    assert status.state == "disabled"
    assert name in status.reason
    assert [n for n in REQUIRED if n in status.reason] == [name]


def _break(data: dict, how: str) -> str | None:
    """Change a copy of a mapping as ``how`` says; the text the reason must hold."""
    if how == "follow_up_without_tracking_id":
        data["paths"]["follow_up"] = data["paths"]["follow_up"].replace("{tracking_id}", "x")
        return "{tracking_id}"
    if how == "missing_status":
        del data["statuses"]["Menunggu Verifikasi"]
        return "no LAPOR! status for Menunggu Verifikasi"
    if how == "unknown_section":
        data["webhooks"] = {"url": "/hook"}
        return "webhooks"
    if how == "unknown_field":
        data["complaint"]["nomor_tiket"] = "ticket"
        return "complaint.nomor_tiket"
    if how == "unknown_category":
        data["categories"] = {**data.get("categories", {}), "Pajak": "pajak-daerah"}
        return "'pajak-daerah'"
    if how == "empty_name":
        data["complaint"]["title"] = "lokasi..judul"
        return "complaint.title"
    raise AssertionError(how)


BREAKS = ["follow_up_without_tracking_id", "missing_status", "unknown_section",
          "unknown_field", "unknown_category", "empty_name"]


@pytest.mark.parametrize("how", BREAKS + ["missing_file", "not_yaml", "not_a_mapping"])
def test_a_wrong_mapping_file_disables_the_channel_with_the_file_and_problem(
        lapor_kanal, standin, contract, tmp_path, how):
    path = tmp_path / f"lapor-{how}.yaml"
    if how == "missing_file":
        expected = "cannot be read"
    elif how == "not_yaml":
        path.write_text("paths: [list: /laporan\n")
        expected = "not YAML"
    elif how == "not_a_mapping":
        path.write_text("- paths\n- statuses\n")
        expected = "expected a mapping of sections"
    else:
        data = yaml.safe_load(contract[1].read_text())  # a fresh copy per test
        expected = _break(data, how)
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
    status = lapor_kanal(lapor_env(standin, path)).channel(CHANNEL)
    assert status.state == "disabled"
    assert str(path) in status.reason and expected in status.reason, status.reason
    assert standin.calls == []  # nothing asked of LAPOR! with a wrong contract


def test_the_same_file_unbroken_is_ready(lapor_kanal, standin, contract, tmp_path):
    """The copy the cases above break is itself fine: only the break disables."""
    path = tmp_path / "lapor-copy.yaml"
    path.write_text(yaml.safe_dump(yaml.safe_load(contract[1].read_text())))
    assert lapor_kanal(lapor_env(standin, path)).channel(CHANNEL).state == "ready"


def poll_through_job(kanal, standin) -> None:
    """``poll_job`` until it asked LAPOR!: on PostgreSQL its advisory lock is the whole
    database's, and another test process polling a ``lapor`` channel holds it a moment."""
    asked = len(standin.calls_of("list"))
    deadline = time.monotonic() + 10
    while True:
        poll_job(kanal, CHANNEL)
        if len(standin.calls_of("list")) > asked or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def test_a_token_refused_on_poll_shows_in_health_and_the_poller_backs_off(
        lapor_kanal, standin):
    kanal = lapor_kanal()
    add_alfa(standin)
    standin.token = WRONG_TOKEN
    poll_through_job(kanal, standin)
    with kanal.engine.connect() as conn:
        health = get_health(conn, CHANNEL)
    assert health.health == "failing"
    assert health.last_error.startswith("credentials: LAPOR! refused the token (HTTP 401)")
    assert TOKEN not in health.last_error
    held = kanal.poll_holds.remaining(CHANNEL, kanal.clock())
    assert held is not None and held >= 60
    asked = len(standin.calls_of("list"))
    kanal.clock.now += timedelta(seconds=held / 2)
    poll_job(kanal, CHANNEL)
    assert len(standin.calls_of("list")) == asked  # held back
    assert reports(kanal) == []
    standin.token = TOKEN  # the admin renewed it
    kanal.clock.now += timedelta(seconds=held)
    poll_through_job(kanal, standin)
    assert len(standin.calls_of("list")) == asked + 1
    assert len(reports(kanal)) == 1
    with kanal.engine.connect() as conn:
        assert get_health(conn, CHANNEL).health == "ok"


def run_kanal(env: dict[str, str], *args: str):
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=REPO, timeout=120)


@pytest.fixture
def cli_env(settings, standin, contract, tmp_path):
    return {**lapor_env(standin, contract[1]), "KANAL_DATABASE_URL": settings.database_url,
            "KANAL_CONFIG": str(channels_file(tmp_path)),
            "KANAL_DATA_DIR": str(tmp_path / "data")}


def test_kanal_channels_list_shows_lapor_ready(cli_env):
    out = run_kanal(cli_env, "channels", "list", "--json")
    assert out.returncode == 0, out.stderr
    lapor = next(c for c in json.loads(out.stdout) if c["id"] == CHANNEL)
    assert lapor["state"] == "ready" and lapor["reason"] == ""
    assert lapor["adapter"] == "lapor" and lapor["official_channel_number"] == 8
    assert TOKEN not in out.stdout + out.stderr
    gone = run_kanal({**cli_env, "KANAL_LAPOR_TOKEN": ""}, "channels", "list", "--json")
    lapor = next(c for c in json.loads(gone.stdout) if c["id"] == CHANNEL)
    assert lapor["state"] == "disabled" and "KANAL_LAPOR_TOKEN" in lapor["reason"]


def test_kanal_channels_test_lapor_passes_and_fails_without_the_token(cli_env, standin):
    out = run_kanal(cli_env, "channels", "test", CHANNEL, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["ok"] is True
    standin.token = "the-only-valid-token-now"
    refused = run_kanal({**cli_env, "KANAL_LAPOR_TOKEN": WRONG_TOKEN}, "channels", "test",
                        CHANNEL)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "401" in refused.stdout and "KANAL_LAPOR_TOKEN" in refused.stdout
    assert WRONG_TOKEN not in refused.stdout + refused.stderr


def test_the_connection_test_passes_and_fails_on_a_refused_token_without_leaking_it(
        lapor_kanal, standin):
    kanal = lapor_kanal()
    add_alfa(standin)
    passed = kanal.adapters[CHANNEL].test_connection()
    assert passed.ok, passed.as_dict()
    assert "1 complaints on the first page" in passed.checks[0].detail
    assert_no_secret(passed, TOKEN)
    wrong = variant(kanal.adapters[CHANNEL], token=WRONG_TOKEN)
    try:
        failed = wrong.test_connection()
    finally:
        wrong.close()
    assert not failed.ok
    [check] = failed.checks
    assert check.name == "token" and "HTTP 401" in check.detail
    assert_no_secret(failed, WRONG_TOKEN, TOKEN)
    assert not kanal.test_channel(CHANNEL, {"token": WRONG_TOKEN}).ok


def test_an_outage_while_polling_fails_the_poll_and_the_next_one_resumes_at_its_page(
        lapor_kanal, standin):
    kanal = lapor_kanal(max_pages=1)  # one page a round: the cursor names the next page
    standin.page_size = 2
    ids = [add_alfa(standin, judul=f"Genangan {i}") for i in range(5)]
    poll_through_job(kanal, standin)
    assert sorted(r.external_ref for r in reports(kanal)) == ids[:2]
    with kanal.engine.connect() as conn:
        assert json.loads(get_cursor(conn, CHANNEL))["page"] == 2
    standin.fail(503, times=1, kind="list")
    poll_through_job(kanal, standin)
    with kanal.engine.connect() as conn:
        health = get_health(conn, CHANNEL)
        assert json.loads(get_cursor(conn, CHANNEL))["page"] == 2  # not moved
    assert health.health == "failing" and "503" in health.last_error
    assert health.last_error.startswith("poll: ")
    for _ in range(2):
        poll_through_job(kanal, standin)
    assert sorted(r.external_ref for r in reports(kanal)) == ids
    with kanal.engine.connect() as conn:
        assert get_health(conn, CHANNEL).health == "ok"
        assert json.loads(get_cursor(conn, CHANNEL)) == {"since": f"c{standin.seq_of(ids[-1])}"}


def test_a_rate_limited_poll_is_held_until_retry_after(lapor_kanal, standin):
    kanal = lapor_kanal()
    add_alfa(standin)
    standin.fail(429, times=1, kind="list", retry_after=600)
    poll_through_job(kanal, standin)
    held = kanal.poll_holds.remaining(CHANNEL, kanal.clock())
    assert held == pytest.approx(600, abs=1)
    with kanal.engine.connect() as conn:
        assert get_health(conn, CHANNEL).health == "degraded"
    kanal.clock.now += timedelta(seconds=601)
    poll_through_job(kanal, standin)
    assert len(reports(kanal)) == 1

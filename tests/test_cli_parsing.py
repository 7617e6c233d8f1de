"""The ``kanal`` command's parsing and output, in process with Click's ``CliRunner``; and
the progress of ``kanal inbox replay`` on a real terminal (a pty)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading

import click
import pytest
from click.testing import CliRunner

from core import inbox, tracking
from core.adapter import Envelope
from core.db import make_engine, writing
from gateway.cli import cli, main
from tests.conftest import FIXTURES
from tests.test_cli import REPO

# every command that lists rows; each has --json, and a new one belongs here
LISTINGS = {("channels", "list"), ("channels", "check"), ("channels", "status"),
            ("inbox", "list"), ("outbox", "list"), ("staff", "list"), ("offices", "list"),
            ("audit", "list"), ("units", "list"), ("cases", "escalate")}
# --json on a command that reports one thing (tests/test_cli_console.py reads it)
JSON_NOT_LISTING = {("channels", "test")}


def commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


@pytest.fixture
def env(database_url, tmp_path):
    return {"KANAL_DATABASE_URL": database_url, "KANAL_JAKI_API_KEY": "k",
            "KANAL_CONFIG": str(FIXTURES / "channels.yaml"),
            "KANAL_BOUNDARIES": str(FIXTURES / "boundaries_small.geojson"),
            "KANAL_DATA_DIR": str(tmp_path / "data")}


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, prog_name="kanal")


@pytest.mark.parametrize("args, message", [
    (["bogus"], "No such command 'bogus'"),
    (["inbox", "list", "--bogus"], "No such option '--bogus'"),
    (["inbox", "list", "--status", "lost"], "'lost' is not one of 'pending', 'processed'"),
    (["outbox", "retry", "--id", "x"], "'x' is not a valid integer"),
    (["staff", "add", "ani"], "Missing option '--role'"),
    (["staff"], "Commands:"),
    (["bench", "nope"], "'nope' is not one of 'ack'"),
], ids=["command", "option", "choice", "integer", "required", "no-action", "bench"])
def test_a_usage_error_exits_2_with_the_usage(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: kanal ")
    assert message in result.stderr
    assert result.stdout == ""


def test_main_returns_the_exit_status(capsys):
    assert main(["bogus"]) == 2
    assert "No such command 'bogus'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "offices" in capsys.readouterr().out


def test_every_listing_has_json():
    with_json = {path for path, command in commands(cli)
                 if any(p.name == "as_json" for p in command.params)}
    assert with_json == LISTINGS | JSON_NOT_LISTING
    assert {path for path, _ in commands(cli) if path[-1] == "list"} <= with_json


@pytest.mark.parametrize("path", sorted(LISTINGS), ids=" ".join)
def test_json_of_every_listing_is_valid(env, database_url, path):
    with writing(make_engine(database_url)) as conn:
        inbox.write(conn, [Envelope("fake", "j1", b'{"id": "j1", "text": "Lampu mati"}')])
    result = invoke(*path, "--json", env=env)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert rows or path in {("outbox", "list"), ("staff", "list"), ("audit", "list"),
                            ("cases", "escalate")}
    assert all(isinstance(r, dict) for r in rows)


def test_a_table_off_a_terminal_is_neither_wrapped_nor_cropped_nor_coloured(env):
    name = "Posko pengaduan banjir " + "sangat panjang " * 12 + "[bold]akhir[/bold]"
    added = invoke("offices", "add", "posko-panjang", "--kind", "kelurahan", "--name", name,
                   env=env)
    assert added.exit_code == 0, added.output
    result = invoke("offices", "list", env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    (line,) = [l for l in lines if l.startswith("posko-panjang ")]
    assert line.endswith(f"  {name}")  # markup in the data is printed as it is
    assert "\x1b" not in result.stdout and "…" not in result.stdout
    assert all(l == l.rstrip() for l in lines)
    assert lines[-1] == "13 office(s)"


def test_report_show_exits_1_for_an_unknown_report_and_2_for_a_bad_id(env):
    unknown = invoke("report", "show", tracking.display(tracking.generate()), env=env)
    bad = invoke("report", "show", "nonsense", env=env)
    assert (unknown.exit_code, bad.exit_code) == (1, 2), unknown.output + bad.output
    assert "periksa kembali" in bad.stderr


def pending(database_url: str, first: int, count: int) -> None:
    engine = make_engine(database_url)
    with writing(engine) as conn:
        inbox.write(conn, [Envelope("fake", f"p{i}", json.dumps(
            {"id": f"p{i}", "from": f"warga-{i}", "text": "Lampu mati"}).encode())
            for i in range(first, first + count)])
    engine.dispose()


def test_inbox_replay_shows_its_progress_only_on_a_terminal(env, database_url):
    """Over more than one batch; stdout keeps its one line either way."""
    full = {**os.environ, **env}
    command = [sys.executable, "-m", "gateway.cli", "inbox", "replay"]
    pending(database_url, 0, 250)
    piped = subprocess.run(command, capture_output=True, text=True, env=full, cwd=REPO,
                           timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == ("processed 250; still pending 0 (channels not running); "
                            "quarantined 0\n")
    assert "replaying the inbox" not in piped.stderr

    pending(database_url, 250, 250)
    leader, follower = pty.openpty()
    seen = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the command ended and closed its end
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        on_tty = subprocess.run(command, stdout=subprocess.PIPE, stderr=follower, text=True,
                                env=full, cwd=REPO, timeout=300)
    finally:
        os.close(follower)
        reader.join(timeout=30)
        os.close(leader)
    assert on_tty.returncode == 0, seen.decode(errors="replace")
    assert on_tty.stdout == ("processed 250; still pending 0 (channels not running); "
                             "quarantined 0\n")
    drawn = seen.decode(errors="replace")
    assert "replaying the inbox" in drawn and "250/250" in drawn

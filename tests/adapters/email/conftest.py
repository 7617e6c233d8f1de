"""Fixtures for the email channel: one throwaway Dovecot per session, a fresh mailbox (a
new user) per test, and a kanal whose ``email`` channel reads that mailbox."""

from __future__ import annotations

import os
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml

from gateway.plugins import DEFAULT_PLUGINS
from tests.adapters.email import dovecot as dovecot_mod
from tests.adapters.email.dovecot import PASSWORD, Dovecot
from tests.adapters.email.smtpd import SmtpServer

FIXTURES = Path(__file__).parents[2] / "fixtures"
ADDRESS = "dki@jakarta.go.id"


def email_plugins() -> tuple[object, ...]:
    """The email plugin, unless kanal already registers it as a built-in."""
    from adapters.email import plugin

    installed = {e.name for e in entry_points(group="kanal")}
    return () if "email" in DEFAULT_PLUGINS or "email" in installed else (plugin,)


@pytest.fixture(scope="session")
def dovecot_server():
    reason = dovecot_mod.available()
    if reason:
        if os.environ.get("KANAL_REQUIRE_DOVECOT"):
            pytest.fail(f"KANAL_REQUIRE_DOVECOT is set but {reason}")
        pytest.skip(f"Dovecot tests skipped: {reason}")
    server = Dovecot().start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def smtp_session():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_session) -> SmtpServer:
    """The session's aiosmtpd server, emptied for this test."""
    smtp_session.clear()
    return smtp_session


class Mailbox:
    """One test's mailbox on the session's Dovecot."""

    def __init__(self, server: Dovecot):
        self.server = server
        self.user = server.add_user()

    def deliver(self, raw: bytes) -> None:
        self.server.deliver(self.user, raw)

    def client(self):
        from imapclient import IMAPClient

        c = IMAPClient(self.server.host, port=self.server.port, ssl=False, timeout=10)
        c.login(self.user, PASSWORD)
        return c


@pytest.fixture
def mailbox(dovecot_server) -> Mailbox:
    if not dovecot_server.pid_file.exists():  # an earlier test left it stopped
        dovecot_server.start()
    return Mailbox(dovecot_server)


def channels_file(tmp_path: Path, mailbox: Mailbox, smtp: SmtpServer, **extra) -> Path:
    fixtures = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump({
        "official_channels": fixtures["official_channels"] + [
            {"id": "email-dki", "number": 4, "name": "Email dki@jakarta.go.id"}],
        "channels": [{
            "id": "email", "official_channel": "email-dki", "adapter": "email",
            "settings": {"address": ADDRESS, "imap_host": mailbox.server.host,
                         "imap_port": mailbox.server.port, "imap_user": mailbox.user,
                         "imap_password": PASSWORD, "imap_tls": "none",
                         "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_tls": "none",
                         "timeout_seconds": 5, **extra},
        }],
    }))
    return path


@pytest.fixture
def email_kanal_factory(make_kanal, settings, tmp_path, mailbox, smtp_server):
    def build(**extra):
        s = settings.model_copy(update={"config": channels_file(tmp_path, mailbox,
                                                                smtp_server, **extra),
                                        "max_photo_bytes": 256 * 1024})
        return make_kanal(settings=s, extra_plugins=email_plugins())
    return build


@pytest.fixture
def email_kanal(email_kanal_factory):
    kanal = email_kanal_factory()
    status = kanal.channel("email")
    assert status.state == "ready", status.reason
    return kanal

"""``test_connection`` of the email channel against the throwaway Dovecot and the local
SMTP servers: one check per step (IMAP login, mailbox, SMTP greeting, SMTP login)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.adapters.email.dovecot import PASSWORD
from tests.adapters.email.smtpd import SmtpServer
from tests.helpers import assert_no_secret, closed_port, variant

SMTP_USER, SMTP_PASSWORD = "kanal", "smtp-Secret-2026"
WRONG = "not-the-Password"


@dataclass
class Case:
    label: str
    # changed on the channel; "{closed}" is a port nothing listens on, "{auth}" the port of
    # the SMTP server with AUTH
    settings: dict = field(default_factory=dict)
    checks: tuple[tuple[str, bool, str], ...] = ()


IMAP_OK = (("IMAP login", True, "logged in as"), ("IMAP mailbox", True, "INBOX holds 0 mails"))
SMTP_OK = ("SMTP server", True, "answered EHLO")
CASES = [
    Case("accepted", checks=(*IMAP_OK, SMTP_OK)),
    Case("accepted_with_smtp_login",
         settings={"smtp_port": "{auth}", "smtp_user": SMTP_USER, "smtp_password": SMTP_PASSWORD},
         checks=(*IMAP_OK, SMTP_OK, ("SMTP login", True, f"logged in as {SMTP_USER}"))),
    Case("wrong_imap_password", settings={"imap_password": WRONG},
         checks=(("IMAP login", False, "refused the login of"), SMTP_OK)),
    Case("missing_mailbox", settings={"mailbox": "Laporan"},
         checks=(("IMAP login", True, ""), ("IMAP mailbox", False, "cannot open the mailbox "
                                                                   "'Laporan'"), SMTP_OK)),
    Case("imap_unreachable", settings={"imap_port": "{closed}"},
         checks=(("IMAP login", False, "connection was refused"), SMTP_OK)),
    Case("imap_tls_on_a_plain_port", settings={"imap_tls": "ssl"},
         checks=(("IMAP login", False, "is imap_tls: ssl right for that port?"), SMTP_OK)),
    Case("imap_starttls_not_offered", settings={"imap_tls": "starttls"},
         checks=(("IMAP login", False, "does not support STARTTLS capability; check imap_tls"),
                 SMTP_OK)),
    Case("wrong_smtp_host", settings={"smtp_host": "smtp.kanal.invalid"},
         checks=(*IMAP_OK, ("SMTP server", False, "cannot reach the SMTP server at "
                                                   "smtp.kanal.invalid:"))),
    Case("smtp_unreachable", settings={"smtp_port": "{closed}"},
         checks=(*IMAP_OK, ("SMTP server", False, "connection was refused"))),
    Case("wrong_smtp_password",
         settings={"smtp_port": "{auth}", "smtp_user": SMTP_USER, "smtp_password": WRONG},
         checks=(*IMAP_OK, SMTP_OK, ("SMTP login", False, "refused the login of kanal"))),
    Case("smtp_without_auth", settings={"smtp_user": SMTP_USER, "smtp_password": WRONG},
         checks=(*IMAP_OK, SMTP_OK, ("SMTP login", False, "offers no login"))),
    Case("no_smtp_host", settings={"smtp_host": None},
         checks=(*IMAP_OK, ("SMTP server", False, "smtp_host (KANAL_SMTP_HOST) is not set"))),
]


@pytest.fixture(scope="module")
def smtp_auth():
    server = SmtpServer(login=(SMTP_USER, SMTP_PASSWORD)).start()
    yield server
    server.stop()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_connection(case: Case, email_kanal, smtp_auth):
    ports = {"{closed}": closed_port(), "{auth}": smtp_auth.port}
    changes = {k: ports.get(v, v) if isinstance(v, str) else v for k, v in case.settings.items()}
    result = variant(email_kanal.adapters["email"], **changes).test_connection()
    assert [(c.name, c.ok) for c in result.checks] == [(n, ok) for n, ok, _ in case.checks], \
        result.as_dict()
    for check, (_, _, words) in zip(result.checks, case.checks):
        assert words in check.detail, check.detail
    assert_no_secret(result, PASSWORD, SMTP_PASSWORD, WRONG)

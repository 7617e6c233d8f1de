"""adapters.email.loops: who gets an acknowledgement, and how often."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adapters.email.loops import AckLimiter, should_acknowledge
from adapters.email.parse import parse_mail

DATA = Path(__file__).parent / "testdata"
OWN = {"dki@jakarta.go.id"}


@pytest.mark.parametrize("name, allowed, reason", [
    pytest.param("plain_text", True, "", id="citizen_allowed"),
    pytest.param("auto_submitted_no", True, "", id="auto_submitted_no_allowed"),
    pytest.param("auto_reply", False, "Auto-Submitted", id="auto_reply"),
    pytest.param("precedence_bulk", False, "Precedence", id="precedence_bulk"),
    pytest.param("mailing_list", False, "mailing list", id="list_id"),
    pytest.param("mailer_daemon", False, "system sender", id="mailer_daemon"),
    pytest.param("no_reply_sender", False, "system sender", id="no_reply"),
    pytest.param("own_address", False, "own address", id="own_address"),
    pytest.param("dsn_bounce", False, "delivery status", id="dsn"),
])
def test_should_acknowledge(name: str, allowed: bool, reason: str) -> None:
    mail = parse_mail((DATA / f"{name}.eml").read_bytes(), max_attachment_bytes=1000)
    ok, why = should_acknowledge(mail, own_addresses=OWN)
    assert ok is allowed and reason in why and (why == "") is allowed


@pytest.mark.parametrize("address, allowed", [
    pytest.param("MAILER-DAEMON@x.example", False, id="mailer_daemon_upper"),
    pytest.param("mailer_daemon@x.example", False, id="mailer_daemon_underscore"),
    pytest.param("postmaster@x.example", False, id="postmaster"),
    pytest.param("noreply@x.example", False, id="noreply"),
    pytest.param("no-reply@x.example", False, id="no_dash_reply"),
    pytest.param("no.reply+bills@x.example", False, id="no_dot_reply_tagged"),
    pytest.param("DoNotReply@x.example", False, id="donotreply"),
    pytest.param("do_not_reply@x.example", False, id="do_not_reply"),
    pytest.param("noreply2@x.example", False, id="noreply_numbered"),
    pytest.param("nora@x.example", True, id="nora"),
    pytest.param("replyall@x.example", True, id="replyall"),
    pytest.param("postmasterpiece@x.example", True, id="word_prefix"),
    pytest.param("Dki@Jakarta.Go.Id", False, id="own_address_any_case"),
])
def test_sender_roles(address: str, allowed: bool) -> None:
    base = parse_mail((DATA / "plain_text.eml").read_bytes(), max_attachment_bytes=1000)
    mail = dataclasses.replace(base, from_address=address)
    assert should_acknowledge(mail, own_addresses=OWN)[0] is allowed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ack_limiter_allows_n_then_refuses_per_sender_and_refills() -> None:
    clock = Clock()
    limiter = AckLimiter(3, clock)
    assert [limiter.allow("budi@example.com") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("BUDI@example.com") is False  # the same sender in another case
    assert limiter.allow("siti@example.com") is True
    clock.now += 1200  # an hour / 3: one ack back
    assert [limiter.allow("budi@example.com") for _ in range(2)] == [True, False]
    clock.now += 10 * 3600  # never more than the hourly allowance at once
    assert [limiter.allow("budi@example.com") for _ in range(4)] == [True, True, True, False]


def test_ack_limiter_memory_is_bounded() -> None:
    limiter = AckLimiter(1, Clock(), max_senders=50)
    for i in range(500):
        assert limiter.allow(f"warga{i}@example.com")
    assert len(limiter) == 50
    assert limiter.allow("warga499@example.com") is False  # recent senders are kept


def test_ack_limiter_rejects_zero() -> None:
    with pytest.raises(ValueError):
        AckLimiter(0, Clock())

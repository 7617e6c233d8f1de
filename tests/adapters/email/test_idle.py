"""IMAP IDLE: mail delivered by dovecot-lda becomes a report within seconds, through the
same workers ``kanal serve`` runs, and the watcher survives the server going away."""

from __future__ import annotations

import time

import pytest

from core.models import InboxItem, Report
from gateway.scheduler import build_workers
from tests.helpers import flat_workers
from tests.adapters.email.test_imap import count, mail

# so long that only IDLE can explain a report arriving in time
NO_POLLS = 3600


def wait_for(kanal, table, n: int, timeout: float) -> float:
    """Seconds until ``table`` holds ``n`` rows; fails after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if count(kanal, table) >= n:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"{count(kanal, table)} of {n} rows after {timeout} s")


@pytest.fixture
def running(email_kanal_factory):
    """A kanal with its background workers running (poller, watcher, dispatcher)."""
    started = []

    def start(**extra):
        kanal = email_kanal_factory(poll_interval_seconds=NO_POLLS, **extra)
        assert kanal.channel("email").state == "ready"
        workers = build_workers(kanal)
        started.append(workers)
        names = [w.name for w in flat_workers(workers)]
        assert "poll:email" in names and "watch:email" in names
        return kanal

    yield start
    for workers in started:
        for worker in workers:
            worker.stop()


def test_idle_turns_a_delivered_mail_into_a_report_in_under_2_s(running, mailbox):
    kanal = running()
    wait_for(kanal, InboxItem, 0, 5)
    time.sleep(0.5)  # the watcher is connected and idling (its first poll found nothing)
    mailbox.deliver(mail(1))
    assert wait_for(kanal, Report, 1, 10) < 2.0


def test_idle_is_renewed_and_keeps_working(running, mailbox):
    kanal = running(idle_renew_seconds=0.3)
    time.sleep(1.2)  # several IDLE commands renewed
    mailbox.deliver(mail(1))
    assert wait_for(kanal, Report, 1, 10) < 2.0
    time.sleep(0.7)
    mailbox.deliver(mail(2))
    assert wait_for(kanal, Report, 2, 10) < 2.0


def test_watcher_reconnects_after_an_outage_and_ingests_everything_once(running, mailbox):
    kanal = running()
    mailbox.deliver(mail(1))
    wait_for(kanal, Report, 1, 10)
    mailbox.server.stop()  # in the middle of the IDLE session
    try:
        time.sleep(1.5)  # the watcher notices and starts backing off
        for n in (2, 3, 4):
            mailbox.deliver(mail(n))
    finally:
        mailbox.server.start()
    # no poll is due for an hour: only the watcher's reconnection can bring these in
    wait_for(kanal, Report, 4, 30)
    time.sleep(0.5)
    assert count(kanal, Report) == 4 and count(kanal, InboxItem) == 4
    mailbox.deliver(mail(5))  # and it is idling again
    wait_for(kanal, Report, 5, 10)


def test_without_idle_there_is_no_watcher(email_kanal_factory):
    kanal = email_kanal_factory(idle=False)
    names = [w.name for w in flat_workers(build_workers(kanal, start=False))]
    assert "poll:email" in names and "watch:email" not in names

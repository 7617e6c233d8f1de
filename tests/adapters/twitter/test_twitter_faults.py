"""X holding the channel back: a 429 storm and a revoked token show on the channel's
health, the poller waits (on a simulated clock), and the other channels carry on."""

from __future__ import annotations

from datetime import timedelta

from core.models import Report
from gateway.scheduler import Pollers, build_workers, poll_job
from tests.adapters.twitter.conftest import CHANNEL, START, bundle, count, drain, health


def test_a_429_storm_holds_the_x_poller_until_the_reset_while_sms_acks_go_out(
        x_kanal, fake_x, clock):
    kanal = x_kanal()
    fake = kanal.adapters["fake"]
    fake_x.limit_until(START + timedelta(minutes=10))
    fake_x.add(bundle("happy_mention.json"))
    pollers = next(w for w in build_workers(kanal, start=False) if isinstance(w, Pollers))
    poller = pollers.worker(CHANNEL)
    for minute in range(10):
        poll_job(kanal, CHANNEL)
        row = health(kanal)
        assert (row.health, row.last_error) == ("degraded", "rate limited until 08:10 WIB")
        # the poller sleeps until X's reset, not its 30 s interval
        assert poller.pause() == 600 - minute * 60
        fake.push(f"Sampah menumpuk di gang {minute}", sender=f"warga-{minute}")
        poll_job(kanal, "fake")
        drain(kanal)
        assert len(fake.sent) == minute + 1 and fake.sent[-1].kind == "ack"
        clock.advance(60)
    assert len(fake_x.mention_calls()) == 1  # X was asked once, then left alone
    poll_job(kanal, CHANNEL)
    assert len(fake_x.mention_calls()) == 2 and poller.pause() is None
    assert health(kanal).health == "ok"
    drain(kanal)
    assert count(kanal, Report) == 11 and len(fake_x.posted) == 1


def test_a_429_on_the_reply_is_retried_after_the_reset(x_kanal, fake_x, clock):
    kanal = x_kanal()
    fake_x.add(bundle("happy_mention.json"))
    kanal.poll_channel(CHANNEL)
    fake_x.limit_until(START + timedelta(minutes=15))
    drain(kanal)
    assert fake_x.posted == []
    clock.advance(14 * 60)
    assert drain(kanal) == 0  # not due before X's reset
    clock.advance(61)
    drain(kanal)
    assert len(fake_x.posted) == 1


def test_a_revoked_token_shows_as_a_credential_problem_and_the_poller_backs_off(
        x_kanal, fake_x, clock):
    kanal = x_kanal()
    fake_x.fail(401, times=3)
    poll_job(kanal, CHANNEL)
    row = health(kanal)
    assert row.health == "failing" and row.last_error.startswith("credentials: ")
    assert "HTTP 401" in row.last_error
    assert kanal.poll_holds.remaining(CHANNEL, clock()) == 60  # twice the 30 s interval
    poll_job(kanal, CHANNEL)
    assert len(fake_x.mention_calls()) == 1
    clock.advance(60)
    poll_job(kanal, CHANNEL)
    assert kanal.poll_holds.remaining(CHANNEL, clock()) == 120  # doubled
    clock.advance(120)
    poll_job(kanal, CHANNEL)
    clock.advance(240)
    fake_x.add(bundle("happy_mention.json"))
    poll_job(kanal, CHANNEL)  # the token was renewed
    assert health(kanal).health == "ok" and count(kanal, Report) == 1
    assert kanal.poll_holds.remaining(CHANNEL, clock()) is None


def test_a_gap_longer_than_a_poll_reads_back_shows_on_health(x_kanal, fake_x):
    from core.health import set_cursor
    from core.db import writing

    kanal = x_kanal(max_pages=2)
    fake_x.page_size = 2
    with writing(kanal.engine) as conn:
        set_cursor(conn, CHANNEL, "1900000000000000000")
    for n in range(5):
        b = bundle("happy_mention.json")
        b["tweet"]["id"] = b["tweet"]["conversation_id"] = str(1900000000000000300 + n)
        fake_x.add(b)
    poll_job(kanal, CHANNEL)
    row = health(kanal)
    assert row.health == "degraded" and row.last_error.startswith("backfill: 4 mentions")
    assert count(kanal, Report) == 4
    poll_job(kanal, CHANNEL)
    assert health(kanal).health == "ok"


def test_the_last_request_of_a_window_is_not_followed_by_a_429(x_kanal, fake_x, clock):
    """X says x-rate-limit-remaining: 0 on a page of a backfill: the poller waits for the
    reset instead of asking again, and keeps no half-read backfill (no gap skipped)."""
    kanal = x_kanal()
    fake_x.page_size = 1
    for i in (1, 2):
        mention = bundle("happy_mention.json")
        tweet_id = str(1900000000000000101 + i)
        mention["tweet"] = {**mention["tweet"], "id": tweet_id, "conversation_id": tweet_id,
                            "edit_history_tweet_ids": [tweet_id], "text": f"@DKIJakarta gang {i}"}
        fake_x.add(mention)
    fake_x.mention_window = [1, START + timedelta(minutes=5)]
    poll_job(kanal, CHANNEL)
    assert len(fake_x.mention_calls()) == 1  # the second page was not asked for
    row = health(kanal)
    assert (row.health, row.last_error) == ("degraded", "rate limited until 08:05 WIB")
    assert count(kanal, Report) == 0
    clock.advance(5 * 60 + 1)
    fake_x.mention_window = [300, START + timedelta(minutes=20)]
    poll_job(kanal, CHANNEL)
    assert count(kanal, Report) == 2 and health(kanal).health == "ok"

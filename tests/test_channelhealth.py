"""The health figures and the verdict on each channel, checked against rows made here (the
fixture's channels: jaki and web push, fake and fake2 poll every second, not-built is off)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml
from sqlalchemy import event, insert, update

from core import channelhealth, inbox
from core.adapter import Envelope
from core.db import writing
from core.health import record_health, record_rate_limit
from core.models import ChannelState, InboxItem, OutboxItem
from tests.conftest import FIXTURES

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc)  # 14:00 WIB
inbox_t, outbox_t, state_t = InboxItem.__table__, OutboxItem.__table__, ChannelState.__table__


def figures(kanal, now=NOW) -> dict[str, dict]:
    with kanal.engine.connect() as conn:
        return {f["id"]: f for f in channelhealth.channel_figures(conn, kanal, now)}


def messages(kanal, channel: str, *ages: timedelta, status: str | None = None) -> list[int]:
    """One inbox row per age (stored that long before NOW)."""
    ids = []
    with writing(kanal.engine) as conn:
        for age in ages:
            ids += [i for i, _ in inbox.write(conn, [Envelope(
                channel, f"m{len(ids)}-{age.total_seconds()}", b"{}")], now=NOW - age)]
        if status:
            conn.execute(update(inbox_t).where(inbox_t.c.id.in_(ids))
                         .values(status=status, processed_at=NOW - min(ages)))
    return ids


def outbox_items(kanal, channel: str, *rows: tuple[str, int]) -> None:
    with writing(kanal.engine) as conn:
        for status, attempts in rows:
            conn.execute(insert(outbox_t).values(
                channel=channel, recipient="+6281200000001", kind="ack", text="x",
                status=status, attempts=attempts, next_attempt_at=NOW, created_at=NOW))


def codes(f: dict) -> list[str]:
    return [p["code"] for p in f["problems"]]


def test_figures_count_the_rows(kanal):
    messages(kanal, "web", timedelta(minutes=5), timedelta(minutes=50), timedelta(hours=2),
             timedelta(hours=30))
    messages(kanal, "jaki", timedelta(days=3))
    messages(kanal, "web", timedelta(hours=3), status="quarantined")
    outbox_items(kanal, "web", ("pending", 0), ("pending", 0), ("pending", 2), ("dead", 8),
                 ("sent", 1))
    f = figures(kanal)
    web = f["web"]
    assert web["last_message_at"] == NOW - timedelta(minutes=5)
    assert web["last_ok_at"] == NOW - timedelta(minutes=5)  # a push channel: its last webhook
    assert (web["messages_last_hour"], web["messages_last_day"]) == (2, 4)
    assert web["outbox"] == {"pending": 2, "failed": 1, "dead": 1}
    assert web["quarantined"] == 1 and web["poll_lag_seconds"] is None
    jaki = f["jaki"]
    assert jaki["last_message_at"] == NOW - timedelta(days=3)
    assert (jaki["messages_last_hour"], jaki["messages_last_day"]) == (0, 0)
    assert f["fake2"]["last_message_at"] is None and f["fake2"]["healthy"]


def test_a_pollers_last_ok_is_its_last_successful_poll(kanal):
    with writing(kanal.engine) as conn:
        record_health(conn, "fake", ok=True, now=NOW - timedelta(seconds=2))
    messages(kanal, "fake", timedelta(hours=1))
    fake = figures(kanal)["fake"]
    assert fake["last_ok_at"] == NOW - timedelta(seconds=2)
    assert fake["poll_lag_seconds"] == 2.0 and fake["poll_interval_seconds"] == 1.0


def test_off_channels_last_ok_by_their_adapters_kind(make_kanal, settings, tmp_path):
    """A channel that is off has no adapter: the class tells whether it polls, and a
    telegram one cannot tell (its polling depends on its settings)."""
    data = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    data["channels"] += [
        {"id": "tg-off", "official_channel": "telegram", "adapter": "telegram",
         "settings": {"bot_token": "${KANAL_TELEGRAM_BOT_TOKEN}"}},
        {"id": "fake-off", "official_channel": "test", "adapter": "fake", "enabled": False}]
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(data))
    kanal = make_kanal(settings=settings.model_copy(update={"config": path}))
    for channel in ("tg-off", "fake-off"):
        messages(kanal, channel, timedelta(hours=1))
        with writing(kanal.engine) as conn:
            record_health(conn, channel, ok=True, now=NOW - timedelta(days=2))
    f = figures(kanal)
    assert f["tg-off"]["last_ok_at"] == NOW - timedelta(hours=1)  # its last webhook row
    assert f["fake-off"]["last_ok_at"] == NOW - timedelta(days=2)  # its last poll
    assert f["fake-off"]["poll_lag_seconds"] is None  # not running: no lag
    assert f["fake-off"]["severity"] == "warning"  # off on purpose in the file
    assert f["tg-off"]["severity"] == "warning"  # not set up yet: its secret is unset


def test_few_grouped_queries_whatever_the_number_of_channels(kanal):
    statements = []
    event.listen(kanal.engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    figures(kanal)
    assert len([s for s in statements if s.lstrip().startswith("SELECT")]) == 6, statements


def test_the_last_delivery_is_the_newest_sent_item_of_the_channel(kanal):
    with writing(kanal.engine) as conn:
        for channel, status, sent in [("fake", "sent", NOW - timedelta(hours=2)),
                                      ("fake", "sent", NOW - timedelta(minutes=3)),
                                      ("fake", "dead", None), ("web", "pending", None)]:
            conn.execute(insert(outbox_t).values(
                channel=channel, recipient="+6281200000001", kind="ack", text="x",
                status=status, attempts=1, next_attempt_at=NOW, created_at=NOW,
                sent_at=sent))
    f = figures(kanal)
    assert f["fake"]["last_sent_at"] == NOW - timedelta(minutes=3)
    assert f["web"]["last_sent_at"] is None
    assert channelhealth.as_json(f["fake"])["last_sent_at"] == "2026-12-01T06:57:00+00:00"


def test_the_last_message_of_more_channels_than_one_union_takes(kanal):
    ids = [f"c{n}" for n in range(505)]  # past SQLite's limit of 500 in one UNION
    messages(kanal, ids[-1], timedelta(minutes=1))
    with kanal.engine.connect() as conn:
        last = channelhealth._last_rows(conn, ids)
    assert last == {ids[-1]: NOW - timedelta(minutes=1)}


@pytest.mark.parametrize("lag,rate_limited,flagged", [
    (10, False, True), (2.5, False, False), (600, True, False)],
    ids=["lagging", "fresh", "held-by-a-rate-limit"])
def test_poller_lag_over_three_intervals(kanal, lag, rate_limited, flagged):
    with writing(kanal.engine) as conn:
        record_health(conn, "fake", ok=True, now=NOW - timedelta(seconds=lag))
        if rate_limited:
            record_rate_limit(conn, "fake", NOW + timedelta(minutes=5), now=NOW)
    fake = figures(kanal)["fake"]
    assert ("poller_lag" in codes(fake)) is flagged
    if flagged:
        assert fake["severity"] == "failing" and not fake["healthy"]


def test_disabled_channel_says_why(kanal):
    off = figures(kanal)["not-built"]
    assert off["problems"][0]["code"] == "disabled"
    assert off["problems"][0]["text"] == ("disabled: adapter 'no-such-adapter' is not installed "
                                          "(not built yet)")
    assert off["severity"] == "warning"  # not built yet: nothing broke
    assert "disabled" not in codes(figures(kanal)["web"])
    # a channel that should run and cannot is failing
    broken = {**off, "reason_code": "invalid_settings", "reason": "invalid settings: x"}
    assert [p["severity"] for p in channelhealth.problems(broken, NOW)] == ["failing"]


def test_stored_health_failing_and_rate_limited(kanal):
    with writing(kanal.engine) as conn:
        record_health(conn, "web", ok=False, error="send: ConnectionError: down", now=NOW)
        record_rate_limit(conn, "jaki", NOW + timedelta(minutes=20), now=NOW)
        record_health(conn, "fake2", ok=True, now=NOW)
    f = figures(kanal)
    assert f["web"]["problems"][0]["text"] == "failing: send: ConnectionError: down"
    assert f["web"]["severity"] == "failing"
    assert f["jaki"]["problems"][0]["text"] == "degraded: rate limited until 14:20 WIB"
    assert f["jaki"]["severity"] == "warning"
    assert f["fake2"]["problems"] == []


def steady(kanal, channel: str, per_hour: int, silent_hours: int) -> None:
    """``per_hour`` messages an hour over the last week, none in the last hours."""
    ages = [timedelta(hours=h, minutes=m * 60 // per_hour)
            for h in range(silent_hours, 7 * 24) for m in range(per_hour)]
    with writing(kanal.engine) as conn:
        for n, age in enumerate(ages):
            inbox.write(conn, [Envelope(channel, f"s{n}", b"{}")], now=NOW - age)


@pytest.mark.parametrize("per_hour,silent,flagged", [
    (4, 3, True), (4, 1, False), (1, 30, False)],
    ids=["quiet-for-3-hours", "recent-message", "a-quiet-channel-anyway"])
def test_quiet_channel_compared_with_its_usual_rate(kanal, per_hour, silent, flagged):
    steady(kanal, "web", per_hour, silent)
    web = figures(kanal)["web"]
    assert ("quiet" in codes(web)) is flagged
    if flagged:
        assert web["problems"][0]["text"] == "no message for 3 hours, usually 4 an hour"


def expiring(kanal, channel: str, when: datetime) -> None:
    with writing(kanal.engine) as conn:
        record_health(conn, channel, ok=True, now=NOW)
        conn.execute(update(state_t).where(state_t.c.channel == channel)
                     .values(credential_expires_at=when))


@pytest.mark.parametrize("days,text", [
    (5.5, "token expires in 5 days"), (-1, "token expired"), (10, None)],
    ids=["within-a-week", "expired", "next-month"])
def test_credential_expiry(kanal, days, text):
    expiring(kanal, "jaki", NOW + timedelta(days=days))
    jaki = figures(kanal)["jaki"]
    assert jaki["credential_expires_at"] == NOW + timedelta(days=days)
    assert [p["text"] for p in jaki["problems"]] == ([text] if text else [])


def test_dead_outbox_items_and_recent_quarantine(kanal):
    outbox_items(kanal, "web", ("dead", 8), ("pending", 3))
    outbox_items(kanal, "jaki", ("pending", 3))
    messages(kanal, "fake2", timedelta(hours=2), status="quarantined")
    messages(kanal, "fake", timedelta(days=2), status="quarantined")
    f = figures(kanal)
    assert [p["text"] for p in f["web"]["problems"]] == ["1 outbox items dead"]
    assert f["jaki"]["problems"] == []  # failing and retrying is not yet a problem
    assert [p["text"] for p in f["fake2"]["problems"]] == [
        "1 payloads quarantined in the last day"]
    assert f["fake"]["quarantined"] == 1 and f["fake"]["problems"] == []


def test_unhealthy_first_failing_before_warnings_then_by_id(kanal):
    outbox_items(kanal, "web", ("dead", 8))  # a warning
    with writing(kanal.engine) as conn:
        record_health(conn, "jaki", ok=False, error="poll: down", now=NOW)  # failing
    with kanal.engine.connect() as conn:
        order = [f["id"] for f in channelhealth.channel_figures(conn, kanal, NOW)]
    assert order == ["jaki", "not-built", "web", "fake", "fake2"]


def test_json_shape_has_the_stable_names_and_utc_times(kanal):
    messages(kanal, "web", timedelta(minutes=5))
    f = figures(kanal)["web"]
    out = channelhealth.as_json(f)
    assert set(out) >= {"id", "name", "adapter", "official_channel", "state", "reason",
                        "healthy", "problems", "last_message_at", "last_ok_at",
                        "poll_lag_seconds", "messages_last_hour", "messages_last_day",
                        "outbox", "quarantined", "credential_expires_at"}
    assert out["last_message_at"] == "2026-12-01T06:55:00+00:00"

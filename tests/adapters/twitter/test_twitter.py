"""The X channel through its real protocol: mentions polled by tweepy from a local
stand-in for the X API v2, answered by reply tweets. One table of named cases."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from core import tracking
from core.models import InboxItem, MediaJob, Message, Report
from tests.adapters.twitter.conftest import CHANNEL, bundle, count, drain
from tests.adapters.twitter.fake_x import ACCOUNT_ID

HAPPY_ID = "1900000000000000101"


def _reports(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(Report.__table__).order_by(Report.__table__.c.id)).all()


def _first_tid(kanal) -> str:
    return tracking.display(_reports(kanal)[0].tracking_id)


@dataclass
class Case:
    name: str
    # bundles added (and polled) after the happy mention was taken and answered, when
    # ``after_happy``; a callable gets the kanal and the fake and returns the bundle
    payloads: list = field(default_factory=list)
    after_happy: bool = False
    reports: int = 1
    replies: int = 1  # reply tweets posted for ``payloads``
    reply_kind: str | None = "ack"


CASES = [
    Case("happy_mention", [lambda k, x: bundle("happy_mention.json")]),
    Case("mention_with_photo_and_place",
         [lambda k, x: bundle("photo_place.json", MEDIA_BASE=x.base_url)]),
    Case("our_own_tweet", [lambda k, x: bundle("own_tweet.json")], reports=0, replies=0,
         reply_kind=None),
    Case("reply_in_our_conversation",
         [lambda k, x: bundle("reply_in_conversation.json", OUR_TWEET=x.posted[0]["id"])],
         after_happy=True, reports=1, reply_kind="follow_up_ack"),
    Case("status_keyword", [lambda k, x: bundle("status_keyword.json", TID=_first_tid(k))],
         after_happy=True, reports=1, reply_kind="status_reply"),
    Case("overlapping_poll_redelivers", [lambda k, x: bundle("happy_mention.json")],
         after_happy=True, reports=1, replies=0, reply_kind=None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_mentions(case: Case, x_kanal, fake_x):
    kanal = x_kanal()
    before = 0
    if case.after_happy:
        fake_x.add(bundle("happy_mention.json"))
        assert kanal.poll_channel(CHANNEL) == 1
        assert drain(kanal) == 1
        before = len(fake_x.posted)
        if case.name == "overlapping_poll_redelivers":
            fake_x.tweets.clear()  # the same tweet again, as after a lost cursor
            with kanal.engine.begin() as conn:
                from core.health import set_cursor
                set_cursor(conn, CHANNEL, None)
    for make in case.payloads:
        fake_x.add(make(kanal, fake_x))
    kanal.poll_channel(CHANNEL)
    drain(kanal)
    assert count(kanal, Report) == case.reports
    new = fake_x.posted[before:]
    assert len(new) == case.replies
    for post in new:
        assert len(post["text"]) <= 280
        assert "http" not in post["text"]  # the /lacak link is off by default
        assert "Budi" not in post["text"] and "budi_s" not in post["text"]
        assert post["reply"]["in_reply_to_tweet_id"] == case_tweet_id(case, kanal)
        assert _first_tid(kanal) in post["text"]
    if case.reply_kind:
        with kanal.engine.connect() as conn:
            kinds = conn.execute(select(Message.__table__.c.kind).where(
                Message.__table__.c.direction == "out")).scalars().all()
        assert kinds[-1] == case.reply_kind
    with kanal.engine.connect() as conn:
        statuses = conn.execute(select(InboxItem.__table__.c.status)).scalars().all()
    assert "quarantined" not in statuses


def case_tweet_id(case: Case, kanal) -> str:
    with kanal.engine.connect() as conn:
        return conn.execute(select(InboxItem.__table__.c.external_id)
                            .order_by(InboxItem.__table__.c.id.desc())).scalars().first()


def test_a_mention_becomes_a_report_with_the_author_and_the_place(x_kanal, fake_x):
    kanal = x_kanal()
    fake_x.files["hole.jpg"] = b"\xff\xd8\xff\xe0" + bytes(200) + b"\xff\xd9"
    fake_x.add(bundle("photo_place.json", MEDIA_BASE=fake_x.base_url))
    kanal.poll_channel(CHANNEL)
    (report,) = _reports(kanal)
    assert (report.lat, report.lon) == (-6.1754, 106.8272)
    with kanal.engine.connect() as conn:
        (text,) = conn.execute(select(Message.__table__.c.text).where(
            Message.__table__.c.direction == "in")).scalars().all()
        (job,) = conn.execute(select(MediaJob.__table__)).all()
    assert text.startswith("Jalan berlubang")  # the "@DKIJakarta " prefix is dropped
    assert job.url == f"{fake_x.base_url}/media/hole.jpg"
    query = fake_x.mention_calls()[0]
    assert query["expansions"].split(",")[:3] == ["author_id", "attachments.media_keys",
                                                  "geo.place_id"]
    assert "conversation_id" in query["tweet.fields"]


def test_pages_are_followed_and_the_cursor_is_the_newest_id(x_kanal, fake_x):
    kanal = x_kanal()
    fake_x.page_size = 2
    for n in range(5):
        b = bundle("happy_mention.json")
        b["tweet"]["id"] = str(1900000000000000300 + n)
        b["tweet"]["conversation_id"] = b["tweet"]["id"]
        fake_x.add(b)
    assert kanal.poll_channel(CHANNEL) == 5
    assert count(kanal, Report) == 5
    calls = fake_x.mention_calls()
    assert [c.get("pagination_token") for c in calls] == [None, "2", "4"]
    assert kanal.poll_channel(CHANNEL) == 0
    assert fake_x.mention_calls()[-1]["since_id"] == "1900000000000000304"


def test_replies_use_oauth1_user_context_and_reads_the_bearer(x_kanal, fake_x):
    kanal = x_kanal()
    fake_x.add(bundle("happy_mention.json"))
    kanal.poll_channel(CHANNEL)
    drain(kanal)
    auth = {path.rsplit("/", 1)[-1]: a["authorization"] for _, path, _, a in fake_x.calls}
    assert auth["mentions"].startswith("Bearer ")
    assert auth["tweets"].startswith("OAuth ")
    assert auth["dm_events"].startswith("OAuth ")  # DMs need the user context


def test_a_too_long_reply_is_trimmed_to_280_characters(x_kanal, fake_x):
    from core.canonical import OutboundMessage

    kanal = x_kanal()
    adapter = kanal.adapters[CHANNEL]
    text = "Laporan JK7Q-M4XA-9 diterima. " + "sangat panjang " * 30
    result = adapter.send(OutboundMessage(outbox_id=1, channel=CHANNEL, recipient="2244994945",
                                          text=text, kind="ack", reply_to=HAPPY_ID))
    (post,) = fake_x.posted
    assert len(post["text"]) == 280 and post["text"].endswith("…")
    assert post["text"].startswith("Laporan JK7Q-M4XA-9")
    assert result.provider_message_id == post["id"]


def test_the_lacak_link_is_a_channel_setting(x_kanal, fake_x):
    kanal = x_kanal(reply_link=True)
    fake_x.add(bundle("happy_mention.json"))
    kanal.poll_channel(CHANNEL)
    drain(kanal)
    (post,) = fake_x.posted
    assert f"https://kanal.example.go.id/lacak/{_first_tid(kanal)}" in post["text"]


def test_without_oauth1_tokens_the_channel_reads_but_cannot_reply(x_kanal, fake_x):
    kanal = x_kanal(replies=False)
    assert kanal.channel(CHANNEL).state == "ready"
    fake_x.add(bundle("happy_mention.json"))
    kanal.poll_channel(CHANNEL)
    drain(kanal)
    assert count(kanal, Report) == 1 and fake_x.posted == []


def test_a_mention_that_did_not_summon_us_is_not_answered(x_kanal, fake_x):
    kanal = x_kanal()
    b = bundle("happy_mention.json")
    b["tweet"]["entities"]["mentions"] = [{"start": 0, "end": 5, "username": "budi",
                                           "id": "99"}]
    fake_x.add(b)
    kanal.poll_channel(CHANNEL)
    drain(kanal)
    assert count(kanal, Report) == 1 and fake_x.posted == []


def test_the_first_poll_reads_back_a_day_not_the_whole_timeline(x_kanal, fake_x):
    kanal = x_kanal()
    old = bundle("happy_mention.json")
    old["tweet"]["id"] = old["tweet"]["conversation_id"] = "1800000000000000050"
    old["tweet"]["created_at"] = "2025-12-30T08:00:00.000Z"
    fake_x.add(old)
    fake_x.add(bundle("happy_mention.json"))
    assert kanal.poll_channel(CHANNEL) == 1
    assert fake_x.mention_calls()[0]["start_time"] == "2026-01-01T01:00:00Z"
    assert "start_time" not in (kanal.poll_channel(CHANNEL) or fake_x.mention_calls()[-1])


PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + \
    bytes(range(256)) * 8 + b"\xff\xd9"


@pytest.mark.parametrize("hosts,stored", [(["127.0.0.1"], 1), (["pbs.twimg.com"], 0)],
                         ids=["allowlisted_host", "other_host_refused"])
def test_photos_are_fetched_from_x_media_hosts_only(x_kanal, fake_x, hosts, stored):
    from core.models import Attachment

    kanal = x_kanal(media_hosts=hosts)
    fake_x.files["hole.jpg"] = PHOTO
    fake_x.add(bundle("photo_place.json", MEDIA_BASE=fake_x.base_url))
    kanal.poll_channel(CHANNEL)
    kanal.media.run_once()
    assert count(kanal, Attachment) == stored
    with kanal.engine.connect() as conn:
        job = conn.execute(select(MediaJob.__table__)).one()
    assert job.status == ("done" if stored else "failed")

"""The Meta channels through their real protocol: signed webhook deliveries shaped as
Meta's reference shows them (testdata/), routed to the channel of each page or account,
and answered through a fake Graph API on 127.0.0.1. One table of named cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import pytest
from PIL import Image
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import tracking
from core.models import InboxItem, OutboxItem, Report
from core.reports import staff_report
from gateway.runtime import Kanal
from tests.adapters.facebook.conftest import (
    GUBERNUR, IG, PAGE, VERIFY_TOKEN, count, payload, sign,
)
from tests.adapters.facebook.fake_graph import FakeGraph
from tests.helpers import drain

def _jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg()
MENTIONS = {
    "17900000000000088": {"id": "17900000000000088", "timestamp": "2026-12-01T04:21:40+0000",
                          "text": "@gubernurjkt banjir lagi di Jl. Kemang Raya",
                          "username": "warga_kemang",
                          "from": {"id": "7300000000000008", "username": "warga_kemang"},
                          "media": {"id": "18000000000000077"}},
    "18000000000000099": {"id": "18000000000000099", "username": "ibu_rt05",
                          "caption": "Jembatan penyeberangan rusak @gubernurjkt",
                          "timestamp": "2026-12-01T04:23:20+0000"},
}
inbox_t, outbox_t, report_t = InboxItem.__table__, OutboxItem.__table__, Report.__table__


@dataclass
class Run:
    kanal: Kanal
    client: TestClient
    graph: FakeGraph


@dataclass
class Case:
    label: str
    body: str
    url: str = "/webhooks/facebook-pemprov"
    before: tuple[str, ...] = ()
    signature: str | None = "good"  # "good", None (missing) or a literal header value
    status: int = 200
    error: str | None = None
    stored: int = 1  # new inbox rows
    reports: int = 1
    channels: dict[str, int] = field(default_factory=dict)  # reports per channel
    dms: int = 0  # Send API messages with messaging_type RESPONSE
    private_replies: int = 0
    public_replies: int = 0
    kinds: tuple[str, ...] | None = None  # the first report's messages
    photos: int = 0
    echo_of_sent: bool = False
    mentions: bool = True  # the fake Graph API knows the mentions of testdata  # the echo's mid is the one the Send API gave our ack
    quarantined: str | None = None
    check: Callable[[Run], None] | None = None


def _tid(kanal: Kanal) -> str:
    with kanal.engine.connect() as conn:
        tid = conn.execute(select(report_t.c.tracking_id).order_by(report_t.c.id)).scalar()
    return tracking.display(tid)


def _dm_has_tracking_id(run: Run) -> None:
    sent = run.graph.messages[-1]
    assert sent["recipient"] == {"id": "7100000000000001"}
    assert sent["messaging_type"] == "RESPONSE" and sent["page"] == PAGE
    assert _tid(run.kanal) in sent["message"]["text"] and sent["token"] == "EAAp"


def _comment_answered(run: Run) -> None:
    private, public = run.graph.messages[-1], run.graph.comments[-1]
    assert private["recipient"] == {"comment_id": "555_9001"}
    assert "messaging_type" not in private
    assert _tid(run.kanal) in private["message"]["text"]
    assert public["comment"] == "555_9001" and public["edge"] == "comments"
    assert public["message"] == "Terima kasih, kami sudah mengirim pesan kepada Anda."
    assert _tid(run.kanal) not in public["message"]


def _downloaded(run: Run) -> None:
    assert run.graph.downloads == ["/cdn/sampah.jpg"]


def _staff_reply_recorded(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        messages = staff_report(conn, tracking.normalize(_tid(run.kanal)))["messages"]
    reply = messages[-1]
    assert reply["direction"] == "out" and reply["text"].startswith("Baik, petugas")


def _visitor_post_answered(run: Run) -> None:
    assert run.graph.messages[-1]["recipient"] == {"post_id": f"{PAGE}_777"}
    assert run.graph.comments[-1]["comment"] == f"{PAGE}_777"


def _mention_answered(run: Run) -> None:
    reply = run.graph.comments[-1]
    assert reply["edge"] == "mentions" and reply["comment"] == IG
    assert reply["comment_id"] == "17900000000000088"
    assert reply["media_id"] == "18000000000000077"
    assert _tid(run.kanal) in reply["message"]


def _edit_appended(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        messages = staff_report(conn, tracking.normalize(_tid(run.kanal)))["messages"]
    edit = next(m for m in messages if m["kind"] == "edit")
    assert "No. 40" in edit["text"]


def _removal_kept(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        row = conn.execute(select(inbox_t.c.status, inbox_t.c.external_id)
                           .order_by(inbox_t.c.id.desc())).first()
    assert row.status == "processed" and row.external_id == "comment:555_9001:removed"


def _location(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        report = staff_report(conn, tracking.normalize(_tid(run.kanal)))
    assert report["location"]["lat"] == pytest.approx(-6.2)


def _ig_dm(run: Run) -> None:
    sent = run.graph.messages[-1]
    assert sent["page"] == IG and sent["recipient"] == {"id": "7300000000000003"}
    assert sent["token"] == "IGAg"


def _ig_comment(run: Run) -> None:
    assert run.graph.messages[-1]["recipient"] == {"comment_id": "17900000000000006"}
    assert run.graph.comments[-1]["edge"] == "replies"


CASES = [
    Case("messenger_text", "messenger_text.json", dms=1, kinds=("complaint", "ack"),
         channels={"facebook-pemprov": 1}, check=_dm_has_tracking_id),
    Case("messenger_image", "messenger_image.json", dms=1, photos=1, check=_downloaded),
    Case("messenger_location", "messenger_location.json", dms=1, check=_location),
    Case("messenger_postback", "messenger_postback.json", dms=1),
    Case("timestamp_out_of_range", "timestamp_out_of_range.json", dms=1),
    Case("messenger_echo_is_no_complaint", "messenger_echo.json", reports=0),
    Case("echo_of_our_own_reply", "messenger_echo.json", before=("messenger_text.json",),
         kinds=("complaint", "ack")),
    Case("echo_of_our_reply_by_its_mid", "messenger_echo.json", before=("messenger_text.json",),
         kinds=("complaint", "ack"), echo_of_sent=True),
    Case("staff_reply_typed_in_meta_inbox", "messenger_staff_reply.json",
         before=("messenger_text.json",), kinds=("complaint", "ack", "staff_reply"),
         check=_staff_reply_recorded),
    Case("staff_reply_to_someone_without_a_report", "messenger_staff_reply.json",
         reports=0),
    Case("feed_comment", "feed_comment.json", private_replies=1, public_replies=1,
         check=_comment_answered),
    Case("feed_visitor_post", "feed_visitor_post.json", private_replies=1, public_replies=1,
         check=_visitor_post_answered),
    Case("feed_comment_edited", "feed_comment_edited.json", before=("feed_comment.json",),
         kinds=("complaint", "ack", "edit"), check=_edit_appended),
    Case("feed_comment_removed", "feed_comment_removed.json", before=("feed_comment.json",),
         kinds=("complaint", "ack"), check=_removal_kept),
    Case("instagram_dm", "instagram_dm.json", url="/webhooks/instagram-gubernur", dms=1,
         channels={"instagram-gubernur": 1}, check=_ig_dm),
    Case("instagram_comment", "instagram_comment.json", url="/webhooks/instagram-gubernur",
         private_replies=1, public_replies=1, check=_ig_comment),
    Case("instagram_mention_in_a_comment", "instagram_mention_comment.json",
         url="/webhooks/instagram-gubernur", public_replies=1, check=_mention_answered),
    Case("instagram_mention_in_a_caption", "instagram_mention_caption.json",
         url="/webhooks/instagram-gubernur", public_replies=1),
    Case("instagram_mention_graph_cannot_read", "instagram_mention_caption.json",
         url="/webhooks/instagram-gubernur", reports=0, quarantined="did not give",
         mentions=False),
    Case("entry_for_an_unknown_page", "unknown_page.json", stored=0, reports=0),
    Case("batch_of_three_messages", "batch_three.json", stored=3, reports=3, dms=3,
         channels={"facebook-pemprov": 2, "facebook-gubernur": 1}),
    Case("redelivery", "messenger_text.json", before=("messenger_text.json",), stored=0,
         kinds=("complaint", "ack")),
    Case("bad_signature", "messenger_text.json", signature="sha256=" + "0" * 64,
         status=403, error="bad_signature", stored=0, reports=0),
    Case("missing_signature", "messenger_text.json", signature=None, status=403,
         error="missing_signature", stored=0, reports=0),
    Case("signed_with_another_secret", "messenger_text.json", signature="other",
         status=403, error="bad_signature", stored=0, reports=0),
    Case("not_json", "not_json.json", status=400, error="malformed_delivery", stored=0,
         reports=0),
]


def post(client: TestClient, url: str, body: bytes, signature: str | None = "good"):
    headers = {"Content-Type": "application/json"}
    if signature == "good":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature == "other":
        headers["X-Hub-Signature-256"] = sign(body, "another-apps-secret")
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(url, content=body, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_meta(case, meta_kanal, meta_client, graph):
    cdn = graph.base_url
    graph.files["sampah.jpg"] = JPEG
    if case.mentions:
        graph.mentions.update(MENTIONS)
    for name in case.before:
        assert post(meta_client, case.url, payload(name, media=cdn)).status_code == 200
        drain(meta_kanal)
    inbox_before = count(meta_kanal, InboxItem)
    sent_before, comments_before = len(graph.messages), len(graph.comments)

    body = payload(case.body, media=cdn)
    if case.echo_of_sent:  # no metadata: known by the mid our send was given
        body = body.replace(b'"metadata": "kanal:1", ', b"").replace(
            b"m_echo00000000000000000000000000001", graph.messages[-1]["mid"].encode())
    r = post(meta_client, case.url, body, case.signature)
    assert r.status_code == case.status, r.text
    if case.error:
        assert r.json()["error"] == case.error and r.json()["reason"]
    drain(meta_kanal)
    meta_kanal.media.run_once()

    assert count(meta_kanal, InboxItem) - inbox_before == case.stored
    assert count(meta_kanal, Report) == case.reports
    assert count(meta_kanal, InboxItem, inbox_t.c.status == "pending") == 0
    quarantined = count(meta_kanal, InboxItem, inbox_t.c.status == "quarantined")
    assert quarantined == (1 if case.quarantined else 0)
    if case.quarantined:
        with meta_kanal.engine.connect() as conn:
            error = conn.execute(select(inbox_t.c.error).where(
                inbox_t.c.status == "quarantined")).scalar_one()
        assert case.quarantined in error
    for channel, n in case.channels.items():
        assert count(meta_kanal, Report, report_t.c.channel == channel) == n
    new = graph.messages[sent_before:]
    assert len([m for m in new if "id" in m["recipient"]]) == case.dms
    assert len([m for m in new if {"comment_id", "post_id"} & set(m["recipient"])]) == (
        case.private_replies)
    assert len(graph.comments) - comments_before == case.public_replies
    if case.reports:
        view = meta_client.get(f"/api/v1/reports/{_tid(meta_kanal)}").json()
        assert len(view["photos"]) == case.photos
    if case.kinds:
        with meta_kanal.engine.connect() as conn:
            messages = staff_report(conn, tracking.normalize(_tid(meta_kanal)))["messages"]
        assert tuple(m["kind"] for m in messages) == case.kinds
    if case.check:
        case.check(Run(meta_kanal, meta_client, graph))


VERIFY = [
    ("good_token", {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "1158201444"}, 200),
    ("bad_verify_token", {"hub.mode": "subscribe", "hub.verify_token": "guess",
                          "hub.challenge": "1158201444"}, 403),
    ("missing_verify_token", {"hub.mode": "subscribe", "hub.challenge": "1"}, 403),
    ("wrong_mode", {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                    "hub.challenge": "1"}, 403),
]


@pytest.mark.parametrize("query,status", [v[1:] for v in VERIFY], ids=[v[0] for v in VERIFY])
def test_verify_handshake(meta_client, query, status):
    r = meta_client.get("/webhooks/facebook-pemprov", params=query)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.text == query["hub.challenge"]
        assert r.headers["content-type"].startswith("text/plain")
    else:
        assert r.json()["error"] == "bad_verify_token"


def test_channels_ready_when_configured(meta_kanal):
    for channel in ("facebook-pemprov", "facebook-gubernur", "instagram-gubernur"):
        assert meta_kanal.channel(channel).state == "ready", meta_kanal.channel(channel).reason
    assert meta_kanal.channel("facebook-gubernur").adapter.official.id == "sosmed-gubernur"
    assert GUBERNUR == meta_kanal.channel("facebook-gubernur").adapter.settings.account_id

"""Telegram through its real protocols: webhook deliveries (or getUpdates polls) of
Update payloads from testdata/, answered through a fake Bot API on 127.0.0.1 that the
real python-telegram-bot client talks to. One table of named cases."""

from __future__ import annotations

import json
from io import BytesIO
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from PIL import Image
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.health import get_cursor
from core.models import InboxItem, OutboxItem, Report
from gateway.runtime import Kanal
from tests.adapters.telegram.conftest import (
    CHAT_ID,
    GOOD,
    count,
    deliver,
    drain,
    first_tid,
    staff,
    update_bytes,
)
from tests.adapters.telegram.fakebotapi import FakeBotAPI

pytestmark = pytest.mark.filterwarnings(  # PTB's own, raised while it builds RetryAfter
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


def jpeg(width: int, height: int) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


FILES = {"photos/file_17.jpg": jpeg(64, 48), "documents/file_3.jpg": jpeg(20, 10)}
FILE_IDS = {"AgACAgUAAxkBAAIBsmXlarge": "photos/file_17.jpg",
            "BQACAgUAAxkBAAIBtdocument": "documents/file_3.jpg"}


@dataclass
class Run:
    """What a case's extra check gets."""

    kanal: Kanal
    client: TestClient
    api: FakeBotAPI
    tid: str  # display form of the first report's tracking ID


@dataclass
class Case:
    label: str
    update: str
    before: tuple[str, ...] = ()  # delivered (and answered) first
    deliver: str = "webhook"  # or "poll": the channel runs in polling mode
    headers: dict[str, str] = field(default_factory=lambda: dict(GOOD))
    status: int = 200
    error: str | None = None
    send_failures: tuple[dict, ...] = ()  # sendMessage failures queued at the fake API
    retries: tuple[tuple[float, int], ...] = ()  # (seconds later, items then attempted)
    reports: int = 1
    quarantined: str | None = None  # part of the quarantine reason
    reply: str | None = None  # kind of the outbox item answering this update
    reply_status: str = "sent"
    reply_has: tuple[str, ...] = ()  # in the text the fake API got; {tid}: tracking ID
    kelurahan: str | None = None
    photos: int = 0
    kinds: tuple[str, ...] | None = None  # the first report's messages, in order
    check: Callable[[Run], None] | None = None


def _downloaded(path: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        assert run.api.downloads == [path]
        assert [m for m in run.api.methods() if m == "getFile"] == ["getFile"]
        photo = run.client.get(run.client.get(f"/api/v1/reports/{run.tid}").json()
                               ["photos"][0]["url"])
        assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
        # the public copy (no metadata) of the picture downloaded
        expected = Image.open(BytesIO(FILES[path])).size
        assert Image.open(BytesIO(photo.content)).size == expected
    return check


def _venue_address(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        report = staff(conn, run.tid)
    assert report["location"]["address"] == "Halte Alfa Raya, Jl. Alfa Raya No. 3"


def _cursor_advanced(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        assert get_cursor(conn, "telegram") == "871200002"
        kept = conn.execute(select(InboxItem.__table__.c.payload)).scalar_one()
    assert json.loads(kept) == json.loads(update_bytes("text.json"))  # as Telegram sent it
    assert run.kanal.poll_channel("telegram") == 0  # confirmed: Telegram forgets it
    assert ("getUpdates", {"offset": "871200002", "timeout": "0"}) in run.api.calls


def _edit_appended(run: Run) -> None:
    with run.kanal.engine.connect() as conn:
        messages = staff(conn, run.tid)["messages"]
    edit = next(m for m in messages if m["kind"] == "edit")
    assert "(sisi utara)" in edit["text"] and edit["external_id"] == f"{CHAT_ID}:41"


def _ack_quotes_the_complaint(run: Run) -> None:
    assert run.api.sent[0]["reply_to"] == 41


ACK = ("{tid}", "https://kanal.example.go.id/lacak/{tid}")
CASES = [
    Case("happy_text", "text.json", reply="ack", reply_has=ACK,
         kinds=("complaint", "ack"), check=_ack_quotes_the_complaint),
    Case("photo_with_caption", "photo_with_caption.json", reply="ack", reply_has=ACK,
         photos=1, check=_downloaded("photos/file_17.jpg")),
    Case("photo_sent_as_image_document", "photo_as_document.json", reply="ack", photos=1,
         check=_downloaded("documents/file_3.jpg")),
    Case("location", "location.json", reply="ack", kelurahan="31.71.01.1001"),
    Case("venue", "venue.json", reply="ack", kelurahan="31.71.01.1001",
         check=_venue_address),
    Case("start_greeting", "start.json", reports=0, reply="greeting",
         reply_has=("/status",)),
    Case("status_command", "status_command.json", before=("text.json",),
         reply="status_reply", reply_has=("{tid}", "Menunggu"),
         kinds=("complaint", "ack", "status_query", "status_reply")),
    Case("duplicate_update_id", "text.json", before=("text.json",),
         kinds=("complaint", "ack")),
    Case("bad_secret", "text.json", headers={**GOOD, "X-Telegram-Bot-Api-Secret-Token": "x"},
         status=403, error="bad_secret", reports=0),
    Case("missing_secret", "text.json", headers={"Content-Type": "application/json"},
         status=403, error="missing_secret", reports=0),
    Case("malformed_json", "malformed_json.json", status=400, error="malformed_update",
         reports=0),
    Case("no_update_id", "no_update_id.json", status=400, error="malformed_update",
         reports=0),
    Case("update_id_not_integer", "update_id_not_integer.json", status=400,
         error="malformed_update", reports=0),
    Case("update_id_out_of_range", "update_id_out_of_range.json", status=400,
         error="malformed_update", reports=0),
    Case("update_id_negative", "update_id_negative.json", status=400,
         error="malformed_update", reports=0),
    Case("chat_id_out_of_range", "chat_id_out_of_range.json", reports=0,
         quarantined="chat id"),
    Case("body_not_an_object", "not_an_object.json", status=400, error="malformed_update",
         reports=0),
    # kept for staff, and the citizen is asked to write instead
    Case("unknown_type_sticker", "sticker.json", reports=0, quarantined="sticker",
         reply="unsupported_message", reply_has=("Tulis keluhan Anda sebagai teks",)),
    Case("unknown_type_voice_note", "voice.json", reports=0, quarantined="voice",
         reply="unsupported_message", reply_has=("Tulis keluhan Anda sebagai teks",)),
    Case("unknown_type_channel_post", "channel_post.json", reports=0,
         quarantined="channel_post"),
    Case("unknown_type_callback_query", "callback_query.json", reports=0,
         quarantined="callback_query"),
    Case("group_chat_message", "group_message.json", reports=0, quarantined="group chat"),
    Case("follow_up_quoting_tracking_id", "follow_up.json", before=("text.json",),
         reply="follow_up_ack", reply_has=("{tid}",),
         kinds=("complaint", "ack", "follow_up", "follow_up_ack")),
    Case("follow_up_replying_to_the_ack", "reply_to_ack.json", before=("text.json",),
         reply="follow_up_ack", kinds=("complaint", "ack", "follow_up", "follow_up_ack")),
    Case("edited_message", "edited_message.json", before=("text.json",),
         check=_edit_appended),
    Case("edited_caption_attaches_no_second_photo", "edited_caption.json",
         before=("photo_with_caption.json",), photos=1,
         kinds=("complaint", "ack", "edit")),
    # taken and let go: hours of position updates must not flood the quarantine
    Case("live_location_moves_are_not_edits", "edited_live_location.json",
         before=("live_location.json",), kelurahan="31.71.01.1001",
         kinds=("complaint", "ack")),
    Case("edit_of_an_unknown_message", "edited_message.json", reports=0,
         quarantined="never received"),
    Case("outbound_429_then_retry", "text.json", reply="ack", reply_has=ACK,
         send_failures=({"status": 429, "description": "Too Many Requests: retry after 30",
                         "retry_after": 30},),
         retries=((20, 0), (11, 1))),
    Case("outbound_500_then_retry", "text.json", reply="ack",
         send_failures=({"status": 500, "description": "Internal Server Error"},),
         retries=((3600, 1),)),
    Case("outbound_chat_not_found_is_dead", "text.json", reply="ack", reply_status="dead",
         send_failures=({"status": 400, "description": "Bad Request: chat not found"},),
         retries=((7200, 0),)),
    Case("outbound_bot_blocked_is_dead", "text.json", reply="ack", reply_status="dead",
         send_failures=({"status": 403,
                         "description": "Forbidden: bot was blocked by the user"},)),
    Case("polling_text", "text.json", deliver="poll", reply="ack", reply_has=ACK,
         check=_cursor_advanced),
    Case("polling_photo", "photo_with_caption.json", deliver="poll", reply="ack", photos=1,
         check=_downloaded("photos/file_17.jpg")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_telegram(case, telegram_kanal, tg_client, bot_api, clock):
    kanal = telegram_kanal(mode="polling" if case.deliver == "poll" else "webhook")
    client = tg_client(kanal)
    for name in case.before:
        r = deliver(kanal, client, bot_api, case.deliver, update_bytes(name))
        assert r is None or r.status_code == 200, r.text
        drain(kanal)
    tid = first_tid(kanal)
    for file_id, path in FILE_IDS.items():
        bot_api.add_file(file_id, FILES[path], path)
    for failure in case.send_failures:
        bot_api.fail("sendMessage", **failure)
    inbox_before, outbox = count(kanal, InboxItem), OutboxItem.__table__
    with kanal.engine.connect() as conn:
        last_outbox = conn.execute(select(outbox.c.id).order_by(outbox.c.id.desc())).scalar()
    sent_before = len(bot_api.sent)

    r = deliver(kanal, client, bot_api, case.deliver,
                update_bytes(case.update, tracking_id=tid or ""), case.headers)
    if r is not None:
        assert r.status_code == case.status, r.text
        if case.error:
            assert r.json()["error"] == case.error and r.json()["reason"]
            assert count(kanal, InboxItem) == inbox_before  # nothing stored
        else:
            assert r.json() == {"ok": True}
    kanal.dispatcher.run_once()
    for seconds, attempted in case.retries:
        clock.advance(seconds)
        assert kanal.dispatcher.run_once() == attempted
    kanal.media.run_once()

    tid = first_tid(kanal)
    assert count(kanal, Report) == case.reports
    quarantined = count(kanal, InboxItem, InboxItem.__table__.c.status == "quarantined")
    assert quarantined == (1 if case.quarantined else 0)
    assert count(kanal, InboxItem, InboxItem.__table__.c.status == "pending") == 0
    if case.quarantined:
        with kanal.engine.connect() as conn:
            error = conn.execute(select(InboxItem.__table__.c.error).where(
                InboxItem.__table__.c.status == "quarantined")).scalar_one()
        assert case.quarantined in error
    with kanal.engine.connect() as conn:
        replies = conn.execute(select(outbox.c.kind, outbox.c.status, outbox.c.recipient)
                               .where(outbox.c.id > (last_outbox or 0))).all()
    assert [r.kind for r in replies] == ([case.reply] if case.reply else [])
    new_sent = bot_api.sent[sent_before:]
    if case.reply:
        assert replies[0].status == case.reply_status
        assert replies[0].recipient == str(CHAT_ID)
        assert len(new_sent) == (1 if case.reply_status == "sent" else 0)
    else:
        assert new_sent == []
    for part in case.reply_has:
        assert part.format(tid=tid) in new_sent[0]["text"]
    if tid:
        view = client.get(f"/api/v1/reports/{tid}").json()
        assert len(view["photos"]) == case.photos
        if case.kelurahan:
            assert view["kelurahan"]["code"] == case.kelurahan
        if case.kinds:
            with kanal.engine.connect() as conn:
                messages = staff(conn, tid)["messages"]
            assert tuple(m["kind"] for m in messages) == case.kinds
    if case.check:
        assert tid is not None
        case.check(Run(kanal, client, bot_api, tid))

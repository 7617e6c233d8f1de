"""The citizen's rating of a finished case (core/rating.py): replies of a digit, the link
with its token, once only, by the reporter only; a bad rating reopens the case once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import keywords, rating, reports
from core.db import writing
from core.models import CaseEvent, Message, OutboxItem, Report
from tests.casework import drive, report_in_alfa, request, set_up
from tests.clock import Clock

event_t = CaseEvent.__table__
outbox_t = OutboxItem.__table__
message_t = Message.__table__
report_t = Report.__table__


@pytest.fixture
def kanal(make_kanal):
    return make_kanal(clock=Clock(datetime(2026, 11, 2, 3, 0, tzinfo=UTC)))


class Desk:
    """The officers of tests.casework, and the supervisor's actions on a reopened case."""

    def __init__(self, kanal):
        self.kanal, self.accounts = kanal, set_up(kanal)

    def finish(self, compact: str) -> None:
        drive(self.kanal, self.accounts, compact, "Selesai")

    def act(self, name: str, action: str, compact: str, **fields):
        self.kanal.clock.now += timedelta(minutes=5)
        return self.kanal.act_on_case(self.accounts[name], compact, request(action, fields))


@pytest.fixture
def desk(kanal):
    return Desk(kanal)


def report_row(kanal, compact: str | None = None):
    """That report's row, or the latest report's."""
    with kanal.engine.connect() as conn:
        stmt = select(report_t)
        if compact is not None:
            stmt = stmt.where(report_t.c.tracking_id == compact)
        return conn.execute(stmt.order_by(report_t.c.id.desc())).first()


def reported(kanal, fake, sender: str = "warga-1", text: str = "Lampu jalan mati") -> str:
    return report_in_alfa(kanal, text, sender=sender)


def finished(kanal, fake, desk, sender: str = "warga-1") -> str:
    compact = reported(kanal, fake, sender)
    desk.finish(compact)
    return compact


def reply(kanal, fake, text: str, sender: str = "warga-1") -> None:
    fake.push(text, sender=sender)
    assert kanal.poll_channel("fake") == 1


def answers(kanal, kind: str | None = None) -> list:
    with kanal.engine.connect() as conn:
        stmt = select(outbox_t).order_by(outbox_t.c.id)
        if kind is not None:
            stmt = stmt.where(outbox_t.c.kind == kind)
        return conn.execute(stmt).all()


def reports_count(kanal) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Report.__table__)).scalar_one()


def events(kanal, report_id: int, kind: str) -> list:
    with kanal.engine.connect() as conn:
        return conn.execute(select(event_t).where(event_t.c.report_id == report_id,
                                                  event_t.c.kind == kind)).all()


def public(kanal, compact: str) -> dict:
    with kanal.engine.connect() as conn:
        return reports.public_report(conn, compact)


READ = [
    ("4", (4, None)), ("4.", (4, None)), (" 5 ", (5, None)),
    ("2 lampu masih mati", (2, "lampu masih mati")), ("2, masih rusak", (2, "masih rusak")),
    ("5/5 mantap", (5, "mantap")), ("3 dari 5", (3, None)),
    ("0", None), ("6", None), ("10", None), ("1.5", None), ("2,5", None), ("lampu mati", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), READ, ids=[r[0] or "empty" for r in READ])
def test_a_rating_reply_is_a_digit_and_an_optional_comment(text, expected):
    assert keywords.rating_reply(text) == expected
    assert (keywords.parse(text) or (None,))[0] == ("rating" if expected else None)


def test_the_link_token_is_bound_to_the_report_and_the_secret():
    token = rating.rating_token("s3cret", "JK7QM4XA9")
    assert len(token) == rating.TOKEN_CHARS and token.replace("-", "").replace("_", "").isalnum()
    assert rating.token_matches("s3cret", "JK7QM4XA9", token)
    assert not rating.token_matches("other", "JK7QM4XA9", token)
    assert not rating.token_matches("s3cret", "JK7QM4XAB", token)
    assert not rating.token_matches("s3cret", "JK7QM4XA9", None)
    assert not rating.token_matches("s3cret", "JK7QM4XA9", token[:-1])


def test_a_finished_case_asks_its_reporter_for_a_rating(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    [ask] = answers(kanal, "rating_request")
    assert ask.recipient == "warga-1" and ask.channel == "fake"
    # a conversational channel: reply with the number, no link
    assert "1-5" in ask.text and "/nilai/" not in ask.text
    kanal.dispatcher.run_once()
    assert any(m.kind == "rating_request" and m.tracking_id == compact for m in fake.sent)


def test_a_reply_of_4_rates_the_finished_case(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    reply(kanal, fake, "4")
    r = report_row(kanal, compact)
    assert (r.rating, r.rating_comment, r.status, r.reopened_at) == (4, None, "Selesai", None)
    assert r.rated_at is not None
    assert reports_count(kanal) == 1
    [thanks] = answers(kanal, "rating_thanks")
    assert thanks.report_id == r.id and "4" in thanks.text
    [event] = events(kanal, r.id, "rated")
    assert (event.public, event.note, event.actor) == (True, "Pelapor memberi nilai 4 dari 5",
                                                       None)
    view = public(kanal, compact)
    assert view["rating"]["score"] == 4 and view["status"] == "Selesai"
    assert any(t["kind"] == "rated" for t in view["timeline"])
    with kanal.engine.connect() as conn:
        kinds = [m.kind for m in conn.execute(select(message_t).where(
            message_t.c.report_id == r.id, message_t.c.direction == "in"))]
    assert kinds == ["complaint", "rating"]


def test_a_bad_rating_with_a_comment_reopens_the_case_once(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    reply(kanal, fake, "2 lampu masih mati")
    r = report_row(kanal, compact)
    assert (r.rating, r.rating_comment, r.status) == (2, "lampu masih mati",
                                                     "Menunggu Verifikasi")
    assert r.reopened_at is not None and r.closed_at is None
    [event] = events(kanal, r.id, "rated")
    assert "lampu masih mati" not in event.note and "lampu masih mati" in event.detail
    [reopen] = events(kanal, r.id, "reopen")
    assert (reopen.status, reopen.from_status, reopen.public) == (
        "Menunggu Verifikasi", "Selesai", True)
    assert reopen.note == rating.REOPEN_NOTE
    [thanks] = answers(kanal, "rating_thanks")
    assert "dibuka kembali" in thanks.text
    view = public(kanal, compact)
    assert view["status"] == "Menunggu Verifikasi" and view["rating"]["score"] == 2
    assert "lampu masih mati" not in str(view)
    # the supervisor looks at it again: verified, it is Selesai, and not asked again
    assert desk.act("verifikator", "verify", compact).status == "Selesai"
    assert len(answers(kanal, "rating_request")) == 1
    # a second bad rating is refused: the case stays closed
    reply(kanal, fake, "1 tetap mati")
    r = report_row(kanal, compact)
    assert (r.status, r.rating) == ("Selesai", 2)
    [refused] = answers(kanal, "rating_refused")
    assert "sudah diberi nilai" in refused.text
    assert len(events(kanal, r.id, "reopen")) == 1


def test_a_reopened_case_can_also_be_returned_to_work(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    reply(kanal, fake, "1 tidak ada perbaikan")
    out = desk.act("verifikator", "return", compact, reason="Belum diperbaiki")
    assert out.status == "Proses"
    desk.act("sudinbm", "resolve", compact, proof=True)
    assert desk.act("verifikator", "verify", compact).status == "Selesai"
    assert report_row(kanal, compact).rating == 1


def test_a_bad_rating_without_a_comment_does_not_reopen(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    reply(kanal, fake, "1")
    r = report_row(kanal, compact)
    assert (r.rating, r.status, r.reopened_at) == (1, "Selesai", None)


def test_someone_elses_phone_cannot_rate(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    reply(kanal, fake, "5", sender="tetangga")
    assert report_row(kanal, compact).rating is None
    # the stranger has nothing to rate: "5" is a report of theirs, as before
    assert reports_count(kanal) == 2
    assert answers(kanal, "rating_thanks") == []


def test_a_digit_from_a_sender_with_no_finished_report_is_a_normal_report(kanal, fake, desk):
    compact = reported(kanal, fake)  # still Menunggu
    reply(kanal, fake, "3")
    assert report_row(kanal, compact).rating is None
    # threading decides, as for any message without a reference: a new report here
    assert reports_count(kanal) == 2
    with kanal.engine.connect() as conn:
        kinds = [m.kind for m in conn.execute(select(message_t).where(
            message_t.c.direction == "in").order_by(message_t.c.id))]
    assert kinds == ["complaint", "complaint"]
    assert len(answers(kanal, "ack")) == 2
    assert answers(kanal, "rating_refused") == answers(kanal, "rating_thanks") == []


def test_a_digit_long_after_the_closing_is_a_message_again(kanal, fake, desk, settings):
    compact = finished(kanal, fake, desk)
    with writing(kanal.engine) as conn:
        conn.execute(Report.__table__.update().values(
            closed_at=report_row(kanal, compact).closed_at - rating.REPLY_WINDOW
            - timedelta(hours=1)))
    reply(kanal, fake, "4")
    assert report_row(kanal, compact).rating is None
    assert reports_count(kanal) == 2


def test_rate_refuses_before_selesai_and_a_bad_score(kanal, fake, desk):
    compact = reported(kanal, fake)
    row = report_row(kanal, compact)
    now = kanal.clock()
    with writing(kanal.engine) as conn:
        with pytest.raises(rating.RatingRefused) as refused:
            rating.rate(kanal.cases, conn, row, 4, None, "test", now)
        assert (refused.value.status_code, refused.value.error) == (409, "not_finished")
    desk.finish(compact)
    row = report_row(kanal, compact)
    for bad in (0, 6, "4", 4.0, True, None):
        with writing(kanal.engine) as conn, pytest.raises(rating.RatingRefused) as refused:
            rating.rate(kanal.cases, conn, row, bad, None, "test", now)
        assert (refused.value.status_code, refused.value.error) == (422, "invalid_score")
    with writing(kanal.engine) as conn, pytest.raises(rating.RatingRefused) as refused:
        rating.rate(kanal.cases, conn, row, 4, None, "test", now, reporter_id=row.reporter_id + 99)
    assert (refused.value.status_code, refused.value.error) == (403, "not_reporter")
    with writing(kanal.engine) as conn:
        done = rating.rate(kanal.cases, conn, row, 5, "cepat", "test", now)
    assert (done.score, done.reopened) == (5, False)
    with writing(kanal.engine) as conn, pytest.raises(rating.RatingRefused) as refused:
        rating.rate(kanal.cases, conn, row, 5, None, "test", now)
    assert (refused.value.status_code, refused.value.error) == (409, "already_rated")


def test_a_rating_reply_before_selesai_is_refused_with_the_reason(kanal, fake, desk):
    compact = finished(kanal, fake, desk)
    reply(kanal, fake, "2 masih rusak")  # reopened: Menunggu Verifikasi
    reply(kanal, fake, "5")
    r = report_row(kanal, compact)
    assert (r.rating, r.status) == (2, "Menunggu Verifikasi")
    [refused] = answers(kanal, "rating_refused")
    assert refused.report_id == r.id


def link_of(kanal, compact: str) -> str:
    return f"/nilai/{compact}?t={rating.rating_token(kanal.rating_prompts.secret, compact)}"


def test_the_web_link_rates_once_with_its_token(kanal, client, fake, desk):
    compact = reported(kanal, fake)
    link = link_of(kanal, compact)
    token = link.split("t=")[1]
    early = client.get(link)
    assert early.status_code == 409 and 'data-reason="not_finished"' in early.text
    assert "Menunggu" in early.text
    desk.finish(compact)
    page = client.get(link)
    assert page.status_code == 200
    assert 'type="radio"' in page.text and f'value="{token}"' in page.text
    # English keeps the token on the language link
    english = client.get(link + "&lang=en")
    assert "Rate report" in english.text and f"t={token}" in english.text
    missing = client.post(f"/nilai/{compact}", data={"t": token, "comment": "x"})
    assert missing.status_code == 422 and "score-1" in missing.text
    done = client.post(f"/nilai/{compact}", data={"t": token, "score": "2",
                                                  "comment": "Masih gelap di ujung gang"})
    assert done.status_code == 200 and 'id="rated"' in done.text and 'id="reopened"' in done.text
    r = report_row(kanal, compact)
    assert (r.rating, r.rating_comment, r.status) == (2, "Masih gelap di ujung gang",
                                                     "Menunggu Verifikasi")
    [event] = events(kanal, r.id, "rated")
    assert event.detail.startswith("via web")
    again = client.post(f"/nilai/{compact}", data={"t": token, "score": "5"})
    assert again.status_code == 409 and 'data-reason="already_rated"' in again.text
    assert client.get(link).status_code == 409
    view = client.get(f"/api/v1/reports/{compact}").json()
    assert view["status"] == "Menunggu Verifikasi" and view["rating"]["score"] == 2


BAD_TOKENS = [("wrong", "AAAAAAAAAAAAAAAAAAAAAA"), ("empty", ""), ("short", None)]


@pytest.mark.parametrize(("label", "token"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
def test_the_web_link_refuses_a_bad_token(kanal, client, fake, desk, label, token):
    compact = finished(kanal, fake, desk)
    if token is None:
        token = link_of(kanal, compact).split("t=")[1][:-1]
    page = client.get(f"/nilai/{compact}?t={token}")
    assert page.status_code == 403 and 'data-reason="bad_token"' in page.text
    post = client.post(f"/nilai/{compact}", data={"t": token, "score": "5"})
    assert post.status_code == 403
    # another report's token does not open this one
    other = reported(kanal, fake, sender="warga-2")
    foreign = link_of(kanal, other).split("t=")[1]
    assert client.post(f"/nilai/{compact}", data={"t": foreign, "score": "5"}
                       ).status_code == 403
    assert report_row(kanal, compact).rating is None


def test_the_web_link_of_a_mistyped_number_is_404(client):
    assert client.get("/nilai/JK7Q-M4XA-0?t=x").status_code == 404


def test_the_web_form_confirmation_shows_the_rating_link_to_the_reporter_only(kanal, client):
    r = client.post("/lapor", data={
        "text": "Saluran air tersumbat di Gang 3, air meluap ke jalan.",
        "category": "saluran-air", "address": "Gg. 3 RT 04/RW 02",
        "submission_id": "form-nonce-rating-1"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    compact = report_row(kanal).tracking_id
    assert location.endswith(link_of(kanal, compact).split("?")[1])
    mine = client.get(location)
    assert 'id="rating-link"' in mine.text and link_of(kanal, compact) in mine.text
    # whoever only knows the number does not get the link
    assert 'id="rating-link"' not in client.get(location.split("?")[0]).text


def test_the_request_has_the_link_where_a_reply_cannot_rate(kanal, fake, desk):
    from core.messages import OutboundTexts
    from core.unit import Notice

    compact = finished(kanal, fake, desk)
    r = report_row(kanal, compact)
    asked = [Notice("status_changed", {"status": "Selesai"}),
             Notice("rating_request", {"link": kanal.rating_prompts.link(compact)})]
    with kanal.engine.connect() as conn:
        # the report's channel is not running (or answers inline): the link stays
        [kept] = rating._prompts(conn, r.id, asked, {})
        [conversational] = rating._prompts(conn, r.id, asked, kanal.adapters)
    assert kept.details["link"].endswith(link_of(kanal, compact))
    assert conversational.details["link"] is None
    texts = OutboundTexts("https://lapor.jakarta.go.id")
    with_link = texts.kanal_format_outbound("rating_request", r, "id", kept.details)
    assert kept.details["link"] in with_link and "Beri nilai 1-5" in with_link
    assert len(texts.kanal_format_outbound("rating_request", r, "id", {"link": None})) <= 160
    reply(kanal, fake, "5")
    with kanal.engine.connect() as conn:  # rated: no second request, the status notice
        assert [n.kind for n in rating._prompts(conn, r.id, asked, {})] == ["status_changed"]

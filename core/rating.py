"""The citizen's rating of a resolved case: once, by the reporter, on their own channel.

A case that reaches ``Selesai`` asks its reporter for a score of 1 to 5
(``RatingPrompts``): a reply of a digit on SMS and WhatsApp, buttons on Telegram, a
link with a token (``rating_token``) on email, web and walk-in receipts. ``rate`` records
the score once. A score of 1 or 2 with a comment reopens the case, once, into
``Menunggu Verifikasi`` so that a supervisor looks at it again (verify: ``Selesai``;
return: ``Proses``); the comment stays with staff, the public timeline shows the score.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, insert, select, update

from core.cases import SELESAI, VERIFIKASI, case_row
from core.errors import ApiError
from core.hookspecs import hookimpl
from core.models import CaseEvent, Report
from core.unit import CaseWork, Notice, StatusChange

report_t = Report.__table__
event_t = CaseEvent.__table__

SCORES = range(1, 6)
# a score at or below this, with a comment, reopens the case (once)
REOPEN_AT = 2
MAX_COMMENT = 2000
# how long after its closing a reply of a digit still rates a case; later, "3" is a message
REPLY_WINDOW = timedelta(days=30)
TOKEN_CHARS = 22
REOPEN_NOTE = "Dibuka kembali untuk diperiksa supervisor"


class RatingRefused(ApiError):
    """A rating that cannot be taken, with the reason as its code: ``not_finished``,
    ``already_rated``, ``not_reporter`` (409, 403) or ``invalid_score`` (422)."""


@dataclass(frozen=True, slots=True)
class Rated:
    report_id: int
    tracking_id: str
    score: int
    reopened: bool
    event_id: int


def rating_token(secret: str, compact: str) -> str:
    """The secret of a rating link: an HMAC of the tracking id under a key derived from
    the runtime's secret, so nothing is stored and only the reporter's link carries it."""
    key = hashlib.sha256(b"kanal rating link\0" + secret.encode()).digest()
    mac = hmac.new(key, compact.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:TOKEN_CHARS]


def token_matches(secret: str, compact: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(
        rating_token(secret, compact).encode(), str(presented).encode())


def rating_link(base_url: str, secret: str, compact: str) -> str:
    return f"{base_url.rstrip('/')}/nilai/{compact}?t={rating_token(secret, compact)}"


def reply_target(conn: Connection, reporter_id: int | None, now: datetime) -> Row | None:
    """The report a reply of a digit rates: the reporter's most recent ``Selesai`` report
    closed within ``REPLY_WINDOW`` and not rated yet; else their most recent one rated in
    that window (so a second rating is refused, not taken as a new report); else None."""
    if reporter_id is None:
        return None
    since = now - REPLY_WINDOW
    mine = select(report_t).where(report_t.c.reporter_id == reporter_id)
    unrated = conn.execute(mine.where(
        report_t.c.status == SELESAI, report_t.c.rating.is_(None),
        report_t.c.closed_at >= since).order_by(report_t.c.closed_at.desc(),
                                                report_t.c.id.desc()).limit(1)).first()
    if unrated is not None:
        return unrated
    return conn.execute(mine.where(report_t.c.rated_at >= since)
                        .order_by(report_t.c.rated_at.desc(), report_t.c.id.desc())
                        .limit(1)).first()


def rate(cases, conn: Connection, report: Row, score, comment: str | None, via: str,
         now: datetime, reporter_id: int | None = None) -> Rated:
    """Record the reporter's rating of ``report`` in the caller's transaction.

    ``cases`` is the runtime's ``core.cases.Cases`` (``Kanal.cases``): it reopens a case
    rated 1 or 2 with a comment. ``via`` names where the rating came from (``sms``,
    ``telegram``, ``web``) for staff. ``reporter_id``, when given, must be the report's
    reporter (a reply or a button press; the web link's token stands for it).
    Raises ``RatingRefused``."""
    if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
        raise RatingRefused(422, "invalid_score", "the score must be a whole number from 1 "
                            "to 5", field="score")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise RatingRefused(422, "invalid_field", f"the comment takes at most {MAX_COMMENT} "
                            "characters", field="comment")
    if reporter_id is not None and report.reporter_id != reporter_id:
        raise RatingRefused(403, "not_reporter", "only the reporter may rate this report")
    case = case_row(conn, report_t.c.id == report.id, lock=True)
    if case.rating is not None:
        raise RatingRefused(409, "already_rated", "this report was rated already")
    if case.status != SELESAI:
        raise RatingRefused(409, "not_finished", f"this report is {case.status}, not "
                            f"{SELESAI}: it can be rated once it is finished")
    # the condition holds the "once" also against a rating committed since the read
    done = conn.execute(update(report_t).where(
        report_t.c.id == case.id, report_t.c.rating.is_(None),
        report_t.c.status == SELESAI).values(
        rating=score, rating_comment=comment, rated_at=now, updated_at=now))
    if done.rowcount != 1:
        raise RatingRefused(409, "already_rated", "this report was rated already")
    detail = f"via {via}" + (f": {comment}" if comment else "")
    event_id = conn.execute(insert(event_t).values(
        report_id=case.id, kind="rated", status=SELESAI, from_status=SELESAI,
        note=f"Pelapor memberi nilai {score} dari 5", actor=None, public=True,
        unit_id=case.unit_id, detail=detail, created_at=now).returning(event_t.c.id)
    ).scalar_one()
    reopened = score <= REOPEN_AT and comment is not None and case.reopened_at is None
    if reopened:
        cases.change_status(conn, case, action="reopen", new_status=VERIFIKASI,
                            note=REOPEN_NOTE, actor=None, now=now,
                            values={"reopened_at": now, "closed_at": None},
                            detail=f"nilai {score} dari pelapor: {comment}")
    return Rated(case.id, case.tracking_id, score, reopened, event_id)


class RatingPrompts:
    """Built-in plugin ``rating_prompts``: a case that reaches ``Selesai`` asks its
    reporter for a rating (``Notice("rating_request", {"link": ...})``).

    ``deliver_with`` wraps the runtime's delivery of notices (``core.notify``): the rating
    request stands in for the ``Selesai`` status notice (it says the report is resolved:
    one message, not two); a case rated already (a reopened case verified again) gets
    the status notice and no request; and where the citizen can simply reply with the
    number (the conversational channels) the request has no link (Telegram adds buttons,
    ``adapters.telegram.outbound``)."""

    def __init__(self, secret: str, public_base_url: str = ""):
        self.secret = secret
        self.base = public_base_url.rstrip("/")

    def link(self, compact: str) -> str:
        return rating_link(self.base, self.secret, compact)

    @hookimpl
    def kanal_status_changed(self, change: StatusChange, work: CaseWork) -> None:
        if change.new_status == SELESAI:
            work.notify_reporter("rating_request", {"link": self.link(change.tracking_id)})

    def deliver_with(self, deliver: Callable[[Connection, int, list[Notice], datetime], None],
                     adapters: Mapping) -> Callable[[Connection, int, list[Notice], datetime],
                                                    None]:
        def delivering(conn: Connection, report_id: int, notices: list[Notice],
                       now: datetime) -> None:
            if any(n.kind == "rating_request" for n in notices):
                notices = _prompts(conn, report_id, notices, adapters)
            if notices:
                deliver(conn, report_id, notices, now)
        return delivering


def _prompts(conn: Connection, report_id: int, notices: list[Notice],
             adapters: Mapping) -> list[Notice]:
    row = conn.execute(select(report_t.c.channel, report_t.c.rating)
                       .where(report_t.c.id == report_id)).one()
    if row.rating is not None:
        return [n for n in notices if n.kind != "rating_request"]
    adapter = adapters.get(row.channel)
    if adapter is not None and not adapter.rates:  # rated where it came from (LAPOR!)
        return [n for n in notices if n.kind != "rating_request"]
    replies = adapter is not None and adapter.keywords and not adapter.replies_inline
    out = []
    for n in notices:
        if n.kind == "status_changed" and n.details.get("status") == SELESAI:
            continue  # said by the request
        out.append(Notice(n.kind, {**n.details, "link": None})
                   if n.kind == "rating_request" and replies else n)
    return out


def find(conn: Connection, compact: str) -> Row | None:
    return case_row(conn, report_t.c.tracking_id == compact)

"""SMS and WhatsApp through Twilio's real protocol: signed form webhooks in, the Messages
API of a local fake Twilio out. One table of named cases, one scenario file each."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from core import tracking
from core.models import (
    Attachment, InboxItem, MediaJob, Message, OutboxItem, Report, ReporterIdentity,
)
from tests.adapters.sms.conftest import (
    CITIZEN, FORM, NUMBER, PUBLIC, TESTDATA, drive, load, post,
)
from tests.adapters.sms.fake_twilio import JPEG

WA_NUMBER = "whatsapp:" + NUMBER
WA_CITIZEN = "whatsapp:" + CITIZEN
BSUID = "ID.123456789"


@dataclass
class Case:
    label: str
    payload: str
    channel: str = "sms"
    before: tuple[str, ...] = ()  # payloads delivered (and answered) first
    signature: str = "valid"  # valid | bad | missing
    content_type: str = FORM
    # the API's next answers: (status, Retry-After)
    failures: tuple[tuple[int, str | None], ...] = ()
    invalid_number: str | None = None
    # how {media0} is served: cdn | direct | flaky | offsite | cdn_offsite | too_large
    media: str | None = None
    # what should happen
    status: int = 200
    error: str | None = None
    inbox: str | None = "processed"  # the payload's inbox row; None = nothing stored
    reports: int = 1
    replies: tuple[str, ...] = ("ack",)  # kinds of the answers to this payload
    reply_has: tuple[str, ...] = ("{tid}",)
    outbox: str = "sent"  # how the answers end
    attempts: int = 1
    min_gap: float | None = None  # seconds between the failed and the next try
    kelurahan: str | None = None
    photos: int = 0
    media_job: str | None = None
    media_attempts: int = 1
    opted_out: bool | None = None
    delivery: str | None = None  # of the acknowledgement after a status callback
    # the answers' To and From at Twilio, when not the channel's own (None: as the channel)
    to: str | None = None
    from_: str | None = None
    # every (kind, handle) kanal knows afterwards, all of one reporter
    identities: tuple[tuple[str, str], ...] | None = None


CASES = [
    Case("happy_sms", "sms_happy.json"),
    Case("happy_whatsapp_photo_and_location", "whatsapp_photo_location.json", "whatsapp",
         media="cdn", kelurahan="31.71.01.1001", photos=1, media_job="done"),
    Case("whatsapp_location_message", "whatsapp_location.json", "whatsapp",
         kelurahan="31.71.01.1001"),
    Case("media_without_cdn_redirect", "whatsapp_photo_offsite.json", "whatsapp",
         media="direct", photos=1, media_job="done"),
    Case("media_download_fails_then_succeeds", "whatsapp_photo_offsite.json", "whatsapp",
         media="flaky", photos=1, media_job="done", media_attempts=2),
    Case("media_on_a_host_not_allowed", "whatsapp_photo_offsite.json", "whatsapp",
         media="offsite", media_job="failed"),
    Case("media_redirected_to_a_host_not_allowed", "whatsapp_photo_offsite.json", "whatsapp",
         media="cdn_offsite", media_job="failed"),
    Case("media_too_large", "whatsapp_photo_too_large.json", "whatsapp", media="too_large",
         media_job="failed"),
    Case("duplicate_delivery", "sms_happy.json", before=("sms_happy.json",), replies=()),
    Case("bad_signature", "sms_happy.json", signature="bad", status=403,
         error="bad_signature", inbox=None, reports=0, replies=()),
    Case("missing_signature", "sms_happy.json", signature="missing", status=403,
         error="missing_signature", inbox=None, reports=0, replies=()),
    Case("shadow_mode_accepts_a_bad_signature", "sms_happy.json", "sms-shadow",
         signature="bad"),
    Case("malformed_body", "malformed_body.txt", status=400, error="malformed_payload",
         inbox=None, reports=0, replies=()),
    Case("missing_message_sid", "sms_missing_message_sid.json", status=400,
         error="malformed_payload", inbox=None, reports=0, replies=()),
    Case("message_sid_of_the_wrong_shape", "sms_short_message_sid.json", status=400,
         error="malformed_payload", inbox=None, reports=0, replies=()),
    Case("another_twilio_account", "sms_foreign_account.json", status=403,
         error="wrong_account", inbox=None, reports=0, replies=()),
    Case("missing_account_sid", "sms_missing_account_sid.json", status=400,
         error="malformed_payload", inbox=None, reports=0, replies=()),
    Case("status_callback_of_another_account", "status_callback_foreign_account.json",
         before=("sms_happy.json",), status=403, error="wrong_account", inbox=None,
         replies=(), delivery="sent"),
    Case("unsupported_content_type", "sms_happy.json", content_type="application/json",
         status=415, error="unsupported_media_type", inbox=None, reports=0, replies=()),
    Case("unknown_whatsapp_message_type", "whatsapp_unsupported_type.json", "whatsapp",
         inbox="quarantined", reports=0, replies=()),
    Case("empty_sms", "sms_empty_body.json", inbox="quarantined", reports=0, replies=()),
    Case("follow_up_quoting_the_tracking_id", "sms_follow_up.json", before=("sms_happy.json",),
         replies=("follow_up_ack",)),
    Case("status_keyword", "sms_status.json", before=("sms_happy.json",),
         replies=("status_reply",), reply_has=("{tid}", "Menunggu", "/lacak/{tid}")),
    Case("follow_up_on_whatsapp_to_an_sms_report", "whatsapp_follow_up.json", "whatsapp",
         before=("sms_happy.json",), replies=("follow_up_ack",)),
    Case("cek_keyword_on_whatsapp", "whatsapp_cek_status.json", "whatsapp",
         before=("sms_happy.json",), replies=("status_reply",), reply_has=("{tid}",)),
    Case("whatsapp_user_known_by_a_business_scoped_id", "whatsapp_bsuid.json", "whatsapp",
         to="whatsapp:" + BSUID, identities=(("whatsapp_bsuid", BSUID),)),
    Case("cek_keyword_from_a_business_scoped_id", "whatsapp_bsuid_cek_status.json",
         "whatsapp", before=("sms_happy.json",), replies=("status_reply",),
         reply_has=("{tid}", "Menunggu"), to="whatsapp:" + BSUID),
    Case("whatsapp_phone_with_its_business_scoped_id", "whatsapp_phone_and_bsuid.json",
         "whatsapp", identities=(("phone", CITIZEN), ("whatsapp_bsuid", "ID.1234567890123456"))),
    Case("malformed_external_user_id", "whatsapp_malformed_external_user_id.json", "whatsapp",
         status=400, error="malformed_payload", inbox=None, reports=0, replies=()),
    Case("whatsapp_on_the_sms_webhook_answered_on_whatsapp", "whatsapp_on_the_sms_webhook.json",
         to=WA_CITIZEN, from_="whatsapp:+628111272299", identities=(("phone", CITIZEN),)),
    Case("business_scoped_id_on_the_sms_webhook", "whatsapp_bsuid_on_the_sms_webhook.json",
         to="whatsapp:" + BSUID, from_=WA_NUMBER, identities=(("whatsapp_bsuid", BSUID),)),
    Case("cek_on_whatsapp_through_the_sms_webhook", "whatsapp_cek_status.json",
         before=("sms_happy.json",), replies=("status_reply",), reply_has=("{tid}",),
         to=WA_CITIZEN, from_=WA_NUMBER),
    Case("stop_opts_out", "sms_stop.json", before=("sms_happy.json",),
         replies=("opt_out_ack",), reply_has=("MULAI",), opted_out=True),
    Case("berhenti_opts_out", "sms_berhenti.json", before=("sms_happy.json",),
         replies=("opt_out_ack",), reply_has=("MULAI",), opted_out=True),
    Case("mulai_opts_back_in", "sms_mulai.json", before=("sms_happy.json", "sms_stop.json"),
         replies=("opt_in_ack",), reply_has=("STOP",), opted_out=False),
    Case("status_callback_delivered", "status_callback_delivered.json",
         before=("sms_happy.json",), status=204, inbox=None, replies=(), delivery="delivered"),
    Case("status_callback_undelivered", "status_callback_undelivered.json",
         before=("sms_happy.json",), status=204, inbox=None, replies=(), delivery="failed"),
    Case("send_fails_with_500_then_succeeds", "sms_happy.json",
         failures=((500, None), (500, None)), attempts=3),
    Case("send_throttled_429_respects_retry_after", "sms_happy.json",
         failures=((429, "120"),), attempts=2, min_gap=120),
    Case("invalid_number_is_dead_at_once", "sms_invalid_number.json",
         invalid_number="+6281299999999", outbox="dead", reply_has=()),
]


def count(kanal, model, *where) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)
                            .where(*where)).scalar_one()


def serve_media(twilio, how: str | None) -> dict[str, str]:
    if how is None:
        return {}
    twilio.media_failures = 1 if how == "flaky" else 0
    if how == "too_large":
        return {"media0": twilio.add_media(JPEG + b"\x00" * 70_000)}
    return {"media0": twilio.add_media(cdn={"direct": None, "cdn_offsite": "localhost"}.get(
        how, "127.0.0.1"), host="localhost" if how == "offsite" else "127.0.0.1")}


def tracking_ids(kanal) -> list[str]:
    with kanal.engine.connect() as conn:
        return list(conn.execute(select(Report.tracking_id).order_by(Report.id)).scalars())


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_twilio_webhook(case: Case, sms_client, sms_kanal, twilio, clock, caplog):
    kanal = sms_kanal
    for name in case.before:
        assert post(sms_client, "sms", load(name, tid=(tracking_ids(kanal) or [""])[0]),
                    ).status_code == 200
        drive(kanal.dispatcher.run_once, OutboxItem.__table__, clock)
    tids = tracking_ids(kanal)
    values = {"tid": tracking.display(tids[0]) if tids else "",
              "sid": twilio.messages[0].sid if twilio.messages else "",
              **serve_media(twilio, case.media)}
    inbox_before, outbox_before = count(kanal, InboxItem), count(kanal, OutboxItem)
    for status, retry_after in case.failures:
        twilio.fail_next(1, status, retry_after)
    if case.invalid_number:
        twilio.invalid_numbers.add(case.invalid_number)

    if case.payload.endswith(".txt"):
        r = post(sms_client, case.channel, body=(TESTDATA / case.payload).read_bytes(),
                 signature=case.signature)
    else:
        params = load(case.payload, **values)
        body = None if case.content_type == FORM else str(params).encode()
        r = post(sms_client, case.channel, params, body=body, signature=case.signature,
                 content_type=case.content_type)

    assert r.status_code == case.status, r.text
    assert ("would reject" in caplog.text) is (case.channel == "sms-shadow")
    if case.error:
        assert r.json()["error"] == case.error and r.json()["reason"]
        assert count(kanal, InboxItem) == inbox_before
    elif case.status == 200:
        assert r.headers["content-type"].startswith("application/xml")
        assert r.text.replace(" ", "").endswith("<Response/>")
    if case.inbox is not None:
        sid = load(case.payload, **values)["MessageSid"]
        assert count(kanal, InboxItem, InboxItem.external_id == sid) == 1
        assert count(kanal, InboxItem, InboxItem.external_id == sid,
                     InboxItem.status == case.inbox) == 1
    assert count(kanal, Report) == case.reports

    posts_before = len(twilio.posts())
    drive(kanal.dispatcher.run_once, OutboxItem.__table__, clock)
    with kanal.engine.connect() as conn:
        answers = conn.execute(select(OutboxItem).where(OutboxItem.id > outbox_before)
                               .order_by(OutboxItem.id)).all()
    assert [a.kind for a in answers] == list(case.replies)
    assert all(a.status == case.outbox and a.attempts == case.attempts for a in answers)
    tried = twilio.posts()[posts_before:]
    assert len(tried) == case.attempts * len(answers)
    for answer in answers:
        landed = [m for m in tried if m.sid and m.sid == answer.provider_message_id]
        assert len(landed) == (case.outbox == "sent")
        for m in landed:
            whatsapp = case.channel == "whatsapp"
            assert m.form["To"] == (case.to or ("whatsapp:" if whatsapp else "")
                                    + answer.recipient)
            assert m.form["From"] == (case.from_ or (
                WA_NUMBER if whatsapp else kanal.adapters[case.channel].settings.number))
            assert m.form["Body"] == answer.text
            assert m.form["StatusCallback"] == f"{PUBLIC}/webhooks/{case.channel}"
            for needle in case.reply_has:
                assert needle.format(**values) in m.form["Body"]
    if case.min_gap is not None:
        assert (tried[-1].at - tried[-2].at).total_seconds() >= case.min_gap

    if case.media:
        drive(kanal.media.run_once, MediaJob.__table__, clock)
        with kanal.engine.connect() as conn:
            job = conn.execute(select(MediaJob)).one()
        assert (job.status, job.attempts) == (case.media_job, case.media_attempts), job.last_error
        assert count(kanal, Message, Message.id == job.message_id) == 1  # the message is kept
        fetched = [g.path for g in twilio.received if g.method == "GET"]
        if case.media == "offsite":
            assert fetched == [] and "not allowed" in job.last_error
        if case.media == "cdn_offsite":
            assert len(fetched) == 1 and "not allowed" in job.last_error
    assert count(kanal, Attachment) == case.photos
    if case.kelurahan or case.photos:
        new = tracking_ids(kanal)[-1]
        view = sms_client.get(f"/api/v1/reports/{tracking.display(new)}").json()
        assert (view["kelurahan"] or {}).get("code") == case.kelurahan
        assert len(view["photos"]) == case.photos
        assert CITIZEN[3:] not in r.text + str(view) and "Budi" not in str(view)
    if case.opted_out is not None:
        with kanal.engine.connect() as conn:
            flags = conn.execute(select(ReporterIdentity.opted_out).where(
                ReporterIdentity.kind == "phone", ReporterIdentity.handle == CITIZEN)).all()
        assert flags == [(case.opted_out,)]
    if case.identities is not None:
        with kanal.engine.connect() as conn:
            known = conn.execute(select(ReporterIdentity.kind, ReporterIdentity.handle,
                                        ReporterIdentity.reporter_id)).all()
        assert {(k, h) for k, h, _ in known} == set(case.identities)
        assert len({r for _, _, r in known}) == 1
    if case.delivery:
        with kanal.engine.connect() as conn:
            ack = conn.execute(select(Message).where(Message.direction == "out")).one()
        assert ack.delivery == case.delivery and ack.external_id == values["sid"]

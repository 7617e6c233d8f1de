"""The counter form: a walk-in complaint through the same pipeline as every channel, the
printable receipt, notifications on consent, and every named bad input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from adapters.fake.plugin import FakeChannel
from core import tracking
from core.canonical import Sender
from core.hookspecs import hookimpl
from core.models import Attachment, CaseEvent, InboxItem, Message, OutboxItem, Report
from gateway.app import create_app
from tests.adapters.web.helpers import png
from tests.staff.conftest import csrf_of, sign_in

report_t, inbox_t, message_t = Report.__table__, InboxItem.__table__, Message.__table__
outbox_t, attachment_t = OutboxItem.__table__, Attachment.__table__


def form_page(client: TestClient) -> str:
    r = client.get("/staff/walk-in")
    assert r.status_code == 200
    return r.text


def submit(client: TestClient, files=None, csrf: str | None = "auto", **fields):
    page = form_page(client)
    data = {"text": "Saluran air tersumbat di depan rumah.", "name": "Ibu Sari",
            "submission_id": "walkin-test-0001", **fields}
    if csrf == "auto":
        data["csrf"] = csrf_of(page)
    elif csrf is not None:
        data["csrf"] = csrf
    return client.post("/staff/walk-in", data=data, files=files or [])


def count(kanal, table) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def only(kanal, table):
    with kanal.engine.connect() as conn:
        [row] = conn.execute(select(table)).all()
    return row


def test_counter_complaint_becomes_a_report_with_a_printable_receipt(staff_client,
                                                                      staff_kanal):
    sign_in(staff_client, "loket")
    r = submit(staff_client, files=[("files", ("foto.png", png(), "image/png"))],
               category=staff_kanal.category_list[0]["id"], address="Jl. Mawar 3")
    assert r.status_code == 303, r.text
    receipt_url = r.headers["location"]
    shown = receipt_url.rsplit("/", 1)[1]
    report = only(staff_kanal, report_t)
    assert tracking.display(report.tracking_id) == shown
    # counted under the counter's official channel, routed to the office's kelurahan
    assert (report.channel, report.official_channel) == ("kantor-kelurahan",
                                                         "kantor-kelurahan")
    assert report.kelurahan_code == "31.71.01.1001" and report.address == "Jl. Mawar 3"
    assert only(staff_kanal, attachment_t).media_type == "image/png"
    kept = json.loads(only(staff_kanal, inbox_t).payload)
    assert kept["clerk"] == "loket" and kept["office_id"] == "kelurahan-31.71.01.1001"
    page = staff_client.get(receipt_url)
    assert page.status_code == 200
    assert f'id="tracking-id">{shown}<' in page.text
    assert "Kantor Kelurahan Alfa" in page.text and " WIB" in page.text
    assert f"/lacak/{shown}" in page.text
    # the citizen's own rating link, for when the report is resolved (core.rating)
    assert f"/nilai/{report.tracking_id}?t=" in page.text and 'id="rating-link"' in page.text
    assert "STATUS" not in page.text  # no SMS channel runs: no number to text it to
    assert 'id="not-notified"' not in page.text  # nobody asked to be notified
    assert 'src="data:image/svg+xml' in page.text  # the QR code
    assert "@media print" in staff_client.get("/static/staff.css").text
    # the citizen finds it on the public tracking page
    assert staff_client.get(f"/lacak/{shown}").status_code == 200


def test_kecamatan_counter_sends_unlocated_reports_to_triage_in_its_kecamatan(
        staff_client, staff_kanal):
    sign_in(staff_client, "loketkec")
    assert 'value="" selected' not in form_page(staff_client)
    assert submit(staff_client).status_code == 303
    report = only(staff_kanal, report_t)
    assert report.channel == "kantor-kecamatan" and report.kelurahan_code is None
    assert report.kecamatan_code == "31.72.01" and report.queue == "triage:31.72.01"


def test_picked_kelurahan_wins_over_the_office_default(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    assert submit(staff_client, kelurahan="31.72.01.1002").status_code == 303
    assert only(staff_kanal, report_t).kelurahan_code == "31.72.01.1002"


def test_kelurahan_office_form_defaults_to_its_own_kelurahan(staff_client):
    sign_in(staff_client, "loket")
    assert 'value="31.71.01.1001" selected' in form_page(staff_client)


def test_same_form_posted_twice_is_one_report(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    first = submit(staff_client).headers["location"]
    assert submit(staff_client).headers["location"] == first
    assert count(staff_kanal, report_t) == 1


@pytest.mark.parametrize("fields, files, status, says", [
    pytest.param({"text": "  "}, None, 422, "Tulis isi pengaduan warga", id="missing-text"),
    pytest.param({"phone": "12"}, None, 422, "nomor telepon yang benar", id="bad-phone"),
    pytest.param({"kelurahan": "31.99.99.9999"}, None, 422, "Pilih kelurahan dari daftar",
                 id="unknown-kelurahan"),
    pytest.param({"consent": "yes"}, None, 422, "isi nomor telepon atau email",
                 id="consent-without-contact"),
    pytest.param({}, [("files", ("surat.exe", b"MZ\x90\x00" * 64, "application/pdf"))], 415,
                 "tidak dapat diterima", id="wrong-type"),
    pytest.param({}, [("files", ("besar.png", png(pad=300_000), "image/png"))], 413,
                 "terlalu besar", id="too-large"),
])
def test_bad_input_keeps_what_was_typed_and_saves_nothing(staff_client, staff_kanal, fields,
                                                          files, status, says):
    staff_kanal.settings.max_photo_bytes = 200_000
    sign_in(staff_client, "loket")
    r = submit(staff_client, files=files, address="Jl. Kenanga 7", **fields)
    assert r.status_code == status
    assert says in r.text and "Laporan belum disimpan" in r.text
    assert 'value="Ibu Sari"' in r.text and 'value="Jl. Kenanga 7"' in r.text
    assert count(staff_kanal, inbox_t) == count(staff_kanal, report_t) == 0
    if files:
        assert "Pilih lagi 1 berkas" in r.text


def test_pdf_documents_are_taken(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    r = submit(staff_client, files=[("files", ("surat.pdf", pdf, "application/pdf"))])
    assert r.status_code == 303
    assert only(staff_kanal, attachment_t).media_type == "application/pdf"


def test_missing_csrf_token_keeps_the_form(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    r = submit(staff_client, csrf=None)
    assert r.status_code == 403 and "Formulir ini sudah kedaluwarsa" in r.text
    assert "Saluran air tersumbat" in r.text
    assert count(staff_kanal, inbox_t) == 0
    # the form that came back carries a good token: sending it again works
    again = staff_client.post("/staff/walk-in", data={
        "text": "Saluran air tersumbat di depan rumah.", "csrf": csrf_of(r.text),
        "submission_id": "walkin-test-0001"})
    assert again.status_code == 303


def test_expired_session_keeps_the_form_and_resumes_after_signing_in(staff_client,
                                                                     staff_kanal):
    sign_in(staff_client, "loket")
    page = form_page(staff_client)
    staff_client.cookies.clear()  # the session is gone (expired, or signed out elsewhere)
    r = staff_client.post("/staff/walk-in", data={
        "text": "Lampu taman mati.", "name": "Pak Budi", "csrf": csrf_of(page),
        "submission_id": "walkin-test-0002"})
    assert r.status_code == 401 and "Sesi Anda telah berakhir" in r.text
    assert "Lampu taman mati." in r.text and 'value="Pak Budi"' in r.text
    assert count(staff_kanal, inbox_t) == 0
    kept = csrf_of(r.text)
    login = staff_client.get("/staff/login")  # in another tab
    staff_client.post("/staff/login", data={"username": "loket",
                                            "password": "kata-sandi-rahasia",
                                            "csrf": csrf_of(login.text)})
    done = staff_client.post("/staff/walk-in", data={
        "text": "Lampu taman mati.", "name": "Pak Budi", "csrf": kept,
        "submission_id": "walkin-test-0002"})
    assert done.status_code == 303 and count(staff_kanal, report_t) == 1


def test_citizen_text_is_escaped(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    evil = "<script>alert('x')</script>"
    r = submit(staff_client, text=evil, name=evil, phone="12")
    assert r.status_code == 422
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in r.text
    ok = submit(staff_client, text=evil + " jalan rusak", name=evil)
    shown = ok.headers["location"].rsplit("/", 1)[1]
    for url in (ok.headers["location"], f"/staff/lookup?id={shown}", f"/lacak/{shown}"):
        assert "<script>alert" not in staff_client.get(url).text, url


class PhoneChannel(FakeChannel):
    """A stand-in for the SMS channel: same contract, sends to phone numbers."""

    name = "fake_phone"
    sender_kind = "phone"

    def normalize(self, item):
        message = super().normalize(item)
        if message.sender is not None:  # keyed by the number, as the SMS channel does
            message.sender = Sender("phone", message.sender.handle, message.sender.display_name)
        return message


class PhonePlugin:
    @hookimpl
    def kanal_register_adapters(self, register):
        register(PhoneChannel)


@pytest.fixture
def notify_client(staff_kanal_factory):
    kanal = staff_kanal_factory(
        extra_channels=[{"id": "sms-test", "official_channel": "test",
                         "adapter": "fake_phone"}],
        extra_plugins=(PhonePlugin(),))
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        yield kanal, client


def test_consenting_citizen_gets_the_ack_by_sms(notify_client):
    kanal, client = notify_client
    sign_in(client, "loket")
    r = submit(client, phone="0812 3456 7890", consent="yes")
    shown = r.headers["location"].rsplit("/", 1)[1]
    assert kanal.dispatcher.run_once() == 1
    [sent] = kanal.adapters["sms-test"].sent
    assert sent.recipient == "+6281234567890" and shown in sent.text
    with kanal.engine.connect() as conn:
        out = conn.execute(select(message_t).where(message_t.c.direction == "out")
                           .order_by(message_t.c.id)).all()
    # the receipt (inline) and the SMS, both on the report
    assert [(m.channel, m.delivery) for m in out] == [("kantor-kelurahan", "delivered_inline"),
                                                      ("sms-test", "sent")]


def test_without_consent_nothing_is_sent(notify_client):
    kanal, client = notify_client
    sign_in(client, "loket")
    assert submit(client, phone="0812 3456 7890").status_code == 303
    assert count(kanal, outbox_t) == 0


@pytest.mark.parametrize("consent", ["yes", None], ids=["consent", "no-consent"])
def test_a_consenting_citizen_is_told_of_each_status_change(notify_client, consent):
    from core.cases import ActionRequest
    from tests.casework import DINAS, set_up

    kanal, client = notify_client
    sign_in(client, "loket")
    r = submit(client, phone="0812 3456 7890", **({"consent": consent} if consent else {}))
    compact = tracking.normalize(r.headers["location"].rsplit("/", 1)[1])
    kanal.dispatcher.run_once()
    kanal.adapters["sms-test"].sent.clear()
    accounts = set_up(kanal)
    kanal.act_on_case(accounts["verifikator"], compact, ActionRequest("coordinate", unit=DINAS))
    kanal.dispatcher.run_once()
    sent = kanal.adapters["sms-test"].sent
    with kanal.engine.connect() as conn:
        skipped = conn.execute(select(CaseEvent.__table__.c.detail).where(
            CaseEvent.__table__.c.kind == "notice_skipped")).scalars().all()
    if consent:
        [notice] = sent
        assert (notice.kind, notice.recipient) == ("status_changed", "+6281234567890")
        assert "Dikoordinasikan dengan Dinas Bina Marga" in notice.text
        assert notice.reply_to is None and skipped == []
    else:
        assert sent == [] and len(skipped) == 1
        assert "no way to reach the reporter on kantor-kelurahan" in skipped[0]


def test_receipt_names_the_sms_number_to_text(staff_kanal_factory):
    """With the SMS channel running, the receipt says where to send STATUS <id>."""
    kanal = staff_kanal_factory(extra_channels=[{
        "id": "sms", "official_channel": "test", "adapter": "sms",
        "settings": {"account_sid": "AC" + "0" * 32, "auth_token": "token",
                     "number": "+628111272206"}}])
    assert kanal.channel("sms").state == "ready", kanal.channel("sms").reason
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        sign_in(client, "loket")
        receipt = client.get(submit(client).headers["location"])
    shown = receipt.url.path.rsplit("/", 1)[1]
    assert f"<strong>STATUS {shown}</strong> ke " in receipt.text
    assert '<strong id="sms-number">0811-1272-206</strong>' in receipt.text


def not_notified(page: str) -> str:
    start = page.index('id="not-notified"')
    return page[start:page.index("</div>", start)]


@pytest.mark.parametrize("contact,expected", [
    ({"phone": "0812 3456 7890"}, ["kanal SMS tidak berjalan"]),
    ({"email": "sari@example.id"}, ["kanal email tidak berjalan"]),
    ({"phone": "0812 3456 7890", "email": "sari@example.id"},
     ["kanal SMS tidak berjalan", "kanal email tidak berjalan"]),
], ids=["phone", "email", "both"])
def test_receipt_tells_the_clerk_when_no_channel_can_notify(staff_client, contact, expected):
    sign_in(staff_client, "loket")
    r = submit(staff_client, consent="yes", **contact)
    assert r.status_code == 303, r.text
    notice = not_notified(staff_client.get(r.headers["location"]).text)
    assert "Warga tidak akan diberi tahu" in notice
    assert [line for line in expected if line in notice] == expected
    assert notice.count("<li>") == len(expected)


def test_receipt_says_nothing_when_the_citizen_will_be_notified(notify_client):
    kanal, client = notify_client
    sign_in(client, "loket")
    r = submit(client, phone="0812 3456 7890", consent="yes")
    assert 'id="not-notified"' not in client.get(r.headers["location"]).text


def test_receipt_tells_the_clerk_when_the_number_sent_stop(notify_client):
    kanal, client = notify_client
    kanal.adapters["sms-test"].push("STOP", sender="+6281234567890")
    kanal.poll_channel("sms-test")
    sign_in(client, "loket")
    r = submit(client, phone="0812 3456 7890", consent="yes")
    notice = not_notified(client.get(r.headers["location"]).text)
    assert "nomor ini pernah mengirim STOP" in notice

"""adapters.email.parse: one raw mail per scenario in testdata/."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.email.parse import MalformedMail, ParsedMail, parse_mail, thread_keys, tracking_ids
from tests.adapters.web.helpers import png

DATA = Path(__file__).parent / "testdata"
MAX_BYTES = 2000
ACCENTED = "Lampu jalan mati, warga khawatir \u2013 \u00e9t\u00e9 \u20ac5"


def load(name: str, max_bytes: int = MAX_BYTES) -> ParsedMail:
    return parse_mail((DATA / f"{name}.eml").read_bytes(), max_attachment_bytes=max_bytes)


@pytest.mark.parametrize("name, text", [
    pytest.param("plain_text", "Jalan di depan rumah saya berlubang besar.\n"
                 "Mohon segera diperbaiki.", id="plain_text"),
    pytest.param("html_only", "Sampah menumpuk di Jl. Kebon Jeruk.\nSudah 3 hari.",
                 id="html_only"),
    pytest.param("multipart_alternative", "Banjir setinggi lutut di RT 05.",
                 id="multipart_alternative_plain_chosen"),
    pytest.param("charset_utf8", ACCENTED, id="charset_utf8"),
    pytest.param("charset_iso_8859_1", "Caf\u00e9 na\u00efve \u00e0 c\u00f4t\u00e9",
                 id="charset_iso_8859_1"),
    pytest.param("charset_windows_1252", "\u201cBiaya\u201d \u20ac5 \u2013 caf\u00e9",
                 id="charset_windows_1252"),
    pytest.param("quoted_printable", ACCENTED + " and a long line " + "x" * 80,
                 id="quoted_printable"),
    pytest.param("base64_body", ACCENTED, id="base64"),
    pytest.param("unknown_charset", "Air bersih \u2013 mati\ufffd", id="unknown_charset_utf8"),
])
def test_body_text(name: str, text: str) -> None:
    assert load(name).text == text


def test_html_drops_scripts_and_styles() -> None:
    text = load("html_only").text
    assert "alert" not in text and "color" not in text and "\n\n" not in text


@pytest.mark.parametrize("name, subject", [
    pytest.param("rfc2047_subject", "Keluhan: trotoar rusak di Kelurahan Cempaka Putih, "
                 "mohon ditindaklanjuti", id="rfc2047_base64_indonesian"),
    pytest.param("tracking_subject", "Re: [Laporan Z5YK-RHTH-Q] Jalan berlubang di Jl. Kemang",
                 id="rfc2047_q_tracking_id"),
    pytest.param("plain_text", "Jalan berlubang", id="plain"),
])
def test_subject_decoded(name: str, subject: str) -> None:
    assert load(name).subject == subject


def test_tracking_id_found_in_subject() -> None:
    assert tracking_ids(load("tracking_subject")) == (["Z5YKRHTHQ"], [])


def test_sender_date_and_ids() -> None:
    mail = load("plain_text")
    assert (mail.from_address, mail.from_name) == ("budi.santoso@example.com", "Budi Santoso")
    assert mail.date == datetime(2026, 11, 24, 9, 15, tzinfo=timezone(timedelta(hours=7)))
    assert mail.message_id == "plain-1@example.com"
    assert thread_keys(mail) == [] and not mail.is_forward and not mail.is_dsn


@pytest.mark.parametrize("name, keys", [
    pytest.param("reply_references", ["ack-3@kanal.jakarta.go.id", "ack-2@kanal.jakarta.go.id",
                                      "plain-1@example.com"], id="in_reply_to_then_newest_ref"),
    pytest.param("dsn_bounce", [], id="no_references"),
])
def test_thread_keys(name: str, keys: list[str]) -> None:
    assert thread_keys(load(name)) == keys


@pytest.mark.parametrize("name, max_bytes, kept, skipped", [
    pytest.param("attachment_pdf", MAX_BYTES, [("surat.pdf", "application/pdf")], [],
                 id="pdf_sniffed_despite_octet_stream"),
    pytest.param("inline_image", MAX_BYTES, [(None, "image/png")], [], id="inline_png_cid"),
    pytest.param("oversize_attachment", MAX_BYTES, [],
                 [("besar.png", "file_too_large"), ("virus.exe", "unsupported_file_type")],
                 id="oversize_and_wrong_type_skipped"),
    pytest.param("oversize_attachment", 10_000, [("besar.png", "image/png")],
                 [("virus.exe", "unsupported_file_type")], id="under_a_larger_cap"),
    pytest.param("multipart_alternative", MAX_BYTES, [], [], id="html_alternative_not_a_file"),
])
def test_attachments(name: str, max_bytes: int, kept: list, skipped: list) -> None:
    mail = load(name, max_bytes)
    assert [(a.filename, a.media_type) for a in mail.attachments] == kept
    assert [(s.filename, s.reason) for s in mail.skipped] == skipped
    assert all(s.detail for s in mail.skipped)


def test_inline_image_bytes_intact() -> None:
    assert load("inline_image").attachments[0].data == png()
    assert load("attachment_pdf").attachments[0].data.startswith(b"%PDF-1.4")


@pytest.mark.parametrize("name, address, display", [
    pytest.param("forwarded_inline", "siti.aminah@mail.example", "Siti Aminah",
                 id="fwd_body_from_line"),
    pytest.param("forwarded_attached", "andi@warga.example", "Andi", id="tr_attached_rfc822"),
])
def test_forward_recovers_original_sender(name: str, address: str, display: str) -> None:
    mail = load(name)
    assert mail.is_forward and mail.from_address == "staf@jakarta.go.id"
    assert (mail.forwarded_from, mail.forwarded_from_name) == (address, display)


def test_dsn_bounce() -> None:
    mail = load("dsn_bounce")
    assert mail.is_dsn and mail.dsn_original_message_id == "ack-9@kanal.jakarta.go.id"
    assert mail.text == "Your message could not be delivered." and mail.skipped == []


@pytest.mark.parametrize("raw", [
    pytest.param((DATA / "malformed_garbage.eml").read_bytes(), id="garbage_bytes"),
    pytest.param((DATA / "malformed_no_from.eml").read_bytes(), id="no_from"),
    pytest.param(b"", id="empty"),
    pytest.param(b"From: not-an-address\r\n\r\nhi", id="from_without_address"),
])
def test_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedMail):
        parse_mail(raw, max_attachment_bytes=MAX_BYTES)


def test_raw_8bit_subject_and_bad_date_do_not_raise() -> None:
    raw = ("From: a@b.example\r\nSubject: Got\u00f3ng royong\r\nDate: yesterday\r\n\r\nx"
           ).encode("utf-8")
    mail = parse_mail(raw, max_attachment_bytes=MAX_BYTES)
    assert mail.subject == "Got\u00f3ng royong" and mail.date is None

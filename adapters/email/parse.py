"""Raw RFC 5322 bytes to a ``ParsedMail``: pure functions, no network, no database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import NamedTuple

from bs4 import BeautifulSoup

from core.identity import email_address
from core.storage import IMAGE_TYPES, UploadError, check_upload
from core.tracking import find_in_text

ATTACHMENT_TYPES = IMAGE_TYPES | {"application/pdf"}
_MSGID = re.compile(r"<([^<>\s]+)>")
_FORWARD = re.compile(r"(?i)^\s*(?:fwd?|tr)\s*:")
_FWD_FROM = re.compile(r"(?im)^[\s>*]*(?:from|dari|de|von)\s*:\**")
_FWD_STOP = re.compile(r"(?i)\n[\s>*]*(?:date|sent|subject|to|cc|tanggal|dikirim|subjek|kepada):")
_ADDR = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_HEADER_TYPES = {"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"}
_MESSAGE_TYPES = {"message/rfc822", "message/global"}
_INLINE_TAGS = "a abbr b big code em font i mark s small span strong sub sup u".split()


class MalformedMail(ValueError):
    """The bytes cannot be a mail at all; the caller quarantines them with the raw bytes."""


class MailAttachment(NamedTuple):
    filename: str | None
    data: bytes
    media_type: str  # sniffed from the bytes, never the declared type


class SkippedPart(NamedTuple):
    filename: str | None
    declared_type: str
    reason: str  # core.storage.UploadError reason: file_too_large, unsupported_file_type, ...
    detail: str


@dataclass(slots=True)
class ParsedMail:
    message_id: str | None  # angle brackets stripped, as are all IDs here
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_address: str
    from_name: str | None
    date: datetime | None
    text: str
    attachments: list[MailAttachment] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)
    auto_submitted: str | None = None
    precedence: str | None = None
    list_id: str | None = None
    list_unsubscribe: str | None = None
    is_dsn: bool = False
    dsn_original_message_id: str | None = None
    # the first recipient's Action in a DSN: failed, delayed, delivered, relayed, expanded
    dsn_action: str | None = None
    is_forward: bool = False
    forwarded_from: str | None = None
    forwarded_from_name: str | None = None


def _unescape(value: str) -> str:
    """Undo the surrogate escapes left by raw 8-bit header bytes (a no-op otherwise)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse: use its raw text
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    return None if value is None else _unescape(" ".join(str(value).split()))


def ids(value: str | None) -> list[str]:
    bare = (value or "").strip()
    return _MSGID.findall(bare) or ([bare] if bare and " " not in bare else [])


def _sender(msg: Message) -> tuple[str | None, str | None]:
    for name in ("From", "Sender"):
        try:
            header = msg[name]
            pairs = [(a.display_name, a.addr_spec) for a in header.addresses] if header else []
        except Exception:
            raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
            pairs = getaddresses([raw])
        for display, spec in pairs:
            if (address := email_address(_unescape(spec))) is not None:
                return address, _unescape(display).strip() or None
    return None, None


def _date(value: str | None) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value or "")
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bytes_of(part: Message) -> bytes:
    payload = part.get_payload(decode=True)  # undoes base64 and quoted-printable
    return payload if isinstance(payload, bytes) else b""


def _text_of(part: Message) -> str:
    """A text part's content; a wrong or unknown charset label falls back to utf-8."""
    data = _bytes_of(part)
    charset = (part.get_content_charset() or "utf-8").strip().strip('"')
    tries = ["cp1252", "latin-1"] if charset in ("iso-8859-1", "latin-1", "latin1") else [charset]
    for codec in tries:
        try:
            return data.decode(codec).replace("\r\n", "\n")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n")


def html_to_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "noscript", "template"]):
        tag.decompose()
    for tag in soup(_INLINE_TAGS):
        tag.unwrap()  # keep "di <b>Jl. Kebon Jeruk</b>." on one line
    soup.smooth()
    lines = (" ".join(line.split()) for line in soup.get_text("\n").splitlines())
    return "\n".join(line for line in lines if line)


def _body(msg: EmailMessage) -> tuple[str, Message | None]:
    for kind in ("plain", "html"):
        if (part := msg.get_body(preferencelist=(kind,))) is None:
            continue
        text = _text_of(part)
        text = html_to_text(text) if kind == "html" else text.strip()
        if text:
            return text, part
    return "", None


def _leaves(part: Message):
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            yield from _leaves(sub)
    else:
        yield part


def _embedded(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    data = _bytes_of(part)
    return message_from_bytes(data, policy=policy.default) if data else None


def _attachment(part: Message, max_bytes: int) -> MailAttachment | SkippedPart:
    filename, data = part.get_filename(), _bytes_of(part)
    try:
        media_type = check_upload(data, filename=filename, max_bytes=max_bytes,
                                  allowed=ATTACHMENT_TYPES)
    except UploadError as exc:
        return SkippedPart(filename, part.get_content_type(), exc.reason, str(exc))
    return MailAttachment(filename, data, media_type)


def _take_part(mail: ParsedMail, part: Message, body_part: Message | None,
               max_bytes: int) -> None:
    ctype = part.get_content_type()
    if ctype == "message/delivery-status":
        mail.dsn_action = mail.dsn_action or _dsn_action(part)
        return
    if part is body_part:
        return
    if ctype in _MESSAGE_TYPES or ctype in _HEADER_TYPES:
        inner = (_embedded(part) if ctype in _MESSAGE_TYPES
                 else message_from_bytes(_bytes_of(part), policy=policy.default))
        if inner is not None and mail.is_dsn:
            mail.dsn_original_message_id = (mail.dsn_original_message_id
                                            or next(iter(ids(header(inner, "Message-ID"))), None))
        elif inner is not None and ctype in _MESSAGE_TYPES and mail.forwarded_from is None:
            mail.forwarded_from, mail.forwarded_from_name = _sender(inner)
        return
    if part.get_content_maintype() in ("text", "multipart") and not part.is_attachment():
        return  # a further body part, not a file
    result = _attachment(part, max_bytes)
    (mail.attachments if isinstance(result, MailAttachment) else mail.skipped).append(result)


def _dsn_action(part: Message) -> str | None:
    """The Action of the first recipient block of a message/delivery-status part."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else []
    if not blocks:  # not split into blocks: read the text
        text = _bytes_of(part).decode("ascii", "replace")
        found = re.search(r"(?im)^action\s*:\s*([a-z]+)", text)
        return found.group(1).lower() if found else None
    for block in blocks:
        action = block.get("Action") if isinstance(block, Message) else None
        if action:
            return str(action).strip().split()[0].lower()
    return None


def _forwarded_sender(text: str) -> tuple[str | None, str | None]:
    for match in _FWD_FROM.finditer(text):
        window = text[match.end():match.end() + 300]
        if (stop := _FWD_STOP.search(window)) is not None:
            window = window[:stop.start()]
        if (found := _ADDR.search(window)) is not None:
            name = " ".join(window[:found.start()].strip(" \t\n\"'<[*(").split()) or None
            return email_address(found.group()), name
    return None, None


def parse_mail(raw: bytes, *, max_attachment_bytes: int) -> ParsedMail:
    msg: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    if len(msg) == 0:
        raise MalformedMail("no headers")
    from_address, from_name = _sender(msg)
    if from_address is None:
        raise MalformedMail("no From address")
    subject = header(msg, "Subject") or ""
    text, body_part = _body(msg)
    is_dsn = (msg.get_content_type() == "multipart/report"
              and (msg.get_param("report-type") or "").lower() == "delivery-status")
    mail = ParsedMail(
        message_id=next(iter(ids(header(msg, "Message-ID"))), None),
        in_reply_to=next(iter(ids(header(msg, "In-Reply-To"))), None),
        references=ids(header(msg, "References")),
        subject=subject, from_address=from_address, from_name=from_name,
        date=_date(header(msg, "Date")), text=text,
        auto_submitted=header(msg, "Auto-Submitted"), precedence=header(msg, "Precedence"),
        list_id=header(msg, "List-Id"), list_unsubscribe=header(msg, "List-Unsubscribe"),
        is_dsn=is_dsn, is_forward=bool(_FORWARD.match(subject)),
    )
    for part in _leaves(msg):
        try:
            _take_part(mail, part, body_part, max_attachment_bytes)
        except Exception as exc:  # one unreadable part never loses the mail
            mail.skipped.append(SkippedPart(None, part.get_content_type(), "unreadable_part",
                                            f"{type(exc).__name__}: {exc}"))
    if is_dsn and mail.dsn_original_message_id is None:
        mail.dsn_original_message_id = mail.in_reply_to
    if mail.is_forward and mail.forwarded_from is None:
        mail.forwarded_from, mail.forwarded_from_name = _forwarded_sender(text)
    return mail


def thread_keys(parsed: ParsedMail) -> list[str]:
    """Message-IDs to look up: In-Reply-To first, then References newest first."""
    first = [parsed.in_reply_to] if parsed.in_reply_to else []
    return list(dict.fromkeys(first + parsed.references[::-1]))


def tracking_ids(parsed: ParsedMail) -> tuple[list[str], list[str]]:
    """(tracking IDs in the subject, tracking IDs in the body), compact form."""
    return list(find_in_text(parsed.subject)), list(find_in_text(parsed.text))

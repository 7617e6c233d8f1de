"""Replies over SMTP (smtplib): one threaded mail per outbox item.

The reply carries the tracking ID in its subject (``[Laporan JK7Q-M4XA-9] Re: ...``), a
Message-ID derived from the outbox item (a retry sends the same one, so a mail client
shows a doubled delivery once) and In-Reply-To/References pointing at the citizen's mail,
so both the citizen's client and kanal's threading see one conversation. It is marked
``Auto-Submitted: auto-replied`` (RFC 3834) so that well-behaved autoresponders do not
answer it.
"""

from __future__ import annotations

import re
import smtplib
import socket
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from adapters.email.settings import EmailSettings
from core import tracking
from core.adapter import PermanentSendError
from core.canonical import OutboundMessage
from core.models import utcnow

_PREFIX = re.compile(r"(?i)^\s*(?:(?:re|aw|sv|balas|fwd?|tr)\s*(?:\[\d+\])?\s*:\s*)+")
_TAG = re.compile(r"\[\s*(?:laporan|report)\s+[^\]]*\]\s*", re.I)
MAX_REFERENCES = 10
SUBJECT_LIMIT = 200
DEFAULT_SUBJECTS = {"ack": "Laporan diterima", "follow_up_ack": "Tambahan laporan diterima",
                    "too_large": "Email tidak diterima"}


@dataclass(slots=True)
class Original:
    """The headers of the citizen's mail a reply answers."""

    subject: str = ""
    message_id: str | None = None
    references: list[str] = field(default_factory=list)


def message_id_for(message: OutboundMessage, domain: str) -> str:
    """Our Message-ID for an outbox item, without angle brackets: the same on every
    attempt, and distinct across databases through the tracking ID."""
    tag = message.tracking_id or "kanal"
    return f"kanal.{tag}.{message.outbox_id}@{domain}"


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes or kanal's own ``[Laporan ...]`` tags."""
    text = subject
    while True:
        stripped = _PREFIX.sub("", _TAG.sub("", text)).strip()
        if stripped == text:
            return " ".join(stripped.split())
        text = stripped


def reply_subject(message: OutboundMessage, original: Original | None) -> str:
    base = clean_subject(original.subject) if original else ""
    subject = f"Re: {base}" if base else DEFAULT_SUBJECTS.get(message.kind, "Pemprov DKI Jakarta")
    if message.tracking_id:
        subject = f"[Laporan {tracking.display(message.tracking_id)}] {subject}"
    return subject[:SUBJECT_LIMIT]


def build(settings: EmailSettings, message: OutboundMessage, original: Original | None,
          message_id: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((settings.from_name, settings.address))
    mail["To"] = Address(addr_spec=message.recipient)
    mail["Subject"] = reply_subject(message, original)
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = f"<{message_id}>"
    if original is not None and original.message_id:
        refs = [*original.references, original.message_id][-MAX_REFERENCES:]
        mail["In-Reply-To"] = f"<{original.message_id}>"
        mail["References"] = " ".join(f"<{r}>" for r in refs)
    mail["Auto-Submitted"] = "auto-replied"
    mail["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office answers to this
    mail["Content-Language"] = "id, en"
    if message.tracking_id:
        mail["X-Kanal-Tracking-ID"] = tracking.display(message.tracking_id)
    mail.set_content(message.text + "\n")
    return mail


def _permanent(code: int) -> bool:
    # 5xx is final, except an authentication failure (535, 530): that is ours to fix,
    # and the item should go out once the password is right
    return 500 <= code < 600 and code not in (530, 534, 535, 538)


def connect(settings: EmailSettings, timeout: float | None = None) -> smtplib.SMTP:
    """A connection to the SMTP server, greeted (EHLO) and over TLS as ``smtp_tls`` says,
    not yet logged in."""
    host, port = settings.smtp_host or "", settings.smtp_port
    timeout = timeout or settings.timeout_seconds
    context = settings.ssl_context() if settings.smtp_tls != "none" else None
    if settings.smtp_tls == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if settings.smtp_tls == "starttls":
            client.starttls(context=context)
        client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def deliver(settings: EmailSettings, mail: EmailMessage) -> None:
    """Hand one mail to the SMTP server; raises PermanentSendError when the server
    refuses it for good, any other exception when a retry may work."""
    host, port = settings.smtp_host or "", settings.smtp_port
    try:
        with connect(settings) as client:
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(mail, from_addr=settings.address)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{rcpt}: {code} {msg.decode(errors='replace')}"
                           for rcpt, (code, msg) in exc.recipients.items())
        if codes and all(_permanent(c) for c in codes):
            raise PermanentSendError(f"recipient refused: {detail}") from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if _permanent(exc.smtp_code):
            text = exc.smtp_error.decode(errors="replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            raise PermanentSendError(f"SMTP {exc.smtp_code} {text}") from exc
        raise
    except (socket.gaierror, ConnectionRefusedError) as exc:
        raise ConnectionError(f"cannot reach SMTP server {host}:{port}: {exc}") from exc

"""Reading a mailbox over IMAP (IMAPClient): new mail after a (UIDVALIDITY, UID) cursor.

Mail is fetched with ``BODY.PEEK[]`` so nothing is marked as read, and never deleted. A
mail over the size cap is fetched as headers only and marked so that ``normalize``
quarantines it; it never blocks the mailbox.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy

from imapclient import IMAPClient

from adapters.email.parse import header, ids
from adapters.email.settings import EmailSettings

CHUNK = 50
# content types of the inbox payloads
MAIL_TYPE = "message/rfc822"
OVERSIZE_TYPE = "text/rfc822-headers"
OVERSIZE_MARKER = b"X-Kanal-Oversize: "
_MAX_ID = 255


@dataclass(slots=True)
class Cursor:
    uidvalidity: int
    last_uid: int

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        try:
            validity, _, last = (text or "").partition(":")
            return cls(int(validity), int(last))
        except ValueError:
            return None

    def __str__(self) -> str:
        return f"{self.uidvalidity}:{self.last_uid}"


@dataclass(slots=True)
class FetchedMail:
    uid: int
    external_id: str
    payload: bytes
    content_type: str
    internal_date: datetime | None


@contextmanager
def connect(settings: EmailSettings) -> Iterator[IMAPClient]:
    use_ssl = settings.imap_tls == "ssl"
    context = settings.ssl_context() if settings.imap_tls != "none" else None
    client = IMAPClient(settings.imap_host, port=settings.imap_port, ssl=use_ssl,
                        ssl_context=context if use_ssl else None,
                        timeout=settings.timeout_seconds)
    client.normalise_times = False  # keep INTERNALDATE's offset
    try:
        if settings.imap_tls == "starttls":
            client.starttls(context)
        client.login(settings.imap_user or "", settings.imap_password or "")
        yield client
    finally:
        try:
            client.logout()
        except Exception:  # the connection may already be gone; the poll's error says why
            try:
                client.shutdown()
            except Exception:
                pass


def message_id(header_bytes: bytes) -> str | None:
    msg = message_from_bytes(header_bytes, policy=policy.default)
    found = next(iter(ids(header(msg, "Message-ID"))), None)
    return found if found and len(found) <= _MAX_ID else None


def _field(data: dict, prefix: bytes) -> bytes:
    for key, value in data.items():
        if isinstance(key, bytes) and key.upper().startswith(prefix):
            return value or b""
    return b""


def read_new(client: IMAPClient, settings: EmailSettings, cursor: Cursor | None
             ) -> tuple[list[FetchedMail], Cursor]:
    """Mail after ``cursor`` in the selected mailbox, oldest first, and the next cursor.
    A different UIDVALIDITY starts again from UID 1 (the inbox dedups by Message-ID)."""
    status = client.select_folder(settings.mailbox, readonly=True)
    validity = int(status[b"UIDVALIDITY"])
    last = cursor.last_uid if cursor is not None and cursor.uidvalidity == validity else 0
    # "N:*" also returns the last message when its UID is below N
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    uids = uids[:settings.max_per_poll]
    mails: list[FetchedMail] = []
    for start in range(0, len(uids), CHUNK):
        chunk = uids[start:start + CHUNK]
        meta = client.fetch(chunk, ["RFC822.SIZE", "INTERNALDATE",
                                    "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        small = [u for u in chunk if u in meta and meta[u].get(b"RFC822.SIZE", 0)
                 <= settings.max_bytes]
        large = [u for u in chunk if u in meta and u not in small]
        bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        heads = client.fetch(large, ["BODY.PEEK[HEADER]"]) if large else {}
        for uid in chunk:
            if uid not in meta:  # expunged meanwhile
                continue
            info = meta[uid]
            mid = message_id(_field(info, b"BODY[HEADER.FIELDS"))
            external_id = mid or f"uid:{validity}:{uid}"
            if uid in bodies:
                payload, kind = _field(bodies[uid], b"BODY[]"), MAIL_TYPE
            else:
                size = info.get(b"RFC822.SIZE", 0)
                marker = (OVERSIZE_MARKER + f"{size}; limit={settings.max_bytes}".encode()
                          + b"\r\n")
                payload = marker + _field(heads.get(uid, {}), b"BODY[HEADER]")
                kind = OVERSIZE_TYPE
            when = info.get(b"INTERNALDATE")
            mails.append(FetchedMail(uid, external_id, payload, kind,
                                     when if isinstance(when, datetime) and when.tzinfo
                                     else None))
    end = mails[-1].uid if mails else last
    if uids and not mails:
        end = uids[-1]  # all of them expunged meanwhile
    return mails, Cursor(validity, end)


def oversize(payload: bytes) -> tuple[int, int] | None:
    """(size, limit) of an oversize marker payload."""
    if not payload.startswith(OVERSIZE_MARKER):
        return None
    line = payload[len(OVERSIZE_MARKER):payload.find(b"\r\n")].decode("ascii", "replace")
    size, _, limit = line.partition("; limit=")
    try:
        return int(size), int(limit)
    except ValueError:
        return None


def _announces_mail(responses) -> bool:
    return any(isinstance(r, tuple) and len(r) >= 2 and r[1] == b"EXISTS" for r in responses)


def idle(client: IMAPClient, stop: threading.Event, wake: Callable[[], None], *,
         renew_seconds: float, check_seconds: float = 1.0) -> None:
    """Wait in IDLE on the selected mailbox until ``stop`` is set, calling ``wake`` when
    the server announces new mail (EXISTS), and renewing IDLE every ``renew_seconds``.
    Returns when stopped; raises when the connection is lost."""
    while not stop.is_set():
        client.idle()
        started = time.monotonic()
        try:
            while not stop.is_set() and time.monotonic() - started < renew_seconds:
                asked = time.monotonic()
                responses = client.idle_check(timeout=check_seconds)
                if _announces_mail(responses):
                    wake()
                elif not responses and time.monotonic() - asked < check_seconds / 2:
                    # readable but nothing read: IMAPClient swallows an EOF here, so ask
                    # the server whether it is still there (raises when it is not)
                    break
        finally:
            _, after = client.idle_done()
        # mail announced between two IDLE commands comes with these answers
        if _announces_mail(after) or _announces_mail(client.noop()[1]):
            wake()


def move_committed(client: IMAPClient, settings: EmailSettings, cursor: Cursor | None) -> int:
    """Move the mail the cursor has passed (committed to the inbox) to ``move_to``;
    returns how many were moved. Nothing moves while UIDVALIDITY differs from the cursor's."""
    if not settings.move_to or cursor is None or cursor.last_uid < 1:
        return 0
    status = client.select_folder(settings.mailbox)
    if int(status[b"UIDVALIDITY"]) != cursor.uidvalidity:
        return 0
    uids = [u for u in client.search(["UID", f"1:{cursor.last_uid}"]) if u <= cursor.last_uid]
    if not uids:
        return 0
    if not client.folder_exists(settings.move_to):
        client.create_folder(settings.move_to)
    for start in range(0, len(uids), CHUNK * 10):
        chunk = uids[start:start + CHUNK * 10]
        if client.has_capability("MOVE"):
            client.move(chunk, settings.move_to)
        else:  # RFC 3501 without MOVE: copy, flag deleted, expunge just these
            client.copy(chunk, settings.move_to)
            client.delete_messages(chunk)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(chunk)
            else:
                client.expunge()
    return len(uids)

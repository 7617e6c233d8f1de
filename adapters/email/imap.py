"""Reading a mailbox over IMAP (IMAPClient): new mail after a (UIDVALIDITY, UID) cursor.

Mail is fetched with ``BODY.PEEK[]`` so nothing is marked as read, and never deleted. A
mail over the size cap is fetched as headers only and marked so that ``normalize``
quarantines it; it never blocks the mailbox.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy

from imapclient import IMAPClient

from adapters.email.settings import EmailSettings

CHUNK = 50
# bodies asked for in one FETCH at most (IMAPClient holds a whole response in memory)
FETCH_BYTES = 16 * 1024 * 1024
# content types of the inbox payloads
MAIL_TYPE = "message/rfc822"
OVERSIZE_TYPE = "text/rfc822-headers"
OVERSIZE_MARKER = b"X-Kanal-Oversize: "
_MAX_ID = 255
_BRACKETED = re.compile(r"<([^<>]*)>")
# printable ASCII but < and >, with an @: the uid:<validity>:<uid> keys have none
_MSG_ID = re.compile(r"[!-;=?-~]+@[!-;=?-~]+")


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
    """The mail's Message-ID, the inbox key, when it has the shape RFC 5322 gives it
    (``left@right`` in printable ASCII): read from the raw header, since the email
    policy's parser cuts ``<a:1@b>`` down to ``<a``, and never one that could be the
    ``uid:`` key of a mail without a Message-ID."""
    msg = message_from_bytes(header_bytes, policy=policy.compat32)
    raw = next((str(v) for k, v in msg.raw_items() if k.lower() == "message-id"), "")
    value = " ".join(raw.split())
    found = next(iter(_BRACKETED.findall(value)), value)
    return found if _MSG_ID.fullmatch(found) and len(found) <= _MAX_ID else None


def _field(data: dict, prefix: bytes) -> bytes:
    for key, value in data.items():
        if isinstance(key, bytes) and key.upper().startswith(prefix):
            return value or b""
    return b""


def _within(sizes: list[tuple[int, int]], budget: int) -> list[list[int]]:
    """UIDs in groups whose sizes add up to at most ``budget`` (a larger mail alone)."""
    groups: list[list[int]] = []
    used = budget
    for uid, size in sizes:
        if used + size > budget or not groups:
            groups.append([])
            used = 0
        groups[-1].append(uid)
        used += size
    return groups


def read_new(client: IMAPClient, settings: EmailSettings, cursor: Cursor | None
             ) -> tuple[list[FetchedMail], Cursor, bool]:
    """Mail after ``cursor`` in the selected mailbox, oldest first, the next cursor, and
    whether more is waiting. One read holds at most ``max_per_poll`` mails and about
    ``max_poll_bytes`` of them (always at least one mail), fetched ``FETCH_BYTES`` at a
    time, so memory stays flat whatever the mailbox holds. A different UIDVALIDITY starts
    again from UID 1 (the inbox dedups by Message-ID)."""
    status = client.select_folder(settings.mailbox, readonly=True)
    validity = int(status[b"UIDVALIDITY"])
    last = cursor.last_uid if cursor is not None and cursor.uidvalidity == validity else 0
    # "N:*" also returns the last message when its UID is below N
    uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
    more = len(uids) > settings.max_per_poll
    uids = uids[:settings.max_per_poll]
    mails: list[FetchedMail] = []
    used, end = 0, last
    for start in range(0, len(uids), CHUNK):
        chunk = uids[start:start + CHUNK]
        meta = client.fetch(chunk, ["RFC822.SIZE", "INTERNALDATE",
                                    "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        taken: list[int] = []
        for uid in chunk:
            size = meta.get(uid, {}).get(b"RFC822.SIZE", 0)
            cost = size if size <= settings.max_bytes else 0  # only headers of the others
            if (mails or taken) and used + cost > settings.max_poll_bytes:
                more = True
                break
            used += cost
            taken.append(uid)
        sizes = {u: meta[u].get(b"RFC822.SIZE", 0) for u in taken if u in meta}
        small = [(u, size) for u, size in sizes.items() if size <= settings.max_bytes]
        large = [u for u, size in sizes.items() if size > settings.max_bytes]
        bodies: dict = {}
        for group in _within(small, FETCH_BYTES):
            bodies.update(client.fetch(group, ["BODY.PEEK[]"]))
        heads = client.fetch(large, ["BODY.PEEK[HEADER]"]) if large else {}
        for uid in taken:
            if uid not in meta:  # expunged meanwhile
                continue
            mails.append(_mail(uid, validity, meta[uid], bodies.pop(uid, None),
                               heads.get(uid), settings))
        if taken:
            end = taken[-1]
        if len(taken) < len(chunk):
            break
    return mails, Cursor(validity, end), more


def _mail(uid: int, validity: int, info: dict, body: dict | None, head: dict | None,
          settings: EmailSettings) -> FetchedMail:
    mid = message_id(_field(info, b"BODY[HEADER.FIELDS"))
    external_id = mid or f"uid:{validity}:{uid}"
    if body is not None:
        payload, kind = _field(body, b"BODY[]"), MAIL_TYPE
    else:
        size = info.get(b"RFC822.SIZE", 0)
        marker = OVERSIZE_MARKER + f"{size}; limit={settings.max_bytes}".encode() + b"\r\n"
        payload, kind = marker + _field(head or {}, b"BODY[HEADER]"), OVERSIZE_TYPE
    when = info.get(b"INTERNALDATE")
    return FetchedMail(uid, external_id, payload, kind,
                       when if isinstance(when, datetime) and when.tzinfo else None)


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

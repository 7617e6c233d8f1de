"""API tokens of staff accounts, for the officers' phone app (CRM Petugas) and scripts.

A token is shown once, when it is made (``kanal staff token USERNAME``); only its sha256
is kept, so a copy of the database does not give anyone a working token. A random 256-bit
token needs no slow hash: finding it by its sha256 is as safe as comparing in constant
time, since a guess that differs anywhere hashes to a different row. A token acts as its
account, with the account's role and unit at the time of each request; it works while
it is not revoked and the account is active (enabling a disabled account makes its
tokens work again: revoke them if a phone was lost)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, or_, select, update

from core import staff as staff_mod
from core.models import StaffToken, as_utc, utcnow
from core.staff import Staff, StaffError

token_t = StaffToken.__table__
account_t = staff_mod.account_t
PREFIX = "kanal_"  # so a leaked token is recognised (secret scanners, logs)
# last_used_at is written at most this often, not on every request
TOUCH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _account(conn: Connection, username: str):
    row = conn.execute(select(account_t.c.id, account_t.c.username, account_t.c.active).where(
        account_t.c.username == username.strip().lower())).first()
    if row is None:
        raise StaffError(f"no staff account {username!r}")
    return row


def issue(conn: Connection, username: str, now: datetime | None = None) -> str:
    """A new token for an active account; the only time the token itself is seen."""
    account = _account(conn, username)
    if not account.active:
        raise StaffError(f"the staff account {account.username!r} is disabled: "
                         "enable it first (kanal staff enable)")
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(insert(token_t).values(staff_id=account.id, token_hash=token_hash(token),
                                        created_at=now or utcnow()))
    return token


def revoke(conn: Connection, username: str, now: datetime | None = None) -> int:
    """Revokes every live token of the account (disabled or not); how many there were."""
    account = _account(conn, username)
    return conn.execute(update(token_t).where(
        token_t.c.staff_id == account.id, token_t.c.revoked_at.is_(None),
    ).values(revoked_at=now or utcnow())).rowcount


@dataclass(frozen=True, slots=True)
class Found:
    """A live token of an active account, and whether its last use is due to be written."""

    staff: Staff
    token_id: int
    touch_due: bool


def find(conn: Connection, token: str, now: datetime) -> Found | None:
    """Reads only, so that a request can check its token without a write transaction."""
    row = conn.execute(select(token_t.c.id, token_t.c.staff_id, token_t.c.last_used_at).where(
        token_t.c.token_hash == token_hash(token), token_t.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    account = staff_mod.by_id(conn, row.staff_id)  # None when disabled
    if account is None:
        return None
    last = as_utc(row.last_used_at)
    return Found(account, row.id, last is None or now - last >= TOUCH_EVERY)


def touch(conn: Connection, token_id: int, now: datetime) -> None:
    """Records a use, unless another request recorded one less than a minute ago."""
    conn.execute(update(token_t).where(
        token_t.c.id == token_id,
        or_(token_t.c.last_used_at.is_(None), token_t.c.last_used_at <= now - TOUCH_EVERY),
    ).values(last_used_at=now))


def authenticate(conn: Connection, token: str, now: datetime | None = None) -> Staff | None:
    """The token's account, or None (unknown, revoked, disabled account), on a connection
    that may write: ``find`` and ``touch`` in one."""
    now = now or utcnow()
    found = find(conn, token, now)
    if found is None:
        return None
    if found.touch_due:
        touch(conn, found.token_id, now)
    return found.staff


def live_counts(conn: Connection) -> dict[str, int]:
    """Live tokens per username (accounts without one are absent)."""
    return dict(conn.execute(
        select(account_t.c.username, func.count())
        .select_from(token_t.join(account_t, token_t.c.staff_id == account_t.c.id))
        .where(token_t.c.revoked_at.is_(None)).group_by(account_t.c.username)).all())

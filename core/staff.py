"""Staff accounts: roles, argon2 password hashes, enabling and disabling.

Roles: ``admin`` (operations: channels, accounts), ``operator`` (watches the channels:
health, quarantine replays, outbox retries), ``counter`` (a walk-in counter, bound to
one office), ``officer`` (works the cases of its unit, ``core.units``) and
``supervisor`` (verifies; may belong to a unit, such as the Biro Pemerintahan). Passwords
are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile);
a hash made with older parameters is replaced at the next successful sign-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from core.models import Office, StaffAccount, Unit, utcnow

ROLES = ("admin", "operator", "counter", "officer", "supervisor")
UNIT_ROLES = ("officer", "supervisor")  # the roles that belong to a unit
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 10
account_t = StaffAccount.__table__
office_t = Office.__table__
unit_t = Unit.__table__
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both cases take the same time
    (made on first use: hashing at import would slow every kanal command)."""
    return _hasher.hash("kanal-no-such-user")



class StaffError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class Staff:
    """A signed-in member of staff, as the pages see them."""

    id: int
    username: str
    role: str
    office_id: str | None
    display_name: str | None
    sessions_valid_from: datetime
    unit_id: str | None


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def _staff(row) -> Staff:
    return Staff(row.id, row.username, row.role, row.office_id, row.display_name,
                 row.sessions_valid_from, row.unit_id)


def add(conn: Connection, username: str, password: str, role: str, *,
        office_id: str | None = None, unit_id: str | None = None,
        display_name: str | None = None, now: datetime | None = None) -> Staff:
    """A new account. Only officers and supervisors have a unit, an active one (``kanal
    units list``). ``kanal staff add`` requires one for an officer; here it stays
    optional, as it is for the officer accounts made before units existed."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise StaffError("a username is 2-64 characters: a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "counter" and not office_id:
        raise StaffError("a counter account needs --office (see kanal offices list)")
    if office_id is not None:
        office = conn.execute(select(office_t.c.active)
                              .where(office_t.c.id == office_id)).first()
        if office is None:
            raise StaffError(f"no office {office_id!r} (see kanal offices list)")
        if not office.active:
            raise StaffError(f"the office {office_id!r} is closed (not active)")
    if unit_id is not None:
        if role not in UNIT_ROLES:
            raise StaffError(f"only {' and '.join(UNIT_ROLES)} accounts belong to a unit")
        unit = conn.execute(select(unit_t.c.active).where(unit_t.c.id == unit_id)).first()
        if unit is None:
            raise StaffError(f"no unit {unit_id!r} (see kanal units list)")
        if not unit.active:
            raise StaffError(f"the unit {unit_id!r} is no longer active")
    if conn.execute(select(account_t.c.id).where(account_t.c.username == username)).first():
        raise StaffError(f"the username {username!r} is taken")
    now = now or utcnow()
    conn.execute(insert(account_t).values(
        username=username, display_name=display_name, role=role, office_id=office_id,
        unit_id=unit_id, password_hash=hash_password(password), active=True, created_at=now,
        sessions_valid_from=now))
    return get(conn, username)


def get(conn: Connection, username: str) -> Staff:
    row = conn.execute(select(account_t).where(
        account_t.c.username == username.strip().lower())).first()
    if row is None:
        raise StaffError(f"no staff account {username!r}")
    return _staff(row)


def by_id(conn: Connection, staff_id: int) -> Staff | None:
    """An active account, or None (unknown or disabled)."""
    row = conn.execute(select(account_t).where(account_t.c.id == staff_id,
                                               account_t.c.active.is_(True))).first()
    return _staff(row) if row is not None else None


def authenticate(conn: Connection, username: str, password: str,
                 now: datetime | None = None) -> Staff | None:
    """The account when the password is right and the account active, else None."""
    row = conn.execute(select(account_t).where(
        account_t.c.username == username.strip().lower())).first()
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    values = {"last_login_at": now or utcnow()}
    if _hasher.check_needs_rehash(stored):
        values["password_hash"] = _hasher.hash(password)
    conn.execute(update(account_t).where(account_t.c.id == row.id).values(**values))
    return _staff(row)


def set_password(conn: Connection, username: str, password: str,
                 now: datetime | None = None) -> None:
    """A new password; every session of the account ends."""
    account = get(conn, username)
    conn.execute(update(account_t).where(account_t.c.id == account.id).values(
        password_hash=hash_password(password), sessions_valid_from=now or utcnow()))


def set_active(conn: Connection, username: str, active: bool,
               now: datetime | None = None) -> None:
    """Disable (every session ends at once) or enable an account."""
    account = get(conn, username)
    values: dict = {"active": active}
    if not active:
        values["sessions_valid_from"] = now or utcnow()
    conn.execute(update(account_t).where(account_t.c.id == account.id).values(**values))


def list_accounts(conn: Connection) -> list:
    return conn.execute(select(
        account_t.c.username, account_t.c.display_name, account_t.c.role,
        account_t.c.office_id, account_t.c.unit_id, account_t.c.active,
        account_t.c.last_login_at,
    ).order_by(account_t.c.username)).all()

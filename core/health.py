"""Channel state: poll cursors and health, one row per channel."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from core.db import write_lock
from core.models import ChannelState, as_utc, utcnow

state_t = ChannelState.__table__
WIB = ZoneInfo("Asia/Jakarta")


def _ensure(conn: Connection, channel: str, now: datetime) -> None:
    write_lock(conn, "inbox_item")
    if conn.execute(select(state_t.c.channel).where(state_t.c.channel == channel)).first():
        return
    try:
        with conn.begin_nested():
            conn.execute(state_t.insert().values(channel=channel, health="unknown",
                                                 updated_at=now))
    except IntegrityError:
        pass  # created by another process meanwhile


def record_health(conn: Connection, channel: str, *, ok: bool, error: str | None = None,
                  now: datetime | None = None, state: str = "failing") -> None:
    """``state`` is the health of a channel that is not ok: ``failing``, or ``degraded``
    (held back on purpose, as by a provider's rate limit)."""
    now = now or utcnow()
    _ensure(conn, channel, now)
    values = ({"health": "ok", "last_ok_at": now} if ok
              else {"health": state, "last_error": error, "last_error_at": now})
    conn.execute(update(state_t).where(state_t.c.channel == channel)
                 .values(updated_at=now, **values))


def get_cursor(conn: Connection, channel: str) -> str | None:
    return conn.execute(select(state_t.c.cursor).where(state_t.c.channel == channel)).scalar()


def set_cursor(conn: Connection, channel: str, cursor: str | None,
               now: datetime | None = None) -> None:
    now = now or utcnow()
    _ensure(conn, channel, now)
    conn.execute(update(state_t).where(state_t.c.channel == channel)
                 .values(cursor=cursor, updated_at=now))


def rate_limited_text(until: datetime) -> str:
    return f"rate limited until {until.astimezone(WIB):%H:%M} WIB"


def record_rate_limit(conn: Connection, channel: str, until: datetime,
                      now: datetime | None = None) -> None:
    """The provider holds the channel back until ``until``: degraded, not failing."""
    record_health(conn, channel, ok=False, error=rate_limited_text(until), now=now,
                  state="degraded")


def record_credentials(conn: Connection, channel: str, error: str,
                       now: datetime | None = None) -> None:
    """The provider refused the channel's credentials (a revoked or expired token)."""
    record_health(conn, channel, ok=False, error=f"credentials: {error}"[:2000], now=now)


def record_credential_expiry(conn: Connection, channel: str, expires_at: datetime | None,
                             now: datetime | None = None) -> None:
    """When the provider says the channel's credentials stop working, as it last said it
    (Meta's debug_token); None: they do not expire."""
    now = now or utcnow()
    _ensure(conn, channel, now)
    conn.execute(update(state_t).where(state_t.c.channel == channel)
                 .values(credential_expires_at=expires_at, updated_at=now))


def all_health(conn: Connection) -> dict[str, dict]:
    """Every channel's health as last recorded: ``health``, ``last_error`` and the times,
    in WIB (``"08:10 WIB, 01-12-2026"``)."""
    out = {}
    for row in conn.execute(select(state_t)):
        out[row.channel] = {"health": row.health, "last_error": row.last_error,
                            "last_error_at": wib_text(row.last_error_at),
                            "last_ok_at": wib_text(row.last_ok_at)}
    return out


def wib_text(value: datetime | None) -> str | None:
    """A time as staff read it: ``14:20 WIB, 01-12-2026``."""
    if value is None:
        return None
    return f"{as_utc(value).astimezone(WIB):%H:%M WIB, %d-%m-%Y}"


def get_health(conn: Connection, channel: str):
    """The channel's row (``health``, ``last_error``, ``last_ok_at`` ...) or None."""
    return conn.execute(select(state_t).where(state_t.c.channel == channel)).first()

"""Channel state: poll cursors and health, one row per channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from core.db import write_lock
from core.models import ChannelState, utcnow

state_t = ChannelState.__table__


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
                  now: datetime | None = None) -> None:
    now = now or utcnow()
    _ensure(conn, channel, now)
    values = ({"health": "ok", "last_ok_at": now} if ok
              else {"health": "failing", "last_error": error, "last_error_at": now})
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

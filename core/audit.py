"""The audit trail: every change to a channel (who, when, which setting, the old and the
new value with secrets masked) and every replay, discard and retry done by staff.

The trail is also how processes hear of changes: the highest event id moves with every
change, and each running ``kanal serve`` watches it (``gateway.livecfg``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from core.models import AuditEvent, utcnow

audit_t = AuditEvent.__table__
MASK = "••••••"


def mask(value: str | None) -> str | None:
    """A secret as the trail and the pages show it: whether it is set, and its last two
    characters for a long one (enough to tell two tokens apart, never enough to use)."""
    if not value:
        return None
    return MASK + (value[-2:] if len(value) >= 16 else "")


def record(conn: Connection, actor: str, action: str, *, channel: str | None = None,
           setting: str | None = None, old: Any = None, new: Any = None,
           detail: str | None = None, now: datetime | None = None) -> int:
    values = {"at": now or utcnow(), "actor": actor[:64], "action": action[:32],
              "channel": channel, "setting": setting,
              "old_value": None if old is None else str(old),
              "new_value": None if new is None else str(new), "detail": detail}
    return conn.execute(audit_t.insert().values(**values)).inserted_primary_key[0]


def latest_id(conn: Connection) -> int:
    return conn.execute(select(func.coalesce(func.max(audit_t.c.id), 0))).scalar_one()


def events(conn: Connection, *, channel: str | None = None, limit: int = 100,
           before: int | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    q = select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)
    if channel is not None:
        q = q.where(audit_t.c.channel == channel)
    if before is not None:
        q = q.where(audit_t.c.id < before)
    return [dict(r._mapping) for r in conn.execute(q)]

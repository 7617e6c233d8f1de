"""Health at a glance: the figures of every channel and a verdict on each.

Figures (per channel, from a handful of grouped queries whatever the number of channels):
state and reason; the last message received (the newest inbox row's ``ingested_at``); the
last successful poll (``channel_state.last_ok_at``) or, for a push channel, webhook (the
newest inbox row); the poller's lag (now − last successful poll, polling channels only);
messages stored in the last hour and the last day; outbox items ``pending`` (not tried
yet), ``failed`` (tried, waiting for another try) and ``dead`` (given up); quarantined
payloads; when the credentials expire (``channel_state.credential_expires_at``, where the
provider tells it); the stored health and its last error.

The verdict is a list of problems, each ``{"code", "severity", "text", "params"}`` with
the English ``text`` for the CLI and the JSON (pages render the code in their own
language). Severity ``failing`` sorts before ``warning``; a channel with no problem is
healthy. The rules:

- ``disabled``: the channel is off, with the runtime's reason: failing when it should
  run and cannot (invalid settings, a failed check, an unreadable secret); a warning when
  it is off on purpose or not set up yet (switched off in the file or by an operator, its
  secrets not set, its adapter not installed or blocked).
- ``health_failing`` / ``health_degraded``: the stored health of a running channel, with
  its last error ("rate limited until 14:20 WIB" is degraded).
- ``poller_lag``: a running poller last succeeded more than ``LAG_FACTOR`` × its poll
  interval ago (failing); not while its health is degraded (a provider's rate limit holds
  it back on purpose, and says until when).
- ``quiet``: a running channel had no message for ``QUIET_HOURS`` or more, while the last
  ``BASELINE_DAYS`` days averaged ``QUIET_MIN_RATE`` or more an hour ("no message for 3
  hours, usually 40 an hour"; warning).
- ``credential_expired`` (failing) / ``credential_expiring``: within
  ``EXPIRY_WARNING_DAYS`` days ("token expires in 5 days"; warning).
- ``outbox_dead``: outbox items given up on (warning).
- ``quarantined``: payloads quarantined in the last day (warning).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, union_all

from core.models import ChannelState, InboxItem, OutboxItem, as_utc

inbox_t = InboxItem.__table__
outbox_t = OutboxItem.__table__
state_t = ChannelState.__table__

LAG_FACTOR = 3
QUIET_HOURS = 3
QUIET_MIN_RATE = 3.0  # messages an hour, averaged over the baseline
BASELINE_DAYS = 7
EXPIRY_WARNING_DAYS = 7

TEXTS = {
    "disabled": "disabled: {reason}",
    "health_failing": "failing: {error}",
    "health_degraded": "degraded: {error}",
    "poller_lag": "last successful poll {minutes} minutes ago (polls every {interval} s)",
    "quiet": "no message for {hours} hours, usually {rate} an hour",
    "credential_expired": "token expired",
    "credential_expiring": "token expires in {days} days",
    "outbox_dead": "{count} outbox items dead",
    "quarantined": "{count} payloads quarantined in the last day",
}
FAILING, WARNING = "failing", "warning"
# off on purpose or not set up yet: shown, but below a channel that broke
DELIBERATE = ("disabled_in_file", "disabled_by_operator", "missing_secret", "not_installed",
              "blocked")
_COMPOUND_LIMIT = 400  # SQLite refuses a UNION of more than 500 SELECTs


def _newest(conn: Connection, channels: list[str], column) -> dict[str, datetime]:
    """The newest ``column`` (a time) per channel: one statement of per-channel
    subqueries, each answered from a (channel, time) index without reading the channel's
    rows."""
    table = column.table
    out: dict[str, datetime] = {}
    for start in range(0, len(channels), _COMPOUND_LIMIT):
        parts = [select(literal(c).label("channel"),
                        select(func.max(column))
                        .where(table.c.channel == c).scalar_subquery().label("at"))
                 for c in channels[start:start + _COMPOUND_LIMIT]]
        stmt = parts[0] if len(parts) == 1 else union_all(*parts)
        out.update((c, as_utc(at)) for c, at in conn.execute(stmt) if at is not None)
    return out


def _last_rows(conn: Connection, channels: list[str]) -> dict[str, datetime]:
    """The newest inbox row per channel (``inbox_item (channel, ingested_at)``)."""
    return _newest(conn, channels, inbox_t.c.ingested_at)


def _last_sent(conn: Connection, channels: list[str]) -> dict[str, datetime]:
    """The newest delivery per channel (``outbox_item (channel, sent_at)``): the other
    direction of the last successful poll or webhook."""
    return _newest(conn, channels, outbox_t.c.sent_at)


def _window_counts(conn: Connection, channels: list[str], now: datetime
                   ) -> dict[str, tuple[int, int, int]]:
    """Messages stored per channel in the last hour, day and baseline window."""
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    at = inbox_t.c.ingested_at
    stmt = (select(inbox_t.c.channel,
                   func.sum(case((at >= hour, 1), else_=0)),
                   func.sum(case((at >= day, 1), else_=0)), func.count())
            .where(inbox_t.c.channel.in_(channels),
                   at >= now - timedelta(days=BASELINE_DAYS))
            .group_by(inbox_t.c.channel))
    return {c: (int(h), int(d), int(w)) for c, h, d, w in conn.execute(stmt)}


def _outbox_counts(conn: Connection, channels: list[str]) -> dict[str, dict[str, int]]:
    kind = case((outbox_t.c.status == "dead", "dead"),
                (outbox_t.c.attempts > 0, "failed"), else_="pending")
    stmt = (select(outbox_t.c.channel, kind.label("kind"), func.count())
            .where(outbox_t.c.status.in_(["pending", "dead"]),
                   outbox_t.c.channel.in_(channels))
            .group_by(outbox_t.c.channel, kind))
    out: dict[str, dict[str, int]] = {}
    for channel, k, n in conn.execute(stmt):
        out.setdefault(channel, {"pending": 0, "failed": 0, "dead": 0})[k] = int(n)
    return out


def _quarantine_counts(conn: Connection, channels: list[str], now: datetime
                       ) -> dict[str, tuple[int, int]]:
    """Quarantined payloads per channel: all of them, and those of the last day."""
    recent = case((inbox_t.c.processed_at >= now - timedelta(days=1), 1), else_=0)
    stmt = (select(inbox_t.c.channel, func.count(), func.sum(recent))
            .where(inbox_t.c.status == "quarantined", inbox_t.c.channel.in_(channels))
            .group_by(inbox_t.c.channel))
    return {c: (int(n), int(r or 0)) for c, n, r in conn.execute(stmt)}


def channel_figures(conn: Connection, kanal, now: datetime, *,
                    only: str | None = None) -> list[dict[str, Any]]:
    """Every channel of ``kanal.channels`` (or the one ``only``) with its figures and
    verdict, unhealthy first (failing, then warnings), then by id. Times are aware UTC."""
    statuses = [s for s in kanal.channels if only is None or s.config.id == only]
    ids = [s.config.id for s in statuses]
    states = {r.channel: r for r in conn.execute(
        select(state_t).where(state_t.c.channel.in_(ids)))} if ids else {}
    last = _last_rows(conn, ids)
    sent = _last_sent(conn, ids) if ids else {}
    windows = _window_counts(conn, ids, now) if ids else {}
    outbox = _outbox_counts(conn, ids) if ids else {}
    quarantine = _quarantine_counts(conn, ids, now) if ids else {}
    out = []
    for status in statuses:
        cid = status.config.id
        st = states.get(cid)
        adapter = status.adapter
        if adapter is not None:
            polls = adapter.polls
        else:  # off: the class says, unless polling depends on settings (a property)
            polls = getattr(kanal.registry.get(status.config.adapter), "polls", False) is True
        last_ok = as_utc(st.last_ok_at) if st else None
        hour, day, week = windows.get(cid, (0, 0, 0))
        figures = {
            "id": cid, "name": status.config.name or status.official.name,
            "adapter": status.config.adapter, "official_channel": status.official.id,
            "state": status.state, "reason": status.reason,
            "reason_code": status.reason_code, "reason_params": status.reason_params,
            "health": st.health if st else "unknown",
            "last_error": st.last_error if st else None,
            "last_error_at": as_utc(st.last_error_at) if st else None,
            "last_message_at": last.get(cid),
            "last_ok_at": last_ok if polls else last.get(cid),
            "last_sent_at": sent.get(cid),
            "polls": polls,
            "poll_interval_seconds": adapter.poll_interval_seconds if polls and adapter
            else None,
            "poll_lag_seconds": (now - last_ok).total_seconds()
            if polls and adapter and last_ok else None,
            "messages_last_hour": hour, "messages_last_day": day,
            "messages_baseline": week,
            "outbox": outbox.get(cid, {"pending": 0, "failed": 0, "dead": 0}),
            "quarantined": quarantine.get(cid, (0, 0))[0],
            "quarantined_last_day": quarantine.get(cid, (0, 0))[1],
            "credential_expires_at": as_utc(st.credential_expires_at) if st else None,
        }
        figures["problems"] = problems(figures, now)
        figures["healthy"] = not figures["problems"]
        figures["severity"] = (FAILING if any(p["severity"] == FAILING
                                              for p in figures["problems"])
                               else WARNING if figures["problems"] else "ok")
        out.append(figures)
    rank = {FAILING: 0, WARNING: 1, "ok": 2}
    return sorted(out, key=lambda f: (rank[f["severity"]], f["id"]))


def _problem(code: str, severity: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "severity": severity, "text": TEXTS[code].format(**params),
            "params": params}


def problems(f: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The verdict on one channel's figures (the rules are in the module docstring)."""
    found = []
    running = f["state"] == "ready"
    if not running:
        found.append(_problem("disabled", WARNING if f["reason_code"] in DELIBERATE
                              else FAILING, reason=f["reason"]))
    elif f["health"] in ("failing", "degraded"):
        found.append(_problem(f"health_{f['health']}",
                              FAILING if f["health"] == "failing" else WARNING,
                              error=f["last_error"] or ""))
    lag, interval = f["poll_lag_seconds"], f["poll_interval_seconds"]
    held = f["health"] == "degraded"  # a rate limit holds the poller back on purpose
    if running and not held and lag is not None and lag > LAG_FACTOR * interval:
        found.append(_problem("poller_lag", FAILING, minutes=int(lag // 60),
                              interval=f"{interval:g}"))
    rate = f["messages_baseline"] / (BASELINE_DAYS * 24)
    last = f["last_message_at"]
    # a baseline rate means the window has rows, so there is a last message
    if running and rate >= QUIET_MIN_RATE and now - last >= timedelta(hours=QUIET_HOURS):
        found.append(_problem("quiet", WARNING, hours=int((now - last).total_seconds() // 3600),
                              rate=round(rate)))
    expires = f["credential_expires_at"]
    if expires is not None and expires <= now:
        found.append(_problem("credential_expired", FAILING))
    elif expires is not None and expires - now <= timedelta(days=EXPIRY_WARNING_DAYS):
        found.append(_problem("credential_expiring", WARNING,
                              days=max(1, (expires - now).days)))
    if f["outbox"]["dead"]:
        found.append(_problem("outbox_dead", WARNING, count=f["outbox"]["dead"]))
    if f["quarantined_last_day"]:
        found.append(_problem("quarantined", WARNING, count=f["quarantined_last_day"]))
    return found


def as_json(f: dict[str, Any]) -> dict[str, Any]:
    """The stable JSON shape of ``/staff/api/channels``: ISO 8601 UTC times."""
    def iso(value: datetime | None) -> str | None:
        return value.astimezone(timezone.utc).isoformat() if value else None

    return {
        "id": f["id"], "name": f["name"], "adapter": f["adapter"],
        "official_channel": f["official_channel"], "state": f["state"],
        "reason": f["reason"], "healthy": f["healthy"], "severity": f["severity"],
        "problems": [{k: p[k] for k in ("code", "severity", "text", "params")}
                     for p in f["problems"]],
        "health": f["health"], "last_error": f["last_error"],
        "last_message_at": iso(f["last_message_at"]), "last_ok_at": iso(f["last_ok_at"]),
        "last_sent_at": iso(f["last_sent_at"]),
        "poll_lag_seconds": None if f["poll_lag_seconds"] is None
        else round(f["poll_lag_seconds"], 1),
        "messages_last_hour": f["messages_last_hour"],
        "messages_last_day": f["messages_last_day"],
        "outbox": dict(f["outbox"]), "quarantined": f["quarantined"],
        "credential_expires_at": iso(f["credential_expires_at"]),
    }

"""Who sent a message: one reporter per person, recognised by any of their handles."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from core.canonical import InboundMessage, Sender
from core.bulk import insert_rows
from core.db import allocate_ids, lookup_pairs
from core.models import Reporter, ReporterIdentity

reporter_t = Reporter.__table__
identity_t = ReporterIdentity.__table__


def handles(message: InboundMessage) -> list[Sender]:
    return [s for s in (message.sender, *message.also_known_as) if s and s.handle]


def known_identities(conn: Connection, keys: Iterable[tuple[str, str]]
                     ) -> dict[tuple[str, str], int]:
    """Reporter ids of known (kind, handle) pairs."""
    return lookup_pairs(conn, identity_t.c.kind, identity_t.c.handle, identity_t.c.reporter_id,
                        keys)


def resolve(conn: Connection, messages: Sequence[InboundMessage],
            now: datetime) -> list[int | None]:
    """The reporter of each message (None when anonymous), creating reporters and
    identities for handles seen for the first time. Handles of one message that are new
    join the reporter found through the others; two messages of a new person in one batch
    share one new reporter."""
    senders = [handles(m) for m in messages]
    known = known_identities(conn, {(s.kind, s.handle) for ss in senders for s in ss})
    new_people: list[dict] = []
    pending: dict[tuple[str, str], int] = {}  # handle -> index into new_people
    owners: list[tuple[int | None, int | None]] = []
    for ss in senders:
        found = next((known[(s.kind, s.handle)] for s in ss if (s.kind, s.handle) in known),
                     None)
        index = None
        if found is None and ss:
            index = next((pending[(s.kind, s.handle)] for s in ss
                          if (s.kind, s.handle) in pending), None)
            if index is None:
                index = len(new_people)
                new_people.append({"display_name": ss[0].display_name, "created_at": now})
            for s in ss:
                pending.setdefault((s.kind, s.handle), index)
        owners.append((found, index))

    new_ids = allocate_ids(conn, reporter_t, len(new_people))
    if new_people:
        insert_rows(conn, reporter_t, [{"id": i, **p} for i, p in zip(new_ids, new_people)])
    out: list[int | None] = []
    identities: list[dict] = []
    for message, ss, (found, index) in zip(messages, senders, owners):
        reporter_id = found if found is not None else (
            new_ids[index] if index is not None else None)
        out.append(reporter_id)
        for s in ss:
            key = (s.kind, s.handle)
            if reporter_id is not None and key not in known:
                known[key] = reporter_id
                identities.append({"reporter_id": reporter_id, "kind": s.kind,
                                   "handle": s.handle, "channel": message.channel,
                                   "created_at": now})
    insert_rows(conn, identity_t, identities)
    return out

"""What the LAPOR! tests share: rows read back, the mapping's statuses, a complaint at
kelurahan Alfa, and a kanal with one LAPOR! report on its case path."""

from __future__ import annotations

from datetime import timedelta

import yaml
from sqlalchemy import select

from core.models import InboxItem, Message, OutboxItem, Report
from tests.casework import ALFA as ALFA_POINT, KELURAHAN
from tests.helpers import drain

ALFA = {**ALFA_POINT, "alamat": "Jl. Alfa No. 1, Kelurahan Alfa"}
CHANNEL = "lapor"


def rows(kanal, table, *where, order=None):
    t = table.__table__
    with kanal.engine.connect() as conn:
        return conn.execute(select(t).where(*where).order_by(order or t.c.id)).all()


def reports(kanal):
    return rows(kanal, Report, Report.__table__.c.channel == CHANNEL)


def report_of(kanal, lapor_id: str):
    [row] = rows(kanal, Report, Report.__table__.c.external_ref == lapor_id)
    return row


def outbox(kanal, *where):
    t = OutboxItem.__table__
    return rows(kanal, OutboxItem, t.c.channel == CHANNEL, *where)


def inbox(kanal, *where):
    t = InboxItem.__table__
    return rows(kanal, InboxItem, t.c.channel == CHANNEL, *where)


def messages(kanal, report_id: int, direction: str = "in"):
    t = Message.__table__
    return rows(kanal, Message, t.c.report_id == report_id, t.c.direction == direction)


def statuses(contract) -> dict[str, str]:
    """kanal status -> LAPOR! status, as the contract's mapping file says."""
    return dict(yaml.safe_load(contract[1].read_text(encoding="utf-8"))["statuses"])


def add_alfa(standin, **fields):
    """A complaint at kelurahan Alfa (routed to ``KELURAHAN``); its tracking ID."""
    return standin.add(lokasi=dict(ALFA), **fields)["tracking_id"]


def poll_in(kanal, standin, **fields):
    """One new complaint at Alfa polled in and acknowledged: (its LAPOR! ID, report)."""
    lapor_id = add_alfa(standin, **fields)
    assert kanal.poll_channel(CHANNEL) >= 1
    report = report_of(kanal, lapor_id)
    assert report.unit_id == KELURAHAN
    drain(kanal)
    return lapor_id, report


def move(kanal, seconds: float = 3601) -> None:
    """Past any outbox back-off (at most an hour) and lease."""
    kanal.clock.now += timedelta(seconds=seconds)

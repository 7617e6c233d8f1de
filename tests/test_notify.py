"""Telling the citizen (core.notify): each status change and each officer's note reaches
the reporter on their channel through the outbox; STOP is honoured and a skip recorded.
Transitions go through the real ``Kanal.act_on_case`` on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import staff, tracking
from core.cases import ActionRequest
from core.db import writing
from core.models import CaseEvent, Message, OutboxItem, Report
from tests.helpers import drain

outbox_t = OutboxItem.__table__
message_t = Message.__table__
event_t = CaseEvent.__table__
report_t = Report.__table__
PASSWORD = "kata-sandi-rahasia"
KELURAHAN = "kelurahan-31.71.01.1001"


@pytest.fixture
def officers(kanal):
    """A kelurahan officer and a supervisor, with the units of the test boundaries."""
    kanal.start_up()
    with writing(kanal.engine) as conn:
        return (staff.add(conn, "lurah", PASSWORD, "officer", unit_id=KELURAHAN),
                staff.add(conn, "biro", PASSWORD, "supervisor",
                          unit_id="biro-pemerintahan"))


def report_on_fake(kanal, fake, sender="warga-1") -> str:
    fake.push("Lampu jalan mati di Alfa", sender=sender, id=f"m-{sender}")
    kanal.poll_channel("fake")
    drain(kanal)
    fake.sent.clear()
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t.c.tracking_id)).scalar_one()


def test_a_start_tells_the_reporter_on_their_channel(kanal, fake, officers):
    officer, _ = officers
    compact = report_on_fake(kanal, fake)
    kanal.act_on_case(officer, compact, ActionRequest("start"))
    assert drain(kanal) == 1
    [sent] = fake.sent
    assert sent.kind == "status_changed" and sent.recipient == "warga-1"
    assert tracking.display(compact) in sent.text and "Proses" in sent.text

"""One recipient's outbox items go out in the order they were written: a later one never
overtakes an earlier one that waits to be retried (a status notice before the
acknowledgement it follows), while other recipients' items carry on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.models import OutboxItem
from tests.clock import Clock
from tests.helpers import drain

outbox_t = OutboxItem.__table__


def statuses(kanal) -> dict[str, list[str]]:
    with kanal.engine.connect() as conn:
        rows = conn.execute(select(outbox_t.c.recipient, outbox_t.c.status)
                            .order_by(outbox_t.c.id)).all()
    out: dict[str, list[str]] = {}
    for recipient, status in rows:
        out.setdefault(recipient, []).append(status)
    return out


START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_a_later_item_waits_for_its_recipients_earlier_one(make_kanal):
    clock = Clock(START)
    kanal = make_kanal(clock=clock)
    fake = kanal.adapters["fake"]
    fake.push("Lampu jalan mati", sender="warga-1")
    fake.push("Sampah menumpuk", sender="warga-2")
    kanal.poll_channel("fake")
    fake.fail_sends(1)  # warga-1's ack fails once
    assert drain(kanal) == 2
    assert [m.recipient for m in fake.sent] == ["warga-2"]
    # warga-1 writes again while the first answer waits to be retried
    fake.push("Tambahan: sudah tiga hari", sender="warga-1")
    kanal.poll_channel("fake")
    assert drain(kanal) == 0  # behind the ack
    assert statuses(kanal)["warga-1"] == ["pending", "pending"]
    clock.now += timedelta(hours=2)
    drain(kanal)
    mine = [m.outbox_id for m in fake.sent if m.recipient == "warga-1"]
    assert len(mine) == 2 and mine == sorted(mine)  # written first, sent first


def test_an_item_behind_one_that_fails_in_the_same_batch_is_held(make_kanal):
    clock = Clock(START)
    kanal = make_kanal(clock=clock)
    fake = kanal.adapters["fake"]
    fake.push("Lampu jalan mati", sender="warga-1")
    kanal.poll_channel("fake")
    fake.push("Tambahan: sudah tiga hari", sender="warga-1")
    kanal.poll_channel("fake")
    fake.fail_sends(1)  # both are due in one batch; the first fails
    assert kanal.dispatcher.run_once() == 1
    assert fake.sent == [] and statuses(kanal)["warga-1"] == ["pending", "pending"]
    clock.now += timedelta(hours=2)
    drain(kanal)
    ids = [m.outbox_id for m in fake.sent]
    assert len(ids) == 2 and ids == sorted(ids)

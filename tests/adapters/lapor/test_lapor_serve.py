"""LAPOR! through ``kanal serve`` as an operator starts it: the real poller finds a disposed
complaint, the real dispatcher answers it on the stand-in, an officer's action in another
process reaches the stand-in once, and after a restart a citizen's change is a follow-up,
with nothing sent twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from core import tracking
from core.models import Report
from tests.adapters.lapor.conftest import AGENCY, TOKEN, channels_file
from tests.adapters.lapor.standin import FakeLapor
from tests.casework import ALFA, request, set_up
from tests.serving import kanal_serve, wait_for

report_t = Report.__table__


@pytest.fixture
def live(contract):
    api = FakeLapor(token=TOKEN, agency=AGENCY, names=contract[0]).start()  # wall clock
    yield api
    api.stop()


def statuses(api: FakeLapor, tid: str) -> list[str]:
    return [f["status"] for f in api.follow_ups_for(tid)]


def test_polled_answered_worked_and_restarted(live, contract, database_url, tmp_path: Path,
                                              make_kanal, settings):
    mapping = contract[1]
    names = yaml.safe_load(mapping.read_text())["statuses"]
    config = channels_file(tmp_path)
    env = {"KANAL_CONFIG": str(config), "KANAL_LAPOR_BASE_URL": live.base_url,
           "KANAL_LAPOR_TOKEN": TOKEN, "KANAL_LAPOR_AGENCY_ID": AGENCY,
           "KANAL_LAPOR_POLL_SECONDS": "0.3", "KANAL_LAPOR_MAPPING": str(mapping),
           "KANAL_PUBLIC_BASE_URL": "https://kanal.example.go.id"}
    complaint = live.add(judul="Jalan berlubang", isi="Jalan berlubang di depan sekolah",
                         lokasi={**ALFA, "alamat": "Jl. Alfa 1"})
    tid = complaint["tracking_id"]
    with kanal_serve(database_url, tmp_path, **env):
        wait_for(lambda: statuses(live, tid) == [names["Menunggu"]], what="the ack")
        [ack] = live.follow_ups_for(tid)
        compact = next(tracking.find_in_text(ack["isi"]))
        # an officer works the case from another process on the same database
        other = make_kanal(settings=settings.model_copy(update={"config": config}),
                           env={**env, "KANAL_JAKI_API_KEY": "k"})
        accounts = set_up(other)
        other.act_on_case(accounts["lurah"], compact,
                          request("coordinate", {"unit": "dinas-bina-marga"}))
        wait_for(lambda: len(live.follow_ups_for(tid)) == 2, what="the status follow-up")
    assert statuses(live, tid) == [names["Menunggu"], names["Koordinasi"]]
    # while kanal is down the citizen adds to the complaint on LAPOR!
    live.change(tid, isi=complaint["isi"] + " Sudah dua minggu.")
    with kanal_serve(database_url, tmp_path, **env):
        wait_for(lambda: len(live.follow_ups_for(tid)) == 3, what="the addition's ack")
        with other.engine.connect() as conn:
            rows = conn.execute(select(report_t.c.tracking_id, report_t.c.external_ref)).all()
    assert rows == [(compact, tid)]  # one report, never a second one
    assert statuses(live, tid) == [names["Menunggu"], names["Koordinasi"],
                                   names["Koordinasi"]]
    ids = [f["id"] for f in live.follow_ups_for(tid)]
    assert len(set(ids)) == 3

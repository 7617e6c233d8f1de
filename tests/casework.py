"""Cases to work on in tests: the units of the small boundaries, officer and supervisor
accounts, a report routed to kelurahan Alfa, and a case driven to any status through the
real ``Kanal.act_on_case``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from unittest import mock

import pytest

from sqlalchemy import select

from core import staff as staff_mod
from core.cases import ActionRequest
from core.db import writing
from core.models import Report
from core.units import sync_units
from core.uploads import CheckedUpload, Upload
from tests.clock import Clock
from tests.test_proof import photo

report_t = Report.__table__
START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)  # Tuesday 09:00 WIB
PASSWORD = "kata-sandi-rahasia"
ALFA = {"lat": -6.205, "lon": 106.805}  # kelurahan 31.71.01.1001 "Alfa", kota 31.71
KELURAHAN = "kelurahan-31.71.01.1001"
OTHER_KELURAHAN = "kelurahan-31.72.01.1002"
KECAMATAN = "kecamatan-31.71.01"
DINAS = "dinas-bina-marga"
OTHER_DINAS = "dinas-sumber-daya-air"
SUDIN = "sudin-bina-marga-31.71"
OTHER_SUDIN = "sudin-sumber-daya-air-31.71"
# who takes each step of the whole path, by status reached
ACCOUNTS = {
    "lurah": ("officer", KELURAHAN), "lurah2": ("officer", OTHER_KELURAHAN),
    "camat": ("officer", KECAMATAN), "binamarga": ("officer", DINAS),
    "sudinbm": ("officer", SUDIN), "sudinsda": ("officer", OTHER_SUDIN),
    "verifikator": ("supervisor", "biro-pemerintahan"), "admin": ("admin", None),
    "operator": ("operator", None),
}


def set_up(kanal) -> dict[str, staff_mod.Staff]:
    """The units of the boundaries and one account of each kind (``ACCOUNTS``), named
    ``ptg-<key>`` (a name no public text contains by chance)."""
    sync_units(kanal.engine, kanal.settings)
    made = {}
    # one argon2 hash for every account (each costs a few hundred milliseconds)
    with writing(kanal.engine) as conn, mock.patch.object(staff_mod, "hash_password",
                                                          _hashed):
        for name, (role, unit) in ACCOUNTS.items():
            made[name] = staff_mod.add(conn, f"ptg-{name}", PASSWORD, role, unit_id=unit)
    return made


@cache
def _hashed(password: str) -> str:
    return staff_mod._hasher.hash(password)


def report_in_alfa(kanal, text: str = "Jalan berlubang di depan sekolah",
                   **fields) -> str:
    """A new report through the fake channel, routed to kelurahan Alfa; its compact id."""
    fields = {**ALFA, "category": "jalan-rusak", **fields}
    external_id = kanal.adapters["fake"].push(text, **fields)
    assert kanal.poll_channel("fake") == 1
    with kanal.engine.connect() as conn:
        from core.models import Message
        m = Message.__table__
        return conn.execute(select(report_t.c.tracking_id).join(
            m, m.c.report_id == report_t.c.id).where(
            m.c.external_id == external_id, m.c.direction == "in")).scalar_one()


def proof(seed: int = 7, name: str = "bukti.jpg", **tags) -> CheckedUpload:
    """A proof photo as the upload checks hand it on (no EXIF unless tags are given)."""
    return CheckedUpload(Upload(name, photo(seed, **tags)), "image/jpeg")


def case(kanal, compact: str):
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t).where(report_t.c.tracking_id == compact)).one()


# the steps that bring a new case to each status: (account, action, fields)
PATH = {
    "Menunggu": [],
    "Koordinasi": [("lurah", "coordinate", {"unit": DINAS})],
    "Disposisi": [("lurah", "coordinate", {"unit": DINAS}),
                  ("binamarga", "dispose", {"unit": SUDIN})],
    "Proses": [("lurah", "coordinate", {"unit": DINAS}),
               ("binamarga", "dispose", {"unit": SUDIN}), ("sudinbm", "start", {})],
    "EWS": [("lurah", "coordinate", {"unit": DINAS}),
            ("binamarga", "dispose", {"unit": SUDIN}), ("sudinbm", "start", {}),
            ("sudinbm", "ews", {"due": "2099-12-24", "reason": "Perlu pengaspalan ulang"})],
    "Menunggu Verifikasi": [("lurah", "coordinate", {"unit": DINAS}),
                            ("binamarga", "dispose", {"unit": SUDIN}),
                            ("sudinbm", "start", {}), ("sudinbm", "resolve", {"proof": True})],
    "Selesai": [("lurah", "coordinate", {"unit": DINAS}),
                ("binamarga", "dispose", {"unit": SUDIN}), ("sudinbm", "start", {}),
                ("sudinbm", "resolve", {"proof": True}), ("verifikator", "verify", {})],
    "Ditolak": [("lurah", "reject", {"reason": "Bukan kewenangan Pemprov DKI"})],
}


def request(action: str, fields: dict) -> ActionRequest:
    fields = dict(fields)
    photos = [proof()] if fields.pop("proof", False) else ()
    return ActionRequest(action, photos=photos, **fields)


def drive(kanal, accounts, compact: str, status: str, *, step=timedelta(minutes=5)):
    """Take the ``PATH`` to ``status``; the clock moves ``step`` before each action."""
    for name, action, fields in PATH[status]:
        kanal.clock.now += step
        kanal.act_on_case(accounts[name], compact, request(action, fields))
    assert case(kanal, compact).status == status


# fixtures for a test module: ``from tests.casework import accounts, clock, kanal``


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def kanal(make_kanal, clock):
    return make_kanal(clock=clock)


@pytest.fixture
def accounts(kanal):
    return set_up(kanal)

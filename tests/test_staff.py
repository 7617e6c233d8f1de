"""Staff accounts: adding, signing in, passwords, disabling (core.staff)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from core import offices, staff
from core.db import make_engine, writing
from tests.conftest import FIXTURES

PASSWORD = "kata-sandi-rahasia"
OFFICE = "kelurahan-31.71.01.1001"
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    with writing(engine) as conn:
        offices.sync(conn, offices.offices_from_boundaries(
            FIXTURES / "boundaries_small.geojson"))
    yield engine
    engine.dispose()


def utc(value: datetime) -> datetime:
    """SQLite gives times back without a zone; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def add(engine, username="ani", password=PASSWORD, role="counter", **kw) -> staff.Staff:
    kw.setdefault("office_id", OFFICE if role == "counter" else None)
    with writing(engine) as conn:
        return staff.add(conn, username, password, role, **kw)


def sign_in(engine, username="ani", password=PASSWORD, now=None) -> staff.Staff | None:
    with writing(engine) as conn:
        return staff.authenticate(conn, username, password, now=now)


def stored(engine, username="ani"):
    with engine.connect() as conn:
        return conn.execute(select(staff.account_t).where(
            staff.account_t.c.username == username)).one()


def test_add_and_get(engine):
    added = add(engine, " Ani.Counter ", display_name="Ani", now=T0)
    assert (added.username, added.role, added.office_id, added.display_name) == (
        "ani.counter", "counter", OFFICE, "Ani")
    assert utc(added.sessions_valid_from) == T0
    with engine.connect() as conn:
        assert staff.get(conn, "ANI.COUNTER") == added
        assert staff.by_id(conn, added.id) == added
        with pytest.raises(staff.StaffError, match="no staff account 'budi'"):
            staff.get(conn, "budi")
    row = stored(engine, "ani.counter")
    assert row.active and row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


def test_sign_in_with_the_right_password(engine):
    added = add(engine)
    signed_in = sign_in(engine, " ANI ", now=T0)
    assert signed_in == added
    assert utc(stored(engine).last_login_at) == T0


@pytest.mark.parametrize("username, password", [
    ("ani", "kata-sandi-salah"),
    ("ani", ""),
    ("budi", PASSWORD),
], ids=["wrong-password", "empty-password", "unknown-user"])
def test_sign_in_refused(engine, username, password):
    add(engine)
    assert sign_in(engine, username, password) is None
    assert stored(engine).last_login_at is None


def test_disabled_account_cannot_sign_in_and_its_sessions_end(engine):
    added = add(engine, now=T0)
    later = T0 + timedelta(hours=1)
    with writing(engine) as conn:
        staff.set_active(conn, "ani", False, now=later)
    assert sign_in(engine) is None
    row = stored(engine)
    assert not row.active and utc(row.sessions_valid_from) == later
    with engine.connect() as conn:
        assert staff.by_id(conn, added.id) is None
    with writing(engine) as conn:
        staff.set_active(conn, "ani", True, now=later + timedelta(hours=1))
    assert sign_in(engine) is not None
    assert utc(stored(engine).sessions_valid_from) == later


@pytest.mark.parametrize("kw, message", [
    ({"role": "counter", "office_id": None}, "a counter account needs --office"),
    ({"role": "counter", "office_id": "kelurahan-99"}, "no office 'kelurahan-99'"),
    ({"role": "officer", "office_id": "kelurahan-99"}, "no office 'kelurahan-99'"),
    ({"role": "boss"}, "unknown role 'boss'"),
    ({"username": "a"}, "a username is 2-64 characters"),
    ({"username": "ani budi"}, "a username is 2-64 characters"),
    ({"username": "-ani"}, "a username is 2-64 characters"),
    ({"username": "a" * 65}, "a username is 2-64 characters"),
    ({"username": "ani@kel"}, "a username is 2-64 characters"),
    ({"password": "pendek"}, "at least 10 characters"),
], ids=["counter-without-office", "unknown-office", "officer-unknown-office", "role",
        "short-username", "space", "leading-dash", "long-username", "at-sign",
        "short-password"])
def test_add_refuses(engine, kw, message):
    with pytest.raises(staff.StaffError, match=message):
        add(engine, **{"username": "ani", **kw})
    with engine.connect() as conn:
        assert staff.list_accounts(conn) == []


def test_usernames_are_unique_whatever_the_case(engine):
    add(engine)
    with pytest.raises(staff.StaffError, match="the username 'ani' is taken"):
        add(engine, "ANI", role="admin")


def test_roles_other_than_counter_need_no_office(engine):
    for role in ("admin", "officer", "supervisor"):
        assert add(engine, f"user-{role}", role=role).office_id is None
    with engine.connect() as conn:
        assert [(a.username, a.role) for a in staff.list_accounts(conn)] == [
            ("user-admin", "admin"), ("user-officer", "officer"),
            ("user-supervisor", "supervisor")]


def test_new_password_ends_sessions(engine):
    add(engine, now=T0)
    later = T0 + timedelta(days=1)
    with writing(engine) as conn:
        staff.set_password(conn, "ani", "kata-sandi-baru-1", now=later)
    assert utc(stored(engine).sessions_valid_from) == later
    assert sign_in(engine) is None
    assert sign_in(engine, password="kata-sandi-baru-1") is not None
    with writing(engine) as conn, pytest.raises(staff.StaffError, match="at least 10"):
        staff.set_password(conn, "ani", "pendek")
    with writing(engine) as conn, pytest.raises(staff.StaffError, match="no staff account"):
        staff.set_password(conn, "budi", "kata-sandi-baru-1")


def test_hash_with_old_parameters_is_replaced_at_sign_in(engine):
    add(engine)
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with writing(engine) as conn:
        conn.execute(update(staff.account_t).values(password_hash=old))
    assert sign_in(engine, password="kata-sandi-salah") is None
    assert stored(engine).password_hash == old  # only a successful sign-in rehashes
    assert sign_in(engine) is not None
    new = stored(engine).password_hash
    assert new != old and not staff._hasher.check_needs_rehash(new)
    staff._hasher.verify(new, PASSWORD)
    assert sign_in(engine) is not None
    assert stored(engine).password_hash == new  # current parameters: left alone


def test_changed_parameters_rehash_at_sign_in(engine, monkeypatch):
    add(engine)
    before = stored(engine).password_hash
    stronger = PasswordHasher(time_cost=staff._hasher.time_cost + 1)
    monkeypatch.setattr(staff, "_hasher", stronger)
    assert sign_in(engine) is not None
    after = stored(engine).password_hash
    assert after != before and not stronger.check_needs_rehash(after)

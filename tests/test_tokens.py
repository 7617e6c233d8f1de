"""API tokens of staff accounts (core.tokens) and the bearer guard of the officers' API
(auth.require_token, GET /staff/api/me): the real app and database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import staff, tokens, units
from core.db import writing
from core.models import as_utc
from core.staff import Staff
from gateway import auth
from gateway.app import create_app
from tests.clock import Clock

PASSWORD = "kata-sandi-rahasia"
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
UNIT = "sudin-bina-marga-31.72"
UNIT_NAME = "Suku Dinas Bina Marga Kota Administrasi Uji Utara"
# an extra route behind the guard, for the role check (the cases API will use it so)
supervisors_only = APIRouter()


@supervisors_only.get("/staff/api/test-supervisors")
async def _supervisors(account: Staff = auth.require_token("supervisor")) -> dict:
    return {"username": account.username}


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def app_kanal(make_kanal, clock):
    kanal = make_kanal(clock=clock)
    units.sync_units(kanal.engine, kanal.settings)
    with writing(kanal.engine) as conn:
        staff.add(conn, "budi", PASSWORD, "officer", unit_id=UNIT)
        staff.add(conn, "admin1", PASSWORD, "admin")
    return kanal


@pytest.fixture
def client(app_kanal):
    app = create_app(kanal=app_kanal, run_workers=False)
    app.include_router(supervisors_only)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def issue(kanal, username="budi") -> str:
    with writing(kanal.engine) as conn:
        return tokens.issue(conn, username, kanal.clock())


def token_rows(kanal) -> list[dict]:
    with kanal.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            select(tokens.token_t).order_by(tokens.token_t.c.id))]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_shows_its_account_role_and_unit(client, app_kanal):
    token = issue(app_kanal)
    assert token.startswith("kanal_") and len(token) > 40
    r = client.get("/staff/api/me", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "budi", "role": "officer",
                        "unit": {"id": UNIT, "name": UNIT_NAME, "kind": "sudin"}}
    assert r.headers["cache-control"] == "no-store"
    r = client.get("/staff/api/me", headers=bearer(issue(app_kanal, "admin1")))
    assert r.json() == {"username": "admin1", "role": "admin", "unit": None}


def test_only_the_hash_is_stored(app_kanal):
    token = issue(app_kanal)
    [row] = token_rows(app_kanal)
    assert all(token not in str(value) for value in row.values())
    assert row["token_hash"] == tokens.token_hash(token)
    assert len(row["token_hash"]) == 64 and as_utc(row["created_at"]) == T0
    assert row["last_used_at"] is None and row["revoked_at"] is None
    assert issue(app_kanal) != token  # every call a new one


def test_last_used_at_is_written_at_most_once_a_minute(client, app_kanal, clock):
    token = issue(app_kanal)
    assert client.get("/staff/api/me", headers=bearer(token)).status_code == 200
    assert as_utc(token_rows(app_kanal)[0]["last_used_at"]) == T0
    clock.advance(59)
    assert client.get("/staff/api/me", headers=bearer(token)).status_code == 200
    assert as_utc(token_rows(app_kanal)[0]["last_used_at"]) == T0
    clock.advance(1)
    assert client.get("/staff/api/me", headers=bearer(token)).status_code == 200
    assert as_utc(token_rows(app_kanal)[0]["last_used_at"]) == T0 + timedelta(seconds=60)


def test_authenticate_on_a_writing_connection(app_kanal):
    token = issue(app_kanal)
    with writing(app_kanal.engine) as conn:
        account = tokens.authenticate(conn, token, T0)
        assert (account.username, account.role, account.unit_id) == ("budi", "officer", UNIT)
        assert tokens.authenticate(conn, token + "x", T0) is None
    assert as_utc(token_rows(app_kanal)[0]["last_used_at"]) == T0


def assert_refused(r, error: str) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == error and r.json()["reason"]


def test_a_revoked_token_is_refused(client, app_kanal):
    first, second = issue(app_kanal), issue(app_kanal)
    other = issue(app_kanal, "admin1")
    with writing(app_kanal.engine) as conn:
        assert tokens.revoke(conn, "budi", T0) == 2
        assert tokens.revoke(conn, "budi", T0) == 0  # nothing live left
    for token in (first, second):
        assert_refused(client.get("/staff/api/me", headers=bearer(token)), "invalid_token")
    assert client.get("/staff/api/me", headers=bearer(other)).status_code == 200
    assert [as_utc(r["revoked_at"]) for r in token_rows(app_kanal)] == [T0, T0, None]


def test_a_disabled_account_gets_no_token_and_its_tokens_stop(client, app_kanal):
    token = issue(app_kanal)
    with writing(app_kanal.engine) as conn:
        staff.set_active(conn, "budi", False)
    unknown = client.get("/staff/api/me", headers=bearer("kanal_" + "x" * 43))
    disabled = client.get("/staff/api/me", headers=bearer(token))
    assert_refused(disabled, "invalid_token")
    assert disabled.json() == unknown.json()  # the reason does not tell the two apart
    with pytest.raises(staff.StaffError, match="'budi' is disabled"):
        issue(app_kanal)
    with writing(app_kanal.engine) as conn:
        staff.set_active(conn, "budi", True)
    assert client.get("/staff/api/me", headers=bearer(token)).status_code == 200


def test_an_unknown_account_gets_no_token(app_kanal):
    with pytest.raises(staff.StaffError, match="no staff account 'nobody'"):
        issue(app_kanal, "nobody")
    with writing(app_kanal.engine) as conn, pytest.raises(staff.StaffError):
        tokens.revoke(conn, "nobody", T0)


@pytest.mark.parametrize("headers, error", [
    ({}, "missing_token"),
    ({"Authorization": ""}, "missing_token"),
    ({"Authorization": "Bearer"}, "missing_token"),
    ({"Authorization": "Bearer "}, "missing_token"),
    ({"Authorization": "Basic YnVkaTpzYW5kaQ=="}, "missing_token"),
    ({"Authorization": "Bearer kanal_not-a-token"}, "invalid_token"),
    ({"Authorization": "Bearer " + "ä" * 10}, "invalid_token"),
], ids=["none", "empty", "scheme-only", "scheme-and-space", "basic", "unknown", "non-ascii"])
def test_a_missing_or_malformed_header_is_refused(client, headers, error):
    r = client.get("/staff/api/me", headers={k: v.encode() for k, v in headers.items()})
    assert_refused(r, error)


def test_a_session_cookie_is_not_a_token(client):
    page = client.get("/staff/login")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    signed = client.post("/staff/login", data={"username": "budi", "password": PASSWORD,
                                               "csrf": csrf, "next": "/staff"})
    assert signed.status_code == 303
    assert_refused(client.get("/staff/api/me"), "missing_token")


def test_a_role_not_allowed_is_403(client, app_kanal):
    with writing(app_kanal.engine) as conn:
        staff.add(conn, "super1", PASSWORD, "supervisor")
    r = client.get("/staff/api/test-supervisors", headers=bearer(issue(app_kanal)))
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden" and "'officer'" in r.json()["reason"]
    assert "www-authenticate" not in r.headers
    r = client.get("/staff/api/test-supervisors", headers=bearer(issue(app_kanal, "super1")))
    assert r.status_code == 200 and r.json() == {"username": "super1"}


def test_the_openapi_schema_documents_the_bearer_scheme(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["staffToken"] == {
        "type": "http", "scheme": "bearer",
        "description": "a staff account's API token (kanal staff token USERNAME)"}
    me = schema["paths"]["/staff/api/me"]["get"]
    assert me["tags"] == ["officers"] and me["security"] == [{"staffToken": []}]
    assert set(me["responses"]) == {"200", "401"}  # any role: never 403
    assert me["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Me"}
    assert "/staff/api/channels" not in schema["paths"]  # the console's, a cookie route

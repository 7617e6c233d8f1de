"""The officers' JSON API (CRM Petugas): GET /staff/api/cases, GET /staff/api/cases/{id}
and POST /staff/api/cases/{id}/actions with staff API tokens, as the phone app calls them;
the contract's status codes (403 first, then 409, then 422) and the public view after."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from core import tokens
from core.db import writing
from gateway.app import create_app
from tests.casework import DINAS, KELURAHAN, SUDIN, case, drive, report_in_alfa, set_up
from tests.clock import Clock
from tests.test_proof import photo

START = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def kanal(make_kanal):
    return make_kanal(clock=Clock(START))


@pytest.fixture
def accounts(kanal):
    return set_up(kanal)


@pytest.fixture
def client(kanal, accounts):
    with TestClient(create_app(kanal=kanal, run_workers=False)) as c:
        yield c


@pytest.fixture
def bearer(kanal, accounts):
    made = {}

    def token(name: str) -> dict[str, str]:
        if name not in made:
            with writing(kanal.engine) as conn:
                made[name] = tokens.issue(conn, f"ptg-{name}", kanal.clock())
        return {"Authorization": f"Bearer {made[name]}"}
    return token


def act(client, bearer, who, compact, **body):
    return client.post(f"/staff/api/cases/{compact}/actions", json=body, headers=bearer(who))


def test_the_list_shows_what_the_token_may_see_by_deadline(kanal, client, bearer, accounts):
    first, second = report_in_alfa(kanal), report_in_alfa(kanal, "Lampu jalan mati")
    drive(kanal, accounts, second, "Koordinasi")
    r = client.get("/staff/api/cases", headers=bearer("lurah"))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    [item] = r.json()
    assert {"tracking_id", "status", "unit", "due_at"} <= set(item)
    assert (item["tracking_id"].replace("-", ""), item["status"], item["unit"]) == (
        first, "Menunggu", KELURAHAN)
    [held] = client.get("/staff/api/cases", headers=bearer("binamarga")).json()
    assert (held["tracking_id"].replace("-", ""), held["unit"]) == (second, DINAS)
    everything = client.get("/staff/api/cases", headers=bearer("verifikator")).json()
    assert len(everything) == 2
    only = client.get(f"/staff/api/cases?unit={DINAS}&status=Koordinasi",
                      headers=bearer("verifikator")).json()
    assert [c["unit"] for c in only] == [DINAS]
    assert client.get(f"/staff/api/cases?unit={DINAS}",
                      headers=bearer("lurah")).status_code == 403
    bad = client.get("/staff/api/cases?status=Hilang", headers=bearer("lurah"))
    assert (bad.status_code, bad.json()["field"]) == (422, "status")
    assert client.get("/staff/api/cases").status_code == 401
    assert client.get("/staff/api/cases", headers=bearer("operator")).status_code == 403


def test_the_whole_path_through_the_api(kanal, client, bearer):
    compact = report_in_alfa(kanal)
    r = act(client, bearer, "lurah", compact, action="coordinate", unit=DINAS)
    assert (r.status_code, r.json()["status"], r.json()["unit"]) == (200, "Koordinasi", DINAS)
    assert act(client, bearer, "binamarga", compact, action="dispose").json()["unit"] == SUDIN
    assert act(client, bearer, "sudinbm", compact, action="start").json()["status"] == "Proses"
    r = client.post(f"/staff/api/cases/{compact}/actions", headers=bearer("sudinbm"),
                    data={"action": "resolve", "reason": "Sudah ditambal"},
                    files=[("photos", ("bukti.jpg", photo(3), "image/jpeg"))])
    assert (r.status_code, r.json()["status"]) == (200, "Menunggu Verifikasi"), r.text
    assert r.json()["findings"][0]["findings"][0]["code"] == "no_exif"
    detail = client.get(f"/staff/api/cases/{compact}", headers=bearer("verifikator")).json()
    assert detail["actions"] == ["verify", "return", "note"]
    assert detail["proofs"][0]["findings"][0]["code"] == "no_exif"
    assert act(client, bearer, "verifikator", compact, action="verify").json()["status"] == \
        "Selesai"

    public = client.get(f"/api/v1/reports/{compact}").json()
    assert public["status"] == "Selesai"
    assert [t["status"] for t in public["timeline"] if t["kind"] in (
        "coordinate", "dispose", "start", "resolve", "verify")] == [
        "Koordinasi", "Disposisi", "Proses", "Menunggu Verifikasi", "Selesai"]
    assert len(public["proof_photos"]) == 1


def test_403_comes_before_409_and_422(kanal, client, bearer, accounts):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, "Proses")
    # an officer of another unit: 403, even with no photo, or a file that is no photo
    assert act(client, bearer, "lurah", compact, action="resolve").status_code == 403
    r = client.post(f"/staff/api/cases/{compact}/actions", headers=bearer("lurah"),
                    data={"action": "resolve"},
                    files=[("photos", ("x.jpg", b"not a photo", "image/jpeg"))])
    assert (r.status_code, r.json()["error"]) == (403, "not_allowed")
    assert r.json()["reason"] == "this case is not held by your unit"
    # an officer's verify: 403; a supervisor's verify on a case in Proses: 409
    r = act(client, bearer, "sudinbm", compact, action="verify")
    assert (r.status_code, r.json()["reason"]) == (403, "an officer of a sudin may not verify "
                                                        "a case")
    r = act(client, bearer, "verifikator", compact, action="verify")
    assert (r.status_code, r.json()["error"], r.json()["status"]) == (
        409, "wrong_status", "Proses")
    # the holder with a missing photo: 422
    r = act(client, bearer, "sudinbm", compact, action="resolve")
    assert (r.status_code, r.json()["field"]) == (422, "photos")
    assert case(kanal, compact).status == "Proses"


@pytest.mark.parametrize(("kwargs", "status", "error"), [
    ({"json": {"reason": "x"}}, 422, "missing_field"),
    ({"json": {"action": "reject", "alasan": "x"}}, 422, "invalid_field"),
    ({"json": {"action": "reject", "reason": 5}}, 422, "invalid_field"),
    ({"json": ["reject"]}, 422, "invalid_field"),
    ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400,
     "malformed_json"),
    ({"content": b"action=reject", "headers": {"Content-Type": "text/plain"}}, 415,
     "unsupported_media_type"),
    ({"json": {"action": "terbang"}}, 422, "unknown_action"),
], ids=["no-action", "unknown-field", "not-a-string", "not-an-object", "bad-json",
        "wrong-type", "unknown-action"])
def test_bad_bodies_get_a_clear_4xx(kanal, client, bearer, kwargs, status, error):
    compact = report_in_alfa(kanal)
    kwargs = dict(kwargs)  # shared by the runs on both databases
    headers = {**kwargs.pop("headers", {}), **bearer("lurah")}
    r = client.post(f"/staff/api/cases/{compact}/actions", headers=headers, **kwargs)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
    assert case(kanal, compact).status == "Menunggu"


def test_unknown_cases_and_tokens(kanal, client, bearer):
    assert act(client, bearer, "lurah", "JK7QM4XA9", action="start").status_code == 404
    assert act(client, bearer, "lurah", "not-an-id", action="start").status_code == 404
    assert client.get("/staff/api/cases/JK7QM4XA9", headers=bearer("lurah")).status_code == 404
    compact = report_in_alfa(kanal)
    r = client.post(f"/staff/api/cases/{compact}/actions", json={"action": "start"},
                    headers={"Authorization": "Bearer kanal_bukan-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.get(f"/staff/api/cases/{compact}", headers=bearer("lurah2")).status_code \
        == 403


def test_the_api_is_in_the_openapi_schema(client):
    schema = client.get("/openapi.json").json()
    for path in ("/staff/api/cases", "/staff/api/cases/{tracking_id}",
                 "/staff/api/cases/{tracking_id}/actions"):
        assert path in schema["paths"], path
    post = schema["paths"]["/staff/api/cases/{tracking_id}/actions"]["post"]
    assert post["tags"] == ["officers"] and post["security"]
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"403", "409", "422"} <= set(post["responses"])

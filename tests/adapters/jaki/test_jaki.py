"""JAKI intake through its real HTTP contract: a table of named cases, one per scenario."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import tracking
from core.models import Attachment, InboxItem, Report
from tests.adapters.web.helpers import png

TESTDATA = Path(__file__).parent / "testdata"
URL = "/api/v1/jaki/reports"
AUTH = {"Authorization": "Bearer test-jaki-key"}


def rows(kanal, table) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)).scalar_one()


@dataclass
class Case:
    label: str
    body: bytes | None = None
    json_file: str | None = None
    files: list = field(default_factory=list)
    form: dict | None = None
    headers: dict = field(default_factory=lambda: dict(AUTH))
    content_type: str | None = "application/json"
    status: int = 201
    error: str | None = None
    field: str | None = None  # the field the error names


BIG = json.dumps({"external_id": "jaki-long", "text": "x" * 5001}).encode()
REPORT_PART = json.dumps({"external_id": "jaki-mp-1", "text": "Pohon tumbang",
                          "category": "pohon-tumbang",
                          "location": {"lat": -6.215, "lon": 106.805}})

CASES = [
    Case("happy_json", json_file="happy.json"),
    Case("happy_without_location", json_file="no_location.json"),
    Case("happy_multipart_report_part_two_photos", form={"report": REPORT_PART},
         files=[("photos", ("a.png", png(), "image/png")),
                ("photos", ("b.png", png(3, 3), "image/png"))], content_type=None),
    Case("happy_multipart_flat_fields", form={"external_id": "jaki-flat-1", "text": "Banjir",
                                              "lat": "-6.205", "lon": "106.805",
                                              "app_user_id": "u-77"},
         files=[("photo", ("c.png", png(), "image/png"))], content_type=None),
    Case("malformed_json", json_file="malformed.json", status=400, error="malformed_json"),
    Case("json_not_an_object", json_file="not_object.json", status=400,
         error="malformed_json"),
    Case("missing_text", json_file="missing_text.json", status=422, error="missing_text"),
    Case("empty_text", json_file="empty_text.json", status=422, error="missing_text"),
    Case("missing_external_id", json_file="missing_external_id.json", status=422,
         error="missing_external_id"),
    Case("text_over_the_limit", body=BIG, status=422, error="text_too_long"),
    Case("unknown_category_goes_through_as_lainnya", json_file="unknown_category.json"),
    Case("category_by_the_apps_own_name", json_file="category_by_the_apps_name.json"),
    Case("latitude_out_of_range", json_file="bad_latitude.json", status=422,
         error="invalid_location", field="location.lat"),
    Case("latitude_without_longitude", json_file="latitude_without_longitude.json",
         status=422, error="invalid_location", field="location.lon"),
    Case("location_not_an_object", json_file="location_not_object.json", status=422,
         error="invalid_location", field="location"),
    Case("text_not_a_string", json_file="text_not_string.json", status=422,
         error="invalid_text", field="text"),
    Case("category_not_a_string", json_file="category_not_string.json", status=422,
         error="invalid_category", field="category"),
    Case("external_id_not_a_string", json_file="external_id_object.json", status=422,
         error="invalid_external_id", field="external_id"),
    Case("reporter_not_an_object", json_file="reporter_not_object.json", status=422,
         error="invalid_reporter", field="reporter"),
    Case("bad_reporter_phone", json_file="bad_phone.json", status=422, error="invalid_phone",
         field="reporter.phone"),
    Case("reporter_phone_not_a_string", json_file="phone_not_string.json", status=422,
         error="invalid_phone", field="reporter.phone"),
    Case("bad_reporter_email", json_file="bad_email.json", status=422, error="invalid_email",
         field="reporter.email"),
    Case("address_not_a_string", body=json.dumps({
         "external_id": "j-a", "text": "Banjir", "location": {"address": 12}}).encode(),
         status=422, error="invalid_location", field="location.address"),
    Case("reported_at_not_a_time", body=json.dumps({
         "external_id": "j-r", "text": "Banjir", "reported_at": "kemarin"}).encode(),
         status=422, error="invalid_field", field="reported_at"),
    Case("bad_reporter_phone_multipart_flat", form={"external_id": "jaki-flat-2",
                                                    "text": "Banjir", "phone": "nomor saya"},
         content_type=None, status=422, error="invalid_phone", field="reporter.phone"),
    Case("photo_too_large", form={"report": REPORT_PART},
         files=[("photos", ("big.png", png(pad=5 * 1024 * 1024 + 10), "image/png"))],
         content_type=None, status=413, error="photo_too_large"),
    Case("photo_wrong_type", form={"report": REPORT_PART},
         files=[("photos", ("a.png", png(), "image/png")),
                ("photos", ("evil.jpg", b"#!/bin/sh\necho hi\n" * 10, "image/jpeg"))],
         content_type=None, status=415, error="photo_wrong_type"),
    Case("too_many_photos", form={"report": REPORT_PART},
         files=[("photos", (f"{i}.png", png(), "image/png")) for i in range(6)],
         content_type=None, status=422, error="too_many_photos"),
    Case("report_part_not_json", form={"report": "{nope"}, content_type=None, status=400,
         error="malformed_json"),
    Case("missing_api_key", json_file="happy.json", headers={}, status=401,
         error="missing_api_key"),
    Case("bad_api_key", json_file="happy.json", headers={"Authorization": "Bearer wrong"},
         status=401, error="bad_api_key"),
    Case("wrong_auth_scheme", json_file="happy.json",
         headers={"Authorization": "Basic dGVzdDp0ZXN0"}, status=401, error="missing_api_key"),
    Case("unsupported_media_type", body=b"text=hi", content_type="text/plain", status=415,
         error="unsupported_media_type"),
]


def send(client, case: Case):
    headers = dict(case.headers)
    if case.form is not None or case.files:
        return client.post(URL, headers=headers, data=case.form or {}, files=case.files)
    body = case.body if case.body is not None else (TESTDATA / case.json_file).read_bytes()
    if case.content_type:
        headers["Content-Type"] = case.content_type
    return client.post(URL, headers=headers, content=body)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_intake(client, kanal, case):
    r = send(client, case)
    assert r.status_code == case.status, r.text
    body = r.json()
    if case.error:
        assert body["error"] == case.error and body["reason"]
        if case.field:
            assert body["field"] == case.field and case.field in body["reason"]
        # nothing half-done: no inbox row, no report, no stored file
        assert rows(kanal, InboxItem) == rows(kanal, Report) == 0
        store = kanal.settings.data_dir / "attachments"
        assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
        return
    compact = tracking.normalize(body["tracking_id"])
    assert body["status"] == "Menunggu" and body["follow_up"] is False
    view = client.get(f"/api/v1/reports/{body['tracking_id']}").json()
    assert view["tracking_id"] == tracking.display(compact)
    n_files = len(case.files)
    assert len(view["photos"]) == n_files == rows(kanal, Attachment)
    for photo in view["photos"]:
        got = client.get(photo["url"])
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"


def test_happy_report_is_routed_and_shows_no_personal_data(client):
    r = send(client, Case("x", json_file="happy.json"))
    view = client.get(f"/api/v1/reports/{r.json()['tracking_id']}").json()
    assert view["kelurahan"] == {"code": "31.71.01.1001", "name": "Alfa"}
    assert view["kecamatan"]["code"] == "31.71.01" and view["kota"]["code"] == "31.71"
    assert view["category"] == {"id": "jalan-rusak", "name": "Jalan rusak"}
    assert [t["kind"] for t in view["timeline"]] == ["received", "opened"]
    text = json.dumps(view)
    for private in ("Siti", "Aminah", "8812", "3456", "siti@", "Alfa Raya", "berlubang"):
        assert private not in text


def test_repeat_returns_the_same_tracking_id_with_200(client, kanal):
    first = send(client, Case("x", json_file="happy.json"))
    again = send(client, Case("x", json_file="happy.json"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["tracking_id"] == again.json()["tracking_id"]
    assert rows(kanal, Report) == rows(kanal, InboxItem) == 1


def test_repeat_sent_at_once_gives_one_report(client, kanal):
    body = (TESTDATA / "happy.json").read_bytes()
    results, barrier = [], threading.Barrier(8)

    def post():
        barrier.wait()
        r = client.post(URL, headers={**AUTH, "Content-Type": "application/json"}, content=body)
        results.append((r.status_code, r.json()["tracking_id"]))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200] * 7 + [201]
    assert len({tid for _, tid in results}) == 1
    assert rows(kanal, Report) == 1


def test_follow_up_from_the_same_app_user(client, kanal):
    first = send(client, Case("x", json_file="happy.json")).json()["tracking_id"]
    r = client.post(URL, headers=AUTH, json={
        "external_id": "jaki-fu-1", "text": f"Status {first} bagaimana?",
        "reporter": {"app_user_id": "jaki-user-8812"}})
    assert r.status_code == 201
    assert r.json()["tracking_id"] == first and r.json()["follow_up"] is True
    assert rows(kanal, Report) == 1
    view = client.get(f"/api/v1/reports/{first}").json()
    assert "follow_up" in [t["kind"] for t in view["timeline"]]


def test_same_external_id_from_two_client_apps(make_kanal, settings):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    kanal = make_kanal(env={"KANAL_JAKI_API_KEY": "android=k-android,ios=k-ios"})
    with TestClient(create_app(kanal=kanal)) as client:
        body = {"external_id": "same-1", "text": "Sampah"}
        a = client.post(URL, headers={"Authorization": "Bearer k-android"}, json=body)
        b = client.post(URL, headers={"Authorization": "Bearer k-ios"}, json=body)
        assert (a.status_code, b.status_code) == (201, 201)
        assert a.json()["tracking_id"] != b.json()["tracking_id"]


def test_channel_without_its_key_is_disabled_with_the_reason(make_kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    kanal = make_kanal(env={})
    with TestClient(create_app(kanal=kanal)) as client:
        r = client.post(URL, headers=AUTH, json={"external_id": "a", "text": "b"})
    assert r.status_code == 503
    assert r.json()["error"] == "channel_disabled"
    assert "KANAL_JAKI_API_KEY" in r.json()["reason"]


def test_unknown_channel(client):
    r = client.post("/webhooks/no-such-channel", json={})
    assert r.status_code == 404 and r.json()["error"] == "unknown_channel"


def test_body_over_the_limit(make_kanal, settings):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    kanal = make_kanal(settings=settings.model_copy(update={"max_body_bytes": 1000}))
    with TestClient(create_app(kanal=kanal)) as client:
        r = client.post(URL, headers=AUTH, json={"external_id": "a", "text": "x" * 2000})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    assert rows(kanal, InboxItem) == 0


def test_the_inbox_keeps_the_apps_own_bytes(client, kanal):
    body = (TESTDATA / "happy.json").read_bytes()
    client.post(URL, headers={**AUTH, "Content-Type": "application/json"}, content=body)
    with kanal.engine.connect() as conn:
        stored = conn.execute(select(InboxItem.__table__.c.payload)).scalar_one()
    assert body in stored
    assert json.loads(stored)["client"] == "default"


def staff_view(kanal, tracking_id: str) -> dict:
    from core import reports

    with kanal.engine.connect() as conn:
        return reports.staff_report(conn, tracking.normalize(tracking_id),
                                    categories=kanal.category_names, areas=kanal.case_engine)


@pytest.mark.parametrize("sent, category, kept", [
    ("jalan-rusak", "jalan-rusak", None),
    ("Jalan Rusak", "jalan-rusak", "Jalan Rusak"),
    ("  pohon   TUMBANG ", "pohon-tumbang", "pohon   TUMBANG"),
    ("Lampu Penerangan Jalan Umum", "lampu-jalan", "Lampu Penerangan Jalan Umum"),
    ("Pelanggaran Ketertiban Umum", "kebisingan", "Pelanggaran Ketertiban Umum"),
    ("Parkir Liar", "parkir-liar", "Parkir Liar"),
    ("Saluran Air, Kali, Sungai", "saluran-air", "Saluran Air, Kali, Sungai"),
    ("Pedagang Kaki Lima (PKL)", "pkl", "Pedagang Kaki Lima (PKL)"),
    ("Keluhan Galian/Sisa Proyek", "jalan-rusak", "Keluhan Galian/Sisa Proyek"),
    ("Pelayanan Kependudukan & Pencatatan Sipil", "pelayanan-publik",
     "Pelayanan Kependudukan & Pencatatan Sipil"),
    ("Kucing hilang", "lainnya", "Kucing hilang"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_the_apps_category_names_map_onto_kanals(client, kanal, sent, category, kept):
    external_id = "cat-" + sent.replace(" ", "_")  # printable ASCII without spaces
    r = client.post(URL, headers=AUTH, json={"external_id": external_id, "text": "Tolong",
                                             "category": sent})
    assert r.status_code == 201, r.text
    tid = r.json()["tracking_id"]
    view = client.get(f"/api/v1/reports/{tid}").json()
    assert view["category"]["id"] == category
    assert "source_category" not in view and (kept is None or kept not in json.dumps(view))
    staff = staff_view(kanal, tid)
    assert staff["category"] == view["category"] and staff["source_category"] == kept


def with_category_map(make_kanal, settings, tmp_path, mapping_yaml: str):
    """A kanal whose JAKI channel reads its category names from a mapping file."""
    mapping = tmp_path / "jaki_categories.yaml"
    mapping.write_text(mapping_yaml)
    config = tmp_path / "channels.yaml"
    config.write_text(settings.config.read_text().replace(
        "api_keys: ${KANAL_JAKI_API_KEY}",
        f"api_keys: ${{KANAL_JAKI_API_KEY}}\n      category_map: {mapping}"))
    return make_kanal(settings=settings.model_copy(update={"config": config}))


def test_a_channels_own_category_mapping(make_kanal, settings, tmp_path):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    kanal = with_category_map(make_kanal, settings, tmp_path,
                              '"Kabel Semrawut": fasilitas-umum\n"Jalan Rusak": banjir\n')
    with TestClient(create_app(kanal=kanal)) as client:
        got = {}
        for i, name in enumerate(("kabel  semrawut", "Jalan Rusak", "Sampah")):
            r = client.post(URL, headers=AUTH, json={"external_id": f"m{i}", "text": "Tolong",
                                                     "category": name})
            got[name] = client.get(f"/api/v1/reports/{r.json()['tracking_id']}").json()
    assert {k: v["category"]["id"] for k, v in got.items()} == {
        "kabel  semrawut": "fasilitas-umum", "Jalan Rusak": "banjir", "Sampah": "sampah"}


def test_a_mapping_onto_an_unknown_category_disables_the_channel(make_kanal, settings,
                                                                 tmp_path):
    kanal = with_category_map(make_kanal, settings, tmp_path, '"Kabel Semrawut": kabel\n')
    status = kanal.channel("jaki")
    assert status.state == "disabled"
    assert "Kabel Semrawut" in status.reason and "kabel" in status.reason


def test_a_bad_reporter_contact_is_refused_and_nothing_is_stored(client, kanal):
    """The same as the website and the counter: a wrong phone or email is told back, and
    the complaint is not filed without its reporter."""
    body = json.loads((TESTDATA / "happy.json").read_text())
    body["reporter"]["phone"] = "0812"
    r = client.post(URL, headers=AUTH, json=body)
    assert r.status_code == 422 and r.json()["error"] == "invalid_phone"
    assert rows(kanal, InboxItem) == rows(kanal, Report) == 0
    body["reporter"]["phone"] = "+62 812-3456-7890"
    assert client.post(URL, headers=AUTH, json=body).status_code == 201

"""Open311 service requests: POST through kanal's inbox and pipeline, read back in JSON
and XML, with no personal data in any GET."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core import tracking
from core.db import writing
from core.models import InboxItem, MediaJob, Message, Report, ReporterIdentity
from tests.casework import drive
from tests.helpers import count
from tests.open311.conftest import BASE, OTHER_KEY
from tests.open311.o311 import (
    ADDRESS, DESCRIPTION, EMAIL, FIRST, FORMATS, LAST, PHONE, created, errors, fields, items,
    post, valid, xml,
)

report_t = Report.__table__
PRIVATE = (PHONE, "+6281298765432", "81298765432", EMAIL, FIRST, LAST, "Kenari",
           DESCRIPTION[:20])


def _text(conn, report_id: int) -> str:
    m = Message.__table__
    return conn.execute(select(m.c.text).where(m.c.report_id == report_id,
                                               m.c.direction == "in")).scalar_one()


def _report(kanal, shown: str):
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t).where(
            report_t.c.tracking_id == tracking.normalize(shown))).one()


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_a_report_through_the_inbox(api, kanal, fmt):
    response = post(api, fmt)
    assert response.status_code == 200, response.text
    if fmt == "json":
        valid("post-response", response.json())
        answer = response.json()[0]
    else:
        root = xml(response)
        assert root.tag == "service_requests" and root[0].tag == "request"
        answer = items(root)[0]
    shown = answer["service_request_id"]
    assert shown == tracking.display(tracking.normalize(shown))
    assert f"{BASE}/lacak/{shown}" in answer["service_notice"]
    report = _report(kanal, shown)
    assert (report.channel, report.official_channel) == ("open311", "open311")
    assert report.category == "sampah" and report.kelurahan_name == "Alfa"
    assert report.address == ADDRESS
    with kanal.engine.connect() as conn:
        item = conn.execute(select(InboxItem.__table__)).one()
        assert item.channel == "open311" and item.external_id.startswith("city-app:")
        assert _text(conn, report.id) == DESCRIPTION
        # the contacts are the reporter's identities, self-declared like the website's
        handles = {(i.kind, i.handle) for i in conn.execute(
            select(ReporterIdentity.__table__).where(
                ReporterIdentity.__table__.c.reporter_id == report.reporter_id))}
    assert handles == {("web-phone", "+6281298765432"), ("web-email", EMAIL)}


def test_json_body_and_second_client_key(api, kanal):
    response = api.post("/open311/v2/requests.json",
                        json={**fields(api_key=OTHER_KEY), "lat": -6.205, "long": 106.805})
    assert response.status_code == 200, response.text
    with kanal.engine.connect() as conn:
        assert conn.execute(select(InboxItem.__table__.c.external_id)).scalar_one(
            ).startswith("partner:")


def test_read_back_in_json_and_xml(api, kanal):
    shown = created(api)
    one = api.get(f"/open311/v2/requests/{shown}.json")
    assert one.status_code == 200
    valid("requests", one.json())
    (got,) = one.json()
    assert got["service_request_id"] == shown
    assert (got["status"], got["status_notes"]) == ("open", "Menunggu")
    assert got["service_code"] == "sampah" and got["service_name"] == "Sampah"
    assert got["description"] == "Sampah"
    assert got["address"].startswith("Kelurahan Alfa")
    assert (got["lat"], got["long"]) == (-6.205, 106.805)
    assert got["agency_responsible"]
    for stamp in ("requested_datetime", "updated_datetime"):
        assert got[stamp].endswith("+07:00")
    (as_xml,) = items(xml(api.get(f"/open311/v2/requests/{shown}.xml")))
    assert as_xml["service_request_id"] == shown
    assert as_xml["lat"] == "-6.205" and as_xml["status"] == "open"
    assert as_xml["requested_datetime"] == got["requested_datetime"]
    compact = tracking.normalize(shown)
    assert api.get(f"/open311/v2/requests/{compact.lower()}.json").json() == one.json()
    listed = api.get("/open311/v2/requests.json")
    valid("requests", listed.json())
    assert [r["service_request_id"] for r in listed.json()] == [shown]
    assert [r["service_request_id"] for r in items(xml(api.get(
        "/open311/v2/requests.xml")))] == [shown]


def test_no_personal_data_in_any_get(api, kanal):
    shown = created(api)
    created(api, "xml")
    for fmt in FORMATS:
        for path in ("requests", f"requests/{shown}", "services", "services/sampah"):
            body = api.get(f"/open311/v2/{path}.{fmt}").text
            for private in PRIVATE:
                assert private not in body, (path, fmt, private)
    assert "-6.2051" not in api.get("/open311/v2/requests.json").text


@pytest.mark.parametrize("fmt", FORMATS)
def test_api_key_refused(api, kanal, fmt):
    assert "api_key" in errors(post(api, fmt, api_key="wrong-key"), fmt, 403)
    assert "api_key" in errors(post(api, fmt, api_key=None), fmt, 403)
    assert count(kanal, InboxItem) == 0


def test_no_keys_configured_refuses_every_post(open311_kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from tests.conftest import TEST_ENV

    with TestClient(create_app(kanal=open311_kanal(env=TEST_ENV))) as c:
        errors(post(c), "json", 403)
        errors(post(c, api_key=""), "json", 403)
        assert c.get("/open311/v2/services.json").status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction_refused_on_post(api, kanal, fmt):
    assert "bogor.go.id" in errors(post(api, fmt, jurisdiction_id="bogor.go.id"), fmt, 400)
    assert count(kanal, InboxItem) == 0
    assert post(api, fmt, jurisdiction_id="jakarta.go.id").status_code == 200


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("change, says", [
    ({"service_code": None}, "service_code is required"),
    ({"service_code": ""}, "service_code is required"),
    ({"service_code": "tidak-ada"}, "tidak-ada"),
    ({"lat": "utara"}, "lat must be a number"),
    ({"lat": "-91"}, "lat must be a number"),
    ({"long": "181"}, "long must be a number"),
    ({"long": "nan"}, "long must be a number"),
    ({"long": None}, "both lat and long"),
    ({"lat": None, "long": None, "address_string": None}, "location is required"),
    ({"phone": "bukan nomor"}, "phone"),
    ({"email": "siti@"}, "email"),
    ({"media_url": "file:///etc/passwd"}, "media_url"),
])
def test_bad_fields_are_400(api, kanal, fmt, change, says):
    assert says in errors(post(api, fmt, **change), fmt, 400)
    assert count(kanal, InboxItem) == 0


def test_a_location_may_be_an_address_only(api, kanal):
    shown = created(api, lat=None, long=None)
    report = _report(kanal, shown)
    assert report.lat is None and report.address == ADDRESS
    (got,) = api.get(f"/open311/v2/requests/{shown}.json").json()
    assert got["lat"] is None and ADDRESS not in str(got)


def test_media_url_is_a_link_unless_its_host_is_allowed(open311_kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from tests.open311.conftest import ENV

    env = {**ENV, "KANAL_OPEN311_MEDIA_HOSTS": "media.example.go.id"}
    kanal = open311_kanal(env=env)
    with TestClient(create_app(kanal=kanal)) as c:
        link = created(c, media_url="https://elsewhere.example.com/a.jpg")
        fetched = created(c, media_url="https://media.example.go.id/foto/1.jpg")
    with kanal.engine.connect() as conn:
        jobs = conn.execute(select(MediaJob.__table__)).all()
        texts = {tracking.normalize(s): _text(conn, _report(kanal, s).id)
                 for s in (link, fetched)}
    assert [(j.channel, j.url) for j in jobs] == [
        ("open311", "https://media.example.go.id/foto/1.jpg")]
    assert texts[tracking.normalize(link)].endswith(
        "media_url: https://elsewhere.example.com/a.jpg")
    assert "media_url" not in texts[tracking.normalize(fetched)]


def test_status_open_and_closed(api, kanal, accounts):
    waiting, rejected, done = created(api), created(api), created(api)
    drive(kanal, accounts, tracking.normalize(rejected), "Ditolak")
    drive(kanal, accounts, tracking.normalize(done), "Selesai")
    got = {r["service_request_id"]: r for r in api.get("/open311/v2/requests.json").json()}
    assert {k: (r["status"], r["status_notes"]) for k, r in got.items()} == {
        waiting: ("open", "Menunggu"), rejected: ("closed", "Ditolak"),
        done: ("closed", "Selesai")}
    assert got[done]["agency_responsible"]
    assert got[done]["updated_datetime"] > got[done]["requested_datetime"]

    def ids(**params):
        return sorted(r["service_request_id"] for r in items(xml(api.get(
            "/open311/v2/requests.xml", params=params))))

    assert ids(status="open") == [waiting]
    assert ids(status="closed") == sorted([rejected, done])
    assert ids(status="open,closed") == sorted([waiting, rejected, done])
    errors(api.get("/open311/v2/requests.json", params={"status": "selesai"}), "json", 400)


def test_filters(api, kanal, clock):
    old = created(api, service_code="banjir")
    clock.now += timedelta(days=100)
    new = created(api)
    road = created(api, service_code="jalan-rusak")

    def ids(**params):
        response = api.get("/open311/v2/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [road, new]  # newest first, the last 90 days
    assert ids(service_code="sampah") == [new]
    assert ids(service_code="sampah,jalan-rusak") == [road, new]
    start = (clock.now - timedelta(days=101)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=start) == [old]
    assert ids(end_date=(clock.now - timedelta(days=50)).isoformat()) == [old]
    # service_request_id overrides every other filter
    assert ids(service_request_id=f"{old},{new},JK7Q-M4XA-9", service_code="jalan-rusak"
               ) == [new, old]
    for bad in ({"start_date": "kemarin"}, {"end_date": "2026-13-01"},
                {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
                {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}):
        errors(api.get("/open311/v2/requests.json", params=bad), "json", 400)


def test_the_list_is_capped_at_1000(api, kanal, monkeypatch):
    from adapters.open311 import reads

    monkeypatch.setattr(reads, "LIMIT", 2)
    for _ in range(3):
        created(api)
    assert len(api.get("/open311/v2/requests.json").json()) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_confidential_reports_never_appear(api, kanal, fmt):
    hidden, shown = created(api), created(api)
    with writing(kanal.engine) as conn:
        conn.execute(update(report_t).where(
            report_t.c.tracking_id == tracking.normalize(hidden)).values(confidential=True))
    errors(api.get(f"/open311/v2/requests/{hidden}.{fmt}"), fmt, 404)
    listed = api.get(f"/open311/v2/requests.{fmt}", params={"service_request_id": hidden})
    assert hidden not in listed.text
    assert hidden not in api.get(f"/open311/v2/requests.{fmt}").text
    assert shown in api.get(f"/open311/v2/requests.{fmt}").text


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_request_is_404(api, fmt):
    errors(api.get(f"/open311/v2/requests/JK7Q-M4XA-9.{fmt}"), fmt, 404)
    errors(api.get(f"/open311/v2/requests/bukan-nomor.{fmt}"), fmt, 404)




def test_fetch_media_refuses_a_host_off_the_list(open311_kanal):
    from core.canonical import MediaRef
    from core.remote import MediaRefused
    from tests.open311.conftest import ENV

    kanal = open311_kanal(env={**ENV, "KANAL_OPEN311_MEDIA_HOSTS": "media.example.go.id"})
    adapter = kanal.adapters["open311"]
    for url in ("https://169.254.169.254/latest", "http://media.example.go.id/a.jpg"):
        with pytest.raises(MediaRefused):
            adapter.fetch_media(MediaRef(url))

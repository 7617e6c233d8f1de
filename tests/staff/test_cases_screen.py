"""The officer screen (/staff/cases): the queue by SLA risk and its filters, the case page
with what the role may see and do, and every action form, through the real app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from core import caseview, staff, tracking
from core.db import writing
from core.errors import ApiError
from core.models import Report
from core.units import sync_units
from gateway.app import create_app
from tests.conftest import JAKI_KEY
from tests.staff.conftest import PASSWORD, csrf_of, sign_in
from tests.test_proof import exif, encode, scene

report_t = Report.__table__
WIB = ZoneInfo("Asia/Jakarta")
ALFA = (-6.205, 106.805)  # kelurahan 31.71.01.1001 Alfa, kota 31.71
DELTA = (-6.205, 106.835)  # kelurahan 31.72.01.1001 Delta Raya, kota 31.72
PHONE, EMAIL = "+6281234567789", "budi.santoso@contoh.id"
# officers: of kelurahan Alfa, of Delta Raya, of Dinas Bina Marga, of its sudin in 31.71
OFFICERS = [("kel1", "kelurahan-31.71.01.1001"), ("kel2", "kelurahan-31.72.01.1001"),
            ("bm", "dinas-bina-marga"), ("sbm", "sudin-bina-marga-31.71")]


@pytest.fixture
def screen(staff_kanal):
    sync_units(staff_kanal.engine, staff_kanal.settings)
    with writing(staff_kanal.engine) as conn:
        for username, unit in OFFICERS:
            staff.add(conn, username, PASSWORD, "officer", unit_id=unit)
    with TestClient(create_app(kanal=staff_kanal, run_workers=False),
                    follow_redirects=False) as client:
        yield staff_kanal, client


def report(client, external: str, point=ALFA, category="jalan-rusak",
           text="Jalan berlubang besar") -> str:
    r = client.post("/api/v1/jaki/reports", headers={"Authorization": f"Bearer {JAKI_KEY}"},
                    json={"external_id": external, "text": text, "category": category,
                          "location": {"lat": point[0], "lon": point[1]},
                          "reporter": {"app_user_id": f"u-{external}", "name": "Budi Santoso",
                                       "phone": PHONE, "email": EMAIL}})
    assert r.status_code == 201, r.text
    return tracking.normalize(r.json()["tracking_id"])


def set_due(kanal, compact: str, due: datetime | None) -> None:
    with writing(kanal.engine) as conn:
        conn.execute(update(report_t).where(report_t.c.tracking_id == compact)
                     .values(sla_due_at=due))


def case_row(kanal, compact: str):
    with kanal.engine.connect() as conn:
        return conn.execute(select(report_t).where(report_t.c.tracking_id == compact)).one()


def as_user(client, username: str) -> None:
    client.cookies.clear()
    assert sign_in(client, username).status_code == 303


def act(client, compact: str, action: str, files=None, **fields):
    page = client.get(f"/staff/cases/{compact}")
    assert page.status_code == 200, page.text
    data = {"csrf": csrf_of(page.text), "action": action, **fields}
    return client.post(f"/staff/cases/{compact}/actions", data=data, files=files)


def done(client, compact: str, action: str, files=None, *, away: bool = False, **fields):
    """The action taken; ``away``: it handed the case to another unit, and the officer
    is sent back to its queue."""
    r = act(client, compact, action, files=files, **fields)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == (f"/staff/cases?done={action}&case={compact}" if away
                                     else f"/staff/cases/{compact}?done={action}")
    return client.get(r.headers["location"])


def queue_ids(client, query: str = "") -> list[str]:
    page = client.get(f"/staff/cases{query}")
    assert page.status_code == 200, page.text
    return [part.split('"', 1)[0] for part in page.text.split('data-id="')[1:]]


def jpeg(seed: int, with_exif: bool) -> bytes:
    if not with_exif:
        return encode(scene(seed))
    taken = (datetime.now(UTC) + timedelta(minutes=1)).astimezone(WIB)
    return encode(scene(seed), exif_data=exif(taken=taken.strftime("%Y:%m:%d %H:%M:%S"),
                                              offset="+07:00", gps=ALFA))


def forms(html: str) -> set[str]:
    return {part.split('"', 1)[0] for part in html.split('id="form-')[1:]}


# -- the queue -------------------------------------------------------------------------


def test_queue_is_the_units_cases_by_sla_risk(screen):
    kanal, client = screen
    now = datetime.now(UTC)
    later, overdue, soon, no_clock = (report(client, f"q{i}") for i in range(4))
    other = report(client, "q-delta", point=DELTA)
    set_due(kanal, later, now + timedelta(days=3))
    set_due(kanal, overdue, now - timedelta(hours=2))
    set_due(kanal, soon, now + timedelta(hours=1))
    set_due(kanal, no_clock, None)
    as_user(client, "kel1")
    assert queue_ids(client) == [overdue, soon, later, no_clock]
    page = client.get("/staff/cases")
    card = page.text.split(f'data-id="{overdue}"')[1].split("</li>")[0]
    assert "terlambat" in card and "terlambat 2 jam" in card
    assert "sisa" in page.text.split(f'data-id="{soon}"')[1].split("</li>")[0]
    as_user(client, "kel2")
    assert queue_ids(client) == [other]
    as_user(client, "super1")
    assert set(queue_ids(client)) == {later, overdue, soon, no_clock, other}
    assert queue_ids(client, "?unit=kelurahan-31.72.01.1001") == [other]


def test_queue_filters(screen):
    kanal, client = screen
    road = report(client, "f1")
    trash = report(client, "f2", category="sampah", text="Sampah menumpuk")
    delta = report(client, "f3", point=DELTA)
    with writing(kanal.engine) as conn:
        conn.execute(update(report_t).where(report_t.c.tracking_id == trash).values(
            status="Proses", created_at=datetime(2026, 1, 5, 17, 30, tzinfo=UTC)))
    as_user(client, "super1")
    assert set(queue_ids(client, "?status=Menunggu")) == {road, delta}
    assert set(queue_ids(client, "?category=sampah")) == {trash}
    assert set(queue_ids(client, "?area=31.72")) == {delta}
    assert set(queue_ids(client, "?area=31.71.01.1001")) == {road, trash}
    assert set(queue_ids(client, "?area=31.71.01")) == {road, trash}
    assert set(queue_ids(client, "?channel=jaki")) == {road, trash, delta}
    assert queue_ids(client, "?channel=sms") == []
    # 17:30 UTC on the 5th is 00:30 WIB on the 6th: the days are Jakarta's
    assert set(queue_ids(client, "?since=2026-01-06&until=2026-01-06")) == {trash}
    assert queue_ids(client, "?since=2026-01-05&until=2026-01-05") == []
    assert trash not in queue_ids(client, "?since=2026-01-07")
    with writing(kanal.engine) as conn:
        conn.execute(update(report_t).where(report_t.c.tracking_id == road).values(
            status="Selesai"))
    assert road not in queue_ids(client)
    assert road in queue_ids(client, "?status=all")


@pytest.mark.parametrize("query, field", [("?since=kemarin", "since"), ("?area=31", "area"),
                                          ("?status=Hilang", "status")])
def test_a_bad_filter_is_refused_with_its_field(screen, query, field):
    _, client = screen
    as_user(client, "super1")
    page = client.get(f"/staff/cases{query}")
    assert page.status_code == 422
    assert 'data-error="invalid_field"' in page.text and field in page.text


def test_the_queue_function_for_the_api(screen):
    kanal, client = screen
    compact = report(client, "api1")
    with kanal.engine.connect() as conn:
        kel1 = staff.get(conn, "kel1")
        [row] = caseview.queue(conn, kel1)
        assert row.as_dict()["tracking_id"] == tracking.display(compact)
        assert row.as_dict()["due_at"].endswith("+07:00") and not row.overdue
        assert (row.unit_id, row.unit_name) == ("kelurahan-31.71.01.1001", "Kelurahan Alfa")
        with pytest.raises(ApiError) as refused:
            caseview.queue(conn, kel1, unit="dinas-bina-marga")
        assert refused.value.status_code == 403
        with pytest.raises(ApiError) as refused:
            caseview.queue(conn, staff.get(conn, "loket"))
        assert refused.value.status_code == 403
        with pytest.raises(ApiError) as refused:
            caseview.queue(conn, kel1, limit=0)
        assert refused.value.status_code == 422


def test_roles_without_a_queue_are_forbidden(screen):
    _, client = screen
    as_user(client, "loket")
    assert client.get("/staff/cases").status_code == 403
    assert "/staff/cases" not in client.get("/staff").text
    as_user(client, "admin1")
    assert client.get("/staff/cases").status_code == 200
    assert 'href="/staff/cases"' in client.get("/staff").text


# -- the case page ---------------------------------------------------------------------


def test_case_page_shows_allowed_actions_and_masks_handles_for_officers(screen):
    kanal, client = screen
    compact = report(client, "p1")
    as_user(client, "kel1")
    page = client.get(f"/staff/cases/{compact}")
    assert page.status_code == 200
    assert forms(page.text) == {"coordinate", "start", "reject", "note"}
    assert "Budi Santoso" in page.text and "Jalan berlubang besar" in page.text
    assert "+62812****789" in page.text and PHONE not in page.text
    assert "b***@contoh.id" in page.text and EMAIL not in page.text
    assert '<svg class="case-map"' in page.text and "<circle" in page.text
    assert "-6.205000, 106.805000" in page.text
    # the coordinate form proposes the category's dinas
    form = page.text.split('id="form-coordinate"')[1].split("</form>")[0]
    assert '<option value="dinas-bina-marga" selected>' in form
    as_user(client, "super1")
    page = client.get(f"/staff/cases/{compact}")
    assert PHONE in page.text and EMAIL in page.text
    assert forms(page.text) == {"coordinate", "reject", "note"}
    as_user(client, "admin1")
    page = client.get(f"/staff/cases/{compact}")
    assert page.status_code == 200 and forms(page.text) == set()


def test_an_officer_of_another_unit_cannot_open_the_case(screen):
    _, client = screen
    compact = report(client, "p2")
    as_user(client, "kel2")
    page = client.get(f"/staff/cases/{compact}")
    assert page.status_code == 403 and 'data-error="not_allowed"' in page.text
    assert "Budi Santoso" not in page.text
    assert client.get("/staff/cases/JK7Q-M4XA-0").status_code == 404


# -- the actions -----------------------------------------------------------------------


def test_coordinate_dispose_start_ews_resolve_verify(screen):
    kanal, client = screen
    compact = report(client, "a1")
    as_user(client, "kel1")
    page = done(client, compact, "coordinate", away=True, unit="dinas-bina-marga",
                reason="butuh alat")
    assert 'data-done="coordinate"' in page.text and tracking.display(compact) in page.text
    assert (case_row(kanal, compact).status, case_row(kanal, compact).unit_id) == (
        "Koordinasi", "dinas-bina-marga")
    assert compact not in queue_ids(client)
    assert client.get(f"/staff/cases/{compact}").status_code == 403
    as_user(client, "bm")
    assert compact in queue_ids(client)
    page = client.get(f"/staff/cases/{compact}")
    assert "butuh alat" in page.text  # the internal note, for staff
    form = page.text.split('id="form-dispose"')[1].split("</form>")[0]
    assert '<option value="sudin-bina-marga-31.71" selected>' in form
    done(client, compact, "dispose", away=True, unit="sudin-bina-marga-31.71")
    as_user(client, "sbm")
    assert compact in queue_ids(client)
    page = done(client, compact, "start")
    assert case_row(kanal, compact).status == "Proses"
    assert forms(page.text) == {"ews", "reject", "resolve", "note"}
    assert 'capture="environment"' in page.text and 'accept="image/*"' in page.text
    due = (datetime.now(WIB) + timedelta(days=20)).date().isoformat()
    done(client, compact, "ews", due=due, reason="menunggu aspal")
    assert case_row(kanal, compact).status == "EWS"
    done(client, compact, "resolve", reason="sudah ditambal",
         files=[("photos", ("bukti.jpg", jpeg(1, with_exif=True), "image/jpeg"))])
    assert case_row(kanal, compact).status == "Menunggu Verifikasi"
    as_user(client, "super1")
    page = client.get(f"/staff/cases/{compact}")
    assert forms(page.text) == {"verify", "return", "note"}
    [photo_url] = {p.split('"', 1)[0] for p in page.text.split('<img src="')[1:]
                   if p.startswith("/staff/cases/")}
    assert 'data-code="no_exif"' not in page.text
    served = client.get(photo_url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    done(client, compact, "verify")
    assert case_row(kanal, compact).status == "Selesai"
    as_user(client, "kel2")
    assert client.get(photo_url).status_code == 403


def test_resolve_without_exif_is_marked_a_reused_photo_flagged_and_returned(screen):
    kanal, client = screen
    first, second = report(client, "r1"), report(client, "r2")
    as_user(client, "kel1")
    for compact in (first, second):
        done(client, compact, "start")
    done(client, first, "resolve",
         files=[("photos", ("a.jpg", jpeg(7, with_exif=False), "image/jpeg"))])
    done(client, second, "resolve",
         files=[("photos", ("b.jpg", jpeg(7, with_exif=False), "image/jpeg"))])
    as_user(client, "super1")
    page = client.get(f"/staff/cases/{first}")
    assert 'data-code="no_exif"' in page.text and "Tanpa EXIF" in page.text
    assert 'data-code="reused_photo"' not in page.text
    page = client.get(f"/staff/cases/{second}")
    assert 'data-code="reused_photo"' in page.text
    assert f"mirip foto bukti laporan {tracking.display(first)}" in page.text
    page = done(client, second, "return", reason="foto sama dengan laporan lain")
    assert case_row(kanal, second).status == "Proses"
    assert "foto sama dengan laporan lain" in page.text


def test_reject_and_a_note_to_the_citizen(screen):
    kanal, client = screen
    compact = report(client, "n1")
    as_user(client, "kel1")
    page = done(client, compact, "note", reason="Petugas akan datang besok pagi")
    assert "Pesan dikirim ke pelapor" in page.text
    assert "Petugas akan datang besok pagi" in page.text  # the timeline's staff detail
    assert case_row(kanal, compact).status == "Menunggu"
    page = done(client, compact, "reject", reason="Bukan pengaduan")
    assert case_row(kanal, compact).status == "Ditolak"
    assert "Ditolak: Bukan pengaduan" in page.text and forms(page.text) == {"note"}


REFUSALS = [
    # (id, user, action, fields, status, error)
    ("ews-from-menunggu", "kel1", "ews", {"due": "2099-01-01", "reason": "x"}, 409,
     "wrong_status"),
    ("verify-by-an-officer", "kel1", "verify", {}, 403, "not_allowed"),
    ("start-by-a-supervisor", "super1", "start", {}, 403, "not_allowed"),
    ("reject-without-reason", "kel1", "reject", {}, 422, "missing_field"),
    ("coordinate-to-a-kelurahan", "kel1", "coordinate", {"unit": "kelurahan-31.72.01.1001"},
     422, "invalid_field"),
    ("unknown-action", "kel1", "bakar", {}, 422, "unknown_action"),
]


@pytest.mark.parametrize("user, action, fields, status, error", [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_a_refused_action_rerenders_with_its_reason(screen, user, action, fields, status,
                                                    error):
    kanal, client = screen
    compact = report(client, "x1")
    as_user(client, user)
    r = act(client, compact, action, **fields)
    assert r.status_code == status
    assert f'data-error="{error}"' in r.text and 'id="status"' in r.text
    assert case_row(kanal, compact).status == "Menunggu"


PROOF_REFUSALS = [
    ("no-photo", None, 422, "missing_field"),
    ("not-an-image", [("photos", ("x.jpg", b"bukan foto sama sekali", "image/jpeg"))], 415,
     "photo_wrong_type"),
    ("too-many", [("photos", (f"{i}.jpg", jpeg(i, False), "image/jpeg")) for i in range(6)],
     422, "too_many_photos"),
]


@pytest.mark.parametrize("files, status, error", [r[1:] for r in PROOF_REFUSALS],
                         ids=[r[0] for r in PROOF_REFUSALS])
def test_a_refused_resolution_keeps_the_case(screen, files, status, error):
    kanal, client = screen
    compact = report(client, "x2")
    as_user(client, "kel1")
    done(client, compact, "start")
    r = act(client, compact, "resolve", files=files, reason="catatan saya")
    assert r.status_code == status and f'data-error="{error}"' in r.text
    assert "catatan saya" in r.text  # what was typed is kept
    assert case_row(kanal, compact).status == "Proses"


def test_a_photo_taken_before_the_report_is_refused(screen):
    kanal, client = screen
    compact = report(client, "x3")
    as_user(client, "kel1")
    done(client, compact, "start")
    old = encode(scene(3), exif_data=exif(taken="2020:01:01 10:00:00", offset="+07:00",
                                          gps=ALFA))
    r = act(client, compact, "resolve", files=[("photos", ("lama.jpg", old, "image/jpeg"))])
    assert r.status_code == 422 and 'data-error="photo_refused"' in r.text
    assert "lama.jpg: Foto diambil sebelum laporan dibuat." in r.text
    assert case_row(kanal, compact).status == "Proses"


def test_csrf_refusal(screen):
    kanal, client = screen
    compact = report(client, "c1")
    as_user(client, "kel1")
    r = client.post(f"/staff/cases/{compact}/actions",
                    data={"csrf": "palsu", "action": "start"})
    assert r.status_code == 403 and 'data-error="csrf"' in r.text
    assert case_row(kanal, compact).status == "Menunggu"


def test_a_case_escalated_to_the_unit_is_in_its_queue_with_a_badge(screen):
    kanal, client = screen
    late = report(client, "e1", point=DELTA)
    with writing(kanal.engine) as conn:
        conn.execute(update(report_t).where(report_t.c.tracking_id == late).values(
            escalated_unit_id="kelurahan-31.71.01.1001",
            sla_due_at=datetime.now(UTC) - timedelta(days=1)))
    as_user(client, "kel1")
    assert queue_ids(client) == [late]
    card = client.get("/staff/cases").text.split(f'data-id="{late}"')[1].split("</li>")[0]
    assert "eskalasi" in card and "terlambat 1 hari" in card
    page = client.get(f"/staff/cases/{late}")
    assert page.status_code == 200 and "start" in forms(page.text)

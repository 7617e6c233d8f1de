"""The case state machine (core/cases.py): every action, from every status, by every kind
of account, through the real ``Kanal.act_on_case``; then the whole path, the clocks, the
public timeline and the refusals of each action."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core import reports, tracking
from core.cases import ActionRequest
from core.errors import ApiError
from core.models import CaseEvent, ProofPhoto
from gateway.app import create_app
from tests.casework import (  # noqa: F401 (accounts, clock, kanal: fixtures)
    DINAS, KECAMATAN, KELURAHAN, OTHER_DINAS, OTHER_SUDIN, PATH, START, SUDIN, accounts, case,
    clock, drive, kanal, proof, report_in_alfa, request,
)

UTC = timezone.utc
event_t = CaseEvent.__table__
proof_t = ProofPhoto.__table__

# written out here, not read from core.cases, so that a change there must change this too
FROM = {
    "coordinate": {"Menunggu", "Koordinasi", "Proses"},
    "dispose": {"Koordinasi"},
    "start": {"Menunggu", "Koordinasi", "Disposisi"},
    "ews": {"Proses"},
    "reject": {"Menunggu", "Koordinasi", "Disposisi", "Proses", "EWS"},
    "resolve": {"Proses", "EWS"},
    "verify": {"Menunggu Verifikasi"},
    "return": {"Menunggu Verifikasi"},
    "note": set(PATH),
}
AREA = {"coordinate", "start", "ews", "reject", "resolve", "note"}
MAY = {  # what each kind of account may do on a case its unit holds
    "kelurahan": AREA, "dinas": AREA | {"dispose"},
    "sudin": {"start", "ews", "reject", "resolve", "note"},
    "supervisor": {"coordinate", "dispose", "reject", "verify", "return", "note"},
}
HOLDER = {  # who holds the case in each status of tests.casework.PATH
    "Menunggu": ("lurah", "kelurahan"), "Koordinasi": ("binamarga", "dinas"),
    "Disposisi": ("sudinbm", "sudin"), "Proses": ("sudinbm", "sudin"),
    "EWS": ("sudinbm", "sudin"), "Menunggu Verifikasi": ("sudinbm", "sudin"),
    "Selesai": ("sudinbm", "sudin"), "Ditolak": ("lurah", "kelurahan"),
}
FIELDS = {
    "coordinate": {"unit": OTHER_DINAS}, "dispose": {"unit": SUDIN}, "start": {},
    "ews": {"due": "2099-06-30", "reason": "Menunggu anggaran"},
    "reject": {"reason": "Duplikat"}, "resolve": {"proof": True}, "verify": {},
    "return": {"reason": "Foto tidak menunjukkan lokasi"}, "note": {"reason": "Terima kasih"},
}
TO = {"coordinate": "Koordinasi", "dispose": "Disposisi", "start": "Proses", "ews": "EWS",
      "reject": "Ditolak", "resolve": "Menunggu Verifikasi", "verify": "Selesai",
      "return": "Proses"}


def attempt(kanal, account, compact, action) -> tuple[int, str]:
    """(status code, new status or error) of one action, rolled back afterwards."""
    with kanal.engine.connect() as conn:
        trans = conn.begin()
        try:
            out = kanal.cases.act(conn, account, compact, request(action, FIELDS[action]),
                                  kanal.clock())
            return 200, out.status
        except ApiError as exc:
            return exc.status_code, exc.error
        finally:
            trans.rollback()


@pytest.mark.parametrize("status", list(PATH))
def test_every_action_by_every_account_from_each_status(kanal, accounts, clock, status):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, status)
    holder, kind = HOLDER[status]
    wrong = []
    for name in ("lurah", "lurah2", "binamarga", "sudinbm", "sudinsda", "verifikator",
                 "admin", "operator"):
        for action in FROM:
            if name == holder:
                allowed = action in MAY[kind]
            elif name == "verifikator":
                allowed = action in MAY["supervisor"]
            else:
                allowed = False
            expected = ((403, "not_allowed") if not allowed
                        else (409, "wrong_status") if status not in FROM[action]
                        else (200, TO.get(action, status)))
            got = attempt(kanal, accounts[name], compact, action)
            if got != expected:
                wrong.append(f"{name} {action} from {status}: {got}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_the_whole_path_with_its_clocks_and_public_timeline(kanal, accounts, clock):
    compact = report_in_alfa(kanal)
    new = case(kanal, compact)
    assert (new.status, new.unit_id, new.sla_clock) == ("Menunggu", KELURAHAN,
                                                        "first_response")
    assert new.sla_due_at.replace(tzinfo=UTC) == START + timedelta(hours=24)

    drive(kanal, accounts, compact, "Koordinasi")
    c = case(kanal, compact)
    assert (c.unit_id, c.sla_clock) == (DINAS, "hop")
    assert c.first_response_at is not None
    # three working days from Tuesday 09:05 WIB: Wednesday, Thursday, Friday
    assert c.sla_due_at.replace(tzinfo=UTC) == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)

    clock.now += timedelta(hours=1)
    # the dinas disposes without naming the sudin: the one of its kota
    kanal.act_on_case(accounts["binamarga"], compact, ActionRequest("dispose"))
    assert (case(kanal, compact).status, case(kanal, compact).unit_id) == ("Disposisi", SUDIN)
    clock.now += timedelta(hours=1)
    kanal.act_on_case(accounts["sudinbm"], compact, ActionRequest("start"))
    c = case(kanal, compact)
    assert (c.sla_clock, c.assignee_id) == ("resolution", accounts["sudinbm"].id)
    assert c.resolution_due_at == c.sla_due_at
    clock.now += timedelta(days=1)
    out = kanal.act_on_case(accounts["sudinbm"], compact,
                            ActionRequest("resolve", reason="Sudah ditambal",
                                          photos=[proof()]))
    assert out.status == "Menunggu Verifikasi"
    assert [f["code"] for f in out.findings[0]["findings"]] == ["no_exif"]
    assert case(kanal, compact).sla_clock is None
    clock.now += timedelta(hours=2)
    kanal.act_on_case(accounts["verifikator"], compact, ActionRequest("verify"))
    c = case(kanal, compact)
    assert (c.status, c.sla_clock, c.closed_at is not None) == ("Selesai", None, True)

    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        view = client.get(f"/api/v1/reports/{tracking.display(compact)}").json()
        assert view["status"] == "Selesai"
        assert view["unit"]["id"] == SUDIN
        steps = [(t["kind"], t["status"]) for t in view["timeline"]]
        assert steps == [("received", "Menunggu"), ("opened", "Menunggu"),
                         ("coordinate", "Koordinasi"), ("dispose", "Disposisi"),
                         ("start", "Proses"), ("resolve", "Menunggu Verifikasi"),
                         ("verify", "Selesai")]
        assert view["timeline"][2]["unit"]["name"] == "Dinas Bina Marga"
        text = client.get(f"/lacak/{tracking.display(compact)}").text
        assert "ptg-" not in str(view) and "ptg-" not in text  # no officer in public
        [photo] = view["proof_photos"]
        served = client.get(photo["url"])
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert "Foto bukti penanganan" in text
    # the staff view (kanal report show) has the same status and timeline
    with kanal.engine.connect() as conn:
        staff_view = reports.staff_report(conn, compact)
    assert staff_view["status"] == view["status"]
    assert staff_view["timeline"] == view["timeline"]
    with kanal.engine.connect() as conn:
        actors = [r.actor for r in conn.execute(select(event_t.c.actor).where(
            event_t.c.kind.in_(list(TO))).order_by(event_t.c.id))]
    assert actors == ["ptg-lurah", "ptg-binamarga", "ptg-sudinbm", "ptg-sudinbm",
                      "ptg-verifikator"]


def test_an_escalated_case_may_be_worked_by_the_unit_above(kanal, accounts):
    compact = report_in_alfa(kanal)
    assert attempt(kanal, accounts["camat"], compact, "start")[0] == 403
    from core.db import writing
    from core.models import Report
    with writing(kanal.engine) as conn:
        conn.execute(Report.__table__.update().values(escalated_unit_id=KECAMATAN))
    assert attempt(kanal, accounts["camat"], compact, "start") == (200, "Proses")
    # a transition ends the escalation: the new clock is the holder's again
    kanal.act_on_case(accounts["lurah"], compact, ActionRequest("start"))
    assert case(kanal, compact).escalated_unit_id is None


def test_a_return_resumes_the_resolution_clock_and_hides_the_proof(kanal, accounts, clock):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, "Menunggu Verifikasi")
    due = case(kanal, compact).resolution_due_at
    clock.now += timedelta(hours=3)
    kanal.act_on_case(accounts["verifikator"], compact,
                      ActionRequest("return", reason="Lubang masih terlihat"))
    c = case(kanal, compact)
    assert (c.status, c.sla_clock, c.sla_due_at, c.resolved_at) == (
        "Proses", "resolution", due, None)
    with kanal.engine.connect() as conn:
        view = reports.public_report(conn, compact)
        [event] = conn.execute(select(event_t).where(event_t.c.kind == "return")).all()
    assert view["proof_photos"] == []
    assert "Lubang" not in str(view)  # the verifier's reason is for the officer
    assert event.detail == "Lubang masih terlihat" and event.public


def test_ews_sets_the_estimated_date_as_the_deadline(kanal, accounts):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, "EWS")
    c = case(kanal, compact)
    assert c.sla_clock == "ews"
    assert c.sla_due_at.replace(tzinfo=UTC) == datetime(2099, 12, 24, 9, 0, tzinfo=UTC)
    with kanal.engine.connect() as conn:
        view = reports.public_report(conn, compact)
    assert view["timeline"][-1]["note"] == ("Perkiraan selesai 24-12-2099: Perlu pengaspalan "
                                            "ulang")


def test_a_rejection_gives_the_citizen_its_reason(kanal, accounts):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, "Ditolak")
    with kanal.engine.connect() as conn:
        view = reports.public_report(conn, compact)
    assert view["status"] == "Ditolak"
    assert view["timeline"][-1]["note"] == "Ditolak: Bukan kewenangan Pemprov DKI"


REFUSALS = [
    ("Menunggu", "lurah", ActionRequest("coordinate", unit=SUDIN), "invalid_field", "unit"),
    ("Menunggu", "lurah", ActionRequest("coordinate", unit="dinas-tidak-ada"),
     "invalid_field", "unit"),
    ("Menunggu", "lurah", ActionRequest("coordinate", unit=KELURAHAN), "invalid_field", "unit"),
    ("Koordinasi", "binamarga", ActionRequest("coordinate", unit=DINAS), "invalid_field",
     "unit"),
    ("Koordinasi", "binamarga", ActionRequest("dispose", unit=OTHER_SUDIN), "invalid_field",
     "unit"),
    ("Koordinasi", "binamarga", ActionRequest("dispose", unit=OTHER_DINAS), "invalid_field",
     "unit"),
    ("Proses", "sudinbm", ActionRequest("ews", reason="Lama"), "missing_field", "due"),
    ("Proses", "sudinbm", ActionRequest("ews", due="2020-01-01", reason="Lama"),
     "invalid_field", "due"),
    ("Proses", "sudinbm", ActionRequest("ews", due="besok", reason="Lama"), "invalid_field",
     "due"),
    ("Proses", "sudinbm", ActionRequest("ews", due="2099-01-01"), "missing_field", "reason"),
    ("Menunggu", "lurah", ActionRequest("reject", reason="  "), "missing_field", "reason"),
    ("Proses", "sudinbm", ActionRequest("resolve", reason="Beres"), "missing_field", "photos"),
    ("Proses", "sudinbm", ActionRequest("resolve", photos=[proof(taken="2020:01:01 10:00:00")]),
     "photo_refused", "photos"),
    ("Proses", "sudinbm", ActionRequest("resolve", photos=[proof(gps=(-6.30, 106.90))]),
     "photo_refused", "photos"),
    ("Proses", "sudinbm", ActionRequest("resolve", photos=[proof(seed=i) for i in range(6)]),
     "too_many_photos", "photos"),
    ("Menunggu Verifikasi", "verifikator", ActionRequest("return"), "missing_field", "reason"),
    ("Menunggu", "lurah", ActionRequest("note"), "missing_field", "reason"),
    ("Menunggu", "lurah", ActionRequest("reject", reason="x" * 2001), "invalid_field",
     "reason"),
    ("Menunggu", "lurah", ActionRequest("terbang"), "unknown_action", "action"),
]


@pytest.mark.parametrize(("status", "who", "req", "error", "field"), REFUSALS,
                         ids=[f"{r[1]}-{r[2].action}-{r[3]}-{i}"
                              for i, r in enumerate(REFUSALS)])
def test_each_refusal_is_a_422_with_its_field_and_writes_nothing(
        kanal, accounts, status, who, req, error, field):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, status)
    before = case(kanal, compact)
    with pytest.raises(ApiError) as caught:
        kanal.act_on_case(accounts[who], compact, req)
    assert (caught.value.status_code, caught.value.error) == (422, error)
    assert caught.value.extra["field"] == field
    assert case(kanal, compact) == before
    with kanal.engine.connect() as conn:
        assert conn.execute(select(proof_t.c.id)).all() == [] or status != "Proses"


def test_an_unknown_case_is_a_404(kanal, accounts):
    with pytest.raises(ApiError) as caught:
        kanal.act_on_case(accounts["lurah"], "JK7QM4XA9", ActionRequest("start"))
    assert caught.value.status_code == 404


def test_a_reused_proof_photo_is_flagged_with_the_first_case(kanal, accounts, clock):
    from PIL import Image
    from io import BytesIO
    from core.uploads import CheckedUpload, Upload
    from tests.test_proof import scene

    first, second = report_in_alfa(kanal), report_in_alfa(kanal, "Jalan rusak lagi")
    for compact in (first, second):
        drive(kanal, accounts, compact, "Proses")
    original = BytesIO()
    scene(42).save(original, "JPEG", quality=92)
    kanal.act_on_case(accounts["sudinbm"], first, ActionRequest(
        "resolve", photos=[CheckedUpload(Upload("a.jpg", original.getvalue()), "image/jpeg")]))
    smaller = BytesIO()
    Image.open(BytesIO(original.getvalue())).resize((320, 240)).save(smaller, "JPEG",
                                                                       quality=60)
    out = kanal.act_on_case(accounts["sudinbm"], second, ActionRequest(
        "resolve", photos=[CheckedUpload(Upload("b.jpg", smaller.getvalue()), "image/jpeg")]))
    assert out.status == "Menunggu Verifikasi"  # a reuse does not block
    reused = [f for f in out.findings[0]["findings"] if f["code"] == "reused_photo"]
    assert reused and reused[0]["case_ref"] == tracking.display(first)
    with kanal.engine.connect() as conn:
        kept = conn.execute(select(proof_t.c.findings).join(
            reports.report_t, reports.report_t.c.id == proof_t.c.report_id).where(
            reports.report_t.c.tracking_id == second)).scalar_one()
    assert "reused_photo" in [f["code"] for f in kept]

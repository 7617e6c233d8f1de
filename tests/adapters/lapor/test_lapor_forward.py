"""The reverse direction: a supervisor forwards a report of another channel to LAPOR!, on
the case page or with ``kanal cases forward``; the outbox posts it once, and the tracking
ID LAPOR! answers is kept on the report (docs/lapor.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from core import tracking
from core.errors import ApiError
from core.db import writing
from core.models import AuditEvent, CaseEvent, OutboxItem, ReporterIdentity
from gateway.app import create_app
from tests.adapters.lapor.conftest import drain
from tests.casework import PASSWORD, case, report_in_alfa, set_up
from tests.staff.conftest import csrf_of, sign_in

event_t = CaseEvent.__table__


@pytest.fixture
def forwarding(lapor_kanal):
    kanal = lapor_kanal(forward=True)
    return kanal, set_up(kanal)


def forward_items(kanal):
    with kanal.engine.connect() as conn:
        return conn.execute(select(OutboxItem.__table__).where(
            OutboxItem.__table__.c.kind == "forward")).all()


def test_a_supervisor_forwards_from_the_case_page_and_the_lapor_id_is_kept(
        forwarding, standin):
    kanal, _ = forwarding
    compact = report_in_alfa(kanal, "Pungutan liar di kantor pajak pusat")
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        sign_in(client, "ptg-verifikator", PASSWORD)
        page = client.get(f"/staff/cases/{compact}")
        assert 'id="form-forward-lapor"' in page.text
        answer = client.post(f"/staff/cases/{compact}/forward",
                             data={"csrf": csrf_of(page.text), "channel": "lapor"})
        assert answer.status_code == 303
        assert drain(kanal) >= 1
        [created] = standin.created
        assert created["isi"] == "Pungutan liar di kantor pajak pusat"
        assert created["anonim"] is True and not created.get("pelapor")
        row = case(kanal, compact)
        assert row.external_ref == created["tracking_id"]
        assert row.status == "Menunggu"  # the case stays where it was
        page = client.get(f"/staff/cases/{compact}")
        assert f"Nomor di LAPOR!: {created['tracking_id']}" in page.text
        assert 'id="form-forward-lapor"' not in page.text  # once only
        public = client.get(f"/api/v1/reports/{tracking.display(compact)}").json()
        assert any(t["kind"] == "forwarded" and created["tracking_id"] in t["note"]
                   for t in public["timeline"])
    with kanal.engine.connect() as conn:
        audit = conn.execute(select(AuditEvent.__table__).where(
            AuditEvent.__table__.c.action == "forward")).one()
    assert (audit.actor, audit.channel, audit.new_value) == ("ptg-verifikator", "lapor",
                                                            compact)


def test_forwarding_twice_or_a_lapor_report_is_refused_with_the_reason(forwarding, standin):
    kanal, _ = forwarding
    compact = report_in_alfa(kanal)
    kanal.forward_report("ptg-verifikator", "supervisor", compact, "lapor")
    with pytest.raises(ApiError) as twice:
        kanal.forward_report("ptg-verifikator", "supervisor", compact, "lapor")
    assert twice.value.status_code == 409 and "already" in twice.value.reason
    standin.add(judul="Jalan rusak", isi="Jalan rusak parah",
                lokasi={"lat": -6.205, "lon": 106.805, "alamat": "Jl. Alfa"})
    kanal.poll_channel("lapor")
    with kanal.engine.connect() as conn:
        from core.models import Report
        own = conn.execute(select(Report.__table__.c.tracking_id).where(
            Report.__table__.c.channel == "lapor")).scalar_one()
    with pytest.raises(ApiError) as back:
        kanal.forward_report("ptg-verifikator", "supervisor", own, "lapor")
    assert back.value.status_code == 409 and "came from lapor" in back.value.reason
    assert len(forward_items(kanal)) == 1


def test_only_supervisors_forward(forwarding):
    kanal, accounts = forwarding
    compact = report_in_alfa(kanal)
    with pytest.raises(ApiError) as refused:
        kanal.forward_report("ptg-lurah", "officer", compact, "lapor")
    assert refused.value.status_code == 403
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        sign_in(client, "ptg-lurah", PASSWORD)
        page = client.get(f"/staff/cases/{compact}")
        assert page.status_code == 200 and "form-forward" not in page.text
        answer = client.post(f"/staff/cases/{compact}/forward",
                             data={"csrf": csrf_of(page.text), "channel": "lapor"})
        assert answer.status_code == 403
    assert forward_items(kanal) == []


def test_not_offered_unless_the_deployment_forwards(lapor_kanal):
    kanal = lapor_kanal()  # KANAL_LAPOR_FORWARD unset: false
    set_up(kanal)
    compact = report_in_alfa(kanal)
    with pytest.raises(ApiError) as refused:
        kanal.forward_report("ptg-verifikator", "supervisor", compact, "lapor")
    assert refused.value.status_code == 409 and "does not forward" in refused.value.reason


def test_a_forward_retried_after_a_timeout_creates_one_complaint(lapor_kanal, standin):
    kanal = lapor_kanal(forward=True, request_timeout_seconds=0.5)
    set_up(kanal)
    compact = report_in_alfa(kanal)
    kanal.forward_report("ptg-verifikator", "supervisor", compact, "lapor")
    standin.stall(2, kind="create")
    drain(kanal)
    assert len(standin.created) == 1 and case(kanal, compact).external_ref is None
    kanal.clock.now += timedelta(hours=1)
    drain(kanal)
    [item] = forward_items(kanal)
    assert item.status == "sent" and len(standin.created) == 1
    assert case(kanal, compact).external_ref == standin.created[0]["tracking_id"]
    with kanal.engine.connect() as conn:
        events = conn.execute(select(event_t.c.kind).where(
            event_t.c.kind == "forwarded")).all()
    assert len(events) == 1


def test_the_reporter_goes_along_only_when_the_deployment_says_so(lapor_kanal, standin):
    kanal = lapor_kanal(forward=True, forward_reporter_contact=True)
    set_up(kanal)
    compact = report_in_alfa(kanal, name="Budi Santoso")
    with writing(kanal.engine) as conn:  # the reporter is also known by a phone number
        conn.execute(insert(ReporterIdentity.__table__).values(
            reporter_id=case(kanal, compact).reporter_id, kind="phone",
            handle="+6281234567789", channel="sms", created_at=kanal.clock()))
    kanal.forward_report("ptg-verifikator", "supervisor", compact, "lapor")
    drain(kanal)
    [created] = standin.created
    assert created["anonim"] is False
    assert created["pelapor"] == {"nama": "Budi Santoso", "telepon": "+6281234567789",
                                  "email": None}


def test_the_cli_forwards_like_the_page(lapor_kanal, standin, settings, contract):
    from tests.adapters.lapor.conftest import lapor_env
    from tests.test_cli import run_kanal

    kanal = lapor_kanal(forward=True)
    compact = report_in_alfa(kanal)
    env = {**lapor_env(standin, contract[1]), "KANAL_LAPOR_FORWARD": "true",
           "KANAL_DATABASE_URL": kanal.settings.database_url,
           "KANAL_CONFIG": str(kanal.settings.config),
           "KANAL_DATA_DIR": str(kanal.settings.data_dir)}
    result = run_kanal("cases", "forward", tracking.display(compact), env=env)
    assert result.returncode == 0, result.stderr
    assert "queued for lapor" in result.stdout
    again = run_kanal("cases", "forward", tracking.display(compact), env=env)
    assert again.returncode == 2 and "already" in again.stderr
    [item] = forward_items(kanal)
    assert item.status == "pending"

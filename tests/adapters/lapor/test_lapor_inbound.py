"""Complaints in from the LAPOR! list: pages and the cursor, repeats and changes, anonymous
and confidential complaints, other agencies' and broken items. Each test runs with the
default names and with the renamed contract (conftest ``contract``)."""

from __future__ import annotations

import json

import pytest

from core.health import get_cursor
from core import tracking
from core.models import Attachment, InboxItem, MediaJob, Message, Report
from tests.adapters.lapor.flows import (
    CHANNEL, add_alfa, inbox, messages, outbox, poll_in, report_of, reports, rows, statuses,
)
from tests.casework import KELURAHAN
from tests.helpers import count, drain


def test_a_page_of_three_becomes_three_routed_reports_each_acknowledged_once(
        lapor_kanal, standin, contract):
    kanal = lapor_kanal()
    ids = [add_alfa(standin, judul=f"Jalan rusak {i}") for i in range(3)]
    assert kanal.poll_channel(CHANNEL) == 3
    assert sorted(i.external_id for i in inbox(kanal)) == sorted(ids)
    for lapor_id in ids:
        report = report_of(kanal, lapor_id)
        assert report.unit_id == KELURAHAN and report.official_channel == "lapor-1708"
    assert drain(kanal) == 3
    for lapor_id in ids:
        [ack] = standin.follow_ups_for(lapor_id)
        report = report_of(kanal, lapor_id)
        assert ack["status"] == statuses(contract)["Menunggu"]
        assert ack["id"].startswith(tracking.display(report.tracking_id) + "-")
        assert tracking.display(report.tracking_id) in ack["isi"]
    assert {o.recipient for o in outbox(kanal)} == set(ids)
    assert {o.status for o in outbox(kanal)} == {"sent"}


def test_two_pages_of_five_and_the_stored_cursor_then_nothing_new(
        lapor_kanal, standin, contract):
    kanal = lapor_kanal()
    standin.page_size = 2
    ids = [add_alfa(standin, judul=f"Banjir {i}") for i in range(5)]
    assert kanal.poll_channel(CHANNEL) == 5
    assert sorted(r.external_ref for r in reports(kanal)) == ids
    lists = standin.calls_of("list")
    page_param = standin.names["query"]["halaman"]
    assert [c["query"][page_param] for c in lists] == ["1", "2", "3"]
    with kanal.engine.connect() as conn:
        cursor = json.loads(get_cursor(conn, CHANNEL))
    assert cursor == {"since": f"c{standin.seq_of(ids[-1])}"}
    assert kanal.poll_channel(CHANNEL) == 0
    since_param = standin.names["query"]["sejak"]
    assert standin.calls_of("list")[-1]["query"][since_param] == cursor["since"]
    assert len(reports(kanal)) == 5 and len(inbox(kanal)) == 5


def test_a_repeat_of_the_same_complaint_adds_nothing(lapor_kanal, standin):
    kanal = lapor_kanal()
    lapor_id, report = poll_in(kanal, standin)
    assert len(standin.follow_ups_for(lapor_id)) == 1  # the ack bumped the complaint
    assert kanal.poll_channel(CHANNEL) == 1  # listed again after kanal's own follow-up
    standin.touch(lapor_id)
    kanal.poll_channel(CHANNEL)
    assert [i.external_id for i in inbox(kanal)] == [lapor_id]
    assert len(reports(kanal)) == 1 and len(messages(kanal, report.id)) == 1
    assert drain(kanal) == 0
    assert len(standin.follow_ups_for(lapor_id)) == 1 and len(outbox(kanal)) == 1


def test_a_changed_complaint_is_a_follow_up_with_what_was_added_and_its_new_file(
        lapor_kanal, standin):
    from tests.test_proof import photo

    kanal = lapor_kanal()
    first = "Jalan berlubang di depan sekolah."
    lapor_id, report = poll_in(kanal, standin, isi=first)
    url = standin.add_file("lubang.jpg", photo(3))
    standin.change(lapor_id, isi=first + " Sekarang sudah dua lubang.",
                   lampiran=[{"url": url, "tipe": "image/jpeg"}])
    kanal.poll_channel(CHANNEL)
    assert len(reports(kanal)) == 1
    keys = [i.external_id for i in inbox(kanal)]
    assert keys[0] == lapor_id and len(keys) == 2 and keys[1].startswith(lapor_id + "~")
    original, added = messages(kanal, report.id)
    assert original.kind == "complaint" and added.kind == "follow_up"
    assert added.text == "Sekarang sudah dua lubang."
    [job] = rows(kanal, MediaJob, MediaJob.__table__.c.report_id == report.id)
    assert job.url == url and job.message_id == added.id and job.status == "pending"
    assert kanal.media.run_once() == 1
    [job] = rows(kanal, MediaJob, MediaJob.__table__.c.report_id == report.id)
    assert job.status == "done", job.last_error
    [attachment] = rows(kanal, Attachment, Attachment.__table__.c.id == job.attachment_id)
    assert attachment.message_id == added.id and attachment.media_type == "image/jpeg"
    assert attachment.source_url == url
    # the same revision listed again (kanal's answer moves it) is taken once
    drain(kanal)
    kanal.poll_channel(CHANNEL)
    assert len(inbox(kanal)) == 2 and len(messages(kanal, report.id)) == 2


def test_an_anonymous_complaint_keeps_no_trace_of_the_reporter(lapor_kanal, standin):
    from core.models import Reporter, ReporterIdentity

    kanal = lapor_kanal()
    lapor_id, report = poll_in(kanal, standin, anonim=True, pelapor={
        "nama": "Budi Santoso", "telepon": "+6281299887766", "email": "budi.s@example.id"})
    secrets = ("Budi", "Santoso", "81299887766", "budi.s@example.id")
    [item] = inbox(kanal)
    stored = [item.payload.decode()]
    stored += [repr(tuple(r)) for t in (Reporter, ReporterIdentity, Message)
               for r in rows(kanal, t)]
    for text in stored:
        for secret in secrets:
            assert secret not in text
    assert report.reporter_id is not None
    [person] = rows(kanal, Reporter, Reporter.__table__.c.id == report.reporter_id)
    assert person.display_name is None
    # a named complaint keeps its reporter: the check above can see one
    named_id, named = poll_in(kanal, standin)
    [person] = rows(kanal, Reporter, Reporter.__table__.c.id == named.reporter_id)
    assert person.display_name == "Siti Aminah"
    assert "Siti Aminah" in inbox(kanal, InboxItem.__table__.c.external_id == named_id
                                  )[0].payload.decode()


def test_a_complaint_of_another_agency_is_not_listed(lapor_kanal, standin):
    from tests.adapters.lapor.conftest import AGENCY

    kanal = lapor_kanal()
    standin.add(instansi="jawa-barat", lokasi={"lat": -6.9, "lon": 107.6, "alamat": "Bandung"})
    ours = add_alfa(standin)
    assert kanal.poll_channel(CHANNEL) == 1
    assert [i.external_id for i in inbox(kanal)] == [ours]
    agency_param = standin.names["query"]["instansi"]
    assert {c["query"][agency_param] for c in standin.calls_of("list")} == {AGENCY}


@pytest.mark.parametrize("missing", [
    "", "  ", None, True, {"nested": 1}])
def test_an_item_without_a_tracking_id_is_quarantined_with_the_reason(
        lapor_kanal, standin, missing):
    kanal = lapor_kanal()
    broken = add_alfa(standin, judul="Tanpa nomor")
    standin.complaints[broken]["tracking_id"] = missing
    good = add_alfa(standin)
    assert kanal.poll_channel(CHANNEL) == 2
    [bad] = inbox(kanal, InboxItem.__table__.c.status == "quarantined")
    assert bad.external_id.startswith("invalid~")
    assert "tracking ID" in bad.error
    assert "Tanpa nomor" in bad.payload.decode()
    assert [r.external_ref for r in reports(kanal)] == [good]
    assert count(kanal, Report) == 1


def test_a_confidential_complaint_shows_no_photos_or_notes_to_the_public(
        lapor_kanal, standin):
    from fastapi.testclient import TestClient

    from core.models import ProofPhoto
    from gateway.app import create_app
    from tests.casework import drive, set_up
    from tests.test_proof import photo

    kanal = lapor_kanal()
    accounts = set_up(kanal)
    shown = {}
    for secret in (True, False):
        url = standin.add_file(f"foto-{secret}.jpg", photo(11 if secret else 12))
        lapor_id, report = poll_in(kanal, standin, rahasia=secret,
                                   lampiran=[{"url": url, "tipe": "image/jpeg"}])
        assert bool(report.confidential) is secret
        assert kanal.media.run_once() == 1
        drive(kanal, accounts, report.tracking_id, "Selesai")
        drain(kanal)
        shown[secret] = (lapor_id, report)
    with TestClient(create_app(kanal=kanal)) as client:
        for secret, (lapor_id, report) in shown.items():
            tid = tracking.display(report.tracking_id)
            view = client.get(f"/api/v1/reports/{tid}")
            assert view.status_code == 200
            view = view.json()
            assert view["confidential"] is secret and view["status"] == "Selesai"
            [attachment] = rows(kanal, Attachment, Attachment.__table__.c.report_id == report.id)
            proofs = rows(kanal, ProofPhoto, ProofPhoto.__table__.c.report_id == report.id)
            assert proofs
            urls = [f"/api/v1/reports/{tid}/photos/{attachment.id}"] + [
                f"/api/v1/reports/{tid}/proof/{p.id}" for p in proofs]
            notes = [e["note"] for e in view["timeline"] if e["kind"] != "received"]
            page = client.get(f"/lacak/{tid}")
            assert page.status_code == 200
            if secret:
                assert view["photos"] == [] and view["proof_photos"] == []
                assert all(n is None or n == "Pelapor menambahkan keterangan" for n in notes)
                assert "Dikoordinasikan" not in page.text
                assert all(client.get(u).status_code == 404 for u in urls)
                assert standin.follow_ups_for(lapor_id)[-1]["lampiran"] == []
            else:  # the same path without rahasia shows them: the checks above can fail
                assert len(view["photos"]) == 1 and view["proof_photos"]
                assert any(n and n.startswith("Dikoordinasikan") for n in notes)
                assert "Dikoordinasikan" in page.text
                assert all(client.get(u).status_code == 200 for u in urls)
                assert standin.follow_ups_for(lapor_id)[-1]["lampiran"]


def test_the_topic_is_mapped_to_a_category_by_the_mapping_file(lapor_kanal, standin, contract):
    import yaml

    topics = yaml.safe_load(contract[1].read_text())["categories"]
    topic, category = sorted(topics.items())[0]
    kanal = lapor_kanal()
    _, report = poll_in(kanal, standin, kategori=topic)
    assert report.category == category
    assert report.source_category == topic  # the officers see LAPOR!'s own name

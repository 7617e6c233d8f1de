"""Follow-ups out to LAPOR!: every status change and officer's note once, with the mapped
status and the proof at Selesai; retried through timeouts, outages, a restart and a
refused token, and given up on an unknown complaint."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from core import tracking
from core.cases import ActionRequest
from core.models import OutboxItem, ProofPhoto
from tests.adapters.lapor.conftest import TOKEN
from tests.adapters.lapor.flows import (
    CHANNEL, add_alfa, move, outbox, poll_in, report_of, rows, statuses)
from tests.casework import PATH, request, set_up
from tests.helpers import drain

outbox_t = OutboxItem.__table__
# each step of the path and the status a follow-up announces after it
STEPS = ["Koordinasi", "Disposisi", "Proses", "Menunggu Verifikasi", "Selesai"]


def key_name(standin) -> str:
    return standin.names["follow_up"]["id"]


def test_each_status_change_reaches_lapor_once_with_the_mapped_status(
        lapor_kanal, standin, contract):
    kanal = lapor_kanal()
    accounts = set_up(kanal)
    lapor_id, report = poll_in(kanal, standin)
    mapped = statuses(contract)
    for (who, action, fields), reached in zip(PATH["Selesai"], STEPS, strict=True):
        kanal.clock.now += timedelta(minutes=5)
        kanal.act_on_case(accounts[who], report.tracking_id, request(action, fields))
        drain(kanal)
        kanal.poll_channel(CHANNEL)  # kanal's follow-up moved the complaint: nothing new
        assert drain(kanal) == 0
    sent = standin.follow_ups_for(lapor_id)
    assert [f["status"] for f in sent] == [mapped[s] for s in ["Menunggu", *STEPS]]
    assert len({f["id"] for f in sent}) == len(sent)
    tid = tracking.display(report.tracking_id)
    assert all(re.fullmatch(re.escape(tid) + r"-\d+", f["id"]) for f in sent)
    assert {o.kind for o in outbox(kanal)} == {"ack", "status_changed"}
    assert not [o for o in outbox(kanal) if "rating" in o.kind]
    assert {o.status for o in outbox(kanal)} == {"sent"}
    assert len(outbox(kanal)) == len(sent)
    proofs = rows(kanal, ProofPhoto, ProofPhoto.__table__.c.report_id == report.id)
    assert proofs
    done = sent[-1]
    assert [a["url"] for a in done["lampiran"]] == [
        f"https://kanal.example.go.id/api/v1/reports/{tid}/proof/{p.id}" for p in proofs]
    assert {a["tipe"] for a in done["lampiran"]} == {"image/jpeg"}
    assert all(f["lampiran"] == [] for f in sent[:-1])
    assert mapped["Selesai"] != mapped["Proses"]  # the contract tells them apart


def test_an_officers_note_reaches_lapor(lapor_kanal, standin, contract):
    kanal = lapor_kanal()
    accounts = set_up(kanal)
    lapor_id, report = poll_in(kanal, standin)
    note = "Petugas akan meninjau lokasi besok pagi."
    kanal.act_on_case(accounts["lurah"], report.tracking_id,
                      ActionRequest("note", reason=note))
    assert drain(kanal) == 1
    ack, sent = standin.follow_ups_for(lapor_id)
    assert note in sent["isi"] and sent["status"] == statuses(contract)["Menunggu"]
    [item] = outbox(kanal, outbox_t.c.kind == "case_note")
    assert item.status == "sent" and item.recipient == lapor_id


def test_a_follow_up_retried_after_a_timeout_is_kept_once(lapor_kanal, standin):
    kanal = lapor_kanal(request_timeout_seconds=0.5)
    standin.stall(2, kind="follow_up")
    lapor_id, report = poll_in(kanal, standin)  # its drain times out
    [item] = outbox(kanal)
    assert item.status == "pending" and item.attempts == 1
    assert "LAPOR! did not answer" in item.last_error
    assert len(standin.follow_ups_for(lapor_id)) == 1  # LAPOR! kept it all the same
    move(kanal)
    assert drain(kanal) == 1
    [item] = outbox(kanal)
    assert item.status == "sent" and item.attempts == 2
    tries = standin.calls_of("follow_up")
    assert len(tries) == 2 and tries[0]["json"][key_name(standin)] == \
        tries[1]["json"][key_name(standin)] == item.provider_message_id
    assert len(standin.follow_ups_for(lapor_id)) == 1


def test_an_outage_is_retried_later_and_each_follow_up_arrives_once(lapor_kanal, standin):
    kanal = lapor_kanal()
    standin.fail(503, times=4, kind="follow_up")
    first, _ = poll_in(kanal, standin)
    second, _ = poll_in(kanal, standin)
    assert {o.status for o in outbox(kanal)} == {"pending"}
    assert all("503" in o.last_error for o in outbox(kanal))
    assert drain(kanal) == 0  # backing off
    rounds = 0
    while any(o.status == "pending" for o in outbox(kanal)):
        rounds += 1
        assert rounds < 5
        move(kanal)
        drain(kanal)
    assert {o.status for o in outbox(kanal)} == {"sent"}
    assert len(standin.follow_ups_for(first)) == len(standin.follow_ups_for(second)) == 1
    assert len(standin.calls_of("follow_up")) == 6  # 4 refused, 2 kept


def test_across_a_restart_each_follow_up_arrives_exactly_once(
        lapor_kanal, standin, contract):
    kanal = lapor_kanal(request_timeout_seconds=0.5)
    accounts = set_up(kanal)
    lapor_id = add_alfa(standin)
    kanal.poll_channel(CHANNEL)
    report = report_of(kanal, lapor_id)
    kanal.act_on_case(accounts["lurah"], report.tracking_id,
                      request(*PATH["Koordinasi"][0][1:]))
    standin.stall(2, times=1, kind="follow_up")
    kanal.dispatcher.run_once(limit=1)  # the ack reaches LAPOR!, its answer does not
    kanal.stop()
    again = lapor_kanal(request_timeout_seconds=0.5)
    move(again)
    drain(again)
    assert {o.status for o in outbox(again)} == {"sent"}
    assert [o.attempts for o in outbox(again)] == [2, 1]  # the ack was sent twice
    assert len(standin.calls_of("follow_up")) == 3
    mapped = statuses(contract)
    assert [f["status"] for f in standin.follow_ups_for(lapor_id)] == [
        mapped["Menunggu"], mapped["Koordinasi"]]


def test_a_follow_up_for_an_unknown_complaint_is_dead_with_the_reason(lapor_kanal, standin):
    kanal = lapor_kanal()
    standin.fail(404, times=1, kind="follow_up")
    lapor_id, _ = poll_in(kanal, standin)
    [item] = outbox(kanal)
    assert item.status == "dead" and item.attempts == 1
    assert f"LAPOR! complaint {lapor_id} is unknown to LAPOR! (HTTP 404)" in item.last_error
    move(kanal)
    assert drain(kanal) == 0 and standin.follow_ups_for(lapor_id) == []


def test_a_refused_token_on_send_is_retried_not_lost(lapor_kanal, standin):
    kanal = lapor_kanal()
    lapor_id = add_alfa(standin)
    assert kanal.poll_channel(CHANNEL) == 1
    standin.token = "a-token-revoked-meanwhile"
    assert drain(kanal) == 1
    [item] = outbox(kanal)
    assert item.status == "pending" and "CredentialsRejected" in item.last_error
    assert TOKEN not in item.last_error
    standin.token = TOKEN  # the admin put the token back
    move(kanal)
    assert drain(kanal) == 1
    [item] = outbox(kanal)
    assert item.status == "sent" and len(standin.follow_ups_for(lapor_id)) == 1


def _queue_during_outage(kanal, standin, jitter, failures: int = 2):
    """Koordinasi and Disposisi queued while LAPOR! answers 503; then sent once it is
    back. The later one never goes before the earlier one, which is retrying."""
    accounts = set_up(kanal)
    lapor_id, report = poll_in(kanal, standin)
    kanal.dispatcher.jitter = itertools.chain(jitter, itertools.repeat(0.5)).__next__
    standin.fail(503, times=failures, kind="follow_up")
    tried = []
    for who, action, fields in PATH["Disposisi"]:
        kanal.clock.now += timedelta(seconds=1)
        kanal.act_on_case(accounts[who], report.tracking_id, request(action, fields))
        tried.append(drain(kanal))
    assert tried == [1, 0]  # Koordinasi tried at once and refused; Disposisi waits
    for _ in range(failures + 1):
        move(kanal)
        drain(kanal)
    return [(f["status"], f["isi"]) for f in standin.follow_ups_for(lapor_id)]


def _in_order(sent, mapped) -> bool:
    return [s for s, _ in sent] == [mapped[k] for k in ("Menunggu", "Koordinasi",
                                                        "Disposisi")] \
        and "Status: Koordinasi" in sent[1][1] and "Status: Disposisi" in sent[2][1]


def test_follow_ups_queued_during_an_outage_keep_the_status_of_their_moment(
        lapor_kanal, standin, contract):
    kanal = lapor_kanal()
    sent = _queue_during_outage(kanal, standin, [0.0, 0.0])
    assert len(sent) == 3 and _in_order(sent, statuses(contract)), sent


@pytest.mark.parametrize("failures", [1, 3])
def test_follow_ups_of_one_complaint_keep_their_order_after_an_outage(
        lapor_kanal, standin, contract, failures):
    kanal = lapor_kanal()
    # the first retry's back-off drawn long, the second's short
    sent = _queue_during_outage(kanal, standin, [1.0, 0.0, 1.0, 0.0], failures)
    assert len(sent) == 3
    assert _in_order(sent, statuses(contract)), sent


def test_a_rate_limited_follow_up_waits_for_retry_after(lapor_kanal, standin):
    kanal = lapor_kanal()
    standin.fail(429, times=1, kind="follow_up", retry_after=900)
    lapor_id, _ = poll_in(kanal, standin)
    [item] = outbox(kanal)
    assert item.status == "pending" and "429" in item.last_error
    wait = (item.next_attempt_at.replace(tzinfo=kanal.clock.now.tzinfo)
            - kanal.clock.now).total_seconds()
    assert wait >= 899
    kanal.clock.now += timedelta(seconds=600)
    assert drain(kanal) == 0
    kanal.clock.now += timedelta(seconds=301)
    assert drain(kanal) == 1 and len(standin.follow_ups_for(lapor_id)) == 1


@pytest.mark.parametrize("status", ["EWS", "Ditolak"])
def test_an_estimate_and_a_rejection_reach_lapor_with_their_mapped_status(
        lapor_kanal, standin, contract, status):
    from tests.casework import drive

    kanal = lapor_kanal()
    accounts = set_up(kanal)
    lapor_id, report = poll_in(kanal, standin)
    drive(kanal, accounts, report.tracking_id, status)
    drain(kanal)
    last = standin.follow_ups_for(lapor_id)[-1]
    assert last["status"] == statuses(contract)[status]
    reason = dict(PATH[status][-1][2])["reason"]
    assert reason in last["isi"]
    assert len(standin.follow_ups_for(lapor_id)) == 1 + len(PATH[status])

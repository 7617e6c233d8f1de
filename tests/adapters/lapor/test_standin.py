"""The LAPOR! stand-in itself, driven with httpx: paging and cursors, auth refusal,
idempotent follow-ups (also after a client timeout), forwarded reports, renamed names."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.adapters.lapor.standin import ALT_NAMES, DEFAULT_NAMES, FakeLapor
from tests.clock import Clock

TOKEN = "lapor-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def clock():
    return Clock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))


@pytest.fixture
def lapor(clock):
    fake = FakeLapor(clock=clock).start()
    yield fake
    fake.stop()


@pytest.fixture
def http(lapor):
    with httpx.Client(base_url=lapor.base_url, headers=BEARER, timeout=5) as client:
        yield client


def listing(http, **params):
    answer = http.get("/laporan", params={"instansi": "dki-jakarta", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_pages_and_cursor_list_only_the_agencys_complaints(lapor, http):
    lapor.page_size = 2
    ids = [lapor.add(judul=f"Banjir {i}")["tracking_id"] for i in range(5)]
    lapor.add(instansi="jawa-barat", judul="Bukan untuk DKI")
    assert ids[0] == "1916449" and ids[-1] == "1916453"
    pages = [listing(http, halaman=n) for n in (1, 2, 3)]
    assert [p["halaman_berikut"] for p in pages] == [2, 3, None]
    assert {p["kursor"] for p in pages} == {f"c{lapor.seq_of(ids[-1])}"}
    assert [c["tracking_id"] for p in pages for c in p["data"]] == ids
    first = pages[0]["data"][0]
    assert first["judul"] == "Banjir 0" and first["diperbarui"] == "2026-11-30T08:00:00+07:00"
    assert first["pelapor"]["nama"] and first["lampiran"] == [] and first["rahasia"] is False

    cursor = pages[0]["kursor"]
    assert listing(http, sejak=cursor) == {"data": [], "halaman_berikut": None,
                                           "kursor": cursor}
    assert listing(http, sejak="")["kursor"] == cursor  # empty means everything
    lapor.change(ids[1], isi="Air sudah setinggi lutut.")
    lapor.touch(ids[3])
    later = listing(http, sejak=cursor)
    assert [c["tracking_id"] for c in later["data"]] == [ids[1], ids[3]]
    assert later["data"][0]["isi"] == "Air sudah setinggi lutut."
    assert later["kursor"] == f"c{lapor.seq_of(ids[3])}" != cursor
    assert http.get("/laporan", params={"instansi": "x"}).json()["kursor"] == "c0"


def test_sejak_as_a_time_and_a_bad_sejak(lapor, http, clock):
    old = lapor.add()["tracking_id"]
    clock.advance(3600)
    new = lapor.add()["tracking_id"]
    page = listing(http, sejak="2026-11-30T08:30:00+07:00")
    assert [c["tracking_id"] for c in page["data"]] == [new]
    assert old in [c["tracking_id"] for c in listing(http, sejak="2026-11-30T01:00:00Z")["data"]]
    for bad in ("kemarin", "c", "2026-11-30T08:30:00"):
        answer = http.get("/laporan", params={"instansi": "dki-jakarta", "sejak": bad})
        assert answer.status_code == 400 and answer.json() == {"error": "bad sejak"}


def test_a_missing_or_wrong_token_is_refused(lapor, http):
    lapor.add()
    url = lapor.add_file("foto.jpg", b"\xff\xd8jpeg")
    params = {"instansi": "dki-jakarta"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        answer = httpx.get(lapor.base_url + "/laporan", params=params, headers=headers)
        assert answer.status_code == 401 and answer.json() == {"error": "invalid token"}
    assert httpx.get(url).status_code == 401
    photo = http.get(url)
    assert photo.content == b"\xff\xd8jpeg" and photo.headers["content-type"] == "image/jpeg"
    lapor.token = "rotated"
    assert http.get("/laporan", params=params).status_code == 401
    assert lapor.calls[-1]["headers"]["authorization"] == f"Bearer {TOKEN}"
    lapor.files_need_auth = False
    assert httpx.get(url).status_code == 200


def test_a_follow_up_is_recorded_once_and_moves_the_complaint(lapor, http):
    tracking_id = lapor.add()["tracking_id"]
    before = lapor.seq_of(tracking_id)
    body = {"id": "kanal-fu-1", "status": "diproses", "isi": "Petugas menuju lokasi.",
            "lampiran": [{"url": "https://kanal.example/p/1.jpg", "tipe": "image/jpeg"}]}
    path = f"/laporan/{tracking_id}/tindak-lanjut"
    first, again = http.post(path, json=body), http.post(path, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {"id": "kanal-fu-1", "tracking_id": tracking_id}
    assert lapor.follow_ups_for(tracking_id) == [{
        "tracking_id": tracking_id, "id": "kanal-fu-1", "status": "diproses",
        "isi": "Petugas menuju lokasi.", "lampiran": body["lampiran"],
        "at": "2026-11-30T08:00:00+07:00"}]
    assert lapor.seq_of(tracking_id) == before + 1  # moved once, by the agency's answer
    lapor.bump_on_follow_up = False
    assert http.post(path, json={**body, "id": "kanal-fu-2"}).status_code == 201
    assert lapor.seq_of(tracking_id) == before + 1 and len(lapor.follow_ups) == 2

    unknown = http.post("/laporan/999/tindak-lanjut", json=body)
    assert unknown.status_code == 404 and "error" in unknown.json()
    for broken in ({**body, "status": None}, {"id": "x", "isi": "y"}, {**body, "id": 7}):
        answer = http.post(path, json=broken)
        assert answer.status_code == 422 and "error" in answer.json()
    assert len(lapor.follow_ups) == 2


def test_a_stalled_follow_up_is_recorded_although_the_client_gave_up(lapor, http):
    tracking_id = lapor.add()["tracking_id"]
    path = f"/laporan/{tracking_id}/tindak-lanjut"
    body = {"id": "kanal-fu-9", "status": "selesai", "isi": "Sudah diperbaiki."}
    lapor.stall(30)
    with pytest.raises(httpx.ReadTimeout):
        http.post(path, json=body, timeout=0.3)
    assert len(lapor.follow_ups_for(tracking_id)) == 1
    retry = http.post(path, json=body)
    assert retry.status_code == 200 and len(lapor.follow_ups_for(tracking_id)) == 1


def test_stop_cuts_a_stall_short(lapor, http):
    tracking_id = lapor.add()["tracking_id"]
    lapor.stall(30)
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(http.post(
        f"/laporan/{tracking_id}/tindak-lanjut", json={"id": "k", "status": "s", "isi": "i"})))
    waiting.start()
    deadline = time.monotonic() + 5
    while not lapor.follow_ups and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    lapor.stop()  # the fixture's second stop() is harmless
    waiting.join(5)
    assert time.monotonic() - started < 3
    assert [a.status_code for a in answers] == [201]  # the stalled answer went out at once


def test_injected_failures_hit_only_their_kind(lapor, http):
    tracking_id = lapor.add()["tracking_id"]
    lapor.fail(503, times=2, kind="list", retry_after=7)
    path = f"/laporan/{tracking_id}/tindak-lanjut"
    assert http.post(path, json={"id": "a", "status": "s", "isi": "i"}).status_code == 201
    answers = [http.get("/laporan", params={"instansi": "dki-jakarta"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["retry-after"] == "7"
    lapor.fail(429)
    assert http.post("/laporan", json={"id": "k", "judul": "j", "isi": "i"}).status_code == 429
    assert lapor.created == [] and [c["kind"] for c in lapor.calls_of("create")] == ["create"]


def test_a_forwarded_report_gets_a_tracking_id_once_and_stays_out_of_the_feed(lapor, http):
    lapor.add()
    report = {"id": "kanal-RPT-1", "judul": "Pohon tumbang", "isi": "Menutup jalan.",
              "kategori": "Pohon", "lokasi": {"lat": -6.2, "lon": 106.8, "alamat": "Jl. A"},
              "lampiran": [], "rahasia": True, "anonim": False,
              "pelapor": {"nama": "Budi", "telepon": "+628111", "email": "b@example.id"}}
    first, again = http.post("/laporan", json=report), http.post("/laporan", json=report)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {"tracking_id": "1916450"}
    assert lapor.created == [{"tracking_id": "1916450", **report}]
    assert [c["tracking_id"] for c in listing(http)["data"]] == ["1916449"]
    for missing in ("judul", "isi"):
        answer = http.post("/laporan", json={**report, "id": "other", missing: None})
        assert answer.status_code == 422
    assert len(lapor.created) == 1


def test_alt_names_rename_everything():
    for section, names in DEFAULT_NAMES.items():
        renamed = ALT_NAMES[section]
        assert set(renamed) == set(names), section
        if section != "auth":
            assert all(renamed[k] != v for k, v in names.items()), section
    assert len(set(ALT_NAMES["paths"].values())) == 4


def test_renamed_names_on_the_wire_default_names_inside(clock):
    lapor = FakeLapor(names=ALT_NAMES, clock=clock).start()
    try:
        tracking_id = lapor.add(lokasi={"lat": -6.17, "lon": 106.82, "alamat": "Monas"},
                                lampiran=[{"url": "https://x/1.jpg", "tipe": "image/jpeg"}])[
            "tracking_id"]
        key = {"X-Api-Key": TOKEN}
        with httpx.Client(base_url=lapor.base_url, headers=key, timeout=5) as http:
            assert http.get("/laporan", params={"instansi": "dki-jakarta"}).status_code == 404
            refused = httpx.get(lapor.base_url + "/api/v2/aduan", headers=BEARER,
                                params={"agency": "dki-jakarta"})
            assert refused.status_code == 401
            page = http.get("/api/v2/aduan", params={"agency": "dki-jakarta", "page": 1}).json()
            assert set(page) == {"items", "next_page", "cursor"}
            item = page["items"][0]
            assert item["nomor"] == tracking_id and item["updated_at"].endswith("+07:00")
            assert item["tempat"] == {"latitude": -6.17, "longitude": 106.82, "address": "Monas"}
            assert item["attachments"] == [{"href": "https://x/1.jpg", "mime": "image/jpeg"}]
            assert set(item["reporter"]) == {"name", "phone", "mail"}
            assert {"confidential", "anonymous", "title", "body", "category"} <= set(item)
            sent = http.post(f"/api/v2/aduan/{tracking_id}/tanggapan", json={
                "key": "fu-1", "state": "selesai", "text": "Beres.",
                "files": [{"href": "https://k/p.jpg", "mime": "image/jpeg"}]})
            assert sent.status_code == 201 and sent.json() == {"key": "fu-1",
                                                               "nomor": tracking_id}
            recorded = lapor.follow_ups[0]
            assert (recorded["id"], recorded["status"], recorded["isi"]) == (
                "fu-1", "selesai", "Beres.")
            assert recorded["lampiran"] == [{"url": "https://k/p.jpg", "tipe": "image/jpeg"}]
            made = http.post("/api/v2/aduan/baru", json={
                "key": "r-1", "title": "Lampu mati", "body": "Sejak kemarin.",
                "tempat": {"latitude": -6.1, "longitude": 106.7, "address": "Jl. B"}})
            assert made.status_code == 201 and set(made.json()) == {"ticket"}
            assert lapor.created[0]["judul"] == "Lampu mati"
            assert lapor.created[0]["lokasi"] == {"lat": -6.1, "lon": 106.7, "alamat": "Jl. B"}
            photo = http.get(lapor.add_file("a.png", b"png", "image/png"))
            assert photo.status_code == 200 and "/api/v2/berkas/" in str(photo.url)
    finally:
        lapor.stop()
    assert ALT_NAMES["auth"]["header"] == "X-Api-Key"  # the shared constant is untouched

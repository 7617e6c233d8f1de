"""The website channel through its real HTTP contract: a table of named cases for the JSON
endpoint and the /lapor form, then duplicates, follow-ups, rate limits and escaping."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.ratelimit import RateLimiter
from core import reports, tracking
from core.adapter import InboxRecord, NormalizeError
from gateway.app import create_app
from tests.adapters.web.conftest import MAX_PHOTO_BYTES
from tests.adapters.web.helpers import counts, png, stored_files

TESTDATA = Path(__file__).parent / "testdata"
API = "/api/v1/web/reports"
RECEIPT = re.compile(r"^/lapor/terima/([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z])(\?.*)?$")
FORM = {"text": "Saluran air tersumbat di Gang 3, air meluap ke jalan.",
        "category": "saluran-air", "address": "Gg. 3 RT 04/RW 02", "name": "Budi Santoso",
        "phone": "0812 1111 2222", "email": "budi@contoh.id", "submission_id": "form-nonce-0001"}
REPORT_PART = json.dumps({"text": "Pohon tumbang menutup jalan", "category": "pohon-tumbang",
                          "location": {"lat": -6.215, "lon": 106.805},
                          "submission_id": "web-mp-0001"})
NOT_AN_IMAGE = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def photo(name: str = "a.png", data: bytes | None = None, media_type: str = "image/png"):
    return ("photos", (name, png() if data is None else data, media_type))


BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


def browser_multipart(fields: dict, *, empty_file: str) -> bytes:
    """A form as Chromium posts it, with a file input left empty (``filename=""``)."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{empty_file}"; '
                 f'filename=""\r\nContent-Type: application/octet-stream\r\n\r\n\r\n')
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


@dataclass
class Case:
    label: str
    via: str  # "json" | "multipart" (both POST /api/v1/web/reports) | "form" (POST /lapor)
    json_file: str | None = None
    body: bytes | None = None
    data: dict | None = None
    files: list = field(default_factory=list)
    content_type: str | None = "application/json"
    status: int = 201
    error: str | None = None  # the API's error code
    field: str | None = None  # the form field the error summary links to
    message: str | None = None  # the form's in-page error
    photos: int = 0  # photos on the report after success


def form(**changes) -> dict:
    return {k: v for k, v in {**FORM, **changes}.items() if v is not None}


CASES = [
    # JSON endpoint
    Case("happy_json", "json", "happy.json"),
    Case("happy_anonymous", "json", "happy_anonymous.json"),
    Case("happy_multipart_report_part_two_photos", "multipart", data={"report": REPORT_PART},
         files=[photo("a.png"), photo("b.png", png(3, 3))], photos=2),
    Case("happy_multipart_flat_fields", "multipart",
         data={"text": "Banjir setinggi lutut", "lat": "-6.205", "lon": "106.805"},
         files=[("photo", ("c.png", png(), "image/png"))], photos=1),
    Case("malformed_json", "json", "malformed.json", status=400, error="malformed_json"),
    Case("json_not_an_object", "json", "not_object.json", status=400, error="malformed_json"),
    Case("json_nested_too_deep", "json", body=b"[" * 200_000, status=400,
         error="malformed_json"),
    Case("malformed_report_part", "multipart", data={"report": "{nope"}, files=[photo()],
         status=400, error="malformed_json"),
    Case("malformed_multipart", "json", body=b"--xyz\r\nContent-Disposition: form-data\r\n\r\n"
         b"v\r\n--xyz--\r\n", content_type="multipart/form-data; boundary=xyz", status=400,
         error="malformed_multipart"),
    Case("unsupported_media_type", "json", body=b"Banjir", content_type="text/plain",
         status=415, error="unsupported_media_type"),
    Case("missing_text", "json", "missing_text.json", status=422, error="missing_text"),
    Case("empty_text", "json", "empty_text.json", status=422, error="missing_text"),
    Case("text_not_a_string", "json", "text_not_string.json", status=422,
         error="invalid_text"),
    Case("text_over_the_limit", "json", body=json.dumps({"text": "x" * 5001}).encode(),
         status=422, error="text_too_long"),
    Case("unknown_category", "json", "unknown_category.json", status=422,
         error="unknown_category"),
    Case("latitude_out_of_range", "json", "bad_latitude.json", status=422,
         error="invalid_location"),
    Case("latitude_not_a_number", "json", "latitude_not_number.json", status=422,
         error="invalid_location"),
    Case("latitude_without_longitude", "json", "latitude_without_longitude.json", status=422,
         error="invalid_location"),
    Case("location_not_an_object", "json", "location_not_object.json", status=422,
         error="invalid_location"),
    Case("contact_not_an_object", "json", "contact_not_object.json", status=422,
         error="invalid_contact"),
    Case("bad_phone", "json", "bad_phone.json", status=422, error="invalid_phone"),
    Case("bad_email", "json", "bad_email.json", status=422, error="invalid_email"),
    Case("bad_submission_id", "json", "bad_submission_id.json", status=422,
         error="invalid_submission_id"),
    Case("honeypot_filled", "json", "honeypot.json", status=400, error="rejected"),
    Case("too_many_photos", "multipart", data={"report": REPORT_PART},
         files=[photo(f"{i}.png", png(i + 1, 1)) for i in range(6)], status=422,
         error="too_many_photos"),
    Case("photo_too_large", "multipart", data={"report": REPORT_PART},
         files=[photo(data=png(pad=MAX_PHOTO_BYTES))], status=413, error="photo_too_large"),
    Case("photo_wrong_type_despite_image_content_type", "multipart",
         data={"report": REPORT_PART}, files=[photo("a.png", NOT_AN_IMAGE)], status=415,
         error="photo_wrong_type"),
    Case("photo_wrong_type_after_a_good_one", "multipart", data={"report": REPORT_PART},
         files=[photo("good.png"), photo("bad.png", NOT_AN_IMAGE)], status=415,
         error="photo_wrong_type"),
    Case("empty_photo", "multipart", data={"report": REPORT_PART},
         files=[photo("kosong.png", b"")], status=422, error="empty_file"),
    # the /lapor form
    Case("form_happy", "form", data=form(), status=303),
    Case("form_happy_with_photo_and_coordinates", "form",
         data=form(lat="-6.205", lon="106,805"), files=[photo()], status=303, photos=1),
    Case("form_empty_file_input_is_no_photo", "form", data=form(), body=browser_multipart(
         form(), empty_file="photos"), content_type=f"multipart/form-data; boundary={BOUNDARY}",
         status=303),
    Case("form_missing_text", "form", data=form(text="  "), status=422, field="text",
         message="Tulis isi laporan Anda."),
    Case("form_text_over_the_limit", "form", data=form(text="x" * 5001), status=422,
         field="text", message="Isi laporan terlalu panjang: 5001 karakter, paling banyak 5000."),
    Case("form_unknown_category", "form", data=form(category="ufo"), status=422,
         field="category", message="Pilih kategori dari daftar."),
    Case("form_latitude_out_of_range", "form", data=form(lat="-96", lon="106.8"), status=422,
         field="lat", message="Garis lintang harus berupa angka antara -90 dan 90."),
    Case("form_latitude_without_longitude", "form", data=form(lat="-6.2"), status=422,
         field="lon", message="Isi juga garis bujur, atau kosongkan kedua koordinat."),
    Case("form_bad_phone", "form", data=form(phone="nomor saya"), status=422, field="phone",
         message="Tulis nomor telepon yang benar"),
    Case("form_bad_email", "form", data=form(email="budi di contoh"), status=422,
         field="email", message="Tulis alamat email yang benar"),
    Case("form_too_many_photos", "form", data=form(),
         files=[photo(f"{i}.png", png(i + 1, 1)) for i in range(6)], status=422,
         field="photos", message="Lampirkan paling banyak 5 foto."),
    Case("form_photo_too_large", "form", data=form(),
         files=[photo("besar.png", png(pad=MAX_PHOTO_BYTES))], status=413, field="photos",
         message="Foto besar.png terlalu besar. Setiap foto paling besar 0.0625 MB."),
    Case("form_photo_wrong_type", "form", data=form(), files=[photo("dokumen.png",
         NOT_AN_IMAGE)], status=415, field="photos",
         message="Berkas dokumen.png bukan foto."),
    Case("form_honeypot_filled", "form", data=form(website="http://spam.example"),
         status=400, message="Laporan tidak dapat dikirim."),
]


def send(client: TestClient, case: Case):
    if case.via == "form" and case.body is not None:
        return client.post("/lapor", content=case.body, follow_redirects=False,
                           headers={"Content-Type": case.content_type})
    if case.via == "form":
        return client.post("/lapor", data=case.data, files=case.files or None,
                           follow_redirects=False)
    if case.via == "multipart":
        return client.post(API, data=case.data, files=case.files)
    body = case.body if case.body is not None else (TESTDATA / case.json_file).read_bytes()
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    return client.post(API, content=body, headers=headers)


def tracking_id_of(response) -> str:
    if response.status_code == 303:
        return RECEIPT.match(response.headers["location"]).group(1)
    return response.json()["tracking_id"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_web_intake(web, web_kanal, case):
    before = counts(web_kanal)
    r = send(web, case)
    assert r.status_code == case.status, r.text
    after = counts(web_kanal)
    if case.status in (201, 303):
        tid = tracking_id_of(r)
        assert tracking.display(tracking.normalize(tid)) == tid
        assert after["report"] == before["report"] + 1
        assert after["inbox_item"] == before["inbox_item"] + 1
        view = web.get(f"/api/v1/reports/{tid}").json()
        assert view["status"] == "Menunggu"
        assert view["official_channel"] == "website"
        assert len(view["photos"]) == case.photos
        assert len(stored_files(web_kanal)) == case.photos
        if case.via != "form":
            assert r.json()["url"] == f"/lacak/{tid}" and r.json()["status"] == "Menunggu"
        return
    assert after == before, "a refused submission wrote rows"
    assert stored_files(web_kanal) == [], "a refused submission stored photos"
    if case.via != "form":
        assert r.json()["error"] == case.error, r.text
        return
    page = r.text
    assert 'class="error-summary"' in page
    assert html.escape(case.message, quote=False) in page
    if case.field:
        assert f'href="#{case.field}"' in page
        assert f'id="{case.field}-error"' in page
        assert 'aria-describedby="' in page and f'{case.field}-error"' in page
    for name, value in case.data.items():  # what the citizen typed comes back
        if name in ("text", "website", "submission_id"):
            continue
        if name in ("lat", "lon", "address", "name", "phone", "email"):
            assert f'value="{html.escape(value)}"' in page, name
    assert f">{html.escape(case.data['text'], quote=False)}</textarea>" in page
    assert 'name="website" value=""' in page
    if case.files:
        assert "Pilih lagi foto Anda" in page


def test_happy_json_keeps_self_declared_contact_apart(web, web_kanal):
    r = web.post(API, content=(TESTDATA / "happy.json").read_bytes(),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    tid = r.json()["tracking_id"]
    with web_kanal.engine.connect() as conn:
        staff = reports.staff_report(conn, tracking.normalize(tid))
    assert staff["category"]["id"] == "jalan-rusak"
    assert staff["kelurahan"] == {"code": "31.71.01.1001", "name": "Alfa"}
    assert staff["location"]["address"] == "Jl. Alfa No. 3, depan SDN 01"
    assert staff["reporter"]["name"] == "Siti Rahma"
    assert sorted((i["kind"], i["handle"]) for i in staff["reporter"]["identities"]) == [
        ("web-email", "Siti@contoh.id"), ("web-phone", "+6281234567890")]
    acks = [m for m in staff["messages"] if m["direction"] == "out"]
    assert [m["delivery"] for m in acks] == ["delivered_inline"]
    public = web.get(f"/api/v1/reports/{tid}").text
    for secret in ("Siti", "3456", "contoh"):
        assert secret not in public


@pytest.mark.parametrize("via", ["json", "form"])
def test_same_submission_id_gives_the_same_tracking_id(web, web_kanal, via):
    if via == "json":
        first = web.post(API, json={"text": "Banjir", "submission_id": "dup-0000001"})
        again = web.post(API, json={"text": "Banjir", "submission_id": "dup-0000001"})
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["tracking_id"] == again.json()["tracking_id"]
    else:
        first = web.post("/lapor", data=form(), follow_redirects=False)
        again = web.post("/lapor", data=form(), follow_redirects=False)
        assert (first.status_code, again.status_code) == (303, 303)
        assert first.headers["location"] == again.headers["location"]
    assert counts(web_kanal)["report"] == 1
    assert counts(web_kanal)["inbox_item"] == 1


def test_form_brought_back_and_filled_in_again_is_a_new_report(web, web_kanal):
    first = web.post("/lapor", data=form(), follow_redirects=False)
    again = web.post("/lapor", data=form(text="Lampu jalan mati di Gang 5"),
                     follow_redirects=False)
    assert first.headers["location"] != again.headers["location"]
    assert counts(web_kanal)["report"] == 2


def test_api_without_submission_id_creates_each_time(web, web_kanal):
    ids = {web.post(API, json={"text": "Lampu mati"}).json()["tracking_id"] for _ in range(2)}
    assert len(ids) == 2


@dataclass
class FollowUp:
    label: str
    first: dict
    then: dict | None
    appended: bool


FOLLOW_UPS = [
    FollowUp("same_phone_appends", {"phone": "0812 3456 7890"},
             {"phone": "+62 812-3456-7890"}, True),
    FollowUp("same_email_appends", {"email": "warga@contoh.id"}, {"email": "warga@CONTOH.ID"},
             True),
    FollowUp("other_phone_opens_a_new_report", {"phone": "0812 3456 7890"},
             {"phone": "0813 9999 0000"}, False),
    FollowUp("anonymous_opens_a_new_report", {"phone": "0812 3456 7890"}, None, False),
    FollowUp("anonymous_first_cannot_be_followed", {}, {"phone": "0812 3456 7890"}, False),
]


@pytest.mark.parametrize("case", FOLLOW_UPS, ids=lambda c: c.label)
def test_follow_up_by_tracking_id(web, web_kanal, case):
    first = web.post(API, json={"text": "Jalan rusak", "contact": case.first or None})
    tid = first.json()["tracking_id"]
    compact = tracking.normalize(tid).lower()  # as a citizen might type it
    body = {"text": f"Tambahan untuk {compact}: lubangnya makin besar"}
    if case.then:
        body["contact"] = case.then
    r = web.post(API, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["follow_up"] is case.appended
    assert (r.json()["tracking_id"] == tid) is case.appended
    assert counts(web_kanal)["report"] == (1 if case.appended else 2)
    notes = [t["note"] for t in web.get(f"/api/v1/reports/{tid}").json()["timeline"]]
    assert ("Pelapor menambahkan keterangan" in notes) is case.appended


def test_form_follow_up_lands_on_its_report(web):
    first = web.post("/lapor", data=form(), follow_redirects=False)
    tid = tracking_id_of(first)
    r = web.post("/lapor", data=form(text=f"Tambahan {tid}: masih tersumbat",
                                     submission_id="form-nonce-0002"), follow_redirects=False)
    assert r.headers["location"] == f"/lapor/terima/{tid}?tambahan=1"
    assert "Tambahan keterangan terkirim" in web.get(r.headers["location"]).text


def test_web_contact_never_merges_with_a_verified_identity(web, web_kanal, jaki_auth):
    jaki = web.post("/api/v1/jaki/reports", headers=jaki_auth, json={
        "external_id": "j1", "text": "Banjir", "reporter": {
            "app_user_id": "u1", "phone": "0812 3456 7890"}})
    jaki_tid = jaki.json()["tracking_id"]
    r = web.post(API, json={"text": f"Soal laporan {jaki_tid}", "contact": {
        "phone": "0812 3456 7890"}})
    assert r.json()["follow_up"] is False and r.json()["tracking_id"] != jaki_tid
    with web_kanal.engine.connect() as conn:
        a = reports.staff_report(conn, tracking.normalize(jaki_tid))["reporter"]["id"]
        b = reports.staff_report(conn, tracking.normalize(r.json()["tracking_id"]))
    assert b["reporter"]["id"] != a


@pytest.mark.parametrize("via", ["json", "form"])
def test_rate_limit_per_client_address(make_kanal, settings, via):
    kanal = make_kanal(settings=settings.model_copy(
        update={"web_rate_per_minute": 1, "web_rate_burst": 2}))
    app = create_app(kanal=kanal)
    with TestClient(app) as c:
        other = TestClient(app, client=("203.0.113.9", 5000))

        def post(client, n):
            if via == "json":
                return client.post(API, json={"text": f"laporan {n}"})
            return client.post("/lapor", data=form(text=f"laporan {n}", submission_id=None),
                               follow_redirects=False)

        ok = 201 if via == "json" else 303
        assert [post(c, n).status_code for n in range(2)] == [ok, ok]
        before = counts(kanal)
        limited = post(c, 3)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert counts(kanal) == before
        if via == "json":
            assert limited.json()["error"] == "rate_limited"
        else:
            assert "Terlalu banyak laporan dari alamat Anda" in limited.text
            assert ">laporan 3</textarea>" in limited.text
        assert post(other, 4).status_code == ok


@pytest.mark.parametrize("via", ["json", "form"])
def test_rate_limit_takes_an_ipv6_64_as_one_client(make_kanal, settings, via):
    kanal = make_kanal(settings=settings.model_copy(
        update={"web_rate_per_minute": 1, "web_rate_burst": 5}))
    app = create_app(kanal=kanal)

    def post(host: str, n: int):
        client = TestClient(app, client=(host, 5000))
        if via == "json":
            return client.post(API, json={"text": f"laporan {n}"})
        return client.post("/lapor", data=form(text=f"laporan {n}", submission_id=None),
                           follow_redirects=False)

    ok = 201 if via == "json" else 303
    with TestClient(app):
        statuses = [post(f"2001:db8:1:2::{n:x}", n).status_code for n in range(1, 31)]
        assert statuses == [ok] * 5 + [429] * 25
        assert post("2001:db8:1:3::1", 31).status_code == ok  # the next /64 is someone else


def test_rate_limit_behind_a_trusted_proxy_buckets_what_it_forwarded(make_kanal, settings):
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    kanal = make_kanal(settings=settings.model_copy(
        update={"web_rate_per_minute": 1, "web_rate_burst": 2}))
    app = create_app(kanal=kanal)
    # what `kanal serve` runs: uvicorn believes X-Forwarded-For from the trusted proxies only
    proxied = TestClient(ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1"),
                         client=("127.0.0.1", 5000))

    def post(forwarded_for: str, n: int) -> int:
        return proxied.post(API, json={"text": f"laporan {n}"},
                            headers={"X-Forwarded-For": forwarded_for}).status_code

    with TestClient(app):
        assert [post(f"2001:db8:aa:1:{n}::1", n) for n in range(1, 4)] == [201, 201, 429]
        assert post("2001:db8:aa:2::1", 4) == 201
        assert [post("203.0.113.7", 5), post("::ffff:203.0.113.7", 6),
                post("203.0.113.7", 7)] == [201, 201, 429]


def test_rate_limiter_refills_and_stays_bounded():
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, max_keys=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 10]
    now[0] = 5.0
    assert limiter.take("a") == 5
    now[0] = 10.0
    assert limiter.take("a") == 0
    for key in "bcdef":
        limiter.take(key)
    assert len(limiter) == 3
    assert RateLimiter(per_minute=0, burst=1).take("x") == 0


SCRIPT = "<script>alert(1)</script>"


def test_citizen_text_is_escaped(web):
    r = web.post("/lapor", data=form(text=SCRIPT, name=SCRIPT, address=SCRIPT,
                                     category="ufo"))
    assert r.status_code == 422
    assert SCRIPT not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = web.post("/lapor", data=form(), files=[photo(f"{SCRIPT}.png", NOT_AN_IMAGE)])
    assert r.status_code == 415 and SCRIPT not in r.text
    r = web.post("/lapor", data=form(text=SCRIPT, name=SCRIPT, address=SCRIPT))
    assert r.status_code == 200 and RECEIPT.match(r.url.path)
    assert SCRIPT not in r.text
    page = web.get(f"/lacak/{RECEIPT.match(r.url.path).group(1)}").text
    assert SCRIPT not in page and "alert(1)" not in page


@dataclass
class ReceiptCase:
    label: str
    status: int
    expect: str


RECEIPTS = [
    ReceiptCase("known", 200, "Catat nomor ini"),
    ReceiptCase("mistyped", 404, "periksa kembali nomor laporan"),
    ReceiptCase("garbage", 404, "periksa kembali nomor laporan"),
    ReceiptCase("unknown", 404, "tidak ditemukan"),
]


@pytest.mark.parametrize("case", RECEIPTS, ids=lambda c: c.label)
def test_receipt_page(web, case):
    tid = tracking_id_of(web.post("/lapor", data=form(), follow_redirects=False))
    compact = tracking.normalize(tid)
    # swap two neighbours that differ (swapping equal ones would give the same ID back)
    i = next(i for i in range(len(compact) - 1) if compact[i] != compact[i + 1])
    asked = {
        "known": tid,
        "mistyped": tracking.display(compact[:i] + compact[i + 1] + compact[i] + compact[i + 2:]),
        "garbage": "bukan-nomor",
        "unknown": tracking.display(tracking.generate()),
    }[case.label]
    r = web.get(f"/lapor/terima/{asked}")
    assert r.status_code == case.status
    assert case.expect in r.text
    if case.label == "known":
        assert f'href="/lacak/{tid}"' in r.text and 'class="tracking-id"' in r.text
    for secret in ("Budi", "0812", "budi@contoh.id", "Gg. 3"):
        assert secret not in r.text


class _Fields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.controls: dict[str, dict] = {}
        self.labels: set[str] = set()
        self.html_lang = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "label":
            self.labels.add(a.get("for"))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls[a["name"]] = a


@pytest.mark.parametrize("lang,label", [("id", "Isi laporan"), ("en", "Your report")])
def test_form_page_is_accessible_and_translated(web, lang, label):
    r = web.get(f"/lapor?lang={lang}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "'self'" in r.headers["content-security-policy"]
    fields = _Fields()
    fields.feed(r.text)
    assert fields.html_lang == lang
    assert set(fields.controls) == {"text", "category", "address", "lat", "lon", "photos",
                                    "name", "phone", "email", "website"}
    for name, attrs in fields.controls.items():
        assert attrs["id"] in fields.labels, f"{name} has no label"
    honeypot = fields.controls["website"]
    assert (honeypot["tabindex"], honeypot["autocomplete"]) == ("-1", "off")
    assert fields.controls["photos"]["accept"] == "image/*"
    assert "multiple" in fields.controls["photos"]
    assert f">{label}</label>" in r.text
    assert "<fieldset" in r.text and "<legend>" in r.text and "<details" in r.text
    nonces = {re.search(r'name="submission_id" value="([^"]+)"', web.get("/lapor").text)[1]
              for _ in range(2)}
    assert len(nonces) == 2


def test_tracking_page_shows_photos_and_english_category(web):
    r = web.post("/lapor", data=form(lat="-6.205", lon="106.805"), files=[photo()])
    tid = RECEIPT.match(r.url.path).group(1)
    page = web.get(f"/lacak/{tid}?lang=en").text
    assert "Blocked drain" in page and "Waiting" in page and "Alfa" in page
    assert re.search(r'<img src="/api/v1/reports/[^"]+/photos/\d+" alt="Photo 1 of report', page)
    assert '<ol class="timeline">' in page and "WIB</time>" in page


def _record(kanal, payload: bytes) -> InboxRecord:
    return InboxRecord(id=1, channel="web", external_id="n-1",
                       content_type="application/vnd.kanal.web+json", payload=payload,
                       received_at=None)


@pytest.mark.parametrize("contact,sender,aka", [
    (None, None, []),
    ({"name": "Ani", "phone": "0812 3456 7890", "email": "ani@contoh.id"},
     ("web-phone", "+6281234567890", "Ani"), [("web-email", "ani@contoh.id", "Ani")]),
    ({"email": "ani@contoh.id"}, ("web-email", "ani@contoh.id", None), []),
], ids=["anonymous", "phone_and_email", "email_only"])
def test_normalize(web_kanal, contact, sender, aka):
    adapter = web_kanal.adapters["web"]
    report = {"text": "Sampah", "location": {"lat": -6.2, "lon": 106.8}}
    if contact:
        report["contact"] = contact
    message = adapter.normalize(_record(web_kanal, json.dumps(
        {"source": "api", "report": report}).encode()))
    got = message.sender and (message.sender.kind, message.sender.handle,
                              message.sender.display_name)
    assert got == sender
    assert [(s.kind, s.handle, s.display_name) for s in message.also_known_as] == aka
    assert message.official_channel == "website" and message.location.has_point


def test_normalize_refuses_foreign_payloads(web_kanal):
    with pytest.raises(NormalizeError):
        web_kanal.adapters["web"].normalize(_record(web_kanal, b'{"text": "x"}'))


def test_pages_are_in_bahasa_indonesia_unless_english_is_chosen(client):
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    page = client.get("/lapor", headers=english_browser)
    assert 'lang="id"' in page.text
    chosen = client.get("/lapor?lang=en", headers=english_browser)
    assert 'lang="en"' in chosen.text
    assert 'lang="en"' in client.get("/lapor").text  # the choice is remembered (cookie)


@pytest.mark.parametrize("path", ["/lapor", "/lacak", "/lacak/2222-2222-2"],
                         ids=["form", "lookup", "unknown-report"])
def test_pages_send_security_headers(client, path):
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_lookup_redirect_keeps_the_chosen_language(client):
    from core import tracking as t
    tid = t.display(t.generate())
    r = client.get(f"/lacak?id={tid.lower()}&lang=en", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/lacak/{tid}?lang=en"

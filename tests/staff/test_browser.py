"""The staff pages in real headless Chromium, JavaScript off (every form must work
without it). The clerk's account is made with ``kanal staff add``, as a new user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core import tracking
from gateway.app import create_app
from tests.adapters.web.helpers import png
from tests.browser import live_server
from tests.staff.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[2]
# screenshots kept after the run (CI prints where)
ARTIFACTS = Path(os.environ.get("KANAL_TEST_ARTIFACTS", REPO / "test-artifacts"))


@pytest.fixture
def site(staff_kanal):
    with live_server(create_app(kanal=staff_kanal)) as base:
        yield base


@pytest.fixture
def page(browser, site):
    context = browser.new_context(java_script_enabled=False, base_url=site, locale="id-ID",
                                  viewport={"width": 1024, "height": 900})
    yield context.new_page()
    context.close()


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    page.get_by_label("Nama pengguna", exact=True).fill(username)
    page.get_by_label("Kata sandi", exact=True).fill(password)
    page.get_by_role("button", name="Masuk").click()


@pytest.mark.browser
def test_new_clerk_files_a_walk_in_complaint_and_prints_the_receipt(page, staff_kanal):
    s = staff_kanal.settings
    env = {**os.environ, "KANAL_DATABASE_URL": s.database_url, "KANAL_CONFIG": str(s.config),
           "KANAL_BOUNDARIES": str(s.boundaries), "KANAL_DATA_DIR": str(s.data_dir)}
    made = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "staff", "add", "sari", "--role", "counter",
         "--office", "kelurahan-31.71.01.1001", "--password-stdin"],
        input="sandi-loket-baru\n", capture_output=True, text=True, env=env, cwd=REPO,
        timeout=120)
    assert made.returncode == 0, made.stderr

    page.goto("/staff/walk-in")  # not signed in: the sign-in page, then back here
    page.wait_for_url(re.compile(r"/staff/login\?next="))
    sign_in(page, "sari", "sandi-loket-baru")
    page.wait_for_url(re.compile(r"/staff/walk-in$"))

    page.get_by_label("Nama warga", exact=True).fill("Ibu Sari Wulandari")
    page.get_by_label("Nomor telepon (boleh kosong)", exact=True).fill("0812 3456 7890")
    page.get_by_label("Isi pengaduan", exact=True).fill("Saluran air tersumbat di RT 03.")
    page.get_by_label("Alamat atau patokan", exact=True).fill("Jl. Mawar No. 3")
    page.get_by_label(re.compile(r"^Foto dan dokumen")).set_input_files(
        [{"name": "saluran.png", "mimeType": "image/png", "buffer": png(16, 12)}])
    page.get_by_role("button", name="Simpan laporan").click()

    page.wait_for_url(re.compile(r"/staff/walk-in/receipt/"))
    shown = page.locator("#tracking-id").inner_text().strip()
    assert tracking.display(tracking.normalize(shown)) == shown
    assert "Kantor Kelurahan Alfa" in page.locator("#receipt-office").inner_text()
    assert page.locator("#receipt-date").inner_text().endswith("WIB")
    qr = page.get_by_role("img", name=f"Kode QR ke halaman laporan {shown}")
    assert qr.evaluate("img => img.complete && img.naturalWidth") > 0
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()  # the receipt prints alone
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "walk-in-receipt.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    page.emulate_media(media="screen")

    page.goto(f"/lacak/{shown}")  # what the QR code and the receipt's URL lead to
    assert page.locator("#status").inner_text() == "Menunggu"
    assert "Alfa" in page.locator(".summary").inner_text()


@pytest.mark.browser
def test_wrong_password_shows_an_error(page):
    page.goto("/staff/login")
    sign_in(page, "loket", "bukan-sandinya")
    assert "Nama pengguna atau kata sandi salah" in page.locator("[role=alert]").inner_text()
    assert page.get_by_label("Nama pengguna", exact=True).input_value() == "loket"


@pytest.mark.browser
def test_anonymous_visit_to_the_counter_form_goes_to_the_login_page(page):
    page.goto("/staff/walk-in")
    page.wait_for_url(re.compile(r"/staff/login\?next=/staff/walk-in$"))
    assert page.get_by_role("heading", name="Masuk sebagai petugas").is_visible()


@pytest.mark.browser
def test_counter_account_cannot_open_the_admin_page(page):
    page.goto("/staff/login")
    sign_in(page, "loket")
    page.wait_for_url(re.compile(r"/staff$"))
    response = page.goto("/staff/admin")
    assert response.status == 403
    assert "tidak berhak" in page.content()


@pytest.mark.browser
def test_missing_text_keeps_what_the_clerk_typed(page, staff_kanal):
    page.goto("/staff/login")
    sign_in(page, "loket")
    page.goto("/staff/walk-in")
    page.get_by_label("Nama warga", exact=True).fill("Pak Budi")
    page.get_by_role("button", name="Simpan laporan").click()
    assert "Tulis isi pengaduan warga" in page.locator("[role=alert]").inner_text()
    assert page.get_by_label("Nama warga", exact=True).input_value() == "Pak Budi"


STYLE = ("display", "borderTopWidth", "borderTopStyle", "borderTopColor", "borderRadius",
         "paddingTop", "paddingLeft", "fontSize", "fontFamily", "backgroundColor", "color")


def style_of(page, selector: str) -> dict[str, str]:
    return page.locator(selector).evaluate(
        "(el, names) => { const s = getComputedStyle(el);"
        " return Object.fromEntries(names.map(n => [n, s[n]])); }", list(STYLE))


@pytest.mark.browser
def test_every_text_input_is_styled_like_a_typed_one(page):
    """Inputs without a type attribute (and password fields) look like the typed ones."""
    page.goto("/staff/login")
    untyped = {sel: style_of(page, sel) for sel in ("#username", "#password")}
    sign_in(page, "loket")
    page.wait_for_url(re.compile(r"/staff$"))
    page.goto("/staff/walk-in")
    reference = style_of(page, "#phone")  # type=tel
    assert reference["borderTopWidth"] == "2px" and reference["display"] == "block"
    untyped.update({sel: style_of(page, sel) for sel in ("#name", "#address")})
    page.goto("/staff/lookup")
    untyped["lookup #id"] = style_of(page, "#id")
    page.goto("/staff/password")
    untyped.update({sel: style_of(page, sel) for sel in ("#current", "#new", "#repeat")})
    assert {sel: reference for sel in untyped} == untyped

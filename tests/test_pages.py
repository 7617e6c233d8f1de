"""The public pages in real headless Chromium (JavaScript off: every form must work without
it), and the English catalogue that covers every text of the templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from core import tracking
from gateway.app import create_app
from tests.adapters.web.helpers import png
from tests.browser import live_server

REPO = Path(__file__).resolve().parents[1]
PO = REPO / "gateway/locale/en/LC_MESSAGES/kanal.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


@pytest.fixture
def site(make_kanal):
    with live_server(create_app(kanal=make_kanal())) as base:
        yield base


@pytest.fixture
def page(browser, site):
    context = browser.new_context(java_script_enabled=False, base_url=site, locale="id-ID",
                                  viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_report_with_a_photo_without_javascript(page, tmp_path):
    page.goto("/lapor")
    page.get_by_label("Isi laporan", exact=True).fill("Jalan berlubang di depan pasar.")
    page.get_by_label("Kategori", exact=True).select_option("jalan-rusak")
    page.get_by_label("Alamat atau patokan", exact=True).fill("Jl. Alfa No. 3")
    page.get_by_text("Koordinat (tidak wajib)").click()
    page.get_by_label("Garis lintang", exact=True).fill("-6.205")
    page.get_by_label("Garis bujur", exact=True).fill("106.805")
    page.get_by_label("Nama", exact=True).fill("Budi Santoso")
    page.get_by_label("Foto (tidak wajib)", exact=True).set_input_files(
        [{"name": "lubang.png", "mimeType": "image/png", "buffer": png(16, 12)}])
    page.get_by_role("button", name="Kirim laporan").click()

    page.wait_for_url(re.compile(r"/lapor/terima/"))
    shown = page.locator("#tracking-id").inner_text().strip()
    assert tracking.display(tracking.normalize(shown)) == shown
    assert "Budi" not in page.content()
    page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
    assert (tmp_path / "receipt.png").stat().st_size > 0

    page.get_by_role("link", name=f"Lacak laporan {shown}").click()
    page.wait_for_url(re.compile(rf"/lacak/{shown}$"))
    assert page.locator("#status").inner_text() == "Menunggu"
    assert "Alfa" in page.locator(".summary").inner_text()
    photo = page.get_by_role("img", name=f"Foto 1 dari laporan {shown}")
    src = photo.get_attribute("src")
    fetched = page.request.get(src)
    assert fetched.ok and fetched.headers["content-type"] == "image/png"
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 16


@pytest.mark.browser
def test_empty_report_shows_errors_and_keeps_what_was_typed(page):
    page.goto("/lapor")
    page.get_by_label("Nama", exact=True).fill("Siti")
    page.get_by_label("Nomor telepon", exact=True).fill("0812 3456 7890")
    page.get_by_label("Alamat atau patokan", exact=True).fill("Jl. Beta 7")
    page.get_by_role("button", name="Kirim laporan").click()

    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert "Tulis isi laporan Anda." in summary.inner_text()
    assert page.title().startswith("Galat:")
    assert page.get_by_label("Nama", exact=True).input_value() == "Siti"
    assert page.get_by_label("Nomor telepon", exact=True).input_value() == "0812 3456 7890"
    assert page.get_by_label("Alamat atau patokan", exact=True).input_value() == "Jl. Beta 7"
    text = page.get_by_label("Isi laporan", exact=True)
    assert text.get_attribute("aria-invalid") == "true"
    assert "text-error" in text.get_attribute("aria-describedby")
    summary.get_by_role("link", name="Tulis isi laporan Anda.").click()
    assert page.url.endswith("#text")
    assert text.evaluate("el => el === document.activeElement")


@pytest.mark.browser
def test_mistyped_tracking_id_is_caught(page):
    compact = tracking.generate()
    swapped = next(compact[:i] + compact[i + 1] + compact[i] + compact[i + 2:]
                   for i in range(len(compact) - 1) if compact[i] != compact[i + 1])
    page.goto("/lacak")
    page.get_by_label("Nomor laporan", exact=True).fill(tracking.display(swapped).lower())
    page.get_by_role("button", name="Lacak", exact=True).click()
    assert "periksa kembali nomor laporan" in page.locator(".error-summary").inner_text()
    assert page.get_by_label("Nomor laporan", exact=True).input_value() == \
        tracking.display(swapped).lower()


@pytest.mark.browser
def test_english_on_request(page):
    page.goto("/lapor?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_label("Your report", exact=True).is_visible()
    page.get_by_role("button", name="Send report").click()
    assert "Describe your report." in page.locator(".error-summary").inner_text()
    page.get_by_role("link", name="Track a report").click()
    assert page.get_by_role("heading", name="Track a report").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"


@pytest.mark.browser
def test_use_my_location_button_is_an_enhancement(browser, site):
    context = browser.new_context(base_url=site, locale="id-ID", permissions=["geolocation"],
                                  geolocation={"latitude": -6.2051, "longitude": 106.8052})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/lapor")
    page.get_by_text("Koordinat (tidak wajib)").click()
    page.get_by_role("button", name="Pakai lokasi saya").click()
    lat = page.get_by_label("Garis lintang", exact=True)
    page.wait_for_function("() => document.getElementById('lon').value !== ''")
    assert float(lat.input_value()) == pytest.approx(-6.2051)
    assert errors == []  # e.g. no Content-Security-Policy violations
    context.close()


def _template_msgids() -> set[str]:
    found = extract_from_dir(str(REPO / "gateway/templates"),
                             method_map=[("**.html", "jinja2")], keywords={"_": None})
    return {message if isinstance(message, str) else message[0]
            for _, _, message, _, _ in found}


def test_every_template_text_has_an_english_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    english = {m.id: m for m in catalog if m.id}
    ids = _template_msgids()
    assert len(ids) > 50, "the extractor found too few texts: is the jinja2 method loaded?"
    missing = sorted(i for i in ids if i not in english or not english[i].string
                     or english[i].fuzzy)
    assert missing == []
    for msgid in ids:
        assert (sorted(PLACEHOLDER.findall(msgid))
                == sorted(PLACEHOLDER.findall(english[msgid].string))), msgid

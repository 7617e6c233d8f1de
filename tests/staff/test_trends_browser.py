"""The trends in real headless Chromium, without JavaScript: a supervisor signs in, opens
the seasonal view of flood reports and sees the chart (12 bars, the rainy months tallest)
and the table behind it, then changes the bucket of the trend with the form."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from tests.browser import live_server
from tests.staff.test_browser import ARTIFACTS, sign_in
from tests.trenddata import RAINY, insert, rainy_years


@pytest.fixture
def site(staff_kanal):
    insert(staff_kanal.engine, rainy_years(range(2023, 2026)))
    with live_server(create_app(kanal=staff_kanal)) as base:
        yield base


@pytest.mark.browser
def test_a_supervisor_reads_the_rainy_season_off_the_chart(browser, site):
    context = browser.new_context(java_script_enabled=False, base_url=site, locale="id-ID",
                                  viewport={"width": 1024, "height": 900})
    page = context.new_page()
    page.goto("/staff/trends/seasonal?from=2023&to=2025")
    sign_in(page, "super1")
    assert page.url.endswith("/staff/trends/seasonal?from=2023&to=2025")
    chart = page.locator("svg#seasonal-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    bars = page.locator("svg#seasonal-chart rect.bar")
    assert bars.count() == 12
    heights = [bars.nth(i).bounding_box()["height"] for i in range(12)]
    tallest = sorted(range(12), key=lambda i: -heights[i])[:5]
    assert {i + 1 for i in tallest} == set(RAINY)
    assert page.locator("#seasonal-table tbody tr").count() == 12
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trends-seasonal.png"), full_page=True)
    page.get_by_role("link", name="Menurut waktu").click()
    page.get_by_label("Sampai tanggal").fill("2025-12-31")
    page.get_by_label("Dari tanggal").fill("2025-01-01")
    page.get_by_label("Dihitung per").select_option("month")
    page.get_by_role("button", name="Tampilkan").click()
    assert page.locator("svg#trend-chart circle.point").count() == 12 * 2  # two categories
    assert page.locator("#trend-table tbody tr").count() == 12
    context.close()

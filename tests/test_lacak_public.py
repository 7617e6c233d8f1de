"""/lacak/{id}: the whole public timeline of a finished case (every status with its date
and the unit holding it), the proof photo and the rating, and nothing of the officers."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from core import rating, tracking
from core.db import writing
from gateway.app import create_app
from tests.casework import (DINAS, KELURAHAN, SUDIN, accounts, case, clock, drive,  # noqa: F401
                            kanal, report_in_alfa)

TIME = re.compile(r'<time datetime="([^"]+)">')


def test_the_tracking_page_shows_every_step_its_unit_the_proof_and_the_rating(kanal, accounts,
                                                                              clock):
    compact = report_in_alfa(kanal)
    drive(kanal, accounts, compact, "Selesai", step=timedelta(hours=2))
    clock.now += timedelta(hours=1)
    with writing(kanal.engine) as conn:
        rating.rate(kanal.cases, conn, case(kanal, compact), 4, None, "web", kanal.clock())
    shown = tracking.display(compact)
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        view = client.get(f"/api/v1/reports/{shown}").json()
        html = client.get(f"/lacak/{shown}").text
    steps = html[html.index('<ol class="timeline">'):html.index("</ol>")]
    items = steps.split("<li>")[1:]
    assert len(items) == len(view["timeline"]) >= 7
    for item, entry in zip(items, view["timeline"]):
        # each step with its date (WIB), its status and the unit that held the case
        assert TIME.search(item).group(1) == entry["at"]
        if entry["status"]:
            assert f'<span class="status">{entry["status"]}</span>' in item
        if entry["unit"]:
            assert f'<span class="unit">{entry["unit"]["name"]}</span>' in item
    statuses = [e["status"] for e in view["timeline"]]
    assert statuses[:2] == ["Menunggu", "Menunggu"] and statuses[-2:] == ["Selesai", "Selesai"]
    assert {"Koordinasi", "Disposisi", "Proses", "Menunggu Verifikasi"} <= set(statuses)
    units = {e["unit"]["id"] for e in view["timeline"] if e["unit"]}
    assert {KELURAHAN, DINAS, SUDIN} <= units
    assert "Dinas Bina Marga" in steps
    [proof] = view["proof_photos"]
    assert f'<img src="{proof["url"]}"' in html
    assert view["rating"]["score"] == 4
    rated = html[html.index('id="rating"'):]
    assert rated.startswith('id="rating">4/5 · <time datetime="' + view["rating"]["at"])
    assert "ptg-" not in html  # no officer's account name

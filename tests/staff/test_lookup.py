"""The counter's lookup page shows what the officers need about a report."""

from __future__ import annotations

from tests.conftest import JAKI_KEY
from tests.staff.conftest import sign_in


def test_lookup_shows_the_apps_own_category_name(staff_client):
    r = staff_client.post("/api/v1/jaki/reports", headers={
        "Authorization": f"Bearer {JAKI_KEY}"}, json={
        "external_id": "lookup-1", "text": "Kabel menjuntai ke jalan",
        "category": "Kabel Utilitas Semrawut", "location": {"lat": -6.205, "lon": 106.805}})
    assert r.status_code == 201, r.text
    tid = r.json()["tracking_id"]
    sign_in(staff_client, "loket")
    page = staff_client.get(f"/staff/lookup?id={tid}")
    assert page.status_code == 200
    assert "Lainnya" in page.text and "Kabel Utilitas Semrawut" in page.text
    public = staff_client.get(f"/lacak/{tid}")
    assert public.status_code == 200 and "Kabel Utilitas Semrawut" not in public.text

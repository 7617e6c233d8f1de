from core import tracking


def test_jaki_report_round_trip(client, jaki_auth):
    r = client.post("/api/v1/jaki/reports", headers=jaki_auth, json={
        "external_id": "a1", "text": "Jalan berlubang", "category": "jalan-rusak",
        "location": {"lat": -6.205, "lon": 106.805}, "reporter": {"app_user_id": "u1"}})
    assert r.status_code == 201, r.text
    tid = r.json()["tracking_id"]
    assert tracking.normalize(tid)
    v = client.get(f"/api/v1/reports/{tid}")
    assert v.status_code == 200, v.text
    assert v.json()["kelurahan"] == {"code": "31.71.01.1001", "name": "Alfa"}

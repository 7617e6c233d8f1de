"""Staff sign-in, sessions, CSRF and the role guard on every /staff route."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from core import staff
from core.db import writing
from gateway import auth
from gateway.app import create_app
from tests.staff.conftest import PASSWORD, csrf_of, sign_in

# the only /staff routes anyone may open
PUBLIC = {("/staff/login", "GET"), ("/staff/login", "POST")}


def api_routes(routes):
    """Every APIRoute, also inside included routers (FastAPI 0.16x keeps those apart)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)


def staff_routes(app) -> list[tuple[str, str, APIRoute]]:
    found = [(r.path, m, r) for r in api_routes(app.routes)
             if r.path.startswith("/staff") for m in sorted(r.methods)]
    assert found, "no /staff routes found: has FastAPI changed how it keeps routers?"
    return found


def guard_of(route: APIRoute):
    found = [d.call for d in route.dependant.dependencies if hasattr(d.call, "kanal_guard")]
    return found[0] if found else None


def test_every_staff_route_declares_the_guard(staff_client):
    routes = staff_routes(staff_client.app)
    assert {(p, m) for p, m, _ in routes} >= {
        ("/staff", "GET"), ("/staff/walk-in", "GET"), ("/staff/walk-in", "POST"),
        ("/staff/lookup", "GET"), ("/staff/admin", "GET"), ("/staff/logout", "POST"),
        ("/staff/walk-in/receipt/{tracking_id}", "GET")}
    unguarded = [(p, m) for p, m, r in routes if (p, m) not in PUBLIC and guard_of(r) is None]
    assert unguarded == []


def test_no_staff_route_is_reachable_anonymously(staff_client):
    """Walks the route table: a route added later cannot forget its guard."""
    for path, method, route in staff_routes(staff_client.app):
        if (path, method) in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "JK7Q-M4XA-9", path)
        r = staff_client.request(method, url, data={"text": "x"} if method == "POST" else None)
        _, keep_form = guard_of(route).kanal_guard
        if keep_form:  # the form comes back unsaved, asking to sign in
            assert r.status_code == 401, (method, path)
            assert "Sesi Anda telah berakhir" in r.text
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/staff/login"), (method, path)


def test_sign_in_and_out(staff_client):
    r = sign_in(staff_client, "loket")
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    home = staff_client.get("/staff")
    assert home.status_code == 200 and "Selamat datang, loket" in home.text
    assert "Kantor Kelurahan Alfa" in home.text
    out = staff_client.post("/staff/logout", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303
    assert staff_client.get("/staff").status_code == 303


def test_wrong_password_shows_an_error(staff_client):
    r = sign_in(staff_client, "loket", "salah-sekali-sandi")
    assert r.status_code == 401 and "Nama pengguna atau kata sandi salah" in r.text
    assert 'value="loket"' in r.text  # the username is kept
    assert sign_in(staff_client, "tidak-ada", "salah-sekali-sandi").status_code == 401


def test_login_without_csrf_token_is_refused(staff_client):
    r = staff_client.post("/staff/login", data={"username": "loket", "password": PASSWORD})
    assert r.status_code == 403 and "Formulir sudah kedaluwarsa" in r.text


def test_logout_without_csrf_token_is_refused(staff_client):
    sign_in(staff_client, "loket")
    assert staff_client.post("/staff/logout", data={}).status_code == 403
    assert staff_client.get("/staff").status_code == 200  # still signed in


def test_repeated_failed_logins_are_throttled(staff_client):
    for _ in range(5):
        assert sign_in(staff_client, "loket", "salah-sekali-sandi").status_code == 401
    r = sign_in(staff_client, "loket")  # even the right password waits now
    assert r.status_code == 429 and "Terlalu banyak percobaan" in r.text
    assert int(r.headers["retry-after"]) > 0
    assert sign_in(staff_client, "admin1").status_code == 303  # other accounts are not


def test_counter_cannot_open_the_admin_page(staff_client):
    sign_in(staff_client, "loket")
    r = staff_client.get("/staff/admin")
    assert r.status_code == 403 and "tidak berhak" in r.text


def test_admin_page_lists_channels_and_accounts(staff_client):
    sign_in(staff_client, "admin1")
    r = staff_client.get("/staff/admin")
    assert r.status_code == 200
    assert "kantor-kelurahan" in r.text and "loketkec" in r.text


def test_officer_cannot_file_walk_in_reports(staff_client):
    sign_in(staff_client, "officer1")
    assert staff_client.get("/staff/walk-in").status_code == 403


def test_anonymous_visit_is_sent_to_login_and_back(staff_client):
    r = staff_client.get("/staff/walk-in")
    assert r.status_code == 303 and r.headers["location"] == "/staff/login?next=/staff/walk-in"
    page = staff_client.get(r.headers["location"])
    assert 'name="next" value="/staff/walk-in"' in page.text
    done = staff_client.post("/staff/login", data={
        "username": "loket", "password": PASSWORD, "csrf": csrf_of(page.text),
        "next": "/staff/walk-in"})
    assert done.headers["location"] == "/staff/walk-in"


def test_next_never_leaves_the_staff_pages(staff_client):
    page = staff_client.get("/staff/login")
    r = staff_client.post("/staff/login", data={
        "username": "loket", "password": PASSWORD, "csrf": csrf_of(page.text),
        "next": "//evil.example/staff"})
    assert r.headers["location"] == "/staff"


def test_new_password_or_disabling_ends_sessions(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    assert staff_client.get("/staff").status_code == 200
    with writing(staff_kanal.engine) as conn:
        staff.set_password(conn, "loket", "kata-sandi-yang-baru")
    r = staff_client.get("/staff")
    assert r.status_code == 303 and "expired=1" in r.headers["location"]
    assert "Sesi Anda telah berakhir" in staff_client.get(r.headers["location"]).text
    sign_in(staff_client, "loket", "kata-sandi-yang-baru")
    assert staff_client.get("/staff").status_code == 200
    with writing(staff_kanal.engine) as conn:
        staff.set_active(conn, "loket", False)
    assert staff_client.get("/staff").status_code == 303
    assert sign_in(staff_client, "loket", "kata-sandi-yang-baru").status_code == 401


def test_expired_session_cookie_asks_to_sign_in_again(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    staff_kanal.auth.max_age = -1  # every cookie is now too old
    r = staff_client.get("/staff/lookup")
    assert r.status_code == 303 and "expired=1" in r.headers["location"]


def test_tampered_cookie_is_no_session(staff_client):
    sign_in(staff_client, "loket")
    value = staff_client.cookies.get(auth.COOKIE)
    staff_client.cookies.set(auth.COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert staff_client.get("/staff").status_code == 303


def test_cookie_is_secure_over_https(staff_kanal):
    with TestClient(create_app(kanal=staff_kanal, run_workers=False),
                    base_url="https://testserver", follow_redirects=False) as client:
        r = client.get("/staff/login")
        assert "secure" in r.headers["set-cookie"].lower()


def test_secret_key_is_made_once_and_kept(settings, tmp_path):
    s = settings.model_copy(update={"data_dir": tmp_path / "d", "secret_key": None})
    first = auth.secret_key(s)
    assert auth.secret_key(s) == first and len(first) > 40
    assert oct((tmp_path / "d" / "secret_key").stat().st_mode)[-3:] == "600"


def test_lookup_of_unknown_ids(staff_client):
    from core import tracking

    sign_in(staff_client, "loket")
    unknown = tracking.display(tracking.generate())
    valid = tracking.normalize(unknown)
    typo = tracking.display(("A" if valid[0] != "A" else "B") + valid[1:])
    for value, says in ((unknown, "tidak ditemukan"), ("abc", "bukan nomor laporan"),
                        (typo, "salah ketik")):
        r = staff_client.get(f"/staff/lookup?id={value}")
        assert r.status_code == 404 and says in r.text, value


def change_password(client, current: str, new: str, repeat: str | None = None,
                    csrf: bool = True):
    page = client.get("/staff/password")
    assert page.status_code == 200
    data = {"current": current, "new": new, "repeat": new if repeat is None else repeat}
    if csrf:
        data["csrf"] = csrf_of(page.text)
    return client.post("/staff/password", data=data)


def test_staff_change_their_own_password(staff_client, staff_kanal):
    sign_in(staff_client, "loket")
    other = TestClient(staff_client.app, follow_redirects=False)  # a second browser
    sign_in(other, "loket")
    r = change_password(staff_client, PASSWORD, "sandi-baru-loket-1")
    assert r.status_code == 200 and "Kata sandi sudah diganti" in r.text
    assert staff_client.get("/staff").status_code == 200  # this session goes on
    assert other.get("/staff").status_code == 303  # the other one ended
    fresh = TestClient(staff_client.app, follow_redirects=False)
    assert sign_in(fresh, "loket").status_code == 401
    assert sign_in(fresh, "loket", "sandi-baru-loket-1").status_code == 303


@pytest.mark.parametrize("current, new, repeat, csrf, status, says", [
    ("salah-sekali-sandi", "sandi-baru-loket-1", None, True, 401, "Kata sandi sekarang salah"),
    (PASSWORD, "sandi-baru-loket-1", "sandi-lain-loket-2", True, 422, "tidak sama"),
    (PASSWORD, "pendek", None, True, 422, "paling sedikit 10"),
    (PASSWORD, "sandi-baru-loket-1", None, False, 403, "kedaluwarsa"),
])
def test_password_change_refusals_change_nothing(staff_client, current, new, repeat, csrf,
                                                 status, says):
    sign_in(staff_client, "loket")
    r = change_password(staff_client, current, new, repeat, csrf)
    assert r.status_code == status and says in r.text
    assert sign_in(TestClient(staff_client.app, follow_redirects=False),
                   "loket").status_code == 303  # the old password still works


def test_processes_starting_together_share_one_secret_key(settings, tmp_path):
    import threading

    s = settings.model_copy(update={"data_dir": tmp_path / "shared-data", "secret_key": None})
    keys, start = [], threading.Barrier(8)

    def make():
        start.wait()
        keys.append(auth.secret_key(s))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys) == 8
    assert [p.name for p in (tmp_path / "shared-data").iterdir()] == ["secret_key"]

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
        guard = guard_of(route)
        _, keep_form = guard.kanal_guard
        if getattr(guard, "kanal_bearer", False):  # the officers' API: a token, no cookie
            assert r.status_code == 401, (method, path)
            assert r.headers["www-authenticate"] == "Bearer", (method, path)
        elif keep_form:  # the form comes back unsaved, asking to sign in
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


def browser_at(client: TestClient, host: str) -> TestClient:
    """Another browser on the same app, from ``host``."""
    return TestClient(client.app, client=(host, 50000), follow_redirects=False)


def test_a_stranger_cannot_lock_the_owner_out(staff_client):
    attacker = browser_at(staff_client, "198.51.100.7")
    assert [sign_in(attacker, "loket", f"tebakan-ke-{n}").status_code
            for n in range(8)] == [401] * 5 + [429] * 3
    assert sign_in(attacker, "loket").status_code == 429  # the attacker waits, right or not
    owner = browser_at(staff_client, "203.0.113.20")
    assert sign_in(owner, "loket", "salah-ketik-sekali").status_code == 401
    assert sign_in(owner, "loket").status_code == 303
    assert owner.get("/staff").status_code == 200


def test_the_owner_of_another_ipv6_64_signs_in(staff_client):
    for n in range(1, 6):  # five addresses of one /64 are one client
        attacker = browser_at(staff_client, f"2001:db8:bad:1::{n}")
        assert sign_in(attacker, "loket", "tebakan-salah").status_code == 401
    assert sign_in(browser_at(staff_client, "2001:db8:bad:1::99"), "loket").status_code == 429
    assert sign_in(browser_at(staff_client, "2001:db8:600d:1::1"), "loket").status_code == 303


def test_one_address_guessing_many_accounts_waits(staff_client):
    for n in range(30):  # 30 names, each failed once, from one /64
        guesser = browser_at(staff_client, f"2001:db8:5:5::{n + 1:x}")
        assert sign_in(guesser, f"pengguna{n}", "tebakan-salah").status_code == 401
    r = sign_in(browser_at(staff_client, "2001:db8:5:5::ffff"), "admin1")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert sign_in(browser_at(staff_client, "2001:db8:5:6::1"), "admin1").status_code == 303


def test_guessing_spread_over_many_addresses_meets_the_account_ceiling(staff_client,
                                                                       staff_kanal):
    staff_kanal.auth.sign_in = auth.SignInThrottle(account_limit=12)  # 100 by default
    for n in range(12):  # 3 tries from each of 4 addresses: each stays under its limits
        attacker = browser_at(staff_client, f"198.51.100.{n // 3 + 1}")
        assert sign_in(attacker, "loket", "tebakan-salah").status_code == 401
    r = sign_in(browser_at(staff_client, "203.0.113.20"), "loket")
    assert r.status_code == 429  # the ceiling is across all addresses
    assert sign_in(browser_at(staff_client, "203.0.113.20"), "admin1").status_code == 303


def test_unknown_usernames_are_throttled_like_known_ones(staff_client, monkeypatch):
    verified, real = [], staff._hasher

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, stored, password):
            verified.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(staff, "_hasher", Counting())
    guesser = browser_at(staff_client, "198.51.100.9")
    for name in ("tidak-ada", "loket"):
        assert [sign_in(guesser, name, "tebakan-salah").status_code
                for _ in range(6)] == [401] * 5 + [429]
    assert len(verified) == 10  # a hash is checked for the unknown name too, never skipped


@pytest.mark.parametrize("limits, tries, then", [
    ({"pair_limit": 5}, [("loket", "a")] * 5, {("loket", "a"): True, ("loket", "b"): False,
                                                ("admin1", "a"): False}),
    ({"client_limit": 30}, [(f"u{n}", "a") for n in range(30)],
     {("loket", "a"): True, ("loket", "b"): False}),
    ({"account_limit": 100}, [("loket", f"10.0.{n // 4}.{n % 4}") for n in range(100)],
     {("loket", "b"): True, ("admin1", "b"): False}),
], ids=["per_username_and_address", "per_address", "per_username_ceiling"])
def test_sign_in_throttle_limits(limits, tries, then):
    now = [0.0]
    throttle = auth.SignInThrottle(clock=lambda: now[0])
    assert all(getattr(throttle, k).limit == v for k, v in
               {"pair": 5, "client": 30, "account": 100}.items())  # the defaults
    for username, host in tries:
        assert throttle.wait(username, host) == 0
        throttle.fail(username, host)
    for (username, host), waits in then.items():
        assert bool(throttle.wait(username, host)) is waits, (username, host)
    now[0] = 15 * 60 + 1  # the window has passed
    assert all(throttle.wait(u, h) == 0 for u, h in then)


def test_a_success_clears_only_its_own_username_and_address():
    throttle = auth.SignInThrottle()
    for _ in range(4):
        throttle.fail("loket", "203.0.113.20")
        throttle.fail("loket", "198.51.100.7")
    throttle.succeeded("Loket ", "203.0.113.20")
    throttle.fail("loket", "198.51.100.7")
    assert throttle.wait("loket", "203.0.113.20") == 0
    assert throttle.wait("loket", "198.51.100.7") > 0
    assert len(throttle.account._recent("loket")) == 9  # the ceiling still counts them all


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


def test_guessing_through_a_stolen_session_waits_but_locks_nobody_out(staff_client):
    thief = browser_at(staff_client, "198.51.100.7")
    sign_in(thief, "loket")
    assert [change_password(thief, f"tebakan-ke-{n}", "sandi-baru-loket-1").status_code
            for n in range(6)] == [401] * 5 + [429]
    r = change_password(thief, PASSWORD, "sandi-baru-loket-1")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "Terlalu banyak percobaan" in r.text
    assert sign_in(thief, "loket").status_code == 429  # the same counts as signing in
    owner = browser_at(staff_client, "203.0.113.20")
    assert sign_in(owner, "loket").status_code == 303
    assert change_password(owner, PASSWORD, "sandi-baru-loket-1").status_code == 200


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

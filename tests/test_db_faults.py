"""Database faults: a PostgreSQL that is cut or stalled (through a TCP proxy the test
controls) and a SQLite file locked by another writer. Every request gets an answer within
the configured bound, 503 with Retry-After where the database is needed; routes that do
not need it keep answering; nothing acknowledged is lost or doubled; the server recovers
by itself."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections import Counter

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core import tracking
from core.db import make_engine, normalize_url, upgrade
from core.models import InboxItem, Report
from tests.conftest import PG_URL, TEST_ENV, private_schema
from tests.faultproxy import FaultProxy
from tests.serving import SERVE_KEY, free_port, kanal_serve, wait_for

LIMITS = {"KANAL_DB_CONNECT_TIMEOUT": "1", "KANAL_DB_STATEMENT_TIMEOUT": "2",
          "KANAL_DB_LOCK_TIMEOUT": "1", "KANAL_DB_RETRY_AFTER": "3"}
BOUND = 1 + 2  # connect + statement: the longest a request may wait for the database
MARGIN = 2.5  # a loaded 2-core machine
JAKI = {"Authorization": f"Bearer {SERVE_KEY}"}
NEEDS_DB = ("webhook", "jaki", "report", "lacak")


def jaki_body(external_id: str) -> dict:
    return {"external_id": external_id, "text": "Jalan berlubang",
            "category": "jalan-rusak", "location": {"lat": -6.205, "lon": 106.805}}


class Load:
    """Mixed requests from ``clients`` concurrent clients for ``seconds``."""

    def __init__(self, base: str, tracking_id: str, prefix: str):
        self.base, self.tracking_id, self.prefix = base, tracking_id, prefix
        self.results: list[tuple[str, str, int | None, float, httpx.Headers | None]] = []
        self.sent_ids: list[str] = []
        self.counter = 0

    def request(self, kind: str) -> tuple[str, str, dict]:
        self.counter += 1
        key = f"{self.prefix}-{self.counter}"
        if kind == "webhook":
            self.sent_ids.append(key)
            return "POST", "/webhooks/fake", {"json": {"id": key, "from": "warga",
                                                     "text": "Sampah menumpuk"}}
        if kind == "jaki":
            return "POST", "/api/v1/jaki/reports", {"json": jaki_body(key), "headers": JAKI}
        if kind == "report":
            return "GET", f"/api/v1/reports/{self.tracking_id}", {}
        if kind == "lacak":
            return "GET", f"/lacak/{self.tracking_id}", {"headers": {"Accept": "text/html"}}
        return "GET", f"/{kind}", {}

    async def run(self, clients: int = 24, seconds: float = 5.0) -> None:
        kinds = ["webhook", "jaki", "report", "lacak", "healthz", "readyz"]
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(base_url=self.base, timeout=BOUND + 20,
                                     limits=httpx.Limits(max_connections=clients)) as client:
            async def one(n: int) -> None:
                i = n
                while time.monotonic() < deadline:
                    kind = kinds[i % len(kinds)]
                    i += 1
                    method, path, kw = self.request(kind)
                    started = time.monotonic()
                    try:
                        r = await client.request(method, path, **kw)
                        status, headers = r.status_code, r.headers
                    except httpx.HTTPError as exc:
                        status, headers = None, None
                        kind = f"{kind}: {type(exc).__name__}"
                    self.results.append((kind, path, status, time.monotonic() - started,
                                         headers))

            await asyncio.gather(*(one(n) for n in range(clients)))

    def check_answered_within_bound(self) -> None:
        unanswered = [r for r in self.results if r[2] is None]
        assert not unanswered, f"requests without an answer: {unanswered[:5]}"
        slow = [(k, round(t, 2)) for k, _, _, t, _ in self.results if t > BOUND + MARGIN]
        assert not slow, f"answered after the bound: {slow[:10]}"
        for kind, path, status, elapsed, headers in self.results:
            if kind in NEEDS_DB or kind == "readyz":
                assert status in (200, 201, 503), (kind, path, status)
                if status == 503:
                    assert headers.get("retry-after") == LIMITS["KANAL_DB_RETRY_AFTER"]
            if kind == "healthz":
                assert status == 200
        statuses = Counter((k, s) for k, _, s, _, _ in self.results)
        assert statuses[("webhook", 503)] and statuses[("jaki", 503)], statuses
        # the liveness route never waits for the database
        worst = max(t for k, _, _, t, _ in self.results if k == "healthz")
        assert worst < 1.5, f"/healthz took {worst:.2f} s"


def redeliver_until_stored(base: str, ids: list[str]) -> None:
    """What a provider does after a 503: send again until it gets a 2xx."""
    with httpx.Client(base_url=base, timeout=BOUND + 10) as client:
        for key in ids:
            def stored():
                r = client.post("/webhooks/fake",
                                json={"id": key, "from": "warga", "text": "Sampah menumpuk"})
                return r.status_code in (200, 201)
            wait_for(stored, timeout=20, what=f"webhook {key} to be taken")


def assert_once_each(url: str, ids: list[str]) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            inbox = InboxItem.__table__
            rows = conn.execute(select(inbox.c.external_id, func.count()).where(
                inbox.c.channel == "fake", inbox.c.external_id.in_(ids))
                .group_by(inbox.c.external_id)).all()
            reports = conn.execute(select(func.count()).select_from(Report.__table__)
                                   .where(Report.__table__.c.channel == "fake")).scalar()
    finally:
        engine.dispose()
    counts = dict(rows)
    assert set(counts) == set(ids), f"lost: {sorted(set(ids) - set(counts))[:5]}"
    assert set(counts.values()) == {1}, "a payload was stored twice"
    assert reports == len(ids), f"{reports} reports for {len(ids)} payloads"


# -- PostgreSQL behind a proxy that can be cut or stalled ---------------------------------


@pytest.fixture
def proxied_pg():
    if not PG_URL:
        pytest.skip("KANAL_TEST_DATABASE_URL is not set")
    with private_schema("kanal_faults") as direct:
        upgrade(direct)
        parsed = make_url(direct)
        proxy = FaultProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        through = parsed.set(host="127.0.0.1", port=proxy.port)
        try:
            yield proxy, through.render_as_string(hide_password=False), direct
        finally:
            proxy.close()


@pytest.mark.postgres_only
@pytest.mark.parametrize("fault", ["cut", "stall"])
def test_postgresql_fault_under_load(proxied_pg, tmp_path, fault):
    proxy, url, direct = proxied_pg
    with kanal_serve(url, tmp_path, **LIMITS) as base:
        first = httpx.post(f"{base}/api/v1/jaki/reports", json=jaki_body("before"),
                           headers=JAKI, timeout=10)
        assert first.status_code == 201, first.text
        tracking_id = first.json()["tracking_id"]
        before = httpx.post(f"{base}/webhooks/fake", timeout=10,
                            json={"id": "before", "from": "warga", "text": "x"})
        assert before.status_code == 201

        getattr(proxy, fault)()
        load = Load(base, tracking_id, fault)
        asyncio.run(load.run())
        load.check_answered_within_bound()
        health = httpx.get(f"{base}/healthz", timeout=2).json()
        assert health["ok"] is True and health["database"] == "unavailable"
        assert httpx.get(f"{base}/readyz", timeout=BOUND + MARGIN).status_code == 503

        proxy.restore()
        wait_for(lambda: httpx.get(f"{base}/readyz", timeout=BOUND + MARGIN)
                 .status_code == 200, timeout=20, what="the server to recover by itself")
        assert httpx.get(f"{base}/api/v1/reports/{tracking_id}", timeout=5).status_code == 200
        after = httpx.post(f"{base}/webhooks/fake", timeout=10,
                           json={"id": "after", "from": "warga", "text": "x"})
        assert after.status_code == 201
        redeliver_until_stored(base, load.sent_ids)
    assert_once_each(direct, ["before", "after", *load.sent_ids])


# -- SQLite locked by another writer -------------------------------------------------------


def test_sqlite_locked_by_another_writer(sqlite_template, tmp_path):
    path = tmp_path / "kanal.sqlite3"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    with kanal_serve(url, tmp_path, **LIMITS) as base:
        first = httpx.post(f"{base}/api/v1/jaki/reports", json=jaki_body("before"),
                           headers=JAKI, timeout=10)
        assert first.status_code == 201
        tracking_id = first.json()["tracking_id"]

        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = time.monotonic()
            r = httpx.post(f"{base}/webhooks/fake", timeout=BOUND + 10,
                           json={"id": "locked", "from": "warga", "text": "x"})
            assert r.status_code == 503, r.text
            assert time.monotonic() - started < BOUND + MARGIN
            assert r.headers["retry-after"] == "3"
            assert r.json()["error"] == "database_unavailable"
            # readers are not held up by a writer (WAL), nor is the liveness route
            assert httpx.get(f"{base}/api/v1/reports/{tracking_id}", timeout=5).status_code == 200
            assert httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        finally:
            other.execute("ROLLBACK")
            other.close()
        redeliver_until_stored(base, ["locked"])
    assert_once_each(url, ["locked"])


# -- A database that is not there at all (no server needed) -------------------------------


@pytest.fixture
def nowhere(tmp_path):
    """Settings for a PostgreSQL URL on a port where nothing listens."""
    from core.settings import KanalSettings
    from tests.conftest import FIXTURES

    return KanalSettings(
        _env_file=None, database_url=f"postgresql://127.0.0.1:{free_port()}/test",
        config=FIXTURES / "channels.yaml", data_dir=tmp_path / "data", scheduler=False,
        db_connect_timeout=1, db_statement_timeout=1, db_lock_timeout=1, db_retry_after=7)


def test_database_down_answers_503_with_retry_after(nowhere):
    from gateway.app import create_app
    from gateway.runtime import Kanal

    kanal = Kanal(nowhere, env=TEST_ENV)
    with TestClient(create_app(kanal=kanal), raise_server_exceptions=False) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["database"] == "unavailable"
        for method, path, kw in [
            ("POST", "/webhooks/fake", {"json": {"id": "a", "from": "w", "text": "x"}}),
            ("POST", "/api/v1/jaki/reports",
             {"json": jaki_body("d1"), "headers": {"Authorization": "Bearer test-jaki-key"}}),
            ("GET", f"/api/v1/reports/{tracking.generate()}", {}),
        ]:
            r = client.request(method, path, **kw)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["retry-after"] == "7"
            assert r.json()["error"] == "database_unavailable"
        page = client.get(f"/lacak/{tracking.generate()}",
                          headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status_code == 503 and page.headers["retry-after"] == "7"
        assert page.headers["content-type"].startswith("text/html")
        assert "Layanan sedang gangguan" in page.text
        assert "127.0.0.1" not in page.text  # no hosts or ports for the public
        form = client.post("/lapor", data={"text": "Jalan rusak"},
                           headers={"Accept": "text/html"})
        assert form.status_code == 503 and "sedang gangguan" in form.text
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"] == "7"
        assert "127.0.0.1" not in ready.text and "127.0.0.1" not in health.text
        assert ready.json()["ready"] is False
    assert kanal.started_up is False  # the sweep does the start-up work once it answers


def test_readiness_and_liveness_when_the_database_answers(client):
    assert client.get("/healthz").json() == {"ok": True, "database": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_statement_and_lock_bounds_reach_postgresql():
    if not PG_URL:
        pytest.skip("KANAL_TEST_DATABASE_URL is not set")
    from core.dbguard import DbLimits

    engine = make_engine(normalize_url(PG_URL), limits=DbLimits(statement=1.5, lock=0.5))
    try:
        with engine.connect() as conn:
            shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                     for name in ("statement_timeout", "lock_timeout")}
            assert shown == {"statement_timeout": "1500ms", "lock_timeout": "500ms"}
            started = time.monotonic()
            with pytest.raises(Exception, match="statement timeout"):
                conn.exec_driver_sql("SELECT pg_sleep(5)")
            assert time.monotonic() - started < 3
    finally:
        engine.dispose()


class LockedOnce:
    """A plugin whose database work times out on a lock while ``locked`` is set."""

    from core.hookspecs import hookimpl

    locked = True

    @hookimpl
    def kanal_classify(self, message):
        if self.locked:
            raise OperationalError("UPDATE report ...", {}, Exception("database is locked"))
        return None


def test_a_database_fault_never_quarantines_a_good_payload(make_kanal):
    from gateway.app import create_app

    plugin = LockedOnce()
    kanal = make_kanal(extra_plugins=(plugin,))
    body = {"id": "p1", "from": "warga", "text": "Lampu jalan mati"}
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        r = client.post("/webhooks/fake", json=body)
        assert r.status_code == 503 and r.headers["retry-after"]
        with kanal.engine.connect() as conn:
            row = conn.execute(select(InboxItem.__table__)).one()
        assert row.status == "pending" and row.error is None  # kept, not quarantined
        plugin.locked = False
        again = client.post("/webhooks/fake", json=body)  # the provider's retry
        assert again.status_code == 200 and again.json()["tracking_id"]
    with kanal.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Report.__table__)).scalar() == 1

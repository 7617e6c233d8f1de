"""Shared fixtures. Every database test runs on SQLite, and again on PostgreSQL when
KANAL_TEST_DATABASE_URL is set (CI sets it)."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db import make_engine, normalize_url, upgrade
from core.models import metadata
from core.settings import KanalSettings

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
PG_URL = os.environ.get("KANAL_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
JAKI_KEY = "test-jaki-key"
TEST_ENV = {"KANAL_JAKI_API_KEY": JAKI_KEY}



def with_search_path(url: str, schema: str) -> str:
    parsed = make_url(normalize_url(url))
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@contextmanager
def private_schema(prefix: str):
    """A fresh PostgreSQL schema; yields a URL whose search_path is that schema."""
    if not PG_URL:
        pytest.skip("KANAL_TEST_DATABASE_URL is not set")
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_schema_url():
    """A private schema, migrated once per session and dropped at the end."""
    with private_schema("kanal_test") as url:
        upgrade(url)
        yield url


def _truncate_pg(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "kanal.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def settings(database_url, tmp_path) -> KanalSettings:
    return KanalSettings(
        _env_file=None,
        database_url=database_url,
        config=FIXTURES / "channels.yaml",
        boundaries=FIXTURES / "boundaries_small.geojson",
        data_dir=tmp_path / "data",
        scheduler=False,
        web_rate_per_minute=600,
        web_rate_burst=100,
    )


@pytest.fixture
def make_kanal(settings):
    from gateway.runtime import Kanal

    built = []

    def factory(**kw):
        s = kw.pop("settings", settings)
        kanal = Kanal(s, env=kw.pop("env", TEST_ENV), **kw)
        built.append(kanal)
        return kanal

    yield factory
    for kanal in built:
        kanal.stop()
        kanal.engine.dispose()


@pytest.fixture
def kanal(make_kanal):
    return make_kanal()


@pytest.fixture
def client(kanal):
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    with TestClient(create_app(kanal=kanal)) as c:
        yield c


@pytest.fixture
def fake(kanal):
    """The FakeChannel adapter of the running kanal."""
    return kanal.adapters["fake"]


@pytest.fixture
def jaki_auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {JAKI_KEY}"}


@pytest.fixture(scope="module")
def browser():
    """Real headless Chromium, one per test module (``tests.browser``)."""
    from tests.browser import launch

    with launch() as b:
        yield b

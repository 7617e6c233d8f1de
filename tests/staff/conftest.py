"""A kanal with the five walk-in channels, offices from the small boundaries fixture, and
one account of each role (password ``PASSWORD``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from core import offices, staff
from core.db import writing
from gateway.app import create_app

FIXTURES = Path(__file__).parents[1] / "fixtures"
PASSWORD = "kata-sandi-rahasia"
WALK_IN = [("pendopo-balai-kota", 9, "Pendopo Balai Kota"),
           ("kantor-walikota", 10, "Kantor Walikota"),
           ("kantor-inspektorat", 11, "Kantor Inspektorat"),
           ("kantor-kecamatan", 12, "Kantor Kecamatan"),
           ("kantor-kelurahan", 13, "Kantor Kelurahan")]
# one account per role; counter accounts at a kelurahan and at a kecamatan office
ACCOUNTS = [("admin1", "admin", None), ("loket", "counter", "kelurahan-31.71.01.1001"),
            ("loketkec", "counter", "kecamatan-31.72.01"), ("officer1", "officer", None),
            ("super1", "supervisor", None)]


def channels_file(tmp_path: Path, extra: list[dict] = ()) -> Path:
    data = yaml.safe_load((FIXTURES / "channels.yaml").read_text())
    data["official_channels"] += [{"id": i, "number": n, "name": name} for i, n, name in WALK_IN]
    data["channels"] += [{"id": i, "official_channel": i, "adapter": "walk_in"}
                         for i, _, _ in WALK_IN] + list(extra)
    path = tmp_path / "channels.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def staff_kanal_factory(make_kanal, settings, tmp_path):
    def build(extra_channels: list[dict] = (), extra_plugins: tuple = ()):
        s = settings.model_copy(update={"config": channels_file(tmp_path, extra_channels)})
        kanal = make_kanal(settings=s, extra_plugins=extra_plugins)
        offices.sync_from_settings(kanal.engine, kanal.settings)
        with writing(kanal.engine) as conn:
            for username, role, office in ACCOUNTS:
                staff.add(conn, username, PASSWORD, role, office_id=office)
        return kanal
    return build


@pytest.fixture
def staff_kanal(staff_kanal_factory):
    return staff_kanal_factory()


@pytest.fixture
def staff_client(staff_kanal):
    with TestClient(create_app(kanal=staff_kanal, run_workers=False),
                    follow_redirects=False) as c:
        yield c


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def sign_in(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={
        "username": username, "password": password, "csrf": csrf_of(page.text),
        "next": "/staff"})

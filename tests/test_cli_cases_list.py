"""``kanal cases list`` (gateway/cli/cases.py): the case queue by SLA risk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from core.db import writing
from core.models import Report
from gateway.cli import cli as root
from tests.conftest import FIXTURES, JAKI_KEY


@pytest.fixture
def env(database_url, tmp_path):
    return {"KANAL_DATABASE_URL": database_url, "KANAL_JAKI_API_KEY": JAKI_KEY,
            "KANAL_CONFIG": str(FIXTURES / "channels.yaml"),
            "KANAL_BOUNDARIES": str(FIXTURES / "boundaries_small.geojson"),
            "KANAL_DATA_DIR": str(tmp_path / "data")}


def jaki(client, external: str, point: tuple[float, float]) -> str:
    r = client.post("/api/v1/jaki/reports", headers={"Authorization": f"Bearer {JAKI_KEY}"},
                    json={"external_id": external, "text": "Jalan rusak",
                          "category": "jalan-rusak",
                          "location": {"lat": point[0], "lon": point[1]}})
    assert r.status_code == 201, r.text
    return r.json()["tracking_id"]


def test_cases_list(kanal, client, env):
    alfa = jaki(client, "c1", (-6.205, 106.805))
    delta = jaki(client, "c2", (-6.205, 106.835))
    with writing(kanal.engine) as conn:  # Delta Raya's case missed its deadline
        conn.execute(update(Report.__table__)
                     .where(Report.__table__.c.tracking_id == delta.replace("-", ""))
                     .values(sla_due_at=datetime.now(UTC) - timedelta(hours=1)))
    runner = CliRunner()
    out = runner.invoke(root, ["cases", "list", "--json"], env=env)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["tracking_id"] for r in rows] == [delta, alfa]
    assert rows[0]["overdue"] is True and rows[1]["unit_name"] == "Kelurahan Alfa"
    out = runner.invoke(root, ["cases", "list", "--unit", "kelurahan-31.71.01.1001"], env=env)
    assert out.exit_code == 0 and alfa in out.stdout and delta not in out.stdout
    assert out.stdout.splitlines()[-1] == "1 case(s)"
    out = runner.invoke(root, ["cases", "list", "--status", "Selesai", "--json"], env=env)
    assert json.loads(out.stdout) == []
    out = runner.invoke(root, ["cases", "list", "--status", "Hilang"], env=env)
    assert out.exit_code == 2 and "'Hilang' is not one of" in out.output

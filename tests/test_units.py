"""Units (core.units, core.unitsconf): built from the boundaries and config/units.yaml,
idempotently, never deleted; the category -> dinas map; escalation parents."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from core import staff, units
from core.db import make_engine, writing
from core.settings import PROJECT_ROOT
from core.unitsconf import UnitsConfigError, configured, load, parse
from tests.conftest import FIXTURES
from tests.helpers import jakarta_geojson

UNITS_YAML = PROJECT_ROOT / "config" / "units.yaml"
CATEGORIES = [c["id"] for c in yaml.safe_load(
    (PROJECT_ROOT / "config" / "categories.yaml").read_text())["categories"]]
PASSWORD = "kata-sandi-rahasia"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def kinds(engine, active: bool | None = True) -> Counter:
    with engine.connect() as conn:
        return Counter(r.kind for r in units.list_units(conn)
                       if active is None or r.active is active)


def by_id(engine) -> dict:
    with engine.connect() as conn:
        return {r.id: r for r in units.list_units(conn)}


def units_file(tmp_path: Path, drop: str | None = None, **changes) -> Path:
    """config/units.yaml without the unit ``drop`` (and its categories), or changed."""
    data = yaml.safe_load(UNITS_YAML.read_text())
    data["units"] = [u for u in data["units"] if u["id"] != drop]
    data["categories"] = {c: d for c, d in data["categories"].items() if d != drop}
    data.update(changes)
    path = tmp_path / "units.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_the_small_boundaries_and_the_file_give_every_unit(engine, settings):
    synced = units.sync_units(engine, settings)
    assert kinds(engine) == {"kelurahan": 5, "kecamatan": 3, "kota": 2, "dinas": 7,
                             "biro": 1, "inspektorat": 1, "sudin": 7 * 2}
    assert synced == units.Synced(added=33)
    u = by_id(engine)
    assert (u["kota-31.71"].name, u["kota-31.71"].area_code) == (
        "Kota Administrasi Uji Pusat", "31.71")
    alfa = u["kelurahan-31.71.01.1001"]
    assert (alfa.name, alfa.parent_id, alfa.kota_code, alfa.area_code) == (
        "Kelurahan Alfa", "kecamatan-31.71.01", "31.71", "31.71.01.1001")
    # codes come from the kelurahan code's prefix; a kecamatan nobody names keeps its code
    assert u["kecamatan-31.71.02"].name == "Kecamatan 31.71.02"
    assert u["kecamatan-31.71.02"].parent_id == "kota-31.71"
    sudin = u["sudin-bina-marga-31.72"]
    assert (sudin.kind, sudin.name, sudin.parent_id, sudin.kota_code) == (
        "sudin", "Suku Dinas Bina Marga Kota Administrasi Uji Utara", "dinas-bina-marga",
        "31.72")
    assert u["sudin-satpol-pp-31.71"].name == (
        "Satuan Polisi Pamong Praja Kota Administrasi Uji Pusat")
    assert u["biro-pemerintahan"].kind == "biro"
    assert u["inspektorat"].name == "Inspektorat Provinsi DKI Jakarta"


def test_the_jakarta_boundaries_give_267_kelurahan_44_kecamatan_6_kota(engine, settings):
    units.sync_units(engine, settings.model_copy(update={"boundaries": jakarta_geojson()}))
    count = kinds(engine)
    assert (count["kelurahan"], count["kecamatan"], count["kota"]) == (267, 44, 6)
    assert count["dinas"] >= 7
    with_sudin = [u for u in load(UNITS_YAML).units if u.sudin]
    assert count["sudin"] == len(with_sudin) * 6
    u = by_id(engine)
    assert u["sudin-bina-marga-31.71"].name == (
        "Suku Dinas Bina Marga Kota Administrasi Jakarta Pusat")
    assert u["kota-31.01"].name == "Kabupaten Administrasi Kepulauan Seribu"
    assert u["kelurahan-31.71.01.1001"].name == "Kelurahan Gambir"
    # every kelurahan climbs to its own kota
    with engine.connect() as conn:
        for row in units.list_units(conn, "kelurahan"):
            kecamatan = units.escalation_parent(conn, row.id)
            assert units.escalation_parent(conn, kecamatan) == f"kota-{row.area_code[:5]}"


def test_sync_is_idempotent(engine, settings):
    units.sync_units(engine, settings)
    before = {i: tuple(r) for i, r in by_id(engine).items()}
    assert units.sync_units(engine, settings) == units.Synced()
    assert {i: tuple(r) for i, r in by_id(engine).items()} == before


def test_a_unit_taken_out_of_the_file_turns_inactive_and_comes_back(engine, settings, tmp_path):
    units.sync_units(engine, settings)
    with writing(engine) as conn:
        staff.add(conn, "budi", PASSWORD, "officer", unit_id="sudin-perhubungan-31.71")
    without = settings.model_copy(update={"units": units_file(tmp_path, "dinas-perhubungan")})
    assert units.sync_units(engine, without) == units.Synced(deactivated=3)
    u = by_id(engine)
    assert not u["dinas-perhubungan"].active and not u["sudin-perhubungan-31.72"].active
    assert len(u) == 33  # nothing deleted; the account keeps its unit
    with engine.connect() as conn:
        assert staff.get(conn, "budi").unit_id == "sudin-perhubungan-31.71"
    with writing(engine) as conn, pytest.raises(staff.StaffError, match="no longer active"):
        staff.add(conn, "cici", PASSWORD, "officer", unit_id="dinas-perhubungan")
    assert units.sync_units(engine, settings) == units.Synced(changed=3)
    assert kinds(engine, active=False) == {}


def test_a_renamed_unit_is_renamed(engine, settings, tmp_path):
    units.sync_units(engine, settings)
    data = yaml.safe_load(UNITS_YAML.read_text())
    data["units"][0]["name"] = "Dinas Bina Marga Provinsi"
    renamed = settings.model_copy(update={"units": units_file(tmp_path, units=data["units"])})
    assert units.sync_units(engine, renamed) == units.Synced(changed=1 + 2)  # dinas + sudin
    assert by_id(engine)["sudin-bina-marga-31.71"].name == (
        "Suku Dinas Bina Marga Provinsi Kota Administrasi Uji Pusat")


def test_a_kelurahan_gone_from_the_boundaries_turns_inactive(engine, settings, tmp_path):
    units.sync_units(engine, settings)
    data = json.loads((FIXTURES / "boundaries_small.geojson").read_text())
    data["features"] = [f for f in data["features"]
                        if f["properties"]["code"] != "31.72.01.1002"]
    smaller = tmp_path / "smaller.geojson"
    smaller.write_text(json.dumps(data))
    assert units.sync_units(engine, settings.model_copy(update={"boundaries": smaller})) == (
        units.Synced(deactivated=1))
    assert not by_id(engine)["kelurahan-31.72.01.1002"].active


def test_without_boundaries_the_area_units_are_left_alone(engine, settings):
    units.sync_units(engine, settings)
    assert units.sync_units(engine, settings.model_copy(update={"boundaries": None})) == (
        units.Synced())
    assert kinds(engine)["kelurahan"] == 5


def test_start_up_syncs_the_units(kanal):
    kanal.start_up()
    assert kinds(kanal.engine)["sudin"] == 14


def test_the_category_map_as_the_issue_seeds_it():
    config = load(UNITS_YAML, CATEGORIES)
    expected = {"jalan-rusak": "dinas-bina-marga", "lampu-jalan": "dinas-bina-marga",
                "saluran-air": "dinas-sumber-daya-air", "banjir": "dinas-sumber-daya-air",
                "sampah": "dinas-lingkungan-hidup",
                "pohon-tumbang": "dinas-pertamanan-hutan-kota",
                "parkir-liar": "dinas-perhubungan", "pkl": "dinas-satpol-pp",
                "kebisingan": "dinas-satpol-pp"}
    assert {c: units.dinas_for_category(c, config) for c in CATEGORIES} == {
        c: expected.get(c) for c in CATEGORIES}
    assert units.dinas_for_category(None, config) is None
    assert units.dinas_for_category("no-such-category", config) is None
    assert config.entry("dinas-dukcapil").name.startswith(
        "Dinas Kependudukan dan Pencatatan Sipil")


def test_the_default_config_is_read_again_when_the_file_changes(settings, tmp_path):
    path = units_file(tmp_path)
    own = settings.model_copy(update={"units": path})
    assert units.dinas_for_category("sampah", configured(own)) == "dinas-lingkungan-hidup"
    units_file(tmp_path, "dinas-lingkungan-hidup")
    assert units.dinas_for_category("sampah", configured(own)) is None


def test_sudin_for():
    config = load(UNITS_YAML)
    assert units.sudin_for("dinas-bina-marga", "31.71", config) == "sudin-bina-marga-31.71"
    assert units.sudin_for("dinas-dukcapil", "31.01", config) == "sudin-dukcapil-31.01"
    assert units.sudin_for("biro-pemerintahan", "31.71", config) is None
    assert units.sudin_for("dinas-tidak-ada", "31.71", config) is None
    assert units.sudin_for("dinas-bina-marga", "31.71.01", config) is None
    no_sudin = parse({"units": [{"id": "dinas-a", "kind": "dinas", "name": "Dinas A"}]})
    assert units.sudin_for("dinas-a", "31.71", no_sudin) is None


def test_every_sudin_for_is_a_unit_after_a_sync(engine, settings):
    units.sync_units(engine, settings)
    config = load(UNITS_YAML)
    with engine.connect() as conn:
        for dinas in units.list_units(conn, "dinas"):
            for kota in units.list_units(conn, "kota"):
                sudin = units.unit(conn, units.sudin_for(dinas.id, kota.kota_code, config))
                assert (sudin.parent_id, sudin.kota_code) == (dinas.id, kota.kota_code)


def test_escalation_parents(engine, settings):
    units.sync_units(engine, settings)
    with engine.connect() as conn:
        up = lambda unit_id: units.escalation_parent(conn, unit_id)  # noqa: E731
        assert up("kelurahan-31.71.01.1001") == "kecamatan-31.71.01"
        assert up("kecamatan-31.71.01") == "kota-31.71"
        assert up("kota-31.71") is None
        assert up("sudin-sumber-daya-air-31.72") == "dinas-sumber-daya-air"
        assert up("dinas-sumber-daya-air") is None
        assert up("biro-pemerintahan") is None and up("inspektorat") is None
        with pytest.raises(units.UnitError, match="no unit 'kelurahan-99'"):
            up("kelurahan-99")
    with writing(engine) as conn:
        conn.execute(update(units.unit_t).where(units.unit_t.c.id == "kecamatan-31.71.01")
                     .values(active=False))
        assert units.escalation_parent(conn, "kelurahan-31.71.01.1001") == "kota-31.71"


def test_accounts_belong_to_a_unit(engine, settings):
    units.sync_units(engine, settings)
    with writing(engine) as conn:
        officer = staff.add(conn, "budi", PASSWORD, "officer", unit_id="kelurahan-31.71.01.1001")
        supervisor = staff.add(conn, "sari", PASSWORD, "supervisor",
                               unit_id="biro-pemerintahan")
        assert staff.by_id(conn, officer.id).unit_id == "kelurahan-31.71.01.1001"
        assert supervisor.unit_id == "biro-pemerintahan"
        assert staff.add(conn, "tono", PASSWORD, "supervisor").unit_id is None
        with pytest.raises(staff.StaffError, match="no unit 'dinas-x'"):
            staff.add(conn, "cici", PASSWORD, "officer", unit_id="dinas-x")
        with pytest.raises(staff.StaffError, match="only officer and supervisor accounts"):
            staff.add(conn, "dodi", PASSWORD, "admin", unit_id="biro-pemerintahan")
        stored = conn.execute(select(staff.account_t.c.username, staff.account_t.c.unit_id)
                              .order_by(staff.account_t.c.username)).all()
    assert stored == [("budi", "kelurahan-31.71.01.1001"), ("sari", "biro-pemerintahan"),
                      ("tono", None)]


DINAS = {"id": "dinas-a", "kind": "dinas", "name": "Dinas A"}


@pytest.mark.parametrize("raw, message", [
    ([], "expected a mapping with 'units' and 'categories'"),
    ({"categories": {}}, "units: Field required"),
    ({"units": [DINAS, {"id": "dinas-b", "kind": "bidang", "name": "B"}]},
     "units[1] (dinas-b).kind: Input should be 'dinas', 'biro' or 'inspektorat'"),
    ({"units": [{"id": "bina-marga", "kind": "dinas", "name": "Bina Marga"}]},
     "units[0] (bina-marga): Value error, a dinas id starts with 'dinas-'"),
    ({"units": [{"id": "biro-x", "kind": "biro", "name": "X", "sudin": True}]},
     "units[0] (biro-x): Value error, only a dinas has suku dinas"),
    ({"units": [{"id": "inspektorat-dki", "kind": "inspektorat", "name": "I"}]},
     "units[0] (inspektorat-dki): Value error, the Inspektorat's id is 'inspektorat'"),
    ({"units": [{**DINAS, "colour": "red"}]},
     "units[0] (dinas-a).colour: Extra inputs are not permitted"),
    ({"units": [{**DINAS, "name": ""}]}, "units[0] (dinas-a).name: String should have"),
    ({"units": [DINAS, DINAS]}, "unit 'dinas-a' appears twice"),
    ({"units": [DINAS], "categories": {"sampah": "dinas-b"}},
     "category 'sampah' maps to 'dinas-b', which is not a dinas of this file"),
    ({"units": [DINAS], "categories": {"sampahh": "dinas-a"}},
     "categories.sampahh: no such category in the categories file"),
], ids=["not-a-mapping", "no-units", "kind", "dinas-prefix", "sudin-on-biro",
        "inspektorat-id", "extra-key", "empty-name", "twice", "unknown-dinas",
        "unknown-category"])
def test_a_wrong_units_file_is_a_config_error_naming_the_entry(raw, message):
    with pytest.raises(UnitsConfigError) as caught:
        parse(raw, CATEGORIES, source="units.yaml")
    assert str(caught.value).startswith("units.yaml: ")
    assert message in str(caught.value)


def test_an_unreadable_units_file(tmp_path, engine, settings):
    with pytest.raises(UnitsConfigError, match="units file not found: .*missing.yaml"):
        units.sync_units(engine, settings.model_copy(
            update={"units": tmp_path / "missing.yaml"}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("units: [\n")
    with pytest.raises(UnitsConfigError, match="bad.yaml is not valid YAML"):
        load(bad)
    assert kinds(engine) == {}

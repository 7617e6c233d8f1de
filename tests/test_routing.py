"""The admins' changes to the category -> dinas map (core.routing) and to the units
(core.unitedit): the database wins over config/units.yaml, every refusal names its
reason and writes nothing, every change is audited, and the sync keeps the edits."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import yaml
from sqlalchemy import func, select

from core import routing, unitedit, units
from core.db import writing
from core.models import AuditEvent, CategoryRoute
from core.routing import RouteError
from core.unitsconf import configured
from tests.test_units import CATEGORIES, UNITS_YAML, by_id, engine, units_file  # noqa: F401

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
audit_t = AuditEvent.__table__


@pytest.fixture
def synced(engine, settings):  # noqa: F811
    units.sync_units(engine, settings)
    return engine


@pytest.fixture
def config(settings):
    return configured(settings)


def trail(engine):  # noqa: F811
    with engine.connect() as conn:
        return [(r.actor, r.action, r.setting, r.old_value, r.new_value)
                for r in conn.execute(select(audit_t).order_by(audit_t.c.id))]


def route_rows(engine):  # noqa: F811
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(CategoryRoute.__table__)).scalar()


def dinas(engine, category, config):  # noqa: F811
    with engine.connect() as conn:
        return routing.dinas_for(conn, category, config)


def test_the_file_routes_until_an_admin_changes_it(synced, config):
    assert dinas(synced, "jalan-rusak", config) == "dinas-bina-marga"
    assert dinas(synced, "lainnya", config) is None
    assert dinas(synced, None, config) is None
    with writing(synced) as conn:
        routing.set_route(conn, "jalan-rusak", "dinas-sumber-daya-air", "admin1", NOW,
                          config=config, known=CATEGORIES)
        routing.set_route(conn, "sampah", None, "admin1", NOW, config=config,
                          known=CATEGORIES)
        routing.set_route(conn, "lainnya", "biro-pemerintahan", "admin1", NOW,
                          config=config, known=CATEGORIES)
        # what it is already: no row, no event
        assert not routing.set_route(conn, "banjir", "dinas-sumber-daya-air", "admin1",
                                     NOW, config=config, known=CATEGORIES)
        assert not routing.set_route(conn, "sampah", None, "admin1", NOW, config=config,
                                     known=CATEGORIES)
    assert dinas(synced, "jalan-rusak", config) == "dinas-sumber-daya-air"
    assert dinas(synced, "sampah", config) is None  # a row without a dinas wins too
    assert dinas(synced, "lainnya", config) == "biro-pemerintahan"
    assert dinas(synced, "banjir", config) == "dinas-sumber-daya-air"  # the file's
    assert trail(synced) == [
        ("admin1", "category_routed", "jalan-rusak", "dinas-bina-marga",
         "dinas-sumber-daya-air"),
        ("admin1", "category_routed", "sampah", "dinas-lingkungan-hidup", None),
        ("admin1", "category_routed", "lainnya", None, "biro-pemerintahan")]

    with writing(synced) as conn:
        assert routing.reset_route(conn, "jalan-rusak", "admin2", NOW, config=config,
                                   known=CATEGORIES)
        assert not routing.reset_route(conn, "banjir", "admin2", NOW, config=config,
                                       known=CATEGORIES)
    assert dinas(synced, "jalan-rusak", config) == "dinas-bina-marga"
    assert trail(synced)[-1] == ("admin2", "category_route_reset", "jalan-rusak",
                                 "dinas-sumber-daya-air", "dinas-bina-marga")
    assert len(trail(synced)) == 4 and route_rows(synced) == 2


def test_an_inactive_dinas_counts_as_none(synced, config):
    with writing(synced) as conn:
        routing.set_route(conn, "banjir", "dinas-perhubungan", "admin1", NOW,
                          config=config, known=CATEGORIES)
        unitedit.set_unit_active(conn, "dinas-perhubungan", False, "admin1", NOW)
        unitedit.set_unit_active(conn, "dinas-bina-marga", False, "admin1", NOW)
    assert dinas(synced, "banjir", config) is None  # the admins' choice, inactive
    assert dinas(synced, "jalan-rusak", config) is None  # the file's, inactive
    with synced.connect() as conn:
        rows = {r.category: r for r in routing.category_map(
            conn, config, [{"id": c, "id_name": c.title()} for c in CATEGORIES])}
    assert [r.category for r in rows.values()] == CATEGORIES
    assert rows["banjir"] == routing.RouteRow(
        "banjir", "Banjir", "dinas-sumber-daya-air", "dinas-perhubungan", None, True)
    assert rows["jalan-rusak"].as_dict() == {
        "category": "jalan-rusak", "name": "Jalan-Rusak", "file": "dinas-bina-marga",
        "chosen": "dinas-bina-marga", "dinas": None, "source": "file"}
    assert rows["sampah"].dinas == "dinas-lingkungan-hidup"


@pytest.mark.parametrize("category, target, code, message", [
    ("kucing", "dinas-bina-marga", "unknown_category", "no category 'kucing' (known: "),
    ("banjir", "dinas-kucing", "unknown_unit", "no unit 'dinas-kucing'"),
    ("banjir", "sudin-bina-marga-31.71", "not_dinas", "is a sudin; a category goes to"),
    ("banjir", "inspektorat", "not_dinas", "'inspektorat' is a inspektorat"),
    ("banjir", "kelurahan-31.71.01.1001", "not_dinas", "is a kelurahan"),
    ("banjir", "dinas-perhubungan", "inactive_unit", "'dinas-perhubungan' is inactive"),
], ids=["category", "unknown-unit", "sudin", "inspektorat", "kelurahan", "inactive"])
def test_a_wrong_route_is_refused_and_writes_nothing(synced, config, category, target,
                                                     code, message):
    with writing(synced) as conn:
        conn.execute(units.unit_t.update().where(units.unit_t.c.id == "dinas-perhubungan")
                     .values(active=False))
    with writing(synced) as conn, pytest.raises(RouteError, match=re.escape(message)) as refused:
        routing.set_route(conn, category, target, "admin1", NOW, config=config,
                          known=CATEGORIES)
    assert refused.value.code == code
    assert trail(synced) == [] and route_rows(synced) == 0


def test_reset_of_an_unknown_category_is_refused(synced, config):
    with writing(synced) as conn, pytest.raises(RouteError) as refused:
        routing.reset_route(conn, "kucing", "admin1", NOW, config=config, known=CATEGORIES)
    assert refused.value.code == "unknown_category"


def test_the_known_categories_default_to_the_settings_file(synced, config):
    with writing(synced) as conn:
        routing.set_route(conn, "pkl", None, "admin1", NOW, config=config)
        with pytest.raises(RouteError, match="no category 'kucing'"):
            routing.set_route(conn, "kucing", None, "admin1", NOW, config=config)


def test_rename_deactivate_and_add_are_audited(synced):
    with writing(synced) as conn:
        assert unitedit.rename_unit(conn, "biro-pemerintahan", "  Biro  Tata Pemerintahan ",
                                    "admin1", NOW)
        assert not unitedit.rename_unit(conn, "biro-pemerintahan", "Biro Tata Pemerintahan",
                                        "admin1", NOW)
        assert unitedit.set_unit_active(conn, "sudin-bina-marga-31.71", False, "admin1", NOW)
        assert not unitedit.set_unit_active(conn, "sudin-bina-marga-31.71", False, "a", NOW)
        added = unitedit.add_unit(conn, "dinas-pariwisata", "dinas",
                                  "Dinas Pariwisata dan Ekonomi Kreatif", "admin1", NOW,
                                  sudin=True)
        unitedit.add_unit(conn, "biro-hukum", "biro", "Biro Hukum", "admin1", NOW)
    assert added == ["dinas-pariwisata", "sudin-pariwisata-31.71", "sudin-pariwisata-31.72"]
    u = by_id(synced)
    assert u["biro-pemerintahan"].name == "Biro Tata Pemerintahan"
    assert u["biro-pemerintahan"].edited_by == "admin1"
    assert not u["sudin-bina-marga-31.71"].active
    sudin = u["sudin-pariwisata-31.72"]
    assert (sudin.kind, sudin.parent_id, sudin.kota_code, sudin.name, sudin.active) == (
        "sudin", "dinas-pariwisata", "31.72",
        "Suku Dinas Pariwisata dan Ekonomi Kreatif Kota Administrasi Uji Utara", True)
    with synced.connect() as conn:
        assert units.sudin_for("dinas-pariwisata", "31.72", conn=conn) == sudin.id
        assert units.sudin_for("biro-hukum", "31.72", conn=conn) is None
        assert units.escalation_parent(conn, sudin.id) == "dinas-pariwisata"
    assert [t[1:] for t in trail(synced)] == [
        ("unit_renamed", "biro-pemerintahan", "Biro Pemerintahan", "Biro Tata Pemerintahan"),
        ("unit_deactivated", "sudin-bina-marga-31.71", "True", "False"),
        ("unit_added", "dinas-pariwisata", None, "Dinas Pariwisata dan Ekonomi Kreatif"),
        ("unit_added", "biro-hukum", None, "Biro Hukum")]


@pytest.mark.parametrize("change, code, message", [
    (lambda c: unitedit.rename_unit(c, "kelurahan-31.71.01.1001", "X", "a", NOW),
     "from_data", "its name comes from the boundaries"),
    (lambda c: unitedit.rename_unit(c, "sudin-bina-marga-31.71", "X", "a", NOW),
     "from_data", "is a sudin"),
    (lambda c: unitedit.rename_unit(c, "dinas-kucing", "X", "a", NOW),
     "unknown_unit", "no unit 'dinas-kucing'"),
    (lambda c: unitedit.rename_unit(c, "inspektorat", "X", "a", NOW, expected="Lama"),
     "stale", "renamed meanwhile"),
    (lambda c: unitedit.rename_unit(c, "inspektorat", "   ", "a", NOW),
     "bad_name", "1-200 characters"),
    (lambda c: unitedit.set_unit_active(c, "kota-31.71", False, "a", NOW),
     "area_unit", "follows the boundaries"),
    (lambda c: unitedit.add_unit(c, "dinas-bina-marga", "dinas", "X", "a", NOW),
     "exists", "exists already"),
    (lambda c: unitedit.add_unit(c, "biro-x", "inspektorat", "X", "a", NOW),
     "bad_kind", "only a dinas or a biro"),
    (lambda c: unitedit.add_unit(c, "biro-hukum", "dinas", "X", "a", NOW),
     "bad_id", "a dinas id is dinas-"),
    (lambda c: unitedit.add_unit(c, "dinas-", "dinas", "X", "a", NOW), "bad_id", "dinas-"),
    (lambda c: unitedit.add_unit(c, "Dinas-Besar", "dinas", "X", "a", NOW),
     "bad_id", "a dinas id is dinas-"),
    (lambda c: unitedit.add_unit(c, "dinas-" + "x" * 55, "dinas", "X", "a", NOW, sudin=True),
     "bad_id", "longer than 64"),
], ids=["rename-kelurahan", "rename-sudin", "unknown", "stale", "blank-name", "deactivate-kota",
        "exists", "kind", "prefix", "empty", "case", "sudin-id-too-long"])
def test_a_wrong_unit_change_is_refused_and_writes_nothing(synced, change, code, message):
    before = {i: tuple(r) for i, r in by_id(synced).items()}
    with pytest.raises(RouteError, match=re.escape(message)) as refused:
        with writing(synced) as conn:
            change(conn)
    assert refused.value.code == code
    assert {i: tuple(r) for i, r in by_id(synced).items()} == before
    assert trail(synced) == []


def test_sync_leaves_edited_units_alone_and_keeps_added_ones(synced, settings, tmp_path):
    with writing(synced) as conn:
        unitedit.rename_unit(conn, "dinas-bina-marga", "Dinas Jalan", "admin1", NOW)
        unitedit.set_unit_active(conn, "dinas-perhubungan", False, "admin1", NOW)
        unitedit.set_unit_active(conn, "sudin-lingkungan-hidup-31.71", False, "admin1", NOW)
        unitedit.add_unit(conn, "dinas-pariwisata", "dinas", "Dinas Pariwisata", "admin1",
                          NOW, sudin=True)
    # the file renames an edited dinas and drops another: the admins' edits stay
    data = yaml.safe_load(UNITS_YAML.read_text())
    data["units"][0]["name"] = "Dinas Bina Marga Provinsi"
    data["units"] = [u for u in data["units"] if u["id"] != "dinas-sumber-daya-air"]
    data["categories"] = {c: d for c, d in data["categories"].items()
                          if d != "dinas-sumber-daya-air"}
    changed = settings.model_copy(update={"units": units_file(tmp_path, units=data["units"],
                                                              categories=data["categories"])})
    synced_again = units.sync_units(synced, changed)
    u = by_id(synced)
    assert u["dinas-bina-marga"].name == "Dinas Jalan"  # edited: the name stays
    # its suku dinas are not edited: they follow the file's new name
    assert u["sudin-bina-marga-31.71"].name.startswith("Suku Dinas Bina Marga Provinsi ")
    assert not u["dinas-perhubungan"].active  # edited inactive: stays inactive
    assert not u["sudin-lingkungan-hidup-31.71"].active
    assert u["sudin-lingkungan-hidup-31.72"].active
    assert not u["dinas-sumber-daya-air"].active  # not edited, gone from the file
    assert u["dinas-pariwisata"].active and u["sudin-pariwisata-31.71"].active  # kept
    assert synced_again == units.Synced(changed=2, deactivated=3)
    assert units.sync_units(synced, changed) == units.Synced()

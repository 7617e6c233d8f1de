"""``kanal units``: who works a case (``core.units``): the kelurahan, kecamatan and kota of
KANAL_BOUNDARIES, the dinas, biro and Inspektorat of config/units.yaml, the suku dinas;
and which dinas each category goes to (``core.routing``), changed with ``units route``."""

from __future__ import annotations

import click

from core import units as core_units
from core.settings import KanalSettings
from gateway.cli.common import actor, json_option, listing, pass_settings
from gateway.cli.offices import offices_engine


def units_engine(settings: KanalSettings):
    """As ``offices_engine``, with the units in place too, so that a fresh install can
    list them and give accounts a unit at once."""
    engine = offices_engine(settings)
    core_units.sync_units(engine, settings)
    return engine


def _item(row) -> dict:
    item = {"id": row.id, "kind": row.kind, "name": row.name, "active": row.active,
            "parent_id": row.parent_id, "kota_code": row.kota_code,
            "area_code": row.area_code}
    if row.kind == "sudin":
        item |= {"dinas": row.parent_id, "kota": f"kota-{row.kota_code}"}
    return item


@click.group(help="units that work cases: areas, dinas and suku dinas, biro, Inspektorat")
def units() -> None:
    pass


@units.command("list", help="the units (inactive ones too), parents first")
@click.option("--kind", type=click.Choice(core_units.KINDS))
@json_option
@pass_settings
def units_list(settings: KanalSettings, kind: str | None, as_json: bool) -> None:
    with units_engine(settings).connect() as conn:
        rows = [_item(r) for r in core_units.list_units(conn, kind)]
    if not as_json:
        rows = [{**r, "active": "yes" if r["active"] else "no"} for r in rows]
    listing(rows, ["id", "kind", "parent_id", "active", "name"], as_json)
    if not as_json:
        click.echo(f"{len(rows)} unit(s)")


def _categories(settings: KanalSettings) -> list[dict]:
    from core.categories import load

    return load(settings.path("categories"))


@units.command("routes", help="the category -> dinas map: the file's, the admins' "
                              "changes over it, and what cases get")
@json_option
@pass_settings
def units_routes(settings: KanalSettings, as_json: bool) -> None:
    from core import routing
    from core.unitsconf import configured

    with units_engine(settings).connect() as conn:
        rows = [r.as_dict() for r in routing.category_map(
            conn, configured(settings), _categories(settings))]
    listing(rows, ["category", "dinas", "source", "file", "chosen"], as_json)


@units.command("route", help="route CATEGORY to DINAS_ID (a dinas or biro), keep it with "
                             "the kelurahan (--none), or back to config/units.yaml (--reset)")
@click.argument("category")
@click.argument("dinas_id", required=False)
@click.option("--none", "to_none", is_flag=True, help="the kelurahan keeps the category")
@click.option("--reset", is_flag=True, help="back to config/units.yaml")
@pass_settings
def units_route(settings: KanalSettings, category: str, dinas_id: str | None,
                to_none: bool, reset: bool) -> None:
    from core import routing
    from core.db import writing
    from core.unitsconf import configured

    if sum((dinas_id is not None, to_none, reset)) != 1:
        raise click.UsageError("give one of DINAS_ID, --none or --reset")
    config = configured(settings)
    known = [c["id"] for c in _categories(settings)]
    with writing(units_engine(settings)) as conn:
        if reset:
            changed = routing.reset_route(conn, category, actor(), config=config,
                                          known=known)
        else:
            changed = routing.set_route(conn, category, dinas_id, actor(), config=config,
                                        known=known)
        now = routing.dinas_for(conn, category, config)
    where = "kept with the kelurahan" if now is None else f"routed to {now}"
    if reset:
        click.echo(f"{category} {where} (config/units.yaml)" if changed else
                   f"{category} already follows config/units.yaml: {where}")
    else:
        click.echo(f"{category} {where}" + ("" if changed else " already"))

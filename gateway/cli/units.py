"""``kanal units``: who works a case (``core.units``): the kelurahan, kecamatan and kota of
KANAL_BOUNDARIES, the dinas, biro and Inspektorat of config/units.yaml, the suku dinas."""

from __future__ import annotations

import click

from core import units as core_units
from core.settings import KanalSettings
from gateway.cli.common import json_option, listing, pass_settings
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

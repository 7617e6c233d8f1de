"""``kanal offices``: the offices with a walk-in counter (from KANAL_BOUNDARIES, and those
added by hand)."""

from __future__ import annotations

import click

from core import offices as core_offices
from core.db import make_engine, writing
from core.settings import KanalSettings
from gateway.cli.common import json_option, pass_settings, print_json, print_table
from gateway.cli.serve import migrate

KINDS = click.Choice(list(core_offices.KINDS))


def offices_engine(settings: KanalSettings):
    """The schema brought up to date and the offices of KANAL_BOUNDARIES in place, so a
    fresh install can add accounts at once."""
    migrate(settings)
    engine = make_engine(settings.database_url)
    core_offices.sync_from_settings(engine, settings)
    return engine


@click.group(help="offices with a walk-in counter")
def offices() -> None:
    pass


@offices.command("list", help="the offices, with the channel of their kind")
@click.option("--kind", type=KINDS)
@json_option
@pass_settings
def offices_list(settings: KanalSettings, kind: str | None, as_json: bool) -> None:
    engine = offices_engine(settings)
    with engine.connect() as conn:
        rows = [{"id": r.id, "kind": r.kind, "area_code": r.area_code, "name": r.name,
                 "active": r.active, "channel": core_offices.KINDS.get(r.kind)}
                for r in core_offices.list_offices(conn, kind)]
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["id", "kind", "area_code", "name"])
    click.echo(f"{len(rows)} office(s)")


@offices.command("add", help="another office, e.g. a posko")
@click.argument("office_id", metavar="ID")
@click.option("--kind", required=True, type=KINDS)
@click.option("--name", required=True)
@click.option("--area", help="Kemendagri area code: 31, 31.71, 31.71.01 or 31.71.01.1001")
@pass_settings
def offices_add(settings: KanalSettings, office_id: str, kind: str, name: str,
                area: str | None) -> None:
    engine = offices_engine(settings)
    with writing(engine) as conn:
        office = core_offices.add(conn, office_id, kind, name, area)
    click.echo(f"added office {office.id} ({office.kind}, area {office.area_code or '-'}): "
               f"{office.name}")

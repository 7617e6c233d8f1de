"""``kanal cases list``: the case queue by SLA risk (``core.caseview.queue``), the same
list as /staff/cases, for every unit or one.

The ``cases`` group lives in ``gateway/cli/cases.py``; it attaches this command with
``cases_list.register(cases)``."""

from __future__ import annotations

import click

from core import caseview
from core.cases import STATUSES
from core.db import make_engine
from core.settings import KanalSettings
from gateway.cli.common import json_option, listing, pass_settings

COLUMNS = ["tracking_id", "status", "unit_id", "due_at", "overdue", "escalated", "category",
           "kelurahan_name"]


@click.command("list", help="cases by SLA risk: overdue first, then the nearest deadline")
@click.option("--status", type=click.Choice([*STATUSES, caseview.ALL]),
              help="one status, or all (default: the open ones)")
@click.option("--unit", help="the cases a unit holds or was escalated (kanal units list)")
@click.option("--limit", type=click.IntRange(1, caseview.MAX_LIMIT), default=50,
              show_default=True)
@json_option
@pass_settings
def cases_list(settings: KanalSettings, status: str | None, unit: str | None, limit: int,
               as_json: bool) -> None:
    with make_engine(settings.database_url).connect() as conn:
        rows = [r.as_dict() for r in caseview.queue(conn, None, status=status, unit=unit,
                                                     limit=limit)]
    if not as_json:
        rows = [{**r, "overdue": "yes" if r["overdue"] else "",
                 "escalated": "yes" if r["escalated"] else ""} for r in rows]
    listing(rows, COLUMNS, as_json)
    if not as_json:
        click.echo(f"{len(rows)} case(s)")


def register(group: click.Group) -> None:
    """Attach ``list`` to the ``cases`` group."""
    group.add_command(cases_list)

"""``kanal report``: one report as staff see it."""

from __future__ import annotations

import click

from core import reports, tracking
from core.db import make_engine
from core.settings import KanalSettings
from gateway.cli.common import EXIT_USAGE, pass_settings, print_json


@click.group(help="reports")
def report() -> None:
    pass


@report.command("show", help="everything about one report (staff view, has personal data)")
@click.argument("tracking_id")
@pass_settings
def report_show(settings: KanalSettings, tracking_id: str) -> None:
    ctx = click.get_current_context()
    try:
        compact = tracking.normalize(tracking_id)
    except tracking.InvalidTrackingID as exc:
        click.echo(f"not a tracking ID ({exc.reason}): periksa kembali nomor laporan", err=True)
        ctx.exit(EXIT_USAGE)
    from core.categories import load as load_categories
    from core.geo import Boundaries

    names = {c["id"]: c["id_name"] for c in load_categories(settings.path("categories"))}
    areas = (Boundaries.from_geojson(settings.path("boundaries"),
                                     max_distance_m=settings.boundaries_max_distance_m)
             if settings.boundaries else None)  # named as the public view names them
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        view = reports.staff_report(conn, compact, categories=names, areas=areas)
    if view is None:
        click.echo(f"no report {tracking.display(compact)}", err=True)
        ctx.exit(1)
    print_json(view)

"""``kanal cases``: the case queue by SLA risk (``core.caseview.queue``, the same list as
/staff/cases) and what the scheduler does to cases, on demand."""

from __future__ import annotations

import click

from core import caseview
from core.cases import STATUSES
from core.db import make_engine
from core.reports import wib
from core.settings import KanalSettings
from gateway.cli.common import json_option, listing, pass_settings


@click.group(help="cases: the queue by SLA risk, deadlines and escalation")
def cases() -> None:
    pass


@cases.command("escalate", help="escalate the cases past their deadline now (what the "
                                "sla-escalation job does every KANAL_ESCALATION_SECONDS)")
@json_option
@pass_settings
def cases_escalate(settings: KanalSettings, as_json: bool) -> None:
    from gateway.runtime import Kanal
    from gateway.scheduler import escalation_round

    kanal = Kanal(settings)
    try:
        done = escalation_round(kanal)
    finally:
        kanal.stop()
    rows = [{"tracking_id": e.tracking_id, "clock": e.clock, "due_at": wib(e.due_at),
             "status": e.status, "unit": e.unit_id, "escalated_to": e.escalated_to}
            for e in done]
    listing(rows, ["tracking_id", "clock", "due_at", "unit", "escalated_to"], as_json)
    if not as_json:
        click.echo(f"{len(rows)} case(s) escalated")


COLUMNS = ["tracking_id", "status", "unit_id", "due_at", "overdue", "escalated", "category",
           "kelurahan_name"]


@cases.command("list", help="cases by SLA risk: overdue first, then the nearest deadline")
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


@cases.command("forward", help="forward a report to another system that takes complaints "
                               "(LAPOR!, when KANAL_LAPOR_FORWARD is on), as a supervisor "
                               "does on the case page; the outbox posts it")
@click.argument("tracking_id")
@click.option("--channel", default="lapor", show_default=True,
              help="the channel whose system gets the report")
@click.option("--actor", default="cli", show_default=True, help="who asked, for the audit log")
@pass_settings
def cases_forward(settings: KanalSettings, tracking_id: str, channel: str, actor: str) -> None:
    from core import tracking
    from core.errors import ApiError
    from gateway.runtime import Kanal

    try:
        compact = tracking.normalize(tracking_id)
    except tracking.InvalidTrackingID:
        raise ApiError(404, "not_found", f"{tracking_id} is not a tracking ID") from None
    kanal = Kanal(settings)
    try:
        item = kanal.forward_report(actor, "supervisor", compact, channel)
    finally:
        kanal.stop()
    click.echo(f"{tracking.display(compact)} queued for {channel} (outbox item {item}); "
               "`kanal outbox list` shows when it is sent")

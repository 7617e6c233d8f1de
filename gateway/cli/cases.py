"""``kanal cases``: the cases of the reports (issue 12): what the scheduler does to them,
on demand."""

from __future__ import annotations

import click

from core.reports import wib
from core.settings import KanalSettings
from gateway.cli.common import json_option, listing, pass_settings


@click.group(help="cases: SLA deadlines and escalation")
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

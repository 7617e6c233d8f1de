"""``kanal audit``: who changed which channel, and every replay, discard and retry."""

from __future__ import annotations

import click

from core.settings import KanalSettings
from gateway.cli.common import json_option, listing, pass_settings


@click.group(help="the audit trail of channel changes and staff actions")
def audit() -> None:
    pass


@audit.command("list", help="the newest events first")
@click.option("--channel", help="only this channel id")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
@pass_settings
def audit_list(settings: KanalSettings, channel: str | None, limit: int,
               as_json: bool) -> None:
    from core import audit as trail
    from core.db import make_engine
    from core.health import wib_text

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            rows = trail.events(conn, channel=channel, limit=limit)
    finally:
        engine.dispose()
    for row in rows:
        row["at"] = row["at"].isoformat() if as_json else wib_text(row["at"])
    listing(rows, ["id", "at", "actor", "action", "channel", "setting", "old_value",
                   "new_value", "detail"], as_json)

"""``kanal outbox``: the messages kanal sends (acknowledgements, replies), listed and
queued again."""

from __future__ import annotations

import click

from core.db import make_engine, writing
from core.models import OutboxItem
from core.settings import KanalSettings
from gateway.cli.common import listing, newest_rows, pass_settings, queue_options

COLUMNS = ["id", "channel", "kind", "status", "attempts", "next_attempt_at",
           "provider_message_id", "last_error"]


@click.group(help="outbound messages: list and retry")
def outbox() -> None:
    pass


@outbox.command("list", help="the newest messages and their delivery")
@queue_options(["pending", "sent", "dead"])
@pass_settings
def outbox_list(settings: KanalSettings, status, channel, limit: int, as_json: bool) -> None:
    listing(newest_rows(settings, OutboxItem, COLUMNS, "next_attempt_at", status=status,
                        channel=channel, limit=limit), COLUMNS, as_json)


@outbox.command("retry", help="queue failed (dead) outbox items again, or the given ones")
@click.option("--id", "ids", type=int, multiple=True,
              help="retry this item (default: every dead item)")
@pass_settings
def outbox_retry(settings: KanalSettings, ids: tuple[int, ...]) -> None:
    from core import audit
    from core.outbox import retry
    from gateway.cli.common import actor

    engine = make_engine(settings.database_url)
    with writing(engine) as conn:
        count = retry(conn, list(ids) or None)
        if count:
            audit.record(conn, actor(), "retry", detail=f"{count} outbox item(s)"
                         + (f": {', '.join(map(str, ids))}" if ids else ""))
    click.echo(f"queued {count} outbox item(s) again")

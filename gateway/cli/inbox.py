"""``kanal inbox``: the raw payloads as they came in, listed and replayed."""

from __future__ import annotations

import click
from rich.progress import MofNCompleteColumn, Progress
from sqlalchemy import func, select, update

from core import inbox as core_inbox
from core.db import writing
from core.models import InboxItem
from core.settings import KanalSettings
from gateway.cli.common import console, listing, newest_rows, pass_settings, queue_options

COLUMNS = ["id", "channel", "external_id", "status", "attempts", "ingested_at", "report_id",
           "error"]
REPLAY_BATCH = 200  # rows per transaction, and per step of the progress bar


@click.group(help="raw payloads: list and replay")
def inbox() -> None:
    pass


@inbox.command("list", help="the newest payloads")
@queue_options(["pending", "processed", "quarantined", "discarded"])
@pass_settings
def inbox_list(settings: KanalSettings, status, channel, limit: int, as_json: bool) -> None:
    listing(newest_rows(settings, InboxItem, COLUMNS, "ingested_at", status=status,
                        channel=channel, limit=limit), COLUMNS, as_json)


@inbox.command("replay", help="process pending payloads; with --quarantined (or --id) give "
                              "quarantined ones another try first")
@click.option("--quarantined", is_flag=True,
              help="also retry payloads that failed to normalize")
@click.option("--id", "ids", type=int, multiple=True, help="retry this inbox id")
@click.option("--channel", help="only the quarantined payloads of this channel")
@pass_settings
def inbox_replay(settings: KanalSettings, quarantined: bool, ids: tuple[int, ...],
                 channel: str | None) -> None:
    from gateway.runtime import Kanal

    from core import audit
    from gateway.cli.common import actor

    kanal = Kanal(settings)
    t = InboxItem.__table__
    if quarantined or ids:
        stmt = update(t).where(t.c.status == "quarantined").values(status="pending", error=None)
        if ids:
            stmt = stmt.where(t.c.id.in_(ids))
        if channel:
            stmt = stmt.where(t.c.channel == channel)
        with writing(kanal.engine) as conn:
            again = conn.execute(stmt).rowcount
            if again:
                audit.record(conn, actor(), "replay", channel=channel,
                             detail=f"{again} quarantined inbox payload(s)"
                             + (f": {', '.join(map(str, ids))}" if ids else ""))
    done = kanal.ingestor.run(lambda: _drain(kanal))
    with kanal.engine.connect() as conn:
        left = conn.execute(select(t.c.status, t.c.id).where(
            t.c.status.in_(["pending", "quarantined"]))).all()
    pending = sum(1 for s, _ in left if s == "pending")
    left_quarantined = sum(1 for s, _ in left if s == "quarantined")
    click.echo(f"processed {done}; still pending {pending} (channels not running); "
               f"quarantined {left_quarantined}")


def _drain(kanal) -> int:
    """``Kanal.replay`` a batch at a time, with a progress bar on stderr when it is a
    terminal (over thousands of rows a replay takes minutes)."""
    t = InboxItem.__table__
    running = list(kanal.pipeline.adapters)
    with kanal.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(t).where(
            t.c.status == "pending", t.c.channel.in_(running))).scalar_one()
    err = console(stderr=True)
    done = 0
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=err,
                  disable=not err.file.isatty()) as progress:
        task = progress.add_task("replaying the inbox", total=total)
        while batch := core_inbox.drain(kanal.engine, kanal.pipeline, channels=running,
                                        batch_size=REPLAY_BATCH, max_batches=1):
            done += batch
            progress.update(task, completed=done, total=max(total, done))
    return done


@inbox.command("discard", help="give up on a quarantined payload, with a reason (it is kept, "
                               "never deleted)")
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="why (kept in the audit trail)")
@pass_settings
def inbox_discard(settings: KanalSettings, item_id: int, reason: str) -> None:
    from core.db import make_engine
    from gateway.cli.common import actor

    engine = make_engine(settings.database_url)
    try:
        with writing(engine) as conn:
            core_inbox.discard(conn, item_id, reason, actor=actor())
    finally:
        engine.dispose()
    click.echo(f"inbox item {item_id} discarded")

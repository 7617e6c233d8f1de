"""``kanal serve`` (the web app, webhooks, scheduler and dispatcher in one process) and
``kanal db upgrade``."""

from __future__ import annotations

import logging

import click

from core.db import make_engine, upgrade
from core.settings import KanalSettings
from gateway.cli.common import pass_settings, state


def migrate(settings: KanalSettings) -> None:
    """The schema brought to the newest migration, by one process at a time."""
    from gateway.scheduler import exclusive

    engine = make_engine(settings.database_url)
    try:
        with exclusive(engine, "migrate"):
            upgrade(settings.database_url)
    finally:
        engine.dispose()


@click.command(help="web app, webhooks, scheduler and dispatcher")
@click.option("--host", envvar="KANAL_HOST", default="127.0.0.1", show_default=True,
              show_envvar=True)
@click.option("--port", envvar="KANAL_PORT", type=int, default=8000, show_default=True,
              show_envvar=True)
@click.option("--access-log", is_flag=True, help="log every request")
@pass_settings
def serve(settings: KanalSettings, host: str, port: int, access_log: bool) -> None:
    import uvicorn

    from gateway.app import create_app
    from gateway.logs import redact_channels
    from gateway.runtime import Kanal

    migrate(settings)
    kanal = Kanal(settings)
    kanal.redactor = state().redactor
    redact_channels(kanal.redactor, kanal)
    for status in kanal.channels:
        if status.state != "ready":
            logging.getLogger("kanal").info("channel %s disabled: %s", status.config.id,
                                            status.reason)
    app = create_app(kanal=kanal)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(),
                proxy_headers=True, forwarded_allow_ips=settings.trusted_proxies,
                access_log=access_log, log_config=None)


@click.group(help="database schema")
def db() -> None:
    pass


@db.command("upgrade", help="apply the migrations (serve does this at start-up)")
@pass_settings
def db_upgrade(settings: KanalSettings) -> None:
    migrate(settings)
    click.echo("database is at the newest schema")

"""``kanal secrets``: the key that encrypts secrets typed into the console."""

from __future__ import annotations

import click

from core.settings import KanalSettings
from gateway.cli.common import actor, pass_settings


@click.group(help="the key that encrypts channel secrets at rest (KANAL_SECRET_KEY)")
def secrets() -> None:
    pass


@secrets.command("rotate", help="encrypt every stored secret again under the current "
                 "KANAL_SECRET_KEY (the old key in KANAL_SECRET_KEY_PREVIOUS)")
@pass_settings
def secrets_rotate(settings: KanalSettings) -> None:
    from core.db import writing
    from gateway.cli.serve import migrate
    from gateway.runtime import Kanal

    migrate(settings)
    kanal = Kanal(settings)
    with writing(kanal.engine) as conn:
        done = kanal.configurator.rotate_secrets(conn, actor())
    click.echo(f"{done} secrets encrypted again under the current KANAL_SECRET_KEY; once "
               "every process runs with it, KANAL_SECRET_KEY_PREVIOUS can go")


@secrets.command("key", help="print a new random value for KANAL_SECRET_KEY")
def secrets_key() -> None:
    from core.secretbox import new_key

    click.echo(new_key())

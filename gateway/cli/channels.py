"""``kanal channels``: the configured channels, their state and health."""

from __future__ import annotations

import click

from core.settings import KanalSettings
from gateway.cli.common import json_option, pass_settings, print_json, print_table


def _kanal(settings: KanalSettings):
    from gateway.runtime import Kanal

    return Kanal(settings)


def _channel_health(kanal) -> dict[str, dict]:
    """What the running channels last recorded (a 429, a revoked token); nothing when the
    database has no tables yet."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.health import all_health

    try:
        with kanal.engine.connect() as conn:
            return all_health(conn)
    except SQLAlchemyError:
        return {}


def _rows(kanal) -> list[dict]:
    health = _channel_health(kanal)
    return [{**c.as_dict(), "health": health.get(c.config.id)} for c in kanal.channels]


def _health_text(row: dict) -> str:
    h = row.get("health")
    if not h or h["health"] in ("ok", "unknown"):
        return ""
    return f"; health {h['health']}: {h['last_error']} ({h['last_error_at']})"


@click.group(help="configured channels and their state")
def channels() -> None:
    pass


@channels.command("list", help="every configured channel: adapter, ready or disabled, why")
@json_option
@pass_settings
def channels_list(settings: KanalSettings, as_json: bool) -> None:
    rows = _rows(_kanal(settings))
    if as_json:
        print_json(rows)
        return
    print_table([{**r, "official": f"{r['official_channel_number'] or '+'} "
                  f"{r['official_channel_name']}"} for r in rows],
                ["id", "official", "adapter", "state", "reason"])


@channels.command("check", help="the channels as a checklist, with the installed plugins")
@json_option
@pass_settings
def channels_check(settings: KanalSettings, as_json: bool) -> None:
    from gateway.plugins import plugin_info

    kanal = _kanal(settings)
    rows = _rows(kanal)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        mark = "ok " if r["state"] == "ready" else "-- "
        click.echo(f"{mark}{r['id']:<22} {r['adapter']:<10} "
                   f"{'ready' if r['state'] == 'ready' else r['reason']}{_health_text(r)}")
    ready = sum(r["state"] == "ready" for r in rows)
    click.echo(f"{ready} of {len(rows)} channels ready; adapters installed: "
               f"{', '.join(kanal.registry.names())}")
    click.echo("plugins:")
    for plugin in plugin_info(kanal.pm):
        click.echo(f"  {plugin['name']}: {', '.join(plugin['hooks'])}")

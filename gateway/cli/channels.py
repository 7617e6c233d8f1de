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


@channels.command("status", help="health at a glance, unhealthy first and why (as "
                  "/staff/channels)")
@json_option
@pass_settings
def channels_status(settings: KanalSettings, as_json: bool) -> None:
    from core.channelhealth import as_json as figures_json, channel_figures
    from core.health import wib_text
    from core.models import utcnow

    kanal = _kanal(settings)
    with kanal.engine.connect() as conn:
        figures = channel_figures(conn, kanal, utcnow())
    if as_json:
        print_json([figures_json(f) for f in figures])
        return
    print_table([{
        "id": f["id"], "state": f["state"], "health": f["severity"],
        "why": "; ".join(p["text"] for p in f["problems"]),
        "last_message": wib_text(f["last_message_at"]),
        "1h/1d": f"{f['messages_last_hour']}/{f['messages_last_day']}",
        "outbox p/f/d": "{pending}/{failed}/{dead}".format(**f["outbox"]),
        "quarantined": f["quarantined"]} for f in figures],
        ["id", "state", "health", "why", "last_message", "1h/1d", "outbox p/f/d",
         "quarantined"])


# -- changes: stored in the database, followed by every running kanal serve ------------


def _changing(settings: KanalSettings):
    """A runtime on a database at the newest schema, for a change."""
    from gateway.cli.serve import migrate

    migrate(settings)
    return _kanal(settings)


def _change(kanal, fn, *args, **kwargs):
    from core.db import writing

    with writing(kanal.engine) as conn:
        return fn(conn, *args, **kwargs)


def _pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="KEY=VALUE")
        values[key.strip()] = value
    return values


def _read_secrets(keys: tuple[str, ...]) -> dict[str, str]:
    """One line of standard input per ``--secret KEY``, in order (hidden when typed)."""
    import getpass
    import sys

    values = {}
    for key in keys:
        if sys.stdin.isatty():
            value = getpass.getpass(f"{key}: ")
        else:
            value = sys.stdin.readline().rstrip("\r\n")
        if not value.strip():
            raise click.BadParameter(f"no value for the secret {key} on standard input",
                                     param_hint="--secret")
        values[key] = value.strip()
    return values


@channels.command("add", help="a new channel of an installed adapter (disabled until "
                  "enabled)")
@click.argument("channel_id")
@click.option("--adapter", required=True, help="an installed adapter (kanal channels check)")
@click.option("--official", required=True,
              help="an id from official_channels in the channels file")
@click.option("--name", help="the channel's name on pages")
@pass_settings
def channels_add(settings: KanalSettings, channel_id: str, adapter: str, official: str,
                 name: str | None) -> None:
    from gateway.cli.common import actor

    kanal = _changing(settings)
    _change(kanal, kanal.configurator.add, channel_id, adapter, official, actor(), name=name)
    click.echo(f"added {channel_id} ({adapter}), disabled: set its settings, "
               f"kanal channels test {channel_id}, then kanal channels enable {channel_id}")


def _switch(settings: KanalSettings, channel_id: str, enabled: bool) -> None:
    from gateway.cli.common import actor

    kanal = _changing(settings)
    done = _change(kanal, kanal.configurator.set_enabled, channel_id, enabled, actor())
    word = "enabled" if enabled else "disabled"
    if not done:
        click.echo(f"{channel_id} was {word} already")
        return
    kanal.reload_channels()
    status = kanal.channel(channel_id)
    tail = "" if status.state == "ready" or not enabled else f", but off: {status.reason}"
    click.echo(f"{channel_id} {word}{tail}; running servers follow within seconds")


@channels.command("enable", help="switch a channel on (running servers follow in seconds)")
@click.argument("channel_id")
@pass_settings
def channels_enable(settings: KanalSettings, channel_id: str) -> None:
    _switch(settings, channel_id, True)


@channels.command("disable", help="switch a channel off: its webhook answers 503, its "
                  "poller stops after the current batch")
@click.argument("channel_id")
@pass_settings
def channels_disable(settings: KanalSettings, channel_id: str) -> None:
    _switch(settings, channel_id, False)


@channels.command("set", help="change settings: KEY=VALUE ..., secrets with --secret KEY "
                  "(one line each from standard input), --unset KEY (back to the file)")
@click.argument("channel_id")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--secret", "secret_keys", multiple=True, metavar="KEY",
              help="a secret setting, read from standard input")
@click.option("--unset", "unset", multiple=True, metavar="KEY",
              help="remove the operator's value: the channels file's applies again")
@click.option("--force", is_flag=True,
              help="keep typed-in secrets even when the provider refuses them")
@pass_settings
def channels_set(settings: KanalSettings, channel_id: str, pairs: tuple[str, ...],
                 secret_keys: tuple[str, ...], unset: tuple[str, ...], force: bool) -> None:
    from gateway.cli.common import actor

    values = _pairs(pairs)
    if not values and not secret_keys and not unset:
        raise click.UsageError("give KEY=VALUE, --secret KEY or --unset KEY")
    secrets = _read_secrets(secret_keys)
    kanal = _changing(settings)
    if secrets and not force:
        # typed-in credentials are tried before they are kept, as on the console
        pending = {k: v for k, v in {**values, **secrets}.items() if k != "name"}
        result = kanal.test_channel(channel_id, pending)
        if not result.ok:
            for check in result.checks:
                if not check.ok:
                    click.echo(f"-- {check.name}: {check.detail}", err=True)
            click.echo(f"kanal: the provider refused the new settings of {channel_id}; "
                       "nothing was changed (--force keeps them anyway)", err=True)
            click.get_current_context().exit(1)
    changed = _change(kanal, kanal.configurator.update, channel_id, actor(), values=values,
                      secrets=secrets, unset=unset)
    if not changed:
        click.echo(f"{channel_id}: nothing changed")
        return
    kanal.reload_channels()
    status = kanal.channel(channel_id)
    state = "ready" if status.state == "ready" else f"off: {status.reason}"
    click.echo(f"{channel_id}: changed {', '.join(changed)}; now {state}")


@channels.command("test", help="ask the provider, live, whether the channel's settings "
                  "work (exit 0 when they do, 1 when not)")
@click.argument("channel_id")
@json_option
@pass_settings
def channels_test(settings: KanalSettings, channel_id: str, as_json: bool) -> None:
    kanal = _kanal(settings)
    result = kanal.test_channel(channel_id)
    if as_json:
        print_json({"channel": channel_id, **result.as_dict()})
    else:
        if not result.checks:
            click.echo(f"{channel_id}: nothing to test (no outside provider)")
        for check in result.checks:
            mark = "ok" if check.ok else "--"
            click.echo(f"{mark} {check.name}{': ' + check.detail if check.detail else ''}")
        if result.expires_at:
            click.echo(f"the token expires at {result.expires_at.isoformat()}")
        click.echo(f"{channel_id}: {'the provider accepts the settings' if result.ok else 'FAILED'}")
    click.get_current_context().exit(0 if result.ok else 1)


@channels.command("export", help="the effective configuration as a channels file (YAML), "
                  "secrets as ${...} references")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="write to this file instead of standard output")
@pass_settings
def channels_export(settings: KanalSettings, output: str | None) -> None:
    import yaml
    from sqlalchemy.exc import SQLAlchemyError

    from core.channelconf import export, read_overrides

    kanal = _kanal(settings)
    try:
        with kanal.engine.connect() as conn:
            rows = read_overrides(conn)
    except SQLAlchemyError:
        rows = {}  # no tables yet: the file is all there is
    data = export(kanal.channels_file, rows, kanal.registry)
    text = ("# exported by kanal channels export: secrets are ${...} references, never "
            "values\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    if output:
        from pathlib import Path

        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(data['channels'])} channels to {output}", err=True)
    else:
        write_text(text)


def write_text(text: str) -> None:
    from gateway.cli.common import write

    write(text[i:i + 4096] for i in range(0, len(text), 4096))

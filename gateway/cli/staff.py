"""``kanal staff``: the accounts of the /staff pages."""

from __future__ import annotations

import getpass
import sys

import click

from core import reports
from core.db import make_engine, writing
from core.settings import KanalSettings
from gateway.cli.common import actor, json_option, listing, pass_settings
from gateway.cli.serve import migrate
from gateway.cli.units import units_engine

password_stdin = click.option("--password-stdin", is_flag=True,
                              help="read the password from the first line of stdin")


def _read_password(from_stdin: bool) -> str:
    from core.staff import StaffError

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise StaffError("no password on stdin")
        return password
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise StaffError("the passwords do not match")
    return password


def _engine(settings: KanalSettings):
    migrate(settings)  # a fresh database answers, instead of a traceback
    return make_engine(settings.database_url)


@click.group(help="staff accounts for the /staff pages")
def staff() -> None:
    pass


@staff.command("add", help="a staff account; asks for the password twice")
@click.argument("username")
@click.option("--role", required=True,
              help="admin, operator, counter, officer or supervisor")
@click.option("--office", help="the office of a counter account (kanal offices list)")
@click.option("--unit", "unit_id", metavar="UNIT_ID",
              help="the unit of an officer (required) or a supervisor (kanal units list)")
@click.option("--name", help="display name")
@password_stdin
@pass_settings
def staff_add(settings: KanalSettings, username: str, role: str, office: str | None,
              unit_id: str | None, name: str | None, password_stdin: bool) -> None:
    from core import staff as core_staff

    # before asking for the password
    if role not in core_staff.ROLES:
        raise core_staff.StaffError(
            f"unknown role {role!r}; roles: {', '.join(core_staff.ROLES)}")
    if role == "officer" and not unit_id:
        raise core_staff.StaffError("an officer account needs --unit (see kanal units list)")
    password = _read_password(password_stdin)
    engine = units_engine(settings)
    with writing(engine) as conn:
        account = core_staff.add(conn, username, password, role, office_id=office,
                                 unit_id=unit_id, display_name=name)
    at = "".join(f" at {place}" for place in (account.office_id, account.unit_id) if place)
    click.echo(f"added {account.role} account {account.username}{at}")


@staff.command("list", help="accounts, roles, offices and units, live API tokens, last sign-in")
@json_option
@pass_settings
def staff_list(settings: KanalSettings, as_json: bool) -> None:
    from core import staff as core_staff

    from core import tokens

    with _engine(settings).connect() as conn:
        rows = [dict(r._mapping) for r in core_staff.list_accounts(conn)]
        live = tokens.live_counts(conn)
    for r in rows:
        r["last_login_at"] = reports.wib(r["last_login_at"])
        r["tokens"] = live.get(r["username"], 0)
    if not as_json:
        rows = [{**r, "active": "yes" if r["active"] else "no"} for r in rows]
    listing(rows, ["username", "role", "office_id", "unit_id", "active", "tokens",
                   "last_login_at", "display_name"], as_json)


def _set_active(settings: KanalSettings, username: str, active: bool) -> None:
    from core import staff as core_staff

    with writing(_engine(settings)) as conn:
        core_staff.set_active(conn, username, active)


@staff.command("disable", help="the account cannot sign in; its sessions end at once")
@click.argument("username")
@pass_settings
def staff_disable(settings: KanalSettings, username: str) -> None:
    _set_active(settings, username, False)
    click.echo(f"disabled staff account {username}; its sessions have ended")


@staff.command("enable", help="the account can sign in again")
@click.argument("username")
@pass_settings
def staff_enable(settings: KanalSettings, username: str) -> None:
    _set_active(settings, username, True)
    click.echo(f"enabled staff account {username}")


@staff.command("passwd", help="a new password; every session of the account ends")
@click.argument("username")
@password_stdin
@pass_settings
def staff_passwd(settings: KanalSettings, username: str, password_stdin: bool) -> None:
    from core import staff as core_staff

    password = _read_password(password_stdin)
    with writing(_engine(settings)) as conn:
        core_staff.set_password(conn, username, password)
    click.echo(f"new password for {username}; its sessions have ended")


@staff.command("token", help="a new API token for the officers' API (shown once), or "
               "--revoke every token of the account")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="revoke every live token of the account")
@pass_settings
def staff_token(settings: KanalSettings, username: str, revoke: bool) -> None:
    """The token alone on stdout, so a script can capture it; the note goes to stderr.
    The audit trail records who made or revoked tokens of which account, never a token."""
    from core import audit, staff as core_staff, tokens

    with writing(_engine(settings)) as conn:
        account = core_staff.get(conn, username)
        if revoke:
            count = tokens.revoke(conn, account.username)
            audit.record(conn, actor(), "token_revoked",
                         detail=f"staff account {account.username}: {count} token(s)")
        else:
            token = tokens.issue(conn, account.username)
            audit.record(conn, actor(), "token_issued",
                         detail=f"staff account {account.username}")
    if revoke:
        click.echo(f"revoked {count} token(s) of staff account {account.username}")
        return
    click.echo(f"API token for {account.username} ({account.role}); it is shown only "
               "this once. Send it as 'Authorization: Bearer <token>'.", err=True)
    click.echo(token)

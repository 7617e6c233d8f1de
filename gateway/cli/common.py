"""What every ``kanal`` command shares: its settings, the log redactor, how errors end a
command, and how output is printed (a rich table, or ``--json``) so that scripts can read
it and a reader that stops early (``kanal offices list | head``) ends it quietly."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.settings import KanalSettings

# Off a terminal a table is as wide as its widest row, so every row stays one line a
# script can split; rich would otherwise fit it into 80 columns.
PIPE_WIDTH = 1_000_000
EXIT_USAGE = 2  # a usage or input error, as Click's own
EXIT_SIGPIPE = 128 + signal.SIGPIPE


@dataclass
class State:
    """Made once per run, by the first command that needs settings (never for ``--help``
    or a usage error, which must not depend on a readable environment)."""
    settings: KanalSettings
    redactor: Any  # gateway.logs.RedactingFilter: ``kanal serve`` adds the channels' secrets


def state() -> State:
    ctx = click.get_current_context().find_root()
    if ctx.obj is None:
        from gateway.logs import install

        settings = KanalSettings()
        ctx.obj = State(settings, install(settings.log_level))
    return ctx.obj


def pass_settings(fn: Callable) -> Callable:
    """Hands the command its ``KanalSettings`` as the first argument."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(state().settings, *args, **kwargs)
    return wrapper


def user_errors() -> tuple[type[Exception], ...]:
    """Configuration and input errors: a ``kanal: reason`` line and exit 2, no traceback."""
    from core import offices, units
    from core.channelconf import ChangeRefused
    from core.config import ConfigError
    from core.errors import ApiError
    from core.geo import BoundariesError
    from core.staff import StaffError

    return (ConfigError, BoundariesError, StaffError, offices.OfficeError, units.UnitError,
            ChangeRefused, ApiError)


class KanalGroup(click.Group):
    """The root group: turns the errors above into a line and exit 2, and a broken pipe
    into exit 141. Both are caught here, below Click's own main, which would turn a broken
    pipe into exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise click.exceptions.Exit(silence_stdout()) from None
        except user_errors() as exc:
            click.echo(f"kanal: {exc}", err=True)
            raise click.exceptions.Exit(EXIT_USAGE) from None


def silence_stdout() -> int:
    """After a reader stopped early: the interpreter's last flush of stdout goes nowhere
    (the recipe of the Python docs, library/signal.html#note-on-sigpipe), and the command
    ends with 141, as SIGPIPE ends other commands."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_SIGPIPE


def console(stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr): colour only on a terminal, no markup
    read from the data, and no wrapping or cropping off a terminal."""
    out = Console(stderr=stderr, highlight=False, markup=False, emoji=False)
    if not out.file.isatty():
        out.width = PIPE_WIDTH
    return out


def print_table(rows: list[dict], columns: list[str]) -> None:
    """One line per row under a line of upper-case column names, columns two spaces
    apart; an empty or missing value is a blank cell. Off a terminal, lines are never
    wrapped, cropped or padded, so a script can split them."""
    table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1),
                  header_style="bold")
    for c in columns:
        table.add_column(c.upper())
    for r in rows:
        table.add_row(*(Text(str(r.get(c) or "")) for c in columns))
    out = console()
    if out.file.isatty():
        out.print(table)
        return
    with out.capture() as captured:  # rich pads the last column: lines end at their text
        out.print(table)
    write(f"{line.rstrip()}\n" for line in captured.get().splitlines())


def print_json(data: Any) -> None:
    write(json.JSONEncoder(indent=2, ensure_ascii=False, default=str).iterencode(data))
    sys.stdout.write("\n")


def write(pieces: Iterable[str]) -> None:
    """Long output to stdout in small pieces. One large write to a pipe its reader has
    closed loses its BrokenPipeError (``TextIOWrapper`` drops the buffer's short write),
    and ``kanal offices list --json | head`` would end 0 with the rest silently lost."""
    out = sys.stdout
    for piece in pieces:
        out.write(piece)


def json_option(fn: Callable) -> Callable:
    """``--json``: every listing has it, for scripts; the command gets ``as_json``."""
    return click.option("--json", "as_json", is_flag=True,
                        help="print JSON instead of a table")(fn)


def listing(rows: list[dict], columns: list[str], as_json: bool) -> None:
    """A listing as ``--json`` asked: every field of the rows, or the table of ``columns``."""
    if as_json:
        print_json(rows)
    else:
        print_table(rows, columns)


def queue_options(statuses: list[str]) -> Callable:
    """The filters of ``inbox list`` and ``outbox list``, and ``--json``."""
    def decorate(fn: Callable) -> Callable:
        for option in reversed([
                click.option("--status", type=click.Choice(statuses)),
                click.option("--channel", help="only this channel id"),
                click.option("--limit", type=int, default=50, show_default=True,
                             help="the newest this many rows"),
                json_option]):
            fn = option(fn)
        return fn
    return decorate


def newest_rows(settings: KanalSettings, table, columns: list[str], time_column: str, *,
                status: str | None, channel: str | None, limit: int) -> list[dict]:
    """The newest rows of the inbox or the outbox, filtered by status and channel, their
    ``time_column`` in WIB."""
    from sqlalchemy import select

    from core import reports
    from core.db import make_engine

    engine = make_engine(settings.database_url)
    t = table.__table__
    stmt = select(*(t.c[c] for c in columns)).order_by(t.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(t.c.status == status)
    if channel:
        stmt = stmt.where(t.c.channel == channel)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for r in rows:
        r[time_column] = reports.wib(r[time_column])
    return rows


def actor() -> str:
    """Who a change made from the command line is recorded as: ``$KANAL_ACTOR``, else
    ``cli:<the system user>``."""
    import getpass

    named = os.environ.get("KANAL_ACTOR", "").strip()
    if named:
        return named[:64]
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"

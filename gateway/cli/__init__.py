"""The ``kanal`` command: a Click group of nouns (``kanal inbox replay``), one module per
noun in this package, with what they share in ``common``.

Adding a command is one decorated function in its noun's module, e.g. in ``channels.py``::

    @channels.command("status", help="one line on what the command does")
    @click.argument("channel_id")
    @json_option                      # a listing: --json as well as the table
    @pass_settings                    # the KanalSettings, as the first argument
    def channels_status(settings: KanalSettings, channel_id: str, as_json: bool) -> None:
        rows = ...
        listing(rows, ["id", "state"], as_json)

Print with ``click.echo``, ``print_table`` or ``print_json`` (``common``), never ``print``
of a hand-made table. Raise the domain's error (``StaffError``, ``OfficeError``,
``ConfigError``...) for bad input: the root group prints ``kanal: reason`` and exits 2.
Exit with another status through ``click.get_current_context().exit(status)``. Long work
shows a ``rich.progress.Progress`` on ``console(stderr=True)``, disabled off a terminal
(see ``inbox._drain``). A new noun (``kanal secrets``, ``kanal audit``) is a module with
its ``@click.group()``, added to ``cli`` below with ``cli.add_command``.
"""

from __future__ import annotations

import sys

import click

from gateway.cli import (audit, bench, cases, channels, inbox, offices, outbox, report,
                         secrets, serve, staff, units)
from gateway.cli.common import KanalGroup, silence_stdout


@click.group(cls=KanalGroup, help="Complaint intake gateway",
             context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    pass


for command in (serve.serve, serve.db, channels.channels, inbox.inbox, outbox.outbox,
                report.report, staff.staff, offices.offices, units.units, secrets.secrets,
                audit.audit, bench.bench, cases.cases):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run one command and return its exit status: 2 with the usage for a usage error,
    141 when the reader of stdout stopped early (``kanal offices list | head``)."""
    try:
        status = cli.main(args=argv, prog_name="kanal", standalone_mode=False)
        sys.stdout.flush()  # here, not at exit, so that a broken pipe is caught below
        return status if isinstance(status, int) else 0
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except BrokenPipeError:
        return silence_stdout()

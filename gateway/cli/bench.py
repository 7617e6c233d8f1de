"""``kanal bench``: the benchmarks of bench/ (in a source checkout)."""

from __future__ import annotations

import subprocess
import sys

import click

from core.settings import PROJECT_ROOT
from gateway.cli.common import EXIT_USAGE

# bench/email.py would hide the standard library's email package from its neighbours
BENCH_FILES = {"email": "email_intake", "performance": "bench_performance"}


@click.command(help="run a benchmark from bench/; the arguments after WHICH go to it",
               context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@click.argument("which", type=click.Choice(["ack", "email", "performance", "pipeline", "twilio"]))
@click.argument("rest", nargs=-1, type=click.UNPROCESSED)
def bench(which: str, rest: tuple[str, ...]) -> None:
    ctx = click.get_current_context()
    script = PROJECT_ROOT / "bench" / f"{BENCH_FILES.get(which, which)}.py"
    if not script.exists():
        click.echo(f"no benchmark at {script} (run from a source checkout)", err=True)
        ctx.exit(EXIT_USAGE)
    ctx.exit(subprocess.call([sys.executable, str(script), *rest]))

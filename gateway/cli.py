"""The ``kanal`` command."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import subprocess
import sys

from sqlalchemy import select, update

from core import offices, reports, tracking
from core.db import make_engine, upgrade, writing
from core.models import InboxItem, OutboxItem
from core.settings import PROJECT_ROOT, KanalSettings


def plugin_info(pm):
    from gateway.plugins import plugin_info as info

    return info(pm)


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


def _health_text(row: dict) -> str:
    h = row.get("health")
    if not h or h["health"] in ("ok", "unknown"):
        return ""
    return f"; health {h['health']}: {h['last_error']} ({h['last_error_at']})"


def _print_table(rows: list[dict], columns: list[str]) -> None:
    widths = {c: max([len(c)] + [len(str(r.get(c) or "")) for r in rows]) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        print("  ".join(str(r.get(c) or "").ljust(widths[c]) for c in columns).rstrip())


def cmd_serve(args, settings: KanalSettings) -> int:
    import uvicorn

    from gateway.app import create_app

    from gateway.logs import channel_secrets
    from gateway.runtime import Kanal

    migrate(settings)
    kanal = Kanal(settings)
    args.redactor.secrets = sorted(set(args.redactor.secrets) | set(channel_secrets(kanal)),
                                   key=len, reverse=True)
    for status in kanal.channels:
        if status.state != "ready":
            logging.getLogger("kanal").info("channel %s disabled: %s", status.config.id,
                                            status.reason)
    app = create_app(kanal=kanal)
    uvicorn.run(app, host=args.host, port=args.port, log_level=settings.log_level.lower(),
                proxy_headers=True, forwarded_allow_ips=settings.trusted_proxies,
                access_log=args.access_log, log_config=None)
    return 0


def migrate(settings: KanalSettings) -> None:
    from gateway.scheduler import exclusive

    engine = make_engine(settings.database_url)
    try:
        with exclusive(engine, "migrate"):
            upgrade(settings.database_url)
    finally:
        engine.dispose()


def cmd_db_upgrade(args, settings) -> int:
    migrate(settings)
    print("database is at the newest schema")
    return 0


def cmd_channels(args, settings) -> int:
    kanal = _kanal(settings)
    health = _channel_health(kanal)
    rows = [{**c.as_dict(), "health": health.get(c.config.id)} for c in kanal.channels]
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if args.action == "check":
        for r in rows:
            mark = "ok " if r["state"] == "ready" else "-- "
            print(f"{mark}{r['id']:<22} {r['adapter']:<10} "
                  f"{'ready' if r['state'] == 'ready' else r['reason']}{_health_text(r)}")
        ready = sum(r["state"] == "ready" for r in rows)
        print(f"{ready} of {len(rows)} channels ready; adapters installed: "
              f"{', '.join(kanal.registry.names())}")
        print("plugins:")
        for plugin in plugin_info(kanal.pm):
            print(f"  {plugin['name']}: {', '.join(plugin['hooks'])}")
        return 0
    _print_table([{**r, "official": f"{r['official_channel_number'] or '+'} "
                   f"{r['official_channel_name']}"} for r in rows],
                 ["id", "official", "adapter", "state", "reason"])
    return 0


def _list(args, settings, table, columns: list[str], time_column: str) -> int:
    """The newest rows of the inbox or the outbox, filtered by status and channel."""
    engine = make_engine(settings.database_url)
    t = table.__table__
    stmt = select(*(t.c[c] for c in columns)).order_by(t.c.id.desc()).limit(args.limit)
    if args.status:
        stmt = stmt.where(t.c.status == args.status)
    if args.channel:
        stmt = stmt.where(t.c.channel == args.channel)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for r in rows:
        r[time_column] = reports.wib(r[time_column])
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
    else:
        _print_table(rows, columns)
    return 0


def cmd_inbox_list(args, settings) -> int:
    return _list(args, settings, InboxItem, ["id", "channel", "external_id", "status",
                                             "attempts", "ingested_at", "report_id", "error"],
                 "ingested_at")


def cmd_inbox_replay(args, settings) -> int:
    """Process pending payloads; with --quarantined (or --id) give quarantined ones
    another try first."""
    kanal = _kanal(settings)
    t = InboxItem.__table__
    if args.quarantined or args.id:
        stmt = update(t).where(t.c.status == "quarantined").values(status="pending", error=None)
        if args.id:
            stmt = stmt.where(t.c.id.in_(args.id))
        if args.channel:
            stmt = stmt.where(t.c.channel == args.channel)
        with writing(kanal.engine) as conn:
            conn.execute(stmt)
    done = kanal.replay()
    with kanal.engine.connect() as conn:
        left = conn.execute(select(t.c.status, t.c.id).where(
            t.c.status.in_(["pending", "quarantined"]))).all()
    pending = sum(1 for s, _ in left if s == "pending")
    quarantined = sum(1 for s, _ in left if s == "quarantined")
    print(f"processed {done}; still pending {pending} (channels not running); "
          f"quarantined {quarantined}")
    return 0


def cmd_outbox_list(args, settings) -> int:
    return _list(args, settings, OutboxItem, ["id", "channel", "kind", "status", "attempts",
                                              "next_attempt_at", "provider_message_id",
                                              "last_error"], "next_attempt_at")


def cmd_outbox_retry(args, settings) -> int:
    """Queue failed (dead) outbox items again, or the given ones."""
    from core.outbox import retry

    engine = make_engine(settings.database_url)
    with writing(engine) as conn:
        count = retry(conn, args.id)
    print(f"queued {count} outbox item(s) again")
    return 0


def cmd_report_show(args, settings) -> int:
    try:
        compact = tracking.normalize(args.tracking_id)
    except tracking.InvalidTrackingID as exc:
        print(f"not a tracking ID ({exc.reason}): periksa kembali nomor laporan", file=sys.stderr)
        return 2
    from core.categories import load as load_categories
    from core.geo import Boundaries

    names = {c["id"]: c["id_name"] for c in load_categories(settings.path("categories"))}
    areas = (Boundaries.from_geojson(settings.path("boundaries"),
                                     max_distance_m=settings.boundaries_max_distance_m)
             if settings.boundaries else None)  # named as the public view names them
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        view = reports.staff_report(conn, compact, categories=names, areas=areas)
    if view is None:
        print(f"no report {tracking.display(compact)}", file=sys.stderr)
        return 1
    print(json.dumps(view, indent=2, ensure_ascii=False, default=str))
    return 0


def _read_password(args) -> str:
    from core.staff import StaffError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise StaffError("no password on stdin")
        return password
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise StaffError("the passwords do not match")
    return password


def _offices_engine(settings):
    """The schema brought up to date and the offices of KANAL_BOUNDARIES in place, so a
    fresh install can add accounts at once."""
    migrate(settings)
    engine = make_engine(settings.database_url)
    offices.sync_from_settings(engine, settings)
    return engine


def cmd_staff_add(args, settings) -> int:
    from core import staff

    if args.role not in staff.ROLES:  # before asking for the password
        raise staff.StaffError(f"unknown role {args.role!r}; roles: {', '.join(staff.ROLES)}")
    password = _read_password(args)
    engine = _offices_engine(settings)
    with writing(engine) as conn:
        account = staff.add(conn, args.username, password, args.role, office_id=args.office,
                            display_name=args.name)
    at = f" at {account.office_id}" if account.office_id else ""
    print(f"added {account.role} account {account.username}{at}")
    return 0


def cmd_staff_list(args, settings) -> int:
    from core import staff

    migrate(settings)  # a fresh database answers, instead of a traceback
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in staff.list_accounts(conn)]
    for r in rows:
        r["last_login_at"] = reports.wib(r["last_login_at"])
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
    else:
        _print_table([{**r, "active": "yes" if r["active"] else "no"} for r in rows],
                     ["username", "role", "office_id", "active", "last_login_at",
                      "display_name"])
    return 0


def cmd_staff_active(args, settings) -> int:
    from core import staff

    active = args.action == "enable"
    migrate(settings)  # a fresh database answers, instead of a traceback
    engine = make_engine(settings.database_url)
    with writing(engine) as conn:
        staff.set_active(conn, args.username, active)
    print(f"{args.action}d staff account {args.username}"
          + ("" if active else "; its sessions have ended"))
    return 0


def cmd_staff_passwd(args, settings) -> int:
    from core import staff

    password = _read_password(args)
    migrate(settings)  # a fresh database answers, instead of a traceback
    engine = make_engine(settings.database_url)
    with writing(engine) as conn:
        staff.set_password(conn, args.username, password)
    print(f"new password for {args.username}; its sessions have ended")
    return 0


def cmd_offices_list(args, settings) -> int:
    engine = _offices_engine(settings)
    with engine.connect() as conn:
        rows = [{"id": r.id, "kind": r.kind, "area_code": r.area_code, "name": r.name,
                 "active": r.active, "channel": offices.KINDS.get(r.kind)}
                for r in offices.list_offices(conn, args.kind)]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    _print_table(rows, ["id", "kind", "area_code", "name"])
    print(f"{len(rows)} office(s)")
    return 0


def cmd_offices_add(args, settings) -> int:
    engine = _offices_engine(settings)
    with writing(engine) as conn:
        office = offices.add(conn, args.id, args.kind, args.name, args.area)
    print(f"added office {office.id} ({office.kind}, area {office.area_code or '-'}): "
          f"{office.name}")
    return 0


BENCH_FILES = {"email": "email_intake"}


def cmd_bench(args, settings) -> int:
    # bench/email.py would hide the standard library's email package from its neighbours
    script = PROJECT_ROOT / "bench" / f"{BENCH_FILES.get(args.which, args.which)}.py"
    if not script.exists():
        print(f"no benchmark at {script} (run from a source checkout)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *args.rest])


def _list_parser(sub, statuses: list[str], func) -> None:
    p = sub.add_parser("list")
    p.add_argument("--status", choices=statuses)
    p.add_argument("--channel")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kanal", description="Complaint intake gateway")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="web app, webhooks, scheduler and dispatcher")
    serve.add_argument("--host", default=os.environ.get("KANAL_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("KANAL_PORT", "8000")))
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=cmd_serve)

    channels = sub.add_parser("channels", help="configured channels and their state")
    csub = channels.add_subparsers(dest="action", required=True)
    for action in ("list", "check"):
        c = csub.add_parser(action)
        c.add_argument("--json", action="store_true")
        c.set_defaults(func=cmd_channels)

    inbox_p = sub.add_parser("inbox", help="raw payloads: list and replay")
    isub = inbox_p.add_subparsers(dest="action", required=True)
    _list_parser(isub, ["pending", "processed", "quarantined"], cmd_inbox_list)
    ir = isub.add_parser("replay")
    ir.add_argument("--quarantined", action="store_true",
                    help="also retry payloads that failed to normalize")
    ir.add_argument("--id", type=int, action="append", help="retry this inbox id")
    ir.add_argument("--channel")
    ir.set_defaults(func=cmd_inbox_replay)

    outbox_p = sub.add_parser("outbox", help="outbound messages: list and retry")
    osub = outbox_p.add_subparsers(dest="action", required=True)
    _list_parser(osub, ["pending", "sent", "dead"], cmd_outbox_list)
    orr = osub.add_parser("retry")
    orr.add_argument("--id", type=int, action="append",
                     help="retry this item (default: every dead item)")
    orr.set_defaults(func=cmd_outbox_retry)

    report = sub.add_parser("report", help="reports")
    rsub = report.add_subparsers(dest="action", required=True)
    rs = rsub.add_parser("show")
    rs.add_argument("tracking_id")
    rs.set_defaults(func=cmd_report_show)

    staff_p = sub.add_parser("staff", help="staff accounts for the /staff pages")
    ssub = staff_p.add_subparsers(dest="action", required=True)
    sa = ssub.add_parser("add")
    sa.add_argument("username")
    sa.add_argument("--role", required=True, help="admin, counter, officer or supervisor")
    sa.add_argument("--office", help="the office of a counter account (kanal offices list)")
    sa.add_argument("--name", help="display name")
    sa.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of stdin")
    sa.set_defaults(func=cmd_staff_add)
    sl = ssub.add_parser("list")
    sl.add_argument("--json", action="store_true")
    sl.set_defaults(func=cmd_staff_list)
    for action in ("disable", "enable"):
        se = ssub.add_parser(action)
        se.add_argument("username")
        se.set_defaults(func=cmd_staff_active)
    sp = ssub.add_parser("passwd")
    sp.add_argument("username")
    sp.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of stdin")
    sp.set_defaults(func=cmd_staff_passwd)

    offices_p = sub.add_parser("offices", help="offices with a walk-in counter")
    fsub = offices_p.add_subparsers(dest="action", required=True)
    fl = fsub.add_parser("list")
    fl.add_argument("--kind", choices=list(offices.KINDS))
    fl.add_argument("--json", action="store_true")
    fl.set_defaults(func=cmd_offices_list)
    fa = fsub.add_parser("add")
    fa.add_argument("id")
    fa.add_argument("--kind", required=True, choices=list(offices.KINDS))
    fa.add_argument("--name", required=True)
    fa.add_argument("--area", help="Kemendagri area code: 31, 31.71, 31.71.01 or 31.71.01.1001")
    fa.set_defaults(func=cmd_offices_add)

    db = sub.add_parser("db", help="database schema")
    dsub = db.add_subparsers(dest="action", required=True)
    du = dsub.add_parser("upgrade")
    du.set_defaults(func=cmd_db_upgrade)

    bench = sub.add_parser("bench", help="run a benchmark from bench/")
    bench.add_argument("which", choices=["ack", "email", "pipeline", "twilio"])
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. A reader that stops early (``kanal offices list | head``) ends
    it quietly with 141, as SIGPIPE ends other commands (the recipe of the Python docs,
    library/signal.html#note-on-sigpipe)."""
    try:
        status = _run(argv)
        sys.stdout.flush()  # here, not at exit, so that a broken pipe is caught below
        return status
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush goes nowhere
        return 128 + signal.SIGPIPE


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    settings = KanalSettings()
    from gateway.logs import install

    args.redactor = install(settings.log_level)
    try:
        return args.func(args, settings)
    except Exception as exc:  # a clear line, not a traceback, for configuration and input errors
        from core.config import ConfigError
        from core.geo import BoundariesError
        from core.staff import StaffError

        if isinstance(exc, (ConfigError, BoundariesError, StaffError, offices.OfficeError)):
            print(f"kanal: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark (d): the email channel's IMAP intake. Fills a throwaway Dovecot mailbox with
N citizen mails and times ``Kanal.poll_channel("email")`` turning them into reports, in two
phases (200 mails, then the rest) to show that memory stays flat as the mailbox grows;
then delivers 20 more one by one with dovecot-lda while IMAP IDLE runs, and times each
from delivery to report.

Usage: kanal bench email (bench/email_intake.py) [--count 2000] [--database-url URL] [--json]
Needs root and Dovecot (``tests/adapters/email/dovecot.py``). Without --database-url a fresh
SQLite file in a temp dir is used; with a PostgreSQL URL a private schema is created
(search_path) and dropped afterwards. No acknowledgement is sent: the dispatcher does not
run, so the acks only queue up in the outbox.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))
from email.message import EmailMessage  # noqa: E402
from email.utils import format_datetime  # noqa: E402

import yaml  # noqa: E402
from imapclient import IMAPClient  # noqa: E402
from pipeline import (  # noqa: E402
    TEXTS, bench_database, reset_peak_rss, shared_geojson, status_kb,
)
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.db import upgrade  # noqa: E402
from core.models import Attachment, InboxItem, OutboxItem, Report  # noqa: E402
from core.settings import KanalSettings  # noqa: E402
from tests.adapters.email import dovecot as dovecot_mod  # noqa: E402
from tests.adapters.email.dovecot import PASSWORD, Dovecot  # noqa: E402
from tests.adapters.web.helpers import png  # noqa: E402

FIRST = 200  # mails of the first phase
TARGET_GROWTH_MB = 50.0
TARGET_LATENCY_S = 2.0
LATENCY_SAMPLES = 20
STREETS = ["Jl. Cikini Raya", "Jl. Salemba Raya", "Gang Mawar", "Jl. Kramat Raya",
           "Jl. Tebet Barat Dalam", "Jl. Kebon Sirih", "Jl. Pramuka", "Jl. Casablanca"]
DETAIL = ("Kondisi ini sudah berlangsung cukup lama dan warga sekitar sudah beberapa kali "
          "melapor ke RT/RW setempat, tetapi belum ada tindak lanjut. Mohon petugas dapat "
          "segera meninjau lokasi dan mengambil tindakan yang diperlukan. ")


def make_mail(i: int, run: str, rng: random.Random, now: datetime) -> bytes:
    """A citizen's complaint: 0.5-4 KB of text, ~10% of senders write again, every 10th
    mail carries a ~60-140 KB PNG photo."""
    sender = rng.randrange(i) if i and rng.random() < 0.10 else i
    k = rng.randrange(len(TEXTS))
    msg = EmailMessage()
    msg["From"] = f"Warga {sender:05d} <warga{sender:05d}@mail.example.id>"
    msg["To"] = "dki@jakarta.go.id"
    msg["Subject"] = f"Pengaduan: {TEXTS[k][:40]} ({i})"
    msg["Date"] = format_datetime(now - timedelta(seconds=rng.randrange(86400)))
    msg["Message-ID"] = f"<{run}.{i}@mail.example.id>"
    body = (f"Yth. Bapak/Ibu,\n\n{TEXTS[k]} di {rng.choice(STREETS)} "
            f"No. {rng.randrange(1, 200)}.\n\n" + DETAIL * rng.randrange(2, 20)
            + f"\n\nTerima kasih.\nWarga {sender:05d}\n")
    msg.set_content(body)
    if i % 10 == 9:
        msg.add_attachment(png(pad=rng.randrange(60_000, 140_000)), maintype="image",
                           subtype="png", filename=f"foto-{i}.png")
    return msg.as_bytes()


class Maildir:
    """Mail written straight into a user's Maildir (tmp/, then renamed into new/), owned
    by the mail user as dovecot-lda would leave it: thousands of LDA runs would be slow."""

    def __init__(self, server: Dovecot, user: str):
        self.server, self.user = server, user
        self.root = server.mail / user / "Maildir"
        for d in (self.root, self.root / "cur", self.root / "new", self.root / "tmp"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chown(d, server._nobody, server._nogroup)

    def put(self, i: int, raw: bytes) -> None:
        now = time.time()
        name = (f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{i}.kanal-bench"
                f",S={len(raw)}")
        tmp = self.root / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.server._nobody, self.server._nogroup)
        tmp.chmod(0o600)
        tmp.rename(self.root / "new" / name)

    def index(self) -> None:
        """Let Dovecot take the new mail in (UIDs, index), as delivery would have done."""
        with IMAPClient(self.server.host, port=self.server.port, ssl=False) as c:
            c.login(self.user, PASSWORD)
            c.select_folder("INBOX", readonly=True)


def channels_file(path: Path, server: Dovecot, user: str) -> Path:
    path.write_text(yaml.safe_dump({
        "official_channels": [{"id": "email-dki", "number": 4,
                               "name": "Email dki@jakarta.go.id"}],
        "channels": [{
            "id": "email", "official_channel": "email-dki", "adapter": "email",
            "settings": {"imap_host": server.host, "imap_port": server.port,
                         "imap_user": user, "imap_password": PASSWORD, "imap_tls": "none",
                         # never contacted: the dispatcher does not run
                         "smtp_host": "127.0.0.1", "smtp_port": 2525, "smtp_tls": "none",
                         "idle": False, "max_per_poll": 500},
        }],
    }))
    return path


def idle_latency(kanal, server: Dovecot, user: str, mails: list[bytes]) -> list[float]:
    """Seconds from starting dovecot-lda on a mail to its report being committed, with the
    IDLE watcher and the poller running as in ``kanal serve`` (no periodic poll is due)."""
    from gateway.scheduler import build_workers

    adapter = kanal.adapters["email"]
    adapter.watches, adapter.poll_interval_seconds = True, 3600.0
    workers = build_workers(kanal)
    seconds = []
    try:
        time.sleep(1.0)  # the watcher connects and starts idling
        with kanal.engine.connect() as conn:
            reports = count(conn, Report.__table__)
        for raw in mails:
            t0 = time.perf_counter()
            server.deliver(user, raw)
            while time.perf_counter() - t0 < 30:
                with kanal.engine.connect() as conn:
                    if count(conn, Report.__table__) > reports:
                        break
                time.sleep(0.005)
            seconds.append(time.perf_counter() - t0)
            reports += 1
    finally:
        for worker in workers:
            worker.stop()
    return seconds


def count(conn, table, *where) -> int:
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def rss_mb() -> float:
    return status_kb("VmRSS") / 1024


def main() -> int:
    p = argparse.ArgumentParser(description="email benchmark: ingest N mails over IMAP")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1/test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args()
    if args.count <= FIRST:
        p.error(f"--count must be over {FIRST} (the first phase)")
    if reason := dovecot_mod.available():
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    tmp = Path(tempfile.mkdtemp(prefix="kanal-bench-email-"))
    server = kanal = None
    database = ExitStack()
    rng, run, now = random.Random(args.seed), uuid.uuid4().hex[:8], datetime.now(timezone.utc)
    phases, nan = [], float("nan")
    try:
        url = database.enter_context(bench_database(args.database_url, tmp))
        upgrade(url)
        from gateway.runtime import Kanal

        server = Dovecot()
        server.start()
        user = server.add_user()
        maildir = Maildir(server, user)
        geojson = shared_geojson()
        settings = KanalSettings(_env_file=None, database_url=url, boundaries=geojson,
                                 config=channels_file(tmp / "channels.yaml", server, user),
                                 data_dir=tmp / "data", scheduler=False)
        kanal = Kanal(settings, env={})
        status = kanal.channel("email")
        if status is None or status.state != "ready":
            raise SystemExit(f"the email channel is not running: {status}")
        say(f"database: {make_url(url).get_backend_name()}; boundaries: {geojson or 'none'};"
            f" dovecot on {server.host}:{server.port}, user {user}")
        rss_start = rss_mb()

        done = 0
        for upto in (FIRST, args.count):
            t0, size = time.perf_counter(), 0
            for i in range(done, upto):  # one mail in memory at a time
                raw = make_mail(i, run, rng, now)
                size += len(raw)
                maildir.put(i, raw)
            maildir.index()
            fill = time.perf_counter() - t0
            say(f"fill: {upto - done:,} mails ({size / 2**20:.1f} MB) written and indexed "
                f"in {fill:.1f}s")
            reset = reset_peak_rss()
            t1 = time.perf_counter()
            polled = kanal.poll_channel("email")
            elapsed = time.perf_counter() - t1
            phases.append({"mails": upto, "polled": polled, "fill_seconds": fill,
                           "poll_seconds": elapsed, "rss_mb": rss_mb(),
                           "peak_rss_mb": status_kb("VmHWM") / 1024 if reset else nan})
            say(f"poll: {polled:,} mails in {elapsed:.2f}s; RSS {phases[-1]['rss_mb']:.0f} MB")
            done = upto

        say(f"latency: {LATENCY_SAMPLES} mails delivered one by one with dovecot-lda, IDLE on")
        latency = sorted(idle_latency(kanal, server, user, [
            make_mail(args.count + i, run, rng, now) for i in range(LATENCY_SAMPLES)]))
        it = InboxItem.__table__
        with kanal.engine.connect() as conn:
            reports = count(conn, Report.__table__) - LATENCY_SAMPLES
            items = count(conn, it, it.c.channel == "email")
            quarantined = count(conn, it, it.c.status == "quarantined")
            attachments = count(conn, Attachment.__table__)
            outbox = count(conn, OutboxItem.__table__)
    finally:
        if kanal is not None:
            kanal.stop()
        if server is not None:
            server.close()
        database.close()
        shutil.rmtree(tmp, ignore_errors=True)

    seconds = sum(ph["poll_seconds"] for ph in phases)
    polled = sum(ph["polled"] for ph in phases)
    mps = polled / seconds if seconds else 0.0
    growth = phases[1]["rss_mb"] - phases[0]["rss_mb"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    items -= LATENCY_SAMPLES
    checks = {"rss_growth": growth <= TARGET_GROWTH_MB, "reports_equal_mails":
              reports == args.count, "inbox_items_equal_mails": items == args.count,
              "idle_latency": latency[-1] < TARGET_LATENCY_S}
    p50, worst = latency[len(latency) // 2], latency[-1]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
        "database": make_url(url).get_backend_name(), "count": args.count, "polled": polled,
        "seconds": seconds, "mails_per_second": mps, "rss_start_mb": rss_start,
        "phases": phases, "rss_growth_mb": growth, "peak_rss_process_mb": peak,
        "reports": reports, "inbox_items": items, "quarantined": quarantined,
        "attachments": attachments, "outbox_unsent": outbox,
        "idle_latency_seconds": {"p50": p50, "max": worst, "samples": latency},
        "checks": checks,
        "pass": all(checks.values()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1
    first, last = phases
    print(f"\ningested {polled:,} mails in {seconds:.2f}s of polling (fill not counted): "
          f"{mps:,.0f} mails/s")
    print(f"  RSS: before {rss_start:.0f} MB; after {first['mails']:,} mails "
          f"{first['rss_mb']:.0f} MB; after {last['mails']:,} mails {last['rss_mb']:.0f} MB")
    print(f"  peak RSS while polling: {first['peak_rss_mb']:.0f} MB (first phase), "
          f"{last['peak_rss_mb']:.0f} MB (second); ru_maxrss {peak:.0f} MB (fill included)")
    print(f"  reports: {reports:,}; inbox items: {items:,} ({quarantined} quarantined); "
          f"attachments: {attachments:,}")
    print(f"  acks queued in the outbox, not sent (no dispatcher): {outbox:,}")
    mark = {True: "PASS", False: "FAIL"}
    print(f"\n{mark[checks['rss_growth']]}  RSS growth {growth:+.1f} MB between "
          f"{first['mails']:,} and {last['mails']:,} mails (target <= {TARGET_GROWTH_MB:.0f}"
          f" MB: {'target met' if checks['rss_growth'] else 'target missed'})")
    print(f"{mark[checks['reports_equal_mails']]}  reports == mails ({reports:,} of {args.count:,})")
    print(f"{mark[checks['inbox_items_equal_mails']]}  inbox items == mails ({items:,} of {args.count:,})")
    print(f"{mark[checks['idle_latency']]}  IDLE latency, delivery to report: p50 "
          f"{p50 * 1000:.0f} ms, max {worst * 1000:.0f} ms of {len(latency)} "
          f"(target < {TARGET_LATENCY_S:.0f} s)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

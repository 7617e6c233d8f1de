"""Benchmark (b): the pipeline. Pre-fills the inbox with N JAKI payloads (as the JAKI
adapter stores them), then times ``core.inbox.drain`` turning them into reports.

Usage: kanal bench pipeline [--count 50000] [--batch-size 500] [--database-url URL] [--json]
Without --database-url a fresh SQLite file in a temp dir is used; with a PostgreSQL URL a
private schema is created (search_path) and dropped afterwards.
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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from adapters.jaki.payloads import (  # noqa: E402
    JakiInbox, JakiLocation, JakiReport, JakiReporter,
)
from core import inbox  # noqa: E402
from core.adapter import Envelope  # noqa: E402
from core.db import is_sqlite, make_engine, normalize_url, upgrade  # noqa: E402
from core.models import InboxItem, Report, Reporter  # noqa: E402
from core.settings import KanalSettings  # noqa: E402

TARGET_RPS = 2000.0
API_KEY = "bench-jaki-key"
CLIENT = "default"  # the client name of a single-key KANAL_JAKI_API_KEY
CONTENT_TYPE = "application/vnd.kanal.jaki+json"
CATEGORIES = ["jalan-rusak", "sampah", "banjir", "saluran-air", "pohon-tumbang",
              "lampu-jalan", "parkir-liar", "pkl", "fasilitas-umum", "kebisingan"]
TEXTS = [
    "Jalan berlubang cukup dalam di depan sekolah, sudah dua minggu belum diperbaiki",
    "Sampah menumpuk di pinggir kali, bau dan mengundang lalat",
    "Genangan air setinggi lutut setelah hujan deras sore ini",
    "Saluran air tersumbat, air meluap ke jalan setiap hujan",
    "Pohon besar miring dan rawan tumbang ke arah rumah warga",
    "Lampu penerangan jalan mati sejak minggu lalu, gelap dan rawan",
    "Banyak mobil parkir liar di trotoar sehingga pejalan kaki turun ke jalan",
    "Pedagang kaki lima menutup trotoar di dekat stasiun",
    "Halte bus rusak, atapnya bocor dan kursinya patah",
    "Suara bising dari proyek bangunan sampai lewat tengah malam",
]
ADDRESSES = ["Jl. Cikini Raya, Kelurahan Cikini", "Gang Mawar, Kelurahan Tebet Barat",
             "dekat pasar, Kelurahan Kebayoran Lama Utara", "Jl. Salemba, Kelurahan Paseban",
             "RT 05 RW 02 Kelurahan Cempaka Putih Timur"]


def shared_geojson() -> Path | None:
    base = os.environ.get("KANAL_SHARED_DATA")
    path = (Path(base) if base else ROOT.parent / "shared/data") / "jakarta_kelurahan.geojson"
    return path if path.exists() else None


@contextmanager
def bench_database(database_url: str | None, tmp: Path) -> Iterator[str]:
    """The URL of a fresh database: a SQLite file in ``tmp``, or with a PostgreSQL URL a
    private schema (through search_path), dropped afterwards."""
    if not database_url or is_sqlite(database_url):
        yield database_url or f"sqlite:///{tmp / 'kanal.sqlite3'}"
        return
    schema = f"kanal_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(database_url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def with_search_path(url: str, schema: str) -> str:
    parsed = make_url(normalize_url(url))
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def make_payloads(count: int, seed: int) -> list[Envelope]:
    """~80% with a point in Jakarta, ~5% with an address only, ~15% without a location;
    ~10% from app users who reported before; ~30% with a phone number; ~20% uncategorised."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    users: list[str] = []
    out = []
    for i in range(count):
        if users and rng.random() < 0.10:
            user = rng.choice(users)
        else:
            user = f"app-user-{i:07d}"
            users.append(user)
        roll = rng.random()
        location = None
        if roll < 0.80:
            location = JakiLocation(lat=round(rng.uniform(-6.36, -6.12), 6),
                                    lon=round(rng.uniform(106.70, 106.96), 6))
        elif roll < 0.85:
            location = JakiLocation(address=rng.choice(ADDRESSES))
        k = rng.randrange(len(TEXTS))
        reporter = JakiReporter(app_user_id=user, name=f"Warga {user[-4:]}",
                                phone=f"+62812{rng.randrange(10**7, 10**8)}"
                                if rng.random() < 0.30 else None)
        reported = now - timedelta(seconds=rng.randrange(86400))
        report = JakiReport(external_id=f"bench-{i}", text=f"{TEXTS[k]} (#{i})",
                            category=CATEGORIES[k] if rng.random() < 0.80 else None,
                            location=location, reporter=reporter,
                            reported_at=reported if rng.random() < 0.5 else None)
        payload = JakiInbox(client=CLIENT, report=report).model_dump_json(exclude_none=True)
        out.append(Envelope(channel="jaki", external_id=f"{CLIENT}:{report.external_id}",
                            payload=payload.encode(), content_type=CONTENT_TYPE,
                            received_at=report.reported_at or reported))
    return out


def status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    try:  # Linux >= 4.0: "5" resets VmHWM to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> int:
    p = argparse.ArgumentParser(description="pipeline benchmark: drain N inbox payloads")
    p.add_argument("--count", type=int, default=50_000)
    p.add_argument("--batch-size", type=int, default=500, help="drain batch size")
    p.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1/test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    tmp = Path(tempfile.mkdtemp(prefix="kanal-bench-pipeline-"))
    database = ExitStack()
    try:
        url = database.enter_context(bench_database(args.database_url, tmp))
        upgrade(url)
        from gateway.runtime import Kanal

        geojson = shared_geojson()
        settings = KanalSettings(_env_file=None, database_url=url, boundaries=geojson,
                                 data_dir=tmp / "data", scheduler=False)
        kanal = Kanal(settings, env={**os.environ, "KANAL_JAKI_API_KEY": API_KEY})
        if "jaki" not in kanal.adapters:
            raise SystemExit(f"the JAKI channel is not running: {kanal.channel('jaki')}")
        say(f"database: {make_url(url).get_backend_name()}; boundaries: {geojson or 'none'}")

        t0 = time.perf_counter()
        envelopes = make_payloads(args.count, args.seed)
        t1 = time.perf_counter()
        for i in range(0, len(envelopes), 5000):
            with kanal.engine.begin() as conn:
                inbox.write(conn, envelopes[i:i + 5000])
        t2 = time.perf_counter()
        del envelopes
        say(f"prefill: {args.count:,} payloads built in {t1 - t0:.1f}s, "
            f"written to inbox_item in {t2 - t1:.1f}s")

        rss_before = status_kb("VmRSS") / 1024
        reset = reset_peak_rss()
        t3 = time.perf_counter()
        done = inbox.drain(kanal.engine, kanal.pipeline, batch_size=args.batch_size)
        elapsed = time.perf_counter() - t3
        drain_peak = status_kb("VmHWM") / 1024 if reset else float("nan")
        process_peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                           drain_peak if reset else 0.0)

        it, rt = InboxItem.__table__, Report.__table__
        with kanal.engine.connect() as conn:
            reports = conn.execute(select(func.count()).select_from(rt)).scalar_one()
            reporters = conn.execute(
                select(func.count()).select_from(Reporter.__table__)).scalar_one()
            located = conn.execute(select(func.count()).select_from(rt).where(
                rt.c.kelurahan_code.is_not(None))).scalar_one()
            left = dict(conn.execute(select(it.c.status, func.count()).where(
                it.c.status.in_(["pending", "quarantined"])).group_by(it.c.status)).all())
        kanal.engine.dispose()
    finally:
        database.close()
        shutil.rmtree(tmp, ignore_errors=True)

    rps = done / elapsed if elapsed else 0.0
    checks = {"throughput": rps >= TARGET_RPS, "reports_equal_payloads": reports == args.count,
              "inbox_empty": not left}
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
        "database": make_url(url).get_backend_name(), "count": args.count,
        "batch_size": args.batch_size, "processed": done, "seconds": elapsed,
        "reports_per_second": rps, "reports": reports, "reporters": reporters,
        "located_in_kelurahan": located, "inbox_left": left, "rss_before_drain_mb": rss_before,
        "peak_rss_drain_mb": drain_peak, "peak_rss_process_mb": process_peak,
        "checks": checks, "pass": all(checks.values()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1
    print(f"\ndrained {done:,} payloads in {elapsed:.2f}s (batch size {args.batch_size})")
    print(f"  reports/s:            {rps:,.0f}")
    print(f"  reports created:      {reports:,} ({located:,} located in a kelurahan); "
          f"reporters: {reporters:,}")
    print(f"  inbox left:           {left or 'nothing pending or quarantined'}")
    print(f"  RSS before drain:     {rss_before:.0f} MB; peak during drain: {drain_peak:.0f} MB;"
          f" process peak (incl. prefill): {process_peak:.0f} MB")
    mark = {True: "PASS", False: "FAIL"}
    print(f"\n{mark[checks['throughput']]}  {rps:,.0f} reports/s (target >= {TARGET_RPS:,.0f})")
    print(f"{mark[checks['reports_equal_payloads']]}  reports == payloads "
          f"({reports:,} == {args.count:,})")
    print(f"{mark[checks['inbox_empty']]}  no inbox row left pending or quarantined")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

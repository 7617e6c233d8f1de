"""Benchmark: the monthly unit performance dashboard on PostgreSQL at real volumes.

Fills a private schema with N reports (default 2,000,000) over two years, each with the
case events of its path (routed to its kelurahan, handled there or coordinated with a
dinas and disposed to its suku dinas, resolved and verified, or rejected), missed
deadlines (``sla_breach`` with their ``escalated`` events) and ratings, written with
COPY; then times the last full month's dashboard: ``core.performance.compute`` per kind
of unit and the page ``/staff/performance`` itself (p50/p99), against the 1 s target,
with a bare-query floor (counting the month's reports by kelurahan).

Usage: kanal bench performance [--count 2000000] [--database-url URL] [--runs 9]
                               [--keep] [--schema NAME] [--json]
``--keep`` leaves the schema for another run, ``--schema`` reuses one (no fill).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

from core import performance, period  # noqa: E402
from core.db import make_engine, upgrade  # noqa: E402
from core.dbguard import DbLimits  # noqa: E402
from core.settings import KanalSettings  # noqa: E402
from core.units import sync_units  # noqa: E402

TARGET_S = 1.0
NOW = datetime(2026, 12, 15, 3, 0, tzinfo=UTC).timestamp()  # mid-December, 10:00 WIB
SPAN = 730 * 86400.0  # two years of reports up to NOW
MONTH = "2026-11"  # the last full month before NOW
KINDS = ("kelurahan", "kecamatan", "kota", "dinas", "sudin")
CATEGORIES = ["jalan-rusak", "sampah", "banjir", "saluran-air", "pohon-tumbang",
              "lampu-jalan", "parkir-liar", "pkl", "fasilitas-umum", "kebisingan"]
RES_DAYS = {"jalan-rusak": 20, "banjir": 7, "sampah": 7, "pkl": 7, "parkir-liar": 7}
TABLES = ("report", "case_event", "sla_breach")
H = 3600.0


def ts(x: float | None) -> str:
    if x is None:
        return r"\N"
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(x))


def n(v) -> str:
    return r"\N" if v is None else str(v)


class Case:
    """One report's path, cut at NOW: its events, breaches and final columns."""

    def __init__(self, rid: int, created: float, rnd: random.Random, kel: str,
                 dinas: list[str], sudin: dict):
        self.rid, self.rnd = rid, rnd
        self.events: list[tuple] = []
        self.breaches: list[tuple] = []
        self.row = {"created": created, "kel": kel, "cat": rnd.choice(CATEGORIES),
                    "status": "Menunggu", "unit": f"kelurahan-{kel}", "clock": "first_response",
                    "due": created + 24 * H, "res_due": None, "first": None, "resolved": None,
                    "closed": None, "rating": None, "rated": None, "updated": created,
                    "escalated": None}
        self.event("opened", "Menunggu", None, f"kelurahan-{kel}", created)
        self.stall = rnd.random() < 0.02  # a backlog that never moves on
        self.path(created, dinas, sudin)

    def event(self, kind, status, old, unit, at) -> None:
        self.events.append((kind, status, old, unit, at))

    def step(self, at: float, kind: str, status: str, unit: str | None = None,
             clock: str | None = None, due: float | None = None) -> bool:
        """Take a transition at ``at`` unless that is after NOW (or the case stalls);
        a deadline passed before it is a breach, escalated a minute later."""
        row = self.row
        if row["due"] is not None and row["due"] < min(at, NOW):
            esc = f"kecamatan-{row['kel'][:8]}" if row["unit"].startswith("kelurahan") else None
            self.breaches.append((row["clock"], row["due"], row["unit"], esc))
            self.event("escalated", row["status"], row["status"], esc, row["due"] + 60)
            row["escalated"] = esc
        if at > NOW or (self.stall and self.rnd.random() < 0.5):
            self.stall = self.stall or at > NOW
            return False
        self.event(kind, status, row["status"], unit or row["unit"], at)
        row.update(status=status, unit=unit or row["unit"], clock=clock, due=due,
                   updated=at, escalated=None)
        if kind in ("coordinate", "dispose", "start", "reject") and row["first"] is None:
            row["first"] = at
        return True

    def path(self, t: float, dinas: list[str], sudin: dict) -> None:
        rnd, row = self.rnd, self.row
        t += (24 + 72 * rnd.random()) * H if rnd.random() < 0.12 else 20 * H * rnd.random()
        route = rnd.random()
        if route < 0.12:
            if self.step(t, "reject", "Ditolak"):
                row["closed"] = t
            return
        if route < 0.62:
            d = rnd.choice(dinas)
            if not self.step(t, "coordinate", "Koordinasi", d, "hop", t + 96 * H):
                return
            t += (100 + 100 * rnd.random()) * H if rnd.random() < 0.08 else 48 * H * rnd.random()
            s = sudin[(d, row["kel"][:5])]
            if not self.step(t, "dispose", "Disposisi", s, "hop", t + 96 * H):
                return
            t += 48 * H * rnd.random()
        res_due = t + RES_DAYS.get(row["cat"], 14) * 86400
        if not self.step(t, "start", "Proses", None, "resolution", res_due):
            return
        row["res_due"] = res_due
        late = rnd.random() < 0.2
        t = res_due + 15 * 86400 * rnd.random() if late else t + (res_due - t) * rnd.random()
        if not self.step(t, "resolve", "Menunggu Verifikasi"):
            return
        row["resolved"] = t
        t += 48 * H * rnd.random()
        if not self.step(t, "verify", "Selesai"):
            return
        row["closed"] = t
        if rnd.random() < 0.55 and (rated := t + 72 * H * rnd.random()) < NOW:
            row["rating"] = rnd.choices((1, 2, 3, 4, 5), (5, 7, 13, 35, 40))[0]
            row["rated"] = rated
            self.event("rated", "Selesai", "Selesai", row["unit"], rated)

    def report_line(self) -> str:
        r, kel = self.row, self.row["kel"]
        return "\t".join((
            str(self.rid), f"B{self.rid:010d}", r["status"], r["cat"], "jaki", "jaki", kel,
            f"Kelurahan {kel}", kel[:8], kel[:5], f"kelurahan:{kel}", ts(r["due"]),
            ts(r["created"]), ts(r["updated"]), r["unit"], n(r["clock"]), ts(r["res_due"]),
            ts(r["first"]), ts(r["resolved"]), ts(r["closed"]), n(r["escalated"]),
            n(r["rating"]), ts(r["rated"]), "f")) + "\n"


REPORT_COLS = ("id, tracking_id, status, category, channel, official_channel, kelurahan_code, "
               "kelurahan_name, kecamatan_code, kota_code, queue, sla_due_at, created_at, "
               "updated_at, unit_id, sla_clock, resolution_due_at, first_response_at, "
               "resolved_at, closed_at, escalated_unit_id, rating, rated_at, confidential")


def fill(url: str, schema: str, count: int, seed: int, say) -> dict:
    """COPY ``count`` reports with their events and breaches; indexes are dropped first
    and built again after (timed apart), foreign keys not checked during the COPY."""
    engine = make_engine(url)
    with engine.connect() as conn:
        units = conn.execute(text("SELECT id, kind, parent_id, kota_code, area_code FROM unit"
                                  )).all()
    engine.dispose()
    kels = [u.area_code for u in units if u.kind == "kelurahan"]
    sudin = {(u.parent_id, u.kota_code): u.id for u in units if u.kind == "sudin"}
    dinas = sorted({d for d, _ in sudin})
    rnd = random.Random(seed)
    totals = {"reports": 0, "events": 0, "breaches": 0}
    with psycopg.connect(url.split("?")[0], options=f"-csearch_path={schema}") as pg:
        pg.execute("SET session_replication_role = replica")  # no FK triggers
        defs = [r[0] for r in pg.execute(
            "SELECT indexdef FROM pg_indexes i WHERE schemaname = %s AND tablename = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            (schema, list(TABLES)))]
        for d in defs:
            pg.execute(f'DROP INDEX "{schema}".{d.split(" INDEX ")[1].split(" ON ")[0]}')
        t0 = time.perf_counter()
        chunk, eid = 20_000, 0
        for first in range(1, count + 1, chunk):
            reports, events, breaches = [], [], []
            for rid in range(first, min(first + chunk, count + 1)):
                # ids in the order of time, as reports arrive
                created = NOW - SPAN + SPAN * (rid - rnd.random()) / count
                c = Case(rid, created, rnd, rnd.choice(kels), dinas, sudin)
                reports.append(c.report_line())
                for kind, status, old, unit, at in c.events:
                    eid += 1
                    events.append(f"{eid}\t{rid}\t{kind}\t{status}\t{n(old)}\t{n(unit)}\tt\t"
                                  f"{ts(at)}\n")
                for clock, due, unit, esc in c.breaches:
                    breaches.append(f"{rid}\t{clock}\t{ts(due)}\t{unit}\t{n(esc)}\t"
                                    f"{ts(due + 60)}\n")
            with pg.cursor() as cur:
                for sql, lines in (
                        (f"COPY report ({REPORT_COLS}) FROM STDIN", reports),
                        ("COPY case_event (id, report_id, kind, status, from_status, unit_id, "
                         "public, created_at) FROM STDIN", events),
                        ("COPY sla_breach (report_id, clock, due_at, unit_id, escalated_to, "
                         "detected_at) FROM STDIN", breaches)):
                    with cur.copy(sql) as copy:
                        copy.write("".join(lines))
            pg.commit()
            totals["reports"] += len(reports)
            totals["events"] += len(events)
            totals["breaches"] += len(breaches)
            if first // chunk % 10 == 0:
                say(f"  {totals['reports']:,} reports, {totals['events']:,} events "
                    f"({time.perf_counter() - t0:.0f}s)")
        t1 = time.perf_counter()
        for d in defs:
            pg.execute(d)
        for table, col in (("report", "id"), ("case_event", "id"), ("sla_breach", "id")):
            pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), "
                       f"(SELECT max({col}) FROM {table}))")
        pg.commit()
        t2 = time.perf_counter()
        pg.autocommit = True
        for table in TABLES:
            pg.execute(f"VACUUM ANALYZE {table}")
        pg.execute("ANALYZE unit")  # as autovacuum would: the plans join it by kind
        t3 = time.perf_counter()
    return {**totals, "copy_s": t1 - t0, "index_s": t2 - t1, "vacuum_s": t3 - t2}


def timed(fn, runs: int) -> dict:
    fn()  # warm-up (caches, plans)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return {"p50_s": statistics.median(times), "p99_s": p99, "runs": runs}


def shared_geojson() -> Path | None:
    base = os.environ.get("KANAL_SHARED_DATA")
    path = (Path(base) if base else ROOT.parent / "shared/data") / "jakarta_kelurahan.geojson"
    return path if path.exists() else ROOT / "tests/fixtures/boundaries_small.geojson"


def page_timer(settings, runs: int, kind: str):
    """Times GET /staff/performance for ``kind`` as a signed-in supervisor."""
    from fastapi.testclient import TestClient

    from core import staff
    from core.db import writing
    from gateway.app import create_app
    from gateway.runtime import Kanal
    from tests.staff.conftest import sign_in

    kanal = Kanal(settings, clock=lambda: datetime.fromtimestamp(NOW, UTC))
    with writing(kanal.engine) as conn:
        try:
            staff.get(conn, "bench-super")
        except Exception:  # noqa: BLE001 (not there yet)
            staff.add(conn, "bench-super", "bench-password-1", "supervisor",
                      unit_id="biro-pemerintahan")
    with TestClient(create_app(kanal=kanal, run_workers=False)) as client:
        assert sign_in(client, "bench-super", "bench-password-1").status_code in (200, 303)
        url = f"/staff/performance?period=month&at={MONTH}&kind={kind}"

        def get():
            got = client.get(url)
            assert got.status_code == 200, got.status_code
        result = timed(get, runs)
    kanal.stop()
    kanal.engine.dispose()
    return result


def main() -> int:
    p = argparse.ArgumentParser(description="monthly performance dashboard at N reports")
    p.add_argument("--count", type=int, default=2_000_000)
    p.add_argument("--database-url", default=os.environ.get(
        "KANAL_TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test"))
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the filled schema")
    p.add_argument("--schema", help="reuse a schema filled by an earlier --keep run")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args()
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    schema = args.schema or f"kanal_bench_perf_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    base = args.database_url.split("?")[0]
    url = f"{base}?options=-csearch_path%3D{schema}"
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
                    "schema": schema, "month": MONTH}
    try:
        upgrade(url)
        settings = KanalSettings(_env_file=None, database_url=url, boundaries=shared_geojson(),
                                 data_dir=Path("/tmp") / schema, scheduler=False)
        engine = make_engine(url, limits=DbLimits(statement=120))
        sync_units(engine, settings)
        if not args.schema:
            say(f"filling {args.count:,} reports into {schema} ...")
            result["fill"] = fill(url, schema, args.count, args.seed, say)
            f = result["fill"]
            say(f"filled: {f['reports']:,} reports, {f['events']:,} events, "
                f"{f['breaches']:,} breaches; COPY {f['copy_s']:.0f}s, indexes "
                f"{f['index_s']:.0f}s, VACUUM ANALYZE {f['vacuum_s']:.0f}s")
        with engine.connect() as conn:
            result["reports"] = conn.execute(text("SELECT count(*) FROM report")).scalar()
            month = period.parse("month", MONTH, datetime.now(UTC))
            now = datetime.fromtimestamp(NOW, UTC)
            result["compute"] = {kind: timed(lambda k=kind: performance.compute(
                conn, k, month, now), args.runs) for kind in KINDS}
            floor = text("SELECT kelurahan_code, count(*) FROM report WHERE created_at >= :s "
                         "AND created_at < :e GROUP BY kelurahan_code")
            result["floor"] = timed(lambda: conn.execute(
                floor, {"s": month.start, "e": month.end}).all(), args.runs)
        engine.dispose()
        result["page"] = page_timer(settings, args.runs, "kelurahan")
    finally:
        if not (args.keep or args.schema):
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    worst = max(v["p99_s"] for v in [*result["compute"].values(), result["page"]])
    result["pass"] = worst < TARGET_S
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1
    print(f"\n{result['reports']:,} reports; the dashboard of {MONTH} (p50 / p99 over "
          f"{args.runs} runs)")
    for kind, t in result["compute"].items():
        print(f"  compute {kind:<10} {t['p50_s'] * 1000:7.0f} ms / {t['p99_s'] * 1000:7.0f} ms")
    fl, pg = result["floor"], result["page"]
    print(f"  floor (count the month by kelurahan) {fl['p50_s'] * 1000:.0f} ms / "
          f"{fl['p99_s'] * 1000:.0f} ms")
    print(f"  page /staff/performance kind=kelurahan {pg['p50_s'] * 1000:.0f} ms / "
          f"{pg['p99_s'] * 1000:.0f} ms")
    mark = "PASS" if result["pass"] else "FAIL"
    print(f"\n{mark}  slowest p99 {worst * 1000:.0f} ms (target < {TARGET_S * 1000:.0f} ms)")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark (c): Twilio's signed SMS webhook ``POST /webhooks/sms`` and the ack path.

(a) Throughput: wrk replays pre-signed Twilio webhooks (a unique MessageSid and sender
    each) against the floor (bench/floor_app.py, which only parses the form), then against
    kanal (fresh SQLite DB, scheduler on, sms channel sending to bench/fake_twilio_app.py).
    Prints req/s, p50/p99 and the ratio kanal/floor (target >= 40 %); checks that bad or
    missing signatures get 403 and store nothing, and that every 2xx has its inbox row
    committed (kanal is SIGKILLed the moment wrk exits).
(b) Latency to ack: a fresh kanal and fake Twilio; an open-loop client sends --rate signed
    messages/s for --latency-seconds. Per message: the arrival of its ack at the fake
    Twilio server minus its inbox commit (``inbox_item.ingested_at``); target p99 <= 5 s,
    no ack missing after --ack-wait.

Usage: kanal bench twilio [--duration 15] [--warmup 5] [--connections 32] [--threads 2]
       [--rate 200] [--latency-seconds 20] [--ack-wait 60] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx

# bench/ is sys.path[0] (the script's own directory), where this file would shadow the
# twilio package: import that with bench/ out of the path, then the bench helpers
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
from twilio.request_validator import RequestValidator  # noqa: E402

sys.path.insert(0, str(HERE))
from ack import Load, Server, free_port, parse_wrk, shared_geojson  # noqa: E402

SID, TOKEN, NUMBER = "AC" + "be" * 16, "bench-twilio-auth-token-0123456789", "+628111272206"
FORM = "application/x-www-form-urlencoded"
TARGET_RATIO, TARGET_P99_S = 40.0, 5.0
# MessageSid = "SM" + tag + counter, sender "+6281" + (base + counter): unique per request
TAGS = {"warm": ("a0", 100_000_000), "run": ("b0", 200_000_000),
        "latency": ("c0", 300_000_000), "bad": ("ff", 900_000_000)}
BODIES = (
    "Jalan berlubang besar di Jl. Kramat Raya depan halte, sudah 2 minggu, motor sering jatuh",
    "Sampah menumpuk di pinggir Kali Ciliwung dekat jembatan Kampung Melayu, bau sekali",
    "Lampu PJU mati di Jl. Margonda arah Pasar Minggu, gelap dan rawan begal malam hari",
    "Saluran air tersumbat di RT 05 RW 03 Kel. Cempaka Putih Timur, tiap hujan banjir",
    "Parkir liar di trotoar Jl. Sabang, pejalan kaki terpaksa jalan di aspal. Mohon ditertibkan",
    "Pohon tumbang menutup jalan di Jl. Kemang Raya No. 12 sejak tadi pagi, belum ada petugas",
)
LUA = r"""
local threads = {}
statuses, wraps, nreqs = {}, 0, 0  -- globals: thread:get() reads globals
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
function init(args)  -- this thread's slice of the file: lines tid, tid + n, tid + 2n, ...
  local n, k = tonumber(args[2]), 0
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  reqs, i = {}, 0
  for line in io.lines(args[1]) do
    if k % n == tid - 1 then
      local body, sig = line:match("^([^\t]*)\t(.*)$")
      headers["X-Twilio-Signature"] = sig
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/sms", headers, body)
    end
    k = k + 1
  end
  nreqs = #reqs
end
function request()  -- cycles through the slice, counting the wraps
  i = i + 1; if i > nreqs then i, wraps = 1, wraps + 1 end; return reqs[i]
end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done()
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      io.write(string.format("STATUS %d %d\n", code, n))
    end
    io.write(string.format("WRAPS %d\n", t:get("wraps") or 0))
  end
end
"""


def message(kind: str, i: int) -> dict[str, str]:
    """The parameters Twilio posts for an incoming SMS (its webhook reference)."""
    tag, base = TAGS[kind]
    sid = f"SM{tag}{i:030x}"
    return {"ToCountry": "ID", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": BODIES[i % len(BODIES)], "FromCountry": "ID", "To": NUMBER,
            "ToZip": "", "NumSegments": "1", "MessageSid": sid, "AccountSid": SID,
            "From": f"+6281{base + i:09d}", "ApiVersion": "2010-04-01"}


def signed_lines(job: tuple[str, str, int, int]) -> str:
    url, kind, start, stop = job
    validator = RequestValidator(TOKEN)
    return "".join(f"{urlencode(p)}\t{validator.compute_signature(url, p)}\n"
                   for p in (message(kind, i) for i in range(start, stop)))


def write_requests(path: Path, url: str, kind: str, count: int) -> None:
    """One request a line: the urlencoded body, a tab, its X-Twilio-Signature."""
    jobs = [(url, kind, s, min(count, s + 20_000)) for s in range(0, count, 20_000)]
    with ProcessPoolExecutor(os.cpu_count() or 2) as pool, path.open("w") as out:
        out.writelines(pool.map(signed_lines, jobs))


def run_wrk(port: int, requests: Path, seconds: int, args) -> tuple[Load, int]:
    """wrk over pre-signed requests; also how often a thread started its slice again."""
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency",
           "--timeout", "10s", "-s", str(args.lua), f"http://127.0.0.1:{port}", "--",
           str(requests), str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if args.verbose:
        print(out, file=sys.stderr)
    return parse_wrk(out), sum(int(w) for w in re.findall(r"^WRAPS (\d+)$", out, re.M))


def query(db: Path, sql: str, *params) -> dict:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return dict(conn.execute(sql, params))


def inbox(db: Path, kind: str) -> dict[str, str]:
    """MessageSid -> ingested_at of the sms inbox rows of one kind of request."""
    return query(db, "SELECT external_id, ingested_at FROM inbox_item WHERE channel = 'sms' "
                 "AND external_id LIKE ?", f"SM{TAGS[kind][0]}%")


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)  # nearest rank; a missing ack is infinitely late: None
    value = ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.inf
    return None if value == math.inf else value


def start(servers: list[Server], tmp: Path, name: str, cmd: list[str], env: dict, ready: str,
          port: int | None = None) -> Server:
    port = port or free_port()
    servers.append(server := Server(name, cmd + ["--port", str(port)], env, tmp, port))
    server.wait_ready(ready)
    return server


def start_pair(servers: list[Server], tmp: Path, phase: str, env: dict,
               port: int) -> tuple[Server, Server]:
    """The fake Twilio server, and kanal serve on a fresh SQLite DB (tmp/kanal-<phase>),
    scheduler on, its sms channel sending to the fake and checking signatures over its URL.
    KANAL_DISPATCH_INTERVAL_SECONDS stays at its default (2 s)."""
    fake = start(servers, tmp, f"fake-twilio-{phase}", [
        sys.executable, str(HERE / "fake_twilio_app.py"), "--account-sid", SID,
        "--auth-token", TOKEN], env, "/_stats")
    kenv = {**env, "KANAL_DATABASE_URL": f"sqlite:///{tmp}/kanal-{phase}.sqlite3",
            "KANAL_SCHEDULER": "true", "KANAL_DATA_DIR": f"{tmp}/data-{phase}",
            "KANAL_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "KANAL_TWILIO_ACCOUNT_SID": SID, "KANAL_TWILIO_AUTH_TOKEN": TOKEN,
            "KANAL_TWILIO_FROM": NUMBER, "KANAL_TWILIO_API_BASE": f"http://127.0.0.1:{fake.port}"}
    if geojson := shared_geojson():
        kenv["KANAL_BOUNDARIES"] = str(geojson)
    return fake, start(servers, tmp, f"kanal-{phase}",
                       [sys.executable, "-m", "gateway.cli", "serve"], kenv, "/healthz", port)


def throughput(args, tmp: Path, env: dict, servers: list[Server], say) -> dict:
    port = free_port()  # the signatures are computed over the URL kanal will serve
    url = f"http://127.0.0.1:{port}/webhooks/sms"
    counts = {"warm": args.max_rps * args.warmup, "run": args.max_rps * args.duration}
    for kind, count in counts.items():
        say(f"signing {count:,} {kind} requests ...")
        write_requests(tmp / f"{kind}.tsv", url, kind, count)
    loads, bad = {}, []
    for name in ("floor", "kanal"):
        if name == "floor":
            server = start(servers, tmp, "floor", [sys.executable, str(HERE / "floor_app.py")],
                           env, "/")
        else:
            server = start_pair(servers, tmp, "a", env, port)[1]
            for i in range(6):  # fails closed: a wrong token, another URL signed, none
                p = message("bad", i)
                signature = (RequestValidator("not-the-token").compute_signature(url, p),
                             RequestValidator(TOKEN).compute_signature(url + "x", p), "")[i % 3]
                bad.append(httpx.post(url, content=urlencode(p), headers={
                    "Content-Type": FORM} | ({"X-Twilio-Signature": signature} if signature
                                             else {})).status_code)
        say(f"{name}: running (pid {server.proc.pid}), load starts")
        if args.warmup > 0:
            run_wrk(server.port, tmp / "warm.tsv", args.warmup, args)
            time.sleep(1.0)
        server.sample_rss()
        loads[name] = run_wrk(server.port, tmp / "run.tsv", args.duration, args)
        server.stop(kill=name == "kanal")  # kanal at once: nothing is committed after wrk
    committed, bad_stored = (len(inbox(tmp / "kanal-a.sqlite3", k)) for k in ("run", "bad"))
    (floor, floor_wraps), (kanal, kanal_wraps) = loads["floor"], loads["kanal"]
    ratio = 100.0 * kanal.rps / floor.rps if floor.rps else 0.0
    return {"wrk": f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency",
            "requests_per_file": counts, "floor": asdict(floor), "kanal": asdict(kanal),
            "ratio_percent": ratio, "floor_wraps": floor_wraps, "kanal_wraps": kanal_wraps,
            "kanal_peak_rss_mb": server.peak_mb(), "kanal_2xx": kanal.ok_2xx,
            "inbox_committed": committed, "bad_signature_statuses": bad,
            "bad_signature_stored": bad_stored, "kanal_errors_logged": server.errors_logged(),
            "checks": {"ratio": ratio >= TARGET_RATIO,
                       "committed_before_2xx": committed >= kanal.ok_2xx and kanal_wraps == 0,
                       "bad_signature_403": bad == [403] * 6 and bad_stored == 0}}


async def paced(url: str, requests: list[tuple[str, str]], rate: float) -> tuple[list[int], float]:
    """Open loop: request k leaves at t0 + k/rate, whatever the answers before it do."""
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def one(body: str, signature: str) -> int:
            try:
                return (await client.post(url, content=body, headers={
                    "Content-Type": FORM, "X-Twilio-Signature": signature})).status_code
            except httpx.HTTPError:
                return 0
        t0, tasks = loop.time(), []
        for k, (body, signature) in enumerate(requests):
            if (delay := t0 + k / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body, signature)))
        sent_in = loop.time() - t0
        return list(await asyncio.gather(*tasks)), sent_in


def latency(args, tmp: Path, env: dict, servers: list[Server], say) -> dict:
    port = free_port()
    fake, kanal = start_pair(servers, tmp, "b", env, port)
    url, count = f"http://127.0.0.1:{port}/webhooks/sms", int(args.rate * args.latency_seconds)
    validator = RequestValidator(TOKEN)
    params = [message("latency", i) for i in range(count)]
    requests = [(urlencode(p), validator.compute_signature(url, p)) for p in params]
    say(f"latency: {count:,} messages at {args.rate:g}/s to kanal (pid {kanal.proc.pid})")
    statuses, sent_in = asyncio.run(paced(url, requests, args.rate))
    stats, started = f"http://127.0.0.1:{fake.port}/_stats", time.monotonic()
    while (len({to for to, _, _ in httpx.get(stats, timeout=30).json()["messages"]}) < count
           and time.monotonic() - started < args.ack_wait):
        time.sleep(1.0)
    waited, db = time.monotonic() - started, tmp / "kanal-b.sqlite3"
    ingested = inbox(db, "latency")
    outbox = query(db, "SELECT status, count(*) FROM outbox_item GROUP BY status")
    records = httpx.get(stats, timeout=30).json()["messages"]  # after the outbox count
    (tmp / "acks-b.json").write_text(json.dumps(records))
    kanal.stop()
    arrived: dict[str, float] = {}
    for to, _body, at in records:
        arrived.setdefault(to, at)  # each sender sent one message: its first answer is the ack
    seconds = []
    for p in params:
        at, when = arrived.get(p["From"]), ingested.get(p["MessageSid"])
        when = when and datetime.fromisoformat(when)  # stored naive, in UTC
        seconds.append(math.inf if at is None or not when else at - (
            when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp())
    missing, p99 = seconds.count(math.inf), percentile(seconds, 0.99)
    return {"rate": args.rate, "messages": count, "sent_in_s": sent_in,
            "accepted_2xx": sum(1 for s in statuses if 200 <= s < 300),
            "other_statuses": sorted(s for s in statuses if not 200 <= s < 300)[:20],
            "inbox_committed": len(ingested), "acks_received": count - missing,
            "missing_acks": missing, "waited_for_acks_s": waited, "outbox_by_status": outbox,
            "p50_s": percentile(seconds, 0.50), "p95_s": percentile(seconds, 0.95),
            "p99_s": p99, "max_s": percentile(seconds, 1.0),
            "kanal_errors_logged": kanal.errors_logged(),
            "checks": {"ack_p99": p99 is not None and p99 <= TARGET_P99_S and missing == 0}}


def report(result: dict, args) -> None:
    mark = {True: "PASS", False: "FAIL"}
    if t := result.get("throughput"):
        c = t["checks"]
        print(f"\n{t['wrk']} (after {args.warmup}s warm-up), signed POST /webhooks/sms\n"
              f"{'':<7}{'req/s':>11}{'p50 ms':>10}{'p99 ms':>10}   statuses")
        for name in ("floor", "kanal"):
            load = t[name]
            print(f"{name:<7}{load['rps']:>11,.0f}{load['p50_ms']:>10.2f}{load['p99_ms']:>10.2f}"
                  f"   {dict(sorted(load['statuses'].items()))}")
        print(f"kanal peak RSS {t['kanal_peak_rss_mb']:.0f} MB; ERROR lines in its log "
              f"{t['kanal_errors_logged']}; socket errors {t['kanal']['socket_errors'] or 'none'}")
        for name, why in (("floor", "harmless: it stores nothing"),
                          ("kanal", "repeats are redeliveries: the commit check fails")):
            if t[f"{name}_wraps"]:
                print(f"note: {name} got repeated requests ({t[f'{name}_wraps']} wraps of a "
                      f"thread's slice; raise --max-rps), {why}")
        print(f"\n{mark[c['ratio']]}  ratio kanal/floor {t['ratio_percent']:.1f}% (target >= "
              f"{TARGET_RATIO:.0f}%)\n{mark[c['committed_before_2xx']]}  every 2xx has its inbox"
              f" row committed ({t['inbox_committed']:,} rows >= {t['kanal_2xx']:,} 2xx; kanal "
              f"SIGKILLed as wrk exited)\n{mark[c['bad_signature_403']]}  bad/missing signatures:"
              f" statuses {t['bad_signature_statuses']}, inbox rows {t['bad_signature_stored']}")
    if lat := result.get("latency"):
        def s(v: float | None) -> str:
            return f"> {lat['waited_for_acks_s']:.0f} s (missing)" if v is None else f"{v:.2f} s"
        print(f"\nlatency: {lat['messages']:,} messages sent at {lat['rate']:g}/s in "
              f"{lat['sent_in_s']:.1f} s; 2xx {lat['accepted_2xx']:,}, other "
              f"{lat['other_statuses'] or 'none'}; inbox rows {lat['inbox_committed']:,}\n"
              f"acks at the fake Twilio {lat['acks_received']:,}, missing {lat['missing_acks']:,}"
              f" after waiting {lat['waited_for_acks_s']:.0f} s; outbox {lat['outbox_by_status']}"
              f"\ninbox commit -> ack arrival: p50 {s(lat['p50_s'])}, p95 {s(lat['p95_s'])}, "
              f"p99 {s(lat['p99_s'])}, max {s(lat['max_s'])}")
        print(f"\n{mark[lat['checks']['ack_p99']]}  ack p99 {s(lat['p99_s'])}, "
              f"{lat['missing_acks']} missing (target <= {TARGET_P99_S:.0f} s, none missing; "
              "the dispatcher runs every KANAL_DISPATCH_INTERVAL_SECONDS, default 2)")


def main() -> int:
    p = argparse.ArgumentParser(description="signed Twilio webhook: throughput against the "
                                "floor, and latency from inbox commit to ack")
    p.add_argument("--duration", type=int, default=15, help="seconds of measured wrk load")
    p.add_argument("--warmup", type=int, default=5, help="seconds of wrk warm-up load")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-rps", type=int, default=12_000,
                   help="pre-signed requests per second of wrk load (no repeats below this)")
    p.add_argument("--rate", type=float, default=200.0, help="messages/s in the latency phase")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--ack-wait", type=float, default=60.0,
                   help="seconds to wait for the last acks after the latency load")
    p.add_argument("--only", choices=["throughput", "latency"], help="run one phase")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", action="store_true", help="print wrk's output")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (DBs, logs, acks)")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    tmp = Path(tempfile.mkdtemp(prefix="kanal-bench-twilio-"))
    args.lua = tmp / "twilio.lua"
    args.lua.write_text(LUA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANAL_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")])))
    if shared_geojson() is None:
        say("warning: jakarta_kelurahan.geojson not found; kanal runs without boundaries")
    say(f"temp dir {tmp}")
    servers: list[Server] = []
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count()}
    try:
        for phase, run in (("throughput", throughput), ("latency", latency)):
            if args.only in (None, phase):
                result[phase] = run(args, tmp, env, servers, say)
            for server in servers:  # the next phase starts on an idle machine
                server.stop(kill=True)
    finally:
        for server in servers:
            server.stop(kill=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    result["pass"] = all(ok for phase in ("throughput", "latency") if phase in result
                         for ok in result[phase]["checks"].values())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result, args)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

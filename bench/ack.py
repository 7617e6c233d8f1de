"""Benchmark (a): the ack path of ``POST /api/v1/jaki/reports`` against a bare FastAPI floor.

Starts ``kanal serve`` (fresh SQLite DB, scheduler on, Jakarta boundaries) and
bench/floor_app.py in subprocesses, one after the other, and loads each with the same wrk
command. Prints req/s, p50/p99, the ratio kanal/floor, kanal's peak RSS, and checks that
every 2xx wrk saw has its report committed: kanal is SIGKILLed the moment wrk exits, so a
report committed only after its answer would be missing from the count.

Usage: kanal bench ack [--duration 15] [--connections 32] [--threads 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
API_KEY = "bench-jaki-key"
TARGET_RATIO = 50.0
TARGET_RSS_MB = 200.0

LUA = r"""
local threads, nthreads = {}, 0
counter, statuses = 0, {}  -- globals: thread:get() reads globals
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1]
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[2]}
  math.randomseed(os.time() + tid * 7919)
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"external_id":"%s-%d-%d","text":"Jalan berlubang besar di depan sekolah, ' ..
    'mohon segera diperbaiki","category":"jalan-rusak","location":{"lat":%.6f,' ..
    '"lon":%.6f},"reporter":{"app_user_id":"u%d"}}',
    prefix, tid, counter, -6.36 + math.random() * 0.24, 106.70 + math.random() * 0.26,
    math.random(1, 100000))
  return wrk.format("POST", "/api/v1/jaki/reports", headers, body)
end
function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      io.write(string.format("STATUS %d %d\n", code, n))
    end
  end
end
"""


@dataclass
class Load:
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: str = ""

    @property
    def ok_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if 200 <= code < 300)


def shared_geojson() -> Path | None:
    base = os.environ.get("KANAL_SHARED_DATA")
    path = (Path(base) if base else ROOT.parent / "shared/data") / "jakarta_kelurahan.geojson"
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    return float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4}[m[2]] if m else math.nan


def parse_wrk(out: str) -> Load:
    def find(pattern: str) -> str | None:
        m = re.search(pattern, out, re.M)
        return m[1] if m else None

    load = Load(rps=float(find(r"Requests/sec:\s+([\d.]+)") or 0),
                p50_ms=to_ms(find(r"^\s+50%\s+(\S+)") or ""),
                p99_ms=to_ms(find(r"^\s+99%\s+(\S+)") or ""),
                requests=int(find(r"(\d+) requests in") or 0),
                socket_errors=(find(r"Socket errors: (.*)") or "").strip())
    for code, n in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M):
        load.statuses[int(code)] = load.statuses.get(int(code), 0) + int(n)
    return load


def run_wrk(port: int, script: Path, prefix: str, seconds: int, args: argparse.Namespace) -> Load:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency",
           "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}", "--", prefix,
           API_KEY]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    load = parse_wrk(out)
    if args.verbose:
        print(out, file=sys.stderr)
    return load


class Server:
    """A server subprocess: started, waited for, sampled for RSS, stopped."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, port: int):
        self.name, self.port = name, port
        self.log = cwd / f"{name}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log,
                                         stderr=subprocess.STDOUT)
        self.peak_rss_kb = self.hwm_kb = 0
        self._sampling = False

    def wait_ready(self, path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name} did not start in {timeout}s:\n{self.tail()}")

    def status_kb(self, key: str) -> int:
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        return int(m[1]) if m else 0

    def sample_rss(self) -> None:
        self._sampling = True

        def loop() -> None:
            while self._sampling:
                self.peak_rss_kb = max(self.peak_rss_kb, self.status_kb("VmRSS"))
                time.sleep(0.25)

        threading.Thread(target=loop, daemon=True).start()

    def peak_mb(self) -> float:
        self._sampling = False
        return max(self.peak_rss_kb, self.hwm_kb, self.status_kb("VmHWM")) / 1024

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def errors_logged(self) -> int:
        text = self.log.read_text(errors="replace")
        return len(re.findall(r" ERROR |Traceback", text))

    def stop(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            self.hwm_kb = max(self.hwm_kb, self.status_kb("VmHWM"))
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def count_reports(db: Path, prefix: str) -> tuple[int, int]:
    """(all rows of report, reports whose JAKI external_id carries ``prefix``)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        total = conn.execute("SELECT count(*) FROM report").fetchone()[0]
        ours = conn.execute(
            "SELECT count(DISTINCT report_id) FROM message WHERE direction = 'in' "
            "AND external_id LIKE ?", (f"%:{prefix}-%",)).fetchone()[0]
    return total, ours


def bench(server: Server, script: Path, args: argparse.Namespace) -> Load:
    if args.warmup > 0:
        run_wrk(server.port, script, f"warm{server.port}", args.warmup, args)
        time.sleep(1.0)
    server.sample_rss()
    return run_wrk(server.port, script, "run", args.duration, args)


def main() -> int:
    p = argparse.ArgumentParser(description="ack-path benchmark: kanal vs a bare FastAPI floor")
    p.add_argument("--duration", type=int, default=15, help="seconds of measured load")
    p.add_argument("--warmup", type=int, default=5, help="seconds of warm-up load")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", action="store_true", help="print wrk's output")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (DB, logs)")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print

    tmp = Path(tempfile.mkdtemp(prefix="kanal-bench-ack-"))
    script = tmp / "jaki.lua"
    script.write_text(LUA)
    geojson = shared_geojson()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KANAL_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    db = tmp / "kanal.sqlite3"
    kanal_env = {**env, "KANAL_DATABASE_URL": f"sqlite:///{db}", "KANAL_JAKI_API_KEY": API_KEY,
                 "KANAL_DATA_DIR": str(tmp / "data"), "KANAL_SCHEDULER": "true"}
    if geojson:
        kanal_env["KANAL_BOUNDARIES"] = str(geojson)
    else:
        say("warning: jakarta_kelurahan.geojson not found; kanal runs without boundaries")
    wrk_desc = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency"
    say(f"load: {wrk_desc} (after {args.warmup}s warm-up), temp dir {tmp}")
    servers: list[Server] = []

    def measure(name: str, cmd: list[str], server_env: dict[str, str], ready: str,
                port: int) -> tuple[Server, Load]:
        server = Server(name, cmd + ["--port", str(port)], server_env, tmp, port)
        servers.append(server)
        server.wait_ready(ready)
        say(f"{name}: running (pid {server.proc.pid}), load starts")
        return server, bench(server, script, args)

    try:
        floor, floor_load = measure("floor", [sys.executable, str(HERE / "floor_app.py")],
                                    env, "/", free_port())
        floor_rss = floor.peak_mb()
        floor.stop()
        kanal, kanal_load = measure("kanal", [sys.executable, "-m", "gateway.cli", "serve"],
                                    kanal_env, "/healthz", free_port())
        kanal.stop(kill=True)  # at once: nothing can be committed after wrk's last answer
        kanal_rss = kanal.peak_mb()
        total, committed = count_reports(db, "run")
        errors = kanal.errors_logged()
    finally:
        for server in servers:
            server.stop(kill=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    ratio = 100.0 * kanal_load.rps / floor_load.rps if floor_load.rps else 0.0
    seen = kanal_load.ok_2xx
    extra = committed - seen
    verified = committed >= seen
    checks = {"ratio": ratio >= TARGET_RATIO, "rss": kanal_rss <= TARGET_RSS_MB,
              "committed_before_2xx": verified}
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(), "wrk": wrk_desc,
        "floor": asdict(floor_load), "kanal": asdict(kanal_load), "ratio_percent": ratio,
        "floor_peak_rss_mb": floor_rss, "kanal_peak_rss_mb": kanal_rss,
        "kanal_2xx": seen, "reports_committed_in_run": committed, "report_rows_total": total,
        "kanal_errors_logged": errors, "checks": checks, "pass": all(checks.values()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["pass"] else 1

    def row(name: str, load: Load, rss: float) -> str:
        return (f"{name:<7}{load.rps:>11,.0f}{load.p50_ms:>10.2f}{load.p99_ms:>10.2f}"
                f"{rss:>10.0f}   {dict(sorted(load.statuses.items()))}")

    print(f"\n{'':<7}{'req/s':>11}{'p50 ms':>10}{'p99 ms':>10}{'RSS MB':>10}   statuses")
    print(row("floor", floor_load, floor_rss))
    print(row("kanal", kanal_load, kanal_rss))
    print(f"\nratio kanal/floor: {ratio:.1f}%   (kanal socket errors: "
          f"{kanal_load.socket_errors or 'none'}; ERROR lines in kanal log: {errors})")
    print(f"2xx answers seen by wrk: {seen:,}; reports of this run committed (kanal SIGKILLed "
          f"as wrk exited): {committed:,}; report rows in total incl. warm-up: {total:,}")
    if extra > 0:
        print(f"  {extra} more reports than 2xx: requests in flight when wrk stopped were "
              "committed but their answers were cut off (expected: at most one per connection, "
              f"{args.connections})")
    mark = {True: "PASS", False: "FAIL"}
    print(f"\n{mark[checks['ratio']]}  ratio {ratio:.1f}% (target >= {TARGET_RATIO:.0f}%)")
    print(f"{mark[checks['rss']]}  kanal peak RSS {kanal_rss:.0f} MB "
          f"(target <= {TARGET_RSS_MB:.0f} MB)")
    print(f"{mark[verified]}  every 2xx has its report committed ({committed:,} >= {seen:,})")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

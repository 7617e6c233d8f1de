"""``kanal serve`` as a user starts it, in a subprocess, for tests that need the real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SERVE_KEY = "serve-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def kanal_serve(database_url: str, tmp_path: Path, **env: str):
    """Yields the base URL of a running ``kanal serve`` on ``database_url``; ``env`` adds
    KANAL_ settings. Its output is kept in ``tmp_path/serve.log``."""
    port = free_port()
    full_env = {**os.environ, "KANAL_DATABASE_URL": database_url,
                "KANAL_JAKI_API_KEY": SERVE_KEY,
                "KANAL_CONFIG": str(REPO / "tests/fixtures/channels.yaml"),
                "KANAL_BOUNDARIES": str(REPO / "tests/fixtures/boundaries_small.geojson"),
                "KANAL_DATA_DIR": str(tmp_path / "data"),
                "KANAL_DISPATCH_INTERVAL_SECONDS": "0.2", **env}
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
            env=full_env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise AssertionError(f"kanal serve exited: {log_path.read_text()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, what="kanal serve to start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

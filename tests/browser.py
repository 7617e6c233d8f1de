"""Real headless Chromium against the real app: the system's Chromium, driven by Playwright.

No test downloads a browser: Chromium comes from the system (Debian's ``chromium``) or from
``KANAL_CHROMIUM``; without it the browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
import uvicorn

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def unavailable(reason: str) -> NoReturn:
    """Skip, unless KANAL_REQUIRE_BROWSER is set (CI): there the browser tests must run."""
    if os.environ.get("KANAL_REQUIRE_BROWSER"):
        pytest.fail(f"KANAL_REQUIRE_BROWSER is set, but {reason}")
    pytest.skip(reason)


def chromium_path() -> str:
    """The Chromium binary to drive."""
    for candidate in (os.environ.get("KANAL_CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    unavailable("Chromium is not installed (apt-get install chromium); .ci/run installs it")


def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError as exc:
        unavailable(f"the playwright Python package cannot be imported ({exc}); "
                    "pip install -e '.[test]'")
    return start()


@contextmanager
def launch() -> Iterator:
    """A headless Chromium browser for the duration of the block."""
    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="kanal-test-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:  # polls for readiness; correctness does not depend on it
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()

"""Background workers that run as long as there is work, and sleep until woken (new
outbox items or media jobs were committed) or until their interval has passed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.dbguard import is_outage, outage_reason

log = logging.getLogger(__name__)


class _Background:
    """A named daemon thread running ``_run`` until ``stop``."""

    def __init__(self, name: str):
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"kanal-{self.name}",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Nothing to do by default."""

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError


class Worker(_Background):
    def __init__(self, name: str, step: Callable[[], int], *, interval: float,
                 pause: Callable[[], float | None] = lambda: None):
        """``step`` does one round and returns how much it did; ``pause`` says how soon to
        try again when it did nothing but work is waiting (a rate limit)."""
        super().__init__(name)
        self.step = step
        self.interval = interval
        self.pause = pause
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.step()
            except Exception as exc:  # a broken round is logged; the worker carries on
                if is_outage(exc):  # one line, not a traceback every round
                    log.warning("%s worker waits for the database: %s", self.name,
                                outage_reason(exc))
                else:
                    log.exception("%s worker round failed", self.name)
                done = 0
            if done:
                continue
            self._wake.wait(self.pause() or self.interval)
            self._wake.clear()


class Watcher(_Background):
    """A thread running an adapter's ``watch(wake, stop)`` (IMAP IDLE) until stopped."""

    def __init__(self, name: str, watch: Callable[[Callable[[], None], threading.Event], None],
                 wake: Callable[[], None]):
        super().__init__(name)
        self.watch = watch
        self.on_news = wake

    def _run(self) -> None:
        try:
            self.watch(self.on_news, self._stop)
        except Exception:  # polling goes on without it
            log.exception("%s stopped; its channel is still polled", self.name)

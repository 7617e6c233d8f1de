"""Channel changes reach every running process: a thread reads the change watermark
(``core.channelconf.watermark``: the newest audit id and the override versions, two
indexed aggregates) every ``KANAL_CONFIG_WATCH_SECONDS`` and reloads the channels when
it moved. The process that made a change reloads at once; the others within a second or
two. Polling the database rather than LISTEN/NOTIFY works the same on SQLite and
PostgreSQL, survives a dropped connection without a missed notification, and costs one
small query a second."""

from __future__ import annotations

import logging

from core.channelconf import watermark
from core.dbguard import is_outage, outage_reason
from gateway.workers import _Background

log = logging.getLogger(__name__)


class ConfigWatcher(_Background):
    def __init__(self, kanal, interval: float | None = None):
        super().__init__("config-watch")
        self.kanal = kanal
        self.interval = interval or kanal.settings.config_watch_seconds
        self.seen: tuple[int, int] | None = None

    def check(self) -> bool:
        """One look; True when the channels were reloaded."""
        with self.kanal.engine.connect() as conn:
            mark = watermark(conn)
        if mark == self.seen:
            return False
        first = self.seen is None
        self.seen = mark
        changed = self.kanal.reload_channels()
        return bool(changed) or not first

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception as exc:  # the next look tries again
                if is_outage(exc):
                    log.debug("channel watch waits for the database: %s", outage_reason(exc))
                else:
                    log.exception("reading channel changes failed")
            self._stop.wait(self.interval)

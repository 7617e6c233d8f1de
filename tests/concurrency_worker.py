"""Code run in child processes by tests/test_concurrency.py (must be importable)."""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

from core.adapter import Envelope
from core.hookspecs import hookimpl
from core.settings import KanalSettings

FIXTURES = Path(__file__).parent / "fixtures"


class _Counter(logging.Handler):
    def __init__(self):
        super().__init__()
        self.collisions = 0

    def emit(self, record):
        if "collision" in record.getMessage():
            self.collisions += 1


def _kanal(url: str, data_dir: str, randbelow=None, extra_plugins=()):
    from gateway.runtime import Kanal

    settings = KanalSettings(_env_file=None, database_url=url, config=FIXTURES / "channels.yaml",
                             data_dir=Path(data_dir), scheduler=False)
    kw = {"randbelow": randbelow} if randbelow else {}
    return Kanal(settings, env={"KANAL_JAKI_API_KEY": "k"}, extra_plugins=extra_plugins, **kw)


def issue_reports(url, data_dir, seed, count, barrier, results) -> None:
    """Create ``count`` reports one by one, drawing IDs from a tiny space (256 IDs) so
    that the two processes collide."""
    rng = random.Random(seed)
    counter = _Counter()
    logger = logging.getLogger("core.pipeline")
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    kanal = _kanal(url, data_dir, randbelow=lambda n: rng.randrange(256))
    barrier.wait()
    tids = []
    for i in range(count):
        payload = json.dumps({"id": f"p{seed}-{i}", "text": f"laporan {i}"}).encode()
        [result] = kanal.ingestor.ingest_many([Envelope("fake", f"p{seed}-{i}", payload)])
        tids.append(result.tracking_id)
    kanal.engine.dispose()
    results.put((seed, tids, counter.collisions))


def deliver_same(url, data_dir, seed, ids, barrier, results) -> None:
    """Deliver the same external ids as the other process, at the same time."""
    kanal = _kanal(url, data_dir)
    barrier.wait()
    out = {}
    for ext in ids:
        payload = json.dumps({"id": ext, "text": f"laporan {ext}"}).encode()
        [result] = kanal.ingestor.ingest_many([Envelope("fake", ext, payload)])
        out[ext] = result.tracking_id
    kanal.engine.dispose()
    results.put((seed, out))


class HookCounter:
    """Writes one internal case event per ``kanal_case_escalated`` call it sees."""

    @hookimpl
    def kanal_case_escalated(self, escalation, work):
        work.add_case_event("hook_seen", public=False)


def escalate(url, data_dir, seed, now_iso, barrier, results) -> None:
    """Escalate in small batches, one transaction each, at the same time as the other
    process; the tracking IDs this process escalated."""
    from datetime import datetime

    from core.db import writing
    from core.escalation import escalate_due

    kanal = _kanal(url, data_dir, extra_plugins=(HookCounter(),))
    now = datetime.fromisoformat(now_iso)
    barrier.wait()
    mine = []
    while True:
        with writing(kanal.engine) as conn:
            batch = escalate_due(conn, now, hook=kanal.pm.hook, limit=3)
        mine += [e.tracking_id for e in batch]
        if not batch:
            break
        time.sleep(0.005)  # let the other process in between (SQLite's lock is not fair)
    kanal.engine.dispose()
    results.put((seed, mine))

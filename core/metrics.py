"""Prometheus instruments of one kanal runtime.

Counters and histograms are fed as work happens (the ingestor and the dispatcher report
to an :class:`Observer`); gauges are read from the database at scrape time, so they tell
the truth of every process sharing it. Each runtime has its own registry, never the
process-wide default one: tests build many runtimes in one process, and two runtimes
must never add to each other's counts.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import case, func, select

from core.adapter import Envelope
from core.canonical import IngestResult
from core.dbguard import is_outage
from core.models import ChannelState, InboxItem, OutboxItem, as_utc

log = logging.getLogger(__name__)
inbox_t = InboxItem.__table__
outbox_t = OutboxItem.__table__
state_t = ChannelState.__table__

# a payload is committed within milliseconds, or waits out a slow database (up to the
# 13 s request bound of core.dbguard.DbLimits)
INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
# an ack leaves within the dispatch interval, or after back-off retries of up to an hour
ACK_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0)
OUTBOX_STATES = ("pending", "failed", "dead")
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def allowed_networks(extra: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Who may scrape without a token: loopback, and ``extra`` (``KANAL_METRICS_ALLOW``:
    addresses or CIDRs, comma separated). A bad entry raises ValueError naming it."""
    out = list(LOOPBACK)
    for part in (p.strip() for p in extra.split(",")):
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR: {part!r}") from None
    return tuple(out)


class Observer:
    """What the ingestor and the dispatcher tell about their work. This one forgets it:
    the default for an Ingestor or Dispatcher built on its own (tests, tools)."""

    def ingested(self, envelopes: Sequence[Envelope], results: Sequence[IngestResult],
                 seconds: float) -> None:
        """``envelopes`` were committed, ``seconds`` after they were handed over."""

    def ingest_failed(self, envelopes: Sequence[Envelope]) -> None:
        """``envelopes`` were not committed (the provider is told to send them again)."""

    def ack(self, channel: str, result: str, seconds: float | None = None) -> None:
        """An outbox item was tried: ``sent`` (``seconds`` after it was queued),
        ``retry`` or ``dead``."""


def ingest_result(result: IngestResult) -> str:
    """The ``result`` label of one ingested payload."""
    if result.duplicate:
        return "duplicate"
    if result.quarantined:
        return "quarantined"
    if result.created:
        return "created"
    if result.follow_up:
        return "follow_up"
    return "other"  # a keyword request, a staff reply, a delivery report


class Metrics(Observer):
    """The instruments and the scrape of one runtime.

    ``kanal`` is read at scrape time (``engine``, ``channels``, ``adapters``, ``clock``,
    ``db_health``), so channels switched on or off while running are counted as they are
    then."""

    def __init__(self, kanal):
        self.kanal = kanal
        self.registry = CollectorRegistry()
        self.received = Counter(
            "kanal_messages_received", "Payloads handed to the ingestor, by channel and "
            "result", ["channel", "result"], registry=self.registry)
        self.acks = Counter(
            "kanal_acks_sent", "Outbox items tried (acks, status updates, replies), by "
            "channel and result", ["channel", "result"], registry=self.registry)
        self.ingest_seconds = Histogram(
            "kanal_ingest_seconds", "From a payload handed to the ingestor to its commit",
            ["channel"], buckets=INGEST_BUCKETS, registry=self.registry)
        self.ack_seconds = Histogram(
            "kanal_ack_seconds", "From an outbox item queued to its successful send",
            ["channel"], buckets=ACK_BUCKETS, registry=self.registry)
        self.registry.register(DatabaseCollector(kanal))

    def ingested(self, envelopes, results, seconds):
        for envelope, result in zip(envelopes, results):
            label = ingest_result(result)
            if label == "other" and envelope.channel not in self.kanal.adapters:
                label = "pending"  # its channel is off: kept in the inbox for replay
            self.received.labels(envelope.channel, label).inc()
            self.ingest_seconds.labels(envelope.channel).observe(seconds)

    def ingest_failed(self, envelopes):
        for envelope in envelopes:
            self.received.labels(envelope.channel, "error").inc()

    def ack(self, channel, result, seconds=None):
        self.acks.labels(channel, result).inc()
        if seconds is not None:
            self.ack_seconds.labels(channel).observe(max(0.0, seconds))

    def render(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


class DatabaseCollector:
    """Gauges read at scrape time: one grouped query each. While the database is out the
    scrape still answers, without them and with ``kanal_database_up 0``."""

    def __init__(self, kanal):
        self.kanal = kanal

    def collect(self):
        kanal = self.kanal
        up = GaugeMetricFamily("kanal_channel_up", "1 when the channel runs, 0 when it is "
                               "disabled", labels=["channel"])
        for status in kanal.channels:
            up.add_metric([status.config.id], 1.0 if status.state == "ready" else 0.0)
        yield up
        database = GaugeMetricFamily("kanal_database_up", "1 when the database answered "
                                     "this scrape's queries")
        try:
            families = self._from_database() if kanal.db_health.up else None
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("metrics without the database gauges: %s", exc)
            families = None
        database.add_metric([], 0.0 if families is None else 1.0)
        yield database
        yield from families or ()

    def _from_database(self) -> list[GaugeMetricFamily]:
        kanal = self.kanal
        configured = [s.config.id for s in kanal.channels]
        polling = [c for c, a in kanal.adapters.items() if a.polls]
        state = case((outbox_t.c.attempts > 0, "failed"), else_="pending")
        state = case((outbox_t.c.status == "dead", "dead"), else_=state)
        with kanal.engine.connect() as conn:
            outbox = conn.execute(
                select(outbox_t.c.channel, state.label("state"), func.count())
                .where(outbox_t.c.status.in_(("pending", "dead")))
                .group_by(outbox_t.c.channel, state)).all()
            quarantined = conn.execute(
                select(inbox_t.c.channel, func.count())
                .where(inbox_t.c.status == "quarantined")
                .group_by(inbox_t.c.channel)).all()
            last_ok = conn.execute(
                select(state_t.c.channel, state_t.c.last_ok_at)
                .where(state_t.c.channel.in_(polling))).all() if polling else []
        depth = {(c, s): 0 for c in configured for s in OUTBOX_STATES}
        depth.update({(c, s): n for c, s, n in outbox})
        size = {c: 0 for c in configured} | dict(quarantined)

        outbox_depth = GaugeMetricFamily("kanal_outbox_depth", "Outbox items not sent: "
                                         "pending (never tried), failed (waiting to retry), "
                                         "dead", labels=["channel", "status"])
        for (channel, status), n in sorted(depth.items()):
            outbox_depth.add_metric([channel, status], n)
        quarantine = GaugeMetricFamily("kanal_quarantine_size", "Inbox payloads in "
                                       "quarantine", labels=["channel"])
        for channel, n in sorted(size.items()):
            quarantine.add_metric([channel], n)
        lag = GaugeMetricFamily("kanal_poller_lag_seconds", "Seconds since the channel's "
                                "last successful poll or send (polling channels that "
                                "succeeded once)", labels=["channel"])
        now = kanal.clock()
        for channel, at in sorted(last_ok):
            if at is not None:
                lag.add_metric([channel], max(0.0, (now - as_utc(at)).total_seconds()))
        return [outbox_depth, quarantine, lag]


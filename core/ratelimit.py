"""A token bucket per key (a client address, a sender), with a bounded number of keys, and
the key a client address is throttled under."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


def client_bucket(host: str | None) -> str:
    """The key a client address is throttled under. An IPv6 client is its /64: one
    household or phone gets a whole /64 and may pick any address in it. An IPv4-mapped
    address is its IPv4 address; something that is no address stays as it is."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


class RateLimiter:
    """``burst`` requests at once, refilled at ``per_minute``; ``per_minute <= 0`` turns
    the limit off. The least recently seen address is forgotten past ``max_keys`` (a
    forgotten address starts again with a full bucket, which it would mostly have anyway)."""

    def __init__(self, per_minute: float, burst: int, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Spend one token: 0 when allowed, else the whole seconds until one is free."""
        if self.rate <= 0:
            return 0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / self.rate))

    def __len__(self) -> int:
        return len(self._buckets)

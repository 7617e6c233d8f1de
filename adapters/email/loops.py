"""Loop protection: which mails get an acknowledgement, and how often per sender."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from adapters.email.parse import ParsedMail
from core.ratelimit import RateLimiter

_SYSTEM_SENDER = re.compile(
    r"(?i)^(?:mailer[-_.]?daemon|postmaster|(?:do[-_.]?)?not?[-_.]?reply)(?:$|[-_.+\d])")
_BULK = {"bulk", "list", "junk"}


def _fold(address: str) -> str:
    return address.strip().casefold()


def should_acknowledge(parsed: ParsedMail, *, own_addresses: set[str],
                       address: str | None = None) -> tuple[bool, str]:
    """(True, "") when an automatic reply may go to this mail's sender (or to ``address``,
    the citizen of a forwarded mail), else (False, reason)."""
    if parsed.is_dsn:
        return False, "delivery status notification"
    auto = (parsed.auto_submitted or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return False, f"Auto-Submitted: {auto}"
    precedence = (parsed.precedence or "").strip().lower()
    if precedence in _BULK:
        return False, f"Precedence: {precedence}"
    if parsed.list_id or parsed.list_unsubscribe:
        return False, "mailing list"
    own = {_fold(a) for a in own_addresses}
    for who in dict.fromkeys(filter(None, (parsed.from_address, address))):
        if _SYSTEM_SENDER.match(who.rpartition("@")[0]):
            return False, f"system sender {who}"
        if _fold(who) in own:
            return False, "our own address"
    return True, ""


class AckLimiter:
    """At most ``max_per_hour`` acks per sender, refilled evenly over the hour; at most
    ``max_senders`` senders are remembered (the least recently seen is dropped first)."""

    def __init__(self, max_per_hour: int, clock: Callable[[], float] = time.monotonic,
                 *, max_senders: int = 10_000):
        if max_per_hour < 1:
            raise ValueError("max_per_hour must be at least 1")
        self._limiter = RateLimiter(max_per_hour / 60.0, max_per_hour, max_keys=max_senders,
                                    clock=clock)

    def __len__(self) -> int:
        return len(self._limiter)

    def allow(self, sender: str) -> bool:
        return self._limiter.take(_fold(sender)) == 0

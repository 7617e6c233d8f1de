"""What the adapters' ``test_connection`` share: a short timeout, the words for a network
failure an operator can act on, and secrets kept out of every detail."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable, Iterator

# a connection test answers a person waiting at the console: no provider call may take longer
MAX_TIMEOUT = 10.0


def timeout(configured: float) -> float:
    """The channel's own timeout, but never more than ``MAX_TIMEOUT`` seconds."""
    return min(configured, MAX_TIMEOUT)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3's ``reason``, httpx's
    ``__cause__``, PTB's wrapped errors."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None),
                 *current.args]


def network_reason(exc: BaseException, seconds: float | None = None) -> str:
    """Why a connection failed, in words: refused, no such host, no answer, TLS."""
    chain = list(_chain(exc))
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) \
            or "certificate verify failed" in text:
        return "its TLS certificate is not trusted"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "the TLS handshake failed"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service not known" in text \
            or "name resolution" in text or "nodename nor servname" in text:
        return "the host name does not resolve"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "the connection was refused (nothing listens on that port)"
    if any(isinstance(e, (TimeoutError, socket.timeout)) or "timeout" in type(e).__name__.lower()
           or "timedout" in type(e).__name__.lower() for e in chain) or "timed out" in text:
        return f"no answer within {seconds:g} s" if seconds else "no answer in time"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "the connection was reset"
    return f"{type(exc).__name__}: {exc}"


def unreachable(what: str, where: str, exc: BaseException, seconds: float | None = None) -> str:
    """``cannot reach the Twilio API at api.twilio.com:443: the connection was refused
    ...: check the host, the port and that kanal's server may connect out to it``."""
    return (f"cannot reach {what} at {where}: {network_reason(exc, seconds)}: check the "
            "host and port in the channel's settings, and that this server may connect to it")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (longer than 3 characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, "***")
    return text

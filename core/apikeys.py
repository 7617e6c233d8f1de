"""API keys of client applications, as one setting: ``key`` or ``app1=k1,app2=k2``.

A bare key belongs to the client ``default`` (``client<i>`` when it is not first). Used by
the JAKI channel (``KANAL_JAKI_API_KEY``) and Open311 (``KANAL_OPEN311_API_KEYS``)."""

from __future__ import annotations

import hmac
import re

CLIENT_NAME = re.compile(r"[A-Za-z0-9._-]{1,32}")


def parse_keys(value: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for i, part in enumerate(p.strip() for p in (value or "").split(",")):
        if not part:
            continue
        client, sep, key = part.partition("=")
        if not sep:
            client, key = ("default" if i == 0 else f"client{i}"), part
        if key.strip():
            keys[client.strip()] = key.strip()
    return keys


def check_names(keys: dict[str, str]) -> None:
    """Raises ValueError for a client name that cannot start an inbox key."""
    for client in keys:
        if not CLIENT_NAME.fullmatch(client):
            raise ValueError(f"client name {client!r}: use letters, digits, '.', '_' or '-'")


def client_for(value: str, presented: str) -> str | None:
    """The client application owning ``presented``, compared in constant time."""
    found = None
    for client, key in parse_keys(value).items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = client
    return found

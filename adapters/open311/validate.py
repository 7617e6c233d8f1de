"""The checks of a ``POST requests``: each wrong field is a 400 naming it (the spec's
status for a missing or bad field)."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from adapters.open311.payloads import Open311Post
from adapters.open311.wire import Open311Error
from core.reportform import MAX_ADDRESS, MAX_NAME, check_contact

MAX_URL = 2000
MAX_SHORT = 128
_TEXT = ("service_code", "address_string", "address_id", "description", "email", "phone",
         "first_name", "last_name", "media_url", "device_id")
_LIMITS = {"service_code": MAX_SHORT, "address_string": MAX_ADDRESS,
           "address_id": MAX_SHORT, "first_name": MAX_NAME, "last_name": MAX_NAME,
           "media_url": MAX_URL, "device_id": MAX_SHORT}


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "phone":
        value = str(value)
    if not isinstance(value, str):
        raise Open311Error(400, f"{name} must be text")
    value = value.strip()
    limit = _LIMITS.get(name)
    if limit is not None and len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return value or None


def _coordinate(fields: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not low <= number <= high:
        raise Open311Error(400, f"{name} must be a number from {low:g} to {high:g}")
    return number


def check_post(fields: Mapping[str, Any], *, categories: Collection[str],
               max_text_chars: int) -> Open311Post:
    texts = {name: _text(fields, name) for name in _TEXT}
    code = texts["service_code"]
    if code is None:
        raise Open311Error(400, "service_code is required")
    if code not in categories:
        raise Open311Error(400, f"service_code {code!r} is not a service of this jurisdiction")
    lat = _coordinate(fields, "lat", -90, 90)
    lon = _coordinate(fields, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "give both lat and long, or neither")
    if lat is None and not texts["address_string"] and not texts["address_id"]:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = texts["description"]
    if description is not None:
        description = description.replace("\r\n", "\n")
        if len(description) > max_text_chars:
            raise Open311Error(400, f"description is longer than {max_text_chars} characters")
    _, problems = check_contact({"phone": texts["phone"], "email": texts["email"]})
    if problems:
        raise Open311Error(400, problems[0].reason)
    url = texts["media_url"]
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Open311Error(400, "media_url must be an http or https URL")
    return Open311Post(**{**texts, "description": description, "lat": lat, "long": lon})

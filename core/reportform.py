"""A citizen's report as typed into a form (the website, a walk-in counter) or sent as
its JSON twin: the fields, their checks, and the problems told back.

Input is one flat mapping (``text``, ``category``, ``address``, ``lat``, ``lon``, ``name``,
``phone``, ``email``); ``check_report`` returns the checked report or every problem at once.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ApiError
from core.identity import email_address, phone_e164

MAX_ADDRESS = 500
MAX_NAME = 200
MAX_PHONE = 32
MAX_EMAIL = 254
_SUBMISSION_ID = re.compile(r"[A-Za-z0-9_-]{8,128}")


class ReportLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=MAX_ADDRESS)


class ReportContact(BaseModel):
    """What the citizen typed about themselves: self-declared, never verified."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=MAX_NAME)
    phone: str | None = Field(default=None, max_length=MAX_PHONE)
    email: str | None = Field(default=None, max_length=MAX_EMAIL)


class CitizenReport(BaseModel):
    """A checked report."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    category: str | None = None
    location: ReportLocation | None = None
    contact: ReportContact | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a submission. ``field`` is the form field it belongs to."""

    status: int
    code: str
    field: str | None
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    def error(self) -> ApiError:
        extra = {"field": self.field} if self.field else {}
        return ApiError(self.status, self.code, self.reason, **extra, **self.params)

    @classmethod
    def from_error(cls, exc: ApiError, field: str | None = None) -> Problem:
        return cls(exc.status_code, exc.error, field, exc.reason, dict(exc.extra))


_BAD = object()


def _string(value: Any) -> Any:
    """Stripped text, None when empty, or _BAD when not text at all."""
    if value is None:
        return None
    if not isinstance(value, str):
        return _BAD
    value = value.strip()
    return value or None


def _number(value: Any, low: float, high: float) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return _BAD
    if isinstance(value, str):
        try:  # an Indonesian keyboard may type a decimal comma
            value = float(value.strip().replace(",", "."))
        except ValueError:
            return _BAD
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return _BAD
    return float(value) if low <= value <= high else _BAD


def submission_id(value: Any, *, strict: bool) -> str | Problem:
    """The idempotency key: as given when well formed, new when absent (or, unless
    ``strict``, malformed)."""
    if value is None or value == "":
        return uuid.uuid4().hex
    if isinstance(value, str) and _SUBMISSION_ID.fullmatch(value):
        return value
    if not strict:
        return uuid.uuid4().hex
    return Problem(422, "invalid_submission_id", "submission_id",
                   "submission_id must be 8 to 128 letters, digits, '-' or '_'")


def check_contact(raw: Mapping[str, Any], *, prefix: str = ""
                  ) -> tuple[tuple[str | None, str | None, str | None], list[Problem]]:
    """The reporter's ``name``, ``phone`` and ``email`` (stripped, None when empty) and
    what is wrong with them. Every intake refuses a wrong one rather than filing the
    complaint without it. ``prefix`` names the fields as the caller's payload does
    (``reporter.`` for JAKI)."""
    problems: list[Problem] = []
    name = _string(raw.get("name"))
    if name is _BAD or (name and len(name) > MAX_NAME):
        problems.append(Problem(422, "invalid_name", f"{prefix}name",
                                f"{prefix}name must be text of at most {MAX_NAME} characters",
                                {"limit": MAX_NAME}))
    phone = _string(raw.get("phone"))
    if phone is not None and (phone is _BAD or len(phone) > MAX_PHONE
                              or phone_e164(phone) is None):
        problems.append(Problem(422, "invalid_phone", f"{prefix}phone",
                                f"{prefix}phone is not a phone number"))
    email = _string(raw.get("email"))
    if email is not None and (email is _BAD or len(email) > MAX_EMAIL
                              or email_address(email) is None):
        problems.append(Problem(422, "invalid_email", f"{prefix}email",
                                f"{prefix}email is not an email address"))
    return (name, phone, email), problems


def check_report(raw: Mapping[str, Any], *, max_text_chars: int,
                 categories: Collection[str]) -> tuple[CitizenReport | None, list[Problem]]:
    """The report, or every problem with it at once (so a form can show them together)."""
    problems: list[Problem] = []
    text = _string(raw.get("text"))
    if text is _BAD:
        problems.append(Problem(422, "invalid_text", "text", "text must be a string"))
    elif text is None:
        problems.append(Problem(422, "missing_text", "text",
                                "text is required and must not be empty"))
    else:
        text = text.replace("\r\n", "\n")
        if len(text) > max_text_chars:
            problems.append(Problem(422, "text_too_long", "text",
                                    f"text is {len(text)} characters; the limit is "
                                    f"{max_text_chars}",
                                    {"limit": max_text_chars, "length": len(text)}))
    category = _string(raw.get("category"))
    if category is not None and (category is _BAD or category not in categories):
        problems.append(Problem(422, "unknown_category", "category",
                                f"category is not one of: {', '.join(sorted(categories))}"))
    address = _string(raw.get("address"))
    if address is _BAD or (address and len(address) > MAX_ADDRESS):
        problems.append(Problem(422, "invalid_location", "address",
                                f"address must be text of at most {MAX_ADDRESS} characters",
                                {"limit": MAX_ADDRESS}))
    lat, lon = _number(raw.get("lat"), -90, 90), _number(raw.get("lon"), -180, 180)
    for name, value, low, high in (("lat", lat, -90, 90), ("lon", lon, -180, 180)):
        if value is _BAD:
            problems.append(Problem(422, "invalid_location", name,
                                    f"{name} must be a number from {low} to {high}"))
    if _BAD not in (lat, lon) and (lat is None) != (lon is None):
        missing = "lat" if lat is None else "lon"
        problems.append(Problem(422, "invalid_location", missing,
                                "give both lat and lon, or neither", {"missing": missing}))
    (name, phone, email), found = check_contact(raw)
    problems += found
    if problems:
        return None, problems
    location = (ReportLocation(lat=lat, lon=lon, address=address)
                if lat is not None or address else None)
    contact = (ReportContact(name=name, phone=phone, email=email)
               if name or phone or email else None)
    return CitizenReport(text=text, category=category, location=location, contact=contact), []

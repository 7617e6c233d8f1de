"""Reporting periods on the WIB calendar: a week (ISO, Monday to Sunday), a month or a
year, named as ``period=week&at=2026-W48``, ``period=month&at=2026-11`` or
``period=year&at=2026``. Bounds are half-open [start, end) in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from core.errors import ApiError
from core.workcal import WIB

KINDS = ("week", "month", "year")
_FORMS = {"week": re.compile(r"(\d{4})-W(\d{2})"), "month": re.compile(r"(\d{4})-(\d{2})"),
          "year": re.compile(r"(\d{4})")}
_HINT = {"week": "2026-W48", "month": "2026-11", "year": "2026"}


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    label: str  # as ``at`` names it: 2026-W48, 2026-11, 2026
    first_day: date
    next_day: date  # the day after the last

    @property
    def start(self) -> datetime:
        return _utc(self.first_day)

    @property
    def end(self) -> datetime:
        return _utc(self.next_day)

    def previous(self) -> Period:
        return containing(self.kind, _utc(self.first_day - timedelta(days=1)))

    def following(self) -> Period:
        return containing(self.kind, _utc(self.next_day))

    def as_dict(self) -> dict:
        return {"period": self.kind, "at": self.label, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "first_day": self.first_day.isoformat(),
                "last_day": (self.next_day - timedelta(days=1)).isoformat()}


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), WIB).astimezone(timezone.utc)


def _make(kind: str, first: date) -> Period:
    if kind == "week":
        iso = first.isocalendar()
        return Period(kind, f"{iso.year}-W{iso.week:02d}", first, first + timedelta(days=7))
    if kind == "month":
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return Period(kind, f"{first.year}-{first.month:02d}", first, nxt)
    return Period(kind, f"{first.year}", first, date(first.year + 1, 1, 1))


def containing(kind: str, moment: datetime) -> Period:
    """The period of ``kind`` that holds ``moment`` on the WIB calendar."""
    day = moment.astimezone(WIB).date()
    if kind == "week":
        return _make(kind, day - timedelta(days=day.weekday()))
    if kind == "month":
        return _make(kind, day.replace(day=1))
    return _make(kind, date(day.year, 1, 1))


def parse(kind: str | None, at: str | None, now: datetime) -> Period:
    """The period the query names; without ``at``, the one holding ``now``. A 422
    ``invalid_field`` (with ``field``) for anything else."""
    kind = (kind or "month").strip()
    if kind not in KINDS:
        raise ApiError(422, "invalid_field", f"period must be one of {', '.join(KINDS)}",
                       field="period")
    at = (at or "").strip()
    if not at:
        return containing(kind, now)
    found = _FORMS[kind].fullmatch(at)
    try:
        if found is None:
            raise ValueError(at)
        year = int(found.group(1))
        if kind == "week":
            first = date.fromisocalendar(year, int(found.group(2)), 1)
        elif kind == "month":
            first = date(year, int(found.group(2)), 1)
        else:
            first = date(year, 1, 1)
        if year < 2000:
            raise ValueError(at)
    except ValueError:
        raise ApiError(422, "invalid_field", f"at={at!r} does not name a {kind} (like "
                       f"{_HINT[kind]})", field="at") from None
    return _make(kind, first)

"""Working time in WIB: office hours, Indonesian public holidays and cuti bersama.

The SLA clocks of the case engine count working hours and working days, not calendar time.
A working day is a weekday with office hours that is neither a public holiday nor a joint
leave day (cuti bersama) from ``holidays.Indonesia(categories=("public", "government"))``,
after the overrides of ``config/sla.yaml`` (the joint-leave decree is revised some years).

Every function takes timezone-aware datetimes in any zone and answers in UTC; a naive
datetime is a ValueError, since guessing its zone would move a deadline by seven hours.

Each year is turned once into cumulative tables (working microseconds and working days
before each day of the year), so that every operation is a bisection, not a walk over days:
a queue of 10,000 cases is sorted by SLA risk in milliseconds.
"""

from __future__ import annotations

from bisect import bisect_left
from calendar import isleap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

WIB = ZoneInfo("Asia/Jakarta")
HOLIDAY_CATEGORIES = ("public", "government")
_US_PER_SECOND = 1_000_000
_MAX_YEARS = 50  # a calendar with no working time for this long is a configuration error

#: DKI Jakarta's ASN office hours: Monday to Thursday 07:30-16:00, Friday 07:30-16:30.
DEFAULT_OFFICE_HOURS: Mapping[int, tuple[time, time]] = MappingProxyType({
    **{weekday: (time(7, 30), time(16, 0)) for weekday in range(4)},
    4: (time(7, 30), time(16, 30)),
})


@lru_cache(maxsize=None)
def official_holidays(year: int) -> Mapping[date, str]:
    """Public holidays and cuti bersama of one year, by date (shared by every calendar)."""
    return dict(holidays.Indonesia(years=year, categories=HOLIDAY_CATEGORIES).items())


def aware(value: datetime, name: str = "datetime") -> datetime:
    """``value`` in WIB; a ValueError for a naive datetime, a TypeError for a non-datetime."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(WIB)


def _us_of_day(local: datetime) -> int:
    return ((local.hour * 60 + local.minute) * 60 + local.second) * _US_PER_SECOND + (
        local.microsecond)


def _us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US_PER_SECOND + t.microsecond


@dataclass(frozen=True)
class _Year:
    """One year's working time: ``hours[i]`` is day i's (open, close) in microseconds after
    midnight or None; ``us_before[i]`` and ``days_before[i]`` sum days 0..i-1."""

    first: date
    hours: tuple[tuple[int, int] | None, ...]
    us_before: tuple[int, ...]
    days_before: tuple[int, ...]

    @property
    def total_us(self) -> int:
        return self.us_before[-1]

    @property
    def total_days(self) -> int:
        return self.days_before[-1]

    def offset(self, local: datetime) -> int:
        """Working microseconds from the start of the year to ``local`` (same year)."""
        i = (local.date() - self.first).days
        span = self.hours[i]
        within = 0 if span is None else min(max(_us_of_day(local), span[0]), span[1]) - span[0]
        return self.us_before[i] + within

    def instant(self, offset: int) -> datetime:
        """The earliest moment at which ``offset`` (> 0) working microseconds have passed:
        on a day's close rather than the next day's opening."""
        i = bisect_left(self.us_before, offset) - 1
        span = self.hours[i]
        assert span is not None  # a day that adds working time has office hours
        return self.at(i, span[0] + offset - self.us_before[i])

    def at(self, i: int, us_of_day: int) -> datetime:
        midnight = datetime.combine(self.first + timedelta(days=i), time(), WIB)
        return (midnight + timedelta(microseconds=us_of_day)).astimezone(UTC)


class WorkCalendar:
    """Office hours by weekday (0 = Monday) in WIB, minus Indonesian public holidays and
    cuti bersama; ``add`` are extra non-working dates, ``remove`` official holidays that
    are working days after all. A day without office hours is never a working day."""

    def __init__(
        self,
        office_hours: Mapping[int, tuple[time, time]] = DEFAULT_OFFICE_HOURS,
        *,
        add: Iterable[date] = (),
        remove: Iterable[date] = (),
    ) -> None:
        for weekday, (start, end) in office_hours.items():
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
            if not start < end:
                raise ValueError(f"office hours of weekday {weekday}: {start} is not before {end}")
        if not office_hours:
            raise ValueError("office hours: at least one weekday must have office hours")
        self.office_hours = dict(office_hours)
        self.added = frozenset(add)
        self.removed = frozenset(remove)
        both = self.added & self.removed
        if both:
            raise ValueError(
                "holiday overrides: a date cannot be both added and removed: "
                + ", ".join(sorted(d.isoformat() for d in both)))
        self._years: dict[int, _Year] = {}

    def is_holiday(self, day: date) -> bool:
        """A public holiday or cuti bersama after the overrides (weekday or not)."""
        return day in self.added or (
            day in official_holidays(day.year) and day not in self.removed)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.office_hours and not self.is_holiday(day)

    def is_working_time(self, dt: datetime) -> bool:
        """Within the office hours (opening included, closing excluded) of a working day."""
        local = aware(dt, "dt")
        table = self._year(local.year)
        span = table.hours[(local.date() - table.first).days]
        return span is not None and span[0] <= _us_of_day(local) < span[1]

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start``. Time outside office hours
        does not count; a deadline that uses up a day exactly falls on its closing time
        (Friday 16:30), not on the next opening (Monday 07:30)."""
        local = aware(start, "start")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not hours >= 0:
            raise ValueError(f"hours must be a number >= 0, got {hours!r}")
        need = round(hours * 3600 * _US_PER_SECOND)
        if need == 0:
            return local.astimezone(UTC)
        year = local.year
        table = self._year(year)
        offset = table.offset(local)
        for _ in range(_MAX_YEARS):
            if offset + need <= table.total_us:
                return table.instant(offset + need)
            need -= table.total_us - offset
            year, offset = year + 1, 0
            table = self._year(year)
        raise ValueError(f"no working time for {_MAX_YEARS} years after {local.date()}")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The closing time of the ``days``-th working day after the date of ``start`` (in
        WIB). The day a case arrives does not count, whatever the hour, as with "n hari
        kerja" in Indonesian administrative deadlines; ending on a closing time means days
        with different office hours (Friday) need no rule for "the same time of day"."""
        local = aware(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a whole number >= 1, got {days!r}")
        year = local.year
        table = self._year(year)
        counted = table.days_before[(local.date() - table.first).days + 1]
        for _ in range(_MAX_YEARS):
            if counted + days <= table.total_days:
                i = bisect_left(table.days_before, counted + days) - 1
                span = table.hours[i]
                assert span is not None
                return table.at(i, span[1])
            days -= table.total_days - counted
            year, counted = year + 1, 0
            table = self._year(year)
        raise ValueError(f"no working day for {_MAX_YEARS} years after {local.date()}")

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds from ``a`` to ``b``; negative when ``b`` is before ``a`` (how
        late a case is). ``add_working_hours`` and this function invert each other."""
        local_a, local_b = aware(a, "a"), aware(b, "b")
        if local_b < local_a:
            return -self.working_seconds_between(b, a)
        total = -self._year(local_a.year).offset(local_a)
        for year in range(local_a.year, local_b.year):
            total += self._year(year).total_us
        total += self._year(local_b.year).offset(local_b)
        return total / _US_PER_SECOND

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build(year)
        return table

    def _build(self, year: int) -> _Year:
        first = date(year, 1, 1)
        hours: list[tuple[int, int] | None] = []
        us_before, days_before = [0], [0]
        for i in range(366 if isleap(year) else 365):
            day = first + timedelta(days=i)
            span = self.office_hours.get(day.weekday())
            if span is None or self.is_holiday(day):
                hours.append(None)
                us_before.append(us_before[-1])
                days_before.append(days_before[-1])
            else:
                hours.append((_us(span[0]), _us(span[1])))
                us_before.append(us_before[-1] + _us(span[1]) - _us(span[0]))
                days_before.append(days_before[-1] + 1)
        return _Year(first, tuple(hours), tuple(us_before), tuple(days_before))

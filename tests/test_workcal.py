"""WorkCalendar: WIB office hours, weekends, public holidays, cuti bersama and overrides.

The 2026 dates are real (``holidays.Indonesia(years=2026, categories=("public",
"government"))``): Monday 17 August (Independence Day); cuti bersama on Wednesday 18 March
(Nyepi), Friday 20, Monday 23 and Tuesday 24 March (Idul Fitri) and Thursday 24 December
(Christmas); Tuesday 25 August is the Prophet's Birthday; New Year's Day 2027 is a
Friday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.workcal import WIB, WorkCalendar, official_holidays

CAL = WorkCalendar()
DEFAULT_SPAN = (time(7, 30), time(16, 0))
# every day off for 51 years: the search for working time must stop, not loop
NEVER_OPEN = WorkCalendar(add=[date(2026, 1, 1) + timedelta(days=i) for i in range(51 * 366)])
WIT = timezone(timedelta(hours=9))  # Papua: another aware zone, two hours ahead of WIB


def wib(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def test_the_dates_used_here_are_the_librarys() -> None:
    days = official_holidays(2026)
    for day in (date(2026, 8, 17), date(2026, 8, 25), date(2026, 3, 18), date(2026, 3, 19),
                date(2026, 3, 20),
                date(2026, 3, 23), date(2026, 3, 24), date(2026, 12, 24), date(2026, 12, 25)):
        assert day in days, day
    assert date(2027, 1, 1) in official_holidays(2027)
    for day in (date(2026, 8, 18), date(2026, 12, 31), date(2026, 3, 25)):
        assert day not in days


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (wib(2026, 8, 18, 7, 30), True),
        (wib(2026, 8, 18, 7, 29), False),
        (wib(2026, 8, 18, 15, 59), True),
        (wib(2026, 8, 18, 16, 0), False),
        (wib(2026, 8, 18, 20, 0), False),
        (wib(2026, 8, 21, 16, 15), True),
        (wib(2026, 8, 21, 16, 30), False),
        (wib(2026, 8, 22, 10, 0), False),
        (wib(2026, 8, 23, 10, 0), False),
        (wib(2026, 8, 17, 10, 0), False),
        (wib(2026, 3, 18, 10, 0), False),
        (wib(2026, 3, 24, 10, 0), False),
        (wib(2026, 12, 24, 10, 0), False),
        (wib(2026, 12, 31, 10, 0), True),
        (datetime(2026, 8, 18, 1, 0, tzinfo=UTC), True),
        (datetime(2026, 8, 18, 9, 0, tzinfo=UTC), False),
        (datetime(2026, 8, 18, 8, 30, tzinfo=WIT), False),
    ],
    ids=["opening", "early-morning", "last-minute", "closing-mon-thu", "evening",
         "friday-longer", "closing-friday", "saturday", "sunday", "independence-day",
         "cuti-bersama-nyepi", "cuti-bersama-lebaran", "cuti-bersama-christmas",
         "new-years-eve-works", "utc-08-00-wib", "utc-16-00-wib", "wit-06-30-wib"],
)
def test_is_working_time(moment: datetime, working: bool) -> None:
    assert CAL.is_working_time(moment) is working


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (wib(2026, 8, 18, 9, 0), 2, wib(2026, 8, 18, 11, 0)),
        (wib(2026, 8, 18, 15, 0), 1, wib(2026, 8, 18, 16, 0)),
        (wib(2026, 8, 18, 15, 0), 2, wib(2026, 8, 19, 8, 30)),
        (wib(2026, 8, 18, 20, 0), 1, wib(2026, 8, 19, 8, 30)),
        (wib(2026, 8, 19, 5, 0), 1, wib(2026, 8, 19, 8, 30)),
        (wib(2026, 8, 21, 16, 0), 0.5, wib(2026, 8, 21, 16, 30)),
        (wib(2026, 8, 21, 16, 0), 1, wib(2026, 8, 24, 8, 0)),
        (wib(2026, 8, 14, 16, 0), 1, wib(2026, 8, 18, 8, 0)),
        (wib(2026, 8, 22, 10, 0), 1, wib(2026, 8, 24, 8, 30)),
        (wib(2026, 3, 17, 15, 0), 2, wib(2026, 3, 25, 8, 30)),
        (wib(2026, 12, 23, 15, 0), 2, wib(2026, 12, 28, 8, 30)),
        (wib(2026, 12, 31, 15, 0), 2, wib(2027, 1, 4, 8, 30)),
        (wib(2026, 8, 24, 7, 30), 8.5, wib(2026, 8, 24, 16, 0)),
        (wib(2026, 8, 24, 7, 30), 24, wib(2026, 8, 27, 14, 30)),
        (wib(2026, 8, 18, 9, 0), 0.25, wib(2026, 8, 18, 9, 15)),
        (datetime(2026, 8, 18, 10, 0, tzinfo=UTC), 1, wib(2026, 8, 19, 8, 30)),
    ],
    ids=["same-day", "ends-on-closing-not-next-opening", "overnight", "from-evening",
         "from-early-morning", "friday-until-16-30", "friday-to-monday",
         "weekend-and-independence-day", "from-saturday", "nyepi-and-lebaran-cuti-bersama",
         "christmas-cuti-bersama", "over-new-year", "one-full-day", "twenty-four-hours-over-maulid",
         "quarter-hour", "utc-start-after-closing"],
)
def test_add_working_hours(start: datetime, hours: float, due: datetime) -> None:
    result = CAL.add_working_hours(start, hours)
    assert result == due
    assert result.tzinfo is UTC
    assert CAL.working_seconds_between(start, result) == hours * 3600


def test_add_zero_hours_is_the_start_in_utc() -> None:
    saturday = wib(2026, 8, 22, 10, 0)
    assert CAL.add_working_hours(saturday, 0) == saturday
    assert CAL.add_working_hours(saturday, 0).tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (wib(2026, 8, 18, 10, 0), 3, wib(2026, 8, 21, 16, 30)),
        (wib(2026, 8, 18, 6, 0), 1, wib(2026, 8, 19, 16, 0)),
        (wib(2026, 8, 18, 20, 0), 1, wib(2026, 8, 19, 16, 0)),
        (wib(2026, 8, 14, 10, 0), 1, wib(2026, 8, 18, 16, 0)),
        (wib(2026, 8, 15, 10, 0), 1, wib(2026, 8, 18, 16, 0)),
        (wib(2026, 3, 17, 10, 0), 1, wib(2026, 3, 25, 16, 0)),
        (wib(2026, 12, 31, 10, 0), 1, wib(2027, 1, 4, 16, 0)),
        (wib(2026, 12, 23, 10, 0), 5, wib(2027, 1, 4, 16, 0)),
        (datetime(2026, 8, 18, 18, 0, tzinfo=UTC), 1, wib(2026, 8, 20, 16, 0)),
        (wib(2026, 1, 2, 9, 0), 239, wib(2026, 12, 31, 16, 0)),
    ],
    ids=["three-days-to-friday-close", "early-morning-day-not-counted",
         "evening-day-not-counted", "weekend-and-independence-day", "from-saturday",
         "cuti-bersama", "over-new-year", "christmas-and-new-year", "date-taken-in-wib",
         "whole-year"],
)
def test_add_working_days(start: datetime, days: int, due: datetime) -> None:
    result = CAL.add_working_days(start, days)
    assert result == due
    assert result.tzinfo is UTC


def test_working_days_of_2026() -> None:
    """261 weekdays, 21 of them public holidays or cuti bersama (counted by hand from the
    library's list): 240 working days, the first on Friday 2 January."""
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    assert sum(d.weekday() < 5 for d in days) == 261
    assert sum(map(CAL.is_working_day, days)) == 240
    assert not CAL.is_working_day(date(2026, 1, 1)) and CAL.is_working_day(date(2026, 1, 2))


@pytest.mark.parametrize(
    ("a", "b", "seconds"),
    [
        (wib(2026, 8, 18, 9, 0), wib(2026, 8, 18, 11, 0), 7200),
        (wib(2026, 8, 18, 11, 0), wib(2026, 8, 18, 9, 0), -7200),
        (wib(2026, 8, 14, 16, 0), wib(2026, 8, 18, 8, 0), 3600),
        (wib(2026, 8, 22, 0, 0), wib(2026, 8, 23, 23, 59), 0),
        (wib(2026, 8, 18, 17, 0), wib(2026, 8, 19, 7, 0), 0),
        (wib(2026, 12, 31, 15, 0), wib(2027, 1, 4, 8, 30), 7200),
        (wib(2026, 8, 17, 0, 0), wib(2026, 8, 18, 0, 0), 0),
        (datetime(2026, 8, 18, 2, 0, tzinfo=UTC), datetime(2026, 8, 18, 12, 0, tzinfo=WIT), 3600),
        (wib(2025, 12, 31, 16, 0), wib(2028, 1, 1, 0, 0), None),
    ],
    ids=["same-day", "reversed-is-negative", "over-weekend-and-holiday", "weekend-only",
         "night-only", "over-new-year", "holiday-only", "mixed-zones", "several-years"],
)
def test_working_seconds_between(a: datetime, b: datetime, seconds: float | None) -> None:
    if seconds is None:  # two whole years: the sum of their working days' hours
        days = [d for d in (date(2026, 1, 1) + timedelta(days=i) for i in range(365 + 365))
                if CAL.is_working_day(d)]
        seconds = sum(8.5 * 3600 + (1800 if d.weekday() == 4 else 0) for d in days)
    assert CAL.working_seconds_between(a, b) == seconds


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "due"),
    [
        (WorkCalendar(add=[date(2026, 8, 18)]), wib(2026, 8, 14, 16, 0), 1,
         wib(2026, 8, 19, 8, 0)),
        (WorkCalendar(remove=[date(2026, 12, 24)]), wib(2026, 12, 23, 15, 0), 2,
         wib(2026, 12, 24, 8, 30)),
        (WorkCalendar(remove=[date(2026, 8, 22)]), wib(2026, 8, 21, 16, 0), 1,
         wib(2026, 8, 24, 8, 0)),
    ],
    ids=["added-day-off", "removed-cuti-bersama-works", "removing-a-saturday-opens-nothing"],
)
def test_overrides(calendar: WorkCalendar, start: datetime, hours: float, due: datetime) -> None:
    assert calendar.add_working_hours(start, hours) == due


def test_override_days_and_the_default_calendar_differ() -> None:
    added = WorkCalendar(add=[date(2026, 8, 18)])
    assert CAL.is_working_day(date(2026, 8, 18)) and not added.is_working_day(date(2026, 8, 18))
    assert added.add_working_days(wib(2026, 8, 14, 10), 1) == wib(2026, 8, 19, 16, 0)
    removed = WorkCalendar(remove=[date(2026, 8, 17)])
    assert removed.is_working_time(wib(2026, 8, 17, 10)) and not CAL.is_working_time(
        wib(2026, 8, 17, 10))


def test_configured_office_hours() -> None:
    six_days = WorkCalendar({d: (time(8, 0), time(12, 0)) for d in range(6)})
    assert six_days.is_working_time(wib(2026, 8, 22, 9, 0))  # a Saturday
    assert six_days.add_working_hours(wib(2026, 8, 21, 11, 0), 2) == wib(2026, 8, 22, 9, 0)
    assert six_days.add_working_days(wib(2026, 8, 21, 11, 0), 1) == wib(2026, 8, 22, 12, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: CAL.is_working_time(naive),
        lambda naive: CAL.add_working_hours(naive, 1),
        lambda naive: CAL.add_working_days(naive, 1),
        lambda naive: CAL.working_seconds_between(naive, wib(2026, 8, 18)),
        lambda naive: CAL.working_seconds_between(wib(2026, 8, 18), naive),
    ],
    ids=["is_working_time", "add_working_hours", "add_working_days", "between-a", "between-b"],
)
def test_naive_datetime_refused(call) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2026, 8, 18, 10, 0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: CAL.add_working_hours(wib(2026, 8, 18), -1), "hours must be a number >= 0"),
        (lambda: CAL.add_working_hours(wib(2026, 8, 18), float("nan")), "hours must be"),
        (lambda: CAL.add_working_hours(wib(2026, 8, 18), True), "hours must be"),
        (lambda: CAL.add_working_days(wib(2026, 8, 18), 0), "days must be a whole number >= 1"),
        (lambda: CAL.add_working_days(wib(2026, 8, 18), 1.5), "days must be a whole number"),
        (lambda: WorkCalendar({}), "at least one weekday"),
        (lambda: WorkCalendar({7: DEFAULT_SPAN}), "weekday must be 0"),
        (lambda: WorkCalendar({0: DEFAULT_SPAN[::-1]}), "is not before"),
        (lambda: WorkCalendar(add=[date(2026, 1, 2)], remove=[date(2026, 1, 2)]),
         "both added and removed: 2026-01-02"),
        (lambda: NEVER_OPEN.add_working_hours(wib(2026, 1, 1), 1), "no working time for 50 years"),
        (lambda: NEVER_OPEN.add_working_days(wib(2026, 1, 1), 1), "no working day for 50 years"),
    ],
    ids=["negative-hours", "nan-hours", "bool-hours", "zero-days", "fractional-days",
         "no-office-hours", "bad-weekday", "closing-before-opening", "add-and-remove",
         "every-day-added-no-working-time", "every-day-added-no-working-day"],
)
def test_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


STARTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31),
                      timezones=st.just(UTC))


@settings(max_examples=400, deadline=None)
@given(start=STARTS, micros=st.integers(min_value=0, max_value=2000 * 3600 * 10**6))
def test_add_then_measure_gives_the_hours_back(start: datetime, micros: int) -> None:
    hours = micros / 3600 / 10**6
    due = CAL.add_working_hours(start, hours)
    assert due >= start
    assert CAL.working_seconds_between(start, due) == pytest.approx(hours * 3600, abs=1e-6)
    if micros:  # the deadline lies inside office hours or on a closing time
        assert CAL.is_working_time(due) or CAL.is_working_time(due - timedelta(microseconds=1))


@settings(max_examples=300, deadline=None)
@given(start=STARTS, days=st.integers(min_value=1, max_value=300))
def test_add_working_days_counts_working_days_after_the_start_date(
    start: datetime, days: int
) -> None:
    due = CAL.add_working_days(start, days).astimezone(WIB)
    first = start.astimezone(WIB).date()
    between = [first + timedelta(days=i) for i in range(1, (due.date() - first).days + 1)]
    assert sum(map(CAL.is_working_day, between)) == days
    assert CAL.is_working_day(due.date())
    assert not CAL.is_working_time(due) and CAL.is_working_time(due - timedelta(minutes=1))

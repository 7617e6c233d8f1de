"""The SLA clocks of config/sla.yaml: first response, hop and resolution, and bad files.

Dates as in tests/test_workcal.py: 17 August 2026 (Independence Day) is a Monday and 25
August (the Prophet's Birthday) a Tuesday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core import categories
from core.case_engine import SlaPolicy, SlaPolicyError
from core.workcal import WIB

CONFIG = Path(__file__).resolve().parents[1] / "config"
REPO = SlaPolicy.from_yaml(CONFIG / "sla.yaml")


def wib(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def _policy(tmp_path: Path, text: str) -> SlaPolicy:
    path = tmp_path / "sla.yaml"
    path.write_text(text, encoding="utf-8")
    return SlaPolicy.from_yaml(path)


def test_repo_policy_gives_every_category_a_class() -> None:
    ids = {c["id"] for c in categories.load(CONFIG / "categories.yaml")}
    mapped = REPO.clocks.rules.resolution.categories
    assert ids == set(mapped), "config/sla.yaml resolution.categories vs categories.yaml"
    assert set(mapped.values()) == {"cepat", "sedang", "berat"}


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (wib(2026, 8, 21, 15, 0), wib(2026, 8, 22, 15, 0)),
        (datetime(2026, 8, 16, 20, 0, tzinfo=UTC), datetime(2026, 8, 17, 20, 0, tzinfo=UTC)),
    ],
    ids=["friday-to-saturday", "over-a-holiday"],
)
def test_first_response_runs_on_calendar_hours(start: datetime, due: datetime) -> None:
    result = REPO.first_response_due(start)
    assert result == due and result.tzinfo is UTC


def test_first_response_on_working_hours(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "first_response:\n  hours: 24\n  clock: working\n")
    # Friday 1.5 h, Monday 8.5 h, Tuesday 25 August off, Wednesday 8.5 h, Thursday 5.5 h
    assert policy.first_response_due(wib(2026, 8, 21, 15, 0)) == wib(2026, 8, 27, 13, 0)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (wib(2026, 8, 14, 10, 0), wib(2026, 8, 20, 16, 0)),
        (wib(2026, 8, 19, 15, 59), wib(2026, 8, 24, 16, 0)),
        (wib(2026, 8, 18, 10, 0), wib(2026, 8, 21, 16, 30)),
    ],
    ids=["over-independence-day", "over-weekend", "ends-on-friday-close"],
)
def test_hop_is_three_working_days(start: datetime, due: datetime) -> None:
    assert REPO.hop_due(start) == due


@pytest.mark.parametrize(
    ("category", "klass", "due"),
    [
        ("banjir", "cepat", wib(2026, 8, 26, 16, 0)),
        ("jalan-rusak", "sedang", wib(2026, 9, 8, 16, 0)),
        ("fasilitas-umum", "berat", wib(2026, 11, 11, 16, 0)),
        ("tidak-dikenal", "sedang", wib(2026, 9, 8, 16, 0)),
        (None, "sedang", wib(2026, 9, 8, 16, 0)),
    ],
    ids=["cepat-5", "sedang-14", "berat-60", "unknown-category-default", "no-category-default"],
)
def test_resolution_due_by_class(category: str | None, klass: str, due: datetime) -> None:
    start = wib(2026, 8, 18, 10, 0)
    assert REPO.clocks.resolution_class(category) == klass
    assert REPO.resolution_due(category, start) == due
    calendar = REPO.calendar()
    days = {"cepat": 5, "sedang": 14, "berat": 60}[klass]
    span = (due.date() - start.date()).days
    walked = [start.date() + timedelta(days=i) for i in range(1, span + 1)]
    assert sum(map(calendar.is_working_day, walked)) == days


def test_overrides_in_the_file_reach_the_calendar(tmp_path: Path) -> None:
    policy = _policy(tmp_path, (
        "holiday_overrides:\n  add: [2026-08-18]\n  remove: [2026-08-17]\n"))
    calendar = policy.calendar()
    assert not calendar.is_working_day(date(2026, 8, 18))
    assert calendar.is_working_day(date(2026, 8, 17))
    assert policy.hop_due(wib(2026, 8, 14, 10, 0)) == wib(2026, 8, 20, 16, 0)  # Mon, Wed, Thu


def test_office_hours_from_the_file(tmp_path: Path) -> None:
    policy = _policy(tmp_path, 'office_hours:\n  mon: "08:00-12:00"\n  sat: "08:00-12:00"\n')
    calendar = policy.calendar()
    assert calendar.is_working_time(wib(2026, 8, 22, 9, 0))  # Saturday
    assert not calendar.is_working_time(wib(2026, 8, 19, 9, 0))  # Wednesday: left out
    assert policy.hop_due(wib(2026, 8, 22, 9, 0)) == wib(2026, 8, 31, 12, 0)  # Mon, Sat, Mon


def test_a_file_of_one_section_and_the_default_policy_get_the_default_clocks(
        tmp_path: Path) -> None:
    partial = _policy(tmp_path, "holiday_overrides:\n  add: []\n")
    for policy in (partial, SlaPolicy.default()):
        assert policy.hop_due(wib(2026, 8, 18, 10, 0)) == wib(2026, 8, 21, 16, 30)
        assert policy.resolution_due("banjir", wib(2026, 8, 18, 10, 0)) == wib(2026, 9, 8, 16, 0)
        assert policy.first_response_due(wib(2026, 8, 21, 15, 0)) == wib(2026, 8, 22, 15, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: REPO.first_response_due(naive),
        lambda naive: REPO.hop_due(naive),
        lambda naive: REPO.resolution_due("banjir", naive),
    ],
    ids=["first_response_due", "hop_due", "resolution_due"],
)
def test_naive_datetime_refused(call) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2026, 8, 18, 10, 0))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('office_hours:\n  fri: "7.30"\n',
         r"office_hours\.fri: expected office hours as 'HH:MM-HH:MM', got '7\.30'"),
        ('office_hours:\n  senin: "07:30-16:00"\n', r"office_hours\.senin: Extra inputs"),
        ('office_hours:\n  mon: "16:00-07:30"\n',
         r"office_hours\.mon: opening 16:00 is not before closing 07:30"),
        ('office_hours:\n  mon: "25:00-26:00"\n', r"office_hours\.mon: not a time of day"),
        ("office_hours:\n  mon: null\n", "office_hours: at least one weekday"),
        ("office_hours: weekdays\n", r"office_hours: Input should be a valid dictionary"),
        ("holiday_overrides:\n  add: [2026-1-5]\n", r"holiday_overrides\.add\.0: Input should be"),
        ("holiday_overrides:\n  add: [2026-02-30]\n", "invalid YAML: day is out of range"),
        ("holiday_overrides:\n  add: [2026-12-31]\n  remove: [2026-12-31]\n",
         "holiday_overrides: a date cannot be both added and removed: 2026-12-31"),
        ("holiday_overrides:\n  added: [2026-12-31]\n", r"holiday_overrides\.added: Extra"),
        ('first_response:\n  hours: "24"\n', r"first_response\.hours: Input should be a valid"),
        ("first_response:\n  hours: 0\n", r"first_response\.hours: Input should be greater"),
        ("first_response:\n  clock: wall\n", r"first_response\.clock: Input should be 'calendar'"),
        ("hop:\n  working_days: 1.5\n", r"hop\.working_days: Input should be a valid integer"),
        ("hop:\n  working_days: true\n", r"hop\.working_days: Input should be a valid integer"),
        ("resolution:\n  categories:\n    banjir: kilat\n",
         r"resolution: categories\.banjir: unknown class 'kilat' "
         r"\(classes: cepat, sedang, berat\)"),
        ("resolution:\n  default_class: normal\n",
         "resolution: default_class: unknown class 'normal'"),
        ("resolution:\n  classes:\n    cepat: 0\n",
         r"resolution\.classes\.cepat: Input should be greater than 0"),
        ("hops:\n  working_days: 3\n", "unknown key"),
    ],
    ids=["hours-format", "weekday-name", "closing-first", "not-a-time", "all-closed",
         "hours-not-a-mapping", "date-format", "impossible-date", "added-and-removed",
         "overrides-typo", "hours-as-text", "zero-hours", "unknown-clock", "fractional-days",
         "bool-days", "unknown-class", "unknown-default-class", "zero-class", "section-typo"],
)
def test_wrong_file_names_the_field(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(SlaPolicyError, match=message) as info:
        _policy(tmp_path, content)
    assert str(tmp_path / "sla.yaml") in str(info.value)

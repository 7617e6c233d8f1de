"""The SLA clocks of issue 12, read from ``config/sla.yaml`` (see docs/sla.md).

Three clocks: the kelurahan's first response (24 hours), each coordination or disposition
hop (3 working days), and the resolution target of the category's class (for example
cepat 5, sedang 14, berat 60 working days). Working time is a ``WorkCalendar``: WIB
office hours and Indonesian holidays with the file's overrides.

The sections are validated by pydantic models; a wrong file is a ``SlaPolicyError`` that
names the file and the field (``resolution.categories.banjir: unknown class 'kilat'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError, model_validator,
)

from core.workcal import DEFAULT_OFFICE_HOURS, WorkCalendar, aware

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SECTIONS = ("office_hours", "holiday_overrides", "first_response", "hop", "resolution")
_SPAN = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


class SlaPolicyError(ValueError):
    """The SLA policy file cannot be used (missing, not YAML, wrong shape, bad values)."""


def parse_span(text: Any) -> tuple[time, time]:
    """``"07:30-16:00"`` as (07:30, 16:00); the opening must come before the closing."""
    match = _SPAN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected office hours as 'HH:MM-HH:MM', got {text!r}")
    h1, m1, h2, m2 = map(int, match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"not a time of day in {text!r}") from None
    if not start < end:
        raise ValueError(f"opening {start:%H:%M} is not before closing {end:%H:%M}")
    return start, end


# numbers as YAML numbers: "24" or true is a mistake in the file, not 24 or 1
Hours = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
Days = Annotated[int, Strict(), Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Span = Annotated[tuple[time, time] | None,
                 BeforeValidator(lambda text: None if text is None else parse_span(text))]


class OfficeHours(_Section):
    """Opening and closing per weekday in WIB (``"07:30-16:00"``); a weekday left out or
    ``null`` is closed. The default is DKI Jakarta's ASN week."""

    mon: Span = None
    tue: Span = None
    wed: Span = None
    thu: Span = None
    fri: Span = None
    sat: Span = None
    sun: Span = None

    @model_validator(mode="after")
    def _some_day_open(self) -> OfficeHours:
        if not self.by_weekday():
            raise ValueError("at least one weekday must have office hours")
        return self

    @classmethod
    def default(cls) -> OfficeHours:
        return cls.model_validate({WEEKDAYS[weekday]: f"{start:%H:%M}-{end:%H:%M}"
                                   for weekday, (start, end) in DEFAULT_OFFICE_HOURS.items()})

    def by_weekday(self) -> dict[int, tuple[time, time]]:
        """The open weekdays, 0 = Monday, as ``WorkCalendar`` takes them."""
        spans = ((i, getattr(self, day)) for i, day in enumerate(WEEKDAYS))
        return {i: span for i, span in spans if span is not None}


class HolidayOverrides(_Section):
    """Dates the joint-leave decree added (non-working) or took back (working after all)."""

    add: list[date] = Field(default_factory=list)
    remove: list[date] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> HolidayOverrides:
        both = sorted(set(self.add) & set(self.remove))
        if both:
            raise ValueError("a date cannot be both added and removed: "
                             + ", ".join(d.isoformat() for d in both))
        return self


class FirstResponse(_Section):
    """Hours for the kelurahan's first response; ``calendar`` hours run through nights and
    weekends (the citizen's 24 hours), ``working`` hours only in office hours."""

    hours: Hours = 24.0
    clock: Literal["calendar", "working"] = "calendar"


class Hop(_Section):
    """Working days for each coordination (kelurahan → dinas) or disposition (→ sudin)."""

    working_days: Days = 3


class Resolution(_Section):
    """Working days per class, and the class of each category id (else ``default_class``)."""

    classes: dict[str, Days] = Field(
        default_factory=lambda: {"cepat": 5, "sedang": 14, "berat": 60})
    default_class: str = "sedang"
    categories: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_classes(self) -> Resolution:
        known = ", ".join(self.classes) or "none"
        if self.default_class not in self.classes:
            raise ValueError(f"default_class: unknown class {self.default_class!r} "
                             f"(classes: {known})")
        for category, name in self.categories.items():
            if name not in self.classes:
                raise ValueError(f"categories.{category}: unknown class {name!r} "
                                 f"(classes: {known})")
        return self


class SlaRules(_Section):
    """The new sections of ``config/sla.yaml``, each with defaults, so an older file with
    only ``default_hours`` still loads. A given ``office_hours`` replaces the default week
    whole."""

    office_hours: OfficeHours = Field(default_factory=OfficeHours.default)
    holiday_overrides: HolidayOverrides = Field(default_factory=HolidayOverrides)
    first_response: FirstResponse = Field(default_factory=FirstResponse)
    hop: Hop = Field(default_factory=Hop)
    resolution: Resolution = Field(default_factory=Resolution)


class SlaClocks:
    """The due times of the three clocks, on one ``WorkCalendar``."""

    def __init__(self, rules: SlaRules | None = None) -> None:
        self.rules = rules or SlaRules()
        overrides = self.rules.holiday_overrides
        self.calendar = WorkCalendar(self.rules.office_hours.by_weekday(),
                                     add=overrides.add, remove=overrides.remove)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "SLA policy") -> SlaClocks:
        try:
            return cls(SlaRules.model_validate(dict(data)))
        except ValidationError as exc:
            raise SlaPolicyError(f"{source}: " + "; ".join(
                _where(error) for error in exc.errors())) from None

    def first_response_due(self, created_at: datetime) -> datetime:
        rule = self.rules.first_response
        if rule.clock == "working":
            return self.calendar.add_working_hours(created_at, rule.hours)
        return aware(created_at, "created_at").astimezone(UTC) + timedelta(hours=rule.hours)

    def hop_due(self, handed_at: datetime) -> datetime:
        return self.calendar.add_working_days(handed_at, self.rules.hop.working_days)

    def resolution_class(self, category: str | None) -> str:
        rule = self.rules.resolution
        return rule.categories.get(category or "", rule.default_class)

    def resolution_due(self, category: str | None, start: datetime) -> datetime:
        days = self.rules.resolution.classes[self.resolution_class(category)]
        return self.calendar.add_working_days(start, days)


def _where(error: Mapping[str, Any]) -> str:
    """``office_hours.fri: expected office hours as 'HH:MM-HH:MM', got '7.30'``."""
    loc = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message

"""The minimal case engine: places a new report in its kelurahan, opens its case, starts its SLA."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from core.canonical import InboundMessage, Location
from core.files import read_text
from core.geo import (
    KECAMATAN_CODE, KELURAHAN_CODE, KOTA_CODE, Boundaries, Place, valid_coordinates,
)
from core.hookspecs import hookimpl
from core.sla import SECTIONS, SlaClocks, SlaPolicyError
from core.unit import NewReport, UnitOfWork
from core.workcal import WorkCalendar

STATUS_WAITING = "Menunggu"
TRIAGE_QUEUE = "triage"
NOTE_TRIAGE = "Laporan menunggu verifikasi lokasi oleh petugas"
DEFAULT_SLA_HOURS = 72.0


@dataclass(frozen=True)
class SlaPolicy:
    """``config/sla.yaml``: the calendar hours by category id that set a new report's
    ``sla_due_at`` (``default_hours``, ``categories``), and issue 12's clocks on working
    time (first response, hop, resolution: ``core/sla.py``)."""

    default_due: timedelta = timedelta(hours=DEFAULT_SLA_HOURS)
    by_category: Mapping[str, timedelta] = field(default_factory=lambda: MappingProxyType({}))
    clocks: SlaClocks = field(default_factory=SlaClocks)

    @classmethod
    def default(cls) -> SlaPolicy:
        """72 hours for every category."""
        return cls()

    @classmethod
    def from_yaml(cls, path: str | Path) -> SlaPolicy:
        path = Path(path)
        text = read_text(path, SlaPolicyError, "SLA policy file")
        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for 2026-02-30
            raise SlaPolicyError(f"{path}: invalid YAML: {exc}") from None
        return cls.from_mapping(data, source=str(path))

    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "SLA policy") -> SlaPolicy:
        """Build from ``{"default_hours": 72, "categories": {"banjir": 24}}`` and the
        sections of ``core.sla.SlaRules`` (each optional)."""
        if not isinstance(data, dict):
            raise SlaPolicyError(f"{source}: expected a mapping with 'default_hours'")
        unknown = sorted(set(map(str, data)) - {"default_hours", "categories", *SECTIONS})
        if unknown:
            raise SlaPolicyError(f"{source}: unknown key(s): {', '.join(unknown)}")
        default = _hours(data.get("default_hours", DEFAULT_SLA_HOURS), f"{source}: default_hours")
        categories = data.get("categories") or {}
        if not isinstance(categories, dict):
            raise SlaPolicyError(f"{source}: 'categories' must map category id to hours")
        overrides: dict[str, timedelta] = {}
        for category, hours in categories.items():
            if not isinstance(category, str) or not category.strip():
                raise SlaPolicyError(f"{source}: category id {category!r} is not a string")
            overrides[category] = _hours(hours, f"{source}: categories.{category}")
        clocks = SlaClocks.from_mapping(
            {key: value for key, value in data.items() if key in SECTIONS}, source=source)
        return cls(default, MappingProxyType(overrides), clocks)

    def due_for(self, category: str | None) -> timedelta:
        if category is not None and category in self.by_category:
            return self.by_category[category]
        return self.default_due

    def calendar(self) -> WorkCalendar:
        """Working time (WIB office hours, holidays, the file's overrides)."""
        return self.clocks.calendar

    def first_response_due(self, created_at: datetime) -> datetime:
        """When the kelurahan's first response is due (``first_response``)."""
        return self.clocks.first_response_due(created_at)

    def hop_due(self, handed_at: datetime) -> datetime:
        """When a case coordinated or disposed at ``handed_at`` must move on (``hop``)."""
        return self.clocks.hop_due(handed_at)

    def resolution_due(self, category: str | None, start: datetime) -> datetime:
        """When a case of ``category`` started at ``start`` must be resolved (``resolution``)."""
        return self.clocks.resolution_due(category, start)


def _hours(value: Any, where: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SlaPolicyError(f"{where}: hours must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SlaPolicyError(f"{where}: hours must be a positive number, got {value!r}")
    return timedelta(hours=value)


class CaseEngine:
    """Built-in plugin: ``kanal_locate`` finds the kelurahan, ``kanal_report_created`` opens
    the case in that kelurahan's queue (or in triage) and sets the SLA due time."""

    def __init__(self, boundaries: Boundaries | None, sla: SlaPolicy) -> None:
        self.boundaries = boundaries
        self.sla = sla

    def place_for(self, code: str) -> Place | None:
        """Names of a kelurahan code (from the boundaries), or None when unknown."""
        return self.boundaries.place_for(code) if self.boundaries is not None else None

    @hookimpl
    def kanal_locate(self, message: InboundMessage) -> Location | None:
        """In order: a kelurahan code already given (walk-in office) is kept; a point is
        located in the boundaries; without a usable point, a kelurahan named in the address,
        then in the text. Otherwise None (the report goes to triage)."""
        loc = message.location
        if loc is not None and loc.kelurahan_code:
            return Location(loc.lat, loc.lon, loc.address, loc.kelurahan_code)
        if self.boundaries is None:
            return None
        if loc is not None and loc.has_point and valid_coordinates(loc.lat, loc.lon):
            place = self.boundaries.locate(loc.lat, loc.lon)  # type: ignore[arg-type]
            return Location(loc.lat, loc.lon, loc.address, place.code) if place else None
        address = loc.address if loc is not None else None
        for text in (address, message.text):
            place = self.boundaries.find_named(text)
            if place is not None:
                lat, lon = (loc.lat, loc.lon) if loc is not None else (None, None)
                return Location(lat, lon, address, place.code)
        return None

    # first, so that other plugins see the case opened and may refine its routing
    @hookimpl(tryfirst=True)
    def kanal_report_created(
        self, report: NewReport, message: InboundMessage, uow: UnitOfWork
    ) -> None:
        report.status = STATUS_WAITING
        if not self._route(report, uow, "opened", "Laporan diteruskan ke"):
            report.queue = TRIAGE_QUEUE
            area = message.location.area_code if message.location is not None else None
            if area and KECAMATAN_CODE.fullmatch(area):
                # a kecamatan's counter: triage within that kecamatan
                report.kecamatan_code, report.kota_code = area, area[:5]
                report.queue = f"{TRIAGE_QUEUE}:{area}"
            elif area and KOTA_CODE.fullmatch(area):
                report.kota_code = area
                report.queue = f"{TRIAGE_QUEUE}:{area}"
            uow.add_case_event(report, "triage", status=STATUS_WAITING, note=NOTE_TRIAGE)
        report.sla_due_at = report.created_at + self.sla.due_for(report.category)

    @hookimpl(tryfirst=True)
    def kanal_report_located(
        self, report: NewReport, message: InboundMessage, uow: UnitOfWork
    ) -> None:
        """A report waiting in triage for a location got one: route it now."""
        self._route(report, uow, "located", "Lokasi diterima, laporan diteruskan ke")

    def _route(self, report: NewReport, uow: UnitOfWork, kind: str, lead: str) -> bool:
        code = report.kelurahan_code
        if not (code and KELURAHAN_CODE.fullmatch(code)):
            return False
        place = self.place_for(code)
        if place is not None:
            report.kelurahan_name = place.name
        report.kecamatan_code = code[:8]
        report.kota_code = code[:5]
        report.queue = f"kelurahan:{code}"
        where = f"Kelurahan {report.kelurahan_name}" if report.kelurahan_name else (
            f"kelurahan dengan kode {code}")
        uow.add_case_event(report, kind, status=report.status, note=f"{lead} {where}")
        return True

"""The minimal case engine: places a new report in its kelurahan, opens its case, starts its SLA."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
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


# keys of config/sla.yaml before the working-time clocks; a file with them is refused
REPLACED_KEYS = ("default_hours", "categories")


@dataclass(frozen=True)
class SlaPolicy:
    """``config/sla.yaml``: the clocks on working time (first response, hop, resolution;
    ``core/sla.py``, docs/sla.md) that set a case's ``sla_due_at``."""

    clocks: SlaClocks = field(default_factory=SlaClocks)

    @classmethod
    def default(cls) -> SlaPolicy:
        """The default clocks (24 hours, 3 working days, cepat/sedang/berat)."""
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
        """Build from the sections of ``core.sla.SlaRules`` (each optional)."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise SlaPolicyError(f"{source}: expected a mapping of the clocks' sections")
        replaced = [key for key in REPLACED_KEYS if key in data]
        if replaced:
            raise SlaPolicyError(
                f"{source}: {' and '.join(replaced)} were replaced by the working-time "
                "clocks: set first_response, hop and resolution instead (docs/sla.md)")
        unknown = sorted(set(map(str, data)) - set(SECTIONS))
        if unknown:
            raise SlaPolicyError(f"{source}: unknown key(s): {', '.join(unknown)}")
        return cls(SlaClocks.from_mapping(data, source=source))

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
                report.unit_id = f"kecamatan-{area}"
            elif area and KOTA_CODE.fullmatch(area):
                report.kota_code = area
                report.queue = f"{TRIAGE_QUEUE}:{area}"
                report.unit_id = f"kota-{area}"
            uow.add_case_event(report, "triage", status=STATUS_WAITING, note=NOTE_TRIAGE)
        report.sla_clock = "first_response"
        report.sla_due_at = self.sla.first_response_due(report.created_at)

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
        report.unit_id = f"kelurahan-{code}"
        where = f"Kelurahan {report.kelurahan_name}" if report.kelurahan_name else (
            f"kelurahan dengan kode {code}")
        uow.add_case_event(report, kind, status=report.status, note=f"{lead} {where}",
                           unit_id=report.unit_id)
        return True

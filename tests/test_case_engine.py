"""The case engine through a real pluggy manager, on the synthetic boundaries fixture."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pluggy
import pytest

import core.hookspecs
from core.canonical import InboundMessage, Location
from core.case_engine import CaseEngine, SlaPolicy, SlaPolicyError
from core.geo import Boundaries
from core.unit import NewReport, UnitOfWork

FIXTURE = Path(__file__).parent / "fixtures" / "boundaries_small.geojson"
REPO_SLA = Path(__file__).resolve().parents[1] / "config" / "sla.yaml"
CREATED = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
TRIAGE_NOTE = "Laporan menunggu verifikasi lokasi oleh petugas"


def _manager(boundaries: Boundaries | None, sla: SlaPolicy | None = None) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("kanal")
    pm.add_hookspecs(core.hookspecs)
    pm.register(CaseEngine(boundaries, sla or SlaPolicy.default()))
    pm.check_pending()
    return pm


def _message(text: str = "Ada masalah", location: Location | None = None) -> InboundMessage:
    return InboundMessage(channel="web", official_channel="web", external_id="m-1", text=text,
                          location=location)


@dataclass
class Outcome:
    location: Location | None
    report: NewReport
    uow: UnitOfWork


def _run(pm: pluggy.PluginManager, message: InboundMessage, category: str | None = None) -> Outcome:
    """What the pipeline does: locate, create the report, hand it over."""
    location = pm.hook.kanal_locate(message=message)
    report = NewReport(id=7, tracking_id="JK7Q-M4XA-9", channel=message.channel,
                       official_channel=message.official_channel, created_at=CREATED,
                       status="", category=category)
    if location is not None:
        report.lat, report.lon = location.lat, location.lon
        report.address, report.kelurahan_code = location.address, location.kelurahan_code
    uow = UnitOfWork(now=CREATED)
    pm.hook.kanal_report_created(report=report, message=message, uow=uow)
    return Outcome(location, report, uow)


@pytest.fixture(scope="module")
def small() -> Boundaries:
    return Boundaries.from_geojson(FIXTURE)


ROUTED = [
    ("point", _message(location=Location(lat=-6.205, lon=106.812, address="Jl. Uji 1")),
     "31.71.01.1002", "Alfa Jaya"),
    ("point-nearest", _message(location=Location(lat=-6.205, lon=106.79)),
     "31.71.01.1001", "Alfa"),
    ("text-names-kelurahan", _message("Banjir di Delta Raya sejak subuh"),
     "31.72.01.1001", "Delta Raya"),
    ("address-before-text",
     _message("Dekat Alfa", Location(address="Jl. Mawar, Kelurahan Cempaka Sari")),
     "31.71.02.1001", "Cempaka Sari"),
    ("walk-in-office-code", _message(location=Location(kelurahan_code="31.72.01.1002")),
     "31.72.01.1002", "Baru"),
    ("walk-in-code-wins-over-point",
     _message(location=Location(lat=-6.205, lon=106.805, kelurahan_code="31.72.01.1002")),
     "31.72.01.1002", "Baru"),
    ("invalid-point-then-text",
     _message("Lampu mati di Alfa", Location(lat=float("nan"), lon=106.8)),
     "31.71.01.1001", "Alfa"),
]


@pytest.mark.parametrize(("message", "code", "name"), [r[1:] for r in ROUTED],
                         ids=[r[0] for r in ROUTED])
def test_routed(small: Boundaries, message: InboundMessage, code: str, name: str) -> None:
    out = _run(_manager(small), message)
    assert out.location is not None and out.location.kelurahan_code == code
    report = out.report
    assert (report.status, report.queue) == ("Menunggu", f"kelurahan:{code}")
    assert (report.kelurahan_code, report.kelurahan_name) == (code, name)
    assert (report.kecamatan_code, report.kota_code) == (code[:8], code[:5])
    [event] = out.uow.case_events
    assert (event.report_id, event.kind, event.status, event.public) == (7, "opened", "Menunggu",
                                                                          True)
    assert event.note == f"Laporan diteruskan ke Kelurahan {name}"


def test_locate_keeps_point_and_address(small: Boundaries) -> None:
    message = _message(location=Location(lat=-6.205, lon=106.812, address="Jl. Uji 1"))
    location = _manager(small).hook.kanal_locate(message=message)
    assert location == Location(-6.205, 106.812, "Jl. Uji 1", "31.71.01.1002")
    assert location is not message.location and message.location.kelurahan_code is None


TRIAGED = [
    ("no-location", _message("Jalan rusak parah"), True),
    ("outside-beyond-range", _message("Banjir di Alfa", Location(lat=-6.9175, lon=107.6191)), True),
    ("common-word-only", _message("Lampu jalan baru saja mati"), True),
    ("no-boundaries-point", _message(location=Location(lat=-6.205, lon=106.812)), False),
    ("no-boundaries-text", _message("Banjir di Alfa"), False),
]


@pytest.mark.parametrize(("message", "with_boundaries"), [t[1:] for t in TRIAGED],
                         ids=[t[0] for t in TRIAGED])
def test_triage(small: Boundaries, message: InboundMessage, with_boundaries: bool) -> None:
    out = _run(_manager(small if with_boundaries else None), message)
    assert out.location is None
    report = out.report
    assert (report.status, report.queue, report.kelurahan_code) == ("Menunggu", "triage", None)
    assert (report.kecamatan_code, report.kota_code) == (None, None)
    [event] = out.uow.case_events
    assert (event.kind, event.status, event.note, event.public) == (
        "triage", "Menunggu", TRIAGE_NOTE, True)


def test_walk_in_code_without_boundaries() -> None:
    message = _message(location=Location(kelurahan_code="31.74.01.1001"))
    out = _run(_manager(None), message)
    assert out.report.queue == "kelurahan:31.74.01.1001"
    assert (out.report.kecamatan_code, out.report.kota_code) == ("31.74.01", "31.74")
    assert out.report.kelurahan_name is None
    note = out.uow.case_events[0].note
    assert note == "Laporan diteruskan ke kelurahan dengan kode 31.74.01.1001"


def test_place_for(small: Boundaries) -> None:
    engine = CaseEngine(small, SlaPolicy.default())
    place = engine.place_for("31.72.01.1001")
    assert place is not None and (place.name, place.kota_name) == ("Delta Raya", "Kota Uji Utara")
    assert engine.place_for("31.99.99.9999") is None
    assert CaseEngine(None, SlaPolicy.default()).place_for("31.72.01.1001") is None


@pytest.mark.parametrize("category", ["banjir", "jalan-rusak", None])
def test_a_new_case_runs_the_first_response_clock(small: Boundaries, category) -> None:
    pm = _manager(small, SlaPolicy.from_yaml(REPO_SLA))
    out = _run(pm, _message("Banjir di Alfa"), category=category)
    assert out.report.sla_clock == "first_response"
    assert out.report.sla_due_at == CREATED + timedelta(hours=24)
    assert out.report.unit_id == "kelurahan-31.71.01.1001"


def test_sla_policy_default_and_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("", encoding="utf-8")
    for policy in (SlaPolicy.default(), SlaPolicy.from_yaml(path)):
        assert policy.first_response_due(CREATED) == CREATED + timedelta(hours=24)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("hop: [72\n", "invalid YAML"),
        ("- 72\n", "expected a mapping"),
        ("default_hours: 72\n", "default_hours were replaced by the working-time clocks"),
        ("categories:\n  banjir: 24\n", "categories were replaced"),
        ("hop:\n  working_days: 0\n", "hop"),
        ("first_response:\n  hours: sehari\n", "first_response"),
        ("hops: 3\n", "unknown key"),
    ],
    ids=["missing-file", "bad-yaml", "not-a-mapping", "old-default-hours", "old-categories",
         "zero-hop", "text-hours", "typo-key"],
)
def test_sla_policy_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "sla.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SlaPolicyError, match=message) as info:
        SlaPolicy.from_yaml(path)
    assert isinstance(info.value, ValueError) and str(path) in str(info.value)


def test_core_does_not_import_gateway_or_adapters() -> None:
    for module in ("core/geo.py", "core/case_engine.py"):
        source = (Path(__file__).resolve().parents[1] / module).read_text(encoding="utf-8")
        assert "gateway" not in source and "adapters" not in source, module

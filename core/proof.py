"""Checks on a photo an officer sends as proof that a case is fixed (issue 12, docs/proof.md).

Reused proof photos are a documented fraud in Jakarta: a fix "proved" with a picture taken
before the report, somewhere else, or already sent for another case. ``check_photo`` reads
what the photo says of itself and compares it with the report:

* an EXIF time earlier than the report refuses the photo (``taken_before_report``);
* an EXIF location farther than ``max_distance_m`` from the report's point refuses it
  (``far_from_report``);
* a photo without that EXIF is allowed but marked for the verifier (``no_exif``,
  ``no_exif_time``, ``no_exif_location``): many phones and messengers strip it;
* bytes Pillow cannot decode (HEIC here, a damaged file) are refused: a proof photo must be
  shown on the public tracking page, and ``core.photos.public_copy`` could not make its copy.

It also gives the perceptual hash (``imagehash.phash``) of the upright pixels, which
``find_reuse`` compares with the hashes of earlier proof photos. A reuse is shown to the
verifier and does not refuse the photo by itself. The caller checks the upload first
(``core.uploads.check_photos``: size and sniffed type), then this, and stores the original
as evidence; the public gets ``core.photos.public_copy``, without the EXIF read here.

EXIF can be edited, so these checks catch the careless reuse, not a determined forger: the
verifier still looks at the photo.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import imagehash
from PIL import Image

from core.geo import valid_coordinates
from core.models import as_utc
from core.photos import MAX_PIXELS, UNREADABLE, turned_upright

WIB = ZoneInfo("Asia/Jakarta")
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
# (time, its offset) in the order tried; DateTime (0x0132) is left out: editors rewrite it
TIME_TAGS = ((0x9003, 0x9011), (0x9004, 0x9012))  # DateTimeOriginal, DateTimeDigitized
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
MAX_DISTANCE_M = 500
MAX_HASH_DISTANCE = 10
# a phone's clock a few minutes behind the server's is not a photo from before the report
CLOCK_TOLERANCE = timedelta(minutes=10)
EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)

_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")
_PHASH = re.compile(r"[0-9a-f]{16}")


class Finding(str):
    """What a check found, as the English text (for logs, the CLI and JSON) with a stable
    code and parameters, so a page can say it in Bahasa Indonesia. ``refuses`` tells a
    finding that stops the photo from a mark shown to the verifier."""

    TEXTS = {
        "no_exif": "the photo carries no EXIF time or location: compare it with the report "
                   "by eye",
        "no_exif_time": "the photo carries no EXIF time",
        "no_exif_location": "the photo carries no EXIF location",
        "taken_before_report": "the photo was taken at {taken_at}, before the report was "
                               "made at {report_created_at}",
        "far_from_report": "the photo was taken {distance_m} m from the report's location; "
                           "at most {max_distance_m} m is allowed",
        "photo_unreadable": "the photo cannot be read as an image (HEIC, or a damaged "
                            "file): send a JPEG, PNG or WebP",
        "photo_too_many_pixels": "the photo has {pixels} pixels; at most {limit} can be "
                                 "checked",
        "reused_photo": "the photo looks like a proof photo of case {case_ref} (hash "
                        "distance {distance} of 64)",
    }
    REFUSALS = frozenset({"taken_before_report", "far_from_report", "photo_unreadable",
                          "photo_too_many_pixels"})

    code: str
    params: dict[str, str | int]

    def __new__(cls, code: str, **params: str | int) -> "Finding":
        text = super().__new__(cls, cls.TEXTS[code].format(**params))
        text.code, text.params = code, params
        return text

    @property
    def refuses(self) -> bool:
        return self.code in self.REFUSALS


@dataclass(frozen=True, slots=True)
class ExifFacts:
    """When and where the photo says it was taken; None for what it does not say (or says
    unreadably). ``offset_known`` is False when ``taken_at`` had no EXIF offset and was read
    as WIB (Jakarta's phones write local time)."""

    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    offset_known: bool = False

    @property
    def has_location(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """The outcome of ``check_photo``. ``phash`` is None only for a photo that could not be
    decoded; ``distance_m`` only when both the photo and the report have a location."""

    exif: ExifFacts
    findings: tuple[Finding, ...]
    phash: str | None
    distance_m: float | None = None

    @property
    def refusals(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.refuses)

    @property
    def marks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.refuses)

    @property
    def accepted(self) -> bool:
        return not self.refusals


class Reuse(NamedTuple):
    """An earlier proof photo that looks like this one."""

    case_ref: str
    distance: int

    @property
    def finding(self) -> Finding:
        return Finding("reused_photo", case_ref=self.case_ref, distance=self.distance)


def read_exif(data: bytes) -> ExifFacts:
    """The time and GPS location in a photo's EXIF. Never raises: bytes that are not an
    image, or EXIF that is broken, give None for what cannot be read."""
    try:
        with Image.open(BytesIO(data)) as image:
            return _facts(image)
    except UNREADABLE:
        return ExifFacts()


def check_photo(data: bytes, *, report_created_at: datetime,
                report_point: tuple[float, float] | None,
                max_distance_m: float = MAX_DISTANCE_M,
                clock_tolerance: timedelta = CLOCK_TOLERANCE) -> ProofCheck:
    """Check a proof photo against its report (see the module docstring for the rules).

    ``report_created_at`` naive is read as UTC (SQLite hands datetimes back so);
    ``report_point`` is the report's (lat, lon), or None when it has none, and then the
    location is not compared. Raises ValueError for a report point that is not a
    coordinate (a caller's bug, not the officer's)."""
    if report_point is not None and not valid_coordinates(*report_point):
        raise ValueError(f"report_point {report_point!r} is not a (lat, lon) coordinate")
    try:
        with Image.open(BytesIO(data)) as image:
            pixels = image.width * image.height
            if pixels > MAX_PIXELS:
                return ProofCheck(ExifFacts(), (Finding(
                    "photo_too_many_pixels", pixels=pixels, limit=MAX_PIXELS),), None)
            facts = _facts(image)
            phash = _phash(image)
    except UNREADABLE:
        return ProofCheck(ExifFacts(), (Finding("photo_unreadable"),), None)

    findings: list[Finding] = []
    if facts.taken_at is None and not facts.has_location:
        findings.append(Finding("no_exif"))
    elif facts.taken_at is None:
        findings.append(Finding("no_exif_time"))
    elif not facts.has_location:
        findings.append(Finding("no_exif_location"))

    made = as_utc(report_created_at)
    if facts.taken_at is not None and facts.taken_at < made - clock_tolerance:
        findings.append(Finding(
            "taken_before_report", taken_at=facts.taken_at.isoformat(timespec="seconds"),
            report_created_at=made.astimezone(WIB).isoformat(timespec="seconds")))

    distance = None
    if facts.has_location and report_point is not None:
        distance = distance_m((facts.lat, facts.lon), report_point)
        if distance > max_distance_m:
            findings.append(Finding("far_from_report", distance_m=round(distance),
                                    max_distance_m=round(max_distance_m)))
    return ProofCheck(facts, tuple(findings), phash, distance)


def find_reuse(phash: str, known: Iterable[tuple[str, str]],
               max_distance: int = MAX_HASH_DISTANCE) -> list[Reuse]:
    """The earlier proof photos ``known`` as (case_ref, phash) whose hash is at most
    ``max_distance`` bits from ``phash`` (of 64), nearest first. Raises ValueError for a
    hash that is not 16 hex digits (stored hashes come from ``check_photo``)."""
    mine = _hash_bits(phash)
    found = [Reuse(ref, (mine ^ _hash_bits(other, ref)).bit_count()) for ref, other in known]
    return sorted((r for r in found if r.distance <= max_distance),
                  key=lambda r: (r.distance, r.case_ref))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lat, lon) points (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _hash_bits(value: str, ref: str | None = None) -> int:
    if not isinstance(value, str) or not _PHASH.fullmatch(value.lower()):
        where = f" (case {ref})" if ref is not None else ""
        raise ValueError(f"{value!r}{where} is not a 64-bit perceptual hash in hex")
    return int(value, 16)


def _phash(image: Image.Image) -> str:
    """The hash of the pixels as they are shown: a phone stores a portrait photo sideways
    with an EXIF orientation, and a copy without EXIF has the pixels turned."""
    image.load()  # a truncated or damaged file fails here, as unreadable
    return str(imagehash.phash(turned_upright(image)))


def _facts(image: Image.Image) -> ExifFacts:
    try:
        exif = image.getexif()
        sub, gps = exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)
    except UNREADABLE:
        return ExifFacts()
    taken_at, offset_known = _taken_at(sub, exif)
    lat = _coordinate(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "N", "S", 90)
    lon = _coordinate(gps.get(GPS_LON), gps.get(GPS_LON_REF), "E", "W", 180)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        lat = lon = None  # 0,0 is what some phones write without a fix
    return ExifFacts(taken_at, lat, lon, offset_known)


def _taken_at(*ifds: Any) -> tuple[datetime | None, bool]:
    """The first readable original (or digitized) time, in the Exif IFD or, as some
    writers put it, in IFD0."""
    for ifd in ifds:
        for time_tag, offset_tag in TIME_TAGS:
            local = _exif_time(ifd.get(time_tag))
            if local is None:
                continue
            offset = _exif_offset(ifd.get(offset_tag))
            if offset is None:
                return local.replace(tzinfo=WIB), False
            return local.replace(tzinfo=offset), True
    return None, False


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def _exif_time(value: Any) -> datetime | None:
    match = _EXIF_TIME.fullmatch(_text(value) or "")
    if not match:
        return None
    try:
        return datetime(*map(int, match.groups()))
    except ValueError:  # 0000:00:00 00:00:00, a 31st of February
        return None


def _exif_offset(value: Any) -> timezone | None:
    match = _EXIF_OFFSET.fullmatch(_text(value) or "")
    if not match:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3))
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def _coordinate(value: Any, ref: Any, positive: str, negative: str,
                limit: float) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and its N/S or E/W
    reference; None without a reference (the sign would be a guess) or for values that
    are not finite numbers in range."""
    ref = (_text(ref) or "").upper()
    if ref not in (positive, negative) or not isinstance(value, tuple) or not value:
        return None
    try:
        parts = [float(v) for v in value[:3]]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(p) and p >= 0 for p in parts) or any(p > 60 for p in parts[1:]):
        return None
    degrees = sum(p / 60 ** i for i, p in enumerate(parts))
    if degrees > limit:
        return None
    return -degrees if ref == negative else degrees



"""Generated reports for the trend tests: inserted straight into the report table with
known creation times (UTC), categories, areas and official channels, and the counts a
trend of them must show, computed here in Python from the same list."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from core.db import writing
from core.models import Report

report_t = Report.__table__
WIB = ZoneInfo("Asia/Jakarta")
CATEGORIES = ("banjir", "jalan-rusak", "sampah", None)
AREAS = (("31.71", "31.71.01"), ("31.71", "31.71.02"), ("31.72", "31.72.01"), (None, None))
CHANNELS = ("jaki", "website", "test")
RAINY = (11, 12, 1, 2, 3)  # Jakarta's rainy season


@dataclass(frozen=True, slots=True)
class Made:
    created_at: datetime  # aware UTC
    category: str | None
    kota: str | None
    kecamatan: str | None
    channel: str


def insert(engine, made: list[Made], start: int = 0) -> None:
    with writing(engine) as conn:
        conn.execute(report_t.insert(), [{
            "tracking_id": f"TR{start + i:010d}", "status": "Menunggu",
            "category": m.category, "channel": m.channel, "official_channel": m.channel,
            "kota_code": m.kota, "kecamatan_code": m.kecamatan,
            "created_at": m.created_at, "updated_at": m.created_at,
        } for i, m in enumerate(made)])


def spread(n: int, first: datetime, days: int, seed: int = 14) -> list[Made]:
    """``n`` reports at random times over ``days`` days from ``first``."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        at = first + timedelta(seconds=rnd.randrange(days * 86400))
        kota, kecamatan = rnd.choice(AREAS)
        out.append(Made(at.astimezone(timezone.utc), rnd.choice(CATEGORIES), kota, kecamatan,
                        rnd.choice(CHANNELS)))
    return out


def rainy_years(years: range, seed: int = 3) -> list[Made]:
    """Flood reports: about 30 a month in the rainy months and 4 in the others, each year;
    road reports flat at 10 a month (which a banjir view must leave out)."""
    rnd = random.Random(seed)
    out = []
    for year in years:
        for month in range(1, 13):
            floods = 30 + rnd.randrange(-3, 4) if month in RAINY else 4 + rnd.randrange(0, 3)
            for category, n in (("banjir", floods), ("jalan-rusak", 10)):
                for _ in range(n):
                    local = datetime(year, month, 1 + rnd.randrange(28), rnd.randrange(24),
                                     rnd.randrange(60), tzinfo=WIB)
                    out.append(Made(local.astimezone(timezone.utc), category, "31.71",
                                    "31.71.01", "jaki"))
    return out


def expected(made: list[Made], bucket: str, key: str, since, until, **filters) -> Counter:
    """(bucket label, group key) -> count, the way ``core.trends`` must count."""
    out: Counter = Counter()
    for m in made:
        local = m.created_at.astimezone(WIB)
        if not since <= local.date() <= until:
            continue
        if any(getattr(m, k) != v for k, v in filters.items()):
            continue
        day = local.date()
        label = {"day": day.isoformat(),
                 "week": (day - timedelta(days=day.weekday())).isoformat(),
                 "month": day.strftime("%Y-%m")}[bucket]
        out[label, None if key == "none" else getattr(m, key)] += 1
    return out

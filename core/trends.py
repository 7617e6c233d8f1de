"""Trends for the data team and supervisors: reports counted by day, week or month in WIB,
grouped by category, kota, kecamatan or official channel, and the seasonal view (reports
per calendar month across years). Queries only; no web code.

Counting happens in SQL (``GROUP BY`` the bucket and the group), so a query reads the
reports of its range once and answers at most buckets x groups rows. The bucket is the
report's ``created_at`` in WIB: on PostgreSQL ``timezone('Asia/Jakarta', created_at)``,
on SQLite (naive UTC text) ``created_at`` plus 7 hours (WIB has kept +07:00 since 1964).
A week starts on Monday. Ranges are bounded (``MAX_BUCKETS``); the groups beyond
``MAX_SERIES`` (the smallest) are added up as one series "Lainnya".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import Connection, func, literal_column, select

from core.errors import ApiError
from core.models import Report, Unit
from core.workcal import WIB

report_t = Report.__table__
unit_t = Unit.__table__
BUCKETS = ("day", "week", "month")
GROUPS = ("category", "kota", "kecamatan", "channel", "none")
MAX_BUCKETS = {"day": 400, "week": 260, "month": 120}
DEFAULT_SPAN = {"day": 30, "week": 12, "month": 12}  # buckets up to today
MAX_SERIES = 8
MAX_YEARS = 10
OTHER = "_other"
KOTA_CODE = re.compile(r"\d{2}\.\d{2}")
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
WIB_HOURS = 7  # SQLite's modifier; tests check it against the zone


@dataclass(frozen=True, slots=True)
class Query:
    """What to count: WIB dates ``since`` to ``until`` (both included)."""

    since: date
    until: date
    bucket: str = "month"
    group: str = "category"
    category: str | None = None
    kota: str | None = None
    channel: str | None = None

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in (("category", self.category), ("kota", self.kota),
                                  ("channel", self.channel)) if v}


@dataclass(slots=True)
class Series:
    key: str | None  # the category id, area code or channel; None: not known
    label: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(slots=True)
class Trend:
    query: Query
    buckets: list[str]  # 2026-01-31 (day), 2026-01-26 (the week's Monday), 2026-01 (month)
    series: list[Series] = field(default_factory=list)

    @property
    def totals(self) -> list[int]:
        return [sum(s.counts[i] for s in self.series) for i in range(len(self.buckets))]

    def as_dict(self) -> dict[str, Any]:
        q = self.query
        return {"since": q.since.isoformat(), "until": q.until.isoformat(),
                "bucket": q.bucket, "group": q.group, "filters": q.filters(),
                "timezone": "Asia/Jakarta", "buckets": self.buckets,
                "series": [{"key": s.key, "label": s.label, "counts": s.counts,
                            "total": s.total} for s in self.series],
                "totals": self.totals, "total": sum(self.totals)}


@dataclass(slots=True)
class Seasonal:
    category: str | None
    years: list[int]
    counts: dict[int, list[int]]  # year -> 12 counts, January first
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def average(self) -> list[float]:
        n = len(self.years) or 1
        return [round(sum(self.counts[y][m] for y in self.years) / n, 1) for m in range(12)]

    def as_dict(self) -> dict[str, Any]:
        return {"category": self.category, "filters": self.filters,
                "timezone": "Asia/Jakarta", "months": list(range(1, 13)),
                "years": [{"year": y, "counts": self.counts[y], "total": sum(self.counts[y])}
                          for y in self.years], "average": self.average}


# -- the bucket in SQL ---------------------------------------------------------------


def _const(text: str):
    """A constant rendered inline: PostgreSQL must see the same expression in SELECT and
    GROUP BY, which two bound parameters are not."""
    return literal_column("'" + text.replace("'", "''") + "'")


def bucket_of(conn: Connection, bucket: str, column=report_t.c.created_at):
    """The SQL text label of ``column``'s WIB day, week (its Monday) or month."""
    if conn.dialect.name == "postgresql":
        local = func.timezone(_const("Asia/Jakarta"), column)
        if bucket == "week":
            local = func.date_trunc(_const("week"), local)
        return func.to_char(local, _const("YYYY-MM" if bucket == "month" else "YYYY-MM-DD"))
    if conn.dialect.name != "sqlite":
        raise RuntimeError(f"trends need SQLite or PostgreSQL, not {conn.dialect.name}")
    shift = _const(f"+{WIB_HOURS} hours")
    if bucket == "week":  # to the next Sunday (or stay on one), back to its Monday
        return func.date(column, shift, _const("weekday 0"), _const("-6 days"))
    return func.strftime(_const("%Y-%m" if bucket == "month" else "%Y-%m-%d"), column, shift)


def bucket_labels(q: Query) -> list[str]:
    """Every bucket of the range, in order, as ``bucket_of`` labels them."""
    if q.bucket == "day":
        return [(q.since + timedelta(days=i)).isoformat()
                for i in range((q.until - q.since).days + 1)]
    if q.bucket == "week":
        day = q.since - timedelta(days=q.since.weekday())
        out = []
        while day <= q.until:
            out.append(day.isoformat())
            day += timedelta(days=7)
        return out
    out, (y, m) = [], (q.since.year, q.since.month)
    while (y, m) <= (q.until.year, q.until.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _utc_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """``since`` 00:00 WIB and the day after ``until`` 00:00 WIB, in UTC (SQLite compares
    naive UTC text)."""
    start = datetime.combine(since, time(0), WIB).astimezone(timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time(0), WIB).astimezone(timezone.utc)
    return start, end


def _where(q_since: date, q_until: date, filters: Mapping[str, str | None]) -> list:
    start, end = _utc_bounds(q_since, q_until)
    where = [report_t.c.created_at >= start, report_t.c.created_at < end]
    if filters.get("category"):
        where.append(report_t.c.category == filters["category"])
    if filters.get("kota"):
        where.append(report_t.c.kota_code == filters["kota"])
    if filters.get("channel"):
        where.append(report_t.c.official_channel == filters["channel"])
    return where


GROUP_COLUMN = {"category": report_t.c.category, "kota": report_t.c.kota_code,
                "kecamatan": report_t.c.kecamatan_code, "channel": report_t.c.official_channel}


# -- the queries ---------------------------------------------------------------------


def trend(conn: Connection, q: Query, *, labels: Mapping[str, str] | None = None) -> Trend:
    """The counts of ``q``: one series per group (by total, largest first), one count per
    bucket. ``labels`` names categories and channels; areas are named from the units."""
    buckets = bucket_labels(q)
    label = bucket_of(conn, q.bucket).label("bucket")
    keys = [GROUP_COLUMN[q.group].label("key")] if q.group != "none" else []
    rows = conn.execute(select(label, *keys, func.count().label("n"))
                        .where(*_where(q.since, q.until, q.filters()))
                        .group_by(label, *keys)).all()
    index = {b: i for i, b in enumerate(buckets)}
    by_key: dict[str | None, list[int]] = {}
    for r in rows:
        if r.bucket in index:
            key = r.key if keys else "all"
            by_key.setdefault(key, [0] * len(buckets))[index[r.bucket]] += r.n
    names = dict(labels or {})
    if q.group in ("kota", "kecamatan"):
        names.update(area_names(conn, [k for k in by_key if k]))
    series = sorted((Series(k, _label(q.group, k, names), c) for k, c in by_key.items()),
                    key=lambda s: (-s.total, s.key or ""))
    if len(series) > MAX_SERIES:
        rest = series[MAX_SERIES - 1:]
        folded = [sum(s.counts[i] for s in rest) for i in range(len(buckets))]
        series = series[:MAX_SERIES - 1] + [
            Series(OTHER, f"Lainnya ({len(rest)})", folded)]
    return Trend(q, buckets, series)


def _label(group: str, key: str | None, names: Mapping[str, str]) -> str:
    if group == "none":
        return "Semua laporan"
    if key is None:
        return {"category": "Belum berkategori"}.get(group, "Tidak diketahui")
    name = names.get(key)
    return f"{name} ({key})" if name and group in ("kota", "kecamatan") else name or key


def area_names(conn: Connection, codes: list[str]) -> dict[str, str]:
    """Kota and kecamatan codes to the names of their units (when synced)."""
    if not codes:
        return {}
    rows = conn.execute(select(unit_t.c.area_code, unit_t.c.name).where(
        unit_t.c.kind.in_(("kota", "kecamatan")), unit_t.c.area_code.in_(codes))).all()
    return {r.area_code: r.name for r in rows}


def seasonal(conn: Connection, *, first_year: int, last_year: int,
             category: str | None = None, kota: str | None = None,
             channel: str | None = None) -> Seasonal:
    """Reports per calendar month (WIB) of each year from ``first_year`` to ``last_year``."""
    filters = {k: v for k, v in (("category", category), ("kota", kota),
                                 ("channel", channel)) if v}
    label = bucket_of(conn, "month").label("bucket")
    rows = conn.execute(select(label, func.count().label("n"))
                        .where(*_where(date(first_year, 1, 1), date(last_year, 12, 31),
                                       filters)).group_by(label)).all()
    years = list(range(first_year, last_year + 1))
    counts = {y: [0] * 12 for y in years}
    for r in rows:
        year, month = int(r.bucket[:4]), int(r.bucket[5:7])
        if year in counts:
            counts[year][month - 1] += r.n
    return Seasonal(category, years, counts, filters)


# -- the parameters of a request -------------------------------------------------------


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (params.get(name) or "").strip() or default
    if value not in choices:
        raise ApiError(422, "invalid_field", f"{name} is one of {', '.join(choices)}, not "
                       f"{value[:40]!r}", field=name)
    return value


def _date(params: Mapping[str, str], name: str) -> date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid_field", f"{name}: {text[:40]!r} is not a date "
                       "(YYYY-MM-DD)", field=name) from None


def _filters(params: Mapping[str, str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("category", "kota", "channel"):
        value = (params.get(name) or "").strip() or None
        pattern = KOTA_CODE if name == "kota" else NAME
        if value is not None and not pattern.fullmatch(value):
            hint = "a kota code (31.71)" if name == "kota" else "an id"
            raise ApiError(422, "invalid_field", f"{name}: {value[:40]!r} is not {hint}",
                           field=name)
        out[name] = value
    return out


def today_wib(now: datetime) -> date:
    return now.astimezone(WIB).date()


def parse_query(params: Mapping[str, str], now: datetime) -> Query:
    """A ``Query`` from request parameters (``since``, ``until``, ``bucket``, ``group``,
    ``category``, ``kota``, ``channel``); without dates, the last ``DEFAULT_SPAN`` buckets
    up to today (WIB). Bad values: ApiError 422 with the ``field``."""
    bucket = _choice(params, "bucket", BUCKETS, "month")
    group = _choice(params, "group", GROUPS, "category")
    until = _date(params, "until") or today_wib(now)
    since = _date(params, "since")
    if since is None:
        span = DEFAULT_SPAN[bucket]
        if bucket == "month":
            y, m = divmod(until.year * 12 + until.month - 1 - (span - 1), 12)
            since = date(y, m + 1, 1)
        elif bucket == "week":  # from the Monday of the first of the weeks
            since = until - timedelta(days=until.weekday() + 7 * (span - 1))
        else:
            since = until - timedelta(days=span - 1)
    if since > until:
        raise ApiError(422, "invalid_field", "since is after until", field="since")
    q = Query(since, until, bucket, group, **_filters(params))
    if len(bucket_labels(q)) > MAX_BUCKETS[bucket]:
        raise ApiError(422, "range_too_long", f"at most {MAX_BUCKETS[bucket]} buckets of a "
                       f"{bucket}: choose a shorter range or a longer bucket", field="since")
    return q


def parse_seasonal(params: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """``seasonal``'s keywords from ``category`` (default ``banjir``), ``kota``,
    ``channel``, ``from`` and ``to`` (years; default the last three up to this one)."""
    this_year = today_wib(now).year
    years = []
    for name, default in (("from", this_year - 2), ("to", this_year)):
        text = (params.get(name) or "").strip()
        if text and not (text.isdigit() and len(text) == 4):
            raise ApiError(422, "invalid_field", f"{name}: {text[:40]!r} is not a year",
                           field=name)
        years.append(int(text) if text else default)
    first, last = years
    if first > last or last - first + 1 > MAX_YEARS:
        raise ApiError(422, "invalid_field", f"from..to is 1 to {MAX_YEARS} years, "
                       "from first", field="from")
    # no category parameter: banjir; an empty one: every category
    filters = _filters({"category": "banjir", **dict(params)})
    return {"first_year": first, "last_year": last, **filters}

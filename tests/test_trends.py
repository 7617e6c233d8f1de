"""core.trends on SQLite and PostgreSQL: the counts match generated reports for every
bucket and grouping, the WIB day, week and month boundaries, the filters, the folding of
small groups, the seasonal pattern of flood reports, the checks of the parameters; and
the SVG charts of core.charts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone

import pytest

from core import trends
from core.charts import Line, chart, nice_ticks
from core.errors import ApiError
from core.trends import Query
from tests.trenddata import RAINY, WIB, Made, expected, insert, rainy_years, spread

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def as_counter(t: trends.Trend) -> dict:
    return {(b, None if t.query.group == "none" else s.key): s.counts[i]
            for s in t.series for i, b in enumerate(t.buckets) if s.counts[i]}


@pytest.fixture
def generated(kanal):
    made = spread(600, datetime(2026, 1, 1, tzinfo=WIB), 150)
    insert(kanal.engine, made)
    return made


@pytest.mark.parametrize("bucket", trends.BUCKETS)
@pytest.mark.parametrize("group", ["category", "kota", "kecamatan", "channel", "none"])
def test_the_counts_match_the_generated_reports(kanal, generated, bucket, group):
    since, until = date(2026, 1, 10), date(2026, 5, 20)
    q = Query(since, until, bucket, group)
    with kanal.engine.connect() as conn:
        t = trends.trend(conn, q)
    key = {"channel": "channel", "none": "none"}.get(group, group)
    want = expected(generated, bucket, key, since, until)
    assert as_counter(t) == dict(want)
    assert sum(t.totals) == sum(want.values()) > 300
    assert t.buckets == trends.bucket_labels(q) and t.buckets[0] <= since.isoformat()


def test_the_filters_narrow_the_counts(kanal, generated):
    since, until = date(2026, 1, 1), date(2026, 5, 31)
    q = Query(since, until, "month", "kecamatan", category="banjir", kota="31.71",
              channel="jaki")
    with kanal.engine.connect() as conn:
        t = trends.trend(conn, q)
    want = expected(generated, "month", "kecamatan", since, until, category="banjir",
                    kota="31.71", channel="jaki")
    assert as_counter(t) == dict(want) and want
    assert {s.key for s in t.series} <= {"31.71.01", "31.71.02"}


def test_a_report_counts_on_its_day_in_wib(kanal):
    def at(y, mo, d, h, mi):
        return datetime(y, mo, d, h, mi, tzinfo=WIB).astimezone(timezone.utc)
    # Monday 9 March 2026 23:30 WIB and Tuesday 00:30 WIB: both on 9 March in UTC
    # Sunday 29 March 23:30 and Monday 30 March 00:30: two ISO weeks
    # Tuesday 31 March 23:30 and Wednesday 1 April 00:30: two months
    times = [at(2026, 3, 9, 23, 30), at(2026, 3, 10, 0, 30), at(2026, 3, 29, 23, 30),
             at(2026, 3, 30, 0, 30), at(2026, 3, 31, 23, 30), at(2026, 4, 1, 0, 30)]
    assert times[0].date() == times[1].date() == date(2026, 3, 9)
    insert(kanal.engine, [Made(t, "banjir", "31.71", "31.71.01", "jaki") for t in times])
    with kanal.engine.connect() as conn:
        def counts(bucket, since=date(2026, 3, 1), until=date(2026, 4, 30)):
            t = trends.trend(conn, Query(since, until, bucket, "none"))
            return {b: n for b, n in zip(t.buckets, t.totals) if n}
        assert counts("day") == {"2026-03-09": 1, "2026-03-10": 1, "2026-03-29": 1,
                                 "2026-03-30": 1, "2026-03-31": 1, "2026-04-01": 1}
        assert counts("week") == {"2026-03-09": 2, "2026-03-23": 1, "2026-03-30": 3}
        assert counts("month") == {"2026-03": 5, "2026-04": 1}
        # the range is of WIB days too: 10 March starts at 00:00 WIB
        assert counts("day", since=date(2026, 3, 10), until=date(2026, 3, 31)) == {
            "2026-03-10": 1, "2026-03-29": 1, "2026-03-30": 1, "2026-03-31": 1}


def test_small_groups_are_added_up_as_one_series(kanal):
    first = datetime(2026, 2, 2, 3, tzinfo=timezone.utc)
    made = [Made(first + timedelta(hours=i), f"cat-{k:02d}", None, None, "jaki")
            for k in range(11) for i in range(k + 1)]
    insert(kanal.engine, made)
    with kanal.engine.connect() as conn:
        t = trends.trend(conn, Query(date(2026, 2, 1), date(2026, 2, 28), "month"))
    assert len(t.series) == trends.MAX_SERIES
    assert [s.key for s in t.series[:3]] == ["cat-10", "cat-09", "cat-08"]
    other = t.series[-1]
    assert (other.key, other.label) == (trends.OTHER, "Lainnya (4)")
    assert other.total == 1 + 2 + 3 + 4 and sum(t.totals) == len(made)


def test_the_seasonal_view_shows_the_rainy_season(kanal):
    insert(kanal.engine, rainy_years(range(2023, 2026)))
    with kanal.engine.connect() as conn:
        s = trends.seasonal(conn, first_year=2023, last_year=2025, category="banjir")
        roads = trends.seasonal(conn, first_year=2023, last_year=2025,
                                category="jalan-rusak")
    top5 = sorted(range(12), key=lambda m: -s.average[m])[:5]
    assert {m + 1 for m in top5} == set(RAINY)
    for year in s.years:  # each year on its own too
        assert min(s.counts[year][m - 1] for m in RAINY) > max(
            s.counts[year][m - 1] for m in range(4, 11))
    assert roads.average == [10.0] * 12
    from gateway.trends_pages import seasonal_svg
    svg = ET.fromstring(seasonal_svg(s, {"banjir": "Banjir"}))
    bars = svg.findall(f".//{SVG}rect[@class='bar']")
    assert [float(b.get("data-value")) for b in bars] == s.average
    assert [b.get("data-x") for b in bars][:3] == ["Jan", "Feb", "Mar"]
    heights = [float(b.get("height")) for b in bars]
    assert {i + 1 for i in sorted(range(12), key=lambda i: -heights[i])[:5]} == set(RAINY)
    for year in s.years:
        points = svg.findall(f".//{SVG}circle[@data-series='{year}']")
        assert [int(p.get("data-value")) for p in points] == s.counts[year]


def test_the_wib_offset_is_the_zone_s():
    for month in (1, 7):
        offset = datetime(2026, month, 1, tzinfo=WIB).utcoffset()
        assert offset == timedelta(hours=trends.WIB_HOURS)


@pytest.mark.parametrize(("params", "field"), [
    ({"bucket": "hour"}, "bucket"), ({"group": "rt"}, "group"),
    ({"since": "2026-13-01"}, "since"), ({"until": "kemarin"}, "until"),
    ({"since": "2026-05-01", "until": "2026-04-01"}, "since"),
    ({"bucket": "day", "since": "2024-01-01", "until": "2026-01-01"}, "since"),
    ({"kota": "Jakarta Pusat"}, "kota"), ({"category": "a b"}, "category"),
    ({"channel": "x" * 80}, "channel"),
])
def test_bad_parameters_are_refused_with_the_field(params, field):
    with pytest.raises(ApiError) as caught:
        trends.parse_query(dict(params), NOW)
    assert caught.value.status_code == 422 and caught.value.extra["field"] == field


def test_the_default_range_ends_today_in_wib():
    late = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)  # 1 December, 01:00 WIB
    q = trends.parse_query({}, late)
    assert (q.since, q.until, q.bucket, q.group) == (
        date(2026, 1, 1), date(2026, 12, 1), "month", "category")
    assert trends.parse_query({"bucket": "day"}, late).since == date(2026, 11, 2)
    assert len(trends.bucket_labels(trends.parse_query({"bucket": "week"}, late))) == 12


@pytest.mark.parametrize("params", [{"from": "20x4"}, {"from": "2026", "to": "2020"},
                                    {"from": "2000", "to": "2026"}, {"kota": "31"}])
def test_bad_seasonal_parameters_are_refused(params):
    with pytest.raises(ApiError) as caught:
        trends.parse_seasonal(dict(params), NOW)
    assert caught.value.status_code == 422


def test_the_seasonal_defaults():
    assert trends.parse_seasonal({}, NOW) == {
        "first_year": 2024, "last_year": 2026, "category": "banjir", "kota": None,
        "channel": None}
    assert trends.parse_seasonal({"category": ""}, NOW)["category"] is None


# -- the charts ----------------------------------------------------------------------


def test_a_chart_is_accessible_svg_with_a_mark_per_value():
    text = chart(["2026-01", "2026-02", "2026-03"],
                 [Line("Banjir <b>&", [3, 0, 12], "bar"), Line("Sampah", [1, 2, 3])],
                 title="Laporan per bulan", desc="Dua seri", chart_id="c1")
    svg = ET.fromstring(text)  # well-formed: the label is escaped
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c1-title c1-desc"
    assert svg.find(f"{SVG}title").text == "Laporan per bulan"
    assert svg.find(f"{SVG}desc").text == "Dua seri"
    bars = svg.findall(f".//{SVG}rect[@class='bar']")
    points = svg.findall(f".//{SVG}circle[@class='point']")
    assert [b.get("data-value") for b in bars] == ["3", "0", "12"]
    assert [p.get("data-value") for p in points] == ["1", "2", "3"]
    assert bars[0].find(f"{SVG}title").text == "Banjir <b>&, 2026-01: 3"
    assert float(bars[2].get("height")) > float(bars[0].get("height")) > 0
    assert float(bars[1].get("height")) == 0
    legend = [t.text for t in svg.findall(f".//{SVG}g[@class='legend']/{SVG}text")]
    assert legend == ["Banjir <b>&", "Sampah"]
    assert "<script" not in text and "href" not in text


def test_many_x_labels_are_thinned_out_but_every_value_is_drawn():
    labels = [f"2026-01-{d:02d}" for d in range(1, 32)] * 4
    svg = ET.fromstring(chart(labels, [Line("a", list(range(124)))], title="t", desc="d"))
    assert len(svg.findall(f".//{SVG}circle")) == 124
    assert 4 <= len(svg.findall(f".//{SVG}text[@class='x-label']")) < 30


def test_nice_ticks():
    assert nice_ticks(47) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(0) == [0, 1] and nice_ticks(3)[-1] >= 3

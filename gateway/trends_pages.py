"""Trends for supervisors and admins (docs/trends.md): ``/staff/trends`` (reports over
time by category, area or channel) and ``/staff/trends/seasonal`` (reports per calendar
month across years), each a chart drawn on the server with the table behind it, that
table as CSV (``?format=csv`` or the ``.csv`` path), and the same figures as JSON under
``/staff/api/trends`` with an API token. The figures come from ``core.trends``."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from core import trends
from core.charts import Line, chart
from core.errors import ApiError
from core.staff import Staff
from gateway import auth
from gateway.officers_api import TOKEN_ERRORS
from gateway.pages import pick_language
from gateway.staff_pages import NO_STORE, page

router = APIRouter()
ROLES = ("supervisor", "admin")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
GROUP_NAMES = {"category": "kategori", "kota": "kota", "kecamatan": "kecamatan",
               "channel": "kanal resmi", "none": "semua laporan"}
BUCKET_NAMES = {"day": "hari", "week": "minggu", "month": "bulan"}
API_ERRORS = {**TOKEN_ERRORS, 422: {"description": "invalid_field or range_too_long, with "
                                                   "the parameter at fault in `field`"}}


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def _labels(kanal, group: str) -> dict[str, str]:
    """The names of a trend's series: categories, or official channels."""
    if group == "channel":
        return {o.id: o.name for o in kanal.channels_file.official_channels}
    return dict(kanal.category_names) if group == "category" else {}


async def load_trend(request: Request) -> trends.Trend:
    kanal = request.app.state.kanal
    q = trends.parse_query(_params(request), kanal.clock())

    def load():
        with kanal.engine.connect() as conn:
            return trends.trend(conn, q, labels=_labels(kanal, q.group))
    return await run_in_threadpool(load)


async def load_seasonal(request: Request) -> trends.Seasonal:
    kanal = request.app.state.kanal
    kw = trends.parse_seasonal(_params(request), kanal.clock())

    def load():
        with kanal.engine.connect() as conn:
            return trends.seasonal(conn, **kw)
    return await run_in_threadpool(load)


def _same(text: str, **kw: Any) -> str:
    return text % kw if kw else text


def trend_svg(t: trends.Trend, _=_same) -> str:
    """The trend's chart; ``_`` translates its texts (the page's language)."""
    q = t.query
    kind = "bar" if len(t.buckets) <= 2 else "line"
    where = ", ".join(f"{k} {v}" for k, v in q.filters().items())
    desc = _("%(n)s laporan dalam %(periods)s periode (WIB)", n=sum(t.totals),
             periods=len(t.buckets))
    if where:
        desc += "; " + _("saringan: %(filters)s", filters=where)
    return chart(t.buckets, [Line(s.label, s.counts, kind) for s in t.series],
                 chart_id="trend-chart", y_label=_("laporan"),
                 title=_("Laporan per %(bucket)s menurut %(group)s, %(since)s s.d. %(until)s",
                         bucket=_(BUCKET_NAMES[q.bucket]), group=_(GROUP_NAMES[q.group]),
                         since=q.since, until=q.until),
                 desc=desc + ". " + "; ".join(f"{s.label}: {s.total}" for s in t.series))


def seasonal_svg(s: trends.Seasonal, category_names: dict[str, str], _=_same) -> str:
    """The seasonal chart: the monthly average as bars, each year as a line."""
    name = category_names.get(s.category, s.category) if s.category else _("semua kategori")
    average, months = s.average, [_(m) for m in MONTHS]
    peak = sorted(range(12), key=lambda m: -average[m])[:3]
    lines = [Line(_("Rata-rata per bulan"), average, "bar")]
    lines += [Line(str(y), s.counts[y]) for y in s.years]
    return chart(months, lines, chart_id="seasonal-chart", y_label=_("laporan"),
                 title=_("Laporan %(category)s per bulan, %(first)s–%(last)s", category=name,
                         first=s.years[0], last=s.years[-1]),
                 desc=_("Batang: rata-rata per bulan kalender; garis: tiap tahun. Bulan "
                        "tertinggi: %(months)s", months=", ".join(
                            f"{months[m]} ({average[m]:g})" for m in peak)))


def _gettext(request: Request):
    kanal = request.app.state.kanal
    return kanal.pages.gettext(pick_language(request))


# -- CSV ---------------------------------------------------------------------------


def _csv(rows: list[list[Any]], filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={**NO_STORE,
                             "Content-Disposition": f'attachment; filename="{filename}"'})


def trend_csv(t: trends.Trend) -> Response:
    q = t.query
    rows = [["bucket", *[s.label for s in t.series], "total"]]
    rows += [[b, *[s.counts[i] for s in t.series], t.totals[i]]
             for i, b in enumerate(t.buckets)]
    return _csv(rows, f"kanal-tren-{q.bucket}-{q.group}-{q.since}-{q.until}.csv")


def seasonal_csv(s: trends.Seasonal) -> Response:
    rows = [["month", *[str(y) for y in s.years], "average"]]
    rows += [[m + 1, *[s.counts[y][m] for y in s.years], s.average[m]] for m in range(12)]
    return _csv(rows, f"kanal-musiman-{s.category or 'semua'}-{s.years[0]}-{s.years[-1]}.csv")


# -- the pages ---------------------------------------------------------------------


def _form(request: Request) -> dict[str, str]:
    keys = ("since", "until", "bucket", "group", "category", "kota", "channel", "from", "to")
    return {k: (request.query_params.get(k) or "").strip() for k in keys}


def _render(request: Request, view: str, body: dict[str, Any], error: ApiError | None):
    kanal = request.app.state.kanal
    return page(request, "staff_trends.html", {
        "view": view, "form": _form(request), "error": error, "months": MONTHS,
        "buckets": BUCKET_NAMES, "groups": GROUP_NAMES,
        "channels": [(o.id, o.name) for o in kanal.channels_file.official_channels],
        "category_names": kanal.category_names, "query_string": request.url.query,
        "trend": None, "seasonal": None, "svg": None, **body,
    }, status_code=error.status_code if error else 200)


@router.get("/staff/trends", include_in_schema=False)
async def trends_page(request: Request, account: Staff = auth.require(*ROLES)) -> Response:
    try:
        t = await load_trend(request)
    except ApiError as exc:
        if request.query_params.get("format") == "csv":
            raise
        return _render(request, "trend", {}, exc)
    if request.query_params.get("format") == "csv":
        return trend_csv(t)
    svg = Markup(trend_svg(t, _gettext(request)))  # every text in it is escaped
    return _render(request, "trend", {"trend": t, "svg": svg}, None)


@router.get("/staff/trends.csv", include_in_schema=False)
async def trends_csv(request: Request, account: Staff = auth.require(*ROLES)) -> Response:
    return trend_csv(await load_trend(request))


@router.get("/staff/trends/seasonal", include_in_schema=False)
async def seasonal_page(request: Request, account: Staff = auth.require(*ROLES)) -> Response:
    try:
        s = await load_seasonal(request)
    except ApiError as exc:
        if request.query_params.get("format") == "csv":
            raise
        return _render(request, "seasonal", {}, exc)
    if request.query_params.get("format") == "csv":
        return seasonal_csv(s)
    names = request.app.state.kanal.category_names
    svg = Markup(seasonal_svg(s, names, _gettext(request)))
    return _render(request, "seasonal", {"seasonal": s, "svg": svg}, None)


@router.get("/staff/trends/seasonal.csv", include_in_schema=False)
async def seasonal_csv_route(request: Request,
                             account: Staff = auth.require(*ROLES)) -> Response:
    return seasonal_csv(await load_seasonal(request))


# -- the JSON API ------------------------------------------------------------------


@router.get("/staff/api/trends", tags=["officers"], responses=API_ERRORS,
            summary="Reports over time by category, area or channel")
async def trends_api(request: Request, since: str | None = None, until: str | None = None,
                     bucket: str = "month", group: str = "category",
                     category: str | None = None, kota: str | None = None,
                     channel: str | None = None,
                     account: Staff = auth.require_token(*ROLES)) -> JSONResponse:
    """Counts of reports per `bucket` (`day`, `week` starting Monday, `month`; in WIB)
    from `since` to `until` (WIB dates, both included; default the last 30 days, 12 weeks
    or 12 months), one series per `group` (`category`, `kota`, `kecamatan`, `channel`:
    the official channel, `none`); filters `category`, `kota` (31.71), `channel`.
    Supervisors and admins."""
    return JSONResponse((await load_trend(request)).as_dict(), headers=NO_STORE)


@router.get("/staff/api/trends/seasonal", tags=["officers"], responses=API_ERRORS,
            summary="Reports per calendar month across years")
async def seasonal_api(request: Request, category: str = "banjir",
                       kota: str | None = None, channel: str | None = None,
                       first: str | None = Query(None, alias="from"),
                       last: str | None = Query(None, alias="to"),  # for the schema
                       account: Staff = auth.require_token(*ROLES)) -> JSONResponse:
    """Per year from `from` to `to` (default the last three years), the reports of each
    calendar month (WIB), and the monthly average over those years. `category` defaults
    to `banjir` (empty: every category). Supervisors and admins."""
    return JSONResponse((await load_seasonal(request)).as_dict(), headers=NO_STORE)

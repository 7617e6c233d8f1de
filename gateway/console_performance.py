"""Unit performance for supervisors and admins (issue 14): ``/staff/performance`` (a
table per unit of one kind for a week, month or year, sortable, and the ranking by
on-time rate), its CSV export (``/staff/performance.csv`` or ``?format=csv``) and the JSON
API ``/staff/api/performance`` and ``/staff/api/performance/ranking`` (an API token, as
``gateway.officers_api``). The figures are ``core.performance``'s (docs/performance.md)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from core import performance, period
from core.errors import ApiError
from core.staff import Staff
from core.units import KINDS
from gateway import auth
from gateway.officers_api import TOKEN_ERRORS
from gateway.staff_pages import NO_STORE, page

router = APIRouter()
ROLES = ("supervisor", "admin")
DEFAULT_KIND = "kota"
TABLES = ("units", "ranking")
SORTS = ("unit_name", *performance.COLUMNS)
UNIT_FIELDS = ("unit_id", "unit_name", "kind", *performance.COLUMNS)
RANK_FIELDS = ("rank", "unit_id", "unit_name", "kind", "resolved", "on_time", "on_time_rate")
QUERY_ERRORS = {**TOKEN_ERRORS, 422: {
    "description": "invalid_field: period, at, kind or sort is not one this API knows"}}


class Ask:
    """What the query string asks for, checked (422 ``invalid_field`` otherwise)."""

    def __init__(self, params, now):
        self.period = period.parse(params.get("period"), params.get("at"), now)
        self.kind = (params.get("kind") or DEFAULT_KIND).strip()
        if self.kind not in KINDS:
            raise ApiError(422, "invalid_field", f"kind must be one of {', '.join(KINDS)}",
                           field="kind")
        self.sort = (params.get("sort") or "unit_name").strip()
        if self.sort not in SORTS:
            raise ApiError(422, "invalid_field", f"sort must be one of {', '.join(SORTS)}",
                           field="sort")
        self.descending = (params.get("dir") or "").strip() == "desc"

    def params(self, **changes) -> dict[str, str]:
        out = {"period": self.period.kind, "at": self.period.label, "kind": self.kind,
               "sort": self.sort, "dir": "desc" if self.descending else "asc"}
        return {**out, **changes}

    def link(self, path: str = "/staff/performance", **changes) -> str:
        return f"{path}?{urlencode(self.params(**changes))}"


async def _figures(request: Request, query: Ask) -> list[performance.Figures]:
    kanal = request.app.state.kanal
    now = kanal.clock()

    def load():
        with kanal.engine.connect() as conn:
            return performance.compute(conn, query.kind, query.period, now)

    return await run_in_threadpool(load)


# -- the page and its CSV ------------------------------------------------------------


def csv_response(rows: list[dict], fields: tuple[str, ...], filename: str) -> Response:
    """UTF-8 with a byte order mark and CRLF line ends, as Excel opens it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{filename}"'})


def _csv(query: Ask, figures: list[performance.Figures], table: str) -> Response:
    name = f"kinerja-{query.kind}-{query.period.label}"
    if table == "ranking":
        return csv_response([r.as_dict() for r in performance.ranking(figures)], RANK_FIELDS,
                            f"peringkat-{query.kind}-{query.period.label}.csv")
    rows = performance.sort(figures, query.sort, query.descending)
    return csv_response([f.as_dict() for f in rows], UNIT_FIELDS, f"{name}.csv")


def _table(params) -> str:
    table = (params.get("table") or "units").strip()
    if table not in TABLES:
        raise ApiError(422, "invalid_field", f"table must be one of {', '.join(TABLES)}",
                       field="table")
    return table


@router.get("/staff/performance.csv", include_in_schema=False)
async def performance_csv(request: Request, account: Staff = auth.require(*ROLES)) -> Response:
    try:
        query = Ask(request.query_params, request.app.state.kanal.clock())
        table = _table(request.query_params)
    except ApiError as exc:
        return Response(f"{exc.reason}\n", status_code=422, media_type="text/plain",
                        headers=NO_STORE)
    return _csv(query, await _figures(request, query), table)


@router.get("/staff/performance", include_in_schema=False)
async def performance_page(request: Request, account: Staff = auth.require(*ROLES)) -> Response:
    kanal = request.app.state.kanal
    params = request.query_params
    try:
        query = Ask(params, kanal.clock())
        table = _table(params)
    except ApiError as exc:
        return page(request, "staff_performance.html", {
            "error": exc, "query": None, "kinds": KINDS, "periods": period.KINDS,
            "typed": {k: params.get(k) or "" for k in ("period", "at", "kind")}},
            status_code=422)
    figures = await _figures(request, query)
    if (params.get("format") or "").strip() == "csv":
        return _csv(query, figures, table)
    rows = performance.sort(figures, query.sort, query.descending)
    return page(request, "staff_performance.html", {
        "error": None, "query": query, "kinds": KINDS, "periods": period.KINDS,
        "typed": query.params(), "rows": rows, "ranking": performance.ranking(figures),
        "columns": performance.COLUMNS, "sort_link": _sort_link(query),
        "previous": query.link(at=query.period.previous().label),
        "following": query.link(at=query.period.following().label),
        "csv_units": query.link("/staff/performance.csv", table="units"),
        "csv_ranking": query.link("/staff/performance.csv", table="ranking"),
        "hours": _hours, "percent": _percent, "span": _span(query.period)})


def _span(p: period.Period) -> str:
    last = p.next_day - timedelta(days=1)
    return f"{p.first_day:%d-%m-%Y} – {last:%d-%m-%Y}"


def _sort_link(query: Ask):
    def link(column: str) -> str:
        # the same column again turns the order round; a new one starts at its most telling
        if column == query.sort:
            return query.link(dir="asc" if query.descending else "desc")
        return query.link(sort=column, dir="asc" if column == "unit_name" else "desc")
    return link


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


# -- the JSON API --------------------------------------------------------------------


def _api_query(request: Request) -> Ask:
    return Ask(request.query_params, request.app.state.kanal.clock())


@router.get("/staff/api/performance", tags=["performance"], responses=QUERY_ERRORS,
            summary="Unit performance for a week, month or year")
async def performance_api(request: Request, at: str | None = None, kind: str | None = None,
                          sort: str | None = None,
                          period_: str | None = Query(None, alias="period"),
                          dir_: str | None = Query(None, alias="dir"),
                          account: Staff = auth.require_token(*ROLES)) -> JSONResponse:
    """Query `period` (week, month, year), `at` (2026-W48, 2026-11, 2026; default the
    current one, WIB), `kind` (a unit kind, default kota), `sort` and `dir` (asc, desc).
    Answers `period`, `kind` and `units`: per unit `received`, `resolved`, `on_time`,
    `late`, `open_past_sla`, `avg_first_response_hours`, `avg_resolution_hours`,
    `avg_rating`, `on_time_rate` (docs/performance.md)."""
    query = _api_query(request)
    figures = performance.sort(await _figures(request, query), query.sort, query.descending)
    return JSONResponse({"period": query.period.as_dict(), "kind": query.kind,
                         "units": [f.as_dict() for f in figures]}, headers=NO_STORE)


@router.get("/staff/api/performance/ranking", tags=["performance"], responses=QUERY_ERRORS,
            summary="Units of one kind by on-time rate")
async def ranking_api(request: Request, at: str | None = None, kind: str | None = None,
                      period_: str | None = Query(None, alias="period"),
                      account: Staff = auth.require_token(*ROLES)) -> JSONResponse:
    """The same query as `/staff/api/performance`; `ranking` lists the units by on-time
    rate (resolved on time / resolved), highest first; ties share a rank; units with
    nothing resolved come last with `rank` null."""
    query = _api_query(request)
    ranked = performance.ranking(await _figures(request, query))
    return JSONResponse({"period": query.period.as_dict(), "kind": query.kind,
                         "ranking": [r.as_dict() for r in ranked]}, headers=NO_STORE)

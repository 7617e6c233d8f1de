"""The public list of recent reports with its map (``/laporan``) and its JSON twin
(``GET /api/v1/reports``): no login, no personal data (``core.publiclist``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from core import areamap, publiclist
from core.areas import kota_label
from core.cases import STATUSES
from core.errors import ApiError
from gateway.pages import LANGUAGES

router = APIRouter()


@lru_cache(maxsize=4)
def _choices(boundaries: Any) -> dict[str, Any]:
    """The select boxes' options from the boundaries, and every known area code."""
    kota: dict[str, str] = {}
    kecamatan: dict[str, dict[str, str]] = {}
    kelurahan: dict[str, list[tuple[str, str]]] = {}
    for p in boundaries.places():
        kota.setdefault(p.kota_code, kota_label(p.kota_code, p.kota_name))
        kecamatan.setdefault(p.kota_code, {}).setdefault(
            p.kecamatan_code, p.kecamatan_name or p.kecamatan_code)
        kelurahan.setdefault(p.kecamatan_code, []).append((p.code, p.name or p.code))
    codes = frozenset([*kota, *(k for group in kecamatan.values() for k in group),
                       *(c for group in kelurahan.values() for c, _ in group)])
    return {"kota": kota, "kecamatan": kecamatan, "kelurahan": kelurahan, "codes": codes}


def _load(kanal, params) -> dict[str, Any]:
    """Filters, page, items and map points; raises FilterError for a bad filter."""
    choices = _choices(kanal.boundaries) if kanal.boundaries is not None else None
    filters, page = publiclist.parse(params, areas=choices["codes"] if choices else None,
                                     categories=kanal.category_names)
    with kanal.engine.connect() as conn:
        listed = publiclist.recent(conn, filters, page, categories=kanal.category_names)
        points = publiclist.points(conn, filters)
    return {"filters": filters, "choices": choices, "points": points, **listed}


def _links(path: str, loaded: dict[str, Any], extra: list[tuple[str, str]]) -> dict:
    f, page = loaded["filters"], loaded["page"]
    return {"next": publiclist.page_url(path, f, page + 1, extra) if loaded["has_next"]
            else None,
            "previous": publiclist.page_url(path, f, page - 1, extra) if page > 1 else None}


def _page(kanal, params) -> dict[str, Any]:
    """The page's context without its links; the map is drawn here, off the event loop
    (the first drawing of an area joins its kelurahan, later ones are cached)."""
    loaded = _load(kanal, params)
    if kanal.boundaries is not None:
        areas = areamap.areas_below(kanal.boundaries, loaded["filters"].area())
        loaded["map"] = areamap.draw(areas, loaded["points"])
    return loaded


@router.get("/laporan", include_in_schema=False)
async def list_page(request: Request) -> Response:
    kanal = request.app.state.kanal
    lang = request.query_params.get("lang")
    extra = [("lang", lang)] if lang in LANGUAGES else []
    context = {"error": None, "typed": request.query_params, "statuses": STATUSES,
               "map": None}
    try:
        loaded = await run_in_threadpool(_page, kanal, request.query_params)
    except publiclist.FilterError as exc:
        choices = _choices(kanal.boundaries) if kanal.boundaries is not None else None
        return kanal.render(request, "laporan.html", {
            **context, "error": exc, "choices": choices, "items": [], "page": 1,
            "links": {"next": None, "previous": None}}, status_code=400)
    return kanal.render(request, "laporan.html", {
        **context, **loaded, "links": _links("/laporan", loaded, extra)})


@router.get("/api/v1/reports", tags=["public"],
            summary="Recent reports, newest first (no personal data, points rounded)")
async def list_reports(
    request: Request,
    kota: str | None = Query(None, description="kota code, e.g. 31.71"),
    kecamatan: str | None = Query(None, description="kecamatan code, e.g. 31.71.01"),
    kelurahan: str | None = Query(None, description="kelurahan code, e.g. 31.71.01.1001"),
    category: str | None = Query(None, description="a category id"),
    status: str | None = Query(None, description="a kanal status, e.g. Proses"),
    dari: str | None = Query(None, description="from this WIB date (YYYY-MM-DD)"),
    sampai: str | None = Query(None, description="up to this WIB date (YYYY-MM-DD)"),
    page: str | None = Query(None, description=f"1 to {publiclist.MAX_PAGE}, "
                                               f"{publiclist.PAGE_SIZE} a page"),
) -> dict:
    """The same reports as ``/laporan``: tracking ID, category, status, kelurahan, unit,
    time (WIB) and the point snapped to a grid of ``publiclist.GRID`` degrees.
    Confidential reports never appear. A bad filter answers 400 ``invalid_filter``."""
    kanal = request.app.state.kanal
    try:
        loaded = await run_in_threadpool(_load, kanal, request.query_params)
    except publiclist.FilterError as exc:
        raise ApiError(400, "invalid_filter", f"{exc.field}: {exc.reason}") from None
    return {"items": loaded["items"], "page": loaded["page"],
            "grid_degrees": publiclist.GRID, **_links("/api/v1/reports", loaded, [])}

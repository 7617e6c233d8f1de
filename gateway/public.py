"""Public, PII-free report tracking: JSON API and the /lacak pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from core import reports, tracking
from core.photos import PUBLIC_TYPES
from core.errors import ApiError
from gateway.pages import LANGUAGES

router = APIRouter()

MISTYPED = "Nomor laporan tidak valid, periksa kembali nomor laporan."
UNKNOWN = "Laporan dengan nomor itu tidak ditemukan."


def lookup(request: Request, raw: str) -> tuple[str | None, dict | None, str | None]:
    """(compact id, public view, error code) for what a citizen typed."""
    kanal = request.app.state.kanal
    try:
        compact = tracking.normalize(raw)
    except tracking.InvalidTrackingID as exc:
        return None, None, "mistyped" if exc.reason == "checksum" else "invalid"
    with kanal.engine.connect() as conn:
        view = reports.public_report(conn, compact, categories=kanal.category_names,
                                     areas=kanal.case_engine)
    return compact, view, None if view else "not_found"


@router.get("/api/v1/reports/{tracking_id}", tags=["public"],
            summary="Public view of a report (no personal data)")
async def get_report(request: Request, tracking_id: str) -> dict:
    _, view, error = await run_in_threadpool(lookup, request, tracking_id)
    if error == "mistyped":
        raise ApiError(404, "mistyped_tracking_id", MISTYPED)
    if error == "invalid":
        raise ApiError(404, "invalid_tracking_id", MISTYPED)
    if error == "not_found":
        raise ApiError(404, "not_found", UNKNOWN)
    return view


async def _public_photo(request: Request, tracking_id: str, photo_id: int, find,
                        max_age: int) -> Response:
    """A photo of a report as the public may see it: ``find(conn, compact, photo_id)``
    gives its row, and only a copy without metadata is served, never the original (its
    EXIF may say where the citizen lives, or keeps the officer's evidence)."""
    kanal = request.app.state.kanal
    try:
        compact = tracking.normalize(tracking_id)
    except tracking.InvalidTrackingID:
        raise ApiError(404, "not_found", UNKNOWN)

    def load():
        with kanal.engine.connect() as conn:
            row = find(conn, compact, photo_id)
        if row is None or row.media_type not in PUBLIC_TYPES:
            return None
        return kanal.public_photos.get(row.sha256, row.media_type)

    found = await run_in_threadpool(load)
    if found is None:
        raise ApiError(404, "not_found", "photo not found")
    data, media_type = found
    return Response(data, media_type=media_type, headers={
        "Cache-Control": f"public, max-age={max_age}", "X-Content-Type-Options": "nosniff"})


@router.get("/api/v1/reports/{tracking_id}/photos/{photo_id}", tags=["public"],
            summary="A photo of a report")
async def get_photo(request: Request, tracking_id: str, photo_id: int) -> Response:
    return await _public_photo(request, tracking_id, photo_id, reports.photo, 86400)


@router.get("/api/v1/reports/{tracking_id}/proof/{photo_id}", tags=["public"],
            summary="A photo that proves a report's fix")
async def get_proof_photo(request: Request, tracking_id: str, photo_id: int) -> Response:
    # a short cache: the photos of a resolution the verifier returns stop being public
    return await _public_photo(request, tracking_id, photo_id, reports.proof_photo, 300)


@router.get("/lacak", include_in_schema=False)
async def track_form(request: Request, id: str | None = None) -> Response:
    if id:
        try:
            compact = tracking.normalize(id)
            lang = request.query_params.get("lang")
            query = f"?lang={lang}" if lang in LANGUAGES else ""
            return RedirectResponse(f"/lacak/{tracking.display(compact)}{query}",
                                    status_code=303)
        except tracking.InvalidTrackingID as exc:
            error = "mistyped" if exc.reason == "checksum" else "invalid"
            return request.app.state.kanal.render(
                request, "lacak_form.html", {"error": error, "value": id}, status_code=404)
    return request.app.state.kanal.render(request, "lacak_form.html",
                                          {"error": None, "value": ""})


# ":path": a typed slash still gets the lookup form with its message, not a bare 404
@router.get("/lacak/{tracking_id:path}", include_in_schema=False)
async def track_page(request: Request, tracking_id: str) -> Response:
    _, view, error = await run_in_threadpool(lookup, request, tracking_id)
    kanal = request.app.state.kanal
    if error:
        return kanal.render(request, "lacak_form.html",
                            {"error": error, "value": tracking_id}, status_code=404)
    return kanal.render(request, "lacak.html", {"report": view})

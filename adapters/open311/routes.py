"""The GeoReport v2 endpoints under ``/open311/v2/`` and ``/open311/discovery.json``.

Every answer, errors included, is in the format the path's extension names; an error is
``[{"code": <HTTP status>, "description": ...}]`` or ``<errors><error>...``."""

from __future__ import annotations

import functools
import json
import uuid
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from adapters.open311 import reads
from adapters.open311.payloads import Open311Inbox
from adapters.open311.validate import check_post
from adapters.open311.wire import FORMATS, Open311Error, answer, error_answer
from core import remote, tracking
from core.adapter import Envelope
from core.errors import ApiError, BodyTooLarge

router = APIRouter(tags=["open311"])
WIB = ZoneInfo("Asia/Jakarta")
SPEC = "http://wiki.open311.org/GeoReport_v2"
# when these endpoints last changed (the discovery document's changeset)
CHANGESET = "2026-12-01T00:00:00+07:00"
_ERRORS = {400: {"description": "a field is missing or wrong, or another jurisdiction_id"},
           403: {"description": "the api_key is missing or not valid"},
           404: {"description": "no such service or service request"},
           503: {"description": "the Open311 channel is disabled"}}
_NO_STORE = {"Cache-Control": "no-store"}


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(400, f"format {fmt!r} is not supported: use json or xml")
    return fmt


def open311(handler):
    """Open311Error and ApiError as Open311 errors in the path's format (never a 500 for
    the client's mistake)."""

    @functools.wraps(handler)
    async def run(request: Request, *args, **kw):
        fmt = kw.get("fmt", "json")
        fmt = fmt if fmt in FORMATS else "json"
        try:
            return await handler(request, *args, **kw)
        except Open311Error as exc:
            return error_answer(fmt, exc.status, exc.description)
        except ApiError as exc:
            status = 400 if exc.status_code == 422 else exc.status_code
            return error_answer(fmt, status, exc.reason, exc.headers or None)

    return run


def _adapter(request: Request):
    return request.app.state.kanal.ready_adapter("open311")


def _jurisdiction(adapter, value: str | None) -> None:
    if value not in (None, "") and value != adapter.settings.jurisdiction:
        raise Open311Error(400, f"jurisdiction_id {value!r} is not served here; use "
                                f"{adapter.settings.jurisdiction!r}")


def _base(request: Request) -> str:
    base = request.app.state.kanal.settings.public_base_url.rstrip("/")
    return base or str(request.base_url).rstrip("/")


def _category(kanal, code: str) -> dict[str, Any]:
    found = next((c for c in kanal.categories() if c["id"] == code), None)
    if found is None:
        raise Open311Error(404, f"service_code {code!r} is not a service of this jurisdiction")
    return found


@router.get("/open311/discovery.json", summary="Open311 discovery document",
            responses=_ERRORS)
@open311
async def discovery(request: Request) -> Response:
    adapter = _adapter(request)
    return answer("json", "discovery", {
        "changeset": CHANGESET,
        "contact": adapter.settings.contact,
        "key_service": adapter.settings.key_service,
        "endpoints": [{"specification": SPEC, "url": f"{_base(request)}/open311/v2/",
                       "changeset": CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    })


@router.get("/open311/v2/services.{fmt}", summary="Open311: the services (categories)",
            responses=_ERRORS)
@open311
async def services(request: Request, fmt: str) -> Response:
    fmt = _format(fmt)
    adapter = _adapter(request)
    _jurisdiction(adapter, request.query_params.get("jurisdiction_id"))
    kanal = request.app.state.kanal
    return answer(fmt, "services", [reads.service(c) for c in kanal.categories()])


@router.get("/open311/v2/services/{code}.{fmt}", summary="Open311: a service definition",
            responses=_ERRORS)
@open311
async def service_definition(request: Request, code: str, fmt: str) -> Response:
    fmt = _format(fmt)
    adapter = _adapter(request)
    _jurisdiction(adapter, request.query_params.get("jurisdiction_id"))
    return answer(fmt, "service_definition",
                  reads.definition(_category(request.app.state.kanal, code)))


def _when(name: str, value: str | None) -> datetime | None:
    """A W3C datetime (``2026-12-01T00:00:00Z``, or a date); without an offset it is WIB."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C datetime, e.g. 2026-12-01T00:00:00Z")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=WIB)
    return parsed.astimezone(timezone.utc)


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _ids(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(tracking.normalize(value))
        except tracking.InvalidTrackingID:
            continue  # an ID that cannot exist matches nothing
    return out


@router.get("/open311/v2/requests.{fmt}", summary="Open311: service requests (no personal "
            "data)", responses=_ERRORS)
@open311
async def list_requests(request: Request, fmt: str) -> Response:
    """Filters: ``service_request_id`` (comma list, overrides the rest), ``service_code``,
    ``start_date``/``end_date`` (at most 90 days apart; the last 90 days by default),
    ``status`` (open, closed). Newest first, at most 1000."""
    fmt = _format(fmt)
    adapter = _adapter(request)
    q = request.query_params
    _jurisdiction(adapter, q.get("jurisdiction_id"))
    kanal = request.app.state.kanal
    ids = _listed(q.get("service_request_id"))
    filters: dict[str, Any] = {}
    if ids:
        filters["ids"] = _ids(ids)
    else:
        status = {s.lower() for s in _listed(q.get("status"))}
        if status - {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both (comma separated)")
        start, end = _when("start_date", q.get("start_date")), _when("end_date", q.get("end_date"))
        if start is None and end is None:
            end = kanal.clock()
        if start is None:
            start = end - reads.WINDOW
        elif end is None:
            end = start + reads.WINDOW
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > reads.WINDOW:
            raise Open311Error(400, "start_date and end_date may be at most 90 days apart")
        filters.update(codes=_listed(q.get("service_code")), start=start, end=end,
                       status=status or None)
    return answer(fmt, "service_requests", await run_in_threadpool(
        _read, kanal, _base(request), lambda conn: reads.search(conn, **filters)),
        headers=_NO_STORE)


def _read(kanal, base: str, find) -> list[dict[str, Any]]:
    with kanal.engine.connect() as conn:
        rows = find(conn)
        return reads.service_requests(conn, rows, categories=kanal.category_names,
                                      areas=kanal.case_engine, base_url=base)


@router.get("/open311/v2/requests/{request_id}.{fmt}", summary="Open311: one service "
            "request (no personal data)", responses=_ERRORS)
@open311
async def get_request(request: Request, request_id: str, fmt: str) -> Response:
    fmt = _format(fmt)
    adapter = _adapter(request)
    _jurisdiction(adapter, request.query_params.get("jurisdiction_id"))
    kanal = request.app.state.kanal
    try:
        compact = tracking.normalize(request_id)
    except tracking.InvalidTrackingID:
        raise Open311Error(404, f"no service request {request_id!r}")
    found = await run_in_threadpool(_read, kanal, _base(request),
                                    lambda conn: reads.one(conn, compact))
    if not found:
        raise Open311Error(404, f"no service request {request_id!r}")
    return answer(fmt, "service_requests", found, headers=_NO_STORE)


async def _fields(request: Request) -> dict[str, Any]:
    """The POST's fields: form-encoded (the spec), multipart, or a JSON object."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            data = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise Open311Error(400, "the request body is not valid JSON")
        if not isinstance(data, dict):
            raise Open311Error(400, "the request body must be a JSON object")
        return data
    if media in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        try:
            form = await request.form(max_files=0, max_fields=50)
        except BodyTooLarge:
            raise
        except Exception as exc:  # noqa: BLE001 - python-multipart raises several kinds
            raise Open311Error(400, f"cannot read the form: {exc}")
        try:
            return {k: v for k, v in form.items() if isinstance(v, str)}
        finally:
            await form.close()
    raise Open311Error(400, "send application/x-www-form-urlencoded (or JSON)")


@router.post("/open311/v2/requests.{fmt}", summary="Open311: file a service request",
             responses=_ERRORS)
@open311
async def create_request(request: Request, fmt: str) -> Response:
    """Form fields as the spec names them; ``api_key`` of the client application. Answers
    the tracking ID as ``service_request_id``; the report goes through kanal's inbox and
    pipeline like every channel's."""
    fmt = _format(fmt)
    adapter = _adapter(request)
    fields = await _fields(request)
    q = request.query_params
    _jurisdiction(adapter, fields.get("jurisdiction_id") or q.get("jurisdiction_id"))
    key = fields.get("api_key") or q.get("api_key") or ""
    client = adapter.settings.client_for(str(key).strip()) if isinstance(key, str) else None
    if client is None:
        raise Open311Error(403, "api_key is missing or not valid")
    kanal = request.app.state.kanal
    post = check_post(fields, categories={c["id"] for c in kanal.categories()},
                      max_text_chars=kanal.settings.max_text_chars)
    fetch = bool(post.media_url) and remote.allowed(post.media_url, adapter.settings.hosts)
    payload = Open311Inbox(client=client, request=post, fetch_media=fetch)
    result = await adapter.runtime.ingest(Envelope(
        channel=adapter.channel_id, external_id=f"{client}:{uuid.uuid4().hex}",
        payload=payload.model_dump_json(exclude_none=True).encode(),
        content_type="application/vnd.kanal.open311+json"))
    if result.quarantined or result.tracking_id is None:
        return answer(fmt, "service_requests", [{
            "token": str(result.inbox_id),
            "service_notice": "Laporan disimpan dan akan diperiksa petugas."}], 202)
    shown = tracking.display(result.tracking_id)
    return answer(fmt, "service_requests", [{
        "service_request_id": shown,
        "service_notice": f"Laporan diterima. Lacak di {_base(request)}/lacak/{shown}",
        "account_id": None}])

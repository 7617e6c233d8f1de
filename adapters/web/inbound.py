"""Website intake shared by the form and ``POST /api/v1/web/reports`` (JSON or multipart)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from adapters.web.payloads import FORM_FIELDS, WebInbox, check, flatten
from core import tracking
from core.adapter import Envelope
from core.canonical import IngestResult
from core.errors import ApiError
from core.models import utcnow
from core.ratelimit import client_bucket
from core.reportform import CitizenReport, Problem, submission_id
from core.uploads import (
    CheckedUpload,
    Upload,
    check_photos,
    file_parts,
    read_form,
    read_uploads,
    store_photos,
)

if TYPE_CHECKING:
    from adapters.web.plugin import WebAdapter

router = APIRouter(tags=["web"])


def web_adapter(request: Request) -> WebAdapter:
    return request.app.state.kanal.ready_adapter("web")


def client_key(request: Request) -> str:
    # uvicorn has already replaced this with X-Forwarded-For when a trusted proxy sent it
    return client_bucket(request.client.host if request.client else None)


# problems are told in the order of the form's fields
_ORDER = {name: i for i, name in enumerate((
    "text", "category", "address", "lat", "lon", "location", "name", "phone", "email",
    "contact", "photos", "submission_id"))}


@dataclass(slots=True)
class Submission:
    """A parsed submission: the flat fields as sent, their problems, the uploads."""

    raw: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    photos_sent: int = 0


async def read_multipart(request: Request, adapter: WebAdapter, *,
                         report_part: bool) -> Submission:
    """Form fields (or, for the API, a ``report`` JSON part) and up to N photos."""
    settings = adapter.runtime.settings
    form = await read_form(request)
    try:
        if report_part and "report" in form:
            try:
                data = json.loads(str(form["report"]))
            except (ValueError, RecursionError):
                raise ApiError(400, "malformed_json", "the 'report' part is not valid JSON")
            if not isinstance(data, dict):
                raise ApiError(400, "malformed_json", "the 'report' part must be an object")
            raw, problems = flatten(data)
        else:
            raw = {k: v for k in FORM_FIELDS if isinstance(v := form.get(k), str)}
            problems = []
        sub = Submission(raw, problems, photos_sent=len(file_parts(form)))
        try:
            sub.uploads = await read_uploads(form, max_count=settings.max_photos,
                                             max_bytes=settings.max_photo_bytes)
        except ApiError as exc:
            sub.problems.append(Problem.from_error(exc, "photos"))
    finally:
        await form.close()
    return sub


async def read_json(request: Request) -> Submission:
    try:
        data = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "the request body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_json", "the request body must be a JSON object")
    raw, problems = flatten(data)
    return Submission(raw, problems)


def review(adapter: WebAdapter,
           sub: Submission) -> tuple[CitizenReport | None, list[CheckedUpload], list[Problem]]:
    """The checked report and photos, or every problem (photos are checked even when a
    field is wrong, so the form names them all at once)."""
    settings = adapter.runtime.settings
    report, problems = check(sub.raw, max_text_chars=settings.max_text_chars,
                             categories={c["id"] for c in adapter.runtime.categories()})
    if problems and problems[0].code == "rejected":
        return None, [], problems
    problems = sub.problems + problems
    checked: list[CheckedUpload] = []
    if not any(p.field == "photos" for p in problems):
        try:
            checked = check_photos(sub.uploads, max_bytes=settings.max_photo_bytes)
        except ApiError as exc:
            problems.append(Problem.from_error(exc, "photos"))
    problems.sort(key=lambda p: _ORDER.get(p.field or "", -1))
    return (None if problems else report), checked, problems


async def accept(adapter: WebAdapter, report: CitizenReport, checked: Sequence[CheckedUpload], *,
                 key: str, source: str, per_content: bool = False) -> IngestResult:
    """Store the photos, then commit the payload to the inbox and run it through.

    ``key`` is the inbox external_id. With ``per_content`` the content's digest is part of
    it: the same form posted twice is one report, but a form brought back with the
    browser's Back button and filled in again (same nonce, new text) is a new one."""
    photos = await run_in_threadpool(store_photos, adapter.runtime.store, checked)
    payload = WebInbox(source=source, report=report, photos=photos).model_dump_json(
        exclude_none=True).encode()
    if per_content:
        key = f"{key}.{hashlib.sha256(payload).hexdigest()[:16]}"
    return await adapter.runtime.ingest(Envelope(
        channel=adapter.channel_id,
        external_id=key,
        payload=payload,
        content_type="application/vnd.kanal.web+json",
        received_at=utcnow(),
    ))


@router.post(
    "/api/v1/web/reports", status_code=201, summary="Submit a report from the city website",
    responses={200: {"description": "repeat of an earlier submission_id: the same tracking ID"},
               202: {"description": "kept, but could not be processed (staff will review)"},
               400: {"description": "malformed_json, malformed_multipart or rejected"},
               413: {"description": "photo_too_large"},
               415: {"description": "photo_wrong_type or unsupported_media_type"},
               422: {"description": "missing_text, text_too_long, unknown_category, "
                                    "invalid_location, invalid_contact, invalid_name, "
                                    "invalid_phone, invalid_email, invalid_submission_id, "
                                    "too_many_photos, empty_file"},
               429: {"description": "rate_limited (see Retry-After)"}},
)
async def submit(request: Request) -> JSONResponse:
    """JSON ``{"text", "category", "location": {"lat", "lon", "address"}, "contact":
    {"name", "phone", "email"}, "submission_id"}``, or multipart with either a ``report``
    JSON part or the form's flat fields, and up to 5 ``photos``. ``submission_id`` is an
    idempotency key: sending it again answers 200 with the same tracking ID."""
    adapter = web_adapter(request)
    wait = adapter.limiter.take(client_key(request))
    if wait:
        raise ApiError(429, "rate_limited", f"too many reports; try again in {wait} s",
                       retry_after=wait)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        sub = await read_multipart(request, adapter, report_part=True)
    elif media in ("application/json", ""):
        sub = await read_json(request)
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send application/json or multipart/form-data")
    key = submission_id(sub.raw.get("submission_id"), strict=True)
    if isinstance(key, Problem):
        sub.problems.append(key)
    report, checked, problems = review(adapter, sub)
    if problems:
        raise problems[0].error()
    result = await accept(adapter, report, checked, key=str(key), source="api")
    if result.quarantined or result.tracking_id is None:
        return JSONResponse(status_code=202, content={
            "tracking_id": None, "status": "quarantined",
            "reason": "the report was kept but could not be processed; staff will review it",
        })
    shown = tracking.display(result.tracking_id)
    return JSONResponse(status_code=200 if result.duplicate else 201, content={
        "tracking_id": shown, "status": result.status, "follow_up": result.follow_up,
        "url": f"/lacak/{shown}"})

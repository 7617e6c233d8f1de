"""JAKI intake: ``POST /api/v1/jaki/reports`` (JSON, or multipart with up to 5 photos)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from adapters.jaki.payloads import JakiInbox, JakiReport
from core import tracking
from core.adapter import Envelope
from core.errors import ApiError
from core.reportform import check_contact
from core.uploads import StoredPhoto, check_photos, read_form, read_uploads, store_photos

router = APIRouter(tags=["jaki"])
_FLAT_FIELDS = ("external_id", "text", "category")


def _adapter(request: Request):
    return request.app.state.kanal.ready_adapter("jaki")


def _authenticate(request: Request, adapter) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "missing_api_key",
                       "send the client's API key as 'Authorization: Bearer <key>'")
    client = adapter.settings.client_for(presented.strip())
    if client is None:
        raise ApiError(401, "bad_api_key", "the API key is not valid")
    return client


# the error code of a field (or of its object) when the app sent it wrong
_CODES = {"text": "invalid_text", "external_id": "invalid_external_id",
          "category": "invalid_category", "location": "invalid_location",
          "reporter": "invalid_reporter", "reporter.name": "invalid_name",
          "reporter.phone": "invalid_phone", "reporter.email": "invalid_email"}
_SAYS = {"string_type": "must be a string", "model_type": "must be an object",
         "model_attributes_type": "must be an object", "float_type": "must be a number",
         "float_parsing": "must be a number", "datetime_type": "must be a date and time",
         "datetime_parsing": "must be a date and time (ISO 8601)"}


def _validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    path = [str(p) for p in first["loc"]]
    field, kind = ".".join(path), first["type"]
    if field == "text" and kind in ("missing", "value_error"):
        return ApiError(422, "missing_text", "text is required and must not be empty",
                        field=field)
    if field == "external_id" and kind in ("missing", "string_too_short"):
        return ApiError(422, "missing_external_id", "external_id is required", field=field)
    if field == "external_id" and kind != "string_type":
        return ApiError(422, "invalid_external_id", "external_id must be a string of 1 to "
                        "128 printable ASCII characters without spaces", field=field)
    code = _CODES.get(field) or _CODES.get(path[0] if path else "", "invalid_field")
    reason = f"{field} {_SAYS[kind]}" if kind in _SAYS else f"{field}: {first['msg']}"
    return ApiError(422, code, reason, field=field)


def _check(adapter, report: JakiReport) -> None:
    """What the model cannot say alone; the reporter's contact is checked as every intake
    checks it (a wrong one is refused, not dropped)."""
    limit = adapter.runtime.settings.max_text_chars
    if len(report.text) > limit:
        raise ApiError(422, "text_too_long",
                       f"text is {len(report.text)} characters; the limit is {limit}",
                       field="text", limit=limit, length=len(report.text))
    where = report.location
    if where is not None and (where.lat is None) != (where.lon is None):
        missing = "location.lat" if where.lat is None else "location.lon"
        raise ApiError(422, "invalid_location",
                       f"{missing}: give both location.lat and location.lon, or neither",
                       field=missing)
    if report.reporter is not None:
        _, problems = check_contact(report.reporter.model_dump(), prefix="reporter.")
        if problems:
            raise problems[0].error()


async def _read_json(request: Request, adapter) -> tuple[JakiReport, bytes]:
    body = await request.body()
    try:
        return JakiReport.model_validate_json(body), body
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "malformed_json", "the request body is not valid JSON")
        if not exc.errors()[0]["loc"]:
            raise ApiError(400, "malformed_json", "the request body must be a JSON object")
        raise _validation_error(exc)


async def _read_multipart(request: Request, adapter) -> tuple[JakiReport, list[StoredPhoto]]:
    settings = adapter.runtime.settings
    form = await read_form(request, max_files=settings.max_photos + 20,
                           max_part_size=settings.max_photo_bytes + 1024)
    try:
        if "report" in form:
            try:
                data = json.loads(form["report"])
            except (TypeError, ValueError):
                raise ApiError(400, "malformed_json", "the 'report' part is not valid JSON")
            if not isinstance(data, dict):
                raise ApiError(400, "malformed_json", "the 'report' part must be an object")
        else:
            data = {k: form[k] for k in _FLAT_FIELDS if k in form}
            loc = {k: form[k] for k in ("lat", "lon", "address") if form.get(k) not in (None, "")}
            if loc:
                data["location"] = loc
            who = {k: form[k] for k in ("app_user_id", "name", "phone", "email") if k in form}
            if who:
                data["reporter"] = who
        try:
            report = JakiReport.model_validate(data)
        except ValidationError as exc:
            raise _validation_error(exc)
        _check(adapter, report)
        uploads = await read_uploads(form, max_count=settings.max_photos,
                                     max_bytes=settings.max_photo_bytes)
    finally:
        await form.close()
    checked = check_photos(uploads, max_bytes=settings.max_photo_bytes)  # all, before storing
    return report, store_photos(adapter.runtime.store, checked)


@router.post(
    "/api/v1/jaki/reports", status_code=201, summary="Submit a report from the JAKI app",
    responses={200: {"description": "repeat of an earlier external_id: the same tracking ID"},
               401: {"description": "missing_api_key or bad_api_key"},
               422: {"description": "missing_text, invalid_text, text_too_long, "
                                    "missing_external_id, invalid_external_id, "
                                    "invalid_category, invalid_location, invalid_reporter, "
                                    "invalid_name, invalid_phone, invalid_email, "
                                    "invalid_field, too_many_photos; 'field' names the field"}},
)
async def submit(request: Request) -> JSONResponse:
    """JSON body, or multipart with either a ``report`` JSON part or flat fields, and up to
    5 ``photos``. Answers 201 with the tracking ID, or 200 with the same tracking ID when
    the ``external_id`` was seen before. ``category`` is kanal's id or the app's own name;
    an unknown name is filed as ``lainnya``. A wrong reporter phone or email is refused."""
    adapter = _adapter(request)
    client = _authenticate(request, adapter)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        report, photos = await _read_multipart(request, adapter)
        payload = JakiInbox(client=client, report=report, photos=photos).model_dump_json(
            exclude_none=True).encode()
    elif media in ("application/json", ""):
        report, body = await _read_json(request, adapter)
        _check(adapter, report)
        # the app's own bytes are what the inbox keeps
        payload = b'{"client":' + json.dumps(client).encode() + b',"report":' + body + b"}"
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send application/json or multipart/form-data")
    result = await adapter.runtime.ingest(Envelope(
        channel=adapter.channel_id,
        external_id=f"{client}:{report.external_id}",
        payload=payload,
        content_type="application/vnd.kanal.jaki+json",
        received_at=report.reported_at,
    ))
    if result.quarantined or result.tracking_id is None:
        return JSONResponse(status_code=202, content={
            "tracking_id": None, "status": "quarantined",
            "reason": "the report was kept but could not be processed; staff will review it",
        })
    body = {"tracking_id": tracking.display(result.tracking_id), "status": result.status,
            "follow_up": result.follow_up,
            "url": f"/lacak/{tracking.display(result.tracking_id)}"}
    return JSONResponse(status_code=200 if result.duplicate else 201, content=body)

"""The officers' JSON API, for the CRM Petugas phone app: ``/staff/api/...`` routes that
take an API token (``auth.require_token``) instead of the staff pages' session cookie,
and are documented in the OpenAPI schema under the tag ``officers``
(docs/officers_api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core import caseview, tracking, units
from core.cases import ACTIONS, ActionRequest
from core.errors import ApiError
from core.reports import wib
from core.staff import Staff
from core.uploads import check_photos, read_form, read_uploads
from gateway import auth
from gateway.staff_pages import NO_STORE

router = APIRouter(tags=["officers"])
# the answers of the guard, for a route's ``responses``: TOKEN_ERRORS where roles are named
UNAUTHORIZED = {
    401: {"description": "missing_token or invalid_token (with WWW-Authenticate: Bearer)"}}
TOKEN_ERRORS = {
    **UNAUTHORIZED, 403: {"description": "forbidden: the account's role may not do this"}}


class UnitOut(BaseModel):
    id: str
    name: str
    kind: str


class Me(BaseModel):
    username: str
    role: str
    unit: UnitOut | None


@router.get("/staff/api/me", response_model=Me, responses=UNAUTHORIZED,
            summary="The account the token belongs to")
async def me(request: Request, account: Staff = auth.require_token()) -> JSONResponse:
    """The token's account, its role and its unit (null for an account without one): what
    the app shows as signed in, and a check that a token works."""
    def load():
        with request.app.state.kanal.engine.connect() as conn:
            return units.unit(conn, account.unit_id) if account.unit_id else None

    unit = await run_in_threadpool(load)
    return JSONResponse({
        "username": account.username, "role": account.role,
        "unit": {"id": unit.id, "name": unit.name, "kind": unit.kind} if unit else None,
    }, headers=NO_STORE)


# -- cases ---------------------------------------------------------------------------------

CASE_ROLES = ("officer", "supervisor", "admin")
FIELDS = ("action", "reason", "unit", "due")
CASE_ERRORS = {
    **TOKEN_ERRORS, 404: {"description": "not_found: no such case"},
    409: {"description": "wrong_status: the action does not leave from the case's status"},
    422: {"description": "missing_field, invalid_field, photo_refused, too_many_photos or "
                         "unknown_action, with the field at fault in `field`"},
}
ACTION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["action"], "additionalProperties": False,
            "properties": {
                "action": {"type": "string", "enum": list(ACTIONS)},
                "reason": {"type": "string", "description": "reject, return, ews and note: "
                           "required; the others: an optional note"},
                "unit": {"type": "string", "description": "coordinate: a dinas or biro "
                         "unit id; dispose: a suku dinas unit id (kanal units list)"},
                "due": {"type": "string", "description": "ews: YYYY-MM-DD (16:00 WIB) or an "
                        "ISO 8601 time, in the future"},
            }}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["action"],
            "properties": {
                "action": {"type": "string", "enum": list(ACTIONS)},
                "reason": {"type": "string"}, "unit": {"type": "string"},
                "due": {"type": "string"},
                "photos": {"type": "array", "items": {"type": "string", "format": "binary"},
                           "description": "resolve: 1 to 5 proof photos (JPEG, PNG, WebP)"},
            }}},
    },
}


def _compact(raw: str) -> str:
    try:
        return tracking.normalize(raw)
    except tracking.InvalidTrackingID:
        raise ApiError(404, "not_found", f"{raw!r} is not a tracking ID") from None


def case_json(row: caseview.QueueRow) -> dict[str, Any]:
    """A case of a list: ``unit`` is the unit id, as the ``unit`` filter takes it."""
    out = row.as_dict()
    out["unit"] = out.pop("unit_id")
    out.pop("compact")
    return out


@router.get("/staff/api/cases", responses=CASE_ERRORS,
            summary="The cases this token may see, by SLA risk")
async def list_cases(request: Request, status: str | None = None, unit: str | None = None,
                     category: str | None = None, area: str | None = None,
                     channel: str | None = None, since: str | None = None,
                     until: str | None = None, limit: int = 50, offset: int = 0,
                     account: Staff = auth.require_token(*CASE_ROLES)) -> JSONResponse:
    """A JSON array of cases (`tracking_id`, `status`, `unit`, `unit_name`, `due_at`,
    `overdue`, `escalated`, ...), past their deadline first, then the nearest deadline.
    An officer sees the cases its unit holds or was escalated; supervisors and admins see
    all, or one `unit`'s. `status`: one status, or `all` (default: the open ones);
    `area`: a kota, kecamatan or kelurahan code; `since`/`until`: dates in WIB. Pages of
    `limit` (1-200) from `offset`; `X-Next-Offset` tells where the next page starts."""
    kanal = request.app.state.kanal
    start = caseview.day_bounds(since, "since")
    end = caseview.day_bounds(until, "until", end=True)

    def load():
        with kanal.engine.connect() as conn:
            return caseview.queue(conn, account, status=status, unit=unit,
                                  category=category, area=area, channel=channel,
                                  since=start, until=end, limit=limit, offset=offset,
                                  now=kanal.clock())

    rows = await run_in_threadpool(load)
    headers = dict(NO_STORE)
    if len(rows) == limit:
        headers["X-Next-Offset"] = str(offset + limit)
    return JSONResponse([case_json(r) for r in rows], headers=headers)


@router.get("/staff/api/cases/{tracking_id}", responses=CASE_ERRORS,
            summary="One case, as the case screen shows it")
async def get_case(request: Request, tracking_id: str,
                   account: Staff = auth.require_token(*CASE_ROLES)) -> JSONResponse:
    """The staff view (handles masked for officers), the timeline with internal events,
    the proof photos with what their checks found, and the `actions` the token may take
    now."""
    kanal = request.app.state.kanal
    compact = _compact(tracking_id)

    def load():
        with kanal.engine.connect() as conn:
            return caseview.case_detail(conn, account, compact,
                                        categories=kanal.category_names,
                                        areas=kanal.case_engine, now=kanal.clock())

    detail = await run_in_threadpool(load)
    body = {**detail["report"], "timeline": detail["timeline"], "proofs": detail["proofs"],
            "actions": detail["actions"], "pii": detail["pii"],
            "overdue": detail["overdue"], "due_at": wib(detail["due_at"])}
    return JSONResponse(body, headers=NO_STORE)


@router.post("/staff/api/cases/{tracking_id}/actions", responses=CASE_ERRORS,
             summary="Take an action on a case", openapi_extra={"requestBody": ACTION_BODY})
async def act(request: Request, tracking_id: str,
              account: Staff = auth.require_token(*CASE_ROLES)) -> JSONResponse:
    """JSON `{"action", "reason", "unit", "due"}`, or multipart with `action` and the
    `photos` of a `resolve`. 200 with the new `status`, `unit`, `due_at` and the proof
    photos' `findings`; 403 when the role or unit may not take the action on this case
    (checked first), 409 when it may but not from the current status, 422 for a missing
    or wrong field (`field` names it), 404 for an unknown case."""
    kanal = request.app.state.kanal
    compact = _compact(tracking_id)
    fields, uploads = await _read_body(request, kanal.settings.max_photo_bytes)
    action = fields.get("action")
    if not action:
        raise ApiError(422, "missing_field", "give the action", field="action")

    def authorize() -> None:  # 404, 403 and 409 before the photos are looked at
        with kanal.engine.connect() as conn:
            kanal.cases.authorize(conn, account, compact, action)

    await run_in_threadpool(authorize)
    photos = check_photos(uploads, max_bytes=kanal.settings.max_photo_bytes) if uploads else []
    out = await run_in_threadpool(kanal.act_on_case, account, compact, ActionRequest(
        action, reason=fields.get("reason"), unit=fields.get("unit"), due=fields.get("due"),
        photos=photos))
    return JSONResponse({"tracking_id": tracking.display(out.tracking_id),
                         "status": out.status, "unit": out.unit_id,
                         "due_at": wib(out.due_at), "findings": out.findings},
                        headers=NO_STORE)


async def _read_body(request: Request, max_bytes: int) -> tuple[dict[str, Any], list]:
    """The action's fields (JSON, multipart or urlencoded) and its uploaded photos."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await read_form(request, max_files=10, max_part_size=max_bytes + 1)
        try:
            fields = {k: form.get(k) for k in FIELDS}
            wrong = [k for k, v in fields.items() if v is not None and not isinstance(v, str)]
            if wrong:
                raise ApiError(422, "invalid_field", f"{wrong[0]} must be text",
                               field=wrong[0])
            uploads = await read_uploads(form, max_count=10, max_bytes=max_bytes)
        finally:
            await form.close()
        return fields, uploads
    if kind != "application/json":
        raise ApiError(415, "unsupported_media_type", "send application/json, or "
                       "multipart/form-data with the photos")
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "malformed_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_field", "the body must be a JSON object", field="body")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ApiError(422, "invalid_field", f"unknown field {unknown[0]!r}; fields: "
                       f"{', '.join(FIELDS)} (photos: multipart)", field=unknown[0])
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise ApiError(422, "invalid_field", f"{key} must be a string", field=key)
    return {k: body.get(k) for k in FIELDS}, []

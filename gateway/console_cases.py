"""The officer screen, CRM Petugas in the browser (issue 12): a unit's queue by SLA risk,
the case page, and one form per action this account may take (claim, coordinate,
dispose, EWS, reject, resolve with photos, verify, return, a note to the citizen).

Every form works without JavaScript and on a phone. What is shown and allowed comes from
``core.caseview`` and ``core.cases``; an action goes through ``Kanal.act_on_case`` and a
refusal re-renders the case page with its reason and status (403, 409, 413, 415, 422),
never a 500. Officers and supervisors work cases; admins may look."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from core import caseview, forwarding, tracking
from core.cases import ACTIONS, ActionRequest, STATUSES
from core.errors import ApiError
from core.outline import outline
from core.proofs import MAX_PROOF_PHOTOS
from core.staff import Staff
from core.uploads import check_photos, read_form, read_uploads
from gateway import auth
from gateway.console_health import wib
from gateway.staff_pages import NO_STORE, page

router = APIRouter(include_in_schema=False)
ROLES = ("officer", "supervisor", "admin")
PAGE_SIZE = 50
FORM_FIELDS = ("action", "reason", "unit", "due")
FILTERS = ("status", "category", "area", "channel", "since", "until", "unit")
REJECT_REASONS = ("Bukan kewenangan Pemprov DKI Jakarta", "Duplikat laporan lain",
                  "Bukan pengaduan")


def when(iso: str | None) -> str:
    """An ISO 8601 time of the read models as the staff pages show times."""
    return wib(datetime.fromisoformat(iso)) if iso else ""


def time_left(due: datetime | None, now: datetime) -> dict[str, Any] | None:
    """How long until the deadline, or since it passed: days, hours and minutes."""
    if due is None:
        return None
    seconds = int((due - now).total_seconds())
    minutes = abs(seconds) // 60
    return {"overdue": seconds < 0, "days": minutes // 1440, "hours": minutes % 1440 // 60,
            "minutes": minutes % 60}


# -- the queue -----------------------------------------------------------------------


def _filters(request: Request, account: Staff) -> dict[str, str]:
    typed = {k: (request.query_params.get(k) or "").strip() for k in FILTERS}
    if account.role == "officer":
        typed["unit"] = ""
    return typed


@router.get("/staff/cases")
async def case_list(request: Request, account: Staff = auth.require(*ROLES)) -> Response:
    kanal = request.app.state.kanal
    typed = _filters(request, account)
    raw_page = request.query_params.get("page") or "1"
    number = int(raw_page) if raw_page.isdigit() and 0 < len(raw_page) < 6 else 1
    number = max(number, 1)
    now = kanal.clock()

    def load():
        with kanal.engine.connect() as conn:
            return caseview.queue(
                conn, account, status=typed["status"] or None,
                category=typed["category"] or None, area=typed["area"] or None,
                channel=typed["channel"] or None,
                since=caseview.day_bounds(typed["since"], "since"),
                until=caseview.day_bounds(typed["until"], "until", end=True),
                unit=typed["unit"] or None, limit=PAGE_SIZE + 1,
                offset=(number - 1) * PAGE_SIZE, now=now)

    error = None
    try:
        rows = await run_in_threadpool(load)
    except ApiError as exc:
        rows, error = [], exc
    shown = {k: v for k, v in typed.items() if v}

    def link(to: int) -> str:
        return "/staff/cases?" + urlencode({**shown, "page": to})

    return page(request, "staff_cases.html", {
        "rows": [{"row": r, "left": time_left(r.due_at, now)} for r in rows[:PAGE_SIZE]],
        "typed": typed, "error": error, "statuses": STATUSES,
        "channels": sorted({c.config.official_channel for c in kanal.channels}),
        "category_names": kanal.category_names, "wib": wib, "page_no": number,
        "next_link": link(number + 1) if len(rows) > PAGE_SIZE else None,
        "prev_link": link(number - 1) if number > 1 else None,
        "handed": _handed(request),
    }, status_code=error.status_code if error else 200)


def _handed(request: Request) -> dict[str, str] | None:
    """The case an officer just handed to another unit (after the redirect)."""
    action, raw = request.query_params.get("done"), request.query_params.get("case") or ""
    if action not in ("coordinate", "dispose") or not tracking.is_valid(raw):
        return None
    return {"action": action, "tracking_id": tracking.display(raw)}


# -- one case ------------------------------------------------------------------------


def _compact(raw: str) -> str:
    try:
        return tracking.normalize(raw)
    except tracking.InvalidTrackingID:
        raise ApiError(404, "not_found", f"no case {raw}") from None


def _load_case(kanal, account: Staff, compact: str) -> dict[str, Any]:
    with kanal.engine.connect() as conn:
        detail = caseview.case_detail(conn, account, compact,
                                      categories=kanal.category_names,
                                      areas=kanal.case_engine, now=kanal.clock())
        detail["units"] = caseview.form_units(conn, detail["row"], kanal.cases.dinas_for,
                                              kanal.cases.sudin_for)
        detail["forward_to"] = forwarding.targets(conn, kanal.adapters, detail["row"],
                                                  account.role)
    row = detail["row"]
    geometry = (kanal.boundaries.geometry(row.kelurahan_code)
                if kanal.boundaries is not None and row.kelurahan_code else None)
    point = (row.lat, row.lon) if row.lat is not None and row.lon is not None else None
    detail["outline"] = outline(geometry, point) if geometry is not None else None
    return detail


async def case_page(request: Request, account: Staff, raw_id: str, *, status_code: int = 200,
                    error: ApiError | None = None, typed: dict | None = None) -> Response:
    """The case page; with ``error`` the refused action's reason above the forms."""
    kanal = request.app.state.kanal
    try:
        detail = await run_in_threadpool(_load_case, kanal, account, _compact(raw_id))
    except ApiError as exc:
        return page(request, "staff_case_missing.html", {"error": exc, "raw": raw_id},
                    status_code=exc.status_code)
    now = kanal.clock()
    return page(request, "staff_case.html", {
        **detail, "error": error, "typed": typed or dict.fromkeys(FORM_FIELDS, ""), "wib": wib, "when": when,
        "left": time_left(detail["due_at"], now), "reject_reasons": REJECT_REASONS,
        "category_names": kanal.category_names, "max_photos": MAX_PROOF_PHOTOS,
        "done": request.query_params.get("done") if status_code == 200 else None,
        "actions_known": ACTIONS,
    }, status_code=status_code)


@router.get("/staff/cases/{tracking_id}")
async def case_view(request: Request, tracking_id: str,
                    account: Staff = auth.require(*ROLES)) -> Response:
    return await case_page(request, account, tracking_id)


@router.get("/staff/cases/{tracking_id}/proof/{photo_id}")
async def proof_photo(request: Request, tracking_id: str, photo_id: int,
                      account: Staff = auth.require(*ROLES)) -> Response:
    """A proof photo as it was sent (EXIF and all: it is evidence), for staff who may see
    the case; the public gets copies without metadata at /api/v1/reports/.../proof/."""
    kanal = request.app.state.kanal

    def load():
        with kanal.engine.connect() as conn:
            proof = caseview.proof_file(conn, account, _compact(tracking_id), photo_id)
        return kanal.store.open(proof.sha256), proof.media_type

    try:
        data, media_type = await run_in_threadpool(load)
    except ApiError as exc:
        return Response(exc.reason, status_code=exc.status_code, media_type="text/plain",
                        headers=NO_STORE)
    return Response(data, media_type=media_type, headers={
        **NO_STORE, "X-Content-Type-Options": "nosniff"})


async def _photos(form, kanal) -> list:
    uploads = await read_uploads(form, max_count=MAX_PROOF_PHOTOS,
                                 max_bytes=kanal.settings.max_photo_bytes, keys=("photos",))
    return check_photos(uploads, max_bytes=kanal.settings.max_photo_bytes)


@router.post("/staff/cases/{tracking_id}/actions")
async def case_action(request: Request, tracking_id: str,
                      account: Staff = auth.require(*ROLES)) -> Response:
    kanal = request.app.state.kanal
    try:
        form = await read_form(request, max_files=MAX_PROOF_PHOTOS + 1)
    except ApiError as exc:
        return await case_page(request, account, tracking_id, status_code=exc.status_code,
                               error=exc)
    try:
        typed = {k: str(form.get(k) or "").strip() for k in FORM_FIELDS}
        if not auth.csrf_ok(request, form.get("csrf")):
            return await case_page(request, account, tracking_id, status_code=403,
                                   error=ApiError(403, "csrf", "the form has expired"),
                                   typed=typed)
        try:
            photos = await _photos(form, kanal) if typed["action"] == "resolve" else []
            action = ActionRequest(typed["action"], reason=typed["reason"] or None,
                                   unit=typed["unit"] or None, due=typed["due"] or None,
                                   photos=photos)
            outcome = await run_in_threadpool(kanal.act_on_case, account,
                                              _compact(tracking_id), action)
        except ApiError as exc:
            return await case_page(request, account, tracking_id, status_code=exc.status_code,
                                   error=exc, typed=typed)
    finally:
        await form.close()
    # handed to another unit: the officer no longer sees the case, its queue says so
    target = (f"/staff/cases?{urlencode({'done': typed['action'], 'case': outcome.tracking_id})}"
              if account.role == "officer" and outcome.unit_id != account.unit_id
              else f"/staff/cases/{outcome.tracking_id}?done={typed['action']}")
    response = RedirectResponse(target, status_code=303)
    response.headers.update(NO_STORE)
    return response


@router.post("/staff/cases/{tracking_id}/forward")
async def case_forward(request: Request, tracking_id: str,
                       account: Staff = auth.require(*ROLES)) -> Response:
    """Forward the report to another system (LAPOR!): supervisors, core.forwarding."""
    kanal = request.app.state.kanal
    form = await request.form()
    try:
        if not auth.csrf_ok(request, form.get("csrf")):
            return await case_page(request, account, tracking_id, status_code=403,
                                   error=ApiError(403, "csrf", "the form has expired"))
        try:
            await run_in_threadpool(kanal.forward_report, account.username, account.role,
                                    _compact(tracking_id), str(form.get("channel") or ""))
        except ApiError as exc:
            return await case_page(request, account, tracking_id,
                                   status_code=exc.status_code, error=exc)
    finally:
        await form.close()
    response = RedirectResponse(f"/staff/cases/{_compact(tracking_id)}?done=forward",
                                status_code=303)
    response.headers.update(NO_STORE)
    return response

"""The counter form ``/staff/walk-in`` (its receipt is in ``receipt.py``).

A submission goes through the same path as every channel: the checked form and its files
are committed to the inbox and processed by the pipeline before the clerk sees the
receipt. On any problem the form comes back with what the clerk typed, and nothing is
saved. Works without JavaScript.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from adapters.walk_in.payloads import CONTENT_TYPE, FORM_FIELDS, WalkInInbox
from core import tracking
from core.adapter import Envelope, staff_only
from core.errors import ApiError
from core.models import utcnow
from core.offices import KINDS
from core.reportform import Problem, check_report, submission_id
from core.staff import Staff
from core.storage import IMAGE_TYPES
from core.uploads import check_photos, file_parts, read_form, read_uploads, store_photos

router = APIRouter(include_in_schema=False)
FILE_KEYS = ("files",)
FILE_TYPES = IMAGE_TYPES | {"application/pdf"}


def _channel(kanal, office) -> Any:
    """The running walk-in channel of the office's kind, or None."""
    official = KINDS.get(office.kind) if office is not None else None
    return next((c.adapter for c in kanal.channels if c.adapter is not None
                 and c.config.adapter == "walk_in" and c.official.id == official), None)


def render_form(request: Request, values: dict[str, Any], problems: list[Problem] = (),
                *, status_code: int = 200, files_lost: int = 0,
                staff: Staff | None = None) -> Response:
    kanal = request.app.state.kanal
    account = staff or getattr(request.state, "staff", None)
    office = kanal.staff_office(account.office_id) if account else None
    form = {k: v if isinstance(v := values.get(k), str) else "" for k in FORM_FIELDS}
    form["submission_id"] = str(submission_id(form["submission_id"] or None, strict=False))
    field_errors: dict[str, Problem] = {}
    for p in problems:
        field_errors.setdefault(p.field or "", p)
    places = kanal.boundaries.places() if kanal.boundaries is not None else []
    settings = kanal.settings
    return kanal.staff_page(request, "walk_in.html", {
        "form": form, "errors": list(problems), "field_errors": field_errors,
        "places": places, "files_lost": files_lost,
        "channel_ready": _channel(kanal, office) is not None, "office": office,
        "limits": {"text": settings.max_text_chars, "files": settings.max_photos,
                   "file_mb": f"{settings.max_photo_bytes / (1024 * 1024):g}"},
    }, status_code=status_code, staff=account)


def _defaults(request: Request, account: Staff) -> dict[str, str]:
    office = request.app.state.kanal.staff_office(account.office_id)
    own = office.area_code if office is not None and (office.area_code or "").count(".") == 3 \
        else ""
    return {"kelurahan": own, "submission_id": secrets.token_urlsafe(16)}


@router.get("/staff/walk-in")
async def form_page(request: Request, account: Staff = staff_only("counter")) -> Response:
    return render_form(request, await run_in_threadpool(_defaults, request, account))


@router.post("/staff/walk-in")
async def form_submit(request: Request,
                      account: Staff | None = staff_only("counter", keep_form=True)
                      ) -> Response:
    kanal = request.app.state.kanal
    settings = kanal.settings
    try:
        form = await read_form(request, max_files=settings.max_photos + 5)
    except ApiError as exc:
        return render_form(request, {}, [Problem.from_error(exc)], status_code=400)
    try:
        raw = {k: v for k in FORM_FIELDS if isinstance(v := form.get(k), str)}
        sent = len(file_parts(form, FILE_KEYS))
        if account is None:  # signed out meanwhile: keep what was typed, save nothing
            return render_form(request, raw, [Problem(401, "session_expired", None, "")],
                               status_code=401, files_lost=sent)
        if not kanal.csrf_ok(request, form.get("csrf")):
            return render_form(request, raw, [Problem(403, "csrf", None, "")],
                               status_code=403, files_lost=sent)
        problems: list[Problem] = []
        try:
            uploads = await read_uploads(form, max_count=settings.max_photos,
                                         max_bytes=settings.max_photo_bytes, keys=FILE_KEYS)
        except ApiError as exc:
            uploads = []
            problems.append(Problem.from_error(exc, "files"))
    finally:
        await form.close()
    return await _accept(request, account, raw, uploads, problems, sent)


def _review(kanal, raw: dict[str, Any], uploads, problems: list[Problem]):
    fields = {k: raw.get(k) for k in ("text", "category", "address", "name", "phone", "email")}
    report, found = check_report(fields, max_text_chars=kanal.settings.max_text_chars,
                          categories={c["id"] for c in kanal.category_list})
    problems = problems + found
    code = (raw.get("kelurahan") or "").strip() or None
    if code is not None and (kanal.boundaries is None or code not in kanal.boundaries):
        problems.append(Problem(422, "unknown_kelurahan", "kelurahan", "pick from the list"))
    consent = raw.get("consent") == "yes"
    if consent and not ((raw.get("phone") or "").strip() or (raw.get("email") or "").strip()):
        problems.append(Problem(422, "consent_without_contact", "consent",
                                "a phone number or an email is needed for notifications"))
    checked = []
    if not any(p.field == "files" for p in problems):
        try:
            checked = check_photos(uploads, max_bytes=kanal.settings.max_photo_bytes,
                                   allowed=FILE_TYPES)
        except ApiError as exc:
            problems.append(Problem.from_error(exc, "files"))
    order = {name: i for i, name in enumerate(FORM_FIELDS + ("files",))}
    problems.sort(key=lambda p: order.get(p.field or "", -1))
    return report, code, consent, checked, problems


async def _accept(request: Request, account: Staff, raw: dict[str, Any], uploads,
                  problems: list[Problem], sent: int) -> Response:
    kanal = request.app.state.kanal
    office = await run_in_threadpool(kanal.staff_office, account.office_id)
    adapter = _channel(kanal, office)
    if adapter is None:
        return render_form(request, raw, [Problem(503, "channel_disabled", None, "")],
                           status_code=503, files_lost=sent)
    report, code, consent, checked, problems = _review(kanal, raw, uploads, problems)
    if problems:
        return render_form(request, raw, problems, status_code=problems[0].status,
                           files_lost=sent)
    files = await run_in_threadpool(store_photos, kanal.store, checked)
    payload = WalkInInbox(office_id=office.id, office_area=office.area_code,
                          clerk=account.username, report=report, kelurahan_code=code,
                          consent=consent, files=files).model_dump_json(
                              exclude_none=True).encode()
    nonce = str(submission_id(raw.get("submission_id"), strict=False))
    result = await adapter.runtime.ingest(Envelope(
        channel=adapter.channel_id,
        external_id=f"{nonce}.{hashlib.sha256(payload).hexdigest()[:16]}",
        payload=payload, content_type=CONTENT_TYPE,
        received_at=utcnow()))
    if result.tracking_id is None:
        return render_form(request, raw, [Problem(202, "quarantined", None, "")],
                           status_code=202)
    return RedirectResponse(f"/staff/walk-in/receipt/{tracking.display(result.tracking_id)}",
                            status_code=303)

"""The public form: ``GET/POST /lapor`` and the receipt ``GET /lapor/terima/{tracking_id}``.

Works without JavaScript. On a problem the form comes back with every value the citizen
typed and an error summary; on success the browser is sent (303) to the receipt, so a
refresh does not post again, and the form's ``submission_id`` makes a double post give the
same tracking ID.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine, select

from adapters.web.inbound import accept, client_key, read_multipart, review, web_adapter
from adapters.web.payloads import FORM_FIELDS, HONEYPOT
from core import rating, tracking
from core.errors import ApiError
from core.models import Report
from core.reportform import Problem, submission_id

if TYPE_CHECKING:
    from adapters.web.plugin import WebAdapter

router = APIRouter(include_in_schema=False)

_FORM_MEDIA = ("multipart/form-data", "application/x-www-form-urlencoded")
_LANG = re.compile(r"[a-z]{2}")


def lang_query(request: Request, **more: str) -> str:
    """``?lang=..`` carried from the request (so a page in English stays English)."""
    params = dict(more)
    lang = request.query_params.get("lang", "")
    if _LANG.fullmatch(lang):
        params = {"lang": lang, **params}
    return ("?" + "&".join(f"{k}={v}" for k, v in params.items())) if params else ""


def render_form(request: Request, adapter: WebAdapter, values: Mapping[str, Any],
                problems: Sequence[Problem] = (), *, status_code: int = 200,
                photos_lost: int = 0, headers: Mapping[str, str] | None = None) -> Response:
    settings = adapter.runtime.settings
    form = {k: v if isinstance(v := values.get(k), str) else "" for k in FORM_FIELDS}
    form[HONEYPOT] = ""
    form["submission_id"] = str(submission_id(form["submission_id"] or None, strict=False))
    errors = [{"field": p.field, "code": p.code, "params": p.params} for p in problems]
    field_errors: dict[str, dict] = {}
    for e in errors:
        if e["field"]:
            field_errors.setdefault(e["field"], e)
    response = adapter.runtime.render(request, "lapor.html", {
        "form": form, "errors": errors, "field_errors": field_errors,
        "action": "/lapor" + lang_query(request), "photos_lost": photos_lost,
        "limits": {"text": settings.max_text_chars, "photos": settings.max_photos,
                   "photo_mb": f"{settings.max_photo_bytes / (1024 * 1024):g}"},
    }, status_code=status_code)
    response.headers.update({"Cache-Control": "no-store", **(headers or {})})
    return response


@router.get("/lapor")
async def form_page(request: Request) -> Response:
    return render_form(request, web_adapter(request), {"submission_id": secrets.token_urlsafe(16)})


@router.post("/lapor")
async def form_submit(request: Request) -> Response:
    adapter = web_adapter(request)
    wait = adapter.limiter.take(client_key(request))
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _FORM_MEDIA:
        problem = Problem(415, "unsupported_media_type", None, "send the form")
        return render_form(request, adapter, {}, [problem], status_code=415)
    try:
        sub = await read_multipart(request, adapter, report_part=False)
    except ApiError as exc:
        return render_form(request, adapter, {}, [Problem.from_error(exc)],
                           status_code=exc.status_code)
    if wait:
        problem = Problem(429, "rate_limited", None, "too many reports", {"retry_after": wait})
        return render_form(request, adapter, sub.raw, [problem], status_code=429,
                           photos_lost=sub.photos_sent, headers={"Retry-After": str(wait)})
    report, checked, problems = review(adapter, sub)
    if problems:
        return render_form(request, adapter, sub.raw, problems,
                           status_code=problems[0].status, photos_lost=sub.photos_sent)
    key = str(submission_id(sub.raw.get("submission_id"), strict=False))
    result = await accept(adapter, report, checked, key=key, source="form",
                          per_content=True)
    if result.tracking_id is None:  # kept in the inbox, but quarantined
        response = adapter.runtime.render(request, "terima.html", {
            "tracking_id": None, "status": None, "follow_up": False, "rating_link": None},
            status_code=202)
        return response
    # a new report's reporter gets its rating link here, and only here (core.rating)
    more = ({"tambahan": "1"} if result.follow_up else
            {"t": rating.rating_token(adapter.runtime.rating_prompts.secret,
                                      result.tracking_id)})
    return RedirectResponse(
        f"/lapor/terima/{tracking.display(result.tracking_id)}{lang_query(request, **more)}",
        status_code=303)


def _status(engine: Engine, compact: str) -> str | None:
    table = Report.__table__
    with engine.connect() as conn:
        return conn.execute(select(table.c.status)
                            .where(table.c.tracking_id == compact)).scalar_one_or_none()


@router.get("/lapor/terima/{tracking_id}")
async def receipt(request: Request, tracking_id: str) -> Response:
    adapter = web_adapter(request)
    kanal = request.app.state.kanal
    status = None
    try:
        compact = tracking.normalize(tracking_id)
    except tracking.InvalidTrackingID as exc:
        error = "mistyped" if exc.reason == "checksum" else "invalid"
    else:
        status = await run_in_threadpool(_status, kanal.engine, compact)
        error = None if status else "not_found"
    if error:
        response = adapter.runtime.render(request, "lacak_form.html",
                                          {"error": error, "value": tracking_id},
                                          status_code=404)
    else:
        token = request.query_params.get("t")
        link = None
        if rating.token_matches(kanal.rating_prompts.secret, compact, token):
            link = rating.rating_link(kanal.settings.public_base_url
                                      or str(request.base_url), kanal.rating_prompts.secret,
                                      compact)
        response = adapter.runtime.render(request, "terima.html", {
            "tracking_id": tracking.display(compact), "status": status,
            "follow_up": request.query_params.get("tambahan") == "1", "rating_link": link})
    return response

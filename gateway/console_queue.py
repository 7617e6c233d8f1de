"""Quarantine and the outbox from the browser (admins and operators): list quarantined
payloads, open one (the payload itself only for admins: it holds personal data), replay it
through the pipeline or discard it with a reason; list dead and failing outbox items and
queue a dead one again. Each action is audited under the staff member's username, and a
stale one (the row changed meanwhile, an unknown id) changes nothing and says why."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from core import inbox, outbox, tracking
from core.db import writing
from core.errors import ApiError
from core.staff import Staff
from gateway import auth
from gateway.console_health import WATCHERS, wib
from gateway.staff_pages import page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def mask(recipient: str | None) -> str:
    """A recipient as an operator sees it: enough to tell two apart, not to contact."""
    value = recipient or ""
    if "@" in value:
        name, _, domain = value.partition("@")
        return f"{name[:1]}•••@{domain}"
    return f"{value[:4]}•••{value[-2:]}" if len(value) > 8 else "•••"


def show_payload(content_type: str, payload: bytes) -> dict:
    """The payload as text (JSON indented) when it decodes as UTF-8, else its size and
    type only."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return {"text": None, "size": len(payload), "type": content_type}
    if "json" in content_type:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass  # shown as it came
    return {"text": text, "size": len(payload), "type": content_type}


def _id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", f"no item {raw}")
    return int(raw)


def stale(request: Request, exc: ApiError, back: str) -> Response:
    """The page for an action that cannot be done (any more): nothing was changed."""
    return page(request, "staff_queue_error.html", {
        "error": exc.error, "reason": exc.reason, "state": exc.extra.get("state"),
        "back": back}, status_code=exc.status_code)


def _channel_filter(request: Request) -> tuple[str | None, int | None]:
    channel = (request.query_params.get("channel") or "").strip() or None
    before = request.query_params.get("before") or ""
    return channel, int(before) if before.isdigit() and len(before) < 18 else None


# -- quarantine ------------------------------------------------------------------------


@router.get("/staff/quarantine")
async def quarantine_list(request: Request,
                          account: Staff = auth.require(*WATCHERS)) -> Response:
    kanal = request.app.state.kanal
    channel, before = _channel_filter(request)

    def load():
        with kanal.engine.connect() as conn:
            return inbox.quarantined(conn, channel=channel, limit=PAGE_SIZE + 1,
                                     before=before)

    rows = await run_in_threadpool(load)
    return page(request, "staff_quarantine.html", {
        "rows": rows[:PAGE_SIZE], "more": rows[PAGE_SIZE - 1]["id"]
        if len(rows) > PAGE_SIZE else None, "channel": channel or "",
        "channels": [c.config.id for c in kanal.channels], "wib": wib})


def _item_page(request: Request, account: Staff, row, *, status_code: int = 200,
               **extra) -> Response:
    return page(request, "staff_quarantine_item.html", {
        "row": row, "admin": account.role == "admin", "wib": wib,
        "payload": show_payload(row.content_type, row.payload)
        if account.role == "admin" else None,
        "result": None, "error": None, "reason": "", "discarded": False, **extra},
        status_code=status_code)


async def _load_item(request: Request, raw_id: str):
    kanal = request.app.state.kanal
    item_id = _id(raw_id)

    def load():
        with kanal.engine.connect() as conn:
            return inbox.item(conn, item_id)

    row = await run_in_threadpool(load)
    if row is None:
        raise ApiError(404, "not_found", f"no inbox item {item_id}")
    return row


@router.get("/staff/quarantine/{item_id}")
async def quarantine_item(request: Request, item_id: str,
                          account: Staff = auth.require(*WATCHERS)) -> Response:
    try:
        row = await _load_item(request, item_id)
    except ApiError as exc:
        return stale(request, exc, "/staff/quarantine")
    return _item_page(request, account, row)


@router.post("/staff/quarantine/{item_id}/replay")
async def quarantine_replay(request: Request, item_id: str,
                            account: Staff = auth.require(*WATCHERS)) -> Response:
    kanal = request.app.state.kanal
    form = await request.form()
    try:
        row = await _load_item(request, item_id)
        if not auth.csrf_ok(request, form.get("csrf")):
            return _item_page(request, account, row, status_code=403, error="csrf")
        result = await run_in_threadpool(inbox.replay_one, kanal.engine, kanal.pipeline,
                                         row.id, actor=account.username)
        row = await _load_item(request, item_id)
    except ApiError as exc:
        return stale(request, exc, "/staff/quarantine")
    return _item_page(request, account, row, result={
        "tracking_id": tracking.display(result.tracking_id) if result.tracking_id else None,
        "quarantined": result.quarantined, "error": result.error,
        "follow_up": result.follow_up})


@router.post("/staff/quarantine/{item_id}/discard")
async def quarantine_discard(request: Request, item_id: str,
                             account: Staff = auth.require(*WATCHERS)) -> Response:
    kanal = request.app.state.kanal
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    try:
        row = await _load_item(request, item_id)
        if not auth.csrf_ok(request, form.get("csrf")):
            return _item_page(request, account, row, status_code=403, error="csrf",
                              reason=reason)
        if not reason:
            return _item_page(request, account, row, status_code=422,
                              error="reason_required")

        def discard():
            with writing(kanal.engine) as conn:
                inbox.discard(conn, row.id, reason, actor=account.username)

        await run_in_threadpool(discard)
        row = await _load_item(request, item_id)
    except ApiError as exc:
        return stale(request, exc, "/staff/quarantine")
    return _item_page(request, account, row, discarded=True)


# -- outbox ----------------------------------------------------------------------------


@router.get("/staff/outbox")
async def outbox_list(request: Request, account: Staff = auth.require(*WATCHERS)) -> Response:
    kanal = request.app.state.kanal
    channel, before = _channel_filter(request)

    def load():
        with kanal.engine.connect() as conn:
            return outbox.troubled(conn, channel=channel, limit=PAGE_SIZE + 1, before=before)

    rows = await run_in_threadpool(load)
    admin = account.role == "admin"
    for r in rows:
        r["recipient_shown"] = r["recipient"] if admin else mask(r["recipient"])
        r["tracking_shown"] = tracking.display(r["tracking_id"]) if r["tracking_id"] else ""
    return page(request, "staff_outbox.html", {
        "rows": rows[:PAGE_SIZE], "more": rows[PAGE_SIZE - 1]["id"]
        if len(rows) > PAGE_SIZE else None, "channel": channel or "",
        "channels": [c.config.id for c in kanal.channels], "wib": wib,
        "retried": request.query_params.get("retried", "")})


@router.post("/staff/outbox/{item_id}/retry")
async def outbox_retry(request: Request, item_id: str,
                       account: Staff = auth.require(*WATCHERS)) -> Response:
    kanal = request.app.state.kanal
    form = await request.form()
    if not auth.csrf_ok(request, form.get("csrf")):
        return stale(request, ApiError(403, "csrf", "the form has expired"), "/staff/outbox")
    try:
        number = _id(item_id)

        def retry():
            with writing(kanal.engine) as conn:
                outbox.retry_one(conn, number, actor=account.username)

        await run_in_threadpool(retry)
    except ApiError as exc:
        return stale(request, exc, "/staff/outbox")
    return RedirectResponse(f"/staff/outbox?retried={number}", status_code=303)

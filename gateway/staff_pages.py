"""The staff side: sign in and out, the start page, report lookup at the counter and the
operations page. Every route but the sign-in page declares ``auth.require(...)``."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from core import reports, tracking
from core import staff as staff_mod
from core.db import writing
from core.health import all_health
from core.models import Office
from core.staff import Staff
from gateway import auth
from gateway.auth import Forbidden, LoginRequired

router = APIRouter(include_in_schema=False)
office_t = Office.__table__
NO_STORE = {"Cache-Control": "no-store"}


def page(request: Request, template: str, context: dict[str, Any], *,
         status_code: int = 200, staff: Staff | None = None) -> Response:
    """A staff page: the account, its office and the CSRF token are in the context, and
    the session cookie goes with every page (forms need its token)."""
    kanal = request.app.state.kanal
    session = auth.session_of(request)
    account = staff or getattr(request.state, "staff", None)
    if "office" not in context:  # the caller may have read it already
        context = {**context, "office": kanal_office(kanal, account.office_id)
                   if account and account.office_id else None}
    response = kanal.render(request, template, {
        "staff": account, "csrf": session.csrf, **context,
    }, status_code=status_code)
    response.headers.update(NO_STORE)
    auth.auth_of(request).write(request, response, session)
    return response


def kanal_office(kanal, office_id: str):
    with kanal.engine.connect() as conn:
        return conn.execute(select(office_t).where(office_t.c.id == office_id)).first()


def safe_next(raw: str | None) -> str:
    target = unquote(raw or "")
    if target.startswith("/staff") and not target.startswith("//") and "\\" not in target:
        return target
    return "/staff"


# -- sign in and out -------------------------------------------------------------------


@router.get("/staff/login")
async def login_form(request: Request) -> Response:
    return page(request, "staff_login.html", {
        "username": "", "next": safe_next(request.query_params.get("next")),
        "error": "expired" if request.query_params.get("expired") else None})


@router.post("/staff/login")
async def login(request: Request) -> Response:
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))

    def again(error: str, status: int, **extra) -> Response:
        return page(request, "staff_login.html", {
            "username": username, "next": target, "error": error, **extra},
            status_code=status)

    if not auth.csrf_ok(request, form.get("csrf")):
        return again("csrf", 403)
    a = auth.auth_of(request)
    client = request.client.host if request.client else None
    wait = a.sign_in.wait(username, client)
    if wait:
        response = again("throttled", 429, minutes=max(1, (wait + 59) // 60))
        response.headers["Retry-After"] = str(wait)
        return response
    if not username or not password:
        return again("missing", 422)
    kanal = request.app.state.kanal

    def check() -> Staff | None:
        with writing(kanal.engine) as conn:
            return staff_mod.authenticate(conn, username, password)

    account = await run_in_threadpool(check)
    if account is None:
        a.sign_in.fail(username, client)
        return again("wrong", 401)
    a.sign_in.succeeded(username, client)
    # the CSRF token is kept, so a form left open while the session ran out can be sent
    # once its clerk has signed in again in another tab; the signed cookie is new
    session = auth.Session(csrf=auth.session_of(request).csrf, staff_id=account.id,
                           issued=time.time())
    response = RedirectResponse(target, status_code=303)
    a.write(request, response, session)
    return response


@router.post("/staff/logout")
async def logout(request: Request, account: Staff = auth.require()) -> Response:
    form = await request.form()
    if not auth.csrf_ok(request, form.get("csrf")):
        return page(request, "staff_home.html", {"error": "csrf"}, status_code=403)
    response = RedirectResponse(auth.LOGIN_PATH, status_code=303)
    auth.auth_of(request).end(request, response)
    return response


# -- pages ---------------------------------------------------------------------------


@router.get("/staff")
async def home(request: Request, account: Staff = auth.require()) -> Response:
    return page(request, "staff_home.html", {"error": None})


@router.get("/staff/lookup")
async def lookup(request: Request, account: Staff = auth.require()) -> Response:
    """Counter staff type a tracking ID and tell the citizen its status and timeline."""
    raw = (request.query_params.get("id") or "").strip()
    if not raw:
        return page(request, "staff_lookup.html", {"value": "", "error": None, "view": None})
    kanal = request.app.state.kanal
    try:
        compact = tracking.normalize(raw)
    except tracking.InvalidTrackingID as exc:
        error = "mistyped" if exc.reason == "checksum" else "invalid"
        return page(request, "staff_lookup.html", {"value": raw, "error": error, "view": None},
                    status_code=404)

    def load():
        with kanal.engine.connect() as conn:
            return reports.staff_report(conn, compact, categories=kanal.category_names,
                                        areas=kanal.case_engine)

    view = await run_in_threadpool(load)
    return page(request, "staff_lookup.html", {
        "value": raw, "error": None if view else "not_found", "view": view},
        status_code=200 if view else 404)


@router.get("/staff/password")
async def password_form(request: Request, account: Staff = auth.require()) -> Response:
    return page(request, "staff_password.html", {"error": None, "done": False})


@router.post("/staff/password")
async def password_change(request: Request, account: Staff = auth.require()) -> Response:
    """Every account changes its own password: the current one, then the new one twice.
    Other sessions of the account end; this one goes on."""
    form = await request.form()

    def again(error: str, status: int) -> Response:
        return page(request, "staff_password.html", {"error": error, "done": False},
                    status_code=status)

    if not auth.csrf_ok(request, form.get("csrf")):
        return again("csrf", 403)
    current, new, repeat = (str(form.get(k) or "") for k in ("current", "new", "repeat"))
    if new != repeat:
        return again("mismatch", 422)
    if len(new) < staff_mod.MIN_PASSWORD:
        return again("short", 422)
    # guessing through a stolen session counts as failed sign-ins
    throttle = auth.auth_of(request).sign_in
    client = request.client.host if request.client else None
    if wait := throttle.wait(account.username, client):
        response = again("throttled", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    kanal = request.app.state.kanal

    def change() -> bool:
        with writing(kanal.engine) as conn:
            if staff_mod.authenticate(conn, account.username, current) is None:
                return False
            staff_mod.set_password(conn, account.username, new)
            return True

    if not await run_in_threadpool(change):
        throttle.fail(account.username, client)
        return again("wrong", 401)
    session = auth.session_of(request)
    session.issued = time.time()  # after the change: this session stays valid
    response = page(request, "staff_password.html", {"error": None, "done": True})
    auth.auth_of(request).write(request, response, session)
    return response


@router.get("/staff/admin")
async def admin(request: Request, account: Staff = auth.require("admin")) -> Response:
    """Operations: the channels and why any is disabled, the offices, the accounts."""
    kanal = request.app.state.kanal

    def load():
        with kanal.engine.connect() as conn:
            offices = conn.execute(select(office_t.c.kind, func.count())
                                   .group_by(office_t.c.kind)).all()
            return dict(offices), staff_mod.list_accounts(conn), all_health(conn)

    offices, accounts, health = await run_in_threadpool(load)
    return page(request, "staff_admin.html", {
        "channels": [{**c.as_dict(), "reason_code": c.reason_code,
                      "reason_params": c.reason_params,
                      "health": health.get(c.config.id)} for c in kanal.channels],
        "offices": offices,
        "accounts": accounts})


def install(app) -> None:
    """The staff routes and what turns the guard's exceptions into pages. The console's
    routers come last: ``/staff/channels/{id}`` must not shadow a fixed path beside it."""
    from gateway import console_edit, console_health, console_queue, officers_api

    app.include_router(router)
    app.include_router(officers_api.router)  # the app's API: a token, not a cookie
    app.include_router(console_edit.router)  # /staff/channels/new before .../{id}
    app.include_router(console_queue.router)
    app.include_router(console_health.router)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        response = RedirectResponse(auth.login_url(exc.next_path, exc.expired),
                                    status_code=303)
        response.headers.update(NO_STORE)
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return page(request, "staff_forbidden.html", {}, status_code=403, staff=exc.staff)

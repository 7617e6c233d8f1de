"""``/staff/units``: the category -> dinas map and the units. Admins route a category to
another dinas (or keep it with the kelurahan) and back to the file, rename a dinas, biro
or the Inspektorat, deactivate and reactivate any unit, and add a dinas or biro;
supervisors see the same page without its forms. The changes are ``core.routing``'s and
``core.unitedit``'s: validated and audited.

Each form carries the value it was shown (``was``): when someone changed it meanwhile the
change is refused with that reason and nothing is written."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from core import routing, unitedit
from core.db import writing
from core.health import wib_text
from core.models import AuditEvent
from core.routing import RouteError
from core.staff import Staff
from core.units import KINDS, list_units, unit
from core.unitsconf import configured
from gateway import auth
from gateway.staff_pages import page

router = APIRouter(include_in_schema=False)
audit_t = AuditEvent.__table__
ACTIONS = ("category_routed", "category_route_reset", "unit_renamed", "unit_deactivated",
           "unit_activated", "unit_added")
VIEWERS = ("admin", "supervisor")
BACK = "/staff/units"
# how each refusal answers (the others are 422: a value the form should not have sent)
STATUS = {"csrf": 403, "stale": 409, "exists": 409, "unknown_category": 404}


def _filtered(rows, kind: str, query: str) -> list:
    folded = query.casefold()
    return [r for r in rows if (not kind or r.kind == kind)
            and (not folded or folded in r.id.casefold() or folded in r.name.casefold())]


def _load(kanal, kind: str, query: str) -> dict[str, Any]:
    config = configured(kanal.settings)
    with kanal.engine.connect() as conn:
        units = list_units(conn)
        routes = routing.category_map(conn, config, kanal.categories())
        events = [dict(r._mapping) for r in conn.execute(
            select(audit_t).where(audit_t.c.action.in_(ACTIONS))
            .order_by(audit_t.c.id.desc()).limit(30))]
    for e in events:
        e["at"] = wib_text(e["at"])
    names = {u.id: u.name for u in units}
    in_file = {e.id for e in config.units}
    return {
        "routes": routes, "names": names,
        "targets": [u for u in units if u.kind in routing.ROUTE_KINDS and u.active],
        "offices": [{"u": u, "in_file": u.id in in_file} for u in units
                    if u.kind in unitedit.RENAMABLE],
        "all_units": _filtered(units, kind, query), "total": len(units),
        "events": events}


async def _page(request: Request, *, status_code: int = 200, **context: Any) -> Response:
    kanal = request.app.state.kanal
    kind = (request.query_params.get("kind") or "").strip()
    query = (request.query_params.get("q") or "").strip()
    if kind and kind not in KINDS:
        context.setdefault("refused", RouteError("bad_filter", f"no kind {kind!r}",
                                                 kind=kind))
        status_code, kind = 422, ""
    loaded = await run_in_threadpool(_load, kanal, kind, query)
    return page(request, "staff_units.html", {
        **loaded, "kinds": KINDS, "kind": kind, "q": query, "refused": None, "typed": {},
        "saved": request.query_params.get("saved"),
        **context}, status_code=status_code)


@router.get("/staff/units")
async def units_page(request: Request, account: Staff = auth.require(*VIEWERS)) -> Response:
    return await _page(request)


def _stale(what: str) -> RouteError:
    return RouteError("stale", f"{what} was changed meanwhile; nothing was changed",
                      what=what)


async def _change(request: Request, form, run, saved: str, *, typed: dict | None = None,
                  statuses: dict[str, int] | None = None) -> Response:
    """Run ``run(conn)`` in one transaction unless the form is stale; the page again with
    the refusal, or a redirect to it."""
    if not auth.csrf_ok(request, form.get("csrf")):
        return await _page(request, status_code=403, typed=typed or {},
                           refused=RouteError("csrf", "stale form"))
    kanal = request.app.state.kanal

    def transaction() -> None:
        with writing(kanal.engine) as conn:
            run(conn)

    try:
        await run_in_threadpool(transaction)
    except RouteError as refused:
        status = {**STATUS, **(statuses or {})}.get(refused.code, 422)
        return await _page(request, status_code=status, refused=refused, typed=typed or {})
    return RedirectResponse(f"{BACK}?saved={saved}", status_code=303)


@router.post("/staff/units/routes/{category}")
async def route(request: Request, category: str,
                account: Staff = auth.require("admin")) -> Response:
    """``dinas`` (empty: the kelurahan keeps it) or ``reset`` back to the file."""
    form = await request.form()
    kanal = request.app.state.kanal
    config = configured(kanal.settings)
    known = kanal.category_names.keys()
    was = str(form.get("was") or "") or None
    dinas = str(form.get("dinas") or "").strip() or None

    def run(conn) -> None:
        routing.check_category(category, known)
        now = kanal.clock()
        row = routing.category_map(conn, config, [{"id": category}])[0]
        if row.chosen != was:
            raise _stale(category)
        if form.get("reset"):
            routing.reset_route(conn, category, account.username, now, config=config,
                                known=known)
        else:
            routing.set_route(conn, category, dinas, account.username, now, config=config,
                              known=known)

    return await _change(request, form, run, "route")


@router.post("/staff/units/new")
async def add(request: Request, account: Staff = auth.require("admin")) -> Response:
    form = await request.form()
    kanal = request.app.state.kanal
    typed = {k: str(form.get(k) or "").strip() for k in ("id", "kind", "name")}
    typed["sudin"] = bool(form.get("sudin"))

    def run(conn) -> None:
        unitedit.add_unit(conn, typed["id"], typed["kind"], typed["name"], account.username,
                          kanal.clock(), sudin=typed["sudin"] and typed["kind"] == "dinas")

    return await _change(request, form, run, "added", typed=typed)


@router.post("/staff/units/{unit_id}/{action}")
async def edit(request: Request, unit_id: str, action: str,
               account: Staff = auth.require("admin")) -> Response:
    """``rename`` (``name``), ``deactivate`` or ``activate``."""
    form = await request.form()
    kanal = request.app.state.kanal
    if action not in ("rename", "deactivate", "activate"):
        return await _page(request, status_code=404, refused=RouteError(
            "unknown_action", f"no action {action!r}", action=action))
    was = str(form.get("was") or "")

    def run(conn) -> None:
        row = unit(conn, unit_id)
        if row is None:
            raise RouteError("unknown_unit", f"no unit {unit_id!r}", unit=unit_id)
        now = kanal.clock()
        if action == "rename":
            unitedit.rename_unit(conn, unit_id, str(form.get("name") or ""),
                                 account.username, now, expected=was)
        elif row.active is not (action == "deactivate"):
            raise _stale(unit_id)  # it already is what the button would make it
        else:
            unitedit.set_unit_active(conn, unit_id, action == "activate", account.username,
                                     now)

    return await _change(request, form, run, action, statuses={"unknown_unit": 404})

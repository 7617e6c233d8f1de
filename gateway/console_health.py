"""Health at a glance: ``/staff/channels`` (every channel, unhealthy first, with why), a
channel's own page with its figures and audit trail, and the same figures as JSON at
``/staff/api/channels``. Admins and operators; the figures are ``core.channelhealth``'s."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from core import audit, channelhealth
from core.health import wib_text
from core.staff import Staff
from gateway import auth
from gateway.staff_pages import NO_STORE, page

router = APIRouter(include_in_schema=False)
WATCHERS = ("admin", "operator")


def wib(value: datetime | None) -> str:
    """A time as the staff pages show it: ``14:20 WIB, 01-12-2026`` (empty for none)."""
    return wib_text(value) or ""


def _figures(kanal, only: str | None = None) -> list[dict]:
    with kanal.engine.connect() as conn:
        return channelhealth.channel_figures(conn, kanal, kanal.clock(), only=only)


@router.get("/staff/channels")
async def channels(request: Request, account: Staff = auth.require(*WATCHERS)) -> Response:
    figures = await run_in_threadpool(_figures, request.app.state.kanal)
    return page(request, "staff_channels.html", {"channels": figures, "wib": wib})


@router.get("/staff/api/channels")
async def channels_json(request: Request,
                        account: Staff = auth.require(*WATCHERS)) -> Response:
    figures = await run_in_threadpool(_figures, request.app.state.kanal)
    return JSONResponse([channelhealth.as_json(f) for f in figures], headers=NO_STORE)


@router.get("/staff/channels/{channel_id}")
async def channel(request: Request, channel_id: str,
                  account: Staff = auth.require(*WATCHERS)) -> Response:
    """One channel's figures and its audit trail (read-only here; ``staff_channel.html``
    has the block where the admins' actions go)."""
    kanal = request.app.state.kanal

    def load():
        figures = next(iter(_figures(kanal, only=channel_id)), None)
        if figures is None:
            return None, []
        with kanal.engine.connect() as conn:
            return figures, audit.events(conn, channel=channel_id, limit=50)

    figures, events = await run_in_threadpool(load)
    if figures is None:
        return page(request, "staff_queue_error.html", {
            "error": "channel_not_found", "reason": f"no channel {channel_id}",
            "back": "/staff/channels"}, status_code=404)
    return page(request, "staff_channel.html", {"c": figures, "events": events, "wib": wib})

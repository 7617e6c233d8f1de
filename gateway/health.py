"""Liveness, readiness, and the answer every route gives while the database is out."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc

from core.dbguard import DatabaseUnavailable, is_outage, outage_reason
from gateway.errors import error_response

log = logging.getLogger(__name__)



def outage_response(request: Request, reason: str) -> Response:
    """503 with Retry-After: the "sedang gangguan" page for a browser, JSON otherwise."""
    retry = str(request.app.state.kanal.db_limits.retry_after)
    return error_response(request, 503, "database_unavailable", reason,
                          headers={"Retry-After": retry})


def install(app: FastAPI) -> None:
    async def _outage(request: Request, exc: Exception) -> Response:
        if not is_outage(exc):
            raise exc
        log.warning("%s %s: 503, %s", request.method, request.url.path,
                    str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
        return outage_response(request, outage_reason(exc))

    for kind in (DatabaseUnavailable, sa_exc.DBAPIError, sa_exc.TimeoutError):
        app.add_exception_handler(kind, _outage)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz(request: Request) -> dict:
        """Always 200 while the process runs; says what it last knew of the database
        without waiting for it."""
        return {"ok": True, **request.app.state.kanal.db_health.as_dict()}

    @app.get("/readyz", tags=["health"], summary="Readiness: the process can take work",
             responses={503: {"description": "the database does not answer"}})
    async def readyz(request: Request) -> Response:
        """200 when the database answers now (asked within the connect bound), else 503
        with Retry-After."""
        kanal = request.app.state.kanal
        try:
            ok = await asyncio.wait_for(asyncio.to_thread(kanal.db_health.probe),
                                        kanal.db_limits.connect)
        except asyncio.TimeoutError:
            ok = False
            kanal.db_health.failed(
                f"the database did not answer within {kanal.db_limits.connect:g} s")
        body = {"ready": ok, **kanal.db_health.as_dict(),
                "channels": {"ready": len(kanal.adapters),
                             "disabled": len(kanal.channels) - len(kanal.adapters)}}
        if ok:
            return JSONResponse(body)
        return JSONResponse(body, status_code=503,
                            headers={"Retry-After": str(kanal.db_limits.retry_after)})

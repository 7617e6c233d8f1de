"""The FastAPI app factory. Settings, engine and runtime are built here, never at import."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from core.dbguard import is_outage, outage_reason
from core.settings import KanalSettings
from gateway import (apidocs, errors as error_pages, health, metrics, public, rating_page,
                     staff_pages, trends_pages)
from gateway.bodylimit import BodyLimitMiddleware
from gateway.console_performance import router as performance_router
from gateway.pages import HERE
from gateway.runtime import Kanal
from gateway.webhooks import router as webhooks_router

log = logging.getLogger(__name__)


def create_app(settings: KanalSettings | None = None, *, kanal: Kanal | None = None,
               run_workers: bool = True) -> FastAPI:
    kanal = kanal or Kanal(settings or KanalSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        scheduler, workers = None, []
        if run_workers:
            kanal.db_health.start()
            try:
                kanal.start_up()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                # the inbox sweep does it once the database answers
                log.error("start-up work postponed, the database is out: %s", exc)
                kanal.db_health.failed(outage_reason(exc))
            from gateway.livecfg import ConfigWatcher

            watcher = ConfigWatcher(kanal)
            watcher.start()
            workers.append(watcher)
            if kanal.settings.scheduler:
                from gateway.scheduler import build_scheduler, build_workers

                workers += build_workers(kanal)
                scheduler = build_scheduler(kanal)
                scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=True)
            for worker in workers:
                worker.stop()
            if run_workers:
                kanal.stop()

    app = FastAPI(
        title="kanal",
        summary="Intake gateway for city complaint channels",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by gateway.apidocs, without a CDN
        redoc_url=None,
    )
    app.state.kanal = kanal
    app.add_middleware(BodyLimitMiddleware, max_bytes=kanal.settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse(status_code=422, content={
            "error": "invalid_request",
            "reason": f"{field}: {first.get('msg')}" if field else str(first.get("msg")),
            "details": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors],
        })

    error_pages.install(app)  # pages for browsers, JSON for API clients

    health.install(app)
    metrics.install(app)  # GET /metrics, not in the OpenAPI schema

    # adapter routes first: the intake endpoints are the busiest, and routes match in order;
    # every installed adapter's, since an operator may add a channel of any while kanal runs
    # (with no ready channel its routes answer 503 with the reason)
    for name in kanal.registry.names():
        router = kanal.registry.get(name).router()
        if router is not None:
            app.include_router(router)
    app.include_router(public.router)
    from gateway.public_list import router as public_list_router  # /laporan
    app.include_router(public_list_router)
    app.include_router(rating_page.router)
    app.include_router(webhooks_router)
    staff_pages.install(app)
    app.include_router(trends_pages.router)  # /staff/trends, /staff/api/trends
    app.include_router(performance_router)  # /staff/performance, /staff/api/performance
    apidocs.install(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app

"""``/docs``: Swagger UI with its script and stylesheet served by kanal itself, so that it
works offline and in government networks (FastAPI's default page loads them from a CDN).
The assets come from the ``swagger-ui-bundle-v2`` package; ReDoc is not served."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"
FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
         "favicon-32x32.png": "image/png"}


def install(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # no badge that sends the schema to validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None})

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in FILES:
            raise HTTPException(404)
        return FileResponse(swagger_ui_path / name, media_type=FILES[name],
                            headers={"Cache-Control": "public, max-age=86400"})

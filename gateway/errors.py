"""Error answers: a page for a browser, ``{"error": ..., "reason": ...}`` for API clients.

Every route a browser may open answers HTML when the client prefers HTML to JSON (an
unknown path, a switched-off channel, a database outage); the API paths always answer
JSON, whatever the client asks for."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import ApiError

API_PREFIXES = ("/api/", "/webhooks/", "/open311/", "/staff/api/")
OPEN311 = "/open311/"
HTML_TYPES = ("text/html", "application/xhtml+xml")


def _quality(accept: str, types: tuple[str, ...]) -> float:
    """The highest q the Accept header gives any of ``types`` by name (wildcards excluded)."""
    best = 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() not in types:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def wants_html(request: Request) -> bool:
    """True when the client prefers HTML to JSON and the path is not an API path."""
    if request.url.path.startswith(API_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return _quality(accept, HTML_TYPES) > _quality(accept, ("application/json",))


def error_response(request: Request, status_code: int, error: str, reason: str, *,
                   headers: dict[str, str] | None = None) -> Response:
    """The error page (Bahasa Indonesia, an English line below) or the JSON error; under
    /open311/ the Open311 error, in the format of the path's extension."""
    if request.url.path.startswith(OPEN311):
        return open311_error(request.url.path, status_code, reason, headers)
    if not wants_html(request):
        return JSONResponse(status_code=status_code, headers=headers,
                            content={"error": error, "reason": reason})
    kanal = request.app.state.kanal
    retry = (headers or {}).get("Retry-After", "")
    response = kanal.render(request, "error.html", {
        "status_code": status_code, "error": error, "reason": reason,
        "path": request.url.path, "retry_after": retry if retry.isdigit() else None,
        "en": kanal.pages.gettext("en"),
    }, status_code=status_code)
    response.headers.update({"Cache-Control": "no-store", **(headers or {})})
    return response


def open311_error(path: str, status_code: int, reason: str,
                  headers: dict[str, str] | None = None) -> Response:
    """``[{"code", "description"}]`` or ``<errors>``; 422 is the spec's 400."""
    from adapters.open311.wire import error_answer, format_of

    status = 400 if status_code == 422 else status_code
    return error_answer(format_of(path), status, reason, headers)


def install(app: FastAPI) -> None:
    """The front door and the handlers that turn errors into pages or JSON."""

    @app.get("/", include_in_schema=False)
    async def front_door(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/lapor{query}", status_code=307)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        if request.url.path.startswith(OPEN311):
            return error_response(request, exc.status_code, exc.error, exc.reason,
                                  headers=exc.headers or None)
        if not wants_html(request):
            return exc.response()
        retry = exc.extra.get("retry_after")
        headers = {**exc.headers, **({"Retry-After": str(retry)} if retry else {})}
        return error_response(request, exc.status_code, exc.error, exc.reason,
                              headers=headers or None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error_response(request, exc.status_code, "http_error", str(exc.detail),
                              headers=getattr(exc, "headers", None))

"""Request body limit with a JSON reason (Starlette's own answers in plain text)."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from core.errors import BodyTooLarge


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, counted as they stream in."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    return await self._refuse(scope, send)
        seen = 0
        started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope, send):
        reason = f"request body is larger than {self.max_bytes} bytes"
        if scope.get("path", "").startswith("/open311/"):
            from gateway.errors import open311_error

            response = open311_error(scope["path"], 413, reason)
        else:
            response = JSONResponse(status_code=413, content={
                "error": "body_too_large", "reason": reason})
        await response({"type": "http"}, None, send)

"""The error every HTTP handler raises for bad input: a status, a code and a reason."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class ApiError(Exception):
    """Raise anywhere in a handler: becomes ``{"error": code, "reason": ...}``."""

    def __init__(self, status_code: int, error: str, reason: str, *,
                 headers: dict[str, str] | None = None, **extra):
        super().__init__(reason)
        self.status_code, self.error, self.reason, self.extra = status_code, error, reason, extra
        self.headers = headers or {}  # sent with the answer (``WWW-Authenticate``)

    def response(self) -> JSONResponse:
        headers = dict(self.headers)
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(self.extra["retry_after"])
        return JSONResponse(status_code=self.status_code, headers=headers,
                            content={"error": self.error, "reason": self.reason,
                                     **{k: v for k, v in self.extra.items()
                                        if k != "retry_after"}})


class BodyTooLarge(Exception):
    """Raised while a handler reads a request body past the size limit (the gateway's
    body limit answers 413); a handler that catches errors of reading a body lets this
    one through."""

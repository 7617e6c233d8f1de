"""HTTP to the LAPOR! API: the token in the mapping's header, and its answers as kanal's
exceptions (a refused token, a rate limit, a refusal retrying cannot mend)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from adapters.lapor.mapping import Mapping
from adapters.lapor.settings import LaporSettings
from core.adapter import CredentialsRejected


class LaporError(Exception):
    """An answer kanal cannot use; ``status`` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Refused(LaporError):
    """A 4xx other than 401/403/429: sending the same again cannot help."""


class Throttled(LaporError):
    def __init__(self, message: str, until: datetime):
        super().__init__(message, 429)
        self.until = until


class LaporClient:
    def __init__(self, settings: LaporSettings, mapping: Mapping):
        self.settings = settings
        self.mapping = mapping
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(timeout=self.settings.request_timeout_seconds)
            return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    @property
    def auth_header(self) -> dict[str, str]:
        auth = self.mapping.auth
        token = self.settings.token
        return {auth.header: f"{auth.scheme} {token}" if auth.scheme else token}

    def url(self, path: str, tracking_id: str | None = None) -> str:
        if tracking_id is not None:
            path = path.replace("{tracking_id}", quote(tracking_id, safe=""))
        return self.settings.base_url + path

    def call(self, method: str, url: str, *, now: datetime, params: dict | None = None,
             json: Any = None) -> tuple[int, Any]:
        """(status, JSON body) of a 2xx answer; raises for anything else."""
        try:
            response = self.http.request(method, url, params=params, json=json,
                                         headers={**self.auth_header,
                                                  "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise LaporError(f"LAPOR! did not answer: {type(exc).__name__}: {exc}") from exc
        code = response.status_code
        if code in (401, 403):
            raise CredentialsRejected(f"LAPOR! refused the token (HTTP {code}): "
                                      f"{_reason(response)}")
        if code == 429:
            raise Throttled(f"LAPOR! rate limit (HTTP 429): {_reason(response)}",
                            retry_at(response, now))
        if 400 <= code < 500:
            raise Refused(f"LAPOR! refused the request (HTTP {code}): {_reason(response)}",
                          code)
        if code >= 300:
            raise LaporError(f"LAPOR! failed (HTTP {code}): {_reason(response)}", code)
        if not response.content:
            return code, None
        try:
            return code, response.json()
        except ValueError as exc:
            raise LaporError(f"LAPOR! answered HTTP {code} with something not JSON",
                             code) from exc


def _reason(response: httpx.Response) -> str:
    return response.text[:300].strip() or response.reason_phrase


def retry_at(response: httpx.Response, now: datetime) -> datetime:
    """When a 429's Retry-After (seconds or an HTTP date) ends; a minute by default."""
    value = (response.headers.get("retry-after") or "").strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return now + timedelta(seconds=60)

"""GET /metrics: the runtime's Prometheus metrics, for a scraper that proves who it is.

With ``KANAL_METRICS_TOKEN`` set, only a request carrying ``Authorization: Bearer
<token>`` is answered (401 without a usable header, 403 with another token). Without a
token, only loopback addresses and those of ``KANAL_METRICS_ALLOW`` are (403 for the
rest). The address is ``request.client``: behind a reverse proxy listed in
``KANAL_TRUSTED_PROXIES`` uvicorn has already put the client from X-Forwarded-For there,
and a header sent by anyone else is not believed.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from core.metrics import allowed_networks

# the classic text format every Prometheus reads; prometheus_client's CONTENT_TYPE_LATEST
# says version=1.0.0 since 0.22 for the same text (kanal's names need no UTF-8 escaping)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="kanal metrics"'}


def _refused(status_code: int, error: str, reason: str,
             headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(status_code=status_code, headers=headers,
                        content={"error": error, "reason": reason})


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def client_in(request: Request, networks) -> bool:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:  # a Unix socket, a test client's made-up name
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def refusal(request: Request, token: str | None, networks) -> Response | None:
    """Why this request may not scrape, as the answer to give it; None when it may."""
    if token:
        sent = bearer(request)
        if sent is None:
            return _refused(401, "unauthorized",
                            "send the metrics token as Authorization: Bearer <token>",
                            CHALLENGE)
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return _refused(403, "forbidden", "the metrics token does not match")
        return None
    if not client_in(request, networks):
        return _refused(403, "forbidden", "metrics are served to loopback and "
                        "KANAL_METRICS_ALLOW addresses only (or set KANAL_METRICS_TOKEN)")
    return None


def install(app: FastAPI) -> None:
    kanal = app.state.kanal
    networks = allowed_networks(kanal.settings.metrics_allow)

    # a plain def: the scrape's database queries run in the thread pool, not the loop
    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        refused = refusal(request, kanal.settings.metrics_token, networks)
        if refused is not None:
            return refused
        return Response(kanal.metrics.render(), media_type=CONTENT_TYPE)

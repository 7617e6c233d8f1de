"""A local fake of Meta's Graph API over real HTTP on 127.0.0.1.

It answers ``POST /<version>/<id>/messages`` (the Send API and private replies),
``POST /<version>/<comment>/comments`` and ``/replies`` (public replies) and
``GET /<version>/debug_token``, in the shapes of
https://developers.facebook.com/docs/messenger-platform/reference/send-api/.
``fail(kind, ...)`` queues Graph errors; ``down`` answers 503 to everything while set.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakeserver import FakeServer


class FakeGraph(FakeServer):
    def __init__(self, version: str = "v25.0"):
        self.version = version
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []  # Send API bodies, with "page" and "token"
        self.comments: list[dict[str, Any]] = []  # public replies: comment, message, path
        self.calls: list[str] = []
        self.failures: dict[str, deque[tuple[int, dict]]] = defaultdict(deque)
        self.down = False
        # input_token -> debug_token's data; a token not listed is valid and never expires
        self.tokens: dict[str, dict[str, Any]] = {}
        # comment or media id -> what GET <account>?fields=mentioned_... answers
        self.mentions: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}  # path under /cdn -> content (the CDN)
        self.downloads: list[str] = []
        self._next = 0
        super().__init__(_handler(self), "fake-graph")

    def fail(self, kind: str, status: int, code: int, message: str, *,
             subcode: int | None = None, times: int = 1) -> None:
        """``kind`` is ``messages``, ``comments`` or ``debug_token``."""
        error = {"message": message, "type": "OAuthException", "code": code,
                 "fbtrace_id": "AbCdEfGhIjK"}
        if subcode is not None:
            error["error_subcode"] = subcode
        for _ in range(times):
            self.failures[kind].append((status, {"error": error}))

    def answer(self, method: str, path: str, query: dict[str, str],
               body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append(f"{method} {path}")
            if self.down:
                return 503, {"error": {"message": "Service temporarily unavailable",
                                       "code": 2, "type": "OAuthException"}}
            prefix = f"/{self.version}/"
            if not path.startswith(prefix):
                return 400, {"error": {"message": "Unknown path components", "code": 2500}}
            parts = path[len(prefix):].split("/")
            if method == "GET" and parts == ["debug_token"]:
                if self.failures["debug_token"]:
                    return self.failures["debug_token"].popleft()
                token = query.get("input_token", "")
                return 200, {"data": self.tokens.get(token, {
                    "app_id": "1517776481860111", "type": "PAGE", "application": "kanal",
                    "expires_at": 0, "is_valid": True,
                    "scopes": ["pages_messaging", "pages_manage_engagement"]})}
            if method == "GET" and len(parts) == 1 and "fields" in query:
                # mentioned_comment.comment_id(<id>){...} or mentioned_media.media_id(<id>){...}
                edge, _, rest = query["fields"].partition(".")
                wanted = rest.partition("(")[2].partition(")")[0]
                if wanted not in self.mentions:
                    return 400, {"error": {"message": "Invalid parameter", "code": 100}}
                return 200, {edge: self.mentions[wanted], "id": parts[0]}
            if method != "POST" or len(parts) != 2:
                return 400, {"error": {"message": "Unsupported request", "code": 100}}
            node, edge = parts
            kind = "messages" if edge == "messages" else "comments"
            if self.failures[kind]:
                return self.failures[kind].popleft()
            self._next += 1
            if edge == "messages":
                mid = f"m_sent{self._next}"
                self.messages.append({**body, "page": node, "mid": mid,
                                      "token": query.get("access_token")})
                recipient = body.get("recipient", {})
                return 200, {"recipient_id": recipient.get("id", "7100000000000001"),
                             "message_id": mid}
            if edge in ("comments", "replies", "mentions"):
                self.comments.append({"comment": node, "edge": edge, **body,
                                      "token": query.get("access_token")})
                return 200, {"id": f"{node}_{self._next}"}
            return 400, {"error": {"message": f"Unknown edge {edge}", "code": 100}}


def _handler(api: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def _route(self) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/cdn/") and self.command == "GET":
                api.downloads.append(url.path)
                content = api.files.get(url.path[len("/cdn/"):])
                self.send_response(200 if content is not None else 404)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(content or b"")))
                self.end_headers()
                self.wfile.write(content or b"")
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status, data = api.answer(self.command, url.path, query, body)
            out = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = _route

    return Handler

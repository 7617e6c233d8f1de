"""A local fake of the Telegram Bot API over real HTTP on 127.0.0.1.

It answers ``/bot<token>/<method>`` (getMe, sendMessage, answerCallbackQuery, getFile,
getUpdates, setWebhook and getWebhookInfo: ``webhook`` is its answer) and serves
files under ``/file/bot<token>/<path>``, in the shapes of https://core.telegram.org/bots/api.
``push(update)`` delivers an update as Telegram does to the webhook that was set: a POST
with the ``X-Telegram-Bot-Api-Secret-Token`` header; it returns the HTTP status.
``fail(method, ...)`` queues failures, answered before the method's normal reply.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakeserver import FakeServer

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Kanal Jakarta",
            "username": "kanal_jakarta_bot", "can_join_groups": False,
            "can_read_all_group_messages": False, "supports_inline_queries": False}
DATE = 1767225600  # 2026-01-01T00:00:00Z


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


class FakeBotAPI(FakeServer):
    def __init__(self, token: str):
        self.token = token
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        self.answered: list[dict[str, Any]] = []  # answerCallbackQuery calls
        self.updates: list[dict[str, Any]] = []
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.downloads: list[str] = []
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._next_message_id = 500
        self.webhook: dict[str, Any] = {"url": "", "has_custom_certificate": False,
                                        "pending_update_count": 0}
        super().__init__(_handler(self), "fake-bot-api")

    # -- programming it ----------------------------------------------------------------

    def fail(self, method: str, status: int, description: str, *,
             retry_after: int | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.failures[method].append(Failure(status, description, retry_after))

    def add_file(self, file_id: str, content: bytes, file_path: str) -> None:
        self.files[file_id] = (file_path, content)

    def queue_update(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.updates.append(update)

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    # -- answering ---------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((method, params))
            if self.failures[method]:
                f = self.failures[method].popleft()
                body: dict[str, Any] = {"ok": False, "error_code": f.status,
                                        "description": f.description}
                if f.retry_after is not None:
                    body["parameters"] = {"retry_after": f.retry_after}
                return f.status, body
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            return 200, {"ok": True, "result": handler(params)}

    def _m_getMe(self, params):
        return BOT_USER

    def _m_getWebhookInfo(self, params):
        return self.webhook

    def _m_setWebhook(self, params):
        self.webhook = {**self.webhook, "url": params.get("url", "")}
        self.webhook_secret = params.get("secret_token")
        return True

    def push(self, update: dict[str, Any]) -> int:
        import httpx

        headers = {"Content-Type": "application/json"}
        if getattr(self, "webhook_secret", None):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        answer = httpx.post(self.webhook["url"], content=json.dumps(update), headers=headers,
                            timeout=30)
        return answer.status_code

    def _m_sendMessage(self, params):
        self._next_message_id += 1
        chat_id = int(params["chat_id"])
        quoted = json.loads(params.get("reply_parameters") or "{}").get("message_id")
        self.sent.append({"chat_id": chat_id, "text": params["text"],
                          "message_id": self._next_message_id, "reply_to": quoted,
                          "reply_markup": json.loads(params.get("reply_markup") or "null")})
        return {"message_id": self._next_message_id, "date": DATE,
                "from": BOT_USER, "chat": {"id": chat_id, "type": "private"},
                "text": params["text"]}

    def _m_answerCallbackQuery(self, params):
        self.answered.append({"id": params["callback_query_id"], "text": params.get("text")})
        return True

    def _m_getFile(self, params):
        file_id = params["file_id"]
        if file_id not in self.files:
            raise _ApiFailure(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}",
                "file_size": len(content), "file_path": path}

    def _m_getUpdates(self, params):
        offset = int(params.get("offset") or 0)
        if offset:  # an offset confirms every update before it: Telegram forgets them
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        return self.updates[:limit]

    def download(self, path: str) -> bytes | None:
        with self.lock:
            self.downloads.append(path)
            return next((c for p, c in self.files.values() if p == path), None)


class _ApiFailure(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _params(handler: BaseHTTPRequestHandler, query: str) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    ctype = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
    if ctype == "application/json" and raw:
        return json.loads(raw)
    fields = parse_qs(query) | parse_qs(raw.decode())
    return {k: v[-1] for k, v in fields.items()}


def _handler(api: FakeBotAPI) -> type[BaseHTTPRequestHandler]:
    bot_prefix, file_prefix = f"/bot{api.token}/", f"/file/bot{api.token}/"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict[str, Any]) -> None:
            self._reply(status, json.dumps(data).encode())

        def _route(self) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path.startswith(file_prefix) and self.command == "GET":
                content = api.download(path[len(file_prefix):])
                if content is None:
                    return self._json(404, {"ok": False, "error_code": 404,
                                            "description": "Not Found"})
                return self._reply(200, content, "application/octet-stream")
            if not path.startswith(bot_prefix):
                return self._json(401, {"ok": False, "error_code": 401,
                                        "description": "Unauthorized"})
            try:
                status, body = api.answer(path[len(bot_prefix):], _params(self, url.query))
            except _ApiFailure as exc:
                status, body = exc.status, {"ok": False, "error_code": exc.status,
                                            "description": exc.description}
            self._json(status, body)

        do_GET = do_POST = _route

    return Handler

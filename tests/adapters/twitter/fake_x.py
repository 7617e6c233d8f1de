"""A local stand-in for the X API v2 over real HTTP on 127.0.0.1.

It answers ``GET /2/users/<id>`` (bearer token) and ``GET /2/users/me`` (OAuth 1.0a: the
consumer key and access token are compared, not the signature),
``GET /2/users/<id>/mentions`` (``since_id``, pages of ``page_size`` with
``next_token``, the ``includes`` of https://docs.x.com/x-api/posts/get-mentions) and
``POST /2/tweets``, and serves photos under ``/media/``. ``limit_until(t)`` answers 429
with ``x-rate-limit-reset`` while the test clock is before ``t``; ``fail(status)`` queues
failures for the next requests.
"""

from __future__ import annotations

import json
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakeserver import FakeServer

ACCOUNT_ID = "1700000000000000001"
BEARER = "AAAAAAAAAAAAAAAAAAAAA-test-bearer"
CONSUMER_KEY = "ck-test"
ACCESS_TOKEN = "1700000000000000001-at-test"
ACCOUNT = {"id": ACCOUNT_ID, "name": "Pemprov DKI Jakarta", "username": "DKIJakarta"}


class FakeX(FakeServer):
    def __init__(self, clock):
        self.clock = clock
        self.tweets: list[dict[str, Any]] = []
        self.includes: dict[str, list[dict[str, Any]]] = {"users": [], "media": [],
                                                          "places": [], "tweets": []}
        self.files: dict[str, bytes] = {}
        self.dm_events: list[dict[str, Any]] = []  # MessageCreate events
        self.dms_sent: list[dict[str, Any]] = []
        self.dm_status = 200  # 403: the app's access tier has no DMs
        self.posted: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.failures: deque[int] = deque()
        self.limited_until = None
        # [requests left, reset]: the mentions window, told in x-rate-limit-* headers
        self.mention_window: list | None = None
        self.page_size = 100
        # the account each credential reads: GET /2/users/<id> and GET /2/users/me
        self.users: dict[str, dict[str, str]] = {ACCOUNT_ID: ACCOUNT}
        self.me: dict[str, str] = ACCOUNT
        self._next_id = 1800000000000000000
        super().__init__(_handler(self), "fake-x")

    def add(self, bundle: dict[str, Any]) -> None:
        """A mention (``tweet``) and the objects it refers to."""
        self.tweets.append(bundle["tweet"])
        for key in self.includes:
            self.includes[key].extend(bundle.get(key) or [])

    def limit_until(self, until) -> None:
        self.limited_until = until

    def fail(self, status: int, times: int = 1) -> None:
        self.failures.extend([status] * times)

    def mention_calls(self) -> list[dict[str, str]]:
        return [q for m, path, q, _ in self.calls if path.endswith("/mentions")]

    def mentions(self, user_id: str, query: dict[str, str]) -> tuple[int, dict, dict]:
        status, body, headers = self._mentions(query)
        if self.mention_window is not None:
            self.mention_window[0] -= 1
            headers = {**headers, "x-rate-limit-limit": "300",
                       "x-rate-limit-remaining": str(max(0, self.mention_window[0])),
                       "x-rate-limit-reset": str(int(self.mention_window[1].timestamp()))}
        return status, body, headers

    def _mentions(self, query: dict[str, str]) -> tuple[int, dict, dict]:
        since = int(query.get("since_id") or 0)
        start = query.get("start_time") or ""
        newest_first = sorted((t for t in self.tweets if int(t["id"]) > since
                               and t.get("created_at", "") >= start),
                              key=lambda t: -int(t["id"]))
        start = int(query.get("pagination_token") or 0)
        size = min(self.page_size, int(query.get("max_results") or 10))
        page = newest_first[start:start + size]
        if not page:
            return 200, {"meta": {"result_count": 0}}, {}
        meta = {"result_count": len(page), "newest_id": page[0]["id"],
                "oldest_id": page[-1]["id"]}
        if start + size < len(newest_first):
            meta["next_token"] = str(start + size)
        return 200, {"data": page, "includes": self._includes(page), "meta": meta}, {}

    def get_dm_events(self, query: dict[str, str]) -> tuple[int, dict, dict]:
        if self.dm_status != 200:
            return self.dm_status, {
                "title": "Client Forbidden", "type": "https://api.twitter.com/2/problems/"
                "client-forbidden", "reason": "client-not-enrolled", "status": self.dm_status,
                "detail": "When authenticating requests to the Twitter API v2 endpoints, "
                          "you must use keys and tokens from a Twitter developer App that is "
                          "attached to a Project."}, {}
        events = sorted(self.dm_events, key=lambda e: -int(e["id"]))
        start = int(query.get("pagination_token") or 0)
        size = min(self.page_size, int(query.get("max_results") or 100))
        page = events[start:start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if start + size < len(events):
            meta["next_token"] = str(start + size)
        senders = {e["sender_id"] for e in page}
        users = [u for u in self.includes["users"] if u["id"] in senders]
        return 200, {"data": page, "includes": {"users": users}, "meta": meta} if page \
            else {"meta": meta}, {}

    def _includes(self, page: list[dict]) -> dict:
        authors = {t.get("author_id") for t in page}
        keys = {k for t in page for k in (t.get("attachments") or {}).get("media_keys", [])}
        places = {(t.get("geo") or {}).get("place_id") for t in page}
        refs = {r["id"] for t in page for r in t.get("referenced_tweets") or []}
        out = {"users": [u for u in self.includes["users"] if u["id"] in authors],
               "media": [m for m in self.includes["media"] if m["media_key"] in keys],
               "places": [p for p in self.includes["places"] if p["id"] in places],
               "tweets": [t for t in self.includes["tweets"] if t["id"] in refs]}
        return {k: v for k, v in out.items() if v}

    def post_tweet(self, body: dict[str, Any]) -> tuple[int, dict, dict]:
        self._next_id += 1
        tweet_id = str(self._next_id)
        self.posted.append({"id": tweet_id, **body})
        return 201, {"data": {"id": tweet_id, "text": body.get("text", ""),
                              "edit_history_tweet_ids": [tweet_id]}}, {}

    def user(self, user_id: str, authorization: str) -> tuple[int, dict, dict]:
        if user_id == "me":
            if f'oauth_consumer_key="{CONSUMER_KEY}"' not in authorization \
                    or f'oauth_token="{ACCESS_TOKEN}"' not in authorization:
                return _unauthorized()
            return 200, {"data": self.me}, {}
        if authorization != f"Bearer {BEARER}":
            return _unauthorized()
        if user_id not in self.users:
            return 200, {"errors": [{"value": user_id, "detail": "Could not find user with "
                                     f"id: [{user_id}].", "title": "Not Found Error",
                                     "resource_type": "user", "parameter": "id",
                                     "resource_id": user_id,
                                     "type": "https://api.twitter.com/2/problems/"
                                             "resource-not-found"}]}, {}
        return 200, {"data": self.users[user_id]}, {}

    def answer(self, method: str, path: str, query: dict[str, str],
               body: dict[str, Any], authorization: str = "") -> tuple[int, dict, dict]:
        now = int(self.clock().timestamp())
        if self.limited_until is not None and now < int(self.limited_until.timestamp()):
            reset = str(int(self.limited_until.timestamp()))
            return 429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                         "type": "about:blank", "status": 429}, {
                "x-rate-limit-limit": "300", "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": reset}
        if self.failures:
            status = self.failures.popleft()
            return status, {"title": "Unauthorized" if status == 401 else "Forbidden",
                            "type": "about:blank", "status": status,
                            "detail": "Unauthorized" if status == 401 else "Forbidden"}, {}
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 3 and parts[:2] == ["2", "users"]:
            return self.user(parts[2], authorization)
        if method == "GET" and len(parts) == 4 and parts[:2] == ["2", "users"] \
                and parts[3] == "mentions":
            return self.mentions(parts[2], query)
        if method == "POST" and parts == ["2", "tweets"]:
            return self.post_tweet(body)
        if method == "GET" and parts == ["2", "dm_events"]:
            return self.get_dm_events(query)
        if method == "POST" and parts[:3] == ["2", "dm_conversations", "with"] \
                and parts[4:] == ["messages"]:
            self._next_id += 1
            self.dms_sent.append({"to": parts[3], "id": str(self._next_id), **body})
            return 201, {"data": {"dm_conversation_id": f"{parts[3]}-{ACCOUNT_ID}",
                                  "dm_event_id": str(self._next_id)}}, {}
        return 404, {"title": "Not Found Error", "status": 404, "type": "about:blank",
                     "detail": f"no route {path}"}, {}


def _unauthorized() -> tuple[int, dict, dict]:
    return 401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                 "detail": "Unauthorized"}, {}


def _handler(api: FakeX) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _reply(self, status: int, body: bytes, headers: dict[str, str],
                   ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if url.path.startswith("/media/"):
                content = api.files.get(url.path[len("/media/"):])
                if content is None:
                    return self._reply(404, b"{}", {})
                return self._reply(200, content, {}, "image/jpeg")
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            api.calls.append((self.command, url.path, query,
                              {"authorization": self.headers.get("Authorization", "")}))
            body = json.loads(raw) if raw else {}
            status, data, headers = api.answer(self.command, url.path, query, body,
                                               self.headers.get("Authorization", ""))
            self._reply(status, json.dumps(data).encode(), headers)

        do_GET = do_POST = _route

    return Handler

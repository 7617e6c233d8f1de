"""The Graph API over httpx: the Send API, private and public comment replies, and Graph
errors mapped to the dispatcher's retry classes."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from adapters.facebook.payloads import COMMENT, METADATA, POST
from adapters.facebook.settings import MetaSettings
from core.adapter import PermanentSendError, RetryLater
from core.canonical import OutboundMessage, SendResult

log = logging.getLogger(__name__)
MAX_TEXT = 2000  # the Send API's limit for a text message
# https://developers.facebook.com/docs/graph-api/overview/rate-limiting
RATE_LIMITED = {4, 17, 32, 613, 80001, 80002, 80006}
# an expired or revoked token: the channel's configuration, not this message
TOKEN = {102, 190}
# https://developers.facebook.com/docs/messenger-platform/error-codes: outside the
# 24-hour window (Messenger 2018278, Instagram 2534022), user unavailable (551)
WINDOW = {2018278, 2534022}


class GraphError(Exception):
    def __init__(self, status: int, error: dict[str, Any]):
        self.status = status
        self.code = error.get("code")
        self.subcode = error.get("error_subcode")
        super().__init__(f"Graph {status} error {self.code}"
                         + (f"/{self.subcode}" if self.subcode else "")
                         + f": {error.get('message') or 'no message'}")


class Graph:
    """One page or account's calls; ``transport`` is injectable (tests, embedders)."""

    def __init__(self, settings: MetaSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.client = httpx.Client(base_url=f"{settings.graph_base}/{settings.graph_version}",
                                   timeout=settings.timeout_seconds, transport=transport)

    def call(self, method: str, path: str, *, json: dict | None = None,
             params: dict | None = None) -> dict[str, Any]:
        query = {"access_token": self.settings.page_access_token, **(params or {})}
        response = self.client.request(method, path, params=query, json=json)
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.is_success and isinstance(data, dict) and "error" not in data:
            return data
        error = data.get("error") if isinstance(data, dict) else None
        raise GraphError(response.status_code,
                         error if isinstance(error, dict) else {"message": response.text[:200]})

    def close(self) -> None:
        self.client.close()


def classify(exc: GraphError) -> Exception:
    if exc.code in RATE_LIMITED or exc.status == 429:
        return RetryLater(60.0, str(exc))
    if exc.code in TOKEN or exc.status >= 500 or exc.code in (1, 2):
        return RuntimeError(str(exc))
    if exc.subcode in WINDOW:
        return PermanentSendError(f"outside the 24-hour messaging window: {exc}")
    if 400 <= exc.status < 500:
        return PermanentSendError(str(exc))
    return RuntimeError(str(exc))


def _text(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def send(graph: Graph, message: OutboundMessage) -> SendResult:
    """A DM by the Send API; an answer to a comment or visitor post as a private reply,
    then (for the first acknowledgement) a short public reply under it."""
    s = graph.settings
    reply_to = message.reply_to or ""
    if reply_to.startswith("mention:"):
        from adapters.facebook.mentions import reply

        try:
            sent = reply(graph, reply_to, _text(message.text))
        except GraphError as exc:
            raise classify(exc) from exc
        except httpx.HTTPError as exc:
            raise RuntimeError(f"Graph API unreachable: {type(exc).__name__}: {exc}") from exc
        return SendResult(provider_message_id=sent.get("id"))
    if reply_to.startswith(COMMENT):
        target = {"comment_id": reply_to[len(COMMENT):].split(":")[0]}
    elif reply_to.startswith(POST):
        target = {"post_id": reply_to[len(POST):].split(":")[0]}
    else:
        if not message.recipient.isdigit():
            raise PermanentSendError(f"not a Meta user id: {message.recipient!r}")
        target = {"id": message.recipient}
    body: dict[str, Any] = {"recipient": target, "message": {"text": _text(message.text)}}
    if s.platform == "facebook":  # Messenger echoes it back; Instagram has no metadata
        body["message"]["metadata"] = f"{METADATA}{message.outbox_id}"
    if "id" in target:
        body["messaging_type"] = "RESPONSE"
    try:
        sent = graph.call("POST", f"/{s.account_id}/messages", json=body)
    except GraphError as exc:
        raise classify(exc) from exc
    except httpx.HTTPError as exc:
        raise RuntimeError(f"Graph API unreachable: {type(exc).__name__}: {exc}") from exc
    public_on = target.get("comment_id") or target.get("post_id")
    if public_on and message.kind == "ack":
        public_reply(graph, public_on)
    return SendResult(provider_message_id=sent.get("message_id"))


def public_reply(graph: Graph, node_id: str) -> None:
    """Under the comment or visitor post. Best effort: the private reply is out, and
    sending it again to retry this one would be worse than no public thanks."""
    s = graph.settings
    path = f"/{node_id}/replies" if s.platform == "instagram" else f"/{node_id}/comments"
    try:
        graph.call("POST", path, json={"message": s.public_reply})
    except (GraphError, httpx.HTTPError) as exc:
        log.warning("public reply under %s not posted: %s", node_id, exc)

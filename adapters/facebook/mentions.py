"""Instagram mentions: the webhook names only the media and comment, so the text is read
from the Graph API before the event is kept, and the answer is a reply on the mention
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/mentions)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from adapters.facebook.outbound import Graph, GraphError

MENTION = "mention:"
COMMENT_FIELDS = "id,text,timestamp,username,from,media{id,permalink}"
MEDIA_FIELDS = "id,caption,username,timestamp,permalink"


def mention_ids(external_id: str) -> tuple[str, str | None]:
    media_id, _, comment_id = external_id[len(MENTION):].partition(":")
    return media_id, comment_id or None


def enrich(graph: Graph, payload: bytes, external_id: str) -> bytes:
    """The event with what Graph says about the mention (``fetched``), or why it could
    not be read (``fetch_error``): the event is kept either way."""
    data = json.loads(payload)
    media_id, comment_id = mention_ids(external_id)
    if comment_id:
        fields = f"mentioned_comment.comment_id({comment_id}){{{COMMENT_FIELDS}}}"
    else:
        fields = f"mentioned_media.media_id({media_id}){{{MEDIA_FIELDS}}}"
    try:
        answer = graph.call("GET", f"/{graph.settings.account_id}", params={"fields": fields})
        data["fetched"] = answer.get("mentioned_comment" if comment_id else "mentioned_media")
    except (GraphError, httpx.HTTPError) as exc:
        data["fetch_error"] = str(exc)[:500]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def reply(graph: Graph, external_id: str, text: str) -> dict[str, Any]:
    """A comment on the media that mentioned the account (under the comment, for a
    mention in a comment)."""
    media_id, comment_id = mention_ids(external_id)
    body = {"media_id": media_id, "message": text}
    if comment_id:
        body["comment_id"] = comment_id
    return graph.call("POST", f"/{graph.settings.account_id}/mentions", json=body)

"""Webhook mode (X Account Activity API): the CRC handshake, the signature check, and
tweet events turned into the poller's payloads under the same external ids (tweet ids),
so running both never doubles a report."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse

from adapters.twitter import dms
from adapters.twitter.inbound import TWEET_ID, envelopes
from core.adapter import Envelope
from core.errors import ApiError

if TYPE_CHECKING:
    from adapters.twitter.plugin import TwitterAdapter

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
log = logging.getLogger(__name__)


def signature(secret: str, data: bytes) -> str:
    """``sha256=`` + base64 HMAC-SHA256: both the CRC answer and the POST signature
    (https://docs.x.com/x-api/webhooks/introduction)."""
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def _secret(adapter: TwitterAdapter) -> str:
    if not adapter.settings.consumer_secret:
        raise ApiError(403, "webhook_not_configured",
                       "webhook mode needs KANAL_TWITTER_CONSUMER_SECRET")
    return adapter.settings.consumer_secret


def crc(adapter: TwitterAdapter, request: Request) -> JSONResponse:
    token = request.query_params.get("crc_token")
    if not token:
        raise ApiError(400, "missing_crc_token", "GET needs a crc_token query parameter")
    return JSONResponse({"response_token": signature(_secret(adapter), token.encode())})


def _v1_time(value: Any) -> str | None:
    try:  # "Wed Oct 10 20:19:24 +0000 2018"
        return datetime.strptime(str(value), "%a %b %d %H:%M:%S %z %Y").isoformat()
    except ValueError:
        return None


def bundle_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """An Account Activity (v1.1-shaped) tweet as the poller's v2 bundle."""
    user = event.get("user") or {}
    tweet_id, author = str(event.get("id_str", "")), str(user.get("id_str", ""))
    if not (TWEET_ID.match(tweet_id) and TWEET_ID.match(author)):
        return None
    text = ((event.get("extended_tweet") or {}).get("full_text") or event.get("full_text")
            or event.get("text") or "")
    entities = (event.get("extended_tweet") or {}).get("entities") or event.get("entities") or {}
    tweet: dict[str, Any] = {
        "id": tweet_id, "text": text, "author_id": author,
        "created_at": _v1_time(event.get("created_at")),
        "entities": {"mentions": [{"username": m.get("screen_name"), "id": m.get("id_str")}
                                  for m in entities.get("user_mentions") or []]},
        "referenced_tweets": [], "edit_history_tweet_ids": [tweet_id],
    }
    tweets = []
    if event.get("in_reply_to_status_id_str"):
        tweet["referenced_tweets"].append({"type": "replied_to",
                                           "id": event["in_reply_to_status_id_str"]})
    quoted = event.get("quoted_status") or {}
    if event.get("quoted_status_id_str"):
        tweet["referenced_tweets"].append({"type": "quoted", "id": event["quoted_status_id_str"]})
        tweets.append({"id": event["quoted_status_id_str"],
                       "author_id": str((quoted.get("user") or {}).get("id_str", ""))})
    extended = (event.get("extended_tweet") or {}).get("extended_entities") \
        or event.get("extended_entities") or {}
    media = [{"media_key": f"3_{m.get('id_str')}", "type": "photo",
              "url": m.get("media_url_https")}
             for m in extended.get("media") or [] if m.get("type") == "photo"]
    if media:
        tweet["attachments"] = {"media_keys": [m["media_key"] for m in media]}
    place = event.get("place") or None
    coords = event.get("coordinates") or None
    if place or coords:
        tweet["geo"] = {"place_id": (place or {}).get("id"),
                        **({"coordinates": coords} if coords else {})}
    places = [{"id": place.get("id"), "full_name": place.get("full_name"),
               "name": place.get("name")}] if place else []
    return {"tweet": tweet, "users": [{"id": author, "name": user.get("name"),
                                       "username": user.get("screen_name")}],
            "media": media, "places": places, "tweets": tweets}


def _channel_for(adapter: TwitterAdapter, user_id: str) -> TwitterAdapter | None:
    """X sends every subscribed account's events to the app's one webhook URL."""
    if user_id == adapter.settings.user_id:
        return adapter
    others = getattr(adapter.runtime, "adapters", {}).values()
    return next((a for a in others if a.name == adapter.name
                 and a.settings.user_id == user_id), None)


async def receive(adapter: TwitterAdapter, request: Request) -> JSONResponse:
    """403 before anything is stored when the signature is missing or wrong; 400 for a
    body that is not an Account Activity event; else 200 once the events are committed."""
    secret = _secret(adapter)
    body = await request.body()
    presented = request.headers.get(SIGNATURE_HEADER, "")
    if not presented:
        raise ApiError(403, "missing_signature", f"the {SIGNATURE_HEADER} header is missing")
    if not hmac.compare_digest(presented.encode(), signature(secret, body).encode()):
        raise ApiError(403, "bad_signature", f"the {SIGNATURE_HEADER} header does not match")
    try:
        data = json.loads(body)
        user_id = str(data["for_user_id"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "malformed_event", "the body must be a JSON object with "
                       "for_user_id (an X Account Activity event)")
    target = _channel_for(adapter, user_id)
    if target is None:
        log.warning("X webhook event for user %s, which no channel has; not stored", user_id)
        return JSONResponse({"stored": 0, "reason": "no channel for this account"})
    events = [e for e in data.get("tweet_create_events") or [] if isinstance(e, dict)]
    bundles = [b for b in map(bundle_of, events) if b is not None]
    if len(bundles) != len(events):
        raise ApiError(400, "malformed_event", "a tweet_create_event has no numeric id_str "
                       "or user.id_str")
    users = data.get("users") if isinstance(data.get("users"), dict) else {}
    dm_bundles = [dms.from_webhook(e, users) for e in data.get("direct_message_events") or []
                  if isinstance(e, dict)]
    out: list[Envelope] = envelopes(target.channel_id, bundles) + dms.envelopes(
        target.channel_id, [b for b in dm_bundles if b is not None])
    for envelope in out:
        await adapter.runtime.ingest(envelope)
    return JSONResponse({"stored": len(out)})

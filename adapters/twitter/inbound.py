"""Mentions in: get_users_mentions pages -> one inbox payload per tweet (the tweet with
the users, media and places it refers to), and payload -> InboundMessage."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from adapters.twitter.client import exhausted
from core.adapter import Envelope, InboxRecord, NormalizeError, RateLimited
from core.canonical import InboundMessage, Location, MediaRef, Sender

if TYPE_CHECKING:
    from adapters.twitter.plugin import TwitterAdapter

CONTENT_TYPE = "application/vnd.x.tweet+json"
# https://docs.x.com/x-api/posts/get-mentions
EXPANSIONS = ["author_id", "attachments.media_keys", "geo.place_id", "referenced_tweets.id"]
TWEET_FIELDS = ["created_at", "conversation_id", "in_reply_to_user_id", "referenced_tweets",
                "entities", "attachments", "geo", "author_id", "lang"]
USER_FIELDS = ["name", "username"]
MEDIA_FIELDS = ["type", "url", "width", "height"]
PLACE_FIELDS = ["full_name", "name", "country_code", "geo", "place_type"]
# the mentions timeline reaches back this many tweets
TIMELINE_REACH = 800
TWEET_ID = re.compile(r"^[0-9]{1,19}$")
# the "@a @b " X puts before a reply's text
_LEADING_HANDLES = re.compile(r"^(?:\s*@\w{1,15})+\s*")


def newer(a: str | None, b: str | None) -> str | None:
    """The newer of two tweet ids (snowflakes grow with time)."""
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


def read_cursor(cursor: str | None) -> tuple[str | None, str | None]:
    """(mentions since_id, last DM event id) from the stored cursor."""
    if not cursor or not cursor.startswith("{"):
        return cursor or None, None
    try:
        data = json.loads(cursor)
        return data.get("mentions"), data.get("dms")
    except (ValueError, AttributeError):
        return None, None


def fetch_mentions(adapter: TwitterAdapter, since_id: str | None) -> tuple[list[dict], str | None]:
    """Every mention after ``since_id`` (page by page, up to ``max_pages``) with its
    includes, and the newest id seen."""
    s = adapter.settings
    tweets: list[dict] = []
    newest, token = None, None
    start = None if since_id else adapter.now() - timedelta(hours=s.first_poll_hours)
    for _ in range(s.max_pages):
        # X said no request is left in this window: wait for its reset rather than earn a
        # 429 (nothing is kept from a half-read backfill, so no gap is skipped)
        if (until := exhausted(adapter.client, "/mentions", adapter.now())) is not None:
            raise RateLimited(until, "X rate limit: no mentions request left in the window")
        page = adapter.call(lambda c: c.get_users_mentions(
            s.user_id, since_id=since_id, start_time=start, pagination_token=token,
            max_results=100,
            expansions=EXPANSIONS, tweet_fields=TWEET_FIELDS, user_fields=USER_FIELDS,
            media_fields=MEDIA_FIELDS, place_fields=PLACE_FIELDS))
        meta = page.get("meta") or {}
        newest = newer(newest, meta.get("newest_id"))
        includes = page.get("includes") or {}
        for tweet in page.get("data") or []:
            if isinstance(tweet, dict) and TWEET_ID.match(str(tweet.get("id", ""))):
                tweets.append(_bundle(tweet, includes))
                newest = newer(newest, str(tweet["id"]))
        token = meta.get("next_token")
        if not token:
            break
    if since_id and (token or len(tweets) >= TIMELINE_REACH):
        adapter.poll_warning = (f"backfill: {len(tweets)} mentions read after {since_id}; "
                                "older ones in the gap may be beyond what X returns")
    return tweets, newest


def _bundle(tweet: dict, includes: dict) -> dict:
    """The tweet and only the included objects it points at."""
    keys = set((tweet.get("attachments") or {}).get("media_keys") or [])
    place = (tweet.get("geo") or {}).get("place_id")
    refs = {r.get("id") for r in tweet.get("referenced_tweets") or []}
    return {
        "tweet": tweet,
        "users": [u for u in includes.get("users") or [] if u.get("id") == tweet.get("author_id")],
        "media": [m for m in includes.get("media") or [] if m.get("media_key") in keys],
        "places": [p for p in includes.get("places") or [] if p.get("id") == place],
        "tweets": [t for t in includes.get("tweets") or [] if t.get("id") in refs],
    }


def envelopes(channel_id: str, bundles: list[dict]) -> list[Envelope]:
    # the tweet id is the inbox key: overlapping polls and the webhook give the same one
    return [Envelope(channel_id, str(b["tweet"]["id"]), json.dumps(
        b, ensure_ascii=False, separators=(",", ":")).encode(), content_type=CONTENT_TYPE,
        received_at=parse_time(b["tweet"].get("created_at"))) for b in bundles]


def parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def _location(bundle: dict) -> Location | None:
    geo = bundle["tweet"].get("geo") or {}
    coords = (geo.get("coordinates") or {}).get("coordinates")
    place = bundle["places"][0] if bundle["places"] else None
    address = (place or {}).get("full_name") or (place or {}).get("name")
    if isinstance(coords, list) and len(coords) == 2 and all(
            isinstance(c, (int, float)) for c in coords):
        return Location(lat=float(coords[1]), lon=float(coords[0]), address=address)
    # a place's bounding box can be a whole city: its name only, for routing by name
    return Location(address=address) if address else None


def _photos(bundle: dict) -> list[MediaRef]:
    return [MediaRef(url=m["url"], media_type="image/jpeg") for m in bundle["media"]
            if m.get("type") == "photo" and isinstance(m.get("url"), str)]


def _summoned(adapter: TwitterAdapter, bundle: dict) -> bool:
    """Whether the citizen mentioned or quoted the account: since 2026-02-23 X lets
    self-serve apps reply only then (https://docs.x.com/x-api/posts/manage-tweets)."""
    s = adapter.settings
    tweet = bundle["tweet"]
    for m in (tweet.get("entities") or {}).get("mentions") or []:
        if str(m.get("id")) == s.user_id or (
                s.account and str(m.get("username", "")).lower() == s.account.lower()):
            return True
    quoted = {r.get("id") for r in tweet.get("referenced_tweets") or []
              if r.get("type") == "quoted"}
    return any(t.get("id") in quoted and str(t.get("author_id")) == s.user_id
               for t in bundle["tweets"])


def to_message(adapter: TwitterAdapter, item: InboxRecord) -> InboundMessage:
    try:
        bundle = json.loads(item.payload)
        tweet = bundle["tweet"]
        tweet_id, author = str(tweet["id"]), str(tweet["author_id"])
        for key in ("users", "media", "places", "tweets"):
            bundle.setdefault(key, [])
    except (ValueError, KeyError, TypeError) as exc:
        raise NormalizeError(f"not a kanal tweet payload: {type(exc).__name__}: {exc}") from exc
    if not TWEET_ID.match(tweet_id) or not TWEET_ID.match(author):
        raise NormalizeError("tweet id or author id is not a numeric X id")
    base = dict(channel=adapter.channel_id, official_channel=adapter.official.id,
                external_id=tweet_id, received_at=parse_time(tweet.get("created_at")),
                extra={"conversation_id": tweet.get("conversation_id")})
    if author == adapter.settings.user_id:
        return InboundMessage(text="", intent="ignore", intent_arg="our own tweet", **base)
    text = _LEADING_HANDLES.sub("", str(tweet.get("text") or ""), count=1).strip()
    media, location = _photos(bundle), _location(bundle)
    if not (text or media):
        raise NormalizeError("a mention without text or photo")
    user = bundle["users"][0] if bundle["users"] else {}
    name = user.get("name")
    if user.get("username"):
        name = f"{name} (@{user['username']})" if name else f"@{user['username']}"
    refs = [r.get("id") for r in tweet.get("referenced_tweets") or []
            if r.get("type") == "replied_to" and TWEET_ID.match(str(r.get("id", "")))]
    conversation = str(tweet.get("conversation_id") or "")
    if conversation != tweet_id and TWEET_ID.match(conversation):
        refs.append(conversation)
    return InboundMessage(
        text=text, sender=Sender("twitter", author, name or None), location=location,
        media=media, thread_refs=list(dict.fromkeys(refs)),
        no_reply=None if _summoned(adapter, bundle) else "not summoned: X allows no reply",
        **base)

"""Reply tweets: the answer shortened to what X takes, posted in reply to the mention."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from core.adapter import CredentialsRejected, PermanentSendError, RateLimited, RetryLater
from core.canonical import OutboundMessage, SendResult

if TYPE_CHECKING:
    from adapters.twitter.plugin import TwitterAdapter

# https://docs.x.com/fundamentals/counting-characters
MAX_TWEET = 280
MAX_DM = 10000
_URL = re.compile(r"https?://\S+")
# what stands where the /lacak link would be when links are off
TRACKING_SITE = "situs pelacakan laporan"


def reply_text(text: str, *, link: bool, limit: int = MAX_TWEET) -> str:
    if not link:
        text = _URL.sub(TRACKING_SITE, text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def send_reply(adapter: TwitterAdapter, message: OutboundMessage, now: datetime) -> SendResult:
    s = adapter.settings
    if not message.reply_to:
        # X lets self-serve apps post only in reply to a tweet that summoned the account
        raise PermanentSendError("X: kanal only replies to a mention, and this has none")
    if not s.can_reply:
        raise CredentialsRejected("replies need KANAL_TWITTER_CONSUMER_KEY/_SECRET and the "
                                  "account's ACCESS_TOKEN/ACCESS_TOKEN_SECRET")
    dm = message.reply_to.startswith("dm:")
    text = reply_text(message.text, link=s.reply_link, limit=MAX_DM if dm else MAX_TWEET)
    try:
        if dm:  # a DM is answered by DM
            sent = adapter.call(lambda c: c.create_direct_message(
                participant_id=message.recipient, text=text, user_auth=True))
            event_id = ((sent or {}).get("data") or {}).get("dm_event_id")
            return SendResult(provider_message_id=f"dm:{event_id}" if event_id else None)
        sent = adapter.call(lambda c: c.create_tweet(
            text=text, in_reply_to_tweet_id=message.reply_to, user_auth=True))
    except RateLimited as exc:
        raise RetryLater(max(1.0, (exc.until - now).total_seconds()), str(exc)) from exc
    except CredentialsRejected as exc:
        if "HTTP 403" in str(exc):
            # also a reply X does not allow, a deleted tweet or a duplicate text
            raise PermanentSendError(str(exc)) from exc
        raise
    tweet_id = str(((sent or {}).get("data") or {}).get("id") or "") or None
    return SendResult(provider_message_id=tweet_id)

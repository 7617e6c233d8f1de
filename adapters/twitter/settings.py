from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_API_BASE = "https://api.twitter.com"


class TwitterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # the account's numeric user id: whose mentions are read, whose tweets are ours
    user_id: str = Field(min_length=1)
    bearer_token: str = Field(min_length=1)
    # the handle without "@", for texts and the "summoned" check
    account: str | None = None
    # OAuth 1.0a user context: replies need all four
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None
    api_base: str = DEFAULT_API_BASE
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    # the very first poll (no cursor yet) reads back this far, not the whole timeline:
    # kanal would otherwise answer up to 800 old mentions at once
    first_poll_hours: float = Field(default=24.0, gt=0)
    # read direct messages (needs the access token, and an X tier that allows them)
    direct_messages: bool = True
    # pages of 100 mentions read per poll; the mentions timeline reaches back 800 tweets
    max_pages: int = Field(default=8, ge=1, le=32)
    # put the /lacak link in replies: a post with a URL costs about 13 times a plain one
    reply_link: bool = False
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    # hosts photos are downloaded from (every redirect hop too)
    media_hosts: list[str] = Field(default_factory=lambda: ["pbs.twimg.com"])

    @field_validator("account", "consumer_key", "consumer_secret", "access_token",
                     "access_token_secret", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("account")
    @classmethod
    def _handle(cls, value: str | None) -> str | None:
        return value.strip().lstrip("@") if value else value

    @field_validator("user_id")
    @classmethod
    def _numeric(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[0-9]{1,19}", value):
            raise ValueError("user_id must be the account's numeric X user id")
        return value

    @field_validator("api_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/") or DEFAULT_API_BASE
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_base must be an http(s) URL")
        return value

    @property
    def can_reply(self) -> bool:
        return all((self.consumer_key, self.consumer_secret, self.access_token,
                    self.access_token_secret))

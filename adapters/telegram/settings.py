from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# what Telegram's setWebhook accepts as secret_token
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bot_token: str = Field(min_length=1)
    # required in webhook mode (see TelegramAdapter.check)
    secret_token: str | None = None
    # Telegram's cloud API, or a self-hosted Bot API server
    api_base: str = "https://api.telegram.org"
    mode: Literal["webhook", "polling"] = "webhook"
    poll_interval_seconds: float = Field(default=5.0, gt=0)
    # seconds one Bot API call may take before the caller gives up
    request_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() or c == "/" for c in value):
            raise ValueError("the bot token must be one word without '/'")
        return value

    @field_validator("secret_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_token")
    @classmethod
    def _secret_shape(cls, value: str | None) -> str | None:
        if value is not None and not _SECRET.match(value):
            raise ValueError("secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("api_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_base must be an http(s) URL")
        return value

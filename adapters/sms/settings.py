"""Settings of one Twilio channel (SMS or WhatsApp)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.identity import phone_e164

# Twilio answers a media URL on api.twilio.com with a redirect to its CDN; older accounts
# are sent to the CDN bucket on S3, hence the host+path entry.
DEFAULT_MEDIA_HOSTS = (
    "api.twilio.com",
    "media.twiliocdn.com",
    "mms.twiliocdn.com",
    "s3-external-1.amazonaws.com/media.twiliocdn.com/",
)


class SmsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: str = Field(min_length=1)
    # "+628111272206" for SMS, "whatsapp:+628111272206" for WhatsApp
    number: str
    api_base: str = "https://api.twilio.com"
    # log requests that fail the signature check instead of rejecting them (migrations)
    shadow: bool = False
    # hosts (or "host/path-prefix") media may be downloaded from: the SSRF guard
    media_hosts: list[str] = Field(default_factory=lambda: list(DEFAULT_MEDIA_HOSTS))
    timeout_seconds: float = Field(default=15.0, gt=0, le=120)

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        prefix = "whatsapp:" if value.lower().startswith("whatsapp:") else ""
        number = phone_e164(value[len(prefix):])
        if number is None:
            raise ValueError("not a phone number")
        return prefix + number

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("api_base must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("media_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def whatsapp(self) -> bool:
        return self.number.startswith("whatsapp:")

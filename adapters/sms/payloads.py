"""Twilio's messaging webhook parameters (form-encoded), as documented at
https://www.twilio.com/docs/messaging/guides/webhook-request and for status callbacks at
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import MultiDict

FORM = "application/x-www-form-urlencoded"
MAX_MEDIA = 10  # Twilio sends at most 10 media items per message

# Twilio MessageStatus -> the delivery state kanal records on the outbound message; "sent"
# is what the dispatcher records when Twilio has taken the message
STATUS_MAP = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}


# Twilio signs the sorted parameters run together, so a captured body can be re-cut (a
# parameter moved into the end of another) and still verify: the ids are checked for
# their exact shape, https://www.twilio.com/docs/glossary/what-is-a-sid
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
# WhatsApp's business-scoped user id (from 2026): a country code, a dot, up to 128 letters
# and digits; a parent id has ".ENT" after the country (ID.ENT.1181…)
BSUID = re.compile(r"[A-Z]{2}(\.ENT)?\.[A-Za-z0-9]{1,128}")
WHATSAPP = "whatsapp:"


class MalformedForm(ValueError):
    """The body is not a readable form."""


def _sid(pattern: re.Pattern, prefix: str, value: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"must be {prefix} followed by 32 hex digits")
    return value


class _Ids(BaseModel):
    """The provider ids every Twilio webhook carries, shape-checked."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    MessageSid: str
    AccountSid: str

    @field_validator("MessageSid")
    @classmethod
    def _message_sid(cls, value: str) -> str:
        return _sid(MESSAGE_SID, "SM or MM", value)

    @field_validator("AccountSid")
    @classmethod
    def _account_sid(cls, value: str) -> str:
        return _sid(ACCOUNT_SID, "AC", value)


class TwilioMedia(BaseModel):
    url: str
    content_type: str | None = None


class TwilioMessage(_Ids):
    """An incoming SMS, MMS or WhatsApp message."""

    From: str | None = None
    To: str | None = None
    Body: str = ""
    NumMedia: int = Field(default=0, ge=0)
    Latitude: float | None = Field(default=None, ge=-90, le=90)
    Longitude: float | None = Field(default=None, ge=-180, le=180)
    # WhatsApp location messages may name the place
    Address: str | None = None
    Label: str | None = None
    ProfileName: str | None = None
    WaId: str | None = None
    # the business-scoped user id; Twilio's changelog (2026-07-20) calls the Programmable
    # Messaging field ExternalUserIdentifier, read as well
    ExternalUserId: str | None = None
    # WhatsApp only: text, image, location, unsupported, ...
    MessageType: str | None = None
    media: list[TwilioMedia] = Field(default_factory=list)

    @field_validator("ExternalUserId")
    @classmethod
    def _bsuid(cls, value: str | None) -> str | None:
        if value is not None and not BSUID.fullmatch(value):
            raise ValueError("must be a WhatsApp business-scoped user id (CC.digits)")
        return value

    @property
    def by_whatsapp(self) -> bool:
        return (self.From or "").lower().startswith(WHATSAPP)

    @property
    def bsuid(self) -> str | None:
        """The business-scoped user id of a WhatsApp sender, when Twilio gives one."""
        if not self.by_whatsapp:
            return None
        bare = (self.From or "")[len(WHATSAPP):]
        return bare if BSUID.fullmatch(bare) else self.ExternalUserId

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TwilioMessage:
        data = {k: v for k, v in params.items() if v != "" or k == "Body"}
        if "ExternalUserId" not in data and params.get("ExternalUserIdentifier"):
            data["ExternalUserId"] = params["ExternalUserIdentifier"]
        count = _int(params.get("NumMedia"))
        data["media"] = [
            {"url": params[f"MediaUrl{i}"], "content_type": params.get(f"MediaContentType{i}")}
            for i in range(min(count, MAX_MEDIA)) if params.get(f"MediaUrl{i}")
        ]
        return cls.model_validate(data)


class TwilioStatus(_Ids):
    """A status callback about a message we sent."""

    MessageStatus: str = Field(min_length=1, max_length=32)
    ErrorCode: str | None = None

    @property
    def delivery(self) -> str:
        return STATUS_MAP.get(self.MessageStatus.lower(), self.MessageStatus.lower())

    @property
    def refusal(self) -> str:
        """Why Twilio gave the message up, as the outbox records it."""
        known = REFUSALS.get(self.ErrorCode or "")
        return (f"Twilio error {self.ErrorCode}: {self.MessageStatus}"
                + (f" ({known})" if known else ""))


# what the errors of a failed delivery mean (www.twilio.com/docs/api/errors/<code>)
REFUSALS = {
    "63016": "outside the 24-hour WhatsApp window; only a template may be sent",
    "21610": "the recipient unsubscribed (replied STOP to the number)",
    "21211": "invalid 'To' phone number",
    "30003": "unreachable destination handset",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
}


def parse_form(body: bytes) -> MultiDict:
    """The parameters of a form-encoded body; every value kept, for the signature."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                          errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedForm(f"the body is not a form-encoded payload: {exc}") from exc
    return MultiDict(pairs)


def repeated(params: MultiDict) -> list[str]:
    """Names given more than once among those kanal reads; Twilio never repeats them."""
    read = {*TwilioMessage.model_fields, *TwilioStatus.model_fields, "ExternalUserIdentifier"}
    return sorted(k for k in set(params.keys()) if k in read and len(params.getlist(k)) > 1)


def is_status_callback(params: Mapping[str, str]) -> bool:
    return "MessageStatus" in params and "Body" not in params


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0

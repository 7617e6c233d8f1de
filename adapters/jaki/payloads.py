"""The JAKI app's intake payload (our contract with the app team)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.uploads import StoredPhoto


class JakiLocation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=500)


class JakiReporter(BaseModel):
    """The app user; verified by the app's own login."""

    model_config = ConfigDict(extra="ignore")
    app_user_id: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)


class JakiReport(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    # the inbox key: printable ASCII without spaces (no NUL, no look-alike spellings)
    external_id: str = Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")
    text: str
    # kanal's id or the app's own name for it (core.categories maps it)
    category: str | None = Field(default=None, max_length=128)
    location: JakiLocation | None = None
    reporter: JakiReporter | None = None
    reported_at: datetime | None = None

    @field_validator("text")
    @classmethod
    def _text_present(cls, value: str) -> str:
        if not value:
            raise ValueError("text must not be empty")
        return value


class JakiInbox(BaseModel):
    """What is kept in the inbox: the app's report as sent, the client app, the photos."""

    client: str
    report: JakiReport
    photos: list[StoredPhoto] = Field(default_factory=list)

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MAPPING = "config/lapor.yaml"


class LaporSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # the API root, e.g. https://api.lapor.go.id/v1 (KANAL_LAPOR_BASE_URL)
    base_url: str = Field(min_length=1)
    # the agency's token (KANAL_LAPOR_TOKEN)
    token: str = Field(min_length=1)
    # the agency complaints are disposed to (KANAL_LAPOR_AGENCY_ID)
    agency_id: str = Field(min_length=1)
    poll_interval_seconds: float = Field(default=300.0, gt=0)
    # the API's names and statuses (KANAL_LAPOR_MAPPING); docs/lapor.md
    mapping: Path = Path(DEFAULT_MAPPING)
    # the very first poll (no cursor yet) asks for complaints changed this far back
    first_poll_hours: float = Field(default=72.0, gt=0)
    # pages read in one round before the poller waits for its next interval
    max_pages: int = Field(default=50, ge=1, le=1000)
    request_timeout_seconds: float = Field(default=15.0, gt=0)
    # hosts attachments are downloaded from (every redirect hop too); empty: the API's own
    media_hosts: list[str] = Field(default_factory=list)
    # the reverse direction: supervisors may forward a report of another channel to
    # LAPOR! (a matter for a national body); off unless the city does that
    forward: bool = False
    # forwarded reports carry the reporter's name, phone and email; else they go as
    # anonymous (the citizen reported to the city, not to LAPOR!)
    forward_reporter_contact: bool = False

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")) or not urlsplit(value).hostname:
            raise ValueError("base_url must be an http(s) URL")
        return value

    @field_validator("token", "agency_id")
    @classmethod
    def _stripped(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("mapping", mode="before")
    @classmethod
    def _default_mapping(cls, value: object) -> object:
        return DEFAULT_MAPPING if value is None or not str(value).strip() else value

    @property
    def hosts(self) -> list[str]:
        return self.media_hosts or [urlsplit(self.base_url).hostname or ""]

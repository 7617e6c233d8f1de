"""Settings of the ``email`` channel, as config/channels.yaml gives them."""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TlsMode = Literal["ssl", "starttls", "none"]


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = "dki@jakarta.go.id"
    # the name replies come from
    from_name: str = "Pemprov DKI Jakarta"
    imap_host: str | None = None
    imap_port: int = 993
    imap_user: str | None = None
    imap_password: str | None = None
    imap_tls: TlsMode = "ssl"
    smtp_host: str | None = None
    smtp_port: int = 465
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: TlsMode = "ssl"
    mailbox: str = "INBOX"
    max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # a folder processed mail is moved to after the commit; None = never move or delete
    move_to: str | None = None
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    # mails read per poll, and about how many bytes of them; the cursor moves past them
    # and the next poll goes on at once
    max_per_poll: int = Field(default=500, gt=0)
    max_poll_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    # IMAP IDLE: new mail is read within a second instead of at the next poll; the IDLE
    # command is renewed before the 29 minutes RFC 2177 allows
    idle: bool = True
    idle_renew_seconds: float = Field(default=1500.0, gt=0, le=1740)
    # acknowledgements per sender per hour (refilled evenly); more mail from the same
    # sender is still taken, only not answered (a loop with an autoresponder ends here)
    max_acks_per_hour: int = Field(default=10, ge=1)
    # other addresses of ours that never get an acknowledgement (aliases, the SMTP user)
    own_addresses: list[str] = Field(default_factory=list)

    @field_validator("imap_host", "imap_user", "imap_password", "smtp_host", "smtp_user",
                     "smtp_password", "move_to", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("imap_tls", "smtp_tls", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    def ssl_context(self) -> ssl.SSLContext:
        """Certificates and host names are verified."""
        return ssl.create_default_context()

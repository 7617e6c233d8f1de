from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# https://developers.facebook.com/docs/messenger-platform/instagram/features/private-replies
PUBLIC_REPLY = "Terima kasih, kami sudah mengirim pesan kepada Anda."


class MetaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # facebook: a Page (Messenger and the page's feed); instagram: a professional account
    platform: Literal["facebook", "instagram"] = "facebook"
    # the app's, shared by every channel of one Meta app (one callback URL per object)
    app_secret: str = Field(min_length=1)
    verify_token: str = Field(min_length=1)
    # the page id or Instagram account id that webhook entries carry as entry.id
    account_id: str
    page_access_token: str = Field(min_length=1)
    graph_base: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"
    timeout_seconds: float = Field(default=15.0, gt=0)
    # the short public answer under a comment: no tracking ID, no personal data
    public_reply: str = PUBLIC_REPLY
    # hosts attachment URLs may point at, on every redirect hop
    # (".fbcdn.net": any host below it); see core.remote
    media_hosts: list[str] = [".fbcdn.net", ".cdninstagram.com", "lookaside.fbsbx.com"]

    @field_validator("account_id", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        value = str(value).strip() if isinstance(value, (str, int)) else value
        if isinstance(value, str) and not value.isdigit():
            raise ValueError("account_id must be the numeric page or Instagram account id")
        return value

    @field_validator("graph_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("graph_base must be an http(s) URL")
        return value

    @field_validator("graph_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip()
        if not (value.startswith("v") and value[1:].replace(".", "").isdigit()):
            raise ValueError("graph_version looks like v25.0")
        return value

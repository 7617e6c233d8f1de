from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, field_validator, model_validator

from core.apikeys import CLIENT_NAME, check_names, client_for, parse_keys  # noqa: F401


class JakiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # "key" or "client=key,client2=key2"; one key per client application
    api_keys: str
    # a YAML file of the app's category names and kanal's ids for them ("Kabel Semrawut":
    # fasilitas-umum); it wins over the aliases in config/categories.yaml
    category_map: Path | None = None
    # where kanal POSTs each status change and officer's note of the app's reports (JSON,
    # signed with status_callback_secret); unset: the app asks GET /api/v1/reports/{id}
    status_callback_url: AnyHttpUrl | None = None
    status_callback_secret: str | None = None
    status_callback_timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _callback_signed(self) -> "JakiSettings":
        if self.status_callback_url is not None and not (self.status_callback_secret or ""
                                                         ).strip():
            raise ValueError("status_callback_url needs status_callback_secret (the key "
                             "the app checks the X-Kanal-Signature with)")
        return self

    @field_validator("api_keys")
    @classmethod
    def _parse_check(cls, value: str) -> str:
        keys = parse_keys(value)
        if not keys:
            raise ValueError("no API key given")
        # the client's name starts every inbox key ("android:<external_id>")
        check_names(keys)
        return value

    def client_for(self, presented: str) -> str | None:
        """The client application owning ``presented``, compared in constant time."""
        return client_for(self.api_keys, presented)

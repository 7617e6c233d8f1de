from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from core.apikeys import check_names, client_for, parse_keys


class Open311Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # "key" or "app1=k1,app2=k2": one key per client application; empty: no one may POST
    # (the GET endpoints are public and work without a key)
    api_keys: str = ""
    # the jurisdiction_id clients may send (an other one is refused with 400)
    jurisdiction: str = "jakarta.go.id"
    # hosts a media_url is downloaded from (``host``, ``host/path-prefix`` or ``.domain``,
    # comma separated, https only); any other media_url is kept as a link in the report
    media_hosts: str = ""
    # the discovery document's contact and key_service lines
    contact: str = "Cepat Respon Masyarakat, Pemprov DKI Jakarta"
    key_service: str = "Ask the city's CRM team for an API key per client application"

    @field_validator("api_keys")
    @classmethod
    def _names(cls, value: str) -> str:
        # the client's name starts every inbox key ("app1:<uuid>")
        check_names(parse_keys(value))
        return value

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("jurisdiction must not be empty")
        return value.strip()

    @property
    def hosts(self) -> list[str]:
        return [h.strip() for h in self.media_hosts.split(",") if h.strip()]

    def client_for(self, presented: str) -> str | None:
        return client_for(self.api_keys, presented) if presented else None

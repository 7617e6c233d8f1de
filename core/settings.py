"""Process settings from the environment (prefix KANAL_) and an optional .env file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

from dotenv import dotenv_values
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# where an installed wheel keeps the default config/ files (setup.cfg data_files)
SHARE = Path(sys.prefix) / "share" / "kanal"


def resolve(path: str | Path) -> Path:
    """A relative path is taken from the working directory, else from the project root
    (a source checkout), else from the installed copy (a wheel: <prefix>/share/kanal)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    for root in (PROJECT_ROOT, SHARE):
        if (root / p).exists():
            return root / p
    return p


class KanalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KANAL_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///kanal.sqlite3"
    config: Path = Path("config/channels.yaml")
    categories: Path = Path("config/categories.yaml")
    sla_policy: Path = Path("config/sla.yaml")
    # the dinas, biro and Inspektorat, and the category -> dinas map (core.unitsconf)
    units: Path = Path("config/units.yaml")
    boundaries: Path | None = None
    # beyond this distance from every kelurahan a point is not routed (goes to triage)
    boundaries_max_distance_m: float = 5000.0
    data_dir: Path = Path("kanal-data")
    public_base_url: str = ""
    language: str = "id"
    # plugin names to block: "fake,case_engine" or a JSON list
    disable_plugins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # addresses of reverse proxies whose X-Forwarded-* headers are trusted
    trusted_proxies: str = "127.0.0.1"
    max_text_chars: int = 5000
    max_photos: int = 5
    max_photo_bytes: int = 5 * 1024 * 1024
    max_body_bytes: int = 30 * 1024 * 1024
    web_rate_per_minute: float = 10.0
    web_rate_burst: int = 5
    scheduler: bool = True
    dispatch_interval_seconds: float = 2.0
    inbox_sweep_seconds: float = 10.0
    # how often the scheduler looks for cases past their SLA deadline (core.escalation)
    escalation_seconds: float = Field(60.0, gt=0)
    log_level: str = "INFO"
    # every database wait is bounded (seconds); a request that needs the database answers
    # 503 with Retry-After once connect + statement have passed
    db_connect_timeout: float = Field(3.0, gt=0)
    db_statement_timeout: float = Field(10.0, gt=0)
    db_lock_timeout: float = Field(5.0, gt=0)
    db_retry_after: int = Field(10, ge=1)
    # signs staff session cookies; without it a random key is made once and kept in
    # <data_dir>/secret_key (set it when several processes serve the same site)
    secret_key: str | None = None
    # keys used before the current one (comma separated), still accepted to read secrets
    # and sessions until ``kanal secrets rotate`` has encrypted everything again
    secret_key_previous: str = ""
    # how often a running process looks for channel changes made elsewhere (seconds)
    config_watch_seconds: float = Field(1.0, gt=0)
    staff_session_hours: float = 12.0
    # GET /metrics: with a token, only "Authorization: Bearer <token>" is answered; without
    # one, only loopback addresses and those listed in metrics_allow (comma separated
    # addresses or CIDRs, as request.client sees them behind trusted_proxies)
    metrics_token: str | None = None
    metrics_allow: str = ""

    @field_validator("disable_plugins", mode="before")
    @classmethod
    def _split_names(cls, value):
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        from core.metrics import allowed_networks

        allowed_networks(value)  # a typo is refused at start-up, not found out at the first scrape
        return value

    def environment(self) -> dict[str, str]:
        """What ``${NAME}`` in the channels file expands from: the environment, over the
        same .env file the settings read (so a secret may live in either)."""
        env_file = self.model_config.get("env_file")
        from_file = {}
        if env_file and Path(env_file).is_file():
            from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        return {**from_file, **os.environ}

    def previous_secret_keys(self) -> list[str]:
        return [k.strip() for k in self.secret_key_previous.split(",") if k.strip()]

    def db_limits(self):
        from core.dbguard import DbLimits

        return DbLimits(connect=self.db_connect_timeout, statement=self.db_statement_timeout,
                        lock=self.db_lock_timeout, retry_after=self.db_retry_after)

    def path(self, name: str) -> Path:
        return resolve(getattr(self, name))

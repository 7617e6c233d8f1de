"""Channel configuration: config/channels.yaml, with ${ENV_NAME} references for secrets."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

# ${NAME} or ${NAME:-default}
_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """The channels file cannot be used at all (unreadable, not YAML, wrong shape)."""


class OfficialChannel(BaseModel):
    """One of the city's official complaint channels, as reports are counted."""

    id: str
    number: int | None = None  # 1..13; None for extra channels such as Telegram
    name: str


class ChannelConfig(BaseModel):
    """One configured instance of an adapter."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    official_channel: str
    adapter: str
    name: str | None = None
    enabled: bool = True
    # outbound messages per second (with a burst of as many); default: the adapter's
    send_rate_per_second: float | None = Field(default=None, gt=0)
    settings: dict[str, Any] = Field(default_factory=dict)
    # environment variables referenced by settings but not set (filled in by the loader)
    missing_env: list[str] = Field(default_factory=list)
    # the settings as the file writes them, before ${...} expansion (what an export keeps)
    raw_settings: dict[str, Any] = Field(default_factory=dict)
    # from the database (core.channelconf): the keys an operator set, the override's
    # version (0: none), whether the file has the channel at all, and stored secrets
    # that no configured key opens
    overridden: list[str] = Field(default_factory=list)
    version: int = 0
    in_file: bool = True
    unreadable_secrets: list[str] = Field(default_factory=list)
    enabled_by_operator: bool = False  # ``enabled`` comes from the database


class ChannelsFile(BaseModel):
    official_channels: list[OfficialChannel]
    channels: list[ChannelConfig]

    @field_validator("channels")
    @classmethod
    def _unique_ids(cls, channels: list[ChannelConfig]) -> list[ChannelConfig]:
        seen: set[str] = set()
        for channel in channels:
            if channel.id in seen:
                raise ValueError(f"channel id {channel.id!r} appears twice")
            seen.add(channel.id)
        return channels

    def official(self, official_id: str) -> OfficialChannel | None:
        return next((o for o in self.official_channels if o.id == official_id), None)


def expand_env(value: Any, env: Mapping[str, str], missing: list[str]) -> Any:
    """Replace ${NAME} (or ${NAME:-default}) in every string; a value naming an unset
    variable without a default becomes None."""
    if isinstance(value, str):
        absent = [m.group(1) for m in _ENV_REF.finditer(value)
                  if not env.get(m.group(1)) and m.group(2) is None]
        if absent:
            missing.extend(n for n in absent if n not in missing)
            return None
        return _ENV_REF.sub(lambda m: env.get(m.group(1)) or m.group(2) or "", value)
    if isinstance(value, list):
        return [expand_env(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v, env, missing) for k, v in value.items()}
    return value


def load_channels(path: str | Path, env: Mapping[str, str] | None = None) -> ChannelsFile:
    env = os.environ if env is None else env
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read channels file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with official_channels and channels")
    for channel in raw.get("channels") or []:
        if isinstance(channel, dict):
            missing: list[str] = []
            channel["raw_settings"] = copy.deepcopy(channel.get("settings") or {})
            channel["settings"] = expand_env(channel.get("settings") or {}, env, missing)
            channel["missing_env"] = missing
    try:
        parsed = ChannelsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for channel in parsed.channels:
        if parsed.official(channel.official_channel) is None:
            raise ConfigError(
                f"{path}: channel {channel.id!r} names unknown official channel "
                f"{channel.official_channel!r}"
            )
    return parsed

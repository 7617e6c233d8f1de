"""Channel configuration in the database, over ``config/channels.yaml``.

The file is the declarative start (and all a fresh install reads). What an operator
changes from the console or the CLI is a row of ``channel_override``: per channel, the
enabled flag, the name and any setting, each of which wins over the file's; a channel the
file does not have (a second SMS number) carries its adapter and official channel there
too. Secrets are stored as Fernet tokens (``core.secretbox``). Every change is one
transaction with its audit events (``core.audit``), which is also how other processes
learn of it (``gateway.livecfg``).

A change is refused, and nothing is written, when: the channel does not exist (or
exists, for an add), the adapter is not installed, the official channel is unknown, a
setting is unknown or fails the adapter's own pydantic model, a secret is given as a
plain value (it would end up in shell history and the audit trail), a secret is typed in
without ``KANAL_SECRET_KEY``, or the form was made from an older version of the channel
(someone else changed it meanwhile)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from core import audit
from core.config import ChannelConfig, ChannelsFile, expand_env
from core.models import ChannelOverride, utcnow
from core.secretbox import SecretBox, SecretKeyMissing, SecretUnreadable

override_t = ChannelOverride.__table__
CHANNEL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# the channel's own fields that ``set`` also takes, beside the adapter's settings
CHANNEL_FIELDS = ("name",)


@dataclass
class FieldError:
    """One refused value: the setting, pydantic's error type and context (for the page's
    own language) and the English message."""

    field: str
    type: str
    message: str
    ctx: dict[str, Any] = field(default_factory=dict)


class ChangeRefused(ValueError):
    """Why a change was not made (``code``), in English; ``errors`` names the settings."""

    def __init__(self, code: str, message: str, errors: list[FieldError] | None = None,
                 **params: Any):
        super().__init__(message)
        self.code, self.errors, self.params = code, errors or [], params


def _is_secret(cls, key: str) -> bool:
    return key in getattr(cls, "secrets", ())


def read_overrides(conn: Connection) -> dict[str, Any]:
    return {row.channel: row for row in conn.execute(select(override_t))}


def watermark(conn: Connection) -> tuple[int, int]:
    """Moves with every change: (the newest audit id, the sum of override versions)."""
    versions = conn.execute(select(func.coalesce(func.sum(override_t.c.version), 0))).scalar()
    return audit.latest_id(conn), int(versions or 0)


def merge(base: ChannelConfig | None, row: Any, env: Mapping[str, str],
          box: SecretBox) -> ChannelConfig | None:
    """One channel as it runs: the file's entry (``base``) under the override ``row``."""
    if row is None:
        return base
    if base is None:
        if not row.adapter or not row.official_channel:
            return None  # an override of a channel the file no longer has
        base = ChannelConfig(id=row.channel, adapter=row.adapter,
                             official_channel=row.official_channel, enabled=False,
                             in_file=False)
    plain = dict(row.settings or {})
    stored = dict(row.secrets or {})
    missing: list[str] = []
    settings: dict[str, Any] = {}
    for key, raw in base.raw_settings.items():
        if key not in plain and key not in stored:
            settings[key] = expand_env(raw, env, missing)
    settings.update(plain)
    unreadable = []
    for key, token in stored.items():
        try:
            settings[key] = box.decrypt(token)
        except (SecretKeyMissing, SecretUnreadable):
            unreadable.append(key)
            settings[key] = None
    return base.model_copy(update={
        "name": row.name or base.name,
        "enabled": base.enabled if row.enabled is None else row.enabled,
        "enabled_by_operator": row.enabled is not None,
        "settings": settings, "missing_env": missing,
        "overridden": sorted(set(plain) | set(stored)), "version": row.version,
        "unreadable_secrets": unreadable})


def effective(file: ChannelsFile, rows: Mapping[str, Any], env: Mapping[str, str],
              box: SecretBox) -> list[ChannelConfig]:
    """Every channel: the file's, in its order, then those added by operators."""
    out = []
    for channel in file.channels:
        merged = merge(channel, rows.get(channel.id), env, box)
        if merged is not None:
            out.append(merged)
    known = {c.id for c in file.channels}
    for channel_id in sorted(set(rows) - known):
        merged = merge(None, rows[channel_id], env, box)
        if merged is not None and file.official(merged.official_channel) is not None:
            out.append(merged)
    return out


def validation_errors(cls, settings: dict[str, Any], keys: set[str]) -> list[FieldError]:
    """The adapter's model on the whole prospective settings; only the errors of the
    ``keys`` being changed count (a secret the file still lacks is the channel's own
    reason to be off, not a reason to refuse another setting)."""
    try:
        cls.Settings.model_validate(settings)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else ""
            if name in keys or not name:
                errors.append(FieldError(name or "settings", e["type"], e["msg"],
                                         {k: str(v) for k, v in (e.get("ctx") or {}).items()}))
        return errors
    return []


class Configurator:
    """Changes to channels, for the console and the CLI. ``kanal`` is the runtime (its
    registry, channels file, environment, engine and secret box)."""

    def __init__(self, kanal):
        self.kanal = kanal

    @property
    def box(self) -> SecretBox:
        return self.kanal.secret_box

    # -- reading -----------------------------------------------------------------------

    def current(self, conn: Connection, channel_id: str, *,
                lock: bool = True) -> tuple[ChannelConfig, Any]:
        """The channel as stored now (not as this process last loaded it) and its row,
        locked for the change about to be made unless ``lock`` is False (a read)."""
        q = select(override_t).where(override_t.c.channel == channel_id)
        row = conn.execute(q.with_for_update() if lock else q).first()
        base = next((c for c in self.kanal.channels_file.channels if c.id == channel_id), None)
        cfg = merge(base, row, self.kanal.env, self.box)
        if cfg is None:
            raise ChangeRefused("unknown_channel", f"no channel named {channel_id!r}",
                                channel=channel_id)
        return cfg, row

    def adapter_class(self, cfg: ChannelConfig):
        cls = self.kanal.registry.get(cfg.adapter)
        if cls is None:
            raise ChangeRefused("not_installed", f"adapter {cfg.adapter!r} is not installed",
                                adapter=cfg.adapter)
        return cls

    # -- writing -----------------------------------------------------------------------

    def _save(self, conn: Connection, channel_id: str, row: Any, values: dict[str, Any],
              actor: str, now: datetime) -> int:
        version = (row.version if row is not None else 0) + 1
        values = {**values, "version": version, "updated_at": now, "updated_by": actor}
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(override_t.insert().values(
                        channel=channel_id, settings=values.pop("settings", {}),
                        secrets=values.pop("secrets", {}), **values))
            except IntegrityError as exc:  # another change made the row meanwhile
                raise ChangeRefused("stale", "the channel was changed meanwhile; reload "
                                    "and try again", channel=channel_id) from exc
        else:
            conn.execute(override_t.update().where(override_t.c.channel == channel_id)
                         .where(override_t.c.version == row.version).values(**values))
        return version

    @staticmethod
    def _check_version(cfg: ChannelConfig, expected: int | None) -> None:
        if expected is not None and expected != cfg.version:
            raise ChangeRefused("stale", "someone else changed this channel meanwhile: "
                                "nothing was changed; reload it and try again",
                                channel=cfg.id)

    def add(self, conn: Connection, channel_id: str, adapter: str, official: str,
            actor: str, *, name: str | None = None, now: datetime | None = None) -> None:
        """A new channel of an installed adapter, disabled until it is enabled."""
        now = now or utcnow()
        if not CHANNEL_ID.match(channel_id):
            raise ChangeRefused("bad_id", "a channel id is 1 to 64 lowercase letters, "
                                "digits, '-' or '_', starting with a letter or digit",
                                channel=channel_id)
        in_file = any(c.id == channel_id for c in self.kanal.channels_file.channels)
        row = conn.execute(select(override_t).where(override_t.c.channel == channel_id)).first()
        if in_file or (row is not None and row.adapter):
            raise ChangeRefused("exists", f"a channel named {channel_id!r} exists already",
                                channel=channel_id)
        if self.kanal.registry.get(adapter) is None:
            raise ChangeRefused("not_installed", f"adapter {adapter!r} is not installed; "
                                f"installed: {', '.join(self.kanal.registry.names())}",
                                adapter=adapter)
        if self.kanal.channels_file.official(official) is None:
            known = ", ".join(o.id for o in self.kanal.channels_file.official_channels)
            raise ChangeRefused("unknown_official", f"no official channel {official!r}; "
                                f"known: {known}", official=official)
        self._save(conn, channel_id, row, {"adapter": adapter, "official_channel": official,
                                           "name": name or None, "enabled": False},
                   actor, now)
        audit.record(conn, actor, "add", channel=channel_id, new=adapter,
                     detail=f"official channel {official}", now=now)

    def set_enabled(self, conn: Connection, channel_id: str, enabled: bool, actor: str, *,
                    expected_version: int | None = None, now: datetime | None = None) -> bool:
        """False when it already was so (nothing written)."""
        now = now or utcnow()
        cfg, row = self.current(conn, channel_id)
        self._check_version(cfg, expected_version)
        self.adapter_class(cfg)
        if cfg.enabled == enabled:
            return False
        self._save(conn, channel_id, row, {"enabled": enabled}, actor, now)
        audit.record(conn, actor, "enable" if enabled else "disable", channel=channel_id,
                     setting="enabled", old=cfg.enabled, new=enabled, now=now)
        return True

    def update(self, conn: Connection, channel_id: str, actor: str, *,
               values: Mapping[str, str] | None = None,
               secrets: Mapping[str, str] | None = None, unset: tuple[str, ...] = (),
               expected_version: int | None = None,
               now: datetime | None = None) -> list[str]:
        """Set plain ``values`` and ``secrets`` (encrypted), or ``unset`` keys (back to the
        file's value); returns the keys that changed."""
        now = now or utcnow()
        values, secrets = dict(values or {}), dict(secrets or {})
        cfg, row = self.current(conn, channel_id)
        self._check_version(cfg, expected_version)
        cls = self.adapter_class(cfg)
        fields = cls.Settings.model_fields
        for key in [*values, *secrets, *unset]:
            if key not in fields and key not in CHANNEL_FIELDS:
                raise ChangeRefused("unknown_setting", f"{cfg.adapter} has no setting "
                                    f"{key!r}; its settings: {', '.join(fields)}",
                                    errors=[FieldError(key, "unknown_setting",
                                                       "unknown setting")], setting=key)
        for key in values:
            if _is_secret(cls, key):
                raise ChangeRefused("secret_as_plain", f"{key} is a secret: give it with "
                                    f"--secret {key} (read from standard input)",
                                    errors=[FieldError(key, "secret_as_plain", "secret")],
                                    setting=key)
        for key in secrets:
            if not _is_secret(cls, key):
                values[key] = secrets.pop(key)  # not a secret: stored as it is
        if secrets and not self.box.configured:
            raise ChangeRefused("secret_key_missing", str(SecretKeyMissing()))
        name = values.pop("name", None)
        prospective = {**cfg.settings, **values, **secrets}
        for key in unset:
            prospective.pop(key, None)
        base = next((c for c in self.kanal.channels_file.channels if c.id == channel_id), None)
        if base is not None:
            missing: list[str] = []
            for key in unset:
                if key in base.raw_settings:
                    prospective[key] = expand_env(base.raw_settings[key], self.kanal.env,
                                                  missing)
        errors = validation_errors(cls, prospective, set(values) | set(secrets))
        if errors:
            first = errors[0]
            raise ChangeRefused("invalid_setting", f"{first.field}: {first.message}",
                                errors=errors, setting=first.field)
        plain = dict(row.settings or {}) if row is not None else {}
        stored = dict(row.secrets or {}) if row is not None else {}
        changed = []
        for key, value in values.items():
            if cfg.settings.get(key) != value or key not in cfg.overridden:
                audit.record(conn, actor, "set", channel=channel_id, setting=key,
                             old=cfg.settings.get(key), new=value, now=now)
                changed.append(key)
            plain[key] = value
            stored.pop(key, None)
        for key, value in secrets.items():
            if cfg.settings.get(key) != value:
                audit.record(conn, actor, "set_secret", channel=channel_id, setting=key,
                             old=audit.mask(cfg.settings.get(key)), new=audit.mask(value),
                             now=now)
                changed.append(key)
            stored[key] = self.box.encrypt(value)
            plain.pop(key, None)
        for key in unset:
            if key in plain or key in stored:
                secret = key in stored
                audit.record(conn, actor, "unset", channel=channel_id, setting=key,
                             old=audit.mask(cfg.settings.get(key)) if secret
                             else cfg.settings.get(key), detail="back to the channels file",
                             now=now)
                plain.pop(key, None)
                stored.pop(key, None)
                changed.append(key)
        update: dict[str, Any] = {"settings": plain, "secrets": stored}
        if name is not None and name != (cfg.name or ""):
            audit.record(conn, actor, "set", channel=channel_id, setting="name",
                         old=cfg.name, new=name, now=now)
            update["name"] = name or None
            changed.append("name")
        if changed:
            self._save(conn, channel_id, row, update, actor, now)
        return changed

    def rotate_secrets(self, conn: Connection, actor: str, now: datetime | None = None) -> int:
        """Every stored secret encrypted again under the current key; the number done.
        One secret that no key opens refuses the whole rotation (nothing is written)."""
        now = now or utcnow()
        if not self.box.configured:
            raise ChangeRefused("secret_key_missing", str(SecretKeyMissing()))
        rows = list(conn.execute(select(override_t).with_for_update()))
        done, updates = 0, []
        for row in rows:
            if not row.secrets:
                continue
            fresh = {}
            for key, token in row.secrets.items():
                try:
                    fresh[key] = self.box.rotate(token)
                except SecretUnreadable as exc:
                    raise ChangeRefused("secret_unreadable", f"{row.channel}.{key}: {exc}",
                                        channel=row.channel, setting=key) from exc
                done += 1
            updates.append((row, fresh))
        for row, fresh in updates:
            conn.execute(override_t.update().where(override_t.c.channel == row.channel)
                         .values(secrets=fresh, version=row.version + 1, updated_at=now,
                                 updated_by=actor))
        audit.record(conn, actor, "secrets_rotate", detail=f"{done} secrets encrypted "
                     "again under the current KANAL_SECRET_KEY", now=now)
        return done


def env_name(channel_id: str, key: str) -> str:
    """The variable an exported console secret is referenced by: KANAL_<ID>_<KEY>."""
    return "KANAL_" + re.sub(r"[^A-Z0-9]+", "_", f"{channel_id}_{key}".upper()).strip("_")


def export(file: ChannelsFile, rows: Mapping[str, Any], registry) -> dict[str, Any]:
    """The effective configuration as a channels file: the file's values as written
    (``${...}`` references kept), an operator's plain values as set, and every secret as
    a ``${...}`` reference (a secret typed into the console becomes
    ``${KANAL_<ID>_<KEY>}``, to be set in the environment of the process reading it)."""
    channels = []
    known = {c.id for c in file.channels}
    entries = [(c, rows.get(c.id)) for c in file.channels]
    entries += [(None, rows[i]) for i in sorted(set(rows) - known) if rows[i].adapter]
    for base, row in entries:
        adapter = base.adapter if base else row.adapter
        cls = registry.get(adapter)
        secret_keys = set(getattr(cls, "secrets", ()))
        settings: dict[str, Any] = dict(base.raw_settings) if base else {}
        plain = dict(row.settings or {}) if row is not None else {}
        stored = dict(row.secrets or {}) if row is not None else {}
        for key, value in plain.items():
            settings[key] = f"${{{env_name(row.channel, key)}}}" if key in secret_keys else value
        for key in stored:
            settings[key] = f"${{{env_name(row.channel, key)}}}"
        for key, value in list(settings.items()):
            # a secret written into the file in plain text is not copied either
            if key in secret_keys and not (isinstance(value, str) and value.startswith("${")):
                settings[key] = f"${{{env_name(row.channel if row else base.id, key)}}}"
        entry: dict[str, Any] = {
            "id": base.id if base else row.channel,
            "official_channel": base.official_channel if base else row.official_channel,
            "adapter": adapter}
        name = (row.name if row is not None and row.name else None) or (base.name if base else None)
        if name:
            entry["name"] = name
        enabled = base.enabled if base else False
        if row is not None and row.enabled is not None:
            enabled = row.enabled
        entry["enabled"] = enabled
        if base is not None and base.send_rate_per_second:
            entry["send_rate_per_second"] = base.send_rate_per_second
        entry["settings"] = settings
        channels.append(entry)
    return {"official_channels": [o.model_dump() for o in file.official_channels],
            "channels": channels}

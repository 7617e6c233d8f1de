"""The runtime: settings, database, plugins, channels and workers of one kanal process."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from core import channelconf, inbox
from core.adapter import (Adapter, AdapterRegistry, Check, ConnectionTest, Envelope, NotReady,
                          missing_modules)
from core.case_engine import CaseEngine, SlaPolicy
from core.categories import load as load_categories
from core.errors import ApiError
from core.config import ChannelConfig, ChannelsFile, OfficialChannel, load_channels
from core.db import is_sqlite, make_engine, probing, watch_health, writing
from core.dbguard import DatabaseHealth, is_outage
from core.geo import Boundaries
from core.health import get_cursor, set_cursor
from core.ingest import Ingestor
from core.media import MediaFetcher
from core.messages import OutboundTexts
from core.metrics import Metrics
from core.models import utcnow
from core.notify import CitizenNotices, deliver_notices
from core.outbox import Dispatcher
from core.pipeline import Pipeline
from core.rating import RatingPrompts
from core.secretbox import SecretBox
from core.settings import KanalSettings
from core.storage import LocalAttachmentStore
from gateway import auth as staff_auth, staff_pages
from gateway.pages import Pages
from gateway.plugins import get_plugin_manager

log = logging.getLogger(__name__)


# why a channel is off: a code with its parameters, and the English the CLI and JSON show;
# the staff page renders the code in its own language (templates/staff_admin.html)
REASONS = {
    "disabled_in_file": "disabled in the channels file",
    "disabled_by_operator": "disabled by an operator",
    "secret_unreadable": "stored secret cannot be decrypted with KANAL_SECRET_KEY: {names}",
    "adapter_conflict": "{detail}",
    "blocked": "adapter '{adapter}' is blocked by KANAL_DISABLE_PLUGINS",
    "not_installed": "adapter '{adapter}' is not installed (not built yet)",
    "missing_library": "library not installed: {names}",
    "missing_secret": "secret not set: {names}",
    "invalid_settings": "invalid settings: {where}: {msg}",
    "not_ready": "{detail}",
    "check_failed": "check failed: {detail}",
    **NotReady.TEXTS,  # what adapters' own checks say
}


@dataclass
class ChannelStatus:
    config: ChannelConfig
    official: OfficialChannel
    state: str  # ready | disabled
    reason: str
    adapter: Adapter | None = None
    reason_code: str = ""  # a key of REASONS
    reason_params: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.config.id,
            "name": self.config.name or self.official.name,
            "official_channel": self.official.id,
            "official_channel_number": self.official.number,
            "official_channel_name": self.official.name,
            "adapter": self.config.adapter,
            "state": self.state,
            "reason": self.reason,
        }


class LiveAdapters(Mapping):
    """The ready channels by id, read by the pipeline, the dispatcher and the media
    fetcher while a reload may replace them: each published dict is never changed
    again, so iterating one is safe from any thread."""

    def __init__(self, adapters: dict[str, Adapter] | None = None):
        self._current: dict[str, Adapter] = dict(adapters or {})

    def publish(self, adapters: dict[str, Adapter]) -> None:
        self._current = dict(adapters)

    def __getitem__(self, channel_id: str) -> Adapter:
        return self._current[channel_id]

    def __iter__(self):
        return iter(self._current)

    def __len__(self) -> int:
        return len(self._current)


class Kanal:
    """Everything one process needs, built from settings; nothing global."""

    def __init__(
        self,
        settings: KanalSettings,
        *,
        engine: Engine | None = None,
        clock: Callable[[], datetime] = utcnow,
        randbelow: Callable[[int], int] = secrets.randbelow,
        extra_plugins: tuple[object, ...] = (),
        env: dict[str, str] | None = None,
    ):
        self.settings = settings
        self.clock = clock
        from gateway.scheduler import PollHolds

        # pollers held back by a provider's rate limit or refused credentials
        self.poll_holds = PollHolds()
        self.db_limits = settings.db_limits()
        self.engine = engine or make_engine(settings.database_url, limits=self.db_limits)
        self.db_health = DatabaseHealth(self._probe_database, self.db_limits)
        if not is_sqlite(str(self.engine.url)):
            # on SQLite the database is a local file: nothing to wait out between requests
            watch_health(self.engine, self.db_health)
        self.store = LocalAttachmentStore(settings.data_dir / "attachments")
        self.category_list = load_categories(settings.path("categories"))
        self.category_names = {c["id"]: c["id_name"] for c in self.category_list}
        self.boundaries = (
            Boundaries.from_geojson(settings.path("boundaries"),
                                    max_distance_m=settings.boundaries_max_distance_m)
            if settings.boundaries else None
        )
        sla_path = settings.path("sla_policy")
        sla = SlaPolicy.from_yaml(sla_path) if sla_path.exists() else SlaPolicy.default()
        self.case_engine = CaseEngine(self.boundaries, sla)
        self.rating_prompts = RatingPrompts(staff_auth.secret_key(settings),
                                            settings.public_base_url)
        self.pm = get_plugin_manager(
            blocked=settings.disable_plugins,
            named={"case_engine": self.case_engine,
                   "outbound_texts": OutboundTexts(settings.public_base_url),
                   "citizen_notices": CitizenNotices(),
                   "rating_prompts": self.rating_prompts},
            extra=extra_plugins,
        )
        self.registry = AdapterRegistry()
        self.pm.hook.kanal_register_adapters(register=self.registry)
        self.pages = Pages(self)
        self.env = settings.environment() if env is None else env
        self.secret_box = SecretBox.from_settings(settings)
        self.channels_file: ChannelsFile = load_channels(settings.path("config"), self.env)
        self._reload_lock = threading.RLock()
        # told the ids of channels a reload rebuilt (the scheduler starts and stops pollers)
        self.on_channels_changed: Callable[[list[str]], None] | None = None
        # the log filter of ``kanal serve``: told the secrets of every reloaded channel
        self.redactor = None
        self.channels = [self._build_channel(c) for c in self._effective_configs()]
        self.adapters = LiveAdapters({
            c.config.id: c.adapter for c in self.channels if c.state == "ready" and c.adapter
        })
        self.pipeline = Pipeline(self.adapters, self.pm.hook, clock=clock, randbelow=randbelow,
                                 language=settings.language)
        self.ingestor = Ingestor(self.engine, self.pipeline, health=self.db_health,
                                 limits=self.db_limits)
        self.dispatcher = Dispatcher(self.engine, self.adapters, clock=clock)
        self.metrics = Metrics(self)  # a Dispatcher or Ingestor built anew needs it too
        self.ingestor.observer = self.dispatcher.observer = self.metrics
        self._poll_locks: dict[str, threading.Lock] = {}
        self.started_up = False
        self.media = MediaFetcher(self.engine, self.adapters, self.store,
                                  max_bytes=settings.max_photo_bytes, clock=clock)
        self.cases = self._build_cases(sla)
        self.pipeline.cases = self.cases  # a rating reply may reopen its case

    def _build_cases(self, sla: SlaPolicy):
        """The officers' actions on cases (``core.cases``)."""
        from core.cases import Cases
        from core.proofs import ProofPhotos

        return Cases(clocks=sla, hook=self.pm.hook, proofs=ProofPhotos(self.store),
                     deliver=self.rating_prompts.deliver_with(
                         lambda conn, report_id, notices, now: deliver_notices(
                             self.pipeline, conn, report_id, notices, now), self.adapters))

    def act_on_case(self, staff, compact: str, request):
        """One officer's or supervisor's action, in its own writing transaction."""
        with writing(self.engine) as conn:
            return self.cases.act(conn, staff, compact, request, self.clock())

    def forward_report(self, actor: str, role: str, compact: str, channel_id: str) -> int:
        """Queue a report for another system (``core.forwarding``): the outbox item."""
        from core import forwarding

        with writing(self.engine) as conn:
            return forwarding.forward(conn, self.adapters, actor, role, compact, channel_id,
                                      self.clock())

    # -- channels ----------------------------------------------------------------------

    def _effective_configs(self) -> list[ChannelConfig]:
        """The channels file under the operators' changes in the database; the file alone
        while the database has no tables yet (a command before ``db upgrade``) or is out
        (the watcher loads the changes once it answers)."""
        try:
            with self.engine.connect() as conn:
                rows = channelconf.read_overrides(conn)
        except SQLAlchemyError as exc:
            if not is_outage(exc) and "channel_override" not in str(exc):
                raise
            log.warning("channel changes from the database not loaded: %s",
                        str(exc).splitlines()[0])
            rows = {}
        return channelconf.effective(self.channels_file, rows, self.env, self.secret_box)

    @cached_property
    def configurator(self) -> channelconf.Configurator:
        return channelconf.Configurator(self)

    def reload_channels(self) -> list[str]:
        """Rebuild the channels whose configuration changed in the database; the others
        keep running untouched. Returns the ids rebuilt."""
        with self._reload_lock:
            configs = self._effective_configs()
            current = {c.config.id: c for c in self.channels}
            channels, changed = [], []
            for cfg in configs:
                old = current.get(cfg.id)
                if old is not None and old.config == cfg:
                    channels.append(old)
                    continue
                channels.append(self._build_channel(cfg))
                changed.append(cfg.id)
            if not changed:
                return []
            retired = [current[i].adapter for i in changed
                       if i in current and current[i].adapter is not None]
            self.channels = channels
            self.adapters.publish({c.config.id: c.adapter for c in channels
                                   if c.state == "ready" and c.adapter})
            for cid in changed:
                self.poll_holds.clear(cid)
            if self.redactor is not None:
                from gateway.logs import redact_channels

                redact_channels(self.redactor, self)
            log.info("channels changed: %s", ", ".join(
                f"{c.config.id} ({c.state})" for c in channels if c.config.id in changed))
        for adapter in retired:
            threading.Thread(target=self._retire, args=(adapter,), daemon=True,
                             name=f"retire:{adapter.channel_id}").start()
        if self.on_channels_changed is not None:
            self.on_channels_changed(changed)
        return changed

    def _retire(self, adapter: Adapter) -> None:
        """Close a replaced channel once its current poll, if any, has finished."""
        with self._poll_locks.setdefault(adapter.channel_id, threading.Lock()):
            try:
                adapter.close()
            except Exception:
                log.exception("closing replaced channel %s failed", adapter.channel_id)

    def test_channel(self, channel_id: str,
                     pending: dict[str, Any] | None = None) -> ConnectionTest:
        """The adapter's live check against its provider, on the stored configuration
        with any ``pending`` settings (values typed in and not saved yet), whether or not
        the channel is enabled (an operator tests before enabling)."""
        with self.engine.connect() as conn:
            cfg, _ = self.configurator.current(conn, channel_id, lock=False)
        settings = {**cfg.settings, **(pending or {})}
        missing = [] if pending else cfg.missing_env  # validation says what still lacks
        status = self._build_channel(cfg.model_copy(update={
            "enabled": True, "settings": settings, "missing_env": missing,
            "unreadable_secrets": [k for k in cfg.unreadable_secrets
                                   if k not in (pending or {})]}), check=False)
        if status.adapter is None:
            return ConnectionTest([Check("settings", False, status.reason)])
        try:
            return status.adapter.test_connection()
        except Exception as exc:  # an adapter's bug must not pass for a refusal
            log.exception("connection test of %s failed", channel_id)
            return ConnectionTest([Check("test", False, f"{type(exc).__name__}: {exc}")])
        finally:
            status.adapter.close()

    def _build_channel(self, cfg: ChannelConfig, *, check: bool = True) -> ChannelStatus:
        official = self.channels_file.official(cfg.official_channel)

        def off(code: str, **params: str) -> ChannelStatus:
            return ChannelStatus(cfg, official, "disabled", REASONS[code].format(**params),
                                 reason_code=code, reason_params=params)

        if not cfg.enabled:
            return off("disabled_by_operator" if cfg.enabled_by_operator
                       else "disabled_in_file")
        if cfg.unreadable_secrets:
            return off("secret_unreadable", names=", ".join(cfg.unreadable_secrets))
        if cfg.adapter in self.registry.conflicts:
            return off("adapter_conflict", detail=self.registry.conflicts[cfg.adapter])
        cls = self.registry.get(cfg.adapter)
        if cls is None:
            if self.pm.is_blocked(cfg.adapter):
                return off("blocked", adapter=cfg.adapter)
            return off("not_installed", adapter=cfg.adapter)
        absent = missing_modules(cls)
        if absent:
            return off("missing_library", names=", ".join(absent))
        try:
            settings = cls.Settings.model_validate(cfg.settings)
        except ValidationError as exc:
            if cfg.missing_env:
                return off("missing_secret", names=", ".join(cfg.missing_env))
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "settings"
            return off("invalid_settings", where=where, msg=first["msg"])
        if cfg.missing_env:
            return off("missing_secret", names=", ".join(cfg.missing_env))
        adapter = cls(cfg, official, settings, self)
        if not check:
            return ChannelStatus(cfg, official, "ready", "", adapter)
        try:
            reason = adapter.check()
        except Exception as exc:  # a broken adapter disables its channel, not the gateway
            return off("check_failed", detail=f"{type(exc).__name__}: {exc}")
        if isinstance(reason, NotReady):  # the adapter's own code, said on pages too
            return off(reason.code, **reason.params)
        if reason:
            return off("not_ready", detail=reason)
        return ChannelStatus(cfg, official, "ready", "", adapter)

    def channel(self, channel_id: str) -> ChannelStatus | None:
        return next((c for c in self.channels if c.config.id == channel_id), None)

    def ready_adapter(self, adapter_name: str) -> Adapter:
        """The running channel of an adapter, or a 503 ApiError saying why there is none."""
        statuses = [c for c in self.channels if c.config.adapter == adapter_name]
        ready = next((c.adapter for c in statuses if c.adapter is not None), None)
        if ready is None:
            reason = statuses[0].reason if statuses else "no such channel is configured"
            raise ApiError(503, "channel_disabled",
                           f"the {adapter_name} channel is disabled: {reason}")
        return ready

    @cached_property
    def public_photos(self):
        """Photos as the public tracking page shows them: copies without metadata."""
        from core.photos import PublicPhotos

        return PublicPhotos(self.store)

    @cached_property
    def auth(self):
        """Staff sessions and sign-in throttles (made on first use: the key may be a file)."""
        from gateway.auth import Auth

        return Auth(self.settings)

    # -- the Runtime protocol adapters use ----------------------------------------------

    def ingest(self, envelope: Envelope):
        return self.ingestor.ingest(envelope)

    def render(self, request, template, context, status_code=200):
        return self.pages.render(request, template, context, status_code)

    def categories(self) -> list[dict[str, str]]:
        return self.category_list

    async def staff_account(self, request, roles, *, keep_form=False):
        return await staff_auth.signed_in(request, roles, keep_form=keep_form)

    def staff_page(self, request, template, context, *, status_code=200, staff=None):
        return staff_pages.page(request, template, context, status_code=status_code,
                                staff=staff)

    def staff_office(self, office_id):
        return staff_pages.kanal_office(self, office_id) if office_id else None

    def csrf_ok(self, request, sent) -> bool:
        return staff_auth.csrf_ok(request, sent)

    # -- work --------------------------------------------------------------------------

    def _probe_database(self) -> None:
        with probing(), self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def stop(self) -> None:
        self.db_health.stop()
        self.ingestor.close()
        for adapter in self.adapters.values():
            try:
                adapter.close()
            except Exception:  # one adapter failing to close must not keep the rest open
                log.exception("closing channel %s failed", adapter.channel_id)
        self.engine.dispose()

    def start_up(self) -> None:
        """Walk-in offices and units from the boundaries (and config/units.yaml), then
        every pending inbox payload. Until it has run once (the database may be out at
        start-up) the inbox sweep runs it."""
        from core.offices import sync_from_settings
        from core.units import sync_units

        added = sync_from_settings(self.engine, self.settings)
        if added:
            log.info("added %d walk-in offices from %s", added, self.settings.boundaries)
        log.info("units: %s", sync_units(self.engine, self.settings))
        replayed = self.replay()
        if replayed:
            log.info("replayed %d pending inbox payloads", replayed)
        self.started_up = True

    def replay(self) -> int:
        """Process every pending inbox payload of running channels (start-up recovery)."""
        return self.ingestor.run(self._drain)

    def _drain(self) -> int:
        return inbox.drain(self.engine, self.pipeline)

    def poll_channel(self, channel_id: str) -> int:
        """Poll a polling channel until its backlog is drained: each poll's payloads are
        committed before the cursor moves. Polls of one channel never overlap within this
        process (across processes, ``gateway.scheduler.exclusive`` guards them)."""
        adapter = self.adapters.get(channel_id)
        if adapter is None:
            return 0  # disabled since the poller was woken
        with self._poll_locks.setdefault(channel_id, threading.Lock()):
            if self.adapters.get(channel_id) is not adapter:
                return 0  # replaced while this poll waited for the previous one
            total = 0
            while True:
                with self.engine.connect() as conn:
                    cursor = get_cursor(conn, channel_id)
                polled = adapter.poll(cursor)
                if polled is None:
                    return total
                envelopes, next_cursor = polled
                if envelopes:
                    self.ingestor.ingest_many(envelopes)
                if next_cursor != cursor:
                    with writing(self.engine) as conn:
                        set_cursor(conn, channel_id, next_cursor)
                total += len(envelopes)
                if self.adapters.get(channel_id) is not adapter:
                    return total  # disabled or changed meanwhile: stop after this batch
                if next_cursor == cursor or not adapter.poll_again(envelopes):
                    return total

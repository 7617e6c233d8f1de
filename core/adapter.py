"""The adapter contract: what a channel plugin implements, and the registry it joins."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from core.canonical import InboundMessage, IngestResult, MediaRef, OutboundMessage, SendResult
from core.config import ChannelConfig, OfficialChannel

if TYPE_CHECKING:
    from fastapi import APIRouter, Response

    from core.storage import AttachmentStore


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class InboxRecord:
    """A committed inbox row, as an adapter's ``normalize`` receives it."""

    id: int
    channel: str
    external_id: str
    content_type: str
    payload: bytes
    received_at: datetime | None


@dataclass(slots=True)
class Envelope:
    """A raw payload on its way into the inbox."""

    channel: str
    external_id: str
    payload: bytes
    content_type: str = "application/json"
    received_at: datetime | None = None


class RetryLater(Exception):
    """From ``send``: the provider asked us to wait (HTTP 429 Retry-After)."""

    def __init__(self, seconds: float, message: str = ""):
        super().__init__(message or f"retry after {seconds:g} s")
        self.seconds = seconds


class RateLimited(Exception):
    """From ``poll``: the provider refuses calls until ``until`` (an aware UTC time, from
    a rate-limit reset header); the poller waits until then and the channel's health
    says so, while the other channels carry on."""

    def __init__(self, until: datetime, message: str = ""):
        super().__init__(message or f"rate limited until {until.isoformat()}")
        self.until = until


class CredentialsRejected(Exception):
    """From ``poll`` or ``send``: the provider refused the channel's credentials (a
    revoked or expired token); health shows a credential problem and the poller backs
    off."""


class PermanentSendError(Exception):
    """From ``send``: retrying cannot help (an invalid number, a blocked bot)."""


@dataclass(slots=True)
class Notice:
    """A message to the sender of a payload kanal could not take (a mail over the size
    limit): formatted by ``kanal_format_outbound`` with ``details`` and sent through the
    outbox."""

    recipient: str
    kind: str
    details: dict[str, Any]


class NormalizeError(ValueError):
    """The payload cannot become a canonical message; it is quarantined with this reason,
    and ``notice``, when given, tells the sender why."""

    def __init__(self, reason: str, *, notice: Notice | None = None):
        super().__init__(reason)
        self.notice = notice


M = TypeVar("M", bound=BaseModel)


def read_payload(model: type[M], item: InboxRecord, what: str) -> M:
    """The inbox payload as ``model``, or a NormalizeError naming its first problem."""
    try:
        return model.model_validate_json(item.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise NormalizeError(f"not a {what} payload: "
                             f"{where + ': ' if where else ''}{first['msg']}") from exc


class Runtime(Protocol):
    """What the gateway gives every adapter."""

    store: AttachmentStore
    settings: Any  # core.settings.KanalSettings
    engine: Any  # sqlalchemy.Engine
    # the ready channels by id (read only): one provider webhook may carry payloads for
    # several channels of an adapter (Meta's one callback URL per app)
    adapters: dict[str, Adapter]

    def ingest(self, envelope: Envelope) -> Awaitable[IngestResult]: ...

    def render(self, request: Request, template: str, context: dict[str, Any],
               status_code: int = 200) -> Response: ...

    def categories(self) -> list[dict[str, str]]: ...

    def ready_adapter(self, adapter_name: str) -> Adapter:
        """The running channel of an adapter; raises a 503 ApiError with the reason."""
        ...

    async def staff_account(self, request: Request, roles: tuple[str, ...], *,
                            keep_form: bool = False) -> Any:
        """The signed-in staff account with one of ``roles`` (all roles when empty); else
        the sign-in page or the "not allowed" page (None with ``keep_form``)."""
        ...

    def staff_page(self, request: Request, template: str, context: dict[str, Any], *,
                   status_code: int = 200, staff: Any = None) -> Response:
        """A staff page: the account, its office and the CSRF token in the context."""
        ...

    def staff_office(self, office_id: str | None) -> Any:
        """The office row of a staff account, or None."""
        ...

    def csrf_ok(self, request: Request, sent: object) -> bool:
        """Whether a staff form carries its session's CSRF token."""
        ...


def staff_only(*roles: str, keep_form: bool = False) -> Any:
    """The dependency a staff route of an adapter declares: the signed-in account, checked
    by the runtime (``Runtime.staff_account``) that handlers reach through the app."""

    async def guard(request: Request) -> Any:
        return await request.app.state.kanal.staff_account(request, roles, keep_form=keep_form)

    guard.kanal_guard = (roles, keep_form)  # what the route-guard test looks for
    return Depends(guard)


@dataclass(slots=True)
class Check:
    """One step of a connection test: what was tried, whether the provider accepted it,
    and what an operator can act on ("the token was refused: make a new one in
    @BotFather"), in English."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(slots=True)
class ConnectionTest:
    """What ``Adapter.test_connection`` found. No checks: the channel has no provider to
    ask (JAKI, the web form, a walk-in counter), which counts as passed."""

    checks: list[Check]
    # when the provider says the credentials stop working (Meta's debug_token)
    expires_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok,
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail}
                           for c in self.checks],
                "expires_at": self.expires_at.isoformat() if self.expires_at else None}


class NotReady(str):
    """Why a channel cannot run, as ``Adapter.check`` says it: the English text (for the
    CLI, the JSON and the logs) with a code and parameters, so the operations page can
    say it in its own language. ``NotReady("setting_missing", setting="imap_host",
    env="KANAL_IMAP_HOST")``."""

    TEXTS = {
        "setting_missing": "{setting} is not set ({env})",
        "setting_missing_no_ack": "{setting} is not set ({env}): citizens would get no "
                                  "tracking ID",
        "setting_required_in_mode": "{setting} is required in {mode} mode",
        "invalid_file": "{setting}: {detail}",
    }

    code: str
    params: dict[str, str]

    def __new__(cls, code: str, **params: str) -> "NotReady":
        text = super().__new__(cls, cls.TEXTS[code].format(**params))
        text.code, text.params = code, params
        return text


class Adapter:
    """Base class of channel adapters.

    Subclasses set ``name`` (the adapter name used in channels.yaml), ``sender_kind`` (how
    reporters' handles are keyed), optionally a pydantic ``Settings`` model validated from the
    channel's ``settings``, ``requires`` (modules that must be importable) and ``secrets``
    (settings fields to redact). They implement ``normalize``; push channels add ``router``
    or ``webhook``; channels that reply through a provider implement ``send``.
    """

    name: ClassVar[str]
    sender_kind: ClassVar[str] = "anonymous"
    Settings: ClassVar[type[BaseModel]] = NoSettings
    requires: ClassVar[tuple[str, ...]] = ()
    secrets: ClassVar[tuple[str, ...]] = ()
    # True when the citizen gets the tracking ID in the HTTP answer itself (JAKI, web form)
    replies_inline: ClassVar[bool] = False
    # for a channel that answers inline: True (per instance, as its settings say) when
    # later notices to the reporter still go through the outbox, as a JSON body that
    # ``send`` posts to the client's status callback (JAKI's status_callback_url)
    pushes_notices: bool = False
    # True for conversational channels: STATUS <id>, STOP, MULAI, /start are keywords there
    keywords: ClassVar[bool] = False
    # a second language each answer carries below the first (email: an English line),
    # for channels where length costs nothing
    second_language: ClassVar[str | None] = None
    # False where the citizen rates the result somewhere else (LAPOR! has its own
    # rating): kanal sends no rating request there, only the Selesai notice
    rates: ClassVar[bool] = True
    # False where the citizen cannot write back to kanal (LAPOR!): answers say where to
    # follow the report, not "reply STATUS"
    takes_replies: ClassVar[bool] = True

    def __init__(self, channel: ChannelConfig, official: OfficialChannel, settings: BaseModel,
                 runtime: Runtime):
        self.channel = channel
        self.official = official
        self.settings = settings
        self.runtime = runtime

    @property
    def channel_id(self) -> str:
        return self.channel.id

    def close(self) -> None:
        """Release clients and threads; called when the runtime stops."""

    def check(self) -> str | None:
        """A reason the channel cannot run, or None when it is ready. Return a
        :class:`NotReady` so that pages can give the reason in their own language."""
        return None

    def test_connection(self) -> ConnectionTest:
        """Ask the provider, live, whether the channel's settings work (Twilio fetches the
        account, Telegram calls getMe, email logs in over IMAP and greets the SMTP server).
        Run from the console and ``kanal channels test``, on a channel that may be
        disabled; it must not raise for a refusal or a network failure: each is a failed
        :class:`Check` saying what to do. The default: nothing to test."""
        return ConnectionTest([])

    def normalize(self, item: InboxRecord) -> InboundMessage:
        """Turn a committed raw payload into a canonical message. Must be deterministic
        (it is replayed); raise NormalizeError for payloads that can never be read."""
        raise NormalizeError(f"adapter {self.name!r} does not read inbound payloads")

    @classmethod
    def router(cls) -> APIRouter | None:
        """HTTP routes of this adapter, mounted once by the gateway when a channel uses it.
        Handlers find their channel with ``request.app.state.kanal`` (see gateway)."""
        return None

    async def webhook(self, request: Request) -> Response | None:
        """Handle ``POST /webhooks/{channel}`` (and ``GET`` for handshakes); None = 404."""
        return None

    @property
    def sends(self) -> bool:
        """Whether the outbox sends through this channel."""
        return not self.replies_inline or self.pushes_notices

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one outbox item through the provider; raise to have it retried,
        :class:`PermanentSendError` when retrying cannot help."""
        raise RuntimeError(f"adapter {self.name!r} cannot send messages")

    def outbox_body(self, conn: Any, report: Any, kind: str, text: str,
                    details: dict[str, Any]) -> str | None:
        """What the outbox item sends instead of ``text``, fixed in the transaction that
        queues it (``report`` has the status of that moment): LAPOR!'s follow-up JSON with
        the mapped status. None (the default): the text itself."""
        return None

    @property
    def forwards(self) -> bool:
        """Whether supervisors may forward reports of other channels to this one's system
        (LAPOR!, when the deployment allows it; ``core.forwarding``)."""
        return False

    def forward_body(self, conn: Any, report: Any) -> str:
        """What the outbox posts to forward ``report`` (a report row); ``send`` gets it
        as an item of kind ``forward``."""
        raise RuntimeError(f"adapter {self.name!r} does not forward reports")

    def fetch_media(self, ref: MediaRef) -> bytes:
        """Download one file the provider holds (after the ack); raise to retry later."""
        raise RuntimeError(f"adapter {self.name!r} cannot fetch media")

    def poll(self, cursor: str | None) -> tuple[list[Envelope], str | None] | None:
        """Polling channels: new payloads since ``cursor`` and the next cursor."""
        return None

    def poll_again(self, envelopes: list[Envelope]) -> bool:
        """After a poll that returned ``envelopes``: whether more is waiting at once (the
        runtime then polls again until the backlog is drained). False: one poll a round."""
        return False

    def watch(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """Channels that can hear of new payloads between polls (IMAP IDLE): block until
        ``stop`` is set, calling ``wake`` (which asks for a poll soon, without waiting for
        it) whenever something new may be waiting. Runs in its own thread; it reconnects
        by itself and must not raise."""

    # after a poll that worked: why the channel's health is still "degraded" (a gap
    # after an outage that may be longer than the provider lets kanal read back)
    poll_warning: str | None = None
    # per instance where the settings decide (Telegram: webhook or polling)
    polls: bool = False
    poll_interval_seconds: float = 30.0
    # True when ``watch`` is implemented (and the settings turn it on)
    watches: bool = False
    # default outbound rate; a channel may set its own (send_rate_per_second in channels.yaml)
    send_rate_per_second: ClassVar[float] = 10.0

    @property
    def send_rate(self) -> float:
        return self.channel.send_rate_per_second or self.send_rate_per_second


class AdapterRegistry:
    """Filled through the ``kanal_register_adapters`` hook."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Adapter]] = {}
        # adapter name -> why it cannot be used (two plugins claim it)
        self.conflicts: dict[str, str] = {}

    def __call__(self, adapter_class: type[Adapter]) -> None:
        name = getattr(adapter_class, "name", None)
        if not name:
            raise TypeError(f"{adapter_class!r} has no adapter name")
        known = self._classes.get(name)
        if known is not None and known is not adapter_class:
            self.conflicts[name] = (
                f"two plugins register adapter '{name}': {known.__module__}.{known.__name__} "
                f"and {adapter_class.__module__}.{adapter_class.__name__}")
            return
        self._classes[name] = adapter_class

    def get(self, name: str) -> type[Adapter] | None:
        return self._classes.get(name)

    def names(self) -> list[str]:
        return sorted(self._classes)


def missing_modules(adapter_class: type[Adapter]) -> list[str]:
    return [m for m in adapter_class.requires if importlib.util.find_spec(m) is None]


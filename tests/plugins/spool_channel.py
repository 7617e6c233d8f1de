"""A small third-party adapter plugin, used by the hook tests and docs/adapters.md.

A spool channel reads ``inbound.jsonl`` in a directory (one JSON object a line:
``{"id": ..., "from": ..., "text": ...}``) and appends the messages it sends to ``sent.jsonl``,
each signed with the channel's secret token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from core.adapter import Adapter, Envelope, InboxRecord, NormalizeError
from core.canonical import InboundMessage, OutboundMessage, Sender, SendResult
from core.hookspecs import hookimpl


class SpoolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    directory: Path
    # a secret: channels.yaml gives it as ${KANAL_..._TOKEN}
    token: str


class SpoolAdapter(Adapter):
    name = "spool"
    sender_kind = "spool"
    Settings = SpoolSettings
    secrets = ("token",)
    polls = True
    poll_interval_seconds = 5.0

    def check(self) -> str | None:
        if not self.settings.directory.is_dir():
            return f"spool directory {self.settings.directory} does not exist"
        return None

    def poll(self, cursor):
        inbound = self.settings.directory / "inbound.jsonl"
        lines = inbound.read_text(encoding="utf-8").splitlines() if inbound.exists() else []
        start = int(cursor or 0)
        envelopes = []
        for number, line in enumerate(lines[start:], start + 1):
            try:
                external_id = str(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError):
                external_id = f"line-{number}"  # still stored, then quarantined by normalize
            envelopes.append(Envelope(self.channel_id, external_id, line.encode()))
        return envelopes, str(len(lines))

    def normalize(self, item: InboxRecord) -> InboundMessage:
        try:
            data = json.loads(item.payload)
            text = data["text"].strip()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NormalizeError(f"not a spool line: {exc}") from exc
        if not text:
            raise NormalizeError("empty text")
        sender = data.get("from")
        return InboundMessage(
            channel=self.channel_id, official_channel=self.official.id,
            external_id=item.external_id, text=text,
            sender=Sender(self.sender_kind, sender) if sender else None,
        )

    def send(self, message: OutboundMessage) -> SendResult:
        signature = hmac.new(self.settings.token.encode(), message.text.encode(),
                             hashlib.sha256).hexdigest()
        line = json.dumps({"to": message.recipient, "text": message.text,
                           "tracking_id": message.tracking_id, "signature": signature})
        with open(self.settings.directory / "sent.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")
        return SendResult(provider_message_id=f"spool-{message.outbox_id}")


class NeedsLibrary(SpoolAdapter):
    """The same adapter, needing a library that is not installed."""

    name = "spool-needs-lib"
    requires = ("kanal_test_module_that_is_not_installed",)


@hookimpl
def kanal_register_adapters(register):
    register(SpoolAdapter)
    register(NeedsLibrary)

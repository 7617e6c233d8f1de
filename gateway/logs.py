"""Logging set-up: personal data and secrets never reach the logs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Indonesian mobile and international numbers, with the separators people type
_PHONE = re.compile(r"(?<![\w])(?:\+|whatsapp:\+?)?(?:62[\s.-]?|0)8[\d\s.-]{7,14}\d(?![\w])")
# WhatsApp business-scoped user ids (ID.1234…, ID.ENT.1234…): a person, like a number
_BSUID = re.compile(r"(?<![\w.])[A-Z]{2}(?:\.ENT)?\.[A-Za-z0-9]*[0-9][A-Za-z0-9]*(?![\w])")
REDACTED = "[redacted]"


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with emails, phone numbers, WhatsApp user ids and
    the given secrets replaced by ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _BSUID.sub(REDACTED, _PHONE.sub(REDACTED, _EMAIL.sub(REDACTED, text)))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def channel_secrets(kanal) -> list[str]:
    """The values of every setting an adapter declares secret, of every channel (a token
    typed into the console for a disabled channel is as secret as a running one's)."""
    values = []
    for status in kanal.channels:
        cls = kanal.registry.get(status.config.adapter)
        for name in getattr(cls, "secrets", ()):
            value = status.config.settings.get(name)
            if status.adapter is not None:
                value = getattr(status.adapter.settings, name, value)
            if isinstance(value, str) and value:
                values.append(value)
                values.extend(part.partition("=")[2] or part for part in value.split(","))
    return values


def redact_channels(redactor: RedactingFilter, kanal) -> None:
    """Add the channels' secrets to what the log filter hides (at start and after every
    reload, so a token typed into the console never reaches a log line)."""
    redactor.secrets = sorted({s for s in (*redactor.secrets, *channel_secrets(kanal))
                               if len(s) >= 4}, key=len, reverse=True)


def install(level: str, secrets: Iterable[str] = ()) -> RedactingFilter:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # a line per migration step, job run or provider request (with its headers)
    for noisy in ("alembic", "apscheduler", "twilio.http_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    redactor = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    return redactor

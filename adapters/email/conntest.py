"""The email channel's connection test, one check per step so an operator sees which side
fails: the IMAP login (with the poller's TLS settings), the mailbox it reads, the SMTP
server's greeting (EHLO) and, when ``smtp_user`` is set, the SMTP login."""

from __future__ import annotations

import re
import smtplib

from imapclient.exceptions import IMAPClientError, LoginError

from adapters.email import imap, smtp
from adapters.email.settings import EmailSettings
from core import connection
from core.adapter import Check, ConnectionTest

_TIMING = re.compile(r"\s*\([0-9.+ ]+secs?\)\.?$")


def run(settings: EmailSettings) -> ConnectionTest:
    seconds = connection.timeout(settings.timeout_seconds)
    s = settings.model_copy(update={"timeout_seconds": seconds})
    secrets = (s.imap_password, s.smtp_password)
    checks = _imap(s, seconds) + _smtp(s, seconds)
    return ConnectionTest([Check(c.name, c.ok, connection.redact(c.detail, secrets))
                           for c in checks])


def _imap(s: EmailSettings, seconds: float) -> list[Check]:
    where = f"{s.imap_host}:{s.imap_port}"
    if not s.imap_host or not s.imap_user:
        missing = ("imap_host (KANAL_IMAP_HOST)" if not s.imap_host
                   else "imap_user (KANAL_IMAP_USER)")
        return [Check("IMAP login", False, f"{missing} is not set")]
    try:
        with imap.connect(s) as client:
            login = Check("IMAP login", True, f"logged in as {s.imap_user} at {where}")
            try:
                status = client.select_folder(s.mailbox, readonly=True)
            except IMAPClientError as exc:
                return [login, Check("IMAP mailbox", False,
                                     f"cannot open the mailbox {s.mailbox!r} of {s.imap_user}: "
                                     f"{_text(exc)}; check `mailbox` in channels.yaml")]
            count = int(status.get(b"EXISTS", 0))
            return [login, Check("IMAP mailbox", True, f"{s.mailbox} holds {count} mails")]
    except LoginError:
        return [Check("IMAP login", False,
                      f"the IMAP server at {where} refused the login of {s.imap_user}: check "
                      "imap_user and imap_password (KANAL_IMAP_PASSWORD)")]
    except IMAPClientError as exc:
        return [Check("IMAP login", False, f"the IMAP server at {where} answered: {_text(exc)}"
                      f"; check imap_tls ({s.imap_tls})")]
    except Exception as exc:  # socket, TLS, timeout
        return [Check("IMAP login", False,
                      connection.unreachable("the IMAP server", where, exc, seconds)
                      + _tls_hint(exc, "imap_tls", s.imap_tls))]


def _smtp(s: EmailSettings, seconds: float) -> list[Check]:
    where = f"{s.smtp_host}:{s.smtp_port}"
    if not s.smtp_host:
        return [Check("SMTP server", False,
                      "smtp_host (KANAL_SMTP_HOST) is not set: citizens would get no tracking ID")]
    try:
        client = smtp.connect(s, timeout=seconds)
    except smtplib.SMTPResponseException as exc:
        return [Check("SMTP server", False, f"the SMTP server at {where} answered "
                                            f"{exc.smtp_code} {_text(exc.smtp_error)}")]
    except Exception as exc:  # socket, TLS, timeout, a server that hangs up
        return [Check("SMTP server", False,
                      connection.unreachable("the SMTP server", where, exc, seconds)
                      + _tls_hint(exc, "smtp_tls", s.smtp_tls))]
    with client:
        greeting = _text(client.ehlo_resp or b"").splitlines()[0:1]
        checks = [Check("SMTP server", True, f"{where} answered EHLO"
                        + (f" ({greeting[0]})" if greeting else ""))]
        if s.smtp_user:
            checks.append(_smtp_login(client, s, where))
    return checks


def _smtp_login(client: smtplib.SMTP, s: EmailSettings, where: str) -> Check:
    try:
        client.login(s.smtp_user or "", s.smtp_password or "")
    except smtplib.SMTPAuthenticationError:
        return Check("SMTP login", False,
                     f"the SMTP server at {where} refused the login of {s.smtp_user}: check "
                     "smtp_user and smtp_password (KANAL_SMTP_PASSWORD)")
    except smtplib.SMTPNotSupportedError:
        return Check("SMTP login", False,
                     f"the SMTP server at {where} offers no login on this connection: set "
                     "smtp_tls to ssl or starttls, or leave smtp_user empty")
    except (smtplib.SMTPException, OSError) as exc:
        return Check("SMTP login", False, f"the SMTP login failed: {exc}")
    return Check("SMTP login", True, f"logged in as {s.smtp_user}")


def _tls_hint(exc: Exception, setting: str, value: str) -> str:
    reason = connection.network_reason(exc)
    return f" (is {setting}: {value} right for that port?)" if "TLS" in reason else ""


def _text(value: object) -> str:
    """A server's answer as text, without Dovecot's timing tail ("(0.004 + 0.000 secs).")."""
    if isinstance(value, Exception) and value.args:
        value = value.args[0]
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return _TIMING.sub("", text).rstrip(".")

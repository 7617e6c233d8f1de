"""A real SMTP server (aiosmtpd) that keeps what kanal sends, for the reply tests."""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.adapters.email.dovecot import free_port

# recipients the server refuses for good (550) or for now (451)
REFUSED = "unknown@"
DEFERRED = "full@"


class Sink:
    """aiosmtpd handler: refuses some recipients, keeps every accepted mail."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []
        self._arrived = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith(REFUSED):
            return "550 5.1.1 no such user here"
        if address.startswith(DEFERRED):
            return "451 4.2.2 mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mail = message_from_bytes(envelope.original_content or envelope.content,
                                  policy=policy.default)
        with self._arrived:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.mails)} of {count} mails arrived")
                self._arrived.wait(left)
            return [m for _, _, m in self.mails]


class SmtpServer:
    """``login``: the (user, password) AUTH accepts, offered without TLS; None: no AUTH."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.sink = Sink()
        self.host, self.port = "127.0.0.1", free_port()
        auth = {} if login is None else {"authenticator": _accepting(*login),
                                         "auth_require_tls": False}
        self.controller = Controller(self.sink, hostname=self.host, port=self.port, **auth)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def clear(self) -> None:
        self.sink.mails.clear()


def _accepting(user: str, password: str):
    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)
    return authenticator

"""Staff sign-in: a signed session cookie, CSRF tokens, the role guard on every /staff page,
and throttling of failed sign-ins (``SignInThrottle``).

The session is an itsdangerous-signed, timestamped cookie (HttpOnly, SameSite=Lax, Secure
over https) holding the account id, a CSRF token and the time it was issued. A session
issued before the account's ``sessions_valid_from`` (a new password, a disabled account)
is refused. Every state-changing form carries the session's CSRF token.

The officers' JSON API (``/staff/api/...`` for the CRM Petugas app) takes an API token
instead: ``require_token`` reads ``Authorization: Bearer <token>`` (``core.tokens``).
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from core import staff as staff_mod
from core import tokens
from core.db import writing
from core.errors import ApiError
from core.ratelimit import client_bucket
from core.staff import Staff

COOKIE = "kanal_staff"
LOGIN_PATH = "/staff/login"
ALL_ROLES = staff_mod.ROLES


def secret_key(settings) -> str:
    """The configured key, or one made once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # written aside, then linked into place: a second process starting at the same
        # moment reads the first one's key instead of a half-written file
        draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(draft)
    return path.read_text().strip()


@dataclass(slots=True)
class Session:
    csrf: str
    staff_id: int | None = None
    issued: float = 0.0
    expired: bool = False  # a cookie came but is too old or was ended


class LoginRequired(Exception):
    """No valid session: the exception handler sends the browser to the sign-in page."""

    def __init__(self, next_path: str, expired: bool):
        self.next_path = next_path
        self.expired = expired


class Forbidden(Exception):
    """Signed in, but the role may not open the page."""

    def __init__(self, staff: Staff):
        self.staff = staff


class FailedLogins:
    """At most ``limit`` failed sign-ins per key in ``window`` seconds; past ``max_keys``
    the key that failed least recently is forgotten."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._failures: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: Hashable) -> deque[float]:
        now = self.clock()
        seen = self._failures.get(key, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        return seen

    def wait(self, key: Hashable) -> int:
        """0 when a sign-in may be tried, else the seconds until one may."""
        with self._lock:
            seen = self._recent(key)
            if len(seen) < self.limit:
                return 0
            return max(1, int(self.window - (self.clock() - seen[len(seen) - self.limit])) + 1)

    def fail(self, key: Hashable) -> None:
        with self._lock:
            seen = self._recent(key)
            seen.append(self.clock())
            self._failures.pop(key, None)
            self._failures[key] = seen
            if len(self._failures) > self.max_keys:
                self._failures.pop(next(iter(self._failures)))

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)


class SignInThrottle:
    """Failed sign-ins in ``window`` seconds, counted three ways so that guessing waits but
    nobody can lock someone else out: ``pair_limit`` per username from one client,
    ``client_limit`` per client across usernames, and ``account_limit`` per username from
    all clients together (guessing spread over many addresses). A client is its address
    bucket (an IPv6 client its /64), so the owner, elsewhere, still signs in while a
    stranger has spent their own tries. A username is counted whether or not it exists.
    A success clears only its own username and client; the counts live in each process."""

    def __init__(self, *, pair_limit: int = 5, client_limit: int = 30,
                 account_limit: int = 100, window: float = 15 * 60,
                 clock: Callable[[], float] = time.monotonic):
        self.pair = FailedLogins(pair_limit, window, clock)
        self.client = FailedLogins(client_limit, window, clock)
        self.account = FailedLogins(account_limit, window, clock)

    @staticmethod
    def _keys(username: str, host: str | None) -> tuple[str, str]:
        return username.strip().lower(), client_bucket(host)

    def wait(self, username: str, host: str | None) -> int:
        """0 when this username may be tried from this client, else the seconds to wait."""
        user, client = self._keys(username, host)
        return max(self.pair.wait((user, client)), self.client.wait(client),
                   self.account.wait(user))

    def fail(self, username: str, host: str | None) -> None:
        user, client = self._keys(username, host)
        self.pair.fail((user, client))
        self.client.fail(client)
        self.account.fail(user)

    def succeeded(self, username: str, host: str | None) -> None:
        self.pair.clear(self._keys(username, host))


class Auth:
    """Per runtime: the cookie signer and the sign-in throttles."""

    def __init__(self, settings):
        self.max_age = int(settings.staff_session_hours * 3600)
        self.signer = URLSafeTimedSerializer(secret_key(settings), salt="kanal-staff-session")
        self.sign_in = SignInThrottle()

    def read(self, request: Request) -> Session:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return Session(csrf=secrets.token_urlsafe(24))
        try:
            data = self.signer.loads(raw, max_age=self.max_age)
        except SignatureExpired:
            return Session(csrf=secrets.token_urlsafe(24), expired=True)
        except BadSignature:
            return Session(csrf=secrets.token_urlsafe(24))
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return Session(csrf=secrets.token_urlsafe(24))
        uid = data.get("uid")
        return Session(csrf=data["csrf"], staff_id=uid if isinstance(uid, int) else None,
                       issued=float(data.get("iat") or 0))

    def write(self, request: Request, response, session: Session) -> None:
        data = {"csrf": session.csrf}
        if session.staff_id is not None:
            data.update(uid=session.staff_id, iat=session.issued)
        response.set_cookie(COOKIE, self.signer.dumps(data), max_age=self.max_age,
                            httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https")

    def end(self, request: Request, response) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")


def auth_of(request: Request) -> Auth:
    return request.app.state.kanal.auth


def session_of(request: Request) -> Session:
    """The request's session (read once, kept on the request)."""
    if not hasattr(request.state, "staff_session"):
        request.state.staff_session = auth_of(request).read(request)
    return request.state.staff_session


def csrf_ok(request: Request, sent: object) -> bool:
    session = session_of(request)
    return (request.cookies.get(COOKIE) is not None and isinstance(sent, str)
            and hmac.compare_digest(sent.encode(), session.csrf.encode()))


def _signed_in(request: Request) -> Staff | None:
    session = session_of(request)
    if session.staff_id is None:
        return None
    engine = request.app.state.kanal.engine
    with engine.connect() as conn:
        account = staff_mod.by_id(conn, session.staff_id)
    valid_from = account.sessions_valid_from if account is not None else None
    if valid_from is not None and valid_from.tzinfo is None:  # SQLite keeps UTC, naive
        valid_from = valid_from.replace(tzinfo=timezone.utc)
    if account is None or session.issued < valid_from.timestamp():
        session.expired = True
        return None
    return account


async def signed_in(request: Request, roles: tuple[str, ...] = (), *,
                    keep_form: bool = False) -> Staff | None:
    """The signed-in account, when its role is one of ``roles`` (any role when empty);
    else LoginRequired (a redirect to the sign-in page) or Forbidden. With ``keep_form`` a
    form post without a valid session gets None instead of a redirect, so the handler can
    show the form again with what was typed (and do nothing else)."""
    account = await run_in_threadpool(_signed_in, request)
    if account is None:
        if keep_form:
            return None
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/staff",
                            session_of(request).expired)
    if account.role not in (roles or ALL_ROLES):
        raise Forbidden(account)
    request.state.staff = account
    return account


def require(*roles: str, keep_form: bool = False):
    """The dependency every /staff page declares: ``signed_in`` with these roles."""
    allowed = roles or ALL_ROLES

    async def guard(request: Request) -> Staff | None:
        return await signed_in(request, allowed, keep_form=keep_form)

    guard.kanal_guard = (allowed, keep_form)  # what the route-guard test looks for
    return Depends(guard)


def login_url(next_path: str = "", expired: bool = False) -> str:
    params = []
    if next_path and next_path.startswith("/staff") and not next_path.startswith("//"):
        params.append(f"next={quote(next_path, safe='/')}")
    if expired:
        params.append("expired=1")
    return LOGIN_PATH + ("?" + "&".join(params) if params else "")


# documents the scheme in the OpenAPI schema; the guard below answers for a missing header
bearer = HTTPBearer(auto_error=False, scheme_name="staffToken",
                    description="a staff account's API token (kanal staff token USERNAME)")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _token_account(kanal, token: str) -> Staff | None:
    """Read first; the write transaction only when the last use is due to be recorded."""
    now = kanal.clock()
    with kanal.engine.connect() as conn:
        found = tokens.find(conn, token, now)
    if found is None:
        return None
    if found.touch_due:
        with writing(kanal.engine) as conn:
            tokens.touch(conn, found.token_id, now)
    return found.staff


def require_token(*roles: str):
    """The dependency of every officers' API route: the account of the request's
    ``Authorization: Bearer`` token, when its role is one of ``roles`` (any role when
    empty). No token, or one that is malformed, unknown, revoked or of a disabled account:
    401 with ``WWW-Authenticate: Bearer`` (the reason never tells which); a role not
    allowed: 403. Both are ``{"error": ..., "reason": ...}``. The handler gets a
    ``core.staff.Staff``: its ``role`` and ``unit_id`` say what it may see and do."""
    allowed = roles or ALL_ROLES

    async def guard(request: Request, credentials: HTTPAuthorizationCredentials | None
                    = Depends(bearer)) -> Staff:
        if credentials is None:
            raise ApiError(401, "missing_token", "send the account's API token as "
                           "'Authorization: Bearer <token>'", headers=CHALLENGE)
        account = await run_in_threadpool(_token_account, request.app.state.kanal,
                                          credentials.credentials)
        if account is None:
            raise ApiError(401, "invalid_token", "the token is not valid (unknown, revoked, "
                           "or its account is disabled)", headers=CHALLENGE)
        if account.role not in allowed:
            raise ApiError(403, "forbidden", f"the role {account.role!r} may not do this; "
                           f"allowed: {', '.join(allowed)}")
        request.state.staff = account
        return account

    guard.kanal_guard = (allowed, False)  # what the route-guard test looks for
    guard.kanal_bearer = True  # answers 401, not a redirect to the sign-in page
    return Depends(guard)

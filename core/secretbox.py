"""Secrets at rest: what an operator types into the console or ``kanal channels set
--secret`` is kept in the database as a Fernet token (AES-128-CBC with HMAC-SHA256,
``cryptography``), never in plain text.

The key comes from ``KANAL_SECRET_KEY`` (the same variable that signs staff sessions).
Any string works: the Fernet key is derived from it with HKDF-SHA256, so the variable can
be a passphrase or a ``kanal secrets key`` value. Rotation: set the new key in
``KANAL_SECRET_KEY``, the old one(s) in ``KANAL_SECRET_KEY_PREVIOUS`` (comma separated),
run ``kanal secrets rotate`` (every stored secret is encrypted again under the new key),
then drop the previous key. Without ``KANAL_SECRET_KEY`` nothing can be stored: the
key kept in the data directory for sessions is not used here, because secrets encrypted
with a key that lives beside the database protect nothing."""

from __future__ import annotations

import base64
import secrets as _secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretKeyMissing(RuntimeError):
    """A secret was to be stored, or read, without ``KANAL_SECRET_KEY``."""

    def __init__(self) -> None:
        super().__init__("KANAL_SECRET_KEY is not set: secrets typed in cannot be stored "
                         "encrypted (set it, the same in every process, and try again)")


class SecretUnreadable(ValueError):
    """A stored secret that none of the configured keys opens."""


def fernet_key(passphrase: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kanal-secrets-v1",
               info=b"channel settings").derive(passphrase.encode())
    return base64.urlsafe_b64encode(raw)


def new_key() -> str:
    """A fresh random value for ``KANAL_SECRET_KEY``."""
    return _secrets.token_urlsafe(32)


class SecretBox:
    """Encrypts under the current key; decrypts with the current or a previous one."""

    def __init__(self, key: str | None, previous: list[str] | tuple[str, ...] = ()):
        self.configured = bool(key)
        keys = ([key] if key else []) + [k for k in previous if k]
        self._fernet = MultiFernet([Fernet(fernet_key(k)) for k in keys]) if keys else None

    @classmethod
    def from_settings(cls, settings) -> "SecretBox":
        return cls(settings.secret_key, settings.previous_secret_keys())

    def encrypt(self, value: str) -> str:
        if not self.configured or self._fernet is None:
            raise SecretKeyMissing()
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        if self._fernet is None:
            raise SecretKeyMissing()
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key opens this secret (was "
                                   "KANAL_SECRET_KEY changed without rotating?)") from exc

    def rotate(self, token: str) -> str:
        """The same secret, encrypted under the current key."""
        if not self.configured or self._fernet is None:
            raise SecretKeyMissing()
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured key opens this secret") from exc

"""Attachments stored content-addressed by sha256, behind a small interface S3 can implement."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

import filetype

from core.canonical import StoredFile

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/gif"})


class UploadError(ValueError):
    """An upload was refused; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class AttachmentStore(Protocol):
    def put(self, data: bytes, media_type: str, filename: str | None = None) -> StoredFile: ...

    def open(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...


class LocalAttachmentStore:
    """Files under ``root/ab/cd/<sha256>``; writing the same content twice is a no-op."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, media_type: str, filename: str | None = None) -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredFile(
            media_type=media_type, size=len(data), sha256=digest,
            path=str(path.relative_to(self.root)), filename=filename,
        )

    def open(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


def sniff_media_type(data: bytes) -> str | None:
    kind = filetype.guess(data[:8192])
    return kind.mime if kind else None


def check_upload(data: bytes, *, filename: str | None, max_bytes: int,
                 allowed: frozenset[str] = IMAGE_TYPES) -> str:
    """The sniffed media type (never the client's Content-Type), or UploadError."""
    if len(data) == 0:
        raise UploadError("empty_file", f"file {filename or ''} is empty".strip())
    if len(data) > max_bytes:
        raise UploadError(
            "file_too_large",
            f"file {filename or ''} is {len(data)} bytes; the limit is {max_bytes}".strip(),
        )
    media_type = sniff_media_type(data)
    if media_type not in allowed:
        raise UploadError(
            "unsupported_file_type",
            f"file {filename or ''} is {media_type or 'of an unknown type'}; "
            f"allowed: {', '.join(sorted(allowed))}",
        )
    return media_type

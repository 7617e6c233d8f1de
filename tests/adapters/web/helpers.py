"""Test helpers for the website channel: real image bytes and what was written."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from sqlalchemy import func, select

from core.models import Attachment, InboxItem, Message, Report, ReporterIdentity

TABLES = {"inbox_item": InboxItem, "report": Report, "message": Message,
          "attachment": Attachment, "reporter_identity": ReporterIdentity}


def png(width: int = 2, height: int = 2, pad: int = 0) -> bytes:
    """A real, tiny PNG (optionally padded with a tEXt chunk to make it large)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x0b\x4f\x8a" * width for _ in range(height))
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    if pad:
        body += chunk(b"tEXt", b"pad\x00" + b"x" * pad)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def counts(kanal) -> dict[str, int]:
    """Rows per table, to show that a refused submission wrote nothing."""
    with kanal.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(model.__table__))
                .scalar_one() for name, model in TABLES.items()}


def stored_files(kanal) -> list[Path]:
    root = kanal.settings.data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []

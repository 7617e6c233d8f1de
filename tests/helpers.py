"""Small helpers the adapters' test tables share."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select


def fill(path: Path, subs: dict[str, str]) -> str:
    """A testdata file with its ``{{name}}`` placeholders filled in."""
    text = path.read_text(encoding="utf-8")
    for key, value in subs.items():
        text = text.replace(f"{{{{{key}}}}}", value)
    return text


def count(kanal, table, *where) -> int:
    with kanal.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table.__table__)
                            .where(*where)).scalar_one()


def drain(kanal) -> int:
    """Send everything the outbox has due now; how many were sent."""
    total = 0
    while (n := kanal.dispatcher.run_once()) > 0:
        total += n
    return total

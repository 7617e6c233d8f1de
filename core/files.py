"""Reading a data file named in the settings, with an error that says which and why."""

from __future__ import annotations

from pathlib import Path


def read_text(path: Path, error: type[Exception], what: str) -> str:
    """The file's text; ``error`` naming ``what`` and the path when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None

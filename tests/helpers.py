"""Small helpers the test tables share."""

from __future__ import annotations

import os
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


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def variant(adapter, **settings):
    """Another instance of ``adapter``'s class on the same channel, with some settings
    changed (a wrong token, a closed port): what ``test_connection`` sees after an edit."""
    changed = adapter.settings.model_copy(update=settings)
    return type(adapter)(adapter.channel, adapter.official, changed, adapter.runtime)


def assert_no_secret(result, *secrets: str) -> None:
    """No secret in any detail of a ConnectionTest."""
    text = repr(result.as_dict())
    for secret in secrets:
        assert secret not in text, f"a secret leaked into {text}"


def flat_workers(workers: list) -> list:
    """``build_workers``' list with the pollers' own workers in place of ``Pollers``."""
    from gateway.scheduler import Pollers

    out = []
    for w in workers:
        out.extend(w.workers() if isinstance(w, Pollers) else [w])
    return out


# Jakarta's real boundaries, beside the checkout (../shared/data) or at $KANAL_SHARED_DATA
JAKARTA_GEOJSON = Path(os.environ.get(
    "KANAL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
) / "jakarta_kelurahan.geojson"


def jakarta_geojson() -> Path:
    """The real boundaries file, or a skip saying where it was looked for; a failure
    when KANAL_REQUIRE_SHARED_DATA is set (CI: there the tests on real data must run)."""
    import pytest

    if not JAKARTA_GEOJSON.is_file():
        reason = (f"Jakarta boundaries not found at {JAKARTA_GEOJSON} "
                  "(set KANAL_SHARED_DATA)")
        if os.environ.get("KANAL_REQUIRE_SHARED_DATA"):
            pytest.fail(f"KANAL_REQUIRE_SHARED_DATA is set, but {reason}")
        pytest.skip(reason)
    return JAKARTA_GEOJSON

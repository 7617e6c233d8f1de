from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app

# small enough to build an oversized photo cheaply
MAX_PHOTO_BYTES = 64 * 1024


@pytest.fixture
def web_settings(settings):
    return settings.model_copy(update={"max_photo_bytes": MAX_PHOTO_BYTES})


@pytest.fixture
def web_kanal(make_kanal, web_settings):
    return make_kanal(settings=web_settings)


@pytest.fixture
def web(web_kanal):
    """A client of the running app whose web channel has 64 KiB photos."""
    with TestClient(create_app(kanal=web_kanal)) as c:
        yield c

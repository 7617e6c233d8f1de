"""The JAKI app's external_id is the inbox key (with the client's name): only printable
ASCII without spaces is taken, so no two spellings of one id and no byte a database
cannot store (NUL) reach the inbox."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.models import InboxItem

URL = "/api/v1/jaki/reports"
AUTH = {"Authorization": "Bearer test-jaki-key"}


@pytest.mark.parametrize("external_id", [
    "jaki\x00-1", "jaki 1", "jaki\n1", "jaki-\u200b1", "jäki-1",
], ids=["nul", "space", "newline", "zero-width-space", "non-ascii"])
def test_an_external_id_of_the_wrong_shape_is_refused(client, kanal, external_id):
    r = client.post(URL, json={"external_id": external_id, "text": "Jalan rusak"},
                    headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_external_id" and "external_id" in r.json()["reason"]
    with kanal.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboxItem.__table__)
                            ).scalar_one() == 0


@pytest.mark.parametrize("external_id", ["jaki-2026-000123", "9f1c2d3e", "A:B/7_x.1"])
def test_ordinary_external_ids_are_taken(client, external_id):
    r = client.post(URL, json={"external_id": external_id, "text": "Jalan rusak"},
                    headers=AUTH)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("keys", ["an:droid=k1", "a b=k1", "=k1,ios=k2"])
def test_a_client_name_that_could_collide_in_the_inbox_key_is_refused(keys):
    from pydantic import ValidationError

    from adapters.jaki.settings import JakiSettings

    with pytest.raises(ValidationError, match="client name"):
        JakiSettings(api_keys=keys)
    assert JakiSettings(api_keys="android=k1,ios.v2=k2").client_for("k2") == "ios.v2"

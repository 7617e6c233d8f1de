"""The console's changes, as an admin makes them in the browser: add a channel, save
settings and secrets, test, enable and disable; each refusal says why and changes
nothing; only admins may."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from core.adapter import Adapter, Check, ConnectionTest
from core.hookspecs import hookimpl
from core.models import AuditEvent, ChannelOverride
from gateway.app import create_app
from tests.staff.conftest import csrf_of, sign_in

KEY = "kunci-konsol-untuk-uji-yang-cukup-panjang"
GOOD = "token-yang-benar-0123456789"


class ProbeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str | None = None
    region: str = "jakarta"
    retries: int = 3


class ProbeAdapter(Adapter):
    """A provider that accepts one token: the console's test-before-save path."""

    name = "probe"
    Settings = ProbeSettings
    secrets = ("token",)

    def test_connection(self) -> ConnectionTest:
        accepted = self.settings.token == GOOD
        return ConnectionTest([Check("token", accepted,
                                     "" if accepted else "the provider refused the token")])


class ProbePlugin:
    @hookimpl
    def kanal_register_adapters(self, register):
        register(ProbeAdapter)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"secret_key": KEY})


@pytest.fixture
def console(staff_kanal_factory):
    kanal = staff_kanal_factory(extra_plugins=(ProbePlugin(),))
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        sign_in(client, "admin1")
        yield kanal, client


def form_of(client, path: str) -> dict:
    page = client.get(path)
    assert page.status_code == 200, page.text
    marker = 'name="version" value="'
    version = page.text[page.text.index(marker) + len(marker):].split('"', 1)[0] \
        if marker in page.text else ""
    return {"csrf": csrf_of(page.text), "version": version}


def add_probe(client, channel_id="probe-1"):
    form = form_of(client, "/staff/channels/new")
    return client.post("/staff/channels/new", data={
        **form, "id": channel_id, "adapter": "probe", "official": "test",
        "name": "Penyedia uji"})


def trail(kanal):
    with kanal.engine.connect() as conn:
        return [(r.actor, r.action, r.setting)
                for r in conn.execute(select(AuditEvent.__table__).order_by("id"))]


def overrides(kanal):
    with kanal.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(ChannelOverride.__table__))]


def test_an_admin_adds_configures_and_enables_a_channel(console):
    kanal, client = console
    added = add_probe(client)
    assert added.status_code == 303
    assert added.headers["location"] == "/staff/channels/probe-1/edit?saved=added"
    page = client.get("/staff/channels/probe-1/edit")
    assert "dimatikan oleh operator" in page.text and "Penyedia uji" in page.text
    form = form_of(client, "/staff/channels/probe-1/edit")
    saved = client.post("/staff/channels/probe-1/settings", data={
        **form, "s.region": "bekasi", "secret.token": GOOD, "name": "Penyedia uji"})
    assert saved.status_code == 303, saved.text
    assert kanal.channel("probe-1").config.settings["region"] == "bekasi"
    form = form_of(client, "/staff/channels/probe-1/edit")
    assert client.post("/staff/channels/probe-1/enable", data=form).status_code == 303
    assert kanal.channel("probe-1").state == "ready"
    assert kanal.adapters["probe-1"].settings.token == GOOD
    page = client.get("/staff/channels/probe-1/edit").text
    assert GOOD not in page and "tersimpan" in page  # a secret is never shown again
    assert trail(kanal) == [("admin1", "add", None), ("admin1", "set", "region"),
                            ("admin1", "set_secret", "token"),
                            ("admin1", "enable", "enabled")]
    assert "set_secret" in page and "bekasi" in page  # the channel's trail on its page


def test_a_refused_token_is_saved_only_once_the_admin_confirms(console):
    kanal, client = console
    add_probe(client)
    form = form_of(client, "/staff/channels/probe-1/edit")
    tried = client.post("/staff/channels/probe-1/settings",
                        data={**form, "secret.token": "token-yang-salah"})
    assert tried.status_code == 409
    assert "Uji koneksi gagal" in tried.text and "the provider refused the token" in tried.text
    assert 'name="confirm"' in tried.text
    assert overrides(kanal)[0]["secrets"] == {}
    again = client.post("/staff/channels/probe-1/settings",
                        data={**form, "secret.token": "token-yang-salah", "confirm": "1"})
    assert again.status_code == 303
    assert set(overrides(kanal)[0]["secrets"]) == {"token"}


@pytest.mark.parametrize("data, status, text", [
    ({"s.retries": "banyak"}, 422, "harus berupa angka"),
    ({"s.retries": "banyak", "lang": "en"}, 422, "must be a number"),
    ({"version": "0", "s.region": "bogor"}, 409, "baru saja diubah orang lain"),
    ({"csrf": "palsu", "s.region": "bogor"}, 403, "Formulir sudah kedaluwarsa"),
], ids=["invalid", "invalid-in-english", "stale", "csrf"])
def test_a_refused_setting_says_why_and_changes_nothing(console, data, status, text):
    kanal, client = console
    add_probe(client)
    form = form_of(client, "/staff/channels/probe-1/edit")
    before = overrides(kanal), trail(kanal)
    path = "/staff/channels/probe-1/settings"
    data = dict(data)  # the table's dict is shared by both databases' runs
    if data.pop("lang", None):
        path += "?lang=en"
    answer = client.post(path, data={**form, **data})
    assert answer.status_code == status
    assert text in answer.text
    assert (overrides(kanal), trail(kanal)) == before


@pytest.mark.parametrize("fields, status, text", [
    ({"id": "jaki"}, 409, "Kanal bernama jaki sudah ada"),
    ({"adapter": "merpati"}, 422, "Adapter merpati tidak terpasang"),
    ({"official": "tidak-ada"}, 422, "Saluran resmi tidak-ada tidak dikenal"),
    ({"id": "Bukan ID"}, 422, "1–64 huruf kecil"),
], ids=["exists", "not-installed", "unknown-official", "bad-id"])
def test_a_refused_new_channel_says_why(console, fields, status, text):
    kanal, client = console
    form = form_of(client, "/staff/channels/new")
    answer = client.post("/staff/channels/new", data={
        **form, "id": "probe-2", "adapter": "probe", "official": "test", **fields})
    assert answer.status_code == status
    assert text in answer.text
    assert overrides(kanal) == [] and trail(kanal) == []


def test_a_secret_without_kanal_secret_key_is_refused(staff_kanal_factory, settings):
    kanal = staff_kanal_factory(extra_plugins=(ProbePlugin(),))
    kanal.secret_box.configured = False  # as a process started without KANAL_SECRET_KEY
    with TestClient(create_app(kanal=kanal, run_workers=False),
                    follow_redirects=False) as client:
        sign_in(client, "admin1")
        add_probe(client)
        form = form_of(client, "/staff/channels/probe-1/edit")
        answer = client.post("/staff/channels/probe-1/settings",
                             data={**form, "secret.token": GOOD})
    assert answer.status_code == 422
    assert "KANAL_SECRET_KEY belum diisi" in answer.text
    assert overrides(kanal)[0]["secrets"] == {}


def test_disabling_from_the_page_makes_the_webhook_answer_503(console):
    kanal, client = console
    message = {"id": "m-1", "from": "warga", "text": "Lampu jalan mati"}
    assert client.post("/webhooks/fake", json=message).status_code == 201
    form = form_of(client, "/staff/channels/fake/edit")
    assert client.post("/staff/channels/fake/disable", data=form).status_code == 303
    assert client.post("/webhooks/fake", json={**message, "id": "m-2"}).status_code == 503
    # the old form is stale now
    assert client.post("/staff/channels/fake/enable", data=form).status_code == 409
    form = form_of(client, "/staff/channels/fake/edit")
    assert client.post("/staff/channels/fake/enable", data=form).status_code == 303
    assert client.post("/webhooks/fake", json={**message, "id": "m-2"}).status_code == 201


def test_the_test_button_shows_what_the_provider_said(console):
    kanal, client = console
    form = form_of(client, "/staff/channels/fake/edit")
    answer = client.post("/staff/channels/fake/test", data=form)
    assert answer.status_code == 200
    assert "tidak ada yang perlu diuji" in answer.text


@pytest.mark.parametrize("user", ["operator1", "loket", "officer1"])
def test_only_admins_change_channels(console, user):
    kanal, client = console
    from core import staff
    from core.db import writing
    from tests.staff.conftest import PASSWORD

    if user == "operator1":
        with writing(kanal.engine) as conn:
            staff.add(conn, "operator1", PASSWORD, "operator")
    client.post("/staff/logout", data={"csrf": csrf_of(client.get("/staff").text)})
    sign_in(client, user)
    assert client.get("/staff/channels/fake/edit").status_code == 403
    assert client.get("/staff/channels/new").status_code == 403
    page = client.get("/staff")
    answer = client.post("/staff/channels/fake/disable", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 403
    assert kanal.channel("fake").state == "ready"


def test_an_unknown_channel_is_a_404_page(console):
    kanal, client = console
    assert client.get("/staff/channels/tidak-ada/edit").status_code == 404

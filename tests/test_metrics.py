"""GET /metrics: counts of real messages and sends, the gauges read from the database, the
scrape while the database is out, and who may scrape."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from core.adapter import Envelope, PermanentSendError
from core.settings import KanalSettings
from gateway.app import create_app
from gateway.scheduler import poll_job
from tests.clock import Clock
from tests.conftest import FIXTURES, TEST_ENV
from tests.helpers import drain

LOOPBACK = ("127.0.0.1", 50000)
TOKEN = "rahasia-metrik"


def scrape(client: TestClient, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of a 200 scrape, by name and sorted labels."""
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def webhook(client, payload) -> dict:
    r = client.post("/webhooks/fake", json=payload)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_counts_latencies_and_gauges_of_real_traffic(make_kanal):
    clock = Clock(datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc))
    kanal = make_kanal(clock=clock)
    fake, fake2 = kanal.adapters["fake"], kanal.adapters["fake2"]
    with TestClient(create_app(kanal=kanal), client=LOOPBACK) as client:
        first = {"id": "w1", "from": "warga-1", "text": "Sampah menumpuk di Jl. Alfa"}
        assert webhook(client, first)["tracking_id"]
        assert webhook(client, first)["duplicate"] is True
        assert webhook(client, {"id": "w2", "from": "warga-1", "text": "Masih ada",
                                "refs": ["w1"]})["follow_up"] is True
        fake.push("", id="kosong")  # no text, media or place: quarantined
        poll_job(kanal, "fake")
        fake2.push("Lampu jalan mati", sender="warga-2")
        poll_job(kanal, "fake2")

        before = scrape(client)
        assert value(before, "kanal_database_up") == 1
        for result, n in {"created": 1, "duplicate": 1, "follow_up": 1,
                          "quarantined": 1}.items():
            assert value(before, "kanal_messages_received_total", channel="fake",
                         result=result) == n
        assert value(before, "kanal_messages_received_total", channel="fake2",
                     result="created") == 1
        assert value(before, "kanal_ingest_seconds_count", channel="fake") == 4
        assert value(before, "kanal_ingest_seconds_count", channel="fake2") == 1
        assert value(before, "kanal_quarantine_size", channel="fake") == 1
        assert value(before, "kanal_quarantine_size", channel="fake2") == 0
        # the ack of w1 and the follow-up's ack; one ack on fake2
        assert value(before, "kanal_outbox_depth", channel="fake", status="pending") == 2
        assert value(before, "kanal_outbox_depth", channel="fake2", status="pending") == 1
        assert value(before, "kanal_outbox_depth", channel="fake", status="dead") == 0
        assert value(before, "kanal_channel_up", channel="fake") == 1
        assert value(before, "kanal_channel_up", channel="not-built") == 0

        clock.advance(30)
        # w1's ack: tried again later; fake2's ack is sent, and the follow-up's ack to the
        # same citizen waits behind w1's (one recipient's messages go out in order)
        fake.fail_sends(1)
        assert drain(kanal) == 2
        clock.advance(3600)  # past the back-off; the provider now refuses the number
        fake.fail_sends(1, PermanentSendError("nomor tidak terdaftar"))
        assert drain(kanal) == 2  # w1's ack dead, then the follow-up's ack goes
        clock.advance(90)

        after = scrape(client)
        for channel, result, n in (("fake", "sent", 1), ("fake", "retry", 1),
                                   ("fake", "dead", 1), ("fake2", "sent", 1)):
            assert value(after, "kanal_acks_sent_total", channel=channel, result=result) == n
        # queued at 01:00, sent at 01:00:30 (fake2) and 02:00:30 (fake: it waited)
        for channel, seconds in (("fake", 3630), ("fake2", 30)):
            assert value(after, "kanal_ack_seconds_count", channel=channel) == 1
            assert value(after, "kanal_ack_seconds_sum", channel=channel) == seconds
            assert value(after, "kanal_ack_seconds_bucket", channel=channel, le="10.0") == 0
            assert value(after, "kanal_ack_seconds_bucket", channel=channel,
                         le="30.0") == (seconds <= 30)
        assert value(after, "kanal_outbox_depth", channel="fake", status="pending") == 0
        assert value(after, "kanal_outbox_depth", channel="fake", status="dead") == 1
        assert value(after, "kanal_outbox_depth", channel="fake2", status="pending") == 0
        # fake2 last succeeded with its send at 01:00:30, fake with its send at 02:00:30
        assert value(after, "kanal_poller_lag_seconds", channel="fake2") == 3690
        assert value(after, "kanal_poller_lag_seconds", channel="fake") == 90
        assert value(after, "kanal_poller_lag_seconds", channel="jaki") is None  # pushes


def test_keyword_requests_and_payloads_of_a_channel_that_is_off(make_kanal):
    kanal = make_kanal()
    kanal.adapters["fake"].push("STOP", sender="warga-5")
    kanal.poll_channel("fake")
    # "not-built" is configured but not running: its payload waits in the inbox
    kanal.ingestor.ingest_many([Envelope("not-built", "n1", b'{"text": "halo"}')])
    with TestClient(create_app(kanal=kanal), client=LOOPBACK) as client:
        samples = scrape(client)
    assert value(samples, "kanal_messages_received_total", channel="fake",
                 result="other") == 1
    assert value(samples, "kanal_messages_received_total", channel="not-built",
                 result="pending") == 1


def test_a_payload_waiting_for_a_retried_send_counts_as_failed(make_kanal):
    kanal = make_kanal()
    fake = kanal.adapters["fake"]
    fake.push("Got mampet", sender="warga-3")
    kanal.poll_channel("fake")
    fake.fail_sends(1)
    drain(kanal)
    with TestClient(create_app(kanal=kanal), client=LOOPBACK) as client:
        samples = scrape(client)
    assert value(samples, "kanal_outbox_depth", channel="fake", status="failed") == 1
    assert value(samples, "kanal_outbox_depth", channel="fake", status="pending") == 0


def test_two_runtimes_never_count_each_others_messages(make_kanal):
    one, other = make_kanal(), make_kanal()
    one.adapters["fake"].push("Banjir", sender="warga-4")
    one.poll_channel("fake")
    with TestClient(create_app(kanal=other), client=LOOPBACK) as client:
        samples = scrape(client)
    assert value(samples, "kanal_messages_received_total", channel="fake",
                 result="created") is None


@pytest.fixture
def gone_database(tmp_path):
    """Settings whose SQLite file lies in a directory that does not exist."""
    return KanalSettings(_env_file=None, database_url=f"sqlite:///{tmp_path}/gone/k.sqlite3",
                         config=FIXTURES / "channels.yaml", data_dir=tmp_path / "data",
                         scheduler=False)


def test_with_the_database_out_the_scrape_answers_without_its_gauges(make_kanal,
                                                                     gone_database):
    kanal = make_kanal(settings=gone_database)
    with TestClient(create_app(kanal=kanal), client=LOOPBACK,
                    raise_server_exceptions=False) as client:
        refused = client.post("/webhooks/fake", json={"id": "x1", "from": "w", "text": "a"})
        assert refused.status_code == 503
        samples = scrape(client)
    assert value(samples, "kanal_database_up") == 0
    assert value(samples, "kanal_channel_up", channel="fake") == 1
    assert value(samples, "kanal_messages_received_total", channel="fake",
                 result="error") == 1
    assert not any(name == "kanal_outbox_depth" for name, _ in samples)


def test_a_database_known_to_be_down_is_not_asked(make_kanal):
    kanal = make_kanal()
    kanal.db_health.stop()  # no probe thread to find it answering after all
    kanal.db_health.failed("the database is not answering")
    with TestClient(create_app(kanal=kanal, run_workers=False), client=LOOPBACK) as client:
        samples = scrape(client)
    assert value(samples, "kanal_database_up") == 0
    assert not any(name == "kanal_quarantine_size" for name, _ in samples)


@pytest.mark.parametrize("token, allow, host, authorization, status", [
    (None, "", "127.0.0.1", None, 200),
    (None, "", "127.8.9.10", None, 200),
    (None, "", "::1", None, 200),
    (None, "", "10.1.2.3", None, 403),
    (None, "", "testclient", None, 403),  # not an address at all
    (None, "", "10.1.2.3", f"Bearer {TOKEN}", 403),  # no token set: nothing to match
    (None, "10.0.0.0/8, 192.0.2.7", "10.1.2.3", None, 200),
    (None, "10.0.0.0/8, 192.0.2.7", "192.0.2.7", None, 200),
    (None, "10.0.0.0/8, 192.0.2.7", "192.0.2.8", None, 403),
    (TOKEN, "", "10.1.2.3", None, 401),
    (TOKEN, "", "127.0.0.1", None, 401),  # with a token, loopback needs it too
    (TOKEN, "", "10.1.2.3", f"Basic {TOKEN}", 401),
    (TOKEN, "", "10.1.2.3", "Bearer", 401),
    (TOKEN, "", "10.1.2.3", "Bearer salah", 403),
    (TOKEN, "", "10.1.2.3", "Bearer rahasia-métrik", 403),  # not ASCII: still no 500
    (TOKEN, "", "10.1.2.3", f"Bearer {TOKEN}", 200),
    (TOKEN, "", "10.1.2.3", f"bearer {TOKEN}", 200),
])
def test_who_may_scrape(make_kanal, settings, token, allow, host, authorization, status):
    kanal = make_kanal(settings=settings.model_copy(
        update={"metrics_token": token, "metrics_allow": allow}))
    headers = {"Authorization": authorization.encode("latin-1")} if authorization else {}
    app = create_app(kanal=kanal, run_workers=False)
    with TestClient(app, client=(host, 50000)) as client:
        r = client.get("/metrics", headers=headers)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "kanal_database_up 1.0" in r.text
    else:
        assert r.json()["error"] in ("unauthorized", "forbidden")
    if status == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_the_token_and_the_allow_list_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KANAL_METRICS_TOKEN", TOKEN)
    monkeypatch.setenv("KANAL_METRICS_ALLOW", "10.0.0.0/8,2001:db8::/32")
    settings = KanalSettings(_env_file=None)
    assert settings.metrics_token == TOKEN
    assert settings.metrics_allow == "10.0.0.0/8,2001:db8::/32"


def test_a_bad_allow_list_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="not an address or CIDR: '10.0.0.0/33'"):
        KanalSettings(_env_file=None, metrics_allow="10.0.0.0/8, 10.0.0.0/33")


def test_metrics_are_not_in_the_api_schema(client):
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]

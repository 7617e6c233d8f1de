"""The Twilio channels beyond the webhook table: SMS length, the URL the signature covers
behind a proxy, disabled channels, and the SSRF allowlist and Retry-After rules."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.sms.inbound import is_trusted
from adapters.sms.media import allowed
from adapters.sms.outbound import retry_after
from core import tracking
from core.models import InboxItem, OutboxItem, Report
from gateway.app import create_app
from tests.adapters.sms.conftest import ENV, PUBLIC, drive, load, post, sign, sms_plugins

GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


def septets(text: str) -> int:
    """The length of ``text`` in GSM 03.38 septets; ValueError on other characters."""
    outside = sorted(set(text) - GSM7 - GSM7_EXTENDED)
    if outside:
        raise ValueError(f"not GSM-7: {outside}")
    return sum(2 if c in GSM7_EXTENDED else 1 for c in text)


REPLIES = [
    ("ack", ["sms_happy.json"]),
    ("follow_up_ack", ["sms_happy.json", "sms_follow_up.json"]),
    ("status_reply", ["sms_happy.json", "sms_status.json"]),
    ("opt_out_ack", ["sms_happy.json", "sms_stop.json"]),
    ("opt_in_ack", ["sms_happy.json", "sms_stop.json", "sms_mulai.json"]),
]


@pytest.mark.parametrize("kind, payloads", REPLIES, ids=[k for k, _ in REPLIES])
def test_sms_reply_fits_one_gsm7_segment(kind, payloads, sms_client, sms_kanal, twilio, clock):
    for name in payloads:
        with sms_kanal.engine.connect() as conn:
            tid = conn.execute(select(Report.tracking_id)).scalars().first()
        r = post(sms_client, "sms", load(name, tid=tracking.display(tid) if tid else ""))
        assert r.status_code == 200
        drive(sms_kanal.dispatcher.run_once, OutboxItem.__table__, clock)
    with sms_kanal.engine.connect() as conn:
        last = conn.execute(select(OutboxItem).order_by(OutboxItem.id.desc())).first()
    assert last.kind == kind
    body = twilio.messages[-1].form["Body"]
    assert body == last.text
    assert septets(body) <= 160, f"{len(body)} characters: {body}"


def proxied_client(make_kanal, sms_settings, twilio, **update):
    kanal = make_kanal(settings=sms_settings.model_copy(update=update),
                       extra_plugins=sms_plugins(),
                       env={**ENV, "KANAL_TWILIO_API_BASE": twilio.url})
    return TestClient(create_app(kanal=kanal))


PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kanal.example.go.id"}
URLS = [
    # (label, settings, path requested, URL Twilio signed, headers sent, status)
    ("public_base_url_with_query", {}, "/webhooks/sms?kanal=1",
     f"{PUBLIC}/webhooks/sms?kanal=1", {}, 200),
    ("request_url_without_proxy", {"public_base_url": ""}, "/webhooks/sms",
     "http://testserver/webhooks/sms", {}, 200),
    ("forwarded_by_a_trusted_proxy", {"public_base_url": "", "trusted_proxies": "testclient"},
     "/webhooks/sms", f"{PUBLIC}/webhooks/sms", PROXY, 200),
    ("forwarded_headers_from_an_untrusted_peer",
     {"public_base_url": "", "trusted_proxies": "10.0.0.0/8"}, "/webhooks/sms",
     f"{PUBLIC}/webhooks/sms", PROXY, 403),
    ("public_base_url_wins_over_forwarded_host", {}, "/webhooks/sms",
     "https://evil.example/webhooks/sms", {"X-Forwarded-Host": "evil.example"}, 403),
]


@pytest.mark.parametrize("label, update, path, url, headers, status", URLS,
                         ids=[u[0] for u in URLS])
def test_signature_covers_the_public_url(label, update, path, url, headers, status, make_kanal,
                                         sms_settings, twilio):
    params = load("sms_happy.json")
    with proxied_client(make_kanal, sms_settings, twilio, **update) as client:
        r = client.post(path, data=params, headers={
            **headers, "X-Twilio-Signature": sign(url, params)})
    assert r.status_code == status, r.text


def test_the_default_channels_file(make_kanal, settings):
    config = Path(__file__).parents[3] / "config" / "channels.yaml"
    kanal = make_kanal(settings=settings.model_copy(update={"config": config}),
                       extra_plugins=sms_plugins(),
                       env={**ENV, "KANAL_TWILIO_FROM": "08111272206"})
    sms, whatsapp = kanal.adapters["sms"], kanal.adapters["whatsapp"]
    assert (sms.settings.number, whatsapp.settings.number) == (
        "+628111272206", "whatsapp:+628111272206")
    assert sms.settings.api_base == "https://api.twilio.com" and not sms.settings.shadow


def test_redeliveries_at_once_give_one_report(sms_client, sms_kanal):
    params, codes = load("sms_happy.json"), []
    barrier = threading.Barrier(6)

    def deliver():
        barrier.wait()
        codes.append(post(sms_client, "sms", params).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 6
    with sms_kanal.engine.connect() as conn:
        assert len(conn.execute(select(Report.id)).all()) == 1
        assert len(conn.execute(select(InboxItem.id)).all()) == 1
        assert len(conn.execute(select(OutboxItem.id)).all()) == 1


def test_get_is_not_a_webhook(sms_client):
    r = sms_client.get("/webhooks/sms")
    assert r.status_code == 404 and r.json()["error"] == "no_webhook"


@pytest.mark.parametrize("env, settings_update, reason", [
    ({k: v for k, v in ENV.items() if k != "KANAL_TWILIO_AUTH_TOKEN"}, None,
     "secret not set: KANAL_TWILIO_AUTH_TOKEN"),
    ({**ENV, "KANAL_TWILIO_ACCOUNT_SID": "not-a-sid"}, None, "invalid settings: account_sid"),
], ids=["auth_token_missing", "account_sid_malformed"])
def test_channel_disabled_with_reason(env, settings_update, reason, make_kanal, sms_settings):
    kanal = make_kanal(settings=sms_settings, extra_plugins=sms_plugins(), env=env)
    status = kanal.channel("sms")
    assert status.state == "disabled" and status.reason.startswith(reason)
    with TestClient(create_app(kanal=kanal)) as client:
        r = post(client, "sms", load("sms_happy.json"))
    assert r.status_code == 503 and r.json()["error"] == "channel_disabled"


TWILIO_HOSTS = ["api.twilio.com", "media.twiliocdn.com",
                "s3-external-1.amazonaws.com/media.twiliocdn.com/"]
MEDIA_URLS = [
    ("twilio_api", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
     True),
    ("twilio_cdn", "https://media.twiliocdn.com/AC1/abc", True),
    ("cdn_bucket_on_s3", "https://s3-external-1.amazonaws.com/media.twiliocdn.com/AC1/x", True),
    ("another_bucket_on_s3", "https://s3-external-1.amazonaws.com/evil-bucket/x", False),
    ("plain_http", "http://api.twilio.com/2010-04-01/x", False),
    ("lookalike_host", "https://api.twilio.com.evil.example/x", False),
    ("userinfo_trick", "https://api.twilio.com@169.254.169.254/latest/meta-data", False),
    ("metadata_address", "http://169.254.169.254/latest/meta-data", False),
    ("not_http", "file:///etc/passwd", False),
]


@pytest.mark.parametrize("label, url, ok", MEDIA_URLS, ids=[m[0] for m in MEDIA_URLS])
def test_media_allowlist(label, url, ok):
    assert allowed(url, TWILIO_HOSTS) is ok


@pytest.mark.parametrize("value, seconds", [
    (None, 30.0), ("", 30.0), ("120", 120.0), ("1.5", 1.5), ("soon", 30.0),
    ("Mon, 02 Nov 2026 03:01:00 GMT", 60.0), ("Mon, 02 Nov 2026 02:00:00 GMT", 0.0),
])
def test_retry_after(value, seconds):
    now = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)
    assert retry_after(value, now) == seconds


@pytest.mark.parametrize("peer, trusted, ok", [
    ("127.0.0.1", "127.0.0.1", True), ("10.1.2.3", "10.0.0.0/8, 192.168.0.1", True),
    ("10.1.2.3", "127.0.0.1", False), ("203.0.113.9", "*", True), (None, "*", False),
    ("testclient", "127.0.0.1", False),
])
def test_trusted_proxies(peer, trusted, ok):
    assert is_trusted(peer, trusted) is ok


@pytest.mark.parametrize("signed_url,ok", [
    ("https://kanal.example.go.id/webhooks/sms", True),
    ("https://kanal.example.go.id:443/webhooks/sms", True),  # Twilio sometimes adds the port
    ("https://kanal.example.go.id/webhooks/whatsapp", False),
], ids=["as-configured", "with-default-port", "other-path"])
def test_signature_check_accepts_twilios_url_variants_only(signed_url, ok):
    from starlette.datastructures import FormData
    from twilio.request_validator import RequestValidator

    from adapters.sms.inbound import _matches

    params = FormData([("MessageSid", "SM1"), ("Body", "a"), ("Body", "b"), ("From", "+62")])
    validator = RequestValidator("token")

    class Multi(dict):  # a repeated parameter is signed with all its values
        def getall(self, key):
            return self[key]

    signature = validator.compute_signature(
        signed_url, Multi({"MessageSid": ["SM1"], "Body": ["a", "b"], "From": ["+62"]}))
    assert _matches(validator, "https://kanal.example.go.id/webhooks/sms", params,
                    signature) is ok

"""The X channels of the shipped config/channels.yaml: ready when their variables are set,
disabled with the reason when not, and their tokens redacted from logs."""

from __future__ import annotations

from gateway.logs import channel_secrets
from tests.adapters.twitter.conftest import REPO
from tests.adapters.twitter.fake_x import ACCOUNT_ID
from tests.conftest import TEST_ENV

ACCOUNTS = {"DKI": ("twitter-dkijakarta", "twitter-dkijakarta"),
            "GUBERNUR": ("twitter-gubernur", "sosmed-gubernur")}


def _env(**extra: str) -> dict[str, str]:
    env = dict(TEST_ENV)
    for prefix in ACCOUNTS:
        env[f"KANAL_TWITTER_{prefix}_USER_ID"] = ACCOUNT_ID
        env[f"KANAL_TWITTER_{prefix}_BEARER_TOKEN"] = f"bearer-{prefix.lower()}-0123456789"
    return env | extra


def _kanal(make_kanal, settings, env):
    return make_kanal(settings=settings.model_copy(
        update={"config": REPO / "config" / "channels.yaml"}), env=env)


def test_both_accounts_are_ready_with_user_id_and_bearer_token(make_kanal, settings):
    kanal = _kanal(make_kanal, settings, _env())
    for prefix, (channel, official) in ACCOUNTS.items():
        status = kanal.channel(channel)
        assert (status.state, status.official.id, status.config.adapter) == (
            "ready", official, "twitter")
        adapter = status.adapter
        assert adapter.settings.api_base == "https://api.twitter.com"
        assert adapter.poll_interval_seconds == 60 and adapter.settings.reply_link is False
        assert not adapter.settings.can_reply  # no OAuth 1.0a values yet
    assert "bearer-dki-0123456789" in channel_secrets(kanal)


def test_the_app_variables_reach_every_account(make_kanal, settings):
    env = _env(KANAL_TWITTER_CONSUMER_KEY="ck", KANAL_TWITTER_CONSUMER_SECRET="cs-secret",
               KANAL_TWITTER_GUBERNUR_ACCESS_TOKEN="at-g",
               KANAL_TWITTER_GUBERNUR_ACCESS_TOKEN_SECRET="ats-g-secret",
               KANAL_TWITTER_API_BASE="http://127.0.0.1:9/x/", KANAL_TWITTER_POLL_SECONDS="15")
    kanal = _kanal(make_kanal, settings, env)
    dki = kanal.channel("twitter-dkijakarta").adapter
    gub = kanal.channel("twitter-gubernur").adapter
    assert gub.settings.can_reply and not dki.settings.can_reply
    assert dki.settings.api_base == "http://127.0.0.1:9/x"
    assert dki.poll_interval_seconds == gub.poll_interval_seconds == 15
    assert {"cs-secret", "ats-g-secret"} <= set(channel_secrets(kanal))


def test_an_account_without_its_user_id_is_disabled_with_the_reason(make_kanal, settings):
    env = _env()
    del env["KANAL_TWITTER_DKI_USER_ID"]
    kanal = _kanal(make_kanal, settings, env)
    status = kanal.channel("twitter-dkijakarta")
    assert status.state == "disabled" and "KANAL_TWITTER_DKI_USER_ID" in status.reason
    assert kanal.channel("twitter-gubernur").state == "ready"

"""``test_connection`` of the Telegram channel against the local Bot API: getMe with the
channel's token, the secret_token in webhook mode, and getWebhookInfo for either mode."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.adapters.telegram.conftest import SECRET, TOKEN
from tests.helpers import assert_no_secret, closed_port, variant

HOOK = "https://kanal.example.go.id/webhooks/telegram"
WRONG = "7000000001:AAH-not-the-token_0123456789abcdefgh"


@dataclass
class Case:
    label: str
    mode: str = "webhook"
    webhook: dict = field(default_factory=lambda: {"url": HOOK})  # getWebhookInfo's answer
    settings: dict = field(default_factory=dict)
    closed: bool = False
    fail: tuple[str, int, str] | None = None  # (method, status, description) once
    checks: tuple[tuple[str, bool, str], ...] = ()


ME = ("bot token", True, "@kanal_jakarta_bot")
CASES = [
    Case("webhook_accepted", checks=(ME, ("secret_token", True, "set"),
                                     ("webhook", True, f"set to {HOOK}"))),
    Case("polling_accepted", mode="polling", webhook={"url": ""},
         checks=(ME, ("webhook", True, "no webhook is set"))),
    Case("polling_with_a_webhook_left", mode="polling",
         checks=(ME, ("webhook", False, "call deleteWebhook"))),
    Case("webhook_not_set", webhook={"url": ""},
         checks=(ME, ("secret_token", True, ""),
                 ("webhook", False, f"setWebhook with url={HOOK}"))),
    Case("webhook_elsewhere", webhook={"url": "https://old.example.org/hook"},
         checks=(ME, ("secret_token", True, ""), ("webhook", False, f"not at {HOOK}"))),
    Case("webhook_failing", webhook={"url": HOOK, "pending_update_count": 12,
                                     "last_error_date": 1767225600,
                                     "last_error_message": "Connection timed out"},
         checks=(ME, ("secret_token", True, ""), ("webhook", False, "12 updates waiting"))),
    # a channel check() disables: the console still tests it
    Case("webhook_without_secret", settings={"secret_token": None},
         checks=(ME, ("secret_token", False, "webhook mode needs one"), ("webhook", True, ""))),
    Case("refused_token", settings={"bot_token": WRONG},
         checks=(("bot token", False, "copy it again from @BotFather"),)),
    Case("bot_api_error", fail=("getMe", 500, "Internal Server Error"),
         checks=(("bot token", False, "the Bot API answered: Internal Server Error"),)),
    Case("unreachable", closed=True,
         checks=(("bot token", False, "cannot reach the Bot API at http://127.0.0.1:"),)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_connection(case: Case, telegram_kanal, bot_api):
    kanal = telegram_kanal(mode=case.mode)
    bot_api.webhook = {"has_custom_certificate": False, "pending_update_count": 0,
                       **case.webhook}
    if case.fail:
        bot_api.fail(*case.fail)
    changes = dict(case.settings)
    if case.closed:
        changes["api_base"] = f"http://127.0.0.1:{closed_port()}"
    adapter = variant(kanal.adapters["telegram"], **changes)
    result = adapter.test_connection()
    assert [(c.name, c.ok) for c in result.checks] == [(n, ok) for n, ok, _ in case.checks]
    for check, (_, _, words) in zip(result.checks, case.checks):
        assert words in check.detail, check.detail
    if case.closed:
        assert "refused" in result.checks[0].detail
    assert_no_secret(result, TOKEN, WRONG, SECRET)


def test_a_revoked_token_fails_on_a_running_channel(telegram_kanal, bot_api):
    """The channel's own bot cached getMe long ago; the test asks Telegram again."""
    kanal = telegram_kanal(mode="polling")
    adapter = kanal.adapters["telegram"]
    kanal.poll_channel("telegram")  # the channel's bot is initialized
    bot_api.fail("getMe", 401, "Unauthorized")
    result = adapter.test_connection()
    assert not result.ok and "@BotFather" in result.checks[0].detail

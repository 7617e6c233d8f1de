"""``test_connection`` of the Twilio channels against the local Twilio: the account
fetched with the channel's credentials, and the SMS number among the account's numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.adapters.sms.conftest import AUTH_TOKEN, NUMBER
from tests.helpers import assert_no_secret, closed_port, variant


@dataclass
class Case:
    label: str
    channel: str = "sms"
    settings: dict = field(default_factory=dict)  # changed on the channel
    numbers: tuple[str, ...] = (NUMBER,)  # the account's own numbers at Twilio
    status: str = "active"
    kind: str = "Full"
    closed: bool = False  # api_base on a port nothing listens on
    # (check name, ok, words in its detail), in order
    checks: tuple[tuple[str, bool, str], ...] = ()


CASES = [
    Case("accepted", checks=(("Twilio account", True, "is active"),
                             ("sender number", True, f"{NUMBER} belongs"))),
    Case("whatsapp_sender_not_listed", "whatsapp", numbers=(),
         checks=(("Twilio account", True, "is active"),)),
    Case("trial_account", kind="Trial",
         checks=(("Twilio account", True, "only sends to verified numbers"),
                 ("sender number", True, "belongs"))),
    Case("number_not_on_the_account", numbers=("+628111000000",),
         checks=(("Twilio account", True, "is active"),
                 ("sender number", False, "is not a number of this Twilio account"))),
    Case("refused_credentials", settings={"auth_token": "0" * 32},
         checks=(("Twilio account", False, "copy them again from the Twilio console"),)),
    Case("suspended_account", status="suspended",
         checks=(("Twilio account", False, "is suspended"),)),
    Case("unreachable", closed=True,
         checks=(("Twilio account", False, "cannot reach the Twilio API at 127.0.0.1:"),)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_connection(case: Case, sms_kanal, twilio):
    twilio.numbers = set(case.numbers)
    twilio.account_status, twilio.account_type = case.status, case.kind
    changes = dict(case.settings)
    if case.closed:
        changes["api_base"] = f"http://127.0.0.1:{closed_port()}"
    adapter = variant(sms_kanal.adapters[case.channel], **changes)
    result = adapter.test_connection()
    assert [(c.name, c.ok) for c in result.checks] == [(n, ok) for n, ok, _ in case.checks]
    for check, (_, _, words) in zip(result.checks, case.checks):
        assert words in check.detail, check.detail
    assert result.ok == all(ok for _, ok, _ in case.checks)
    if case.closed:
        assert "refused" in result.checks[0].detail
    assert_no_secret(result, AUTH_TOKEN, "0" * 32)

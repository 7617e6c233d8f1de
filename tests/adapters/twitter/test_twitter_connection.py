"""``test_connection`` of the X channel against the local X API: the account read with the
bearer token, and again in user context (the OAuth 1.0a keys replies are sent with)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.adapters.twitter.conftest import CHANNEL
from tests.adapters.twitter.fake_x import ACCESS_TOKEN, ACCOUNT_ID, BEARER
from tests.helpers import assert_no_secret, closed_port, variant

OTHER = {"id": "1700000000000000999", "name": "Someone", "username": "someone"}


@dataclass
class Case:
    label: str
    replies: bool = True  # the four OAuth 1.0a keys are set
    settings: dict = field(default_factory=dict)
    me: dict | None = None  # whom the access token belongs to (None: the account)
    fail: tuple[int, ...] = ()  # the X API's next answers
    closed: bool = False
    checks: tuple[tuple[str, bool, str], ...] = ()


APP_OK = ("bearer token", True, f"reads @DKIJakarta ({ACCOUNT_ID})")
USER_OK = ("user context", True, "replies go out as @DKIJakarta")
CASES = [
    Case("accepted", checks=(APP_OK, USER_OK)),
    Case("read_only", replies=False, checks=(APP_OK, ("user context", True, "no reply is sent"))),
    Case("some_keys_missing", settings={"access_token_secret": None},
         checks=(APP_OK, ("user context", False, "access_token_secret not set"))),
    Case("refused_bearer", settings={"bearer_token": "AAAA-revoked-bearer"},
         checks=(("bearer token", False, "X refused the bearer token: make a new one"),
                 USER_OK)),
    Case("refused_user_keys", settings={"access_token": "1700000000000000001-revoked"},
         checks=(APP_OK, ("user context", False, "X refused the OAuth 1.0a keys"))),
    Case("forbidden", fail=(403, 403),
         checks=(("bearer token", False, "HTTP 403"), ("user context", False, "Project"))),
    Case("unknown_user_id", settings={"user_id": "1700000000000000404"},
         checks=(("bearer token", False, "X knows no account with the id"),
                 ("user context", False, "not the channel's account"))),
    Case("token_of_another_account", me=OTHER,
         checks=(APP_OK, ("user context", False, "is @someone's"))),
    Case("account_name_differs", settings={"account": "BalaiKota"},
         checks=(("bearer token", False, "is @DKIJakarta, not @BalaiKota"), USER_OK)),
    Case("unreachable", closed=True,
         checks=(("bearer token", False, "cannot reach the X API at http://127.0.0.1:"),
                 ("user context", False, "connection was refused"))),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_connection(case: Case, x_kanal, fake_x):
    kanal = x_kanal(replies=case.replies)
    if case.me:
        fake_x.me = case.me
    for status in case.fail:
        fake_x.fail(status)
    changes = dict(case.settings)
    if case.closed:
        changes["api_base"] = f"http://127.0.0.1:{closed_port()}"
    result = variant(kanal.adapters[CHANNEL], **changes).test_connection()
    assert [(c.name, c.ok) for c in result.checks] == [(n, ok) for n, ok, _ in case.checks], \
        result.as_dict()
    for check, (_, _, words) in zip(result.checks, case.checks):
        assert words in check.detail, check.detail
    assert_no_secret(result, BEARER, ACCESS_TOKEN, "cs-test", "ats-test", "AAAA-revoked-bearer")

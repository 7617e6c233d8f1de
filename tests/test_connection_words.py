"""core.connection: the words for each network failure a connection test meets, from the
real libraries' exceptions, and secrets kept out of them."""

from __future__ import annotations

import socket

import httpx
import pytest
import requests

from core import connection
from tests.helpers import closed_port


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def failure(call) -> Exception:
    with pytest.raises(Exception) as info:
        call()
    return info.value


@pytest.mark.parametrize("get", [lambda url: requests.get(url, timeout=0.5),
                                 lambda url: httpx.get(url, timeout=0.5)],
                         ids=["requests", "httpx"])
def test_reasons(get, silent_port):
    refused = failure(lambda: get(f"http://127.0.0.1:{closed_port()}/"))
    assert "connection was refused" in connection.network_reason(refused)
    nowhere = failure(lambda: get("http://api.kanal.invalid/"))
    assert connection.network_reason(nowhere) == "the host name does not resolve"
    silent = failure(lambda: get(f"http://127.0.0.1:{silent_port}/"))
    assert connection.network_reason(silent, 0.5) == "no answer within 0.5 s"


def test_unreachable_names_the_place_and_what_to_check():
    text = connection.unreachable("the X API", "api.x.com:443", ConnectionRefusedError(111, "x"))
    assert text.startswith("cannot reach the X API at api.x.com:443: the connection was refused")
    assert "check the host and port" in text


def test_timeout_is_capped():
    assert connection.timeout(30) == 10 and connection.timeout(4) == 4


def test_redact():
    assert connection.redact("bot123:ABC rejected, abc", ["bot123:ABC", None, "ab"]) \
        == "*** rejected, abc"

"""core.remote: the SSRF guard and size cap every adapter's media download goes through."""

from __future__ import annotations

import httpx
import pytest

from core.remote import MediaRefused, MediaTooLarge, allowed, fetch

CDN = [".fbcdn.net", "lookaside.fbsbx.com", "api.twilio.com/2010-04-01/Accounts/"]


@pytest.mark.parametrize("url,ok", [
    ("https://scontent-sin6-1.xx.fbcdn.net/v/t1/p.jpg", True),
    ("https://fbcdn.net/p.jpg", False),  # ".fbcdn.net" is the hosts below it
    ("https://evilfbcdn.net/p.jpg", False),
    ("https://scontent.xx.fbcdn.net.evil.example/p.jpg", False),
    ("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1", True),
    ("https://x.lookaside.fbsbx.com/p.jpg", False),
    ("http://scontent.xx.fbcdn.net/p.jpg", False),
    ("https://user:pw@scontent.xx.fbcdn.net/p.jpg", False),
    ("https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", True),
    ("https://api.twilio.com/other", False),
], ids=lambda v: str(v))
def test_allowed(url, ok):
    assert allowed(url, CDN) is ok


def _client(routes: dict[str, httpx.Response]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        return routes.get(str(request.url), httpx.Response(404))
    return httpx.Client(transport=httpx.MockTransport(handle))


def test_every_redirect_hop_is_checked():
    client = _client({"https://a.fbcdn.net/p.jpg": httpx.Response(
        302, headers={"location": "http://169.254.169.254/latest/meta-data/"})})
    with pytest.raises(MediaRefused):
        fetch(client, "https://a.fbcdn.net/p.jpg", allowlist=CDN, max_bytes=100)


def test_redirect_within_the_allowlist_and_size_cap():
    client = _client({
        "https://a.fbcdn.net/p.jpg": httpx.Response(302, headers={
            "location": "https://b.fbcdn.net/q.jpg"}),
        "https://b.fbcdn.net/q.jpg": httpx.Response(200, content=b"x" * 50)})
    assert fetch(client, "https://a.fbcdn.net/p.jpg", allowlist=CDN, max_bytes=100) == b"x" * 50
    with pytest.raises(MediaTooLarge):
        fetch(client, "https://a.fbcdn.net/p.jpg", allowlist=CDN, max_bytes=10)

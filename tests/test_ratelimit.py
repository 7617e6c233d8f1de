"""Throttle keys: an IPv6 client is its /64, an IPv4 client (mapped or not) its address."""

from __future__ import annotations

import pytest

from core.ratelimit import client_bucket


@pytest.mark.parametrize("host, bucket", [
    ("203.0.113.9", "203.0.113.9"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("::ffff:cb00:7109", "203.0.113.9"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:0:0:0:7", "2001:db8:1:2::/64"),
    ("[2001:db8:1:2::9]", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("::1", "::/64"),
    ("testclient", "testclient"),
    ("", "unknown"),
    (None, "unknown"),
], ids=["ipv4", "ipv4_mapped", "ipv4_mapped_hex", "ipv6", "ipv6_last_of_64", "ipv6_spelt_out",
        "ipv6_bracketed", "ipv6_scoped", "ipv6_loopback", "not_an_address", "empty", "none"])
def test_client_bucket(host, bucket):
    assert client_bucket(host) == bucket


def test_neighbouring_64s_are_apart():
    assert client_bucket("2001:db8:1:2::1") != client_bucket("2001:db8:1:3::1")

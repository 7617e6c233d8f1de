"""Downloading files a provider holds (Twilio media, Meta attachments): allowlisted hosts
only (the SSRF guard), checked again on every redirect hop, credentials for the first host
only, and a size cap while reading."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx

from core.storage import UploadError

MAX_REDIRECTS = 5


# Both are UploadErrors, which the media fetcher records without retrying.
class MediaRefused(UploadError):
    """The URL is not one kanal may fetch (the SSRF guard)."""

    def __init__(self, message: str):
        super().__init__("media_refused", message)


class MediaTooLarge(UploadError):
    """The file is larger than the configured limit."""

    def __init__(self, message: str):
        super().__init__("file_too_large", message)


def _host_matches(host: str, entry_host: str) -> bool:
    # ".fbcdn.net" (or "*.fbcdn.net"): any host below it, for CDNs with numbered edges
    if entry_host.startswith(("*.", ".")):
        suffix = entry_host[entry_host.index("."):]
        return host.endswith(suffix) and len(host) > len(suffix)
    return host == entry_host


def allowed(url: str, allowlist: list[str], *, allow_http: bool = False) -> bool:
    """Whether ``url`` is on an allowlisted host: entries are ``host``, ``host/path-prefix``
    or ``.domain`` (any host below it); the scheme is https (or http when ``allow_http``)."""
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if allow_http else ("https",)):
        return False
    if parts.username or parts.password or not parts.hostname:
        return False
    host = parts.hostname.lower().rstrip(".")
    for entry in allowlist:
        entry_host, slash, prefix = entry.strip().partition("/")
        # hosts are case-insensitive, paths are not
        if _host_matches(host, entry_host.lower()) and (not slash
                                                or parts.path.startswith("/" + prefix)):
            return True
    return False


def fetch(client: httpx.Client, url: str, *, allowlist: list[str], max_bytes: int,
          auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
          allow_http: bool = False) -> bytes:
    """The body at ``url``. Credentials (``auth``, or a token in ``headers``) go to the
    first host only, never to a CDN the answer redirects to."""
    origin = urlsplit(url).hostname
    for _ in range(MAX_REDIRECTS + 1):
        if not allowed(url, allowlist, allow_http=allow_http):
            raise MediaRefused(f"media host not allowed: {urlsplit(url).hostname}")
        first = urlsplit(url).hostname == origin
        with client.stream("GET", url, auth=auth if first else None,
                           headers=headers if first else None,
                           follow_redirects=False) as response:
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise MediaRefused("redirect without a Location")
                url = urljoin(url, location)
                continue
            response.raise_for_status()
            return _read_capped(response, max_bytes)
    raise MediaRefused(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise MediaTooLarge(f"media is {declared} bytes; the limit is {max_bytes}")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise MediaTooLarge(f"media is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

"""Photos of a mention, from X's media hosts only (every redirect hop), with a size cap."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import requests

from core.storage import UploadError

if TYPE_CHECKING:
    from adapters.twitter.plugin import TwitterAdapter

MAX_REDIRECTS = 3


def _allowed(url: str, hosts: list[str]) -> bool:
    parts = urlsplit(url)
    return (parts.scheme in ("https", "http") and not parts.username
            and (parts.hostname or "").lower().rstrip(".") in {h.lower() for h in hosts})


def fetch(adapter: TwitterAdapter, url: str, max_bytes: int) -> bytes:
    s = adapter.settings
    for _ in range(MAX_REDIRECTS + 1):
        if not _allowed(url, s.media_hosts):
            raise UploadError("media_refused", f"media host not allowed: {urlsplit(url).hostname}")
        with requests.get(url, stream=True, allow_redirects=False,
                          timeout=s.request_timeout_seconds) as response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("location", ""))
                continue
            response.raise_for_status()
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise UploadError("file_too_large",
                                      f"media is over the limit of {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    raise UploadError("media_refused", f"more than {MAX_REDIRECTS} redirects")

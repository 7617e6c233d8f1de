"""Public copies of report photos, without metadata.

A phone writes into its photos where they were taken (GPS), when, and often the camera's
serial number; a citizen's photo of the street in front of their house would tell anyone
where they live. The stored original is kept as sent (evidence, for staff); the public
tracking page gets a copy re-encoded by Pillow with no EXIF, GPS, XMP, IPTC, ICC or text
chunks, turned upright first (the EXIF orientation goes with the rest). Formats Pillow
cannot read here (HEIC) are not shown publicly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

# what the public page shows, as what it is served
PUBLIC_TYPES = {"image/jpeg": "image/jpeg", "image/png": "image/png",
                "image/webp": "image/webp", "image/gif": "image/png"}
# larger photos are not decoded for the public page (a decompression bomb, or a panorama)
MAX_PIXELS = 50_000_000


def public_copy(data: bytes, media_type: str) -> tuple[bytes, str] | None:
    """(bytes, media type) of a copy without metadata, or None when it cannot be made."""
    served = PUBLIC_TYPES.get(media_type)
    if served is None:
        return None
    try:
        with Image.open(BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            image.seek(0)  # an animated GIF shows its first frame
            upright = ImageOps.exif_transpose(image)
            out = BytesIO()
            if served == "image/jpeg":
                if upright.mode not in ("RGB", "L"):
                    upright = upright.convert("RGB")
                upright.save(out, "JPEG", quality=88, optimize=True)
            elif served == "image/webp":
                upright.save(out, "WEBP", quality=85)
            else:
                if upright.mode == "P" and "transparency" in upright.info:
                    upright = upright.convert("RGBA")
                upright.save(out, "PNG", optimize=True)
            return out.getvalue(), served
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError):
        return None


class PublicPhotos:
    """Public copies of stored photos, the most recently used kept in memory up to
    ``max_bytes`` in all (a digest names content that never changes)."""

    def __init__(self, store, max_bytes: int = 32 * 1024 * 1024):
        self.store = store
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple[str, str], tuple[bytes, str] | None] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, sha256: str, media_type: str) -> tuple[bytes, str] | None:
        key = (sha256, media_type)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        copy = public_copy(self.store.open(sha256), media_type)
        with self._lock:
            if key not in self._kept:
                self._kept[key] = copy
                self._size += len(copy[0]) if copy else 0
            while self._size > self.max_bytes and len(self._kept) > 1:
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped[0]) if dropped else 0
        return copy

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._size = 0

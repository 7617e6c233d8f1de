"""Public copies of report photos, without metadata.

A phone writes into its photos where they were taken (GPS), when, and often the camera's
serial number; a citizen's photo of the street in front of their house would tell anyone
where they live. The stored original is kept as sent (evidence, for staff); the public
tracking page gets a copy re-encoded by Pillow from the pixels alone, turned upright first
(the EXIF orientation goes with the rest). Nothing else is carried over: no EXIF, GPS, XMP,
IPTC, JPEG comment or vendor APPn segment, no PNG text, time or eXIf chunk, and no ICC
profile either (it can name the phone): a photo that has one is converted to sRGB, the
colour space browsers assume for an untagged image, so its colours still show right. A
JPEG copy has one APP0 segment, JFIF's own header (version and pixel density). Formats
Pillow cannot read here (HEIC) are not shown publicly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from io import BytesIO

from PIL import Image, ImageCms, UnidentifiedImageError

# what the public page shows, as what it is served
PUBLIC_TYPES = {"image/jpeg": "image/jpeg", "image/png": "image/png",
                "image/webp": "image/webp", "image/gif": "image/png"}
# larger photos are not decoded for the public page (a decompression bomb, or a panorama)
MAX_PIXELS = 50_000_000
_SRGB = ImageCms.createProfile("sRGB")
# what Pillow raises for bytes it cannot decode (not an image, truncated, a bomb, a bad header)
UNREADABLE = (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
              SyntaxError)
ORIENTATION = 0x0112
# how to turn stored pixels upright, by EXIF orientation (as ImageOps.exif_transpose does)
_TURN = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
         6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_90}


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
            upright = _bare(_in_srgb(turned_upright(image)))
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
    except UNREADABLE:
        return None


def turned_upright(image: Image.Image) -> Image.Image:
    """The pixels turned as the EXIF orientation says (the image itself when upright).

    Not ``ImageOps.exif_transpose``: it also writes the EXIF back without the orientation,
    and raises TypeError on a value it cannot re-encode (a GPS longitude sent as text),
    while here the EXIF is dropped anyway. EXIF that cannot be parsed leaves the pixels as
    stored."""
    try:
        orientation = image.getexif().get(ORIENTATION)
    except UNREADABLE:
        return image
    method = _TURN.get(orientation) if isinstance(orientation, int) else None
    return image.transpose(method) if method is not None else image


def _in_srgb(image: Image.Image) -> Image.Image:
    """The image's colours in sRGB, when it carries an ICC profile that can be read."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        profile = ImageCms.ImageCmsProfile(BytesIO(icc))
        alpha = None
        if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            if rgba.getextrema()[3][0] < 255:
                alpha = rgba.getchannel("A")
            image = rgba.convert("RGB")
        converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unreadable profile, or one of another colour space: left out
    if alpha is not None:  # LittleCMS leaves alpha out: put it back
        converted.putalpha(alpha)
    return converted


def _bare(image: Image.Image) -> Image.Image:
    """The same pixels (and palette) with nothing in ``info`` but what draws them: Pillow's
    encoders re-use some of it (a JPEG's comment, a PNG's ICC profile)."""
    kept = {k: image.info[k] for k in ("transparency",) if k in image.info}
    if image.info.keys() == kept.keys():
        return image
    image = image.copy()
    image.info = kept
    return image


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

"""The public tracking page never serves a photo's metadata: GPS, camera serial, text."""

from __future__ import annotations

import struct
from io import BytesIO

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from core.photos import public_copy
from tests.adapters.web.helpers import png

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
ORIENTATION, MAKE, BODY_SERIAL = 0x0112, 0x010F, 0xA431


def jpeg_with_exif(orientation: int = 6) -> bytes:
    """A 40x20 JPEG taken "at" a house in Jakarta, rotated by its EXIF orientation."""
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "S", 2: (6.0, 12.0, 30.5), 3: "E", 4: (106.0, 49.0, 7.2)})
    exif.get_ifd(EXIF_IFD).update({BODY_SERIAL: "SN-0042-SECRET"})
    out = BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_jpeg_copy_has_no_exif_and_is_upright():
    original = jpeg_with_exif()
    assert b"SN-0042-SECRET" in original and Image.open(BytesIO(original)).getexif()
    data, media_type = public_copy(original, "image/jpeg")
    assert media_type == "image/jpeg"
    copy = Image.open(BytesIO(data))
    assert dict(copy.getexif()) == {} and b"SN-0042-SECRET" not in data
    assert b"Exif" not in data and b"PhoneMaker" not in data
    assert copy.size == (20, 40)  # orientation 6 applied, then dropped


def test_a_sideways_photo_with_an_odd_gps_value_is_still_turned_and_shown():
    """Orientation 6 and a GPS longitude written as text: Pillow's exif_transpose raises
    TypeError re-encoding that EXIF (a 500 on the public page before)."""
    gps_at = 8 + 2 + 2 * 12 + 4  # the GPS IFD right after IFD0's two entries
    block = (b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 2)
             + struct.pack("<HHIHH", ORIENTATION, 3, 1, 6, 0)
             + struct.pack("<HHII", GPS_IFD, 4, 1, gps_at) + b"\x00" * 4
             + struct.pack("<HHHI", 1, 4, 2, 4) + b"junk" + b"\x00" * 4)
    out = BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "JPEG", exif=block)
    data, _ = public_copy(out.getvalue(), "image/jpeg")
    copy = Image.open(BytesIO(data))
    assert copy.size == (20, 40) and dict(copy.getexif()) == {} and b"junk" not in data


def test_png_text_chunks_are_dropped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "Jl. Mawar 3, rumah Ibu Sari")
    out = BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, "PNG", pnginfo=info)
    data, media_type = public_copy(out.getvalue(), "image/png")
    assert media_type == "image/png" and b"Ibu Sari" not in data
    assert Image.open(BytesIO(data)).size == (8, 8)


@pytest.mark.parametrize("data, media_type", [
    (b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg"),
    (b"....ftypheic" + b"\x00" * 64, "image/heic"),
])
def test_unreadable_or_unsupported_gives_no_copy(data, media_type):
    assert public_copy(data, media_type) is None


def test_the_public_api_serves_the_clean_copy_and_keeps_the_original(client, kanal):
    original = jpeg_with_exif()
    r = client.post("/api/v1/web/reports", data={"text": "Pohon tumbang di depan rumah."},
                    files=[("photos", ("rumah.jpg", original, "image/jpeg")),
                           ("photos", ("foto.heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64,
                                       "image/heic"))])
    assert r.status_code == 201, r.text
    shown = r.json()["tracking_id"]
    view = client.get(f"/api/v1/reports/{shown}").json()
    [photo] = view["photos"]  # the HEIC is kept for staff, not listed publicly
    served = client.get(photo["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert b"SN-0042-SECRET" not in served.content and b"Exif" not in served.content
    # the stored original is untouched (evidence for staff)
    from sqlalchemy import select

    from core.models import Attachment

    with kanal.engine.connect() as conn:
        rows = conn.execute(select(Attachment.__table__.c.sha256,
                                   Attachment.__table__.c.media_type)).all()
    stored = {media: kanal.store.open(sha) for sha, media in rows}
    assert stored["image/jpeg"] == original and "image/heic" in stored
    heic_id = photo["id"] + 1
    assert client.get(f"/api/v1/reports/{shown}/photos/{heic_id}").status_code == 404


def test_a_broken_stored_photo_is_a_404_not_a_500(client, kanal):
    r = client.post("/api/v1/web/reports", data={"text": "Lampu mati."},
                    files=[("photos", ("a.png", png(), "image/png"))])
    shown = r.json()["tracking_id"]
    [photo] = client.get(f"/api/v1/reports/{shown}").json()["photos"]
    kanal.public_photos.clear()
    kanal.public_photos.store = type("Broken", (), {"open": lambda self, sha: b"garbage"})()
    assert client.get(photo["url"]).status_code == 404


def test_public_copies_kept_in_memory_stay_under_the_budget(tmp_path):
    from core.photos import PublicPhotos
    from core.storage import LocalAttachmentStore

    store = LocalAttachmentStore(tmp_path)
    stored = [store.put(png(40 + n, 40), "image/png", None) for n in range(6)]
    copies = PublicPhotos(store, max_bytes=1)  # room for one copy at a time
    for f in stored:
        assert copies.get(f.sha256, "image/png") is not None
    assert len(copies._kept) == 1 and copies._size <= max(len(c[0]) for c in
                                                          copies._kept.values())
    again = copies.get(stored[-1].sha256, "image/png")  # the newest is still kept
    assert again is copies._kept[(stored[-1].sha256, "image/png")]


# -- every metadata segment goes, walked byte by byte ----------------------------------

APP0, APP1, APP2, APP13, COM, SOS, EOI = 0xE0, 0xE1, 0xE2, 0xED, 0xFE, 0xDA, 0xD9
XMP = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><rdf:Description "
       b"exif:GPSLatitude=\"6,12.5S\" dc:creator=\"Ibu Sari\"/></x:xmpmeta>")


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment of a JPEG, walked by the markers' lengths;
    entropy-coded data after each SOS is skipped up to the next real marker."""
    assert data[:2] == b"\xff\xd8", "no SOI"
    found, i = [], 2
    while i < len(data):
        assert data[i] == 0xFF, f"no marker at {i}"
        while data[i] == 0xFF:  # fill bytes
            i += 1
        marker = data[i]
        i += 1
        if marker == EOI:
            found.append((marker, b""))
            assert i == len(data), "bytes after EOI"
            return found
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            found.append((marker, b""))
            continue
        length = int.from_bytes(data[i:i + 2], "big")
        found.append((marker, data[i + 2:i + length]))
        i += length
        if marker == SOS:
            while not (data[i] == 0xFF and data[i + 1] not in (0x00, *range(0xD0, 0xD8))):
                i += 1
    raise AssertionError("no EOI")


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def jpeg_full_of_metadata() -> bytes:
    """The EXIF JPEG above, with a comment, XMP, an ICC profile, IPTC and a vendor segment."""
    base = Image.open(BytesIO(jpeg_with_exif()))
    out = BytesIO()
    base.save(out, "JPEG", exif=base.info["exif"], comment=b"Rumah Ibu Sari, Jl. Mawar 3",
              icc_profile=srgb_profile())
    data = out.getvalue()
    extra = (segment(APP1, XMP)
             + segment(APP13, b"Photoshop 3.0\x008BIM\x04\x04 Ibu Sari IPTC byline")
             + segment(0xEC, b"Ducky\x00 camera owner Ibu Sari")
             + segment(COM, b"a second comment: Ibu Sari"))
    return data[:2] + extra + data[2:]


def assert_no_jpeg_metadata(data: bytes) -> None:
    markers = jpeg_segments(data)
    kept = [(m, p[:5]) for m, p in markers if m == COM or 0xE0 <= m <= 0xEF]
    # the only APPn left is JFIF's own header (version and pixel density), written by libjpeg
    assert kept in ([], [(APP0, b"JFIF\x00")]), kept
    assert b"Ibu Sari" not in data and b"Exif" not in data and b"ICC_PROFILE" not in data


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_primaries_profile() -> bytes:
    """sRGB with its red and blue primaries swapped: a wide-gamut phone's profile stands in
    for it, and a colour-managed viewer shows its "red" pixels as blue."""
    icc = bytearray(srgb_profile())
    icc[84:100] = bytes(16)  # the profile id (an MD5) no longer matches: leave it unset
    count = int.from_bytes(icc[128:132], "big")
    entries = {bytes(icc[132 + 12 * n:136 + 12 * n]): 132 + 12 * n for n in range(count)}
    red, blue = entries[b"rXYZ"] + 4, entries[b"bXYZ"] + 4
    icc[red:red + 8], icc[blue:blue + 8] = icc[blue:blue + 8], icc[red:red + 8]
    return bytes(icc)


def test_jpeg_keeps_no_comment_app_or_icc_segment():
    original = jpeg_full_of_metadata()
    markers = {m for m, _ in jpeg_segments(original)}
    assert {COM, APP1, APP2, APP13, 0xEC} <= markers
    assert Image.open(BytesIO(original)).info["comment"]
    data, media_type = public_copy(original, "image/jpeg")
    assert media_type == "image/jpeg"
    assert_no_jpeg_metadata(data)
    assert "comment" not in Image.open(BytesIO(data)).info


def test_colours_are_converted_to_srgb_and_the_profile_dropped():
    out = BytesIO()
    Image.new("RGB", (16, 16), (255, 0, 0)).save(out, "PNG",
                                                  icc_profile=swapped_primaries_profile())
    data, _ = public_copy(out.getvalue(), "image/png")
    copy = Image.open(BytesIO(data))
    assert "icc_profile" not in copy.info
    r, g, b = copy.convert("RGB").getpixel((8, 8))
    assert b > 200 and r < 60  # what a colour-managed viewer showed: blue, in sRGB
    out = BytesIO()
    Image.new("RGB", (16, 16), (200, 120, 40)).save(out, "JPEG", quality=95,
                                                     icc_profile=srgb_profile())
    data, _ = public_copy(out.getvalue(), "image/jpeg")
    assert_no_jpeg_metadata(data)
    assert all(abs(a - b) <= 6 for a, b in zip(
        Image.open(BytesIO(data)).getpixel((8, 8)), (200, 120, 40)))


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, i = [], 8
    while i < len(data):
        length = int.from_bytes(data[i:i + 4], "big")
        kinds.append(data[i + 4:i + 8])
        i += 12 + length
    return kinds


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    kinds, i = [], 12
    while i < len(data):
        length = int.from_bytes(data[i + 4:i + 8], "little")
        kinds.append(data[i:i + 4])
        i += 8 + length + (length & 1)
    return kinds


def png_full_of_metadata(mode: str = "RGB") -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ibu Sari")
    info.add_text("Comment", "Jl. Mawar 3", zip=True)
    info.add_itxt("Description", "rumah Ibu Sari", lang="id")
    info.add(b"tIME", b"\x07\xea\x0b\x01\x0c\x00\x00")
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    out = BytesIO()
    Image.new(mode, (8, 8)).save(out, "PNG", pnginfo=info, exif=exif.tobytes(),
                                 icc_profile=srgb_profile(), dpi=(300, 300))
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P"])
def test_png_keeps_only_the_chunks_that_draw_the_image(mode):
    original = png_full_of_metadata(mode)
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP", b"tIME", b"pHYs"} <= set(
        png_chunks(original))
    data, media_type = public_copy(original, "image/png")
    assert media_type == "image/png"
    assert set(png_chunks(data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    assert b"Ibu Sari" not in data and b"PhoneMaker" not in data


def test_webp_keeps_no_exif_xmp_or_icc_chunk():
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    out = BytesIO()
    Image.new("RGB", (8, 8), "green").save(out, "WEBP", exif=exif.tobytes(), xmp=XMP,
                                           icc_profile=srgb_profile())
    assert {b"EXIF", b"XMP ", b"ICCP"} <= set(webp_chunks(out.getvalue()))
    data, media_type = public_copy(out.getvalue(), "image/webp")
    assert set(webp_chunks(data)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
    assert b"PhoneMaker" not in data and b"Ibu Sari" not in data


def test_gif_comment_is_not_carried_into_the_png():
    out = BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF", comment=b"rumah Ibu Sari")
    data, media_type = public_copy(out.getvalue(), "image/gif")
    assert media_type == "image/png" and b"Ibu Sari" not in data
    assert set(png_chunks(data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def test_the_served_jpeg_has_no_metadata_segment(client):
    original = jpeg_full_of_metadata()
    r = client.post("/api/v1/web/reports", data={"text": "Pohon tumbang di depan rumah."},
                    files=[("photos", ("rumah.jpg", original, "image/jpeg"))])
    assert r.status_code == 201, r.text
    [photo] = client.get(f"/api/v1/reports/{r.json()['tracking_id']}").json()["photos"]
    served = client.get(photo["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert_no_jpeg_metadata(served.content)
    assert Image.open(BytesIO(served.content)).size == (20, 40)  # still upright

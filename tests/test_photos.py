"""The public tracking page never serves a photo's metadata: GPS, camera serial, text."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image, PngImagePlugin

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

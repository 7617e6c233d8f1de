"""Proof photos of a resolution: checked against the report (``core.proof``), stored as
evidence with what the checks found, compared with every earlier case's proof photos.

A refusal (taken before the report, far from it, unreadable) refuses the whole resolution
with 422 and stores nothing. A mark (no EXIF) and a reuse (the perceptual hash is close to a
proof photo of another case) are kept on the photo for the verifier and do not block.
The originals keep their EXIF as evidence; the public sees ``core.photos.public_copy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, insert, select

from core import tracking
from core.errors import ApiError
from core.models import ProofPhoto, Report
from core.proof import MAX_DISTANCE_M, Finding, ProofCheck, check_photo, find_reuse
from core.uploads import CheckedUpload

proof_t = ProofPhoto.__table__
report_t = Report.__table__
MAX_PROOF_PHOTOS = 5


def finding_dict(finding: Finding) -> dict:
    return {"code": finding.code, "text": str(finding), **finding.params}


class ProofPhotos:
    def __init__(self, store, *, max_distance_m: float = MAX_DISTANCE_M):
        self.files = store  # not ``store``: that is the method below
        self.max_distance_m = max_distance_m

    def check(self, conn: Connection, case: Row,
              photos: Sequence[CheckedUpload]) -> list[tuple[CheckedUpload, ProofCheck]]:
        """Every photo's checks; raises 422 ``photo_refused`` naming each refused one."""
        if len(photos) > MAX_PROOF_PHOTOS:
            raise ApiError(422, "too_many_photos", f"{len(photos)} photos sent; at most "
                           f"{MAX_PROOF_PHOTOS}", limit=MAX_PROOF_PHOTOS, field="photos")
        point = ((case.lat, case.lon) if case.lat is not None and case.lon is not None
                 else None)
        checked = [(photo, check_photo(photo.upload.data, report_created_at=case.created_at,
                                       report_point=point, max_distance_m=self.max_distance_m))
                   for photo in photos]
        refused = [{"photo": photo.upload.filename, "findings": [finding_dict(f)
                                                                 for f in result.refusals]}
                   for photo, result in checked if result.refusals]
        if refused:
            reasons = "; ".join(f"{r['photo'] or 'photo'}: "
                                + ", ".join(f["text"] for f in r["findings"]) for r in refused)
            raise ApiError(422, "photo_refused", f"proof photo refused: {reasons}",
                           field="photos", photos=refused)
        return checked

    def store(self, conn: Connection, case: Row,
              checked: list[tuple[CheckedUpload, ProofCheck]], *, event_id: int,
              uploaded_by: str, now: datetime) -> list[dict]:
        """Store the originals and their rows; the findings of each photo, reuse too."""
        known = [(tracking.display(ref), phash) for ref, phash in conn.execute(
            select(report_t.c.tracking_id, proof_t.c.phash)
            .join(report_t, report_t.c.id == proof_t.c.report_id)
            .where(proof_t.c.report_id != case.id, proof_t.c.phash.is_not(None)))]
        out = []
        for photo, result in checked:
            stored = self.files.put(photo.upload.data, photo.media_type, photo.upload.filename)
            findings = list(result.marks)
            if result.phash is not None:
                findings += [r.finding for r in find_reuse(result.phash, known)]
            rows = [finding_dict(f) for f in findings]
            conn.execute(insert(proof_t).values(
                report_id=case.id, event_id=event_id, sha256=stored.sha256,
                media_type=stored.media_type, size=stored.size,
                filename=(photo.upload.filename or "")[:255] or None, phash=result.phash,
                taken_at=result.exif.taken_at, lat=result.exif.lat, lon=result.exif.lon,
                findings=rows, uploaded_by=uploaded_by, created_at=now))
            out.append({"photo": photo.upload.filename, "findings": rows})
        return out


def proof_rows(conn: Connection, report_id: int) -> list[Row]:
    """Every proof photo of a case, newest resolution last."""
    return conn.execute(select(proof_t).where(proof_t.c.report_id == report_id)
                        .order_by(proof_t.c.id)).all()


def public_proofs(conn: Connection, report_id: int, status: str) -> list[Row]:
    """The photos the public sees: those of the latest resolution, while it stands
    (Menunggu Verifikasi or Selesai); a resolution sent back is not shown."""
    if status not in ("Menunggu Verifikasi", "Selesai"):
        return []
    rows = proof_rows(conn, report_id)
    if not rows:
        return []
    last = rows[-1].event_id
    return [r for r in rows if r.event_id == last]

"""Photos sent with a report: read from a form, every one checked, only then stored.

Shared by the intake channels that take uploads (JAKI, the website). Errors are ``ApiError``
with the codes the intake APIs document: ``too_many_photos`` (422), ``photo_too_large``
(413), ``photo_wrong_type`` (415), ``empty_file`` (422) and ``malformed_multipart`` (400).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from core.canonical import StoredFile
from core.errors import ApiError
from core.storage import IMAGE_TYPES, AttachmentStore, UploadError, check_upload

PHOTO_KEYS = ("photos", "photo")
_STATUS = {"file_too_large": 413, "unsupported_file_type": 415}
_CODE = {"file_too_large": "photo_too_large", "unsupported_file_type": "photo_wrong_type"}


class StoredPhoto(BaseModel):
    """A stored photo as kept in an inbox payload."""

    sha256: str
    media_type: str
    size: int
    path: str
    filename: str | None = None

    def as_file(self) -> StoredFile:
        return StoredFile(media_type=self.media_type, size=self.size, sha256=self.sha256,
                          path=self.path, filename=self.filename)


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    upload: Upload
    media_type: str


async def read_form(request: Request, *, max_files: int = 100, max_fields: int = 100,
                    max_part_size: int = 1024 * 1024) -> FormData:
    """The parsed form (multipart or urlencoded); the caller closes it."""
    try:
        return await request.form(max_files=max_files, max_fields=max_fields,
                                  max_part_size=max_part_size)
    except Exception as exc:  # noqa: BLE001 - python-multipart and starlette raise several kinds
        raise ApiError(400, "malformed_multipart", f"cannot read the form: {exc}")


def file_parts(form: FormData, keys: Iterable[str] = PHOTO_KEYS) -> list[UploadFile]:
    """File parts under ``keys``, without the empty part a browser sends for a file
    input left empty."""
    return [f for key in keys for f in form.getlist(key)
            if isinstance(f, UploadFile) and (f.filename or f.size)]


async def read_uploads(form: FormData, *, max_count: int, max_bytes: int,
                       keys: Iterable[str] = PHOTO_KEYS) -> list[Upload]:
    """The files of a form, each read up to one byte past ``max_bytes``."""
    files = file_parts(form, keys)
    if len(files) > max_count:
        raise ApiError(422, "too_many_photos",
                       f"{len(files)} photos sent; at most {max_count}", limit=max_count)
    return [Upload(f.filename or None, await f.read(max_bytes + 1)) for f in files]


def check_photos(uploads: Sequence[Upload], *, max_bytes: int,
                 allowed: frozenset[str] = IMAGE_TYPES) -> list[CheckedUpload]:
    """Sniff and size-check every upload; raises for the first bad one."""
    checked = []
    for upload in uploads:
        try:
            media_type = check_upload(upload.data, filename=upload.filename,
                                      max_bytes=max_bytes, allowed=allowed)
        except UploadError as exc:
            extra = {"limit": max_bytes} if exc.reason == "file_too_large" else {}
            raise ApiError(_STATUS.get(exc.reason, 422), _CODE.get(exc.reason, exc.reason),
                           str(exc), photo=upload.filename, **extra)
        checked.append(CheckedUpload(upload, media_type))
    return checked


def store_photos(store: AttachmentStore, checked: Sequence[CheckedUpload]) -> list[StoredPhoto]:
    photos = []
    for item in checked:
        stored = store.put(item.upload.data, item.media_type, item.upload.filename)
        photos.append(StoredPhoto(sha256=stored.sha256, media_type=stored.media_type,
                                  size=stored.size, path=stored.path,
                                  filename=item.upload.filename))
    return photos

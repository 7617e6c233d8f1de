"""What a walk-in counter keeps in the inbox: the checked form, the office and the clerk."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.reportform import CitizenReport
from core.uploads import StoredPhoto

CONTENT_TYPE = "application/vnd.kanal.walk-in+json"
# the form's fields, as the clerk typed them (kept when the form comes back)
FORM_FIELDS = ("name", "phone", "email", "consent", "text", "category", "address",
               "kelurahan", "submission_id")


class WalkInInbox(BaseModel):
    source: Literal["counter"] = "counter"
    office_id: str
    # the office's own area: its kelurahan, or the kecamatan / kota it serves
    office_area: str | None = None
    clerk: str
    report: CitizenReport
    kelurahan_code: str | None = None
    consent: bool = False
    files: list[StoredPhoto] = Field(default_factory=list)

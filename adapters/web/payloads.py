"""The website's report: the /lapor form and its JSON twin, as kept in the inbox.

Both inputs become one flat mapping (``text``, ``category``, ``address``, ``lat``, ``lon``,
``name``, ``phone``, ``email``, ``submission_id``, ``website``), checked by ``check``: the
honeypot, then ``core.reportform.check_report``, which returns every problem at once so the
form can show them together.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.reportform import CitizenReport, Problem, check_report
from core.uploads import StoredPhoto

FORM_FIELDS = ("text", "category", "address", "lat", "lon", "name", "phone", "email",
               "submission_id", "website")
HONEYPOT = "website"
_NESTED = (("location", ("lat", "lon", "address"), "invalid_location"),
           ("contact", ("name", "phone", "email"), "invalid_contact"))


class WebInbox(BaseModel):
    """What is kept in the inbox: the checked report, where it came from, its photos."""

    source: Literal["form", "api"]
    report: CitizenReport
    photos: list[StoredPhoto] = Field(default_factory=list)


def flatten(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The JSON body (``location`` and ``contact`` objects) as flat form fields."""
    flat = {k: data.get(k) for k in ("text", "category", "submission_id", HONEYPOT)}
    problems = []
    for key, names, code in _NESTED:
        part = data.get(key)
        if part is None:
            continue
        if not isinstance(part, Mapping):
            problems.append(Problem(422, code, key, f"{key} must be an object"))
            continue
        flat.update({name: part.get(name) for name in names})
    return flat, problems


def check(raw: Mapping[str, Any], *, max_text_chars: int,
          categories: Collection[str]) -> tuple[CitizenReport | None, list[Problem]]:
    """The report, or the problems with it (a filled honeypot is the only problem told)."""
    if raw.get(HONEYPOT) not in (None, ""):
        return None, [Problem(400, "rejected", None, "the submission was rejected")]
    return check_report(raw, max_text_chars=max_text_chars, categories=categories)

"""The mapping file: how the LAPOR! API names its paths, fields and statuses.

The left side of every entry is kanal's name for a thing and fixed; the right side is the
API's name for it, a dotted path for a nested field (``lokasi.lat``). The default contract
is ``config/lapor.yaml``; a city whose developer account shows other names writes its own
file and points ``KANAL_LAPOR_MAPPING`` at it (docs/lapor.md). The file is checked when
the channel starts: a wrong one disables the channel with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

class MappingError(ValueError):
    """The mapping file cannot be used; the text names the file and the problem."""


def _name(value: str) -> str:
    value = value.strip()
    if not value or any(not part for part in value.split(".")):
        raise ValueError("must be a field name (or a dotted path such as lokasi.lat)")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _name(value) if isinstance(value, str) else value


class Paths(_Section):
    list: str = "/laporan"
    follow_up: str = "/laporan/{tracking_id}/tindak-lanjut"
    create: str = "/laporan"

    @field_validator("list", "follow_up", "create", mode="after")
    @classmethod
    def _path(cls, value: str, info) -> str:
        if not value.startswith("/"):
            raise ValueError("a path starts with /")
        if info.field_name == "follow_up" and value.count("{tracking_id}") != 1:
            raise ValueError("the follow-up path must contain {tracking_id} once")
        if info.field_name != "follow_up" and "{" in value:
            raise ValueError("only the follow-up path takes {tracking_id}")
        return value


class Query(_Section):
    agency: str = "instansi"
    since: str = "sejak"
    page: str = "halaman"


class Page(_Section):
    items: str = "data"
    next_page: str = "halaman_berikut"
    cursor: str = "kursor"


class Complaint(_Section):
    tracking_id: str = "tracking_id"
    title: str = "judul"
    text: str = "isi"
    category: str = "kategori"
    lat: str = "lokasi.lat"
    lon: str = "lokasi.lon"
    address: str = "lokasi.alamat"
    attachments: str = "lampiran"
    # within one item of the attachment list
    attachment_url: str = "url"
    attachment_type: str = "tipe"
    confidential: str = "rahasia"
    anonymous: str = "anonim"
    # the whole reporter object, removed from an anonymous complaint before it is kept
    reporter: str = "pelapor"
    reporter_name: str = "pelapor.nama"
    reporter_phone: str = "pelapor.telepon"
    reporter_email: str = "pelapor.email"
    updated_at: str = "diperbarui"


class FollowUp(_Section):
    id: str = "id"
    status: str = "status"
    text: str = "isi"
    attachments: str = "lampiran"
    attachment_url: str = "url"
    attachment_type: str = "tipe"


class Create(_Section):
    """The reverse direction: the request's idempotency key and the answer's ID (the rest
    of the request is written with the complaint names)."""

    id: str = "id"
    tracking_id: str = "tracking_id"


class Auth(_Section):
    header: str = "Authorization"
    # "" sends the bare token
    scheme: str = "Bearer"

    @field_validator("scheme", mode="before")
    @classmethod
    def _scheme(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("*", mode="after")
    @classmethod
    def _names(cls, value: Any) -> Any:  # the scheme may be empty
        return value


DEFAULT_STATUSES = {
    "Menunggu": "diterima", "Koordinasi": "proses", "Disposisi": "proses",
    "Proses": "proses", "EWS": "proses", "Menunggu Verifikasi": "proses",
    "Selesai": "selesai", "Ditolak": "ditolak",
}


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: Paths = Field(default_factory=Paths)
    query: Query = Field(default_factory=Query)
    page: Page = Field(default_factory=Page)
    complaint: Complaint = Field(default_factory=Complaint)
    follow_up: FollowUp = Field(default_factory=FollowUp)
    create: Create = Field(default_factory=Create)
    auth: Auth = Field(default_factory=Auth)
    # kanal status -> the LAPOR! status a follow-up sets
    statuses: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATUSES))
    # LAPOR! topic -> kanal category id, beyond the aliases of config/categories.yaml
    categories: dict[str, str] = Field(default_factory=dict)

    def status(self, kanal_status: str | None) -> str:
        return self.statuses.get(kanal_status or "", self.statuses.get("Menunggu", ""))


def load(path: str | Path, *, statuses: Iterable[str], categories: Iterable[str]) -> Mapping:
    """The mapping in ``path``, checked: every kanal status has a LAPOR! status and every
    topic maps to a kanal category. Raises MappingError naming the first problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise MappingError(f"{path}: expected a mapping of sections (paths, query, page, "
                           "complaint, follow_up, create, auth, statuses, categories)")
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MappingError(f"{path}: {where}: {first['msg']}") from exc
    missing = [s for s in statuses if not str(mapping.statuses.get(s) or "").strip()]
    if missing:
        raise MappingError(f"{path}: statuses: no LAPOR! status for {', '.join(missing)}")
    known = set(categories)
    for topic, target in mapping.categories.items():
        if target not in known:
            raise MappingError(f"{path}: categories: {topic!r} maps to {target!r}, which is "
                               f"not one of: {', '.join(sorted(known))}")
    return mapping


# -- dotted paths -----------------------------------------------------------------------

def get(obj: Any, dotted: str, default: Any = None) -> Any:
    """The value at ``a.b.c`` in nested dicts, or ``default``."""
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return default
        obj = obj[part]
    return obj


def put(obj: dict, dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in ``obj``, creating the dicts on the way."""
    *parents, last = dotted.split(".")
    for part in parents:
        nxt = obj.get(part)
        if not isinstance(nxt, dict):
            nxt = obj[part] = {}
        obj = nxt
    obj[last] = value


def drop(obj: Any, dotted: str) -> None:
    """Remove ``a.b.c`` when present."""
    *parents, last = dotted.split(".")
    for part in parents:
        if not isinstance(obj, dict):
            return
        obj = obj.get(part)
    if isinstance(obj, dict):
        obj.pop(last, None)

"""``config/units.yaml``: the province's dinas and biro, the Inspektorat, which dinas have a
suku dinas in every kota, and which dinas a category is coordinated with. Checked whole
when read: a wrong entry is a ConfigError that names it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.config import ConfigError
from core.files import read_text

UNIT_ID = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# the prefix each kind's id starts with ("inspektorat": the whole id)
ID_PREFIX = {"dinas": "dinas-", "biro": "biro-"}


class UnitsConfigError(ConfigError):
    """The units file cannot be used; the message names the file and the entry."""


class UnitEntry(BaseModel):
    """A unit of the province, as the file writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=UNIT_ID)
    kind: Literal["dinas", "biro", "inspektorat"]
    name: str = Field(min_length=1, max_length=200)
    sudin: bool = False
    # the suku dinas's name before the kota's ("Satuan Polisi Pamong Praja")
    sudin_name: str | None = Field(default=None, min_length=1, max_length=120)

    @model_validator(mode="after")
    def _id_and_sudin(self) -> UnitEntry:
        prefix = ID_PREFIX.get(self.kind)
        if prefix is None and self.id != "inspektorat":
            raise ValueError("the Inspektorat's id is 'inspektorat'")
        if prefix is not None and not (self.id.startswith(prefix) and len(self.id) > len(prefix)):
            raise ValueError(f"a {self.kind} id starts with {prefix!r}")
        if self.kind != "dinas" and (self.sudin or self.sudin_name):
            raise ValueError("only a dinas has suku dinas (sudin, sudin_name)")
        return self

    @property
    def short(self) -> str:
        """``bina-marga`` for ``dinas-bina-marga``: the middle of its sudin ids."""
        return self.id.removeprefix("dinas-")

    def sudin_label(self) -> str:
        if self.sudin_name:
            return self.sudin_name
        return f"Suku Dinas {self.name.removeprefix('Dinas ')}"


class UnitsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    units: list[UnitEntry]
    # category id -> dinas id
    categories: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> UnitsFile:
        seen: set[str] = set()
        for entry in self.units:
            if entry.id in seen:
                raise ValueError(f"unit {entry.id!r} appears twice")
            seen.add(entry.id)
        dinas = {u.id for u in self.units if u.kind == "dinas"}
        for category, target in self.categories.items():
            if target not in dinas:
                raise ValueError(f"category {category!r} maps to {target!r}, which is not a "
                                 f"dinas of this file")
        return self

    def entry(self, unit_id: str) -> UnitEntry | None:
        return next((u for u in self.units if u.id == unit_id), None)


def _where(raw: dict, loc: tuple) -> str:
    """``units[3] (dinas-foo).kind`` for an error's location."""
    if len(loc) >= 2 and loc[0] == "units" and isinstance(loc[1], int):
        items = raw.get("units") or []
        item = items[loc[1]] if loc[1] < len(items) else None
        named = f" ({item['id']})" if isinstance(item, dict) and "id" in item else ""
        rest = "".join(f".{part}" for part in loc[2:])
        return f"units[{loc[1]}]{named}{rest}"
    return ".".join(map(str, loc)) or "file"


def parse(raw: object, known_categories: Iterable[str] | None = None, *,
          source: str = "units file") -> UnitsFile:
    """Check ``raw`` (the loaded YAML); with ``known_categories``, every mapped category
    must be one of them (``config/categories.yaml``)."""
    if not isinstance(raw, dict):
        raise UnitsConfigError(f"{source}: expected a mapping with 'units' and 'categories'")
    try:
        parsed = UnitsFile.model_validate(raw)
    except ValidationError as exc:
        reasons = "; ".join(f"{_where(raw, tuple(e['loc']))}: {e['msg']}"
                            for e in exc.errors(include_url=False))
        raise UnitsConfigError(f"{source}: {reasons}") from None
    if known_categories is not None:
        known = set(known_categories)
        unknown = sorted(set(parsed.categories) - known)
        if unknown:
            raise UnitsConfigError(
                f"{source}: categories.{unknown[0]}: no such category in the categories "
                f"file (known: {', '.join(sorted(known))})")
    return parsed


def load(path: str | Path, known_categories: Iterable[str] | None = None) -> UnitsFile:
    path = Path(path)
    text = read_text(path, UnitsConfigError, "units file")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UnitsConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse(raw, known_categories, source=str(path))


@lru_cache(maxsize=8)
def _cached(path: Path, categories: Path, stamp: tuple[int, int]) -> UnitsFile:
    from core.categories import load as load_categories

    return load(path, [c["id"] for c in load_categories(categories)])


def configured(settings=None) -> UnitsFile:
    """The units file of the settings (``KANAL_UNITS``; the environment's when None),
    read again when it or the categories file changes."""
    from core.settings import KanalSettings

    settings = settings or KanalSettings()
    path, categories = settings.path("units"), settings.path("categories")
    try:
        stamp = (os.stat(path).st_mtime_ns, os.stat(categories).st_mtime_ns)
    except OSError:
        stamp = (0, 0)  # load() names the file that cannot be read
    return _cached(path, categories, stamp)

"""Report categories (``config/categories.yaml``) and the names other systems give them.

A client such as the JAKI app names its categories its own way (about 118 of them).
``CategoryIndex.resolve`` maps such a name onto a kanal category: its id, a name in the
client's own mapping, or one of the category's names and ``aliases``, all compared without
case, spacing, punctuation or diacritics. A name nobody knows becomes ``lainnya``; the
caller keeps the client's own name on the report for the officers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from core.config import ConfigError
from core.files import read_text

FALLBACK = "lainnya"
_NOT_WORD = re.compile(r"[\W_]+")


class CategoryError(ConfigError):
    """A categories file or a client's category mapping that cannot be used."""


def fold(name: str) -> str:
    """``"Pohon  Tumbang"``, ``"pohon-tumbang"`` and ``"Pöhon tumbang"`` fold alike."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", plain.casefold()).split())


def _yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(read_text(path, CategoryError, what))
    except yaml.YAMLError as exc:
        raise CategoryError(f"{path} is not valid YAML: {exc}") from None


def load(path: str | Path) -> list[dict[str, Any]]:
    """The categories of a categories file, checked (every id once, every alias of one
    category only)."""
    path = Path(path)
    data = _yaml(path, "categories file") or {}
    items = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) for c in items):
        raise CategoryError(f"{path}: expected 'categories:', a list of entries with an id")
    for c in items:
        aliases = c.setdefault("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise CategoryError(f"{path}: category {c['id']!r}: aliases must be a list of names")
    CategoryIndex(items, source=str(path))
    return items


def load_mapping(path: str | Path, known: Iterable[str]) -> dict[str, str]:
    """A client's own names for kanal's categories: a YAML mapping of name to category id."""
    path = Path(path)
    data = _yaml(path, "category mapping") or {}
    if not isinstance(data, dict):
        raise CategoryError(f"{path}: expected a mapping of the client's names to category ids")
    ids = set(known)
    mapping = {}
    for name, target in data.items():
        if not isinstance(target, str) or target not in ids:
            raise CategoryError(f"{path}: {name!r} maps to {target!r}, which is not one of: "
                                f"{', '.join(sorted(ids))}")
        mapping[str(name)] = target
    return mapping


class CategoryIndex:
    """Names (folded) to category ids: ``config/categories.yaml`` plus, optionally, one
    client's mapping, which wins over the aliases."""

    def __init__(self, items: Iterable[Mapping[str, Any]],
                 mapping: Mapping[str, str] | None = None, *, source: str = "categories"):
        self.ids = frozenset(c["id"] for c in items)
        self._by_name: dict[str, str] = {}
        for c in items:
            names = [c["id"], c.get("id_name"), c.get("en_name"), *(c.get("aliases") or [])]
            for name in filter(None, names):
                key = fold(str(name))
                other = self._by_name.setdefault(key, c["id"])
                if other != c["id"]:
                    raise CategoryError(f"{source}: {name!r} names both {other!r} and "
                                        f"{c['id']!r}")
        self._by_name.update({fold(name): target for name, target in (mapping or {}).items()})

    def resolve(self, name: str | None) -> tuple[str | None, str | None]:
        """(kanal's category id, the client's own name when it was not that id). No name
        gives (None, None); an unknown one ``lainnya`` (or None without that category)."""
        if name is None or not name.strip():
            return None, None
        name = name.strip()
        found = self._by_name.get(fold(name))
        if found is None:
            found = FALLBACK if FALLBACK in self.ids else None
        return found, (None if found == name else name)

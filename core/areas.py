"""The kelurahan, kecamatan and kota/kabupaten named by a boundaries GeoJSON, read without
building polygons (numpy and shapely load only for the error class), for the walk-in
offices (``core.offices``) and the units (``core.units``) made from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.files import read_text

_KOTA_PREFIXES = ("kota administrasi ", "kabupaten administrasi ", "kab. adm. ", "kota adm. ",
                  "kabupaten ", "kota ")


@dataclass(frozen=True, slots=True)
class Areas:
    """Code -> name (None when the file does not name it), each level sorted by code."""

    kelurahan: dict[str, str | None]
    kecamatan: dict[str, str | None]
    kota: dict[str, str | None]


def _text(props: dict, key: str) -> str | None:
    value = props.get(key)
    value = str(value).strip() if value is not None else ""
    return value or None


def read_areas(path: str | Path) -> Areas:
    """Kecamatan and kota codes come from the kelurahan code's prefix (as routing does);
    their names from the ``kecamatan`` and ``kota`` properties of the first feature that
    has them. Raises BoundariesError naming the file and feature."""
    from core.geo import KELURAHAN_CODE, BoundariesError

    path = Path(path)
    try:
        data = json.loads(read_text(path, BoundariesError, "boundaries file"))
    except json.JSONDecodeError as exc:
        raise BoundariesError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno})") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise BoundariesError(f"{path}: not a GeoJSON FeatureCollection with features")
    kelurahan: dict[str, str | None] = {}
    kecamatan: dict[str, str | None] = {}
    kota: dict[str, str | None] = {}
    for i, feature in enumerate(features):
        props = (feature.get("properties") if isinstance(feature, dict) else None) or {}
        code = _text(props, "code") if isinstance(props, dict) else None
        if code is None or not KELURAHAN_CODE.fullmatch(code):
            raise BoundariesError(f"{path}: feature {i} has no kelurahan code (PP.KK.CC.DDDD)")
        kelurahan[code] = _text(props, "name")
        for names, key, prefix in ((kecamatan, "kecamatan", code[:8]), (kota, "kota", code[:5])):
            if names.get(prefix) is None:
                names[prefix] = _text(props, key)
    return Areas(*({c: d[c] for c in sorted(d)} for d in (kelurahan, kecamatan, kota)))


def is_kabupaten(code: str, name: str | None) -> bool:
    """Kemendagri numbers kabupaten 01-69 and kota 71-99 (31.01 is Kepulauan Seribu)."""
    return int(code[3:5]) < 70 or (name or "").lower().startswith(("kabupaten", "kab."))


def kota_label(code: str, name: str | None) -> str:
    """``"Jakarta Pusat"`` from ``"Kota Administrasi Jakarta Pusat"``, ``"Jakarta Pusat"``
    or ``"Kota Jakarta Pusat"``; the code when there is no name."""
    label = name or code
    for prefix in _KOTA_PREFIXES:
        if label.lower().startswith(prefix):
            return label[len(prefix):].strip()
    return label

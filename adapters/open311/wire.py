"""Open311 GeoReport v2 on the wire: the same answer as JSON or as XML, and its errors
(``[{"code": 404, "description": ...}]`` / ``<errors><error><code/><description/>``)."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from fastapi.responses import Response

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# the element of one item, by the element of the list (XML only)
ITEMS = {"services": "service", "service_requests": "request", "errors": "error",
         "attributes": "attribute", "values": "value", "endpoints": "endpoint",
         "formats": "format"}


class Open311Error(Exception):
    """An Open311 error answer: the HTTP status is also the error's ``code``."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def format_of(path: str) -> str:
    """``json`` or ``xml`` from the path's extension; JSON for anything else (an unknown
    extension is refused in JSON, the format every client reads)."""
    return "xml" if path.lower().endswith(".xml") else "json"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _element(tag: str, value: Any) -> ET.Element:
    node = ET.Element(tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            node.append(_element(key, inner))
    elif isinstance(value, list):
        for inner in value:
            node.append(_element(ITEMS.get(tag, "item"), inner))
    else:
        node.text = _text(value)
    return node


def to_xml(root: str, value: Any) -> bytes:
    return ET.tostring(_element(root, value), encoding="utf-8", xml_declaration=True)


def answer(fmt: str, root: str, value: Any, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """``value`` as JSON, or as XML under the element ``root``."""
    if fmt == "xml":
        body = to_xml(root, value)
    else:
        body = json.dumps(value, ensure_ascii=False).encode()
    return Response(body, status_code=status, media_type=FORMATS[fmt], headers=headers)


def error_answer(fmt: str, status: int, description: str,
                 headers: dict[str, str] | None = None) -> Response:
    return answer(fmt, "errors", [{"code": status, "description": description}], status,
                  headers)
